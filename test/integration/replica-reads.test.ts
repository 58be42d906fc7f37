// Reads on replicas through the running proxy, on real PostgreSQL 15 (1 shard: a primary and a
// streaming replica), by the session's read consistency (docs/replicas.md). Every read returns
// pg_is_in_recovery() with its data, so the test knows which node served it.
//
// - sync (read-your-writes): write→read pairs where each read must see the write just made, first with
//   the replica caught up (most reads served by it), then with its replay delayed
//   (recovery_min_apply_delay) longer than reads.syncWaitMs (reads fall back to the primary) and
//   shorter (reads wait for the replica). Zero stale reads in every phase.
// - async reads go to the replica; strong reads to the primary; bounded reads to the replica only
//   while its lag is under pgshard.max_staleness_ms.
// - SET / SHOW / RESET pgshard.* and the startup option; bad values get 22023 / 42704.
// - causal token: a write in one session, the token carried to another, whose sync read sees it.
// - BEGIN READ ONLY runs on a replica; a read-write transaction stays on the primary.
//
// PGSHARD_SYNC_PAIRS raises the number of pairs per phase (the benchmark runs 20,000).

import t from 'tap';
import pg from 'pg';
import { DATABASE, startProxyOn, startTestCluster, waitUntil } from '../helpers/proxy-fixture.js';

const PAIRS = Number(process.env['PGSHARD_SYNC_PAIRS'] ?? 1500);

interface PairStats {
  pairs: number;
  stale: number;
  onReplica: number;
}

/** Writes a new value of one key and reads it back, `pairs` times; counts stale reads and replica reads. */
async function writeReadPairs(c: pg.Client, key: number, pairs: number): Promise<PairStats> {
  const stats: PairStats = { pairs, stale: 0, onReplica: 0 };
  for (let i = 1; i <= pairs; i++) {
    await c.query('UPDATE kv SET v = $2 WHERE k = $1', [key, i]);
    const r = await c.query<{ v: number; replica: boolean }>('SELECT v, pg_is_in_recovery() AS replica FROM kv WHERE k = $1', [key]);
    const row = r.rows[0]!;
    if (row.v !== i) stats.stale++;
    if (row.replica) stats.onReplica++;
  }
  return stats;
}

async function connect(config: pg.ClientConfig): Promise<pg.Client> {
  const c = new pg.Client(config);
  await c.connect();
  return c;
}

async function servedByReplica(c: pg.Client): Promise<boolean> {
  return (await c.query<{ r: boolean }>('SELECT pg_is_in_recovery() AS r FROM kv LIMIT 1')).rows[0]!.r;
}

