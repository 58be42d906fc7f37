// Real drivers on a sharded database (2 shards): postgres.js pipelines statements for different
// shards on one connection, prepares statements itself (Parse + Describe statement first), runs
// sql.begin transactions over both shards; node-postgres's pool runs many clients at once. Every
// answer is checked against the rows written.
import postgres from 'postgres';
import pg from 'pg';
import t from 'tap';
import { evenBucketMap, placementOf } from '../../planner/hash/bucket-map.js';
import { startProxyOn, startTestCluster, USERS } from '../helpers/proxy-fixture.js';
import { bind, errorFields, execute, frame, parse, RawClient, sync } from '../helpers/raw-client.js';

const cluster = await startTestCluster(t, { shards: 2 });
const proxy = await startProxyOn(t, cluster, { sharding: { tables: [{ name: 'kv', column: 'k', type: 'int8' }], referenceTables: ['labels'] } });
const buckets = evenBucketMap(1024, 2);
const shardOf = (k: number): number => placementOf('int8', BigInt(k), buckets).shard;

/** Rejects when `p` does not settle within ms (a hang fails the test instead of stalling the file). */
function within<T>(ms: number, p: Promise<T>, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what}: no answer within ${ms} ms`)), ms);
  });
  return Promise.race([p, timeout]).finally(() => clearTimeout(timer));
}

const sql = postgres(proxy.url(), { max: 1, idle_timeout: 0, connect_timeout: 10, onnotice: () => undefined });
t.teardown(() => sql.end({ timeout: 2 }).catch(() => undefined));
await sql`CREATE TABLE kv (k bigint PRIMARY KEY, v text NOT NULL)`;
await sql`CREATE TABLE labels (code text PRIMARY KEY, name text NOT NULL)`;
const keys = Array.from({ length: 64 }, (_, i) => i + 1);

void t.test('postgres.js: pipelined inserts and point reads for both shards on one connection', async (t) => {
  await within(15_000, Promise.all(keys.map((k) => sql`INSERT INTO kv (k, v) VALUES (${k}, ${`v${k}`})`)), 'pipelined inserts');
  const reads = await within(15_000, Promise.all(keys.map((k) => sql`SELECT v FROM kv WHERE k = ${k}`)), 'pipelined reads');
  t.strictSame(reads.map((r) => r[0]?.v), keys.map((k) => `v${k}`), 'every pipelined read answers its own key, in order');
  for (const shard of [0, 1]) {
    const rows = await cluster.shards[shard]!.primary.sql('SELECT k FROM kv ORDER BY k', 'appdb');
    t.strictSame(rows.map((r) => Number(r['k'])), keys.filter((k) => shardOf(k) === shard), `shard ${shard} holds exactly its keys`);
  }
});

void t.test('postgres.js: scatter reads with parameters, and a reference table', async (t) => {
  // count(*)::int (a common idiom) merges; the cast runs on each shard.
  const row = (await sql`SELECT count(*)::int AS n, sum(k) AS total, max(k)::int AS hi FROM kv WHERE k > ${10}`)[0]!;
  t.strictSame({ ...row }, { n: 54, total: String(keys.filter((k) => k > 10).reduce((a, b) => a + b, 0)), hi: 64 });
  // A cast of a sum is applied by the proxy to the merged total (the shards return the plain sums).
  const cast = (await sql`SELECT sum(k)::int AS total, coalesce(sum(k) FILTER (WHERE k > 1000), 0) AS none FROM kv`)[0]!;
  t.strictSame({ ...cast }, { total: keys.reduce((a, b) => a + b, 0), none: '0' }, 'sum(k)::int and coalesce(sum, 0) over both shards');
  const top = await sql`SELECT k FROM kv ORDER BY k DESC LIMIT ${3} OFFSET ${1}`;
  t.strictSame(top.map((r) => Number(r.k)), [63, 62, 61]);
  await sql`INSERT INTO labels VALUES ('a', 'alpha'), ('b', 'beta')`;
  const joined = await sql`SELECT kv.v, l.name FROM kv JOIN labels l ON l.code = 'b' WHERE kv.k = ${5}`;
  t.strictSame([...joined], [{ v: 'v5', name: 'beta' }]);
});

void t.test('postgres.js: sql.begin over both shards commits atomically, and rolls back on error', async (t) => {
  const [a, b] = [keys.find((k) => shardOf(k) === 0)!, keys.find((k) => shardOf(k) === 1)!];
  await within(15_000, sql.begin(async (tx) => {
    await tx`UPDATE kv SET v = 'moved' WHERE k = ${a}`;
    await tx`UPDATE kv SET v = 'moved' WHERE k = ${b}`;
  }), 'sql.begin');
  t.strictSame((await sql`SELECT k FROM kv WHERE v = 'moved' ORDER BY k`).map((r) => Number(r.k)), [a, b].sort((x, y) => x - y));
  await t.rejects(
    sql.begin(async (tx) => {
      await tx`UPDATE kv SET v = 'gone' WHERE k = ${a}`;
      await tx`UPDATE kv SET v = 'gone' WHERE k = ${b}`;
      await tx`INSERT INTO kv (k, v) VALUES (${a}, 'duplicate')`;
    }),
    { code: '23505' },
  );
  t.equal((await sql`SELECT count(*)::int AS n FROM kv WHERE v = 'gone'`)[0]?.n, 0, 'nothing of the failed transaction is visible');
});

void t.test('node-postgres: a pool of 8 clients doing point reads, scatter reads and two-shard transactions at once', async (t) => {
  const pool = new pg.Pool({ ...proxy.clientConfig('app'), max: 8 });
  pool.on('error', () => undefined);
  t.teardown(() => pool.end());
  const jobs: Promise<void>[] = [];
  for (let i = 0; i < 200; i++) {
    const k = keys[i % keys.length]!;
    if (i % 10 === 0) {
      jobs.push(
        (async () => {
          const c = await pool.connect();
          try {
            await c.query('BEGIN');
            await c.query('UPDATE kv SET v = v WHERE k = $1', [k]);
            await c.query('UPDATE kv SET v = v WHERE k = $1', [k + 1]);
            await c.query('COMMIT');
          } finally {
            c.release();
          }
        })(),
      );
    } else if (i % 10 === 1) {
      jobs.push(pool.query('SELECT count(*) AS n FROM kv').then((r) => void t.equal(r.rows[0].n, '64')));
    } else {
      jobs.push(pool.query('SELECT v FROM kv WHERE k = $1', [k]).then((r) => void t.equal(r.rowCount, 1)));
    }
  }
  await within(30_000, Promise.all(jobs), 'mixed load');
  for (const shard of [0, 1]) {
    const rows = await cluster.shards[shard]!.primary.sql('SELECT count(*)::int AS n FROM pg_prepared_xacts', 'appdb');
    t.equal(rows[0]?.['n'], 0, `no prepared transaction left on shard ${shard}`);
  }
});

void t.test('a pipeline longer than limits.pipelineMessagesMax before its Sync, over both shards, is one implicit transaction', async (t) => {
  const small = await startProxyOn(t, cluster, { sharding: { tables: [{ name: 'kv', column: 'k', type: 'int8' }] }, limits: { pipelineMessagesMax: 50 } });
  const c = await RawClient.connect(small.port);
  t.teardown(() => c.socket.destroy());
  await c.login('app', 'appdb', USERS.app.password);
  // A JDBC-style batch: one Parse, then Bind/Execute pairs for keys on both shards, one Sync at the end.
  const batchKeys = Array.from({ length: 120 }, (_, i) => 1000 + i);
  const frames = [parse('ins', 'INSERT INTO kv (k, v) VALUES ($1, $2)')];
  for (const k of batchKeys) frames.push(bind('', 'ins', [String(k), `batch${k}`]), execute());
  frames.push(sync());
  c.write(...frames);
  const types: string[] = [];
  for (;;) {
    const m = await c.readMessage(15_000);
    types.push(m.type);
    if (m.type === 'Z') break;
  }
  t.equal(types.filter((x) => x === 'C').length, batchKeys.length, 'one CommandComplete per Execute');
  t.notOk(types.includes('E'), 'no error');
  const stored = await Promise.all(cluster.shards.map(async (s) => Number((await s.primary.sql('SELECT count(*) AS n FROM kv WHERE k >= 1000', 'appdb'))[0]?.['n'])));
  t.strictSame(stored, [0, 1].map((shard) => batchKeys.filter((k) => shardOf(k) === shard).length), 'every row on its shard');

  // The same with a duplicate key at the end: the whole batch rolls back on both shards, as in PostgreSQL.
  const again = [parse('ins2', 'INSERT INTO kv (k, v) VALUES ($1, $2)')];
  for (const k of batchKeys.map((k) => k + 500)) again.push(bind('', 'ins2', [String(k), 'x']), execute());
  again.push(bind('', 'ins2', [String(batchKeys[0]), 'dup']), execute(), sync());
  c.write(...again);
  let error: Map<string, string> | null = null;
  for (;;) {
    const m = await c.readMessage(15_000);
    if (m.type === 'E') error = errorFields(m.body);
    if (m.type === 'Z') break;
  }
  t.equal(error?.get('C'), '23505', 'the duplicate fails the batch');
  const after = await Promise.all(cluster.shards.map(async (s) => Number((await s.primary.sql('SELECT count(*) AS n FROM kv WHERE k >= 1500', 'appdb'))[0]?.['n'])));
  t.strictSame(after, [0, 0], 'nothing of the failed batch is left on either shard');
});

void t.test('a malformed message in a batch the executor runs ends that session with 08P01 FATAL, and only it', async (t) => {
  const c = await RawClient.connect(proxy.port);
  t.teardown(() => c.socket.destroy());
  await c.login('app', 'appdb', USERS.app.password);
  // A scatter read (no key) goes to the executor; its Execute lacks the row-limit field.
  c.write(parse('', 'SELECT count(*) FROM kv'), bind('', '', []), frame('E', Buffer.from([0])), sync());
  let fatal: Map<string, string> | null = null;
  for (;;) {
    const m = await c.readMessage(10_000).catch(() => null);
    if (m === null) break;
    if (m.type === 'E') fatal = errorFields(m.body);
  }
  t.equal(fatal?.get('S'), 'FATAL');
  t.equal(fatal?.get('C'), '08P01');
  await c.closed;
  t.ok(c.isClosed, 'the connection is closed');
  const rows = await sql`SELECT count(*)::int AS n FROM kv WHERE k < 1000`;
  t.equal(rows[0]?.n, 64, 'other clients go on');
});
