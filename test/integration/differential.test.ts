// Differential test of sharding: the same schema and data go into one plain PostgreSQL (the oracle)
// and, through the proxy, into 3 shards (DDL broadcast; data as multi-row INSERTs with literals and
// with $n parameters, and one table by COPY FROM STDIN); then every query in ./differential/queries.ts
// runs on both, and the results must agree: column names and type OIDs, and the rows as multisets (in
// order where the query orders them completely). Writes then run in the same order on both sides
// (command tags and RETURNING rows compared), and the tables must still be identical. Statements no
// routing rule can run correctly must get 0A000 with a hint, and the session must carry on.
//
// PGSHARD_DIFF_SELFCHECK=1 validates the suite itself: a second plain PostgreSQL, loaded in another
// physical row order (PGSHARD_DIFF_SHUFFLE_SEED), stands in for the proxy, so every query must be valid
// SQL and every ordered query must be deterministic; the unsupported statements must be valid SQL (run
// there in a rolled-back transaction); the placement SQL is checked against planner/hash.
import { readFileSync } from 'node:fs';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import pg from 'pg';
import { from as copyFrom } from 'pg-copy-streams';
import t, { type Test } from 'tap';
import { evenBucketMap, placementOf } from '../../planner/hash/bucket-map.js';
import { diffOutcomes, judge, runOn, showRow, type Outcome, type RunResult } from './differential/compare.js';
import {
  copyText,
  generateData,
  insertStatements,
  parameterizedInserts,
  shuffled,
  type Cell,
  type TableData,
} from './differential/data.js';
import { MODULUS, SHARD_COUNT, SHARDING, readCategories, type QueryCase } from './differential/queries.js';
import { stateChecks, unsupportedCases, writeSteps } from './differential/writes.js';
import { startProxyOn, startTestCluster } from '../helpers/proxy-fixture.js';
import { FAST_SETTINGS, bucketSql, clientConfig, evenShardSql, primaryOf, type Endpoint } from './differential/shard-helpers.js';

const SELFCHECK = process.env['PGSHARD_DIFF_SELFCHECK'] === '1';
const SHUFFLE_SEED = Number(process.env['PGSHARD_DIFF_SHUFFLE_SEED'] ?? '7');
const TARGET = SELFCHECK ? 'second server' : 'proxy';
const QUERY_TIMEOUT_MS = 20_000;

/**
 * One side's connection: opened lazily, replaced after a connection-level failure (no SQLSTATE) so one
 * broken statement does not fail every later one. `connects` lets a test see that a session survived.
 */
class Side {
  private client: pg.Client | null = null;
  connects = 0;
  /** Where to connect; set once the server (or proxy) is up. */
  endpoint: Endpoint | null = null;

  async connection(): Promise<pg.Client> {
    if (this.client !== null) return this.client;
    if (this.endpoint === null) throw new Error('no endpoint yet');
    const c = new pg.Client({ ...clientConfig(this.endpoint), query_timeout: QUERY_TIMEOUT_MS, connectionTimeoutMillis: 10_000 });
    c.on('error', () => {
      if (this.client === c) this.client = null;
    });
    await c.connect();
    this.client = c;
    this.connects++;
    return c;
  }

  async run(sql: string, params?: readonly Cell[], extended = false): Promise<RunResult> {
    let c: pg.Client;
    try {
      c = await this.connection();
    } catch (err) {
      return { ok: false, error: { code: undefined, message: `cannot connect: ${(err as Error).message}`, hint: undefined } };
    }
    const r = await runOn(c, sql, params, extended);
    if (!r.ok && r.error.code === undefined) await this.reset();
    return r;
  }

  /** Closes the connection (never throws: it runs in teardown). */
  async reset(): Promise<void> {
    const c = this.client;
    this.client = null;
    if (c !== null) await c.end().catch(() => undefined);
  }
}