void t.test('reads on replicas by read consistency', async (t) => {
  const cluster = await startTestCluster(t, { replicas: 1 });
  const shard = cluster.shards[0]!;
  const replica = shard.replicas[0]!;
  await shard.primary.sql(
    'CREATE TABLE kv (k int PRIMARY KEY, v int NOT NULL); GRANT ALL ON kv TO app; INSERT INTO kv SELECT g, 0 FROM generate_series(1, 20) g',
    DATABASE,
  );
  const proxy = await startProxyOn(t, cluster, {
    health: { intervalMs: 200, timeoutMs: 1000, user: 'admin' },
    // 100 ms: a 10 ms replay delay stays well within the wait even on a loaded CI machine.
    reads: { consistency: 'sync', syncWaitMs: 100, maxStalenessMs: 1000 },
  });
  const admin = await connect(proxy.clientConfig('admin', 'pgshard'));
  t.teardown(() => admin.end());
  await waitUntil('the replica is routable', async () => (await admin.query('SHOW NODES')).rows.some((r: Record<string, unknown>) => r['configured_role'] === 'replica' && r['routable'] === true), 10_000);

  const setDelay = async (delay: string): Promise<void> => {
    await replica.sql(`ALTER SYSTEM SET recovery_min_apply_delay = '${delay}'`);
    await replica.sql('SELECT pg_reload_conf()');
  };
  t.teardown(() => setDelay('0').catch(() => undefined));

  await t.test('sync: read-your-writes with the replica caught up; most reads on the replica', async (t) => {
    const c = await connect(proxy.clientConfig('app'));
    t.teardown(() => c.end());
    t.equal((await c.query('SHOW pgshard.read_consistency')).rows[0]?.['pgshard.read_consistency'], 'sync', 'the config default');
    const s = await writeReadPairs(c, 1, PAIRS);
    t.equal(s.stale, 0, `0 stale reads in ${s.pairs} write→read pairs`);
    const share = s.onReplica / s.pairs;
    t.ok(share >= 0.8, `${(share * 100).toFixed(1)}% of sync reads served by the replica (target ≥ 80%)`);
  });

  await t.test('sync: replay delayed beyond syncWaitMs: reads fall back to the primary, never stale', async (t) => {
    await setDelay('300ms');
    const c = await connect(proxy.clientConfig('app'));
    t.teardown(() => c.end());
    const s = await writeReadPairs(c, 2, Math.min(PAIRS, 200));
    t.equal(s.stale, 0, `0 stale reads in ${s.pairs} pairs with replay 300 ms behind`);
    t.ok(s.onReplica <= s.pairs * 0.05, `${s.onReplica} of ${s.pairs} reads on the lagging replica (it cannot have the write in 100 ms)`);
  });

  await t.test('sync: replay delayed within syncWaitMs: reads wait for the replica', async (t) => {
    await setDelay('10ms');
    const c = await connect(proxy.clientConfig('app'));
    t.teardown(() => c.end());
    const s = await writeReadPairs(c, 3, Math.min(PAIRS, 300));
    t.equal(s.stale, 0, `0 stale reads in ${s.pairs} pairs with replay 10 ms behind`);
    // Without the wait none could be on the replica (its replay is 10 ms behind every write). How many
    // make it within syncWaitMs depends on the machine's load (100% on a quiet one, bench/replica-reads;
    // about half with two test files running beside it): the share is the benchmark's to report.
    t.ok(s.onReplica >= s.pairs * 0.25, `${s.onReplica} of ${s.pairs} reads waited for the replica`);
    await setDelay('0');
  });

  await t.test('strong, async and bounded', async (t) => {
    const c = await connect(proxy.clientConfig('app'));
    t.teardown(() => c.end());
    await c.query("SET pgshard.read_consistency = 'strong'");
    t.equal(await servedByReplica(c), false, 'strong: the primary');
    await c.query('SET pgshard.read_consistency = async');
    t.equal(await servedByReplica(c), true, 'async: the replica');
    const hinted = await c.query<{ r: boolean }>('SELECT pg_is_in_recovery() AS r /* pgshard: consistency=strong */');
    t.equal(hinted.rows[0]?.r, false, 'a consistency=strong hint sends that read to the primary');
    await c.query('SET pgshard.read_consistency = bounded');
    await c.query('SET pgshard.max_staleness_ms = 5000');
    await waitUntil('bounded reads reach the caught-up replica', () => servedByReplica(c), 5000);
    t.pass('bounded: the replica while its lag is under the bound');
    // Lag beyond the bound: replay paused on the replica while the primary writes.
    await replica.sql('SELECT pg_wal_replay_pause()');
    t.teardown(() => replica.sql('SELECT pg_wal_replay_resume()').catch(() => undefined));
    await c.query('SET pgshard.max_staleness_ms = 300');
    const w = await connect(proxy.clientConfig('app'));
    t.teardown(() => w.end());
    await w.query("SET pgshard.read_consistency = 'strong'");
    let sawPrimary = false;
    for (let i = 0; i < 40 && !sawPrimary; i++) {
      await w.query('UPDATE kv SET v = v + 1 WHERE k = 4');
      await new Promise((r) => setTimeout(r, 50));
      sawPrimary = !(await servedByReplica(c));
    }
    t.ok(sawPrimary, 'bounded: the primary once the replica is further behind than max_staleness_ms');
    await replica.sql('SELECT pg_wal_replay_resume()');
    t.equal((await c.query('SHOW pgshard.max_staleness_ms')).rows[0]?.['pgshard.max_staleness_ms'], '300');
    await c.query('RESET pgshard.read_consistency');
    t.equal((await c.query('SHOW pgshard.read_consistency')).rows[0]?.['pgshard.read_consistency'], 'sync', 'RESET: back to the default');
  });

  await t.test('bad settings', async (t) => {
    const c = await connect(proxy.clientConfig('app'));
    t.teardown(() => c.end());
    await t.rejects(c.query("SET pgshard.read_consistency = 'eventual'"), { code: '22023' });
    await t.rejects(c.query("SET pgshard.max_staleness_ms = 'soon'"), { code: '22023' });
    await t.rejects(c.query("SET pgshard.causal_token = 'v9.xyz'"), { code: '22023' });
    await t.rejects(c.query('SET pgshard.nonsense = 1'), { code: '42704' });
    t.equal((await c.query('SELECT 1 AS one')).rows[0]?.one, 1, 'the session goes on');
    const bad = new pg.Client({ ...proxy.clientConfig('app'), options: '-c pgshard.read_consistency=eventual' });
    await t.rejects(bad.connect(), { code: '22023' }, 'a bad startup option refuses the login');
    await bad.end().catch(() => undefined);
  });

  await t.test('startup option and causal token', async (t) => {
    const writer = new pg.Client({ ...proxy.clientConfig('app'), options: '-c pgshard.read_consistency=strong' });
    await writer.connect();
    t.teardown(() => writer.end());
    t.equal((await writer.query('SHOW pgshard.read_consistency')).rows[0]?.['pgshard.read_consistency'], 'strong', 'set by the startup packet');
    const empty = (await writer.query('SHOW pgshard.causal_token')).rows[0]?.['pgshard.causal_token'] as string;
    t.equal(empty, '', 'no position yet');
    // With replay paused, only a reader that waits for the writer's position can see the write.
    await replica.sql('SELECT pg_wal_replay_pause()');
    t.teardown(() => replica.sql('SELECT pg_wal_replay_resume()').catch(() => undefined));
    await writer.query('UPDATE kv SET v = 424242 WHERE k = 5');
    const token = (await writer.query('SHOW pgshard.causal_token')).rows[0]?.['pgshard.causal_token'] as string;
    t.match(token, /^v1\./, `a token: ${token}`);
    const reader = await connect(proxy.clientConfig('app'));
    t.teardown(() => reader.end());
    await reader.query('SET pgshard.read_consistency = async');
    const before = (await reader.query('SELECT v, pg_is_in_recovery() AS replica FROM kv WHERE k = 5')).rows[0];
    t.same(before, { v: 0, replica: true }, 'async: the paused replica does not have the write');
    await reader.query('SET pgshard.read_consistency = sync');
    await reader.query(`SET pgshard.causal_token = '${token}'`);
    const after = (await reader.query('SELECT v FROM kv WHERE k = 5')).rows[0];
    t.same(after, { v: 424242 }, 'sync with the imported token: the write is seen');
    await replica.sql('SELECT pg_wal_replay_resume()');
  });

  await t.test('transactions: READ ONLY on a replica, read-write on the primary', async (t) => {
    const c = await connect(proxy.clientConfig('app'));
    t.teardown(() => c.end());
    await c.query('SET pgshard.read_consistency = async');
    await c.query('BEGIN READ ONLY');
    t.equal(await servedByReplica(c), true, 'BEGIN READ ONLY: the replica');
    await t.rejects(c.query('UPDATE kv SET v = 1 WHERE k = 6'), { code: '25006' }, 'a write in a READ ONLY transaction is refused as by PostgreSQL');
    await c.query('ROLLBACK');
    await c.query('BEGIN');
    t.equal(await servedByReplica(c), false, 'BEGIN: the primary, reads included');
    await c.query('UPDATE kv SET v = 7 WHERE k = 6');
    t.equal((await c.query('SELECT v FROM kv WHERE k = 6')).rows[0]?.v, 7, 'the transaction sees its write');
    await c.query('COMMIT');
  });
});

