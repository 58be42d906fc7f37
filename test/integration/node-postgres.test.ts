// node-postgres (pg) through pgshard against a real PostgreSQL 15: simple and extended protocol,
// named prepared statements shared between clients under transaction pooling, transactions, session
// state (SET) carried between server connections, binary results, cursors, COPY, cancel,
// LISTEN/NOTIFY, DISCARD/DEALLOCATE, notices and large messages.
import { createHash, randomBytes } from 'node:crypto';
import { Readable, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import pg from 'pg';
import copyStreams from 'pg-copy-streams';
import t from 'tap';
import type { TeardownTarget } from '../harness/cluster.js';
import { cancelRequest, RawClient } from '../helpers/raw-client.js';
import { startProxyProcess, type ProxyProcess } from '../helpers/proxy-process.js';
import { startProxyFixture, startProxyOn, sleep, type FixtureUser, type ProxyHandle } from '../helpers/proxy-fixture.js';

type Tap = TeardownTarget;

const fx = await startProxyFixture(t);
/** A second proxy on the same cluster with only 2 server connections: clients must share them. */
const small = await startProxyOn(t, fx.cluster, { pool: { sizeMax: 2, acquireTimeoutMs: 20_000 } });

/** A connected pg.Client ended when `tt` ends. */
async function connect(tt: Tap, via: Pick<ProxyHandle, 'clientConfig'> = fx, user: FixtureUser = 'app', extra: pg.ClientConfig = {}): Promise<pg.Client> {
  // query_timeout: a proxy that never answers fails the test quickly instead of hanging it.
  const c = new pg.Client({ query_timeout: 15_000, ...via.clientConfig(user), ...extra });
  c.on('error', () => {
    // a server-side close surfaces on the pending query; do not crash the test process
  });
  await c.connect();
  tt.teardown(() => c.end().catch(() => undefined));
  return c;
}

async function one<T = Record<string, unknown>>(c: pg.ClientBase, text: string, values?: unknown[]): Promise<T> {
  const res = await c.query(text, values);
  const row = res.rows[0] as T | undefined;
  if (row === undefined) throw new Error(`no row from ${text}`);
  return row;
}

async function backendPid(c: pg.ClientBase): Promise<number> {
  return (await one<{ pid: number }>(c, 'SELECT pg_backend_pid() AS pid')).pid;
}

function sha256(s: string | Buffer): string {
  return createHash('sha256').update(s).digest('hex');
}

await fx.cluster.shards[0]!.primary.sql(
  'CREATE TABLE kv (k text PRIMARY KEY, v int); CREATE TABLE copy_t (id int PRIMARY KEY, v text); ' +
    'GRANT ALL ON kv, copy_t TO PUBLIC; CREATE SCHEMA s_a; CREATE SCHEMA s_b; GRANT USAGE ON SCHEMA s_a, s_b TO PUBLIC',
  'appdb',
);

void t.test('simple queries as every kind of user', async (t) => {
  for (const user of ['app', 'md5user', 'trustuser'] as const) {
    const c = await connect(t, fx, user);
    const row = await one(c, 'SELECT current_user AS u, current_database() AS db, 1 + 1 AS two');
    t.same(row, { u: user, db: 'appdb', two: 2 }, `${user} logs in and queries`);
  }
  const c = await connect(t);
  const empty = await c.query('SELECT 1 WHERE false');
  t.equal(empty.rowCount, 0, 'empty result');
  const ins = await c.query("INSERT INTO kv VALUES ('simple', 1) ON CONFLICT (k) DO UPDATE SET v = 1");
  t.equal(ins.command, 'INSERT');
  t.equal(ins.rowCount, 1);
  await t.rejects(c.query('SELECT * FROM no_such_table'), { code: '42P01' }, 'server errors are forwarded');
  t.same(await one(c, 'SELECT 7 AS seven'), { seven: 7 }, 'the client goes on after an error');
});

void t.test('parameterized queries (extended protocol)', async (t) => {
  const c = await connect(t);
  t.same(await one(c, 'SELECT $1::int + $2::int AS s', [40, 2]), { s: 42 });
  t.same(await one(c, 'SELECT $1::text AS t, $2::text IS NULL AS n', ['héllo ✓ 🐘', null]), { t: 'héllo ✓ 🐘', n: true });
  const bytes = randomBytes(300);
  const back = await one<{ b: Buffer }>(c, 'SELECT $1::bytea AS b', [bytes]);
  t.ok(Buffer.isBuffer(back.b) && back.b.equals(bytes), 'bytea round-trips');
  const arr = await one<{ a: number[] }>(c, 'SELECT $1::int[] AS a', [[1, 2, 3]]);
  t.same(arr.a, [1, 2, 3]);
  await t.rejects(c.query('SELECT $1::int AS x', ['not a number']), { code: '22P02' }, 'bind error forwarded');
  t.same(await one(c, 'SELECT $1::int * 3 AS x', [5]), { x: 15 }, 'next extended query after a bind error works');
  // Many unnamed statements in a row, interleaved with simple queries.
  for (let i = 0; i < 20; i++) {
    t.equal((await one<{ x: number }>(c, 'SELECT $1::int AS x', [i])).x, i);
    if (i % 5 === 0) t.equal((await one<{ y: number }>(c, `SELECT ${i} AS y`)).y, i);
  }
});

void t.test('named prepared statements: same name, different SQL, shared server connections', async (t) => {
  // 6 clients on 2 server connections. Every client names its statement "shared_stmt" but three of them
  // mean different SQL than the other three; pg parses a name once per client connection and then only
  // sends Bind/Execute, so the proxy must prepare (and rename) per server connection.
  const texts = {
    double: 'SELECT $1::int * 2 AS v, $2::text AS who',
    concat: "SELECT 'b:' || $1::text AS v, $2::text AS who",
    third: 'SELECT $1::int + 1000 AS v, upper($2::text) AS who',
  } as const;
  const kinds = ['double', 'concat', 'third', 'double', 'concat', 'third'] as const;
  const clients = await Promise.all(kinds.map(() => connect(t, small)));
  const pids = new Set<number>();
  const failures: string[] = [];
  let checks = 0;
  await Promise.all(
    clients.map(async (c, idx) => {
      const kind = kinds[idx]!;
      const who = `client${idx}`;
      for (let round = 0; round < 25; round++) {
        const n = idx * 1000 + round;
        const res = await c.query({ name: 'shared_stmt', text: texts[kind], values: [n, who] });
        const row = res.rows[0] as { v: unknown; who: string };
        const expected =
          kind === 'double' ? { v: n * 2, who } : kind === 'concat' ? { v: `b:${n}`, who } : { v: n + 1000, who: who.toUpperCase() };
        checks++;
        if (JSON.stringify(row) !== JSON.stringify(expected)) failures.push(`${who} round ${round}: ${JSON.stringify(row)} != ${JSON.stringify(expected)}`);
        if (round % 5 === 0) pids.add(await backendPid(c));
        // Sometimes inside a transaction, sometimes with a pause so that others take the connection.
        if (round % 7 === 3) {
          await c.query('BEGIN');
          const again = await c.query({ name: 'shared_stmt', text: texts[kind], values: [n, who] });
          await c.query('COMMIT');
          checks++;
          if (JSON.stringify(again.rows[0]) !== JSON.stringify(expected)) failures.push(`${who} tx round ${round}: ${JSON.stringify(again.rows[0])}`);
        }
        if (round % 4 === 0) await sleep(1);
      }
    }),
  );
  t.same(failures, [], `every one of ${checks} executions returned its own statement's result`);
  t.ok(pids.size <= 2, `only ${pids.size} server connection(s) used by 6 clients`);

  // pg.Pool: one statement name reused over many checkouts of many pooled clients.
  const pool = new pg.Pool({ ...small.clientConfig(), max: 5 });
  pool.on('error', () => undefined);
  t.teardown(() => pool.end());
  const results = await Promise.all(
    Array.from({ length: 60 }, (_, i) => pool.query({ name: 'pool_stmt', text: 'SELECT $1::int + 1 AS v', values: [i] })),
  );
  t.same(results.map((r) => (r.rows[0] as { v: number }).v), Array.from({ length: 60 }, (_, i) => i + 1), 'pool checkouts all get their result');
});

void t.test('transactions', async (t) => {
  const c = await connect(t);
  const other = await connect(t);
  await c.query('BEGIN');
  await c.query("INSERT INTO kv VALUES ('tx-commit', 1)");
  t.equal((await other.query("SELECT 1 FROM kv WHERE k = 'tx-commit'")).rowCount, 0, 'uncommitted row invisible to others');
  await c.query('COMMIT');
  t.equal((await other.query("SELECT 1 FROM kv WHERE k = 'tx-commit'")).rowCount, 1, 'committed row visible');

  await c.query('BEGIN');
  await c.query("INSERT INTO kv VALUES ('tx-rollback', 1)");
  await c.query('ROLLBACK');
  t.equal((await other.query("SELECT 1 FROM kv WHERE k = 'tx-rollback'")).rowCount, 0, 'rolled back row gone');

  // An error inside a transaction: everything is 25P02 until ROLLBACK.
  await c.query('BEGIN');
  await c.query("INSERT INTO kv VALUES ('tx-failed', 1)");
  await t.rejects(c.query('SELECT 1/0'), { code: '22012' });
  await t.rejects(c.query('SELECT 1'), { code: '25P02' }, 'simple query in failed transaction');
  await t.rejects(c.query('SELECT $1::int', [1]), { code: '25P02' }, 'extended query in failed transaction');
  await t.rejects(c.query({ name: 'in_failed', text: 'SELECT 2', values: [] }), { code: '25P02' }, 'named statement in failed transaction');
  const rb = await c.query('ROLLBACK');
  t.equal(rb.command, 'ROLLBACK');
  t.same(await one(c, 'SELECT 1 AS ok'), { ok: 1 }, 'works after ROLLBACK');
  t.equal((await other.query("SELECT 1 FROM kv WHERE k = 'tx-failed'")).rowCount, 0);

  // COMMIT of a failed transaction reports ROLLBACK, as Postgres does.
  await c.query('BEGIN');
  await t.rejects(c.query('SELECT 1/0'), { code: '22012' });
  const commit = await c.query('COMMIT');
  t.equal(commit.command, 'ROLLBACK', 'COMMIT of a failed transaction is a ROLLBACK');

  // Savepoints.
  await c.query('BEGIN');
  await c.query("INSERT INTO kv VALUES ('sp-keep', 1)");
  await c.query('SAVEPOINT a');
  await t.rejects(c.query('SELECT 1/0'), { code: '22012' });
  await c.query('ROLLBACK TO SAVEPOINT a');
  await c.query("INSERT INTO kv VALUES ('sp-keep2', 1)");
  await c.query('COMMIT');
  t.equal((await other.query("SELECT 1 FROM kv WHERE k LIKE 'sp-keep%'")).rowCount, 2, 'savepoint rollback kept the rest');

  // A transaction keeps its server connection even on the 2-connection proxy with others busy.
  const a = await connect(t, small);
  const noise = await Promise.all([connect(t, small), connect(t, small), connect(t, small)]);
  await a.query('BEGIN');
  const pid = await backendPid(a);
  const noisy = Promise.all(noise.map(async (n) => { for (let i = 0; i < 10; i++) await n.query('SELECT pg_sleep(0.005)'); }));
  for (let i = 0; i < 5; i++) {
    t.equal(await backendPid(a), pid, 'same backend for the whole transaction');
    await sleep(10);
  }
  await a.query('COMMIT');
  await noisy;
});

/**
 * Holds both server connections of `small` with two other clients in open transactions and returns
 * them with their backend pids; `release(pid)` commits the holder on that pid so the next query of
 * someone else must run exactly there.
 */
async function holdBoth(t: Tap): Promise<{ pids: number[]; holders: pg.Client[]; release(pid: number): Promise<void>; releaseAll(): Promise<void> }> {
  const holders = await Promise.all([connect(t, small), connect(t, small)]);
  for (const h of holders) await h.query('BEGIN');
  const pids = await Promise.all(holders.map(backendPid));
  if (pids[0] === pids[1]) throw new Error('two open transactions on one server connection');
  const open = new Set(holders);
  return {
    pids,
    holders,
    release: async (pid) => {
      const h = holders[pids.indexOf(pid)];
      if (h === undefined) throw new Error(`no holder on pid ${pid}`);
      await h.query('COMMIT');
      open.delete(h);
    },
    releaseAll: async () => {
      for (const h of open) await h.query('COMMIT');
      open.clear();
    },
  };
}

/** Runs `check` with client `c` forced onto the server connection it is not on now. */
async function onOtherConnection(t: Tap, c: pg.Client, check: () => Promise<void>): Promise<void> {
  const pid = await backendPid(c);
  const hold = await holdBoth(t);
  await hold.release(hold.pids.find((p) => p !== pid)!);
  await check();
  await hold.releaseAll();
}

void t.test('SET is carried across transactions under transaction pooling', async (t) => {
  // 6 clients, each with its own application_name and search_path, on 2 server connections: the
  // proxy must replay each client's settings wherever its next transaction runs.
  const clients = await Promise.all(Array.from({ length: 6 }, () => connect(t, small)));
  await Promise.all(
    clients.map(async (c, i) => {
      await c.query(`SET application_name = 'client_${i}'`);
      if (i % 2 === 0) await c.query(`SET search_path = s_a, public`);
      else await c.query({ name: `set_path_${i}`, text: `SET search_path TO s_b, public` }); // SET via extended protocol
    }),
  );
  const pids = new Set<number>();
  const wrong: string[] = [];
  await Promise.all(
    clients.map(async (c, i) => {
      for (let round = 0; round < 6; round++) {
        const inTx = round % 2 === 0;
        if (inTx) await c.query('BEGIN');
        const row = await one<{ app: string; path: string; pid: number }>(
          c,
          "SELECT current_setting('application_name') AS app, current_setting('search_path') AS path, pg_backend_pid() AS pid",
        );
        const shown = await one<{ application_name: string }>(c, 'SHOW application_name');
        if (inTx) {
          await sleep(2);
          await c.query('COMMIT');
        }
        pids.add(row.pid);
        const path = i % 2 === 0 ? 's_a, public' : 's_b, public';
        if (row.app !== `client_${i}` || shown.application_name !== `client_${i}` || row.path !== path) {
          wrong.push(`client ${i} round ${round}: ${row.app} / ${shown.application_name} / ${row.path}`);
        }
      }
    }),
  );
  t.same(wrong, [], 'every client always sees its own settings');
  t.ok(pids.size <= 2, `6 clients with different settings shared ${pids.size} server connection(s)`);

  // Deterministic: the client's SET must appear on the connection it did not run on, and must not
  // leak to another client on the connection it ran on.
  const a = clients[0]!;
  await a.query("SET work_mem = '9MB'");
  const setPid = await backendPid(a);
  const hold = await holdBoth(t);
  t.ok(hold.pids.includes(setPid));
  for (const h of hold.holders) t.equal((await one<{ work_mem: string }>(h, 'SHOW work_mem')).work_mem, '4MB', 'another client does not see the SET');
  await hold.release(hold.pids.find((p) => p !== setPid)!);
  t.not(await backendPid(a), setPid, 'the client now runs on the other connection');
  t.equal((await one<{ work_mem: string }>(a, 'SHOW work_mem')).work_mem, '9MB', 'the SET was replayed there');
  await hold.releaseAll();

  // RESET takes it back everywhere.
  await a.query('RESET work_mem');
  for (let i = 0; i < 4; i++) t.equal((await one<{ work_mem: string }>(a, 'SHOW work_mem')).work_mem, '4MB', 'RESET holds');
});

void t.test('SET LOCAL does not leak', async (t) => {
  const a = await connect(t, small);
  await a.query('BEGIN');
  await a.query("SET LOCAL statement_timeout = '1234ms'");
  const pid = await backendPid(a);
  t.equal((await one<{ statement_timeout: string }>(a, 'SHOW statement_timeout')).statement_timeout, '1234ms', 'visible in its transaction');
  await a.query('COMMIT');
  t.equal((await one<{ statement_timeout: string }>(a, 'SHOW statement_timeout')).statement_timeout, '0', 'gone after COMMIT');
  const hold = await holdBoth(t);
  t.ok(hold.pids.includes(pid));
  for (const h of hold.holders) {
    t.equal((await one<{ statement_timeout: string }>(h, 'SHOW statement_timeout')).statement_timeout, '0', 'other clients never see it');
  }
  await hold.releaseAll();
  // Moving to another connection must not bring it back either.
  for (let i = 0; i < 4; i++) t.equal((await one<{ statement_timeout: string }>(a, 'SHOW statement_timeout')).statement_timeout, '0');
});

void t.test('SET inside a rolled-back transaction is reverted', async (t) => {
  const a = await connect(t, small);
  await a.query('BEGIN');
  await a.query("SET work_mem = '7MB'");
  t.equal((await one<{ work_mem: string }>(a, 'SHOW work_mem')).work_mem, '7MB');
  await a.query('ROLLBACK');
  t.equal((await one<{ work_mem: string }>(a, 'SHOW work_mem')).work_mem, '4MB', 'reverted on its connection');
  // The proxy must not replay the rolled-back SET on another connection.
  const hold = await holdBoth(t);
  await hold.release(hold.pids[0]!);
  t.equal((await one<{ work_mem: string }>(a, 'SHOW work_mem')).work_mem, '4MB', 'not replayed on connection 1');
  await hold.holders[1]!.query('COMMIT');
  const hold2 = await holdBoth(t);
  await hold2.release(hold2.pids[1]!);
  t.equal((await one<{ work_mem: string }>(a, 'SHOW work_mem')).work_mem, '4MB', 'not replayed on connection 2');
  await hold2.releaseAll();

  // A SET in a failed transaction, and a SET committed inside a transaction block.
  await a.query('BEGIN');
  await a.query("SET work_mem = '5MB'");
  await t.rejects(a.query('SELECT 1/0'), { code: '22012' });
  await a.query('ROLLBACK');
  t.equal((await one<{ work_mem: string }>(a, 'SHOW work_mem')).work_mem, '4MB', 'SET of a failed transaction reverted');
  await a.query('BEGIN');
  await a.query("SET work_mem = '6MB'");
  await a.query('COMMIT');
  await onOtherConnection(t, a, async () => {
    t.equal((await one<{ work_mem: string }>(a, 'SHOW work_mem')).work_mem, '6MB', 'committed SET replayed on the other connection');
  });
  // Same with the SET and COMMIT in one query string.
  await a.query("BEGIN; SET work_mem = '8MB'; COMMIT");
  await onOtherConnection(t, a, async () => {
    t.equal((await one<{ work_mem: string }>(a, 'SHOW work_mem')).work_mem, '8MB', 'SET committed in a multi-statement string is carried');
  });
  await a.query("BEGIN; SET work_mem = '3MB'; ROLLBACK");
  await onOtherConnection(t, a, async () => {
    t.equal((await one<{ work_mem: string }>(a, 'SHOW work_mem')).work_mem, '8MB', 'SET rolled back in a multi-statement string is not');
  });
});

void t.test('binary results', async (t) => {
  const c = await connect(t);
  // binary: true asks (in Bind) for every result column in binary format; pg decodes them with its
  // binary parsers. queryMode 'extended' because a query without parameters would go as a simple Query.
  const res = await c.query({
    text: "SELECT 42::int4 AS i, 'hello'::text AS t, true AS b, 9000000000::int8 AS big",
    binary: true,
    queryMode: 'extended',
  } as pg.QueryConfig);
  t.equal(res.fields[0]?.format, 'binary', 'RowDescription says binary');
  const row = res.rows[0] as Record<string, unknown>;
  t.equal(row.i, 42);
  t.equal(row.t, 'hello');
  t.equal(row.b, true);
  t.equal(String(row.big), '9000000000');
  // Raw bytes: an identity type parser shows what the server sent (pg turns binary values into UTF-8
  // text and back, so only bytes below 0x80 survive that, even straight against Postgres).
  const raw = await c.query({
    text: 'SELECT $1::int4 AS i, 258::int2 AS s, 2.0::float8 AS f, $2::bytea AS z',
    values: [42, Buffer.from([7, 0, 127])],
    binary: true,
    types: { getTypeParser: () => (v: unknown) => v },
  } as pg.QueryConfig);
  const rawRow = raw.rows[0] as { i: Buffer; s: Buffer; f: Buffer; z: Buffer };
  t.same([...rawRow.i], [0, 0, 0, 42], 'int4 in network byte order');
  t.same([...rawRow.s], [1, 2], 'int2 in network byte order');
  t.same([...rawRow.f], [0x40, 0, 0, 0, 0, 0, 0, 0], 'float8 2.0 in IEEE 754 big-endian');
  t.same([...rawRow.z], [7, 0, 127], 'bytea as raw bytes');
  t.same(raw.fields.map((f) => f.format), ['binary', 'binary', 'binary', 'binary']);
  // A named statement reused with binary results (pg's rowMode 'array' mis-decodes binary, even
  // straight against Postgres, so object rows here).
  for (let i = 0; i < 3; i++) {
    const res2 = await c.query({ name: 'bin_named', text: 'SELECT $1::int4 AS a, $1::int4 * 2 AS b, $2::text AS z', values: [i, `v${i}`], binary: true } as pg.QueryConfig);
    t.same(res2.rows, [{ a: i, b: i * 2, z: `v${i}` }]);
    t.same(res2.fields.map((f) => f.format), ['binary', 'binary', 'binary']);
  }
});

void t.test('cursor with DECLARE / FETCH inside a transaction', async (t) => {
  const c = await connect(t, small);
  const others = await Promise.all([connect(t, small), connect(t, small)]);
  await c.query('BEGIN');
  await c.query('DECLARE cur CURSOR FOR SELECT g FROM generate_series(1, 95) g ORDER BY g');
  const got: number[] = [];
  const noise = Promise.all(others.map(async (o) => { for (let i = 0; i < 5; i++) await o.query('SELECT 1'); }));
  for (;;) {
    const res = await c.query('FETCH 10 FROM cur');
    if (res.rowCount === 0) break;
    got.push(...res.rows.map((r: { g: number }) => r.g));
  }
  await c.query('CLOSE cur');
  await c.query('COMMIT');
  await noise;
  t.same(got, Array.from({ length: 95 }, (_, i) => i + 1), 'all rows fetched in order across FETCHes');
  await t.rejects(c.query('FETCH 1 FROM cur'), { code: '34000' }, 'the cursor is gone after COMMIT');
});

void t.test('COPY FROM STDIN and COPY TO STDOUT (10k rows)', async (t) => {
  const c = await connect(t);
  await c.query('TRUNCATE copy_t');
  const lines: string[] = [];
  for (let i = 1; i <= 10_000; i++) lines.push(`${i}\tvalue ${i} ${randomBytes(6).toString('hex')} \\\\ tab\\tend\n`);
  const text = lines.join('');
  // Send in odd-sized chunks so CopyData frames do not line up with rows.
  const chunks: Buffer[] = [];
  const all = Buffer.from(text);
  for (let off = 0; off < all.length; off += 7919) chunks.push(all.subarray(off, off + 7919));
  const copyIn = c.query(copyStreams.from('COPY copy_t (id, v) FROM STDIN'));
  await pipeline(Readable.from(chunks), copyIn);
  t.equal(copyIn.rowCount, 10_000, 'COPY FROM reports 10000 rows');
  t.same(await one(c, 'SELECT count(*)::int AS n FROM copy_t'), { n: 10_000 });

  const out: Buffer[] = [];
  const copyOut = c.query(copyStreams.to('COPY (SELECT id, v FROM copy_t ORDER BY id) TO STDOUT'));
  await pipeline(copyOut, new Writable({ write(chunk: Buffer, _e, cb) { out.push(chunk); cb(); } }));
  const back = Buffer.concat(out).toString();
  t.equal(back.length, text.length, 'same size back');
  t.equal(sha256(back), sha256(text), 'COPY TO returns exactly what COPY FROM sent');

  // The data really is in Postgres, as text with the escapes decoded.
  const direct = await fx.cluster.shards[0]!.primary.sql("SELECT md5(string_agg(id || ':' || v, ',' ORDER BY id)) AS h FROM copy_t", 'appdb');
  const expected = createHash('md5')
    .update(lines.map((l) => { const [id, v] = l.slice(0, -1).split('\t') as [string, string]; return `${id}:${v.replace(/\\\\/g, '\\').replace(/\\t/g, '\t')}`; }).join(','))
    .digest('hex');
  t.equal(direct[0]?.h, expected, 'Postgres holds the decoded rows');

  // A failing COPY FROM (bad data) reports the error and the client goes on.
  const bad = c.query(copyStreams.from('COPY copy_t (id, v) FROM STDIN'));
  await t.rejects(pipeline(Readable.from([Buffer.from('not-an-int\tx\n')]), bad), { code: '22P02' });
  t.same(await one(c, 'SELECT count(*)::int AS n FROM copy_t'), { n: 10_000 }, 'nothing added by the failed COPY');
});

interface BackendKeys {
  processID: number;
  secretKey: number;
}
const keysOf = (c: pg.Client): BackendKeys => c as unknown as BackendKeys;

/** Cancels `SELECT pg_sleep(4)` on c through pg's own cancel; resolves with the error code (or null) and the time taken. */
async function sleepAndCancel(c: pg.Client, via: { clientConfig(): pg.ClientConfig }): Promise<{ code: string | null; ms: number }> {
  let finish: (code: string | null) => void = () => undefined;
  const done = new Promise<string | null>((resolve) => {
    finish = resolve;
  });
  // The callback form: pg calls it for the result, a server error and a lost connection alike.
  const q = new pg.Query('SELECT pg_sleep(4)', (err) => finish(err === undefined ? null : ((err as { code?: string }).code ?? err.message)));
  const safety = setTimeout(() => finish('no answer within 8 s'), 8000);
  const started = Date.now();
  void c.query(q);
  await sleep(300);
  const canceller = new pg.Client(via.clientConfig());
  canceller.on('error', () => undefined);
  // pg's cancel() uses the canceller's Connection directly; a reset on it must not crash the test.
  (canceller as unknown as { connection: NodeJS.EventEmitter }).connection.on('error', () => undefined);
  (canceller as unknown as { cancel(client: pg.Client, query: pg.Query): void }).cancel(c, q);
  const code = await done;
  clearTimeout(safety);
  return { code, ms: Date.now() - started };
}

/** Connects clients through `via` until `n` of them have a secret key of the wanted sign (pg reads it as a signed Int32). */
async function clientsWithKeySign(t: Tap, via: Pick<ProxyHandle, 'clientConfig'>, negative: boolean, n: number): Promise<pg.Client[]> {
  const out: pg.Client[] = [];
  for (let i = 0; i < 20 * n && out.length < n; i++) {
    const c = await connect(t, via);
    if (keysOf(c).secretKey < 0 === negative) out.push(c);
    else await c.end();
  }
  if (out.length < n) throw new Error(`could not get ${n} clients with a ${negative ? 'negative' : 'positive'} secret key`);
  return out;
}

/** Fails `tt` with the proxy's stderr if the proxy process dies while `tt` runs. */
function failOnCrash(tt: Tap & { fail(message: string): unknown }, px: ProxyProcess): void {
  let ended = false;
  tt.teardown(() => {
    ended = true;
  });
  px.onCrash((why) => {
    if (!ended) tt.fail(why);
  });
}

/** True when the proxy process is still running 500 ms from now (a crash takes a moment to be seen). */
async function stillAlive(px: ProxyProcess): Promise<boolean> {
  await Promise.race([px.exited, sleep(500)]);
  return px.alive();
}

// The proxy runs in its own process in the cancel tests: if a cancel crashes it, the test fails
// and the rest of this file still runs.
void t.test('cancel running queries on 8 server connections at once', async (t) => {
  const px = await startProxyProcess(t, fx.cluster);
  failOnCrash(t, px);
  // 8 queries at once run on 8 different server connections, whose Postgres secret keys are random:
  // some (all but 1 time in 256) have the top bit set.
  const clients = await clientsWithKeySign(t, px, false, 8);
  const results = await Promise.all(clients.map((c) => sleepAndCancel(c, px)));
  results.forEach(({ code, ms }, i) => {
    t.equal(code, '57014', `client ${i}: pg_sleep canceled with 57014`);
    t.ok(ms < 3500, `client ${i}: canceled after ${ms} ms, not after 4 s`);
  });
  const alive = await stillAlive(px);
  t.ok(alive, `the proxy process survived the cancels${alive ? '' : `; it died with:\n${px.stderr()}`}`);
  for (const c of clients) t.same(await one(c, 'SELECT 5 AS five'), { five: 5 }, 'the client keeps working');
});

void t.test('cancel: client secret keys with the top bit set, stray and wrong-key cancels', async (t) => {
  const px = await startProxyProcess(t, fx.cluster);
  failOnCrash(t, px);
  // The proxy's BackendKeyData secret is a random 32-bit value: about half of the clients get one
  // with the top bit set (negative as pg reads it). Their cancels must work too.
  const negatives = await clientsWithKeySign(t, px, true, 3);
  const results = await Promise.all(negatives.map((c) => sleepAndCancel(c, px)));
  results.forEach(({ code, ms }, i) => {
    const what = `client with secret key ${keysOf(negatives[i]!).secretKey}`;
    t.equal(code, '57014', `${what}: pg_sleep canceled with 57014`);
    t.ok(ms < 3500, `${what}: canceled after ${ms} ms, not after 4 s`);
  });

  // A CancelRequest for a client that is idle does nothing to it (nor to its next query), and one
  // with a wrong secret key does not cancel a running query.
  const [c] = await clientsWithKeySign(t, px, false, 1);
  const keys = keysOf(c!);
  const stray = await RawClient.connect(px.port);
  stray.write(cancelRequest(keys.processID, keys.secretKey));
  t.ok(await stray.waitClosed(2000), 'the proxy closes a cancel connection');
  await sleep(200);
  t.same(await one(c!, 'SELECT pg_sleep(0.2)::text AS s'), { s: '' }, 'a stray cancel does not hit the next query');
  const slow = c!.query('SELECT pg_sleep(0.8)::text AS s');
  await sleep(200);
  const wrongKey = await RawClient.connect(px.port);
  wrongKey.write(cancelRequest(keys.processID, (keys.secretKey ^ 0x5a5a5a5a) | 0));
  await wrongKey.waitClosed(2000);
  t.same((await slow).rows, [{ s: '' }], 'a cancel with the wrong key is ignored');
  const alive = await stillAlive(px);
  t.ok(alive, `the proxy process is still running${alive ? '' : `; it died with:\n${px.stderr()}`}`);
});

void t.test('LISTEN / NOTIFY', async (t) => {
  const listener = await connect(t);
  const notifier = await connect(t);
  const got: pg.Notification[] = [];
  listener.on('notification', (n) => got.push(n));
  await listener.query('LISTEN chan_a');
  await notifier.query("NOTIFY chan_a, 'hello payload'");
  await notifier.query("SELECT pg_notify('chan_a', $1)", ['second ✓']);
  await notifier.query("BEGIN; NOTIFY chan_a, 'from a transaction'; COMMIT");
  await notifier.query("BEGIN; NOTIFY chan_a, 'rolled back'; ROLLBACK");
  const deadline = Date.now() + 5000;
  while (got.length < 3 && Date.now() < deadline) await sleep(20);
  await sleep(100);
  t.same(got.map((n) => [n.channel, n.payload]), [
    ['chan_a', 'hello payload'],
    ['chan_a', 'second ✓'],
    ['chan_a', 'from a transaction'],
  ], 'the listener got every committed notification with its payload');
  // The listener still runs queries, and still gets notifications after that.
  t.same(await one(listener, 'SELECT 3 AS three'), { three: 3 });
  await notifier.query("NOTIFY chan_a, 'after a query'");
  const deadline2 = Date.now() + 5000;
  while (got.length < 4 && Date.now() < deadline2) await sleep(20);
  t.equal(got[3]?.payload, 'after a query');
  await listener.query('UNLISTEN chan_a');
});

void t.test('DISCARD ALL / DEALLOCATE ALL, then prepare again', async (t) => {
  const c = await connect(t, small, 'app', { query_timeout: 5000 });
  // pg remembers which names it parsed on this connection; after a DEALLOCATE it must be told to forget.
  const forget = (): void => {
    (c as unknown as { connection: { parsedStatements: Record<string, string> } }).connection.parsedStatements = {};
  };
  t.same((await c.query({ name: 'q1', text: 'SELECT $1::int AS v', values: [1] })).rows, [{ v: 1 }]);
  t.same((await c.query({ name: 'q2', text: 'SELECT $1::text AS v', values: ['x'] })).rows, [{ v: 'x' }]);
  await c.query('DEALLOCATE ALL');
  // pg still thinks q1 exists and sends only Bind: Postgres semantics say it is gone.
  await t.rejects(c.query({ name: 'q1', text: 'SELECT $1::int AS v', values: [1] }), { code: '26000' }, 'q1 is gone after DEALLOCATE ALL');
  forget();
  t.same((await c.query({ name: 'q1', text: 'SELECT $1::int + 100 AS v', values: [1] })).rows, [{ v: 101 }], 're-prepared with new SQL');
  t.same((await c.query({ name: 'q2', text: 'SELECT $1::text AS v', values: ['y'] })).rows, [{ v: 'y' }], 'q2 re-prepared');

  await c.query('DEALLOCATE q2');
  await t.rejects(c.query({ name: 'q2', text: 'SELECT $1::text AS v', values: ['y'] }), { code: '26000' }, 'q2 gone after DEALLOCATE q2');
  t.same((await c.query({ name: 'q1', text: 'SELECT $1::int + 100 AS v', values: [2] })).rows, [{ v: 102 }], 'q1 survives DEALLOCATE q2');

  await c.query("SET application_name = 'before_discard'");
  await c.query('DISCARD ALL');
  t.equal((await one<{ application_name: string }>(c, 'SHOW application_name')).application_name, '', 'DISCARD ALL resets SETs');
  await t.rejects(c.query({ name: 'q1', text: 'SELECT $1::int + 100 AS v', values: [1] }), { code: '26000' }, 'statements gone after DISCARD ALL');
  forget();
  t.same((await c.query({ name: 'q1', text: "SELECT $1::int || ' again' AS v", values: [3] })).rows, [{ v: '3 again' }], 're-prepared after DISCARD ALL');
  // Another client's statements on the shared connections survive this client's DISCARD ALL.
  const other = await connect(t, small);
  t.same((await other.query({ name: 'keep', text: 'SELECT $1::int AS v', values: [1] })).rows, [{ v: 1 }]);
  await c.query('DISCARD ALL');
  await c.query('DEALLOCATE ALL');
  for (let i = 0; i < 4; i++) t.same((await other.query({ name: 'keep', text: 'SELECT $1::int AS v', values: [i] })).rows, [{ v: i }], "other client's statement still works");
});

void t.test('DEALLOCATE inside a transaction block, then prepare again', async (t) => {
  // Inside a transaction the statement reaches Postgres, which drops the statements of the server
  // connection; the proxy must re-prepare other clients' statements there.
  const c = await connect(t, small);
  const other = await connect(t, small);
  const forget = (): void => {
    (c as unknown as { connection: { parsedStatements: Record<string, string> } }).connection.parsedStatements = {};
  };
  t.same((await c.query({ name: 'tq1', text: 'SELECT $1::int AS v', values: [1] })).rows, [{ v: 1 }]);
  t.same((await other.query({ name: 'tkeep', text: 'SELECT $1::int * 10 AS v', values: [1] })).rows, [{ v: 10 }]);
  await c.query('BEGIN');
  t.same((await c.query({ name: 'tq1', text: 'SELECT $1::int AS v', values: [2] })).rows, [{ v: 2 }], 'usable inside the transaction');
  const dealloc = await c.query('DEALLOCATE ALL');
  t.equal(dealloc.command, 'DEALLOCATE', 'Postgres answered (pg keeps only the first word of the tag)');
  await c.query('COMMIT');
  await t.rejects(c.query({ name: 'tq1', text: 'SELECT $1::int AS v', values: [3] }), { code: '26000' }, 'tq1 is gone');
  forget();
  t.same((await c.query({ name: 'tq1', text: 'SELECT $1::int + 1 AS v', values: [3] })).rows, [{ v: 4 }], 're-prepared with new SQL');
  for (let i = 0; i < 4; i++) {
    t.same((await other.query({ name: 'tkeep', text: 'SELECT $1::int * 10 AS v', values: [i] })).rows, [{ v: i * 10 }], "the other client's statement still works");
  }
  await c.query('BEGIN');
  await c.query('DEALLOCATE tq1');
  await c.query('COMMIT');
  await t.rejects(c.query({ name: 'tq1', text: 'SELECT $1::int + 1 AS v', values: [3] }), { code: '26000' }, 'tq1 gone after DEALLOCATE tq1');
});

void t.test('multi-statement simple query', async (t) => {
  const c = await connect(t, small);
  const res = (await c.query("SELECT 1 AS a; SELECT 'two' AS b; SELECT 3 AS c, 4 AS d")) as unknown as pg.QueryResult[];
  t.ok(Array.isArray(res), 'one result per statement');
  t.same(res.map((r) => r.rows), [[{ a: 1 }], [{ b: 'two' }], [{ c: 3, d: 4 }]]);
  await t.rejects(c.query('SELECT 1; SELECT 1/0; SELECT 3'), { code: '22012' }, 'an error stops the rest');
  t.same(await one(c, 'SELECT 9 AS nine'), { nine: 9 }, 'and the client goes on');
  // SET inside a multi-statement string is carried to other server connections.
  await c.query("SELECT 1; SET application_name = 'multi_set'; SELECT 2");
  const pid = await backendPid(c);
  const hold = await holdBoth(t);
  await hold.release(hold.pids.find((p) => p !== pid)!);
  t.equal((await one<{ application_name: string }>(c, 'SHOW application_name')).application_name, 'multi_set');
  await hold.releaseAll();
  // Implicit transaction: an error rolls back earlier statements of the same string.
  await t.rejects(c.query("INSERT INTO kv VALUES ('multi', 1); SELECT 1/0"), { code: '22012' });
  t.equal((await c.query("SELECT 1 FROM kv WHERE k = 'multi'")).rowCount, 0, 'implicit transaction rolled back');
});

void t.test('NoticeResponse is delivered', async (t) => {
  const c = await connect(t);
  const notices: string[] = [];
  c.on('notice', (n) => notices.push(`${n.severity ?? ''}:${n.message ?? ''}`));
  await c.query("DO $$ BEGIN RAISE NOTICE 'hi'; END $$");
  await c.query({ text: "DO $$ BEGIN RAISE NOTICE 'hi % from extended', 2; END $$", name: 'notice_stmt' });
  await c.query("DO $$ BEGIN RAISE WARNING 'careful'; END $$");
  await sleep(50);
  t.same(notices, ['NOTICE:hi', 'NOTICE:hi 2 from extended', 'WARNING:careful']);
});

void t.test('long query text and large rows', async (t) => {
  const c = await connect(t);
  const long = 'y'.repeat(2_000_000);
  t.same(await one(c, `SELECT length($q$${long}$q$) AS n`), { n: 2_000_000 }, '2 MB query text');
  const param = randomBytes(3_000_000).toString('base64'); // 4 MB
  const h = await one<{ h: string }>(c, 'SELECT md5($1::text) AS h, length($1::text) AS n', [param]);
  t.equal(h.h, createHash('md5').update(param).digest('hex'), '4 MB bound parameter arrives intact');
  const rows = await c.query<{ i: number; v: string }>('SELECT i, repeat(chr(65 + i), 1048576) AS v FROM generate_series(0, 4) i ORDER BY i');
  t.equal(rows.rowCount, 5);
  t.ok(
    rows.rows.every((r) => r.v.length === 1_048_576 && r.v === String.fromCharCode(65 + r.i).repeat(1_048_576)),
    'five 1 MB rows intact',
  );
  const echo = await one<{ v: string }>(c, 'SELECT $1::text AS v', [long]);
  t.equal(echo.v, long, '2 MB value echoed through bind and DataRow');
});