const data = generateData();
const schema = readFileSync(new URL('./differential/schema.sql', import.meta.url), 'utf8')
  .split('\n')
  .filter((line) => !line.startsWith('--'))
  .join('\n')
  .split(/;\s*\n/)
  .map((s) => s.trim())
  .filter((s) => s !== '');

const O = new Side();
const P = new Side();
const [oracleCluster, targetCluster] = await Promise.all([
  startTestCluster(t, { shards: 1, settings: FAST_SETTINGS }),
  startTestCluster(t, { shards: SELFCHECK ? 1 : SHARD_COUNT, settings: FAST_SETTINGS }),
]);
O.endpoint = primaryOf(oracleCluster, 0);
P.endpoint = SELFCHECK
  ? primaryOf(targetCluster, 0)
  : await startProxyOn(t, targetCluster, { sharding: SHARDING, limits: { shutdownTimeoutMs: 500 } });
// Registered last because teardowns run last-registered-first: the clients close before the proxy
// and the servers stop.
t.teardown(async () => {
  await O.reset();
  await P.reset();
});

/** Splits a buffer into pieces of `size` bytes: rows and UTF-8 characters straddle the pieces. */
function pieces(buf: Buffer, size: number): Buffer[] {
  const out: Buffer[] = [];
  for (let i = 0; i < buf.length; i += size) out.push(buf.subarray(i, i + size));
  return out;
}

async function withTimeout<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what}: no answer after ${ms} ms`)), ms);
  });
  try {
    return await Promise.race([p, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/** COPY FROM STDIN of `rows` in 777-byte pieces; returns the command tag's count. */
async function copyRows(side: Side, table: TableData, rows: readonly Cell[][]): Promise<number> {
  const client = await side.connection();
  const cols = table.columns.map((c) => c.name).join(', ');
  const stream = client.query(copyFrom(`COPY ${table.name} (${cols}) FROM STDIN`));
  try {
    await withTimeout(pipeline(Readable.from(pieces(Buffer.from(copyText(rows), 'utf8'), 777)), stream), QUERY_TIMEOUT_MS, 'COPY');
  } catch (err) {
    await side.reset();
    throw err;
  }
  return stream.rowCount;
}

/** How each table is loaded: COPY for products, $n multi-row INSERTs for sessions, literal INSERTs for the rest. */
const LOAD_METHOD: Record<string, 'literal' | 'params' | 'copy'> = {
  countries: 'literal',
  customers: 'literal',
  orders: 'literal',
  products: 'copy',
  sessions: 'params',
  regions_events: 'literal',
  readings: 'literal',
};

/** Loads schema and data into `side`; returns one line per statement (its tag) and the errors. */
async function load(side: Side, rowsOf: (table: TableData) => Cell[][]): Promise<{ tags: string[]; errors: string[] }> {
  const tags: string[] = [];
  const errors: string[] = [];
  const note = (what: string, r: RunResult): void => {
    if (r.ok) tags.push(`${what}: ${r.outcome.command} ${r.outcome.rowCount ?? ''}`);
    else errors.push(`${what}: SQLSTATE ${r.error.code ?? '(none)'} ${r.error.message}`);
  };
  for (const [i, ddl] of schema.entries()) note(`ddl #${i} ${ddl.split('\n')[0] ?? ''}`, await side.run(ddl));
  for (const table of data.all) {
    const rows = rowsOf(table);
    const method = LOAD_METHOD[table.name] ?? 'literal';
    if (method === 'copy') {
      try {
        tags.push(`copy ${table.name}: COPY ${await copyRows(side, table, rows)}`);
      } catch (err) {
        const e = err as Error & { code?: string };
        errors.push(`copy ${table.name}: SQLSTATE ${e.code ?? '(none)'} ${e.message}`);
      }
    } else if (method === 'params') {
      for (const [i, ins] of parameterizedInserts(table, rows, 50).entries()) note(`insert $n ${table.name} #${i}`, await side.run(ins.sql, ins.params));
    } else {
      // readings in small batches: many statements whose rows fall on one, two or three shards.
      const batch = table.name === 'readings' ? 7 : 100;
      for (const [i, sql] of insertStatements(table, rows, batch).entries()) note(`insert ${table.name} #${i}`, await side.run(sql));
    }
  }
  return { tags, errors };
}

