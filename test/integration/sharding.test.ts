// Sharding end to end on two real PostgreSQL 15 shards: DDL broadcast, point routing by key (simple
// and extended protocol), split multi-row INSERT, scatter-gather reads with merges, writes without a
// key, reference tables, deferred BEGIN, multi-shard transactions committed with 2PC or rolled back,
// failed-transaction semantics (25P02), and SQL that cannot be routed (0A000 with a hint).
// Every row is checked on the shard that must hold it, straight from Postgres.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import t from 'tap';
import { placementOf, evenBucketMap } from '../../planner/hash/bucket-map.js';
import { startProxyOn, startTestCluster } from '../helpers/proxy-fixture.js';

const cluster = await startTestCluster(t, { shards: 2 });
const proxy = await startProxyOn(t, cluster, {
  sharding: {
    tables: [
      { name: 'accounts', column: 'id', type: 'int8' },
      { name: 'entries', column: 'account_id', type: 'int8' },
    ],
    referenceTables: ['currencies'],
  },
});
const buckets = evenBucketMap(1024, 2);
const shardOf = (id: number): number => placementOf('int8', BigInt(id), buckets).shard;

async function client(tt: { teardown(fn: () => unknown): void }): Promise<pg.Client> {
  const c = new pg.Client({ ...proxy.clientConfig('app'), query_timeout: 15_000 });
  c.on('error', () => undefined);
  await c.connect();
  tt.teardown(() => c.end().catch(() => undefined));
  return c;
}

/** The first column of `sql`'s rows on one shard, straight from its primary, one value per line. */
async function onShard(shard: number, sql: string): Promise<string> {
  const rows = await cluster.shards[shard]!.primary.sql(sql, 'appdb');
  return rows.map((r) => String(Object.values(r)[0])).join('\n');
}

const c0 = await client(t);
await c0.query('CREATE TABLE accounts (id bigint PRIMARY KEY, owner text NOT NULL, balance numeric(12,2) NOT NULL DEFAULT 0)');
await c0.query('CREATE TABLE entries (id bigserial, account_id bigint NOT NULL, amount numeric(12,2) NOT NULL, PRIMARY KEY (account_id, id))');
await c0.query("CREATE TABLE currencies (code text PRIMARY KEY, name text NOT NULL)");

void t.test('DDL reaches every shard', async (t) => {
  for (const shard of [0, 1]) {
    const tables = await onShard(shard, "SELECT string_agg(relname, ',' ORDER BY relname) FROM pg_class WHERE relname IN ('accounts','entries','currencies')");
    t.equal(tables.trim(), 'accounts,currencies,entries', `shard ${shard} has the tables`);
  }
});

const ids = Array.from({ length: 40 }, (_, i) => i + 1);

void t.test('a multi-row INSERT is split by key, and every row lands on its own shard', async (t) => {
  const c = await client(t);
  const values = ids.map((id) => `(${id}, 'owner ${id}', ${id * 10})`).join(', ');
  const res = await c.query(`INSERT INTO accounts (id, owner, balance) VALUES ${values}`);
  t.equal(res.rowCount, ids.length, 'the command tag counts every row');
  for (const shard of [0, 1]) {
    const held = (await onShard(shard, 'SELECT id FROM accounts ORDER BY id')).trim().split('\n').filter((l) => l !== '').map(Number);
    t.strictSame(held, ids.filter((id) => shardOf(id) === shard), `shard ${shard} holds exactly its keys`);
  }
  t.ok(ids.some((id) => shardOf(id) === 0) && ids.some((id) => shardOf(id) === 1), 'both shards got rows');
});

void t.test('point reads and writes by key go to the owning shard (simple and extended protocol)', async (t) => {
  const c = await client(t);
  for (const id of [1, 2, 3, 17]) {
    const simple = await c.query(`SELECT owner, balance FROM accounts WHERE id = ${id}`);
    t.strictSame(simple.rows, [{ owner: `owner ${id}`, balance: (id * 10).toFixed(2) }]);
    const extended = await c.query('SELECT owner FROM accounts WHERE id = $1', [id]);
    t.strictSame(extended.rows, [{ owner: `owner ${id}` }]);
  }
  const upd = await c.query('UPDATE accounts SET balance = balance + 1 WHERE id = $1', [5]);
  t.equal(upd.rowCount, 1);
  t.equal((await onShard(shardOf(5), 'SELECT balance FROM accounts WHERE id = 5')).trim(), '51.00');
});

