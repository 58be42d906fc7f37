// A seeded random soak of a sharded database (2 shards, a pool of 5 server connections per shard):
// node-postgres clients move money between accounts on either shard with single-shard and two-shard
// transactions (2PC), roll some back, fail some on purpose, read single accounts and scatter totals,
// and insert and read back ledger rows without a column list. Each client owns its accounts, so the
// expected balance of every account is known at every step; the global total never changes. At the
// end every account and ledger row must be exactly as expected on its own shard, nothing may be left
// prepared, and every server connection must be back in its pool. PGSHARD_SOAK_SEED=n replays a seed.
// There are more clients than two pools hold connections, so two-shard transactions and scatter reads
// (which hold one shard's connection while they wait for the other's) can deadlock on connections: the
// proxy fails one of them with 40P01 (pool.deadlockTimeoutMs), and its client rolls back, or reads
// again, as an application retrying would.
import pg from 'pg';
import t, { type Test } from 'tap';
import { evenBucketMap, placementOf } from '../../planner/hash/bucket-map.js';
import { startProxyOn, startTestCluster, waitUntil } from '../helpers/proxy-fixture.js';
import { seededRandom } from '../helpers/seeded-random.js';

const SEED = Number(process.env.PGSHARD_SOAK_SEED ?? 20261124);
// A two-shard transaction holds a connection on its first shard while it waits for one on the second.
// Two full pools can deadlock only when every connection of both is held by such a waiter:
// 2 x sizeMax clients inside transactions, which 12 clients can be.
const CLIENTS = 12;
const POOL_SIZE = 3;
const ACCOUNTS_PER_CLIENT = 6;
const STEPS_PER_CLIENT = 60;
const START_BALANCE = 1000;

const cluster = await startTestCluster(t, { shards: 2 });
const proxy = await startProxyOn(t, cluster, {
  sharding: { tables: [{ name: 'accounts', column: 'id', type: 'int8' }, { name: 'ledger', column: 'account', type: 'int8' }] },
  pool: { sizeMax: POOL_SIZE, acquireTimeoutMs: 30_000, deadlockTimeoutMs: 100 },
});
const buckets = evenBucketMap(1024, 2);
const shardOf = (k: number): number => placementOf('int8', BigInt(k), buckets).shard;

const setup = new pg.Client(proxy.clientConfig());
await setup.connect();
await setup.query('CREATE TABLE accounts (id bigint PRIMARY KEY, owner int NOT NULL, balance bigint NOT NULL)');
await setup.query('CREATE TABLE ledger (account bigint NOT NULL, step int NOT NULL, delta bigint NOT NULL, PRIMARY KEY (account, step))');
const ids = Array.from({ length: CLIENTS * ACCOUNTS_PER_CLIENT }, (_, i) => 1000 + i * 7);
await setup.query(
  `INSERT INTO accounts (id, owner, balance) VALUES ${ids.map((id, i) => `(${id}, ${Math.floor(i / ACCOUNTS_PER_CLIENT)}, ${START_BALANCE})`).join(', ')}`,
);
await setup.end();

const balances = new Map<number, number>(ids.map((id) => [id, START_BALANCE]));
const ledger: { account: number; step: number; delta: number }[] = [];
let deadlocks = 0;

const isDeadlock = (err: unknown): boolean => (err as { code?: string }).code === '40P01';

