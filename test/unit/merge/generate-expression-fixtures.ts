// Regenerates test/unit/merge/fixtures/pg15-expressions.json from a real PostgreSQL 15 (run once; the
// fixture is committed): node --import tsx test/unit/merge/generate-expression-fixtures.ts
// It starts a throwaway one-node cluster, or uses the server named by PGSHARD_FIXTURE_HOST (a socket
// directory or host) and PGSHARD_FIXTURE_PORT, as superuser postgres.
//
// What PostgreSQL itself answered for the expressions the proxy computes over merged aggregates
// (arithmetic, % and mod() between every pair of number types, unary minus, abs, casts, numeric(p, s),
// round, coalesce, nullif, greatest, least, ||, CASE with comparisons, IN, BETWEEN, IS [NOT] DISTINCT
// FROM, IS NULL, IS TRUE/FALSE/UNKNOWN, AND/OR/NOT, and a few combinations), with operands `a` and `b`
// of given types (numeric(p,s) among them) and values, edge values included: the result's type OID,
// type modifier and output name, and its text, or the error's SQLSTATE, message and detail. Also the
// output names PostgreSQL gives other targets without AS (FigureColname). Expressions PostgreSQL rejects when it
// parses them (round(float8, int), float % float...) or plans them (a constant 1 / 0 PostgreSQL
// folds) are recorded with `parseError`: the shards report those before the proxy computes anything.
// The operands come from a sub-select PostgreSQL cannot pull up (OFFSET 0): run-time values, as the
// merged aggregates are, not constants it would fold into the expression.
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import { withFixturePostgres } from './fixture-postgres.js';
import { EXPRESSION_FIXTURE_FILE, type ExpressionError, type ExpressionFixtures, type ExpressionGroup } from './pg-fixtures.js';

const VALUES: Record<string, (string | null)[]> = {
  int2: ['0', '7', '-1', '32767', '-32768', null],
  int4: ['0', '2', '-3', '2147483647', '-2147483648', null],
  int8: ['0', '5', '-7', '9223372036854775807', '-9223372036854775808', '123456789012', null],
  numeric: ['0', '1.5', '-2.5', '0.333', '1e20', '123456789.123456789', 'NaN', 'Infinity', '-Infinity', '-0.5', '2147483647.5', null],
  float4: ['0', '1.5', '3.4e38', '1e-38', 'NaN', '-2.5', '0.1', null],
  float8: ['0', '-0', '2.5', '-3.5', '1e308', '1e-308', 'NaN', 'Infinity', '0.1', '123456789.987654321', '9.2233720368547758e18', null],
  text: ['abc', '', 'ß', null],
  varchar: ['x', null],
  bpchar: ['ab ', null],
  // As a numeric(p, s) column holds them (and a shard sends them): at the column's scale.
  'numeric(10,3)': ['0.000', '1.500', '-2.250', '1234567.125', null],
  'numeric(5,1)': ['0.0', '-7.5', '9999.9', null],
};
const NUMBER_TYPES = ['int2', 'int4', 'int8', 'numeric', 'float4', 'float8'];

/** A condition's three-valued outcome as text: t, f or n (unknown). */
const truth = (c: string): string => `CASE WHEN ${c} THEN 't' WHEN NOT (${c}) THEN 'f' ELSE 'n' END`;