void t.test('scatter-gather reads merge across shards', async (t) => {
  const c = await client(t);
  const count = await c.query('SELECT count(*) AS n, sum(balance) AS total, min(id) AS lo, max(id) AS hi FROM accounts');
  t.strictSame(count.rows, [{ n: '40', total: String(ids.reduce((a, id) => a + id * 10, 0) + 1) + '.00', lo: '1', hi: '40' }]);
  const ordered = await c.query('SELECT id FROM accounts ORDER BY id DESC LIMIT 5 OFFSET 2');
  t.strictSame(ordered.rows.map((r: { id: string }) => Number(r.id)), [38, 37, 36, 35, 34]);
  const all = await c.query('SELECT id FROM accounts');
  t.equal(all.rowCount, 40, 'an unordered scatter returns every row once');
});

void t.test('writes without a key run on every shard atomically; reference tables are copied everywhere', async (t) => {
  const c = await client(t);
  const res = await c.query('UPDATE accounts SET balance = balance + 100 WHERE balance >= 0');
  t.equal(res.rowCount, 40, 'the UPDATE tags of both shards are summed');
  const ins = await c.query("INSERT INTO currencies VALUES ('EUR', 'euro'), ('JPY', '円')");
  t.equal(ins.rowCount, 2, 'a reference write reports one copy');
  for (const shard of [0, 1]) t.equal((await onShard(shard, 'SELECT count(*) FROM currencies')).trim(), '2', `shard ${shard} has the reference rows`);
  const join = await c.query("SELECT a.id, cur.name FROM accounts a JOIN currencies cur ON cur.code = 'JPY' WHERE a.id = 7");
  t.strictSame(join.rows, [{ id: '7', name: '円' }]);
});

void t.test('a transaction on one shard runs there; BEGIN is sent with its first statement', async (t) => {
  const c = await client(t);
  await c.query('BEGIN');
  await c.query("INSERT INTO entries (account_id, amount) VALUES (1, 5)");
  await c.query('UPDATE accounts SET balance = balance - 5 WHERE id = 1');
  await c.query('COMMIT');
  t.equal((await onShard(shardOf(1), 'SELECT count(*) FROM entries WHERE account_id = 1')).trim(), '1');
  await c.query('BEGIN');
  await c.query('COMMIT');
  t.pass('an empty transaction commits without a shard');
});

const [a, b] = [ids.find((id) => shardOf(id) === 0)!, ids.find((id) => shardOf(id) === 1)!];

void t.test('a transaction over two shards commits atomically with two-phase commit', async (t) => {
  const c = await client(t);
  const before = async (id: number, shard: number) => Number(await onShard(shard, `SELECT balance FROM accounts WHERE id = ${id}`));
  const [a0, b0] = [await before(a, 0), await before(b, 1)];
  await c.query('BEGIN');
  await c.query(`UPDATE accounts SET balance = balance - 7 WHERE id = ${a}`);
  await c.query(`UPDATE accounts SET balance = balance + 7 WHERE id = ${b}`);
  await c.query('COMMIT');
  const bal = await c.query(`SELECT id, balance FROM accounts WHERE id IN (${a}, ${b}) ORDER BY id`);
  t.equal(bal.rowCount, 2);
  for (const shard of [0, 1]) t.equal((await onShard(shard, 'SELECT count(*) FROM pg_prepared_xacts')).trim(), '0', `no prepared transaction left on shard ${shard}`);
  t.equal((await onShard(0, `SELECT balance FROM accounts WHERE id = ${a}`)).trim(), (a0 - 7).toFixed(2), 'the debit is on shard 0');
  t.equal((await onShard(1, `SELECT balance FROM accounts WHERE id = ${b}`)).trim(), (b0 + 7).toFixed(2), 'the credit is on shard 1');
});

