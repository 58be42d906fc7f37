import t, { type Test } from 'tap';
import { initSqlParser } from '../../../planner/sql-parser.js';
import { Planner } from '../../../planner/planner.js';
import type { Merge, Plan } from '../../../planner/plan.js';
import { makeRules, NO_SESSION, SHARDS } from './routing-fixtures.js';

await initSqlParser();
const planner = new Planner(makeRules(), { cacheEntriesMax: 1000 });
const plan = (sql: string): Plan => planner.plan(sql, null, NO_SESSION)[0]?.plan ?? { kind: 'unsupported', message: 'none', hint: '' };
const ALL = Array.from({ length: SHARDS }, (_, i) => i);
const NO_MERGE: Merge = { hiddenColumns: 0, aggregate: null, distinct: false, orderBy: [], limit: null, offset: null };

function scatter(t: Test, sql: string, expectSql: string, merge: Partial<Merge>): void {
  const p = plan(sql);
  t.equal(p.kind, 'scatter', sql);
  if (p.kind !== 'scatter') return;
  t.strictSame(p.shards, ALL, `${sql}: all shards`);
  t.equal(p.sql, expectSql, `${sql}: shard SQL`);
  t.strictSame(p.merge, { ...NO_MERGE, ...merge }, `${sql}: merge`);
}

function rejected(t: Test, sql: string, re: RegExp): void {
  const p = plan(sql);
  t.equal(p.kind, 'unsupported', sql);
  if (p.kind === 'unsupported') {
    t.match(p.message, re, `${sql}: message`);
    t.ok(p.hint.length > 0, `${sql}: hint`);
  }
}

const asc = (index: number, hidden = false) => ({ column: { hidden, index }, descending: false, nullsFirst: false });
const desc = (index: number, hidden = false) => ({ column: { hidden, index }, descending: true, nullsFirst: true });

void t.test('ORDER BY resolves to output columns, else hidden columns after the visible ones', async (t) => {
  scatter(t, 'SELECT id, name FROM users ORDER BY name DESC NULLS LAST, 1', 'SELECT id, name FROM users ORDER BY name DESC NULLS LAST, 1', {
    orderBy: [{ column: { hidden: false, index: 1 }, descending: true, nullsFirst: false }, asc(0)],
  });
  scatter(t, 'SELECT id AS uid, name FROM users ORDER BY uid', 'SELECT id AS uid, name FROM users ORDER BY uid', { orderBy: [asc(0)] });
  scatter(t, 'SELECT id, lower(name) FROM users ORDER BY lower(name) DESC', 'SELECT id, lower(name) FROM users ORDER BY lower(name) DESC', { orderBy: [desc(1)] });
  scatter(t, 'SELECT id FROM users ORDER BY lower(name)', 'SELECT id, lower(name) AS pgshard_hidden_1 FROM users ORDER BY lower(name)', {
    hiddenColumns: 1,
    orderBy: [asc(0, true)],
  });
  scatter(t, 'SELECT * FROM users ORDER BY name', 'SELECT *, name AS pgshard_hidden_1 FROM users ORDER BY name', { hiddenColumns: 1, orderBy: [asc(0, true)] });
  scatter(t, 'SELECT * FROM users ORDER BY 2', 'SELECT * FROM users ORDER BY 2', { orderBy: [asc(1)] });
  scatter(t, 'SELECT u.id FROM users u ORDER BY u.created DESC, u.id', 'SELECT u.id, u.created AS pgshard_hidden_1 FROM users AS u ORDER BY u.created DESC, u.id', {
    hiddenColumns: 1,
    orderBy: [desc(0, true), asc(0)],
  });
  scatter(t, 'SELECT * FROM users FOR UPDATE', 'SELECT * FROM users FOR UPDATE', {});
  const locking = plan('SELECT * FROM users FOR UPDATE');
  t.equal(locking.kind === 'scatter' ? locking.access : null, 'write', 'FOR UPDATE reads go to primaries');
  rejected(t, 'SELECT name FROM users ORDER BY name USING <', /USING/);
});