/** Targets over columns a, b (integers) and arr (an array) whose output names PostgreSQL is asked for. */
const NAME_TARGETS = [
  'a', 's.a', 'a + b', '-a', 'a > b', 'a IS NULL', 'NOT (a > b)', '(a > b) IS TRUE', 'a BETWEEN 1 AND 2', 'a IN (1, 2)', 'a = ANY(arr)', "'x' LIKE 'y'",
  '1', "'x'", 'NULL', 'true', "B'101'", '1.5', 'abs(a)', 'pg_catalog.abs(a)', 'mod(a, 2)', 'sum(a)', 'count(*)', 'count(*) OVER ()',
  'a::text', '1::int', "'x'::varchar(3)", 'CAST(a AS numeric(5,1))', 'a::int::text', '(a + 1)::int', '(a + 1)::text::int', 'NULL::numeric(10,2)',
  "interval '1 day'", "date '2020-01-01'", 'a::double precision', 'a::"int4"', 'arr::text[]', 'a::numeric(10,2)::text',
  'CASE WHEN a > 0 THEN 1 END', 'CASE WHEN a > 0 THEN 1 ELSE b END', 'CASE WHEN a > 0 THEN 1 ELSE abs(b) END', 'CASE WHEN a > 0 THEN 1 ELSE 0 END',
  'CASE WHEN a > 0 THEN 1 ELSE b::text::int END', 'CASE WHEN a > 0 THEN 1 ELSE (b + 1)::int END', 'CASE WHEN a > 0 THEN 1 ELSE (SELECT 1) END',
  'CASE WHEN a > 0 THEN 1 ELSE CASE WHEN b > 0 THEN 2 ELSE a END END', 'CASE WHEN a > 0 THEN 1 ELSE CASE WHEN b > 0 THEN 2 END END',
  'CASE a WHEN 1 THEN 2 ELSE coalesce(b, 0) END', 'CASE WHEN a > 0 THEN 1 ELSE NULL END', "CASE WHEN a > 0 THEN 'x' ELSE 'y' COLLATE \"C\" END",
  'coalesce(a, 0)', 'nullif(a, 0)', 'greatest(a, b)', 'least(a, b)', 'ROW(a, b)', '(a, b)', 'ARRAY[a]', 'arr[1]', '(arr)[1:2]', '(ROW(a, b)).f1',
  'arr::text COLLATE "C"', "'x' COLLATE \"C\"", '(SELECT 1)', '(SELECT a)', '(SELECT b AS x)', '(SELECT 1 UNION SELECT 2)', '(SELECT a AS q UNION ALL SELECT 2)',
  '(VALUES (1))', 'EXISTS (SELECT 1)', 'ARRAY(SELECT 1)', 'a IN (SELECT 1)', 'a = ANY(SELECT 1)', '(SELECT (SELECT 3 AS deep))', '(SELECT abs(a))',
  '(SELECT * FROM (SELECT 1 AS star) x)', '(SELECT x.* FROM (SELECT 1 AS star) x)', '(SELECT 1)::text', '(SELECT 1 AS q)::text',
  'current_date', 'current_time', 'current_time(2)', 'current_timestamp', 'current_timestamp(2)', 'localtime', 'localtimestamp(1)',
  'current_user', 'session_user', 'user', 'current_role', 'current_schema', 'current_catalog',
  "xmlconcat('<x/>')", 'xmlelement(name x)', 'xmlforest(a)', "xmlparse(content '<x/>')", 'xmlpi(name x)',
  "xmlroot(xmlparse(document '<x/>'), version no value)", "xmlserialize(content xmlparse(content '<x/>') as text)", "xmlparse(content '<x/>') IS DOCUMENT",
  'extract(year from current_date)', "substring('abc' from 1 for 2)", "position('b' in 'abc')", "trim(both 'x' from 'xyx')", "trim(leading 'x' from 'xy')",
  "trim(trailing 'x' from 'yx')", "overlay('abc' placing 'x' from 1)", "localtimestamp at time zone 'UTC'", "collation for ('x')", "'x' is normalized", "normalize('x')",
  "'x' ~ 'y'", '$$x$$', "E'x'", "U&'x'", 'a IS DISTINCT FROM b', 'a IS NOT DISTINCT FROM b',
];

/** A value subset for the pairwise cases (every pair of two full lists would be too many). */
function few(type: string): (string | null)[] {
  const all = VALUES[type]!;
  return all.length <= 6 ? all : [...all.slice(0, 5), null];
}

