import t from 'tap';
import { initSqlParser } from '../../../planner/sql-parser.js';
import { Planner } from '../../../planner/planner.js';
import { makeRules } from './routing-fixtures.js';

await initSqlParser();
const planner = new Planner(makeRules(), { cacheEntriesMax: 100 });
const plan = (sql: string) => planner.plan(sql, null, { shard: null })[0]!.plan;

void t.test('casts of count to integer types, and of min/max to numeric types, run on each shard and merge', async (t) => {
  const p = plan('SELECT count(*)::int AS n, min(id)::numeric AS lo, max(id)::bigint AS hi FROM users');
  t.match(p, { kind: 'scatter', merge: { aggregate: { columns: [{ kind: 'count' }, { kind: 'min' }, { kind: 'max' }] } } });
  if (p.kind === 'scatter') t.equal(p.sql, 'SELECT (count(*))::int AS n, (min(id))::numeric AS lo, CAST(max(id) AS bigint) AS hi FROM users', 'the shards apply the casts themselves');
  t.match(plan('SELECT status, count(*)::integer FROM orders GROUP BY status'), { kind: 'scatter', merge: { aggregate: { columns: [{ kind: 'group' }, { kind: 'count' }] } } });
});

void t.test('casts that do not commute with the merge are computed by the proxy after merging', async (t) => {
  // Rounding each shard's sum is not rounding the total, text is not added up, text order is not
  // numeric order: the shards return the plain aggregates and the proxy casts the merged value.
  for (const [sql, to, kind] of [
    ['SELECT sum(total)::int FROM orders', 'int4', 'sum'],
    ['SELECT count(*)::text FROM users', 'text', 'count'],
    ['SELECT max(id)::text FROM users', 'text', 'max'],
    ['SELECT count(*)::numeric FROM users', 'numeric', 'count'],
  ] as const) {
    const p = plan(sql);
    t.match(p, { kind: 'scatter', merge: { hiddenColumns: 1, aggregate: { columns: [{ kind: 'expr', expr: { kind: 'cast', to, arg: { kind: 'column', column: { hidden: true, index: 0 } } } }, { kind }] } } }, sql);
    if (p.kind === 'scatter') t.match(p.sql, /^SELECT CASE WHEN false THEN .* END AS (sum|count|max), /, `${sql}: a typed placeholder named as PostgreSQL names the column`);
  }
});

void t.test('a cast to numeric(p, s) is computed by the proxy, also of count and min/max', async (t) => {
  // numeric(p, s) rounds and may overflow: applied to each shard's partial result it would do both
  // to the wrong value, so even count(*)::numeric(3) is computed after merging.
  for (const [sql, kind] of [
    ['SELECT sum(total)::numeric(10,2) FROM orders', 'sum'],
    ['SELECT count(*)::numeric(3) FROM users', 'count'],
    ['SELECT max(id)::decimal(20, 4) FROM users', 'max'],
  ] as const) {
    t.match(plan(sql), { kind: 'scatter', merge: { hiddenColumns: 1, aggregate: { columns: [{ kind: 'expr', expr: { kind: 'typmod', arg: { kind: 'cast', to: 'numeric' } } }, { kind }] } } }, sql);
  }
});

void t.test('casts the proxy cannot compute exactly are refused', async (t) => {
  for (const sql of [
    'SELECT sum(total)::numeric(10.5,2) FROM orders', // a type modifier that is not integer constants
    'SELECT max(id)::text(5) FROM users', // a type modifier of another type
    'SELECT sum(total)::money FROM orders',
    'SELECT max(id)::varchar FROM users',
    "SELECT string_agg(name, ',')::text FROM users", // the aggregate itself does not merge
  ]) {
    t.match(plan(sql), { kind: 'unsupported' }, sql);
  }
  t.match(plan('SELECT max(id)::text(5) FROM users'), { message: /type modifier/, hint: /round\(x\) and round\(x, integer constant\)/ });
});