void t.test('ROLLBACK and errors in a multi-shard transaction behave as in Postgres', async (t) => {
  const c = await client(t);
  await c.query('BEGIN');
  await c.query(`UPDATE accounts SET owner = 'x' WHERE id = ${a}`);
  await c.query(`UPDATE accounts SET owner = 'x' WHERE id = ${b}`);
  await c.query('ROLLBACK');
  t.equal((await c.query(`SELECT count(*) AS n FROM accounts WHERE owner = 'x'`)).rows[0].n, '0', 'nothing of a rolled-back transaction is visible');

  await c.query('BEGIN');
  await c.query(`UPDATE accounts SET owner = 'y' WHERE id = ${a}`);
  await c.query(`UPDATE accounts SET owner = 'y' WHERE id = ${b}`);
  await t.rejects(c.query(`INSERT INTO accounts (id, owner) VALUES (${a}, 'dup')`), { code: '23505' });
  await t.rejects(c.query('SELECT 1'), { code: '25P02' }, 'every statement fails until the transaction ends');
  const end = await c.query('COMMIT');
  t.equal(end.command, 'ROLLBACK', 'COMMIT of a failed transaction rolls back');
  t.equal((await c.query(`SELECT count(*) AS n FROM accounts WHERE owner = 'y'`)).rows[0].n, '0');
  t.equal((await c.query('SELECT 1 AS one')).rows[0].one, 1, 'the session works afterwards');
});

void t.test('SQL that cannot be routed safely gets 0A000 with a hint, and the session goes on', async (t) => {
  const c = await client(t);
  await t.rejects(c.query('UPDATE accounts SET id = id + 1000 WHERE id = 1'), { code: '0A000' });
  const err = await c.query('UPDATE accounts SET id = 5000 WHERE id = 2').catch((e: { hint?: string }) => e);
  t.match(err, { code: '0A000', hint: /./ }, 'the error has a hint');
  t.equal((await c.query(`SELECT owner FROM accounts WHERE id = 2`)).rows[0].owner, 'owner 2');
});

void t.test('a CancelRequest reaches every shard of a scatter-gather query', async (t) => {
  const c = await client(t);
  let finish: (code: string | null) => void = () => undefined;
  const done = new Promise<string | null>((resolve) => (finish = resolve));
  // 40 rows at 0.2 s each, split over two shards: about 4 s per shard unless canceled.
  const q = new pg.Query('SELECT id FROM accounts WHERE pg_sleep(0.2) IS NOT NULL ORDER BY id', (err) =>
    finish(err === undefined ? null : ((err as { code?: string }).code ?? err.message)),
  );
  const started = Date.now();
  void c.query(q);
  await new Promise((r) => setTimeout(r, 300));
  const canceller = new pg.Client(proxy.clientConfig('app'));
  canceller.on('error', () => undefined);
  (canceller as unknown as { connection: NodeJS.EventEmitter }).connection.on('error', () => undefined);
  (canceller as unknown as { cancel(client: pg.Client, query: pg.Query): void }).cancel(c, q);
  t.equal(await done, '57014', 'the query is canceled');
  t.ok(Date.now() - started < 2500, 'well before the shards would have finished');
  t.equal((await c.query('SELECT count(*) AS n FROM accounts')).rows[0].n, '40', 'the session works afterwards');
});

void t.test('a rule without a key type learns it from the CREATE TABLE sent through the proxy, or from the catalog at start', async (t) => {
  const untyped = await startProxyOn(t, cluster, { sharding: { tables: [{ name: 'events', column: 'device' }, { name: 'accounts', column: 'id' }] } });
  const c = new pg.Client({ ...untyped.clientConfig('app'), query_timeout: 15_000 });
  c.on('error', () => undefined);
  await c.connect();
  t.teardown(() => c.end().catch(() => undefined));
  // accounts existed when this proxy started: its key type (bigint) came from the first shard's catalog.
  t.strictSame((await c.query('SELECT owner FROM accounts WHERE id = $1', [3])).rows, [{ owner: 'owner 3' }]);
  const early = await c.query("INSERT INTO events (device, payload) VALUES ('d1', 'x')").catch((e: { code?: string; hint?: string }) => e);
  t.match(early, { code: '0A000', hint: /type/ }, 'before the table exists its key type is unknown: refused, saying how to fix it');
  await c.query('CREATE TABLE events (device uuid NOT NULL, payload text)');
  const device = '8c6a0c6e-5b0f-4a53-9d0e-3f1f7c2c1a01';
  await c.query('INSERT INTO events (device, payload) VALUES ($1, $2)', [device, 'hello']);
  const shard = placementOf('uuid', device, buckets).shard;
  t.equal(await onShard(shard, 'SELECT count(*) FROM events'), '1', 'the row is on the shard its uuid hashes to');
  t.equal(await onShard(1 - shard, 'SELECT count(*) FROM events'), '0');
  await c.query('DROP TABLE events');
});