function templates(): { expr: string; a: string; b: string | null; values: 'all' | 'few' }[] {
  const out: { expr: string; a: string; b: string | null; values: 'all' | 'few' }[] = [];
  for (const a of NUMBER_TYPES) {
    for (const b of NUMBER_TYPES) for (const op of ['+', '-', '*', '/', '%']) out.push({ expr: `a ${op} b`, a, b, values: 'few' });
    out.push({ expr: '-a', a, b: null, values: 'all' });
    for (const to of ['int2', 'int4', 'int8', 'numeric', 'float4', 'float8', 'text']) out.push({ expr: `a::${to}`, a, b: null, values: 'all' });
    for (const r of ['round(a)', 'round(a, 0)', 'round(a, 1)', 'round(a, -1)', 'round(a, 3)']) out.push({ expr: r, a, b: null, values: 'all' });
    for (const c of ['coalesce(a, 0)', 'coalesce(a, 0.5)', 'coalesce(a, 2147483648)', 'coalesce(a, NULL)', 'nullif(a, 0)', 'nullif(a, 7)', '100.0 * a', 'a / 3', '+a']) {
      out.push({ expr: c, a, b: null, values: 'all' });
    }
    for (const b of NUMBER_TYPES) out.push({ expr: 'coalesce(a, b)', a, b, values: 'few' });
    out.push({ expr: 'round(a / b, 2)', a, b: 'int8', values: 'few' });
    out.push({ expr: 'coalesce(a, 0) / nullif(b, 0)', a, b: 'int8', values: 'few' });
    out.push({ expr: '(a - b)::text', a, b: 'numeric', values: 'few' });
    out.push({ expr: 'a * (1 / 0)', a, b: null, values: 'few' });
    out.push({ expr: 'a * (2147483647 + 1)', a, b: null, values: 'few' });
    for (const e of ['a % 3', 'a % -1', 'a % 0', 'a % 0.3', 'abs(a)', '-abs(a)', 'abs(a) % 1000']) out.push({ expr: e, a, b: null, values: 'all' });
    for (const m of ['(5,2)', '(3)', '(4,-1)', '(2,3)', '(20,10)', '(1,0)']) out.push({ expr: `a::numeric${m}`, a, b: null, values: 'all' });
    out.push({ expr: '(a * 1.5)::numeric(6,1)', a, b: null, values: 'all' });
    for (const c of [
      'CASE WHEN a IS NULL THEN -1 WHEN a < 0 THEN 0 ELSE a END',
      "CASE a WHEN 0 THEN 'zero' WHEN 7 THEN 'seven' ELSE 'other' END",
      "CASE WHEN a >= 1 AND NOT a > 100 THEN 'small' WHEN a < 0 OR a IS NULL THEN 'neg' END",
      'CASE WHEN a > 0 THEN a / 0 END',
      'CASE WHEN a <> a THEN 1 ELSE 0 END',
      'CASE WHEN a IS NOT NULL THEN a + 0.5 END',
      'CASE WHEN a = 0 THEN NULL ELSE 2147483648 END',
      'CASE WHEN a > 0 THEN 1 / 0 END',
      'CASE WHEN 1 = 1 THEN a ELSE 1 / 0 END',
      'CASE WHEN false THEN 1 / 0 ELSE a END',
      'CASE WHEN a > 0 AND 1 = 0 AND 1 / 0 > 0 THEN 1 END',
      'CASE WHEN a > 0 OR 1 / 0 > 0 THEN 1 END',
      'CASE WHEN NULL THEN 1 ELSE 2 END',
      'CASE WHEN a > 0 THEN a ELSE 1e400 END',
      'coalesce(a, 1e400)',
      'a / 0 + NULL',
      'NULL - abs(a)',
      "a::text || ' u'",
      "'[' || abs(a)::text || ']'",
    ]) {
      out.push({ expr: c, a, b: null, values: 'all' });
    }
    for (const b of NUMBER_TYPES) {
      out.push({ expr: 'CASE WHEN a > b THEN a ELSE b END', a, b, values: 'few' });
      out.push({ expr: "CASE WHEN a = b THEN 'eq' WHEN a < b THEN 'lt' WHEN a > b THEN 'gt' END", a, b, values: 'few' });
      for (const e of ['mod(a, b)', 'greatest(a, b)', 'least(a, b)', 'least(b, a, NULL)', truth('a IN (b, 0, 7)'), truth('a NOT IN (b)'), truth('a BETWEEN b AND 7')]) {
        out.push({ expr: e, a, b, values: 'few' });
      }
      for (const e of [truth('a IS DISTINCT FROM b'), truth('a IS NOT DISTINCT FROM b'), truth('a BETWEEN SYMMETRIC b AND 0'), truth('a NOT BETWEEN SYMMETRIC 0 AND b')]) {
        out.push({ expr: e, a, b, values: 'few' });
      }
    }
    for (const e of [
      'mod(a, 3)', 'mod(a, -1)', 'mod(a, 0)', 'mod(a, 0.3)', 'mod(-a, 7)', 'mod(7, a)', 'mod(a, NULL)',
      'greatest(a, 0)', 'least(a, 0)', 'greatest(a, NULL)', 'least(NULL, a, 1.5)', 'greatest(a, 2147483648)', 'greatest(a, 1 / 0)', "least(a, '1')",
      'greatest(a, a * 2)', 'greatest(-a, a)', 'least(a::numeric(5,1), 1.25)', 'greatest(a)', 'greatest(NULL, a) + 1', 'greatest(a, -1) / a', '+a', "+'1.5' + a",
      truth('a IN (0, 7)'), truth('a IN (1, NULL)'), truth('a NOT IN (1, NULL)'), truth('a NOT IN (0, 7, -1)'), truth('a IN (0)'), truth('a IN (NULL, NULL)'),
      truth('a IN (0.1, 0.2)'), truth('a IN (16777217, 1)'), truth('a IN (1.5, 2, 2147483648)'), truth("a IN ('0', '7')"), truth('a IN (1 / 0, 1)'), truth('a NOT IN (1e400, 1)'),
      truth('a BETWEEN 0 AND 7'), truth('a NOT BETWEEN 0 AND 7'), truth('a BETWEEN 0.5 AND 2147483648'), truth('a BETWEEN NULL AND 7'), truth('0 BETWEEN a AND 7'),
      truth('a BETWEEN SYMMETRIC 7 AND -1'), truth('a NOT BETWEEN SYMMETRIC 7 AND NULL'), truth('a BETWEEN 1 AND 0 AND 1 / 0 > 0'),
      truth('a IS DISTINCT FROM 0'), truth('a IS NOT DISTINCT FROM NULL'), truth('a IS DISTINCT FROM 0.1'), truth('NULL IS DISTINCT FROM a'), truth('a IS DISTINCT FROM a'),
      "CASE WHEN (a > 0) IS TRUE THEN 'yes' ELSE 'no' END", "CASE WHEN (a > 0) IS NOT TRUE THEN 'yes' ELSE 'no' END", "CASE WHEN (a > 0) IS FALSE THEN 'yes' ELSE 'no' END",
      "CASE WHEN (a > 0) IS NOT FALSE THEN 'yes' ELSE 'no' END", "CASE WHEN (a > 0) IS UNKNOWN THEN 'yes' ELSE 'no' END", "CASE WHEN (a > 0) IS NOT UNKNOWN THEN 'yes' ELSE 'no' END",
      "CASE WHEN (a IN (1, NULL)) IS UNKNOWN THEN 'yes' ELSE 'no' END", "CASE WHEN (a > 0 AND a < 10) IS NOT FALSE THEN 'yes' ELSE 'no' END", "CASE WHEN NULL IS UNKNOWN THEN a END",
    ]) {
      out.push({ expr: e, a, b: null, values: 'all' });
    }
  }
  // Type modifiers: which expressions keep numeric(p, s) in the RowDescription, as PostgreSQL's
  // planner leaves them (after folding constants) and exprTypmod reads them.
  for (const a of ['numeric(10,3)', 'numeric(5,1)']) {
    for (const e of [
      'a', 'CASE WHEN a > 0 THEN a ELSE a END', 'coalesce(a, a)', 'coalesce(a, 0)', 'coalesce(a, NULL)', 'coalesce(NULL, a)', 'greatest(a, a)', 'least(a, 0)',
      'nullif(a, 0)', 'a::numeric', '+a', '-a', 'abs(a)', 'CASE WHEN true THEN a END', 'CASE WHEN false THEN 1 ELSE a END', 'CASE WHEN a > 0 THEN a END',
      'CASE WHEN a > 0 THEN a ELSE NULL END', 'CASE WHEN a > 0 THEN a WHEN false THEN 0 ELSE a END', 'CASE WHEN a > 0 THEN a WHEN true THEN a ELSE 0 END',
      'CASE WHEN a > 0 THEN a::numeric(10,2) ELSE a::numeric(10,2) END', 'CASE WHEN a > 0 THEN a::numeric(10,2) END', 'coalesce(a::numeric(10,2), NULL)',
      'CASE WHEN true THEN 1.5::numeric(10,2) END', 'CASE WHEN a > 0 THEN 1.5::numeric(10,2) ELSE 2.5::numeric(10,2) END', 'coalesce(NULL::numeric(10,2), a::numeric(10,2))',
      'coalesce(1.5::numeric(10,2), a)', 'coalesce(1.5::numeric(10,2), a::numeric(10,2))', 'greatest(a::numeric(4,1), 2.5::numeric(4,1))', 'least(a, NULL::numeric(10,3))',
      'a::numeric(12,4)', 'a::numeric(3,-1)', '(a * 2)::numeric(8,2)', 'coalesce(a, NULL::numeric(10,3))', 'CASE WHEN a IS NULL THEN NULL::numeric(10,3) ELSE a END',
      'CASE a WHEN 0 THEN a ELSE a END', 'nullif(a::numeric(6,2), 0)', 'coalesce(a::numeric(6,2), 1)', 'CASE WHEN NULL THEN 0 ELSE a END', 'round(a, 1)',
      'coalesce(coalesce(a, NULL), a)', 'CASE WHEN a > 0 THEN coalesce(a, a) ELSE greatest(a) END', 'CASE WHEN 1 > 0 THEN a::numeric(6,2) ELSE 1 / 0 END',
    ]) {
      out.push({ expr: e, a, b: null, values: 'all' });
    }
    for (const e of ['coalesce(a, b)', 'CASE WHEN a > b THEN a ELSE b END', 'greatest(a, b)', 'least(b, a)']) {
      for (const b of ['numeric(10,3)', 'numeric(5,1)', 'numeric']) out.push({ expr: e, a, b, values: 'few' });
    }
  }
  for (const a of ['text', 'varchar', 'bpchar']) {
    out.push({ expr: "coalesce(a, 'none')", a, b: null, values: 'all' });
    out.push({ expr: 'a::text', a, b: null, values: 'all' });
    out.push({ expr: 'coalesce(a, NULL)', a, b: null, values: 'all' });
    for (const c of ["a || '!'", "'<' || a || '>'", 'a || NULL', 'a || a', "coalesce(a, '') || '.'", "CASE WHEN a IS NULL THEN 'none' ELSE a END"]) {
      out.push({ expr: c, a, b: null, values: 'all' });
    }
  }
  return out;
}