void t.test('LIMIT n OFFSET m: shards get n + m, the merge keeps both', async (t) => {
  scatter(t, 'SELECT * FROM users ORDER BY 2 LIMIT 5', 'SELECT * FROM users ORDER BY 2 LIMIT 5', { orderBy: [asc(1)], limit: { kind: 'literal', value: 5n } });
  scatter(t, 'SELECT name FROM users ORDER BY name LIMIT 10 OFFSET 20', 'SELECT name FROM users ORDER BY name LIMIT 30', {
    orderBy: [asc(0)],
    limit: { kind: 'literal', value: 10n },
    offset: { kind: 'literal', value: 20n },
  });
  scatter(t, 'SELECT name FROM users LIMIT $1', 'SELECT name FROM users LIMIT CAST($1 AS bigint)', { limit: { kind: 'param', index: 0 } });
  scatter(t, 'SELECT name FROM users LIMIT $2 OFFSET $3', 'SELECT name FROM users LIMIT CAST($2 AS bigint) + CAST($3 AS bigint)', {
    limit: { kind: 'param', index: 1 },
    offset: { kind: 'param', index: 2 },
  });
  scatter(t, 'SELECT name FROM users LIMIT 10 OFFSET $1', 'SELECT name FROM users LIMIT 10 + CAST($1 AS bigint)', {
    limit: { kind: 'literal', value: 10n },
    offset: { kind: 'param', index: 0 },
  });
  scatter(t, 'SELECT name FROM users OFFSET 3', 'SELECT name FROM users', { offset: { kind: 'literal', value: 3n } });
  scatter(t, 'SELECT name FROM users LIMIT ALL', 'SELECT name FROM users', {});
  scatter(t, 'SELECT name FROM users FETCH FIRST 5 ROWS ONLY', 'SELECT name FROM users LIMIT 5', { limit: { kind: 'literal', value: 5n } });
  rejected(t, 'SELECT name FROM users ORDER BY name FETCH FIRST 3 ROWS WITH TIES', /WITH TIES/);
  rejected(t, 'SELECT name FROM users LIMIT (SELECT 3)', /LIMIT that is not a constant/);
});