/** A failed comparison: the whole story in the message, and again as a multi-line block for reading. */
function failWith(t: Test, verdict: string): void {
  t.fail(verdict, { details: verdict });
}

/** Runs one case on both sides and records pass or a failure with the whole story. */
async function compareCase(t: Test, c: QueryCase, compareTag: boolean, extended = false): Promise<void> {
  const expected = await O.run(c.sql, c.params, extended);
  const actual = await P.run(c.sql, c.params, extended);
  const verdict = judge(c, expected, actual, { ordered: c.ordered, compareTag, actualLabel: TARGET });
  const seen = expected.ok ? ` (${expected.outcome.command} ${expected.outcome.rowCount ?? ''}, ${expected.outcome.rows.length} row(s))` : '';
  if (verdict === null) t.pass(`${c.name}${seen}`);
  else failWith(t, verdict);
}

void t.test('the comparison catches wrong results', async (t) => {
  const outcome = (rows: Cell[][], fields = [{ name: 'id', typeOid: 20 }, { name: 'name', typeOid: 25 }], command = 'SELECT'): Outcome => ({
    fields,
    rows,
    command,
    rowCount: rows.length,
  });
  const base = outcome([['1', 'a'], ['2', 'b'], ['2', 'b'], ['3', null]]);
  const unordered = { ordered: false, compareTag: false };
  const ordered = { ordered: true, compareTag: false };
  t.same(diffOutcomes(base, outcome([['3', null], ['2', 'b'], ['1', 'a'], ['2', 'b']]), unordered), [], 'a permutation is equal as a multiset');
  t.not(diffOutcomes(base, outcome([['3', null], ['2', 'b'], ['1', 'a'], ['2', 'b']]), ordered).length, 0, 'but not in order');
  const wrong = diffOutcomes(base, outcome([['1', 'a'], ['2', 'B'], ['2', 'b'], ['3', null]]), unordered).join('\n');
  t.match(wrong, /1 row\(s\) only in the oracle[^]*\["2","b"\][^]*1 row\(s\) only in the proxy[^]*\["2","B"\]/, 'a changed value is shown on both sides');
  t.not(diffOutcomes(base, outcome([['1', 'a'], ['2', 'b'], ['3', null]]), unordered).length, 0, 'a missing duplicate is caught');
  t.not(diffOutcomes(base, outcome([['1', 'a'], ['2', 'b'], ['2', 'b'], ['2', 'b'], ['3', null]]), unordered).length, 0, 'an extra duplicate is caught');
  t.not(diffOutcomes(base, outcome([['1', 'a'], ['2', 'b'], ['2', 'b'], ['3', 'NULL']]), unordered).length, 0, "NULL is not the string 'NULL'");
  t.not(diffOutcomes(base, outcome([['1', 'a'], ['2', 'b'], ['2', 'b'], ['3', '']]), unordered).length, 0, 'NULL is not the empty string');
  const int4 = [{ name: 'id', typeOid: 23 }, { name: 'name', typeOid: 25 }];
  t.match(diffOutcomes(base, outcome(base.rows as Cell[][], int4), unordered).join('\n'), /columns \(name:type oid\) differ/, 'a type OID is caught');
  const numeric = (typmod: number) => [{ name: 'id', typeOid: 1700, typmod }, { name: 'name', typeOid: 25 }];
  t.match(diffOutcomes(outcome(base.rows as Cell[][], numeric(655366)), outcome(base.rows as Cell[][], numeric(-1)), unordered).join('\n'), /id:1700\(655366\)[^]*id:1700,/, 'a type modifier is caught');
  const renamed = [{ name: 'ID', typeOid: 20 }, { name: 'name', typeOid: 25 }];
  t.not(diffOutcomes(base, outcome(base.rows as Cell[][], renamed), unordered).length, 0, 'a column name is caught');
  const tagged = { ordered: false, compareTag: true };
  const upd = (n: number): Outcome => ({ fields: [], rows: [], command: 'UPDATE', rowCount: n });
  t.same(diffOutcomes(upd(3), upd(3), tagged), [], 'equal command tags');
  t.match(diffOutcomes(upd(3), upd(2), tagged).join('\n'), /command tags differ: oracle UPDATE 3, proxy UPDATE 2/, 'a row count is caught');
  const c = { name: 'probe', sql: 'SELECT 1', params: ['x'] };
  t.match(judge(c, { ok: true, outcome: base }, { ok: false, error: { code: '0A000', message: 'nope', hint: 'do it otherwise' } }, unordered) ?? '', /query "probe"\n {2}sql: SELECT 1\n {2}params: \["x"\]\n {2}the proxy failed: SQLSTATE 0A000: nope \(hint: do it otherwise\)/, 'an unsupported answer fails the query');
  t.match(judge(c, { ok: false, error: { code: '42601', message: 'syntax', hint: undefined } }, { ok: true, outcome: base }, unordered) ?? '', /the oracle rejected it/, 'an oracle error fails the query');
  const failing = { ...c, fails: true };
  const err = (code: string, message: string): RunResult => ({ ok: false, error: { code, message, hint: undefined } });
  t.equal(judge(failing, err('22012', 'division by zero'), err('22012', 'division by zero'), unordered), null, 'the same error on both sides passes');
  t.match(judge(failing, err('22012', 'division by zero'), err('22003', 'bigint out of range'), unordered) ?? '', /errors differ/, 'another error is caught');
  t.match(judge(failing, err('22012', 'division by zero'), { ok: true, outcome: base }, unordered) ?? '', /the proxy answered 4 row/, 'an answer where PostgreSQL fails is caught');
  t.match(judge(failing, { ok: true, outcome: base }, err('22012', 'division by zero'), unordered) ?? '', /expects an error/, 'a failing case the oracle answers is a suite bug');
  t.equal(judge(c, { ok: true, outcome: base }, { ok: true, outcome: base }, ordered), null, 'identical outcomes pass');
  const ordering = diffOutcomes(outcome([['1', 'a'], ['2', 'b']]), outcome([['2', 'b'], ['1', 'a']]), ordered).join('\n');
  t.match(ordering, /first difference at row #0:\n {2}oracle:\n {4}#0: \["1","a"\][^]*proxy:\n {4}#0: \["2","b"\]/, 'an order difference shows the rows');
});

void t.test('schema and data load the same way on both sides', async (t) => {
  const [o, p] = [await load(O, (table) => table.rows), await load(P, (table) => (SELFCHECK ? shuffled(table.rows, SHUFFLE_SEED) : table.rows))];
  t.same(o.errors, [], 'the oracle loads everything');
  t.same(p.errors, [], `the ${TARGET} loads everything`);
  t.same(p.tags, o.tags, 'every statement has the same command tag on both sides');
  for (const table of data.all) {
    await compareCase(t, { name: `loaded ${table.name}`, sql: `SELECT * FROM ${table.name}`, ordered: false }, false);
    const count = await P.run(`SELECT count(*) FROM ${table.name}`);
    t.same(count.ok ? count.outcome.rows : count.error, [[String(table.rows.length)]], `${table.name}: ${table.rows.length} rows`);
  }
});

void t.test('the comparison catches a wrong row in live results', async (t) => {
  const probe = { name: 'probe', sql: 'SELECT id, name FROM customers', ordered: false };
  const right = await O.run(probe.sql);
  const wrong = await O.run("SELECT id, CASE WHEN id = 17 THEN name || '!' ELSE name END AS name FROM customers");
  const verdict = judge(probe, right, wrong, { ordered: false, compareTag: false }) ?? '';
  t.match(verdict, /query "probe"\n {2}sql: SELECT id, name FROM customers/, 'names the query and its SQL');
  t.match(verdict, /only in the oracle, first ones:\n {4}\["17",/, "shows the oracle's row");
  t.match(verdict, /only in the proxy, first ones:\n {4}\["17",.*!"\]/, "shows the proxy's row");
  const asc = await O.run('SELECT id FROM customers ORDER BY id');
  const desc = await O.run('SELECT id FROM customers ORDER BY id DESC');
  t.not(judge(probe, asc, desc, { ordered: true, compareTag: false }), null, 'a wrong order is caught');
  t.equal(judge(probe, asc, desc, { ordered: false, compareTag: false }), null, 'the same rows in another order are one multiset');
  // Same digits, another type: only the type OID tells them apart.
  const widened = await O.run('SELECT id::numeric AS id, name FROM customers');
  const typeVerdict = judge(probe, right, widened, { ordered: false, compareTag: false }) ?? '';
  t.match(typeVerdict, /oracle: id:20, name:25\n {4}proxy: {2}id:1700, name:25/, 'a type change is caught');
  t.notMatch(typeVerdict, /rows differ/, 'and it is the only difference');
});

/** Where each table's rows belong: a SQL expression giving the shard of a row. */
const SHARD_OF: Record<string, string> = {
  customers: evenShardSql(bucketSql('int8', 'id', MODULUS), SHARD_COUNT, MODULUS),
  orders: evenShardSql(bucketSql('int8', 'customer_id', MODULUS), SHARD_COUNT, MODULUS),
  products: evenShardSql(bucketSql('text', 'sku', MODULUS), SHARD_COUNT, MODULUS),
  sessions: evenShardSql(bucketSql('uuid', 'id', MODULUS), SHARD_COUNT, MODULUS),
  regions_events: "CASE WHEN region IN ('eu', 'uk') THEN 0 WHEN region = 'us' THEN 1 ELSE 2 END",
  readings: 'CASE WHEN sensor < 1000 THEN 0 WHEN sensor < 5000 THEN 1 ELSE 2 END',
  positional: evenShardSql(bucketSql('int8', 'pid', MODULUS), SHARD_COUNT, MODULUS),
};

/** Each shard, queried directly, holds only rows it owns, some of every hashed table, and all countries. */
async function checkPlacement(t: Test): Promise<void> {
  if (SELFCHECK) {
    // No shards here: check the placement SQL itself, against planner/hash (which is checked against
    // PostgreSQL's own partition routing in test/integration/hash-compat.test.ts).
    const map = evenBucketMap(MODULUS, SHARD_COUNT);
    const checks: [TableData, 'int4' | 'int8' | 'text' | 'uuid'][] = [
      [data.customers, 'int8'],
      [data.products, 'text'],
      [data.sessions, 'uuid'],
      // readings is range-ruled here; its int4 keys check the hash SQL that pgbench-sharded.test.ts uses.
      [data.readings, 'int4'],
    ];
    for (const [{ name: table, key }, type] of checks) {
      const shardOf = evenShardSql(bucketSql(type, key[0]!, MODULUS), SHARD_COUNT, MODULUS);
      const r = await O.run(`SELECT ${key[0]!}, ${shardOf} FROM ${table}`);
      if (!r.ok) {
        t.fail(`${table}: ${r.error.message}`);
        continue;
      }
      const keyValue = (k: Cell | undefined): string | number | null => (k === undefined || k === null ? null : type === 'int4' ? Number(k) : k);
      const wrong = r.outcome.rows.filter(([k, shard]) => String(placementOf(type, keyValue(k), map).shard) !== shard);
      t.same(wrong.map((row) => showRow(row)), [], `${table}: the placement SQL agrees with placementOf for ${r.outcome.rows.length} keys`);
    }
    const pinned = await O.run(
      `SELECT ${bucketSql('int8', '42::int8', 1024)}, ${bucketSql('text', "'abc'::text", 1024)}, ${bucketSql('uuid', "'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11'::uuid", 1024)}, ${bucketSql('int4', '42::int4', 1024)}`,
    );
    t.same(pinned.ok ? pinned.outcome.rows : pinned.error, [['610', '677', '464', '610']], 'the pinned buckets of docs/placement.md');
    return;
  }
  for (let shard = 0; shard < SHARD_COUNT; shard++) {
    const direct = new Side();
    direct.endpoint = primaryOf(targetCluster, shard);
    t.teardown(() => direct.reset());
    for (const [table, shardOf] of Object.entries(SHARD_OF)) {
      const r = await direct.run(`SELECT count(*) FILTER (WHERE ${shardOf} <> ${shard}), count(*) FROM ${table}`);
      if (!r.ok) {
        t.fail(`shard ${shard} ${table}: ${r.error.message}`);
        continue;
      }
      const [misplaced, total] = r.outcome.rows[0] ?? [];
      t.equal(misplaced, '0', `shard ${shard} holds only its own ${table} rows (${total} rows)`);
      if (table !== 'regions_events' && table !== 'readings' && table !== 'positional') t.not(total, '0', `shard ${shard} has ${table} rows`);
    }
    const countries = await direct.run('SELECT * FROM countries');
    const expected = await O.run('SELECT * FROM countries');
    const verdict = judge({ name: `countries on shard ${shard}`, sql: 'SELECT * FROM countries' }, expected, countries, {
      ordered: false,
      compareTag: false,
      actualLabel: `shard ${shard}`,
    });
    if (verdict === null) t.pass(`shard ${shard} holds the whole reference table`);
    else failWith(t, verdict);
  }
}

void t.test('placement: every shard holds only its own rows', checkPlacement);

for (const { category, cases } of readCategories(data)) {
  void t.test(`reads: ${category}`, async (t) => {
    for (const c of cases) await compareCase(t, c, false);
  });
}

void t.test('reads without parameters again, over the extended protocol', async (t) => {
  for (const { cases } of readCategories(data)) {
    for (const c of cases) if (c.params === undefined) await compareCase(t, { ...c, name: `${c.name} [extended]` }, false, true);
  }
});

void t.test('unsupported statements: 0A000 with a hint, and the session carries on', async (t) => {
  for (const c of unsupportedCases()) {
    const before = P.connects;
    if (SELFCHECK) {
      // Valid SQL that PostgreSQL runs: the proxy's refusal is about routing, not syntax.
      await P.run('BEGIN');
      const r = await P.run(c.sql, c.params);
      await P.run('ROLLBACK');
      t.ok(r.ok, `${c.name}: valid SQL${r.ok ? '' : ` (${r.error.message})`}`);
    } else {
      const r = await P.run(c.sql, c.params);
      if (r.ok) {
        t.fail(`${c.name}: expected 0A000 (${c.why}), but the proxy answered ${r.outcome.command} ${r.outcome.rowCount ?? ''} with ${r.outcome.rows.length} row(s)\n  sql: ${c.sql}`);
      } else {
        t.equal(r.error.code, '0A000', `${c.name}: SQLSTATE 0A000 (${r.error.message})\n  sql: ${c.sql}`);
        t.ok(r.error.hint !== undefined && r.error.hint.trim() !== '', `${c.name}: the error has a hint`);
      }
    }
    const after = await P.run('SELECT id, name FROM customers WHERE id = 42');
    const expected = await O.run('SELECT id, name FROM customers WHERE id = 42');
    const next = { name: `after ${c.name}`, sql: 'SELECT id, name FROM customers WHERE id = 42' };
    t.equal(judge(next, expected, after, { ordered: false, compareTag: false, actualLabel: TARGET }), null, `${c.name}: the session answers the next query`);
    t.equal(P.connects, before, `${c.name}: on the same connection`);
  }
});

void t.test('writes: command tags and RETURNING rows', async (t) => {
  for (const c of writeSteps(data)) await compareCase(t, c, true);
});

void t.test('state after the writes', async (t) => {
  for (const c of stateChecks(data)) await compareCase(t, c, false);
});

void t.test('placement after the writes', checkPlacement);