async function runClient(t: Test, client: number, random: () => number): Promise<void> {
  const mine = ids.slice(client * ACCOUNTS_PER_CLIENT, (client + 1) * ACCOUNTS_PER_CLIENT);
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(random() * xs.length)]!;
  const c = new pg.Client(proxy.clientConfig());
  await c.connect();
  const balanceOf = async (id: number): Promise<number> => Number((await c.query('SELECT balance FROM accounts WHERE id = $1', [id])).rows[0]?.balance);
  const transfer = async (from: number, to: number, amount: number, step: number, outcome: 'commit' | 'rollback' | 'fail'): Promise<void> => {
    try {
      await transferOnce(from, to, amount, step, outcome);
    } catch (err) {
      if (!isDeadlock(err)) throw err;
      // The victim of a connection deadlock: nothing of it may have been applied.
      deadlocks++;
      await c.query('ROLLBACK');
    }
  };
  const transferOnce = async (from: number, to: number, amount: number, step: number, outcome: 'commit' | 'rollback' | 'fail'): Promise<void> => {
    await c.query('BEGIN');
    await c.query('UPDATE accounts SET balance = balance - $2 WHERE id = $1', [from, amount]);
    await c.query('UPDATE accounts SET balance = balance + $2 WHERE id = $1', [to, amount]);
    // Ledger rows without a column list: the proxy learns the column order to find the key.
    await c.query('INSERT INTO ledger VALUES ($1, $2, $3), ($4, $2, $5)', [from, step, -amount, to, amount]);
    if (outcome === 'fail') {
      const err = await c.query('SELECT 1 / 0').then(() => null, (e: { code?: string }) => e);
      if (isDeadlock(err)) throw err;
      if (err?.code !== '22012') throw new Error(`expected 22012, got ${String(err?.code)}`);
      const after = await c.query('SELECT 1').then(() => null, (e: { code?: string }) => e.code);
      if (after !== '25P02') throw new Error(`expected 25P02 after the error, got ${String(after)}`);
      await c.query('ROLLBACK');
      return;
    }
    await c.query(outcome === 'commit' ? 'COMMIT' : 'ROLLBACK');
    if (outcome === 'commit') {
      balances.set(from, balances.get(from)! - amount);
      balances.set(to, balances.get(to)! + amount);
      ledger.push({ account: from, step, delta: -amount }, { account: to, step, delta: amount });
    }
  };
  try {
    for (let step = 0; step < STEPS_PER_CLIENT; step++) {
      const r = random();
      const from = pick(mine);
      let to = pick(mine);
      while (to === from) to = pick(mine);
      const amount = 1 + Math.floor(random() * 50);
      const label = `client ${client} step ${step}`;
      if (r < 0.45) {
        await transfer(from, to, amount, client * 1000 + step, 'commit');
      } else if (r < 0.55) {
        await transfer(from, to, amount, client * 1000 + step, 'rollback');
      } else if (r < 0.62) {
        await transfer(from, to, amount, client * 1000 + step, 'fail');
      } else if (r < 0.82) {
        const got = await balanceOf(from);
        if (got !== balances.get(from)) throw new Error(`${label}: account ${from} (shard ${shardOf(from)}) has ${got}, expected ${balances.get(from)}`);
      } else {
        // Scatter: this client's accounts, summed and counted over both shards.
        const scatter = (): Promise<pg.QueryResult> =>
          c.query('SELECT count(*)::int AS n, coalesce(sum(balance), 0)::bigint AS total FROM accounts WHERE owner = $1', [client]).catch((err: unknown) => {
            if (!isDeadlock(err)) throw err;
            deadlocks++;
            return scatter();
          });
        const s = await scatter();
        const expected = mine.reduce((a, id) => a + balances.get(id)!, 0);
        if (s.rows[0].n !== ACCOUNTS_PER_CLIENT || Number(s.rows[0].total) !== expected) {
          throw new Error(`${label}: scatter total ${JSON.stringify(s.rows[0])}, expected ${ACCOUNTS_PER_CLIENT} accounts totalling ${expected}`);
        }
      }
    }
  } catch (err) {
    t.fail((err as Error).message);
    throw err;
  } finally {
    await c.end();
  }
}

void t.test(`seed ${SEED}: ${CLIENTS} clients x ${STEPS_PER_CLIENT} random steps over 2 shards, ${POOL_SIZE} server connections per shard`, async (t) => {
  const base = seededRandom(SEED);
  await Promise.all(Array.from({ length: CLIENTS }, (_, i) => runClient(t, i, seededRandom(Math.floor(base() * 2 ** 32)))));
  t.ok(ids.some((id) => shardOf(id) === 0) && ids.some((id) => shardOf(id) === 1), 'accounts on both shards');
  for (const [shard, s] of cluster.shards.entries()) {
    const rows = await s.primary.sql('SELECT id, balance FROM accounts ORDER BY id', 'appdb');
    const expected = ids.filter((id) => shardOf(id) === shard).map((id) => ({ id: String(id), balance: String(balances.get(id)) }));
    t.same(
      rows.map((r) => ({ id: String(r['id']), balance: String(r['balance']) })),
      expected,
      `shard ${shard}: every account holds exactly its committed balance`,
    );
    const lines = await s.primary.sql('SELECT account, step, delta FROM ledger ORDER BY account, step', 'appdb');
    const expectedLines = ledger
      .filter((l) => shardOf(l.account) === shard)
      .sort((a, b) => a.account - b.account || a.step - b.step)
      .map((l) => ({ account: String(l.account), step: String(l.step), delta: String(l.delta) }));
    t.same(
      lines.map((l) => ({ account: String(l['account']), step: String(l['step']), delta: String(l['delta']) })),
      expectedLines,
      `shard ${shard}: exactly the committed ledger rows`,
    );
    const prepared = await s.primary.sql('SELECT count(*)::int AS n FROM pg_prepared_xacts', 'appdb');
    t.equal(Number(prepared[0]?.['n']), 0, `shard ${shard}: no transaction left prepared`);
  }
  t.comment(`${deadlocks} transfer(s) or scatter read(s) were connection-deadlock victims (40P01), rolled back or read again`);
  const total = [...balances.values()].reduce((a, b) => a + b, 0);
  t.equal(total, ids.length * START_BALANCE, 'money is conserved');
  await waitUntil('every server connection back in its pool', () => proxy.proxy.context.admin.pools().every((p) => p.stats().active === 0), 10_000);
});
