// Two transactions spanning two shards through pools of one connection each: A holds shard 0's and
// waits for shard 1's, B holds shard 1's and waits for shard 0's. Neither server sees a lock wait;
// the proxy sees the deadlock and fails one wait with 40P01 after pool.deadlockTimeoutMs, long before
// pool.acquireTimeoutMs. The victim rolls back and the other transaction commits.
import pg from 'pg';
import t from 'tap';
import { evenBucketMap, placementOf } from '../../planner/hash/bucket-map.js';
import { startProxyOn, startTestCluster } from '../helpers/proxy-fixture.js';

const ACQUIRE_TIMEOUT_MS = 20_000;
const DEADLOCK_TIMEOUT_MS = 300;

const cluster = await startTestCluster(t, { shards: 2 });
const proxy = await startProxyOn(t, cluster, {
  sharding: { tables: [{ name: 'accounts', column: 'id', type: 'int8' }] },
  pool: { sizeMax: 1, acquireTimeoutMs: ACQUIRE_TIMEOUT_MS, deadlockTimeoutMs: DEADLOCK_TIMEOUT_MS },
});
const buckets = evenBucketMap(1024, 2);
const shardOf = (k: number): number => placementOf('int8', BigInt(k), buckets).shard;
const keyOn = (shard: number): number => {
  for (let k = 1; ; k++) if (shardOf(k) === shard) return k;
};
const k0 = keyOn(0);
const k1 = keyOn(1);

async function client(): Promise<pg.Client> {
  const c = new pg.Client(proxy.clientConfig());
  await c.connect();
  t.teardown(() => c.end().catch(() => undefined));
  return c;
}

const setup = await client();
await setup.query('CREATE TABLE accounts (id bigint PRIMARY KEY, balance bigint NOT NULL)');
await setup.query('INSERT INTO accounts VALUES ($1, 100), ($2, 100)', [k0, k1]);

const balances = async (): Promise<Record<string, number>> =>
  Object.fromEntries((await setup.query('SELECT id, balance FROM accounts ORDER BY id')).rows.map((r: { id: string; balance: string }) => [r.id, Number(r.balance)]));

void t.test('crossed two-shard transactions: one gets 40P01, the other commits', async (t) => {
  const a = await client();
  const b = await client();
  await a.query('BEGIN');
  await a.query('UPDATE accounts SET balance = balance - 10 WHERE id = $1', [k0]);
  await b.query('BEGIN');
  await b.query('UPDATE accounts SET balance = balance - 20 WHERE id = $1', [k1]);
  const started = Date.now();
  const outcome = (c: pg.Client, key: number, delta: number): Promise<string> =>
    c.query('UPDATE accounts SET balance = balance + $2 WHERE id = $1', [key, delta]).then(
      () => 'ok',
      (e: { code?: string }) => e.code ?? 'no code',
    );
  const waits = [outcome(a, k1, 10), outcome(b, k0, 20)];
  // Whoever is the victim, its wait ends first; the other's once the victim has rolled back.
  const first = await Promise.race(waits.map((p, i) => p.then((r) => ({ i, r }))));
  const elapsed = Date.now() - started;
  t.equal(first.r, '40P01', 'the first wait to end is the victim, with deadlock_detected');
  t.ok(elapsed >= DEADLOCK_TIMEOUT_MS - 50 && elapsed < ACQUIRE_TIMEOUT_MS / 4, `after about pool.deadlockTimeoutMs (${elapsed} ms)`);
  const [victim, survivor] = first.i === 0 ? [a, b] : [b, a];
  await t.rejects(victim.query('SELECT 1'), { code: '25P02' }, 'the victim is in a failed transaction');
  await victim.query('ROLLBACK');
  t.equal(await waits[1 - first.i], 'ok', "the survivor's statement runs once the victim has rolled back");
  await survivor.query('COMMIT');
  // The survivor moved its amount from one shard to the other; the victim changed nothing.
  t.same(await balances(), first.i === 0 ? { [k0]: 120, [k1]: 80 } : { [k0]: 90, [k1]: 110 }, 'balances');
  const deadlocks = proxy.proxy.context.admin.pools().reduce((n, p) => n + p.stats().deadlocks, 0);
  t.equal(deadlocks, 1, 'SHOW POOLS counts one deadlock');
  // Both go on working.
  for (const c of [a, b]) t.same((await c.query('SELECT count(*)::int AS n FROM accounts')).rows, [{ n: 2 }]);
});

void t.test('a wait behind a busy connection alone is no deadlock', async (t) => {
  const holder = await client();
  const waiter = await client();
  await holder.query('BEGIN');
  await holder.query('UPDATE accounts SET balance = balance + 1 WHERE id = $1', [k0]);
  const waited = waiter.query('SELECT balance FROM accounts WHERE id = $1', [k0]);
  // Several deadlock checks pass while the holder idles in its transaction.
  await new Promise((resolve) => setTimeout(resolve, DEADLOCK_TIMEOUT_MS * 4));
  await holder.query('COMMIT');
  t.equal(Number((await waited).rows[0]?.balance), (await balances())[k0], 'the waiter is served once the holder commits');
});