void t.test('aggregates are re-aggregated', async (t) => {
  scatter(
    t,
    'SELECT count(*), count(x), sum(x), min(y), max(z), bool_and(b), bool_or(c), every(d) FROM users',
    'SELECT count(*), count(x), sum(x), min(y), max(z), bool_and(b), bool_or(c), every(d) FROM users',
    {
      aggregate: {
        columns: [{ kind: 'count' }, { kind: 'count' }, { kind: 'sum' }, { kind: 'min' }, { kind: 'max' }, { kind: 'bool_and' }, { kind: 'bool_or' }, { kind: 'bool_and' }],
        having: null,
      },
    },
  );
  scatter(t, 'SELECT avg(x) FROM users', 'SELECT sum(x) AS avg, count(x) AS pgshard_hidden_1 FROM users', {
    hiddenColumns: 1,
    aggregate: { columns: [{ kind: 'avg', count: { hidden: true, index: 0 } }, { kind: 'count' }], having: null },
  });
  scatter(t, 'SELECT avg(x) FILTER (WHERE x > 0) AS a FROM users', 'SELECT sum(x) FILTER (WHERE x > 0) AS a, count(x) FILTER (WHERE x > 0) AS pgshard_hidden_1 FROM users', {
    hiddenColumns: 1,
    aggregate: { columns: [{ kind: 'avg', count: { hidden: true, index: 0 } }, { kind: 'count' }], having: null },
  });
  scatter(t, 'SELECT name, count(*) AS n FROM users GROUP BY name ORDER BY n DESC LIMIT 3', 'SELECT name, count(*) AS n FROM users GROUP BY name', {
    aggregate: { columns: [{ kind: 'group' }, { kind: 'count' }], having: null },
    orderBy: [desc(1)],
    limit: { kind: 'literal', value: 3n },
  });
  scatter(t, 'SELECT count(*) FROM users GROUP BY name, region', 'SELECT count(*), name AS pgshard_hidden_1, region AS pgshard_hidden_2 FROM users GROUP BY name, region', {
    hiddenColumns: 2,
    aggregate: { columns: [{ kind: 'count' }, { kind: 'group' }, { kind: 'group' }], having: null },
  });
  scatter(t, 'SELECT name, count(*) FROM users GROUP BY name ORDER BY upper(name)', 'SELECT name, count(*), upper(name) AS pgshard_hidden_1 FROM users GROUP BY name', {
    hiddenColumns: 1,
    aggregate: { columns: [{ kind: 'group' }, { kind: 'count' }, { kind: 'group' }], having: null },
    orderBy: [asc(0, true)],
  });
  scatter(t, 'SELECT name FROM users GROUP BY name ORDER BY count(*) DESC', 'SELECT name, count(*) AS pgshard_hidden_1 FROM users GROUP BY name', {
    hiddenColumns: 1,
    aggregate: { columns: [{ kind: 'group' }, { kind: 'count' }], having: null },
    orderBy: [desc(0, true)],
  });
  rejected(t, 'SELECT count(DISTINCT name) FROM users', /count\(DISTINCT/);
  rejected(t, 'SELECT string_agg(name, \',\') FROM users', /string_agg/);
  rejected(t, 'SELECT array_agg(id) FROM users', /array_agg/);
  rejected(t, 'SELECT percentile_cont(0.5) WITHIN GROUP (ORDER BY x) FROM users', /percentile_cont/);
  rejected(t, 'SELECT power(count(*), 2) FROM users', /function power\(\) in an expression over aggregates/);
  rejected(t, 'SELECT sum(id) ^ 2 FROM users', /operator \^ in an expression over aggregates/);
  scatter(t, 'SELECT greatest(count(*), 2), mod(sum(id), 2) FROM users', 'SELECT CASE WHEN false THEN GREATEST(count(*), 2) END AS greatest, CASE WHEN false THEN mod(sum(id), 2) END AS mod, count(*) AS pgshard_hidden_1, sum(id) AS pgshard_hidden_2 FROM users', {
    hiddenColumns: 2,
    aggregate: {
      columns: [
        { kind: 'expr', expr: { kind: 'minmax', op: 'greatest', args: [{ kind: 'column', column: { hidden: true, index: 0 } }, { kind: 'const', type: 'int4', text: '2' }] } },
        { kind: 'expr', expr: { kind: 'arith', op: '%', left: { kind: 'column', column: { hidden: true, index: 1 } }, right: { kind: 'const', type: 'int4', text: '2' } } },
        { kind: 'count' },
        { kind: 'sum' },
      ],
      having: null,
    },
  });
  scatter(t, 'SELECT count(*) % 2, abs(sum(id)) FROM users', 'SELECT CASE WHEN false THEN count(*) % 2 END AS "?column?", CASE WHEN false THEN abs(sum(id)) END AS abs, count(*) AS pgshard_hidden_1, sum(id) AS pgshard_hidden_2 FROM users', {
    hiddenColumns: 2,
    aggregate: {
      columns: [
        { kind: 'expr', expr: { kind: 'arith', op: '%', left: { kind: 'column', column: { hidden: true, index: 0 } }, right: { kind: 'const', type: 'int4', text: '2' } } },
        { kind: 'expr', expr: { kind: 'abs', arg: { kind: 'column', column: { hidden: true, index: 1 } } } },
        { kind: 'count' },
        { kind: 'sum' },
      ],
      having: null,
    },
  });
  rejected(t, 'SELECT region, count(*) FROM users GROUP BY ROLLUP (region)', /ROLLUP/);
  rejected(t, 'SELECT *, count(*) FROM users GROUP BY name', /SELECT \*/);
});

void t.test('grouped by the shard key: groups live on one shard each, nothing to re-aggregate', async (t) => {
  scatter(t, 'SELECT id, string_agg(name, \',\') FROM users GROUP BY id', "SELECT id, string_agg(name, ',') FROM users GROUP BY id", {});
  scatter(t, 'SELECT id, count(DISTINCT name) AS n FROM users GROUP BY id HAVING count(*) > 1 ORDER BY n LIMIT 5', 'SELECT id, count(DISTINCT name) AS n FROM users GROUP BY id HAVING count(*) > 1 ORDER BY n LIMIT 5', {
    orderBy: [asc(1)],
    limit: { kind: 'literal', value: 5n },
  });
});

void t.test('HAVING moves to the proxy as a predicate', async (t) => {
  scatter(
    t,
    'SELECT name FROM users GROUP BY 1 HAVING count(*) > 1 AND max(x) IS NOT NULL OR NOT (avg(y) < $1)',
    'SELECT name, count(*) AS pgshard_hidden_1, max(x) AS pgshard_hidden_2, count(y) AS pgshard_hidden_3, sum(y) AS pgshard_hidden_4 FROM users GROUP BY 1',
    {
      hiddenColumns: 4,
      aggregate: {
        columns: [{ kind: 'group' }, { kind: 'count' }, { kind: 'max' }, { kind: 'count' }, { kind: 'avg', count: { hidden: true, index: 2 } }],
        having: {
          kind: 'or',
          args: [
            {
              kind: 'and',
              args: [
                { kind: 'compare', op: '>', left: { kind: 'column', column: { hidden: true, index: 0 } }, right: { kind: 'literal', text: '1' } },
                { kind: 'is-null', negated: true, arg: { kind: 'column', column: { hidden: true, index: 1 } } },
              ],
            },
            { kind: 'not', arg: { kind: 'compare', op: '<', left: { kind: 'column', column: { hidden: true, index: 3 } }, right: { kind: 'param', index: 0 } } },
          ],
        },
      },
    },
  );
  scatter(t, 'SELECT name, count(*) AS c FROM users GROUP BY name HAVING count(*) >= 2', 'SELECT name, count(*) AS c FROM users GROUP BY name', {
    aggregate: {
      columns: [{ kind: 'group' }, { kind: 'count' }],
      having: { kind: 'compare', op: '>=', left: { kind: 'column', column: { hidden: false, index: 1 } }, right: { kind: 'literal', text: '2' } },
    },
  });
  scatter(t, "SELECT name FROM users GROUP BY name HAVING name <> 'x'", 'SELECT name FROM users GROUP BY name', {
    aggregate: {
      columns: [{ kind: 'group' }],
      having: { kind: 'compare', op: '<>', left: { kind: 'column', column: { hidden: false, index: 0 } }, right: { kind: 'literal', text: 'x' } },
    },
  });
  rejected(t, "SELECT name FROM users GROUP BY name HAVING count(*) BETWEEN 1 AND 3", /HAVING/);
  rejected(t, "SELECT name FROM users GROUP BY name HAVING name LIKE 'a%'", /HAVING|LIKE/);
});

void t.test('DISTINCT runs on the shards and again in the merge', async (t) => {
  scatter(t, 'SELECT DISTINCT name, region FROM users', 'SELECT DISTINCT name, region FROM users', { distinct: true });
  scatter(t, 'SELECT DISTINCT name FROM users ORDER BY name LIMIT $2 OFFSET $3', 'SELECT DISTINCT name FROM users ORDER BY name LIMIT CAST($2 AS bigint) + CAST($3 AS bigint)', {
    distinct: true,
    orderBy: [asc(0)],
    limit: { kind: 'param', index: 1 },
    offset: { kind: 'param', index: 2 },
  });
});

void t.test('UNION ALL at the top concatenates; ORDER BY must name output columns', async (t) => {
  scatter(t, 'SELECT id FROM users UNION ALL SELECT customer_id FROM orders', 'SELECT id FROM users UNION ALL SELECT customer_id FROM orders', {});
  scatter(t, 'SELECT id AS k FROM users UNION ALL SELECT customer_id FROM orders ORDER BY k LIMIT 4 OFFSET 1', 'SELECT id AS k FROM users UNION ALL SELECT customer_id FROM orders ORDER BY k LIMIT 5', {
    orderBy: [asc(0)],
    limit: { kind: 'literal', value: 4n },
    offset: { kind: 'literal', value: 1n },
  });
  rejected(t, 'SELECT id FROM users UNION SELECT customer_id FROM orders', /UNION/);
  rejected(t, 'SELECT id FROM users EXCEPT ALL SELECT customer_id FROM orders', /EXCEPT/);
});

void t.test('writes without a fixed key scatter unchanged', async (t) => {
  for (const sql of ['UPDATE users SET name = $1 WHERE name = $2 RETURNING id', 'DELETE FROM users WHERE created < now()', "UPDATE users u SET region = c.region FROM countries c WHERE c.code = u.country"]) {
    t.strictSame(plan(sql), { kind: 'scatter', shards: ALL, access: 'write', sql, merge: NO_MERGE }, sql);
  }
});