void t.test('SHARD TABLE and REFERENCE TABLE in the admin console take effect at once and survive a restart', async (t) => {
  const stateDir = mkdtempSync(join(tmpdir(), 'pgshard-rules-'));
  t.teardown(() => rmSync(stateDir, { recursive: true, force: true }));
  const first = await startProxyOn(t, cluster, { stateDir });
  const admin = new pg.Client({ ...first.clientConfig('admin', 'pgshard'), query_timeout: 15_000 });
  admin.on('error', () => undefined);
  await admin.connect();
  await admin.query('SHARD TABLE metrics BY host TYPE text');
  await admin.query('REFERENCE TABLE units');
  await t.rejects(admin.query('SHARD TABLE metrics BY host TYPE text'), { code: '42710' }, 'a second rule for one table is refused');
  await t.rejects(admin.query('SHARD TABLE BY'), { code: '42601' });
  await admin.end();

  const c = new pg.Client({ ...first.clientConfig('app'), query_timeout: 15_000 });
  c.on('error', () => undefined);
  await c.connect();
  await c.query('CREATE TABLE metrics (host text NOT NULL, value int)');
  await c.query('CREATE TABLE units (code text PRIMARY KEY)');
  await c.query("INSERT INTO metrics (host, value) VALUES ('a', 1), ('b', 2), ('c', 3), ('d', 4), ('e', 5), ('f', 6)");
  await c.query("INSERT INTO units VALUES ('ms')");
  await c.end();
  for (const shard of [0, 1]) {
    const hosts = (await onShard(shard, 'SELECT host FROM metrics ORDER BY host')).split('\n').filter((h) => h !== '');
    t.strictSame(hosts, ['a', 'b', 'c', 'd', 'e', 'f'].filter((h) => placementOf('text', h, buckets).shard === shard), `shard ${shard} holds its hosts`);
    t.equal(await onShard(shard, 'SELECT count(*) FROM units'), '1', `the reference table is on shard ${shard}`);
  }

  // A new proxy on the same state directory knows the rules.
  const second = await startProxyOn(t, cluster, { stateDir });
  const admin2 = new pg.Client({ ...second.clientConfig('admin', 'pgshard'), query_timeout: 15_000 });
  admin2.on('error', () => undefined);
  await admin2.connect();
  const tables = await admin2.query({ text: 'SHOW TABLES', rowMode: 'array' } as pg.QueryConfig);
  const names = tables.rows.map((r: unknown[]) => r.map(String).join(' '));
  t.ok(names.some((r) => /metrics/.test(r) && /host/.test(r) && /runtime/.test(r)), 'SHOW TABLES lists metrics as a runtime rule');
  t.ok(names.some((r) => /units/.test(r) && /reference/.test(r)), 'and units as a reference table');
  await admin2.end();
  const c2 = new pg.Client({ ...second.clientConfig('app'), query_timeout: 15_000 });
  c2.on('error', () => undefined);
  await c2.connect();
  t.strictSame((await c2.query('SELECT count(*) AS n, sum(value) AS s FROM metrics')).rows, [{ n: '6', s: '21' }], 'the restarted proxy scatters over both shards');
  await c2.query('DROP TABLE metrics; DROP TABLE units');
  await c2.end();
});