void t.test('scatter reads on replicas (2 shards), read-your-writes after a multi-shard write', async (t) => {
  const cluster = await startTestCluster(t, { shards: 2, replicas: 1 });
  const proxy = await startProxyOn(t, cluster, {
    health: { intervalMs: 200, timeoutMs: 1000, user: 'admin' },
    // A wait long enough for the replicas to replay a write even on a loaded machine.
    reads: { consistency: 'sync', syncWaitMs: 200 },
    sharding: { tables: [{ name: 'items', column: 'id', type: 'int8' }] },
  });
  const admin = await connect(proxy.clientConfig('admin', 'pgshard'));
  t.teardown(() => admin.end());
  await waitUntil('both replicas are routable', async () => (await admin.query('SHOW NODES')).rows.filter((r: Record<string, unknown>) => r['configured_role'] === 'replica' && r['routable'] === true).length === 2, 10_000);
  const c = await connect(proxy.clientConfig('app'));
  t.teardown(() => c.end());
  await c.query('CREATE TABLE items (id int8 PRIMARY KEY, n int NOT NULL)');
  const scatter = 'SELECT count(*)::int AS n, bool_and(pg_is_in_recovery()) AS replicas FROM items';
  let onReplicas = 0;
  const rounds = 60;
  for (let i = 0; i < rounds; i++) {
    // Rows for both shards in one statement: the executor writes (2PC) on both.
    await c.query(`INSERT INTO items (id, n) VALUES ${Array.from({ length: 10 }, (_, j) => `(${i * 10 + j + 1}, 0)`).join(', ')}`);
    const r = (await c.query<{ n: number; replicas: boolean }>(scatter)).rows[0]!;
    t.equal(r.n, (i + 1) * 10, `round ${i}: the scatter read sees every row written so far`);
    if (r.replicas) onReplicas++;
  }
  // Each read needs both replicas to have replayed the write; how often both make it within the wait
  // depends on the machine's load (60 of 60 on a quiet one).
  t.ok(onReplicas >= rounds * 0.5, `${onReplicas} of ${rounds} scatter reads right after a multi-shard write were served by replicas only (≥ 50%)`);
  await c.query('SET pgshard.read_consistency = async');
  t.same((await c.query(scatter)).rows, [{ n: rounds * 10, replicas: true }], 'async: every shard answered by its replica');
  await c.query('SET pgshard.read_consistency = strong');
  t.same((await c.query(scatter)).rows, [{ n: rounds * 10, replicas: false }], 'strong: every shard answered by its primary');
});