const lit = (v: string | null, type: string): string => (v === null ? `NULL::${type}` : `'${v}'::${type}`);

function failure(err: unknown): ExpressionError {
  const e = err as { code?: string; message: string; detail?: string };
  return e.detail === undefined ? { code: e.code ?? '', message: e.message } : { code: e.code ?? '', message: e.message, detail: e.detail };
}

async function generate(client: pg.Client): Promise<ExpressionFixtures> {
  const version = (await client.query<{ v: string }>(`SELECT current_setting('server_version') AS v`)).rows[0]!.v;
  const groups: ExpressionGroup[] = [];
  for (const t of templates()) {
    const types = t.b === null ? [t.a] : [t.a, t.b];
    const from = (vals: (string | null)[]): string => `(SELECT ${types.map((ty, i) => `${lit(vals[i]!, ty)} AS ${i === 0 ? 'a' : 'b'}`).join(', ')} OFFSET 0) s`;
    // The type (and any error PostgreSQL raises before it sees a row), from NULL operands.
    let typeOid: number | null = null;
    try {
      const r = await client.query<{ t: number }>(`SELECT pg_typeof(${t.expr})::oid::int AS t FROM ${from(types.map(() => null))}`);
      typeOid = r.rows[0]!.t;
    } catch (err) {
      // Rejected while planning even with NULL operands: a parse error, or a constant folded at plan time.
      groups.push({ expr: t.expr, types, parseError: failure(err), rows: [] });
      continue;
    }
    // The output name and the RowDescription's type modifier (after planning, as a query reports them).
    const described = await client.query(`SELECT ${t.expr} FROM ${from(types.map(() => null))} LIMIT 0`);
    const field = described.fields[0]!;
    const group: ExpressionGroup = { expr: t.expr, types, typeOid, name: field.name, typmod: field.dataTypeModifier, rows: [] };
    groups.push(group);
    const pick = t.values === 'all' ? (ty: string) => VALUES[ty]! : few;
    const combos: (string | null)[][] = types.length === 1 ? pick(types[0]!).map((v) => [v]) : pick(types[0]!).flatMap((x) => pick(types[1]!).map((y) => [x, y]));
    for (const values of combos) {
      try {
        // Every result as the server's own text (a cast to text would change char(n)).
        const r = await client.query<{ v: string | null }>({ text: `SELECT ${t.expr} AS v FROM ${from(values)}`, types: { getTypeParser: () => (v: string) => v } });
        group.rows.push([values, r.rows[0]!.v]);
      } catch (err) {
        group.rows.push([values, failure(err)]);
      }
    }
  }
  const names: [string, string][] = [];
  for (const target of NAME_TARGETS) {
    const r = await client.query(`SELECT ${target} FROM (SELECT 1 AS a, 2 AS b, ARRAY[1, 2] AS arr) s LIMIT 0`);
    names.push([target, r.fields[0]!.name]);
  }
  return { postgres: version, groups, names };
}

async function main(): Promise<void> {
  await withFixturePostgres(async (client) => {
    const fixtures = await generate(client);
    mkdirSync(dirname(EXPRESSION_FIXTURE_FILE), { recursive: true });
    writeFileSync(EXPRESSION_FIXTURE_FILE, JSON.stringify(fixtures, null, 0).replace(/\},\{"expr"/g, '},\n{"expr"') + '\n');
    const rows = fixtures.groups.reduce((n, g) => n + Math.max(1, g.rows.length), 0);
    console.error(`PostgreSQL ${fixtures.postgres}: ${fixtures.groups.length} expressions, ${rows} cases`);
  });
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  await main();
}