void t.test('SET inside a multi-shard transaction reaches every shard and holds after COMMIT (not after ROLLBACK)', async (t) => {
  const c = await client(t);
  const settingOn = async (): Promise<string[]> => {
    // One routed statement per shard: each shows the setting its server connection has.
    const out: string[] = [];
    for (const id of [a, b]) out.push((await c.query(`SELECT current_setting('application_name') AS v FROM accounts WHERE id = ${id}`)).rows[0].v);
    return out;
  };
  await c.query('BEGIN');
  await c.query(`UPDATE accounts SET owner = owner WHERE id = ${a}`);
  await c.query(`UPDATE accounts SET owner = owner WHERE id = ${b}`);
  await c.query("SET application_name = 'kept'");
  await c.query('SET LOCAL statement_timeout = 12345');
  t.strictSame(await settingOn(), ['kept', 'kept'], 'both shards of the transaction have the SET');
  const local = await c.query(`SELECT current_setting('statement_timeout') AS v FROM accounts WHERE id IN (${a}, ${b})`);
  t.strictSame(local.rows.map((r: { v: string }) => r.v), ['12345ms', '12345ms'], 'SET LOCAL too');
  await c.query('COMMIT');
  t.strictSame(await settingOn(), ['kept', 'kept'], 'after COMMIT the session keeps it on every shard');
  t.equal((await c.query('SHOW statement_timeout')).rows[0].statement_timeout, '0', 'SET LOCAL ended with the transaction');

  await c.query('BEGIN');
  await c.query(`UPDATE accounts SET owner = owner WHERE id = ${a}`);
  await c.query(`UPDATE accounts SET owner = owner WHERE id = ${b}`);
  await c.query("SET application_name = 'dropped'");
  await c.query('ROLLBACK');
  t.strictSame(await settingOn(), ['kept', 'kept'], 'a SET in a rolled-back transaction does not hold');
  await t.rejects(
    (async () => {
      await c.query('BEGIN');
      await c.query(`UPDATE accounts SET owner = owner WHERE id = ${a}`);
      await c.query(`UPDATE accounts SET owner = owner WHERE id = ${b}`);
      await c.query('LISTEN somewhere');
    })(),
    { code: '0A000' },
    'LISTEN cannot follow a multi-shard transaction',
  );
  await c.query('ROLLBACK');
});

void t.test('limits.queryTimeoutMs cancels a multi-shard statement on every shard', async (t) => {
  const limited = await startProxyOn(t, cluster, {
    sharding: { tables: [{ name: 'accounts', column: 'id', type: 'int8' }] },
    limits: { queryTimeoutMs: 500 },
  });
  const c = new pg.Client({ ...limited.clientConfig('app'), query_timeout: 15_000 });
  c.on('error', () => undefined);
  await c.connect();
  t.teardown(() => c.end().catch(() => undefined));
  const started = Date.now();
  await t.rejects(c.query('SELECT id FROM accounts WHERE pg_sleep(0.2) IS NOT NULL ORDER BY id'), { code: '57014' });
  t.ok(Date.now() - started < 2500, 'canceled near the limit, not after the shards finished');
  t.equal((await c.query('SELECT count(*) AS n FROM accounts')).rows[0].n, '40', 'the session goes on');
});

void t.test('a view over a sharded table is refused, not silently answered from one shard', async (t) => {
  const c = await client(t);
  await c.query('CREATE VIEW rich_accounts AS SELECT id, owner FROM accounts WHERE balance > 200');
  const err = await c.query('SELECT count(*) FROM rich_accounts').catch((e: { code?: string; hint?: string }) => e);
  t.match(err, { code: '0A000', hint: /accounts/ }, 'the view is refused with a hint naming its table');
  const one = await c.query('/* pgshard: shard=0 */ SELECT count(*) AS n FROM rich_accounts');
  t.equal(one.rowCount, 1, "a hint reads one shard's copy on purpose");
  // A proxy started now finds the view in the catalog.
  const fresh = await startProxyOn(t, cluster, { sharding: { tables: [{ name: 'accounts', column: 'id', type: 'int8' }] } });
  const c2 = new pg.Client({ ...fresh.clientConfig('app'), query_timeout: 15_000 });
  c2.on('error', () => undefined);
  await c2.connect();
  await t.rejects(c2.query('SELECT * FROM rich_accounts'), { code: '0A000' }, 'known from the catalog at start');
  await c2.end();
  await c.query('DROP VIEW rich_accounts');
  await c.query('CREATE TABLE rich_accounts (id bigint)');
  t.equal((await c.query('SELECT count(*) AS n FROM rich_accounts')).rows[0].n, '0', 'once dropped, the name is an ordinary (unlisted) table again');
  await c.query('DROP TABLE rich_accounts');
});
