// postgres.js through pgshard against a real PostgreSQL 15: pipelining on one connection, sql.begin,
// its automatic named prepared statements under transaction pooling, LISTEN/NOTIFY, COPY both ways,
// cancel and sql.unsafe with several statements.
import { createHash, randomBytes } from 'node:crypto';
import { Readable, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import postgres from 'postgres';
import t from 'tap';
import type { TeardownTarget } from '../harness/cluster.js';
import { startProxyFixture, startProxyOn, sleep, type ProxyHandle } from '../helpers/proxy-fixture.js';
import { startProxyProcess } from '../helpers/proxy-process.js';

const fx = await startProxyFixture(t);
/** Two server connections only: several postgres.js clients must share them. */
const small = await startProxyOn(t, fx.cluster, { pool: { sizeMax: 2, acquireTimeoutMs: 20_000 } });

await fx.cluster.shards[0]!.primary.sql(
  'CREATE TABLE pj (id int PRIMARY KEY, v text); CREATE TABLE pj_copy (id int, v text); GRANT ALL ON pj, pj_copy TO PUBLIC',
  'appdb',
);

type Sql = postgres.Sql;

/** A postgres.js instance through `via`, ended when `tt` ends. */
function connect(tt: TeardownTarget, via: Pick<ProxyHandle, 'url'> = fx, options: postgres.Options<Record<string, postgres.PostgresType>> = {}): Sql {
  const sql = postgres(via.url(), { max: 1, idle_timeout: 0, connect_timeout: 10, onnotice: () => undefined, ...options });
  tt.teardown(() => sql.end({ timeout: 2 }).catch(() => undefined));
  return sql;
}

/** Rejects when `p` does not settle within ms (a hang fails the test instead of stalling the file). */
function within<T>(ms: number, p: Promise<T>, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what}: no answer within ${ms} ms`)), ms);
  });
  return Promise.race([p, timeout]).finally(() => clearTimeout(timer));
}

void t.test('pipelining: many concurrent queries on one connection', async (t) => {
  const sql = connect(t);
  const n = 300;
  const results = await within(
    20_000,
    Promise.all(
      Array.from({ length: n }, (_, i) =>
        i % 3 === 0
          ? sql`SELECT ${i}::int AS i, 'a' AS kind`
          : i % 3 === 1
            ? sql`SELECT ${i}::int * 2 AS i, ${`t${i}`}::text AS kind`
            : sql`SELECT ${i}::int + 1000 AS i, repeat('x', ${i % 50}::int) AS kind`,
      ),
    ),
    'pipelined queries',
  );
  const wrong = results.flatMap((rows, i) => {
    const expected =
      i % 3 === 0 ? { i, kind: 'a' } : i % 3 === 1 ? { i: i * 2, kind: `t${i}` } : { i: i + 1000, kind: 'x'.repeat(i % 50) };
    return JSON.stringify(rows[0]) === JSON.stringify(expected) ? [] : [`${i}: ${JSON.stringify(rows[0])}`];
  });
  t.same(wrong, [], `all ${n} pipelined queries got their own result`);

  // An error in the middle of a pipeline fails only its own query.
  const mixed = await within(
    10_000,
    Promise.allSettled(Array.from({ length: 30 }, (_, i) => (i === 15 ? sql`SELECT 1/0 AS boom` : sql`SELECT ${i}::int AS i`))),
    'pipeline with an error',
  );
  t.equal(mixed.filter((r) => r.status === 'rejected').length, 1, 'one query failed');
  const failed = mixed[15];
  t.equal(failed?.status === 'rejected' ? (failed.reason as { code?: string }).code : undefined, '22012');
  t.same(
    mixed.flatMap((r, i) => (i === 15 || r.status !== 'fulfilled' ? [] : [(r.value[0] as { i: number }).i])),
    Array.from({ length: 30 }, (_, i) => i).filter((i) => i !== 15),
    'the others succeeded in order',
  );

  // Three pipelining clients on a proxy with two server connections.
  const clients = [connect(t, small), connect(t, small), connect(t, small)];
  const all = await within(
    30_000,
    Promise.all(clients.map((s, c) => Promise.all(Array.from({ length: 100 }, (_, i) => s`SELECT ${c}::int AS c, ${i}::int AS i`)))),
    'pipelines on a shared pool',
  );
  t.ok(
    all.every((rows, c) => rows.every((r, i) => r[0]?.c === c && r[0]?.i === i)),
    'every pipelined query of every client got its own row',
  );
});

void t.test('sql.begin: commit, rollback, savepoints', async (t) => {
  const sql = connect(t);
  const other = connect(t);
  await sql`DELETE FROM pj`;
  const res = await sql.begin(async (tx) => {
    await tx`INSERT INTO pj VALUES (1, 'one')`;
    const inside = await tx`SELECT count(*)::int AS n FROM pj`;
    const outside = await other`SELECT count(*)::int AS n FROM pj`;
    return [inside[0]?.n, outside[0]?.n];
  });
  t.same(res, [1, 0], 'uncommitted row visible inside, invisible outside');
  t.same(await other`SELECT v FROM pj WHERE id = 1`, [{ v: 'one' }], 'committed');

  await t.rejects(
    sql.begin(async (tx) => {
      await tx`INSERT INTO pj VALUES (2, 'two')`;
      throw new Error('abort');
    }),
    { message: 'abort' },
  );
  t.same(await other`SELECT count(*)::int AS n FROM pj WHERE id = 2`, [{ n: 0 }], 'rolled back on throw');

  await t.rejects(
    sql.begin(async (tx) => {
      await tx`INSERT INTO pj VALUES (3, 'three')`;
      await tx`SELECT 1/0`;
    }),
    { code: '22012' },
  );
  t.same(await other`SELECT count(*)::int AS n FROM pj WHERE id = 3`, [{ n: 0 }], 'rolled back on a server error');

  await sql.begin(async (tx) => {
    await tx`INSERT INTO pj VALUES (4, 'four')`;
    await t.rejects(
      tx.savepoint(async (sp) => {
        await sp`INSERT INTO pj VALUES (5, 'five')`;
        await sp`SELECT 1/0`;
      }),
      { code: '22012' },
    );
    await tx.savepoint(async (sp) => {
      await sp`INSERT INTO pj VALUES (6, 'six')`;
    });
  });
  t.same(await other`SELECT id FROM pj WHERE id >= 4 ORDER BY id`, [{ id: 4 }, { id: 6 }], 'savepoint rolled back only its part');

  // Pipelined statements inside a transaction, while other clients use the 2-connection proxy.
  const a = connect(t, small);
  const busy = [connect(t, small), connect(t, small)];
  const noise = Promise.all(busy.map(async (s) => { for (let i = 0; i < 20; i++) await s`SELECT pg_sleep(0.002)`; }));
  const pids = await a.begin(async (tx) =>
    Promise.all(Array.from({ length: 20 }, () => tx`SELECT pg_backend_pid() AS pid`.then((r) => r[0]?.pid as number))),
  );
  await noise;
  t.equal(new Set(pids).size, 1, 'the whole transaction ran on one server connection');
});

void t.test('prepared statements (postgres.js prepares by default)', async (t) => {
  const sql = connect(t, small, { max: 3 });
  const values = Array.from({ length: 60 }, (_, i) => i);
  const rows = await within(
    20_000,
    Promise.all(values.map((i) => sql`SELECT ${i}::int * 3 AS v, ${String(i)}::text AS s`)),
    'prepared queries',
  );
  t.same(rows.map((r) => r[0]), values.map((i) => ({ v: i * 3, s: String(i) })), 'all executions of the prepared statement');
  // The statement really is a named, server-side prepared statement.
  const seen = await sql.begin(async (tx) => {
    await tx`SELECT ${1}::int * 3 AS v, ${'1'}::text AS s`;
    return tx`SELECT statement FROM pg_prepared_statements WHERE statement LIKE ${'%* 3 AS v%'}`;
  });
  t.ok(seen.length >= 1, 'the server connection holds it in pg_prepared_statements');

  // Two postgres.js clients, each with its own statements, alternating on 2 server connections;
  // plus a third that does not prepare (prepare: false: unnamed statements only).
  const p1 = connect(t, small);
  const p2 = connect(t, small);
  const p3 = connect(t, small, { prepare: false });
  const results = await within(
    30_000,
    Promise.all([
      Promise.all(values.map((i) => p1`SELECT ${i}::int + 1 AS v`.then((r) => r[0]?.v === i + 1))),
      Promise.all(values.map((i) => p2`SELECT 'p2-' || ${i}::text AS v`.then((r) => r[0]?.v === `p2-${i}`))),
      Promise.all(values.map((i) => p3`SELECT ${i}::int - 1 AS v`.then((r) => r[0]?.v === i - 1))),
    ]),
    'three clients',
  );
  t.same(results.map((r) => r.filter((ok) => !ok).length), [0, 0, 0], 'no client got a wrong result');

  // A statement that fails at execution does not poison its name.
  await t.rejects(p1`SELECT 10 / ${0}::int AS v`, { code: '22012' });
  t.same(await p1`SELECT 10 / ${2}::int AS v`, [{ v: 5 }], 'the same statement works with another value');
});

void t.test('LISTEN / NOTIFY with sql.listen', async (t) => {
  const sql = connect(t, fx, { max: 2 });
  const notifier = connect(t);
  const got: string[] = [];
  const listening = await within(10_000, sql.listen('pj_chan', (payload) => got.push(payload)), 'sql.listen');
  await notifier.notify('pj_chan', 'first ✓');
  await notifier`SELECT pg_notify('pj_chan', ${'second'})`;
  await notifier.begin(async (tx) => {
    await tx`SELECT pg_notify('pj_chan', 'in a transaction')`;
  });
  const deadline = Date.now() + 5000;
  while (got.length < 3 && Date.now() < deadline) await sleep(20);
  t.same(got, ['first ✓', 'second', 'in a transaction'], 'every notification with its payload');
  // The instance still runs ordinary queries meanwhile.
  t.same(await sql`SELECT 1 AS one`, [{ one: 1 }]);
  await listening.unlisten();
  await notifier.notify('pj_chan', 'after unlisten');
  await sleep(200);
  t.equal(got.length, 3, 'nothing after unlisten');
});

void t.test('COPY with .writable() and .readable()', async (t) => {
  const sql = connect(t);
  await sql`TRUNCATE pj_copy`;
  const lines: string[] = [];
  for (let i = 1; i <= 10_000; i++) lines.push(`${i}\trow ${i} ${randomBytes(8).toString('hex')}\n`);
  const text = lines.join('');
  const writable = await sql`COPY pj_copy (id, v) FROM STDIN`.writable();
  const all = Buffer.from(text);
  const chunks: Buffer[] = [];
  for (let off = 0; off < all.length; off += 4099) chunks.push(all.subarray(off, off + 4099));
  await within(20_000, pipeline(Readable.from(chunks), writable), 'COPY FROM');
  t.same(await sql`SELECT count(*)::int AS n, sum(id)::bigint::text AS s FROM pj_copy`, [{ n: 10_000, s: String((10_000 * 10_001) / 2) }]);

  const readable = await sql`COPY (SELECT id, v FROM pj_copy ORDER BY id) TO STDOUT`.readable();
  const out: Buffer[] = [];
  await within(20_000, pipeline(readable, new Writable({ write(c: Buffer, _e, cb) { out.push(c); cb(); } })), 'COPY TO');
  const back = Buffer.concat(out).toString();
  t.equal(createHash('sha256').update(back).digest('hex'), createHash('sha256').update(text).digest('hex'), 'COPY TO returns what COPY FROM sent');
  t.same(await sql`SELECT 1 AS after_copy`, [{ after_copy: 1 }], 'the connection is usable after COPY');
});

void t.test('sql.unsafe with several statements', async (t) => {
  const sql = connect(t, small);
  const res = (await sql.unsafe("SELECT 1 AS a; SELECT 'two' AS b; SELECT 3 AS c")) as unknown as Record<string, unknown>[][];
  t.same(res.map((r) => [...r]), [[{ a: 1 }], [{ b: 'two' }], [{ c: 3 }]], 'one result per statement');
  await t.rejects(sql.unsafe('SELECT 1; SELECT 1/0; SELECT 3'), { code: '22012' });
  t.same([...(await sql.unsafe('SELECT 4 AS d'))], [{ d: 4 }], 'works after an error');
  // Statements with session effects inside one unsafe string.
  await sql.unsafe("SET application_name = 'pj_unsafe'; SELECT 1");
  const other = connect(t, small);
  await Promise.all([other`SELECT pg_sleep(0.05)`, other`SELECT 1`]);
  for (let i = 0; i < 3; i++) {
    t.same([...(await sql`SELECT current_setting('application_name') AS app`)], [{ app: 'pj_unsafe' }], 'SET from unsafe carried');
  }
  await sql.unsafe("BEGIN; INSERT INTO pj VALUES (100, 'unsafe'); COMMIT");
  t.same([...(await sql`SELECT v FROM pj WHERE id = 100`)], [{ v: 'unsafe' }], 'transaction in one unsafe string');
  // Parameters with unsafe go through the extended protocol.
  t.same([...(await sql.unsafe('SELECT $1::int + $2::int AS s', [20, 22]))], [{ s: 42 }]);
});

// Last in the file: if the proxy crashes, postgres.js's own cancel connection fails with an error
// nobody can catch (query.cancel() returns nothing to await), which tap then reports on its own.
void t.test('query.cancel()', async (t) => {
  // In its own process: a proxy crash fails this test instead of the whole file.
  const px = await startProxyProcess(t, fx.cluster);
  let ended = false;
  t.teardown(() => {
    ended = true;
  });
  px.onCrash((why) => {
    if (!ended) t.fail(why);
  });
  const sql = connect(t, px, { max: 4 });
  // Four at once: four server connections, so the cancel reaches backends with different secret keys.
  const outcomes = await Promise.all(
    Array.from({ length: 4 }, async () => {
      const started = Date.now();
      const q = sql`SELECT pg_sleep(4)`;
      const settled = q.then(
        () => 'completed',
        (err: { code?: string; message?: string }) => err.code ?? err.message ?? 'error',
      );
      await sleep(300);
      // cancel() sends the CancelRequest on a connection of its own and returns nothing to await.
      void q.cancel();
      const code = await within(8000, settled, 'canceled query');
      return { code, ms: Date.now() - started };
    }),
  );
  outcomes.forEach(({ code, ms }, i) => {
    t.equal(code, '57014', `query ${i} canceled with 57014`);
    t.ok(ms < 3500, `query ${i} ended after ${ms} ms, not 4 s`);
  });
  await Promise.race([px.exited, sleep(500)]);
  t.ok(px.alive(), `the proxy process is still running${px.alive() ? '' : `; it died with:\n${px.stderr()}`}`);
  t.same(await within(5000, sql`SELECT 2 AS two`, 'query after cancel'), [{ two: 2 }], 'queries work after the cancels');
});
