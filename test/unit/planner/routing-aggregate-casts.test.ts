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

void t.test('casts that do not commute with the merge are refused', async (t) => {
  for (const sql of [
    'SELECT sum(total)::int FROM orders', // rounding each shard's sum is not rounding the total
    'SELECT count(*)::text FROM users', // text is not added up
    'SELECT max(id)::text FROM users', // text order is not numeric order
    'SELECT count(*)::numeric FROM users',
  ]) {
    t.match(plan(sql), { kind: 'unsupported', message: /expression over aggregates/ }, sql);
  }
});
