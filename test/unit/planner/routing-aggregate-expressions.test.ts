// Expressions over aggregates in multi-shard reads: the shards return the plain partial aggregates
// (hidden columns) and a typed NULL placeholder under the expression's output name; the merge gets
// the expression as a MergeExpr to compute per merged row. Also where they may appear (select list,
// HAVING, ORDER BY), grouped columns and ordinals inside them, %, abs, numeric(p, s), ||, CASE and
// its conditions (grouped ones computed by the shards), $n parameters, and what is still refused.
import t, { type Test } from 'tap';
import { initSqlParser } from '../../../planner/sql-parser.js';
import { Planner } from '../../../planner/planner.js';
import type { MergeExpr, Plan } from '../../../planner/plan.js';
import { makeRules, NO_SESSION } from './routing-fixtures.js';

await initSqlParser();
const planner = new Planner(makeRules(), { cacheEntriesMax: 1000 });
const plan = (sql: string): Plan => planner.plan(sql, null, NO_SESSION)[0]?.plan ?? { kind: 'unsupported', message: 'none', hint: '' };

const hidden = (index: number): MergeExpr => ({ kind: 'column', column: { hidden: true, index } });
const visible = (index: number): MergeExpr => ({ kind: 'column', column: { hidden: false, index } });
const int4 = (v: number): MergeExpr => ({ kind: 'const', type: 'int4', text: String(v) });

/** `merge` is a pattern (t.match): only what it names is checked. */
function scatter(t: Test, sql: string, expectSql: string, merge: object): void {
  const p = plan(sql);
  t.equal(p.kind, 'scatter', sql);
  if (p.kind !== 'scatter') return;
  t.equal(p.sql, expectSql, `${sql}: shard SQL`);
  t.match(p.merge, merge, `${sql}: merge`);
}

