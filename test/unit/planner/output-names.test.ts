// Output names of targets without AS (figureColname, planner/routing/sql-features.ts: PostgreSQL 15's
// FigureColname) against the names PostgreSQL itself gave them (test/unit/merge/fixtures/
// pg15-expressions.json, from generate-expression-fixtures.ts): a hundred target forms, and every
// expression of the expression fixtures. Then ORDER BY <output name> in multi-shard reads: it sorts
// by the output column PostgreSQL would pick, also one named after a CASE's ELSE or a cast.
import t from 'tap';
import { initSqlParser, parseSql } from '../../../planner/sql-parser.js';
import { figureColname } from '../../../planner/routing/sql-features.js';
import { Planner } from '../../../planner/planner.js';
import type { Plan } from '../../../planner/plan.js';
import { loadExpressionFixtures } from '../merge/pg-fixtures.js';
import { makeRules, NO_SESSION } from './routing-fixtures.js';

await initSqlParser();
const fixtures = loadExpressionFixtures();
const planner = new Planner(makeRules(), { cacheEntriesMax: 1000 });
const plan = (sql: string): Plan => planner.plan(sql, null, NO_SESSION)[0]?.plan ?? { kind: 'unsupported', message: 'none', hint: '' };

function nameOf(target: string): string | null {
  const parsed = parseSql(`SELECT ${target}`);
  if (!parsed.ok) throw new Error(`does not parse: ${target}`);
  const select = parsed.statements[0]!.node['SelectStmt'] as { targetList: { ResTarget: { val: unknown } }[] };
  return figureColname(select.targetList[0]!.ResTarget.val);
}

void t.test(`output names as PostgreSQL ${fixtures.postgres} gave them`, async (t) => {
  const failures: string[] = [];
  let checked = 0;
  const check = (target: string, expected: string): void => {
    const got = nameOf(target);
    checked++;
    // A scalar sub-query selecting * is named after the column * expands to: only the catalog knows.
    if (got === null && /\(SELECT (\w+\.)?\*/.test(target)) return;
    if (got !== expected) failures.push(`${target}: ${String(got)}, PostgreSQL ${expected}`);
  };
  for (const [target, name] of fixtures.names) check(target, name);
  for (const g of fixtures.groups) if (g.name !== undefined) check(g.expr, g.name);
  t.same(failures, [], `${checked} targets named as PostgreSQL names them`);
  t.ok(fixtures.names.length > 100 && checked > 1000, `${fixtures.names.length} target forms, ${checked} targets`);
  t.equal(nameOf('(SELECT * FROM (SELECT 1 AS star) x)'), null, 'a sub-query selecting *: unknown without the catalog');
});

void t.test('ORDER BY an output name resolves to the column PostgreSQL picks', async (t) => {
  const orderBy = (sql: string): unknown => {
    const p = plan(sql);
    return p.kind === 'scatter' ? p.merge.orderBy.map((k) => k.column) : p.kind;
  };
  t.same(orderBy('SELECT status, CASE WHEN count(*) > 1 THEN 0 ELSE sum(total) END FROM orders GROUP BY status ORDER BY sum'), [{ hidden: false, index: 1 }], 'a CASE named after its ELSE: sum');
  t.same(orderBy('SELECT status, CASE WHEN count(*) > 1 THEN 0 ELSE sum(total)::int END, sum(qty) AS total FROM orders GROUP BY status ORDER BY sum, total'), [{ hidden: false, index: 1 }, { hidden: false, index: 2 }], 'ELSE sum(x)::int: sum');
  t.same(orderBy('SELECT status, (sum(total) - sum(qty))::text FROM orders GROUP BY status ORDER BY text DESC'), [{ hidden: false, index: 1 }], 'a cast of an operator: its type name');
  t.same(orderBy('SELECT status, greatest(max(qty), 0), mod(count(*), 7) FROM orders GROUP BY status ORDER BY greatest, mod'), [{ hidden: false, index: 1 }, { hidden: false, index: 2 }]);
  t.same(orderBy('SELECT status, count(*) % 7 FROM orders GROUP BY status ORDER BY "?column?"'), [{ hidden: false, index: 1 }], 'an operator: ?column?, a name like any other');
  t.same(orderBy('SELECT status, count(*) FROM orders GROUP BY status ORDER BY count'), [{ hidden: false, index: 1 }]);
  t.same(orderBy('SELECT status, CASE WHEN count(*) > 1 THEN 0 ELSE 1 END, CASE WHEN count(*) > 1 THEN 0 ELSE max(qty) END FROM orders GROUP BY status ORDER BY "case", max'), [{ hidden: false, index: 1 }, { hidden: false, index: 2 }], 'a constant ELSE: case');
  t.same(orderBy('SELECT id AS x, name FROM customers ORDER BY x'), [{ hidden: false, index: 0 }], 'without aggregates too');
});

void t.test('ORDER BY a name two output columns have: PostgreSQL decides whether it is ambiguous', async (t) => {
  // Different expressions under one name are 42702 in PostgreSQL; the shards keep the ORDER BY
  // to fail the same way (equal ones, `status` and `orders.status`, are not ambiguous to it).
  const p = plan('SELECT status AS s, sum(total) AS s FROM orders GROUP BY status ORDER BY s');
  t.match(p, { kind: 'scatter', merge: { orderBy: [{ column: { hidden: false, index: 0 } }] } });
  if (p.kind === 'scatter') t.match(p.sql, /ORDER BY s$/, 'the shards resolve it');
  const same = plan('SELECT status AS s, sum(total) AS s FROM orders GROUP BY status ORDER BY 1');
  if (same.kind === 'scatter') t.notMatch(same.sql, /ORDER BY/, 'no name, nothing to resolve: the proxy sorts');
  const equal = plan('SELECT sum(total) AS s, sum(total) AS s FROM orders GROUP BY status ORDER BY s');
  if (equal.kind === 'scatter') t.notMatch(equal.sql, /ORDER BY/, 'the same expression twice is not ambiguous');
});

void t.test('ORDER BY a name only the catalog could give an output column is refused', async (t) => {
  t.match(plan('SELECT status, (SELECT * FROM (SELECT 1 AS n) x), count(*) FROM orders GROUP BY status ORDER BY n'), { kind: 'unsupported', message: /ORDER BY n with an output column named by a sub-query selecting \*/ });
  t.match(plan('SELECT status, (SELECT * FROM (SELECT 1 AS n) x), count(*) FROM orders GROUP BY status ORDER BY status'), { kind: 'scatter' }, 'a name another output has');
});
