// Regenerates test/unit/merge/fixtures/pg15-expressions.json from a real PostgreSQL 15 (run once; the
// fixture is committed): node --import tsx test/unit/merge/generate-expression-fixtures.ts
// It starts a throwaway one-node cluster, or uses the server named by PGSHARD_FIXTURE_HOST (a socket
// directory or host) and PGSHARD_FIXTURE_PORT, as superuser postgres.
//
// What PostgreSQL itself answered for the expressions the proxy computes over merged aggregates
// (arithmetic and % between every pair of number types, unary minus, abs, casts, numeric(p, s),
// round, coalesce, nullif, ||, CASE with comparisons, IS NULL, AND/OR/NOT, and a few combinations),
// with operands `a` and `b` of given types and values, edge values included: the result's type OID
// and text, or the error's SQLSTATE, message and detail. Expressions PostgreSQL rejects when it
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
};
const NUMBER_TYPES = ['int2', 'int4', 'int8', 'numeric', 'float4', 'float8'];

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
    const group: ExpressionGroup = { expr: t.expr, types, typeOid, rows: [] };
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
  return { postgres: version, groups };
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