function refused(t: Test, sql: string, message: RegExp): void {
  const p = plan(sql);
  t.equal(p.kind, 'unsupported', sql);
  if (p.kind !== 'unsupported') return;
  t.match(p.message, message, `${sql}: message`);
  t.match(p.hint, /pgshard computes \+ - \* \//, `${sql}: the hint says what is computed`);
}

void t.test('coalesce: the shards return the plain aggregate and a typed placeholder named "coalesce"', async (t) => {
  scatter(t, 'SELECT coalesce(sum(total), 0) FROM orders', 'SELECT CASE WHEN false THEN COALESCE(sum(total), 0) END AS coalesce, sum(total) AS pgshard_hidden_1 FROM orders', {
    hiddenColumns: 1,
    aggregate: { columns: [{ kind: 'expr', expr: { kind: 'coalesce', args: [hidden(0), int4(0)] } }, { kind: 'sum' }], having: null },
  });
  scatter(t, "SELECT status, coalesce(max(note), 'none') AS last FROM orders GROUP BY status", "SELECT status, CASE WHEN false THEN COALESCE(max(note), 'none') END AS last, max(note) AS pgshard_hidden_1 FROM orders GROUP BY status", {
    aggregate: { columns: [{ kind: 'group' }, { kind: 'expr', expr: { kind: 'coalesce', args: [hidden(0), { kind: 'const', type: 'unknown', text: 'none' }] } }, { kind: 'max' }] },
  });
});

void t.test('avg inside an expression merges as sum and count, like a selected avg', async (t) => {
  scatter(t, 'SELECT round(avg(total), 2) FROM orders', 'SELECT CASE WHEN false THEN round(avg(total), 2) END AS round, count(total) AS pgshard_hidden_1, sum(total) AS pgshard_hidden_2 FROM orders', {
    hiddenColumns: 2,
    aggregate: { columns: [{ kind: 'expr', expr: { kind: 'round', arg: hidden(1), digits: 2 } }, { kind: 'count' }, { kind: 'avg', count: { hidden: true, index: 0 } }] },
  });
  t.match(plan('SELECT round(sum(total)), round(avg(total), -1) FROM orders'), {
    merge: { aggregate: { columns: [{ kind: 'expr', expr: { kind: 'round', digits: null } }, { kind: 'expr', expr: { kind: 'round', digits: -1 } }] } },
  });
});

void t.test('arithmetic between aggregates and constants; an aggregate selected too is read from its own column', async (t) => {
  scatter(t, 'SELECT sum(total) / count(*) AS mean, count(*) FROM orders', 'SELECT CASE WHEN false THEN sum(total) / count(*) END AS mean, count(*), sum(total) AS pgshard_hidden_1 FROM orders', {
    aggregate: { columns: [{ kind: 'expr', expr: { kind: 'arith', op: '/', left: hidden(0), right: visible(1) } }, { kind: 'count' }, { kind: 'sum' }] },
  });
  t.match(plan('SELECT 100.0 * count(*), sum(a) - sum(b), -sum(a), +sum(b) FROM orders'), {
    merge: {
      aggregate: {
        columns: [
          { kind: 'expr', expr: { kind: 'arith', op: '*', left: { kind: 'const', type: 'numeric', text: '100.0' } } },
          { kind: 'expr', expr: { kind: 'arith', op: '-' } },
          { kind: 'expr', expr: { kind: 'negate' } },
          // Unary plus is an operator: the value, without the operand's type modifier.
          { kind: 'expr', expr: { kind: 'plus', arg: { kind: 'column' } } },
        ],
      },
    },
  });
  const p = plan('SELECT sum(a) + 2147483648, sum(a) + 9223372036854775808, sum(a) + -2147483648 FROM orders');
  t.match(p, {
    merge: {
      aggregate: {
        columns: [
          { expr: { right: { kind: 'const', type: 'int8', text: '2147483648' } } },
          { expr: { right: { kind: 'const', type: 'numeric', text: '9223372036854775808' } } },
          { expr: { right: { kind: 'const', type: 'int4', text: '-2147483648' } } },
        ],
      },
    },
  }, 'integer literals take int4, int8 or numeric as PostgreSQL types them');
  t.match(plan('SELECT sum(a) / nullif(count(*), 0) FROM orders'), {
    merge: { aggregate: { columns: [{ expr: { kind: 'arith', right: { kind: 'nullif', value: int4(0) } } }] } },
  });
});

void t.test('output names are PostgreSQL\'s (FigureColname), or the alias', async (t) => {
  const sqlOf = (sql: string): string => {
    const p = plan(sql);
    return p.kind === 'scatter' ? p.sql : p.kind;
  };
  t.match(sqlOf('SELECT sum(total)::int FROM orders'), /END AS sum,/, 'a cast of a function takes the function name');
  t.match(sqlOf('SELECT (sum(a) - sum(b))::text FROM orders'), /END AS text,/, 'a cast of an operator takes the type name');
  t.match(sqlOf('SELECT sum(a) / count(*) FROM orders'), /END AS "\?column\?",/, 'an operator: ?column?');
  t.match(sqlOf('SELECT nullif(count(*), 0) FROM orders'), /END AS nullif,/);
  t.match(sqlOf('SELECT coalesce(sum(a), 0) AS "Total" FROM orders'), /END AS "Total",/, 'an alias is kept');
  t.match(sqlOf('SELECT CASE WHEN count(*) > 0 THEN 1 END FROM orders'), /END END AS "case",/, 'CASE: case');
  t.match(sqlOf('SELECT CASE WHEN count(*) > 0 THEN 1 ELSE sum(a) END FROM orders'), /END END AS sum,/, 'CASE ... ELSE f(x) END: f, as PostgreSQL names it');
  t.match(sqlOf('SELECT CASE WHEN count(*) > 0 THEN 1 ELSE sum(a)::text END FROM orders'), /END END AS sum,/);
  t.match(sqlOf('SELECT CASE WHEN count(*) > 0 THEN sum(a) ELSE 0 END FROM orders'), /END END AS "case",/, 'a constant ELSE: case');
  t.match(sqlOf('SELECT abs(sum(a)) FROM orders'), /END AS abs,/);
  // The type modifier in the client's RowDescription is the proxy's (merge-expressions.test.ts).
  t.match(sqlOf('SELECT sum(a)::numeric(10,2) FROM orders'), /^SELECT CASE WHEN false THEN CAST\(sum\(a\) AS numeric\(10, 2\)\) END AS sum,/, 'a cast with a type modifier: as any cast');
  t.match(sqlOf('SELECT CASE WHEN count(*) > 0 THEN 1 ELSE sum(a)::numeric(10,2) END FROM orders'), /END END AS sum,/, 'CASE ... ELSE f(x)::t END: f');
});

void t.test('grouped columns and GROUP BY ordinals inside expressions', async (t) => {
  scatter(t, 'SELECT qty, qty * count(*) FROM orders GROUP BY qty', 'SELECT qty, CASE WHEN false THEN qty * count(*) END AS "?column?", count(*) AS pgshard_hidden_1 FROM orders GROUP BY qty', {
    aggregate: { columns: [{ kind: 'group' }, { kind: 'expr', expr: { kind: 'arith', left: visible(0), right: hidden(0) } }, { kind: 'count' }] },
  });
  // A grouped sub-expression is computed by the shards, with PostgreSQL's own semantics.
  scatter(t, 'SELECT status, count(*) * 10 + length(status) FROM orders GROUP BY 1', 'SELECT status, CASE WHEN false THEN (count(*) * 10) + length(status) END AS "?column?", count(*) AS pgshard_hidden_1, length(status) AS pgshard_hidden_2 FROM orders GROUP BY 1', {
    aggregate: { columns: [{ kind: 'group' }, { kind: 'expr' }, { kind: 'count' }, { kind: 'group' }] },
  });
  refused(t, 'SELECT status, count(*) * qty FROM orders GROUP BY status', /"qty", which is neither an aggregate nor grouped/);
});

void t.test('HAVING and ORDER BY over expressions get hidden expression columns', async (t) => {
  const p = plan('SELECT status FROM orders GROUP BY status HAVING sum(total) / count(*) > 10 ORDER BY sum(total) - sum(qty) DESC LIMIT 3');
  t.match(p, {
    kind: 'scatter',
    merge: {
      hiddenColumns: 5,
      aggregate: {
        columns: [
          { kind: 'group' },
          { kind: 'sum' },
          { kind: 'count' },
          { kind: 'expr', expr: { kind: 'arith', op: '/', left: hidden(0), right: hidden(1) } },
          { kind: 'sum' },
          { kind: 'expr', expr: { kind: 'arith', op: '-', left: hidden(0), right: hidden(3) } },
        ],
        having: { kind: 'compare', op: '>', left: { kind: 'column', column: { hidden: true, index: 2 } } },
      },
      orderBy: [{ column: { hidden: true, index: 4 }, descending: true }],
      limit: { kind: 'literal', value: 3n },
    },
  });
  if (p.kind === 'scatter') t.notMatch(p.sql, /HAVING|ORDER BY|LIMIT/, 'the shards neither filter, sort nor limit the groups');
  t.match(plan('SELECT status, sum(total) - sum(qty) AS d FROM orders GROUP BY status ORDER BY d'), { merge: { orderBy: [{ column: { hidden: false, index: 1 } }] } }, 'ORDER BY the alias');
  t.match(plan('SELECT status, sum(total) - sum(qty) FROM orders GROUP BY status ORDER BY sum(total) - sum(qty)'), { merge: { orderBy: [{ column: { hidden: false, index: 1 } }] } }, 'ORDER BY the same expression');
});

void t.test('%, abs(), numeric(p, s) and || are computed by the proxy', async (t) => {
  scatter(t, "SELECT count(*) % 2, abs(sum(total)), sum(total)::numeric(10,2), count(*)::text || ' rows' FROM orders", "SELECT CASE WHEN false THEN count(*) % 2 END AS \"?column?\", CASE WHEN false THEN abs(sum(total)) END AS abs, CASE WHEN false THEN CAST(sum(total) AS numeric(10, 2)) END AS sum, CASE WHEN false THEN (count(*))::text || ' rows' END AS \"?column?\", count(*) AS pgshard_hidden_1, sum(total) AS pgshard_hidden_2 FROM orders", {
    hiddenColumns: 2,
    aggregate: {
      columns: [
        { kind: 'expr', expr: { kind: 'arith', op: '%', left: hidden(0), right: int4(2) } },
        { kind: 'expr', expr: { kind: 'abs', arg: hidden(1) } },
        { kind: 'expr', expr: { kind: 'typmod', arg: { kind: 'cast', to: 'numeric', arg: hidden(1) }, precision: 10, scale: 2 } },
        { kind: 'expr', expr: { kind: 'concat', left: { kind: 'cast', to: 'text', arg: hidden(0) }, right: { kind: 'const', type: 'unknown', text: ' rows' } } },
        { kind: 'count' },
        { kind: 'sum' },
      ],
    },
  });
  t.match(plan('SELECT sum(total)::numeric(5), sum(total)::decimal(3, -1) FROM orders'), {
    merge: { aggregate: { columns: [{ expr: { kind: 'typmod', precision: 5, scale: 0 } }, { expr: { kind: 'typmod', precision: 3, scale: -1 } }] } },
  }, 'numeric(p) has scale 0; decimal is numeric; a negative scale is PostgreSQL 15\'s');
  t.match(plan("SELECT coalesce(max(note), '') || '!' FROM orders"), { kind: 'scatter', merge: { aggregate: { columns: [{ expr: { kind: 'concat', left: { kind: 'coalesce' } } }] } } }, 'text known only to the shards is checked when they answer');
});

void t.test('CASE: conditions over aggregates are translated; the proxy evaluates them', async (t) => {
  scatter(t, "SELECT status, CASE WHEN count(*) > 10 THEN 'many' WHEN sum(total) IS NULL OR NOT count(*) >= 2 THEN 'none' ELSE 'few' END FROM orders GROUP BY status", "SELECT status, CASE WHEN false THEN CASE WHEN count(*) > 10 THEN 'many' WHEN sum(total) IS NULL OR NOT (count(*) >= 2) THEN 'none' ELSE 'few' END END AS \"case\", count(*) AS pgshard_hidden_1, sum(total) AS pgshard_hidden_2 FROM orders GROUP BY status", {
    aggregate: {
      columns: [
        { kind: 'group' },
        {
          kind: 'expr',
          expr: {
            kind: 'case',
            whens: [
              { condition: { kind: 'compare', op: '>', left: hidden(0), right: int4(10) }, result: { kind: 'const', type: 'unknown', text: 'many' } },
              {
                condition: { kind: 'or', args: [{ kind: 'is-null', negated: false, arg: hidden(1) }, { kind: 'not', arg: { kind: 'compare', op: '>=', left: hidden(0), right: int4(2) } }] },
                result: { kind: 'const', type: 'unknown', text: 'none' },
              },
            ],
            otherwise: { kind: 'const', type: 'unknown', text: 'few' },
          },
        },
        { kind: 'count' },
        { kind: 'sum' },
      ],
    },
  });
  t.match(plan('SELECT CASE WHEN count(*) <> 0 AND true THEN sum(total) END FROM orders'), {
    merge: { aggregate: { columns: [{ expr: { kind: 'case', whens: [{ condition: { kind: 'and', args: [{ kind: 'compare', op: '<>' }, { kind: 'truth', arg: { kind: 'const', type: 'bool', text: 'true' } }] } }], otherwise: null } }] } },
  }, 'no ELSE; a boolean constant decides by itself');
  t.match(plan('SELECT CASE WHEN bool_or(qty > 1) THEN 1 END FROM orders'), {
    merge: { aggregate: { columns: [{ expr: { kind: 'case', whens: [{ condition: { kind: 'truth', arg: hidden(0) } }] } }, { kind: 'bool_or' }] } },
  }, 'a boolean aggregate is a condition');
});

void t.test('CASE: a condition without aggregates is computed by the shards, a simple CASE compares with =', async (t) => {
  // status = 'paid' compares text under the column's collation: the shards know it, the proxy does not.
  scatter(t, "SELECT status, CASE status WHEN 'paid' THEN sum(total) ELSE 0 END FROM orders GROUP BY status", "SELECT status, CASE WHEN false THEN CASE status WHEN 'paid' THEN sum(total) ELSE 0 END END AS \"case\", status = 'paid' AS pgshard_hidden_1, sum(total) AS pgshard_hidden_2 FROM orders GROUP BY status", {
    aggregate: {
      columns: [
        { kind: 'group' },
        { kind: 'expr', expr: { kind: 'case', whens: [{ condition: { kind: 'truth', arg: hidden(0) }, result: hidden(1) }], otherwise: int4(0) } },
        { kind: 'group' },
        { kind: 'sum' },
      ],
    },
  });
  t.match(plan('SELECT CASE sum(qty) WHEN 0 THEN 1 WHEN count(*) THEN 2 END FROM orders'), {
    merge: { aggregate: { columns: [{ expr: { kind: 'case', whens: [{ condition: { kind: 'compare', op: '=', left: hidden(0), right: int4(0) } }, { condition: { kind: 'compare', op: '=', left: hidden(0), right: hidden(1) } }] } }] } },
  }, 'CASE x WHEN v: x = v per arm');
  refused(t, 'SELECT CASE qty WHEN 1 THEN count(*) END FROM orders', /a CASE condition on "qty", not grouped/);
});

void t.test('$n parameters inside expressions over aggregates', async (t) => {
  scatter(t, 'SELECT coalesce(sum(total), $1), count(*) % $2 FROM orders WHERE qty > $3', 'SELECT CASE WHEN false THEN COALESCE(sum(total), $1) END AS coalesce, CASE WHEN false THEN count(*) % $2 END AS "?column?", sum(total) AS pgshard_hidden_1, count(*) AS pgshard_hidden_2 FROM orders WHERE qty > $3', {
    aggregate: {
      columns: [
        { kind: 'expr', expr: { kind: 'coalesce', args: [hidden(0), { kind: 'param', index: 0 }] } },
        { kind: 'expr', expr: { kind: 'arith', op: '%', left: hidden(1), right: { kind: 'param', index: 1 } } },
        { kind: 'sum' },
        { kind: 'count' },
      ],
    },
  });
  t.match(plan('SELECT status FROM orders GROUP BY status HAVING sum(total) * $1 > 100'), {
    kind: 'scatter',
    merge: { aggregate: { columns: [{ kind: 'group' }, { kind: 'sum' }, { kind: 'expr', expr: { kind: 'arith', op: '*', right: { kind: 'param', index: 0 } } }] } },
  }, 'in HAVING: a hidden expression column');
  // PostgreSQL types an untyped parameter where it meets it first; the proxy only sees this context.
  refused(t, 'SELECT sum(total) * $1 FROM orders WHERE qty > $1', /parameter \$1 in an expression over aggregates when the statement uses it more than once/);
  refused(t, 'SELECT sum(total) * $1, count(*) + $1 FROM orders', /parameter \$1 .* more than once/);
  refused(t, 'SELECT coalesce(sum(qty * $1), $1) FROM orders', /parameter \$1 .* more than once/);
  t.match(plan('SELECT sum(qty * $1) + 1 FROM orders'), { kind: 'scatter' }, 'a parameter inside an aggregate is the shards\' business');
});

void t.test('expressions the proxy cannot compute exactly are refused with what it can', async (t) => {
  refused(t, 'SELECT div(count(*), 2) FROM orders', /function div\(\)/);
  refused(t, 'SELECT sum(total) ^ 2 FROM orders', /operator \^/);
  refused(t, "SELECT mod(count(*), '2') FROM orders", /a string constant in mod\(\)/);
  refused(t, "SELECT sum(total) + '1' FROM orders", /a string constant in arithmetic/);
  refused(t, 'SELECT sum(total)::numeric(10.5, 2) FROM orders', /numeric\(p, s\) with p and s other than integer constants/);
  refused(t, 'SELECT round(avg(total), $1) FROM orders', /round\(x, n\) with n other than an integer constant/);
  refused(t, 'SELECT nullif(sum(total), 0.5) FROM orders', /nullif\(x, y\) with y other than an integer constant/);
  refused(t, 'SELECT count(*) > 0 FROM orders', /operator >/);
  refused(t, 'SELECT count(*) IS NULL FROM orders', /boolean condition/);
  refused(t, 'SELECT sum(total) || \'x\' FROM orders', /operator \|\| with an operand that is not text/);
  refused(t, "SELECT 'n=' || count(*) FROM orders", /operator \|\| with an operand that is not text/);
  refused(t, 'SELECT CASE $1 WHEN 1 THEN count(*) END FROM orders', /CASE over a parameter or a string constant/);
  refused(t, "SELECT CASE WHEN max(note) LIKE 'a%' THEN 1 END FROM orders", /LIKE in a CASE condition/);
  refused(t, 'SELECT CASE WHEN count(*) = ANY(ARRAY[1, 2]) THEN 1 END FROM orders', /OP_ANY in a CASE condition/);
  refused(t, 'SELECT CASE WHEN count(*) IN (SELECT 1) THEN 1 END FROM orders', /a sub-query/);
  refused(t, 'SELECT (count(*) > 0) IS TRUE FROM orders', /boolean condition/);
  refused(t, 'SELECT CASE WHEN count(*) > 0 THEN false END FROM orders', /a boolean constant/);
  t.match(plan('SELECT coalesce(string_agg(note, \',\'), \'\') FROM orders'), { kind: 'unsupported', message: /string_agg/ }, 'an aggregate that does not merge is named');
});

void t.test('greatest, least and mod() are computed by the proxy', async (t) => {
  scatter(t, 'SELECT least(sum(total), max(qty), 0), mod(count(*), -3) FROM orders', 'SELECT CASE WHEN false THEN LEAST(sum(total), max(qty), 0) END AS least, CASE WHEN false THEN mod(count(*), -3) END AS mod, sum(total) AS pgshard_hidden_1, max(qty) AS pgshard_hidden_2, count(*) AS pgshard_hidden_3 FROM orders', {
    aggregate: {
      columns: [
        { kind: 'expr', expr: { kind: 'minmax', op: 'least', args: [hidden(0), hidden(1), int4(0)] } },
        { kind: 'expr', expr: { kind: 'arith', op: '%', left: hidden(2), right: int4(-3) } },
        { kind: 'sum' },
        { kind: 'max' },
        { kind: 'count' },
      ],
    },
  });
  t.match(plan("SELECT greatest(sum(total), '5', NULL) FROM orders"), { merge: { aggregate: { columns: [{ expr: { kind: 'minmax', args: [hidden(0), { kind: 'const', type: 'unknown', text: '5' }, { kind: 'const', type: 'unknown', text: null }] } }] } } }, 'untyped arguments take the common type, as in coalesce');
});

void t.test('CASE conditions: IN, BETWEEN, IS DISTINCT FROM and IS TRUE/FALSE/UNKNOWN as PostgreSQL parses them', async (t) => {
  const condition = (sql: string): unknown => {
    const p = plan(`SELECT CASE WHEN ${sql} THEN 1 END FROM orders`);
    if (p.kind !== 'scatter') return p.kind;
    const expr = p.merge.aggregate?.columns[0];
    return expr?.kind === 'expr' && expr.expr.kind === 'case' ? expr.expr.whens[0]?.condition : expr;
  };
  const eq = (left: MergeExpr, right: MergeExpr, op = '=') => ({ kind: 'compare', op, left, right });
  // Items without columns (constants, parameters, count(*)) form one x = ANY (ARRAY[...]) when there
  // are two or more; items with columns are comparisons after it.
  t.same(condition('count(*) IN (1, sum(qty), 2, $1)'), {
    kind: 'or',
    args: [{ kind: 'in-list', negated: false, arg: hidden(0), items: [int4(1), int4(2), { kind: 'param', index: 0 }] }, eq(hidden(0), hidden(1))],
  });
  t.same(condition('count(*) NOT IN (sum(qty), 2)'), { kind: 'and', args: [eq(hidden(0), hidden(1), '<>'), eq(hidden(0), int4(2), '<>')] }, 'one item without columns: comparisons only');
  t.same(condition('count(*) IN (7)'), eq(hidden(0), int4(7)), 'one item: x = v');
  t.same(condition('count(*) NOT IN (1, NULL)'), { kind: 'in-list', negated: true, arg: hidden(0), items: [int4(1), { kind: 'const', type: 'unknown', text: null }] });
  t.same(condition('count(*) BETWEEN 1 AND sum(qty)'), { kind: 'and', args: [eq(hidden(0), int4(1), '>='), eq(hidden(0), hidden(1), '<=')] });
  t.same(condition('count(*) NOT BETWEEN 1 AND 2'), { kind: 'or', args: [eq(hidden(0), int4(1), '<'), eq(hidden(0), int4(2), '>')] });
  t.same(condition('count(*) BETWEEN SYMMETRIC 2 AND 1'), {
    kind: 'or',
    args: [{ kind: 'and', args: [eq(hidden(0), int4(2), '>='), eq(hidden(0), int4(1), '<=')] }, { kind: 'and', args: [eq(hidden(0), int4(1), '>='), eq(hidden(0), int4(2), '<=')] }],
  });
  t.same(condition('count(*) NOT BETWEEN SYMMETRIC 2 AND 1'), {
    kind: 'and',
    args: [{ kind: 'or', args: [eq(hidden(0), int4(2), '<'), eq(hidden(0), int4(1), '>')] }, { kind: 'or', args: [eq(hidden(0), int4(1), '<'), eq(hidden(0), int4(2), '>')] }],
  });
  t.same(condition('count(*) IS DISTINCT FROM sum(qty)'), { kind: 'distinct', left: hidden(0), right: hidden(1) });
  t.same(condition('count(*) IS NOT DISTINCT FROM NULL'), { kind: 'not', arg: { kind: 'distinct', left: hidden(0), right: { kind: 'const', type: 'unknown', text: null } } });
  for (const [sql, test] of [['IS TRUE', 'true'], ['IS NOT TRUE', 'not-true'], ['IS FALSE', 'false'], ['IS NOT FALSE', 'not-false'], ['IS UNKNOWN', 'unknown'], ['IS NOT UNKNOWN', 'not-unknown']] as const) {
    t.same(condition(`(count(*) > 1) ${sql}`), { kind: 'bool-test', test, arg: eq(hidden(0), int4(1), '>') }, sql);
  }
  t.same(condition('bool_or(qty > 1) IS NOT FALSE'), { kind: 'bool-test', test: 'not-false', arg: { kind: 'truth', arg: hidden(0) } }, 'over a boolean aggregate');
  t.match(plan("SELECT status, CASE WHEN status IN ('paid', 'open') THEN sum(qty) END FROM orders GROUP BY status"), {
    merge: { aggregate: { columns: [{ kind: 'group' }, { kind: 'expr', expr: { whens: [{ condition: { kind: 'truth', arg: hidden(0) } }] } }, { kind: 'group' }, { kind: 'sum' }] } },
  }, 'without aggregates, over grouped columns: the shards compute it (text IN included)');
});

void t.test('grouped by the shard key: nothing to merge, expressions run on the shards as written', async (t) => {
  const p = plan('SELECT customer_id, sum(total) / count(*) FROM orders GROUP BY customer_id');
  t.match(p, { kind: 'scatter', sql: 'SELECT customer_id, sum(total) / count(*) FROM orders GROUP BY customer_id', merge: { aggregate: null } });
});
