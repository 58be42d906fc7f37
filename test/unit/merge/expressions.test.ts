// Expressions over merged aggregates (proxy/executor/merge/expression.ts) against what PostgreSQL 15
// itself answered (fixtures/pg15-expressions.json, from generate-expression-fixtures.ts): the result
// type and type modifier, the exact text, or the exact error (SQLSTATE, message and detail) for
// arithmetic, % and mod() between every pair of number types, abs, casts, numeric(p, s), round,
// coalesce, nullif, greatest, least, || and CASE (with IN, BETWEEN, IS DISTINCT FROM, IS TRUE...),
// at the edges of every type, over operands with and without a type modifier. The expressions go through the planner's own translation
// (aggregate-expr.ts), so both halves are checked together. Then binary results, constant folding,
// type checks against the placeholder, NULL handling, and bound parameters.
import t from 'tap';
import { initSqlParser, parseSql } from '../../../planner/sql-parser.js';
import { mergeExprOf } from '../../../planner/routing/aggregate-expr.js';
import type { BoundParams, MergeExpr } from '../../../planner/plan.js';
import { compileExpression } from '../../../proxy/executor/merge/expression.js';
import { valueType } from '../../../proxy/executor/merge/value-types.js';
import { ProxyError } from '../../../proxy/errors.js';
import { decimalFromBinary, formatDecimal } from '../../../proxy/executor/merge/decimal.js';
import { loadExpressionFixtures } from './pg-fixtures.js';
import { OID } from './frames.js';

await initSqlParser();
const fixtures = loadExpressionFixtures();

const OID_BY_NAME: Record<string, number> = { ...OID, numeric: OID.numeric, text: OID.text, varchar: OID.varchar, bpchar: OID.bpchar };

/** An operand type as the fixtures name it: `numeric(10,3)` is numeric with its type modifier. */
function operandType(name: string): { oid: number; typmod: number } {
  const m = /^numeric\((\d+),(-?\d+)\)$/.exec(name);
  if (m === null) return { oid: OID_BY_NAME[name]!, typmod: -1 };
  return { oid: OID.numeric, typmod: ((Number(m[1]) << 16) | (Number(m[2]) & 0x7ff)) + 4 };
}

/**
 * The planner's MergeExpr of an expression over operands a (column 0) and b (column 1), written as
 * the aggregates max(a) and max(b) so that the planner sees an expression over aggregates.
 */
function exprOf(sql: string): MergeExpr {
  const parsed = parseSql(`SELECT ${sql.replace(/\b([ab])\b/g, 'max($1)')}`);
  if (!parsed.ok) throw new Error(`does not parse: ${sql}`);
  const select = parsed.statements[0]!.node['SelectStmt'] as { targetList: { ResTarget: { val: unknown } }[] };
  return mergeExprOf(select.targetList[0]!.ResTarget.val, (node) => {
    const call = (node as { FuncCall?: { args: { ColumnRef?: { fields: { String: { sval: string } }[] } }[] } }).FuncCall;
    const name = call?.args[0]?.ColumnRef?.fields[0]?.String.sval;
    return name === 'a' ? { hidden: false, index: 0 } : name === 'b' ? { hidden: false, index: 1 } : null;
  });
}

function compiled(expr: MergeExpr, types: readonly string[], resultOid: number, format: 0 | 1 = 0, extraFloatDigits = 1, params: BoundParams | null = null) {
  const operands = types.map(operandType);
  const vts = operands.map((o) => valueType(o.oid, 0, 'bytes'));
  const typmods = operands.map((o) => o.typmod);
  return compileExpression(expr, { types: vts, typmods, visible: vts.length, result: valueType(resultOid, format, 'bytes'), extraFloatDigits, params });
}

function compile(expr: MergeExpr, types: readonly string[], resultOid: number, format: 0 | 1 = 0, extraFloatDigits = 1, params: BoundParams | null = null) {
  return compiled(expr, types, resultOid, format, extraFloatDigits, params).evaluate;
}

function errorOf(fn: () => unknown): { code: string; message: string; detail?: string } | null {
  try {
    fn();
    return null;
  } catch (err) {
    if (err instanceof ProxyError) return err.fields.detail === undefined ? { code: err.sqlstate, message: err.message } : { code: err.sqlstate, message: err.message, detail: err.fields.detail };
    throw err;
  }
}

/** An error as the test reports it. */
const shown = (e: { code: string; message: string; detail?: string }): string => `${e.code} ${e.message}${e.detail === undefined ? '' : ` (${e.detail})`}`;

void t.test(`every expression case PostgreSQL ${fixtures.postgres} answered`, async (t) => {
  let checked = 0;
  let typmods = 0;
  const failures: string[] = [];
  for (const g of fixtures.groups) {
    const label = (values: readonly (string | null)[]) => `${g.expr} [${g.types.join(', ')}] (${values.map((v) => (v === null ? 'NULL' : v)).join(', ')})`;
    const expr = exprOf(g.expr);
    if (g.parseError !== undefined) {
      // PostgreSQL refused it before any row: a constant it folded must fail the same way here;
      // anything else the shards report themselves, and the proxy must refuse to compute it too.
      const got = errorOf(() => compile(expr, g.types, OID.text));
      if (got === null) failures.push(`${label([])}: computed, PostgreSQL refused it (${g.parseError.message})`);
      else if (g.parseError.code.startsWith('22') && shown(got) !== shown(g.parseError)) {
        failures.push(`${label([])}: ${shown(got)}, PostgreSQL ${shown(g.parseError)}`);
      }
      checked++;
      continue;
    }
    let run: ((read: (column: number) => Buffer | null) => Buffer | null) | null = null;
    let typmod: number | null = null;
    const compileError = errorOf(() => {
      const c = compiled(expr, g.types, g.typeOid!);
      run = c.evaluate;
      typmod = c.typmod;
    });
    if (compileError !== null || run === null) {
      failures.push(`${label([])}: does not compile (${compileError?.message ?? '?'}), PostgreSQL types it ${g.typeOid}`);
      continue;
    }
    if (g.typmod !== undefined) {
      if (typmod !== g.typmod) failures.push(`${label([])}: type modifier ${String(typmod)}, PostgreSQL ${g.typmod}`);
      typmods++;
    }
    for (const [values, outcome] of g.rows) {
      const fields = values.map((v) => (v === null ? null : Buffer.from(v, 'utf8')));
      let got: string | null = null;
      const error = errorOf(() => {
        const out = run!((column) => fields[column] ?? null);
        got = out === null ? null : out.toString('utf8');
      });
      if (outcome !== null && typeof outcome === 'object') {
        if (error === null) failures.push(`${label(values)}: gave ${String(got)}, PostgreSQL failed with ${shown(outcome)}`);
        else if (shown(error) !== shown(outcome)) failures.push(`${label(values)}: ${shown(error)}, PostgreSQL ${shown(outcome)}`);
      } else if (error !== null) failures.push(`${label(values)}: failed with ${shown(error)}, PostgreSQL gave ${String(outcome)}`);
      else if (got !== outcome) failures.push(`${label(values)}: ${String(got)}, PostgreSQL ${String(outcome)}`);
      checked++;
    }
  }
  t.same(failures, [], `${checked} cases as PostgreSQL answered them`);
  t.ok(checked > 25000, `${checked} cases checked`);
  t.ok(typmods > 1300, `${typmods} type modifiers checked`);
});

void t.test('results in binary format', async (t) => {
  const run = (sql: string, types: string[], resultOid: number, values: (string | null)[]) => {
    const fields = values.map((v) => (v === null ? null : Buffer.from(v, 'utf8')));
    return compile(exprOf(sql), types, resultOid, 1)((c) => fields[c] ?? null);
  };
  t.equal(run('a / b', ['int8', 'int8'], OID.int8, ['7', '2'])!.readBigInt64BE(0), 3n, 'int8');
  t.equal(run('a::int4', ['numeric'], OID.int4, ['-2.5'])!.readInt32BE(0), -3, 'int4: half away from zero');
  t.equal(run('a::int2', ['float8'], OID.int2, ['2.5'])!.readInt16BE(0), 2, 'int2: rint, ties to even');
  const rounded = run('round(a, 2)', ['numeric'], OID.numeric, ['1.005'])!;
  t.equal(formatDecimal(decimalFromBinary(rounded, 0, rounded.length)!), '1.01', 'numeric_send of round(1.005, 2)');
  t.equal(run('a * 2', ['float8'], OID.float8, ['0.1'])!.readDoubleBE(0), 0.2, 'float8');
  t.equal(run('a::float4', ['int8'], OID.float4, ['16777217'])!.readFloatBE(0), 16777216, 'float4: int8 rounded once, ties to even');
  t.equal(run('coalesce(a, 0)', ['int8'], OID.int8, [null])!.readBigInt64BE(0), 0n, 'coalesce of NULL');
  t.equal(run('a::text', ['int4'], OID.text, ['42'])!.toString(), '42', 'text is UTF-8 in both formats');
  t.equal(run('a + 1', ['int4'], OID.int4, [null]), null, 'NULL stays NULL');
});

void t.test('the result type must be the one PostgreSQL reported for the placeholder', async (t) => {
  const err = errorOf(() => compile(exprOf('a / b'), ['int8', 'int8'], OID.numeric));
  t.match(err, { code: '0A000', message: /pgshard would compute int8 where PostgreSQL reports numeric/ });
  t.equal(errorOf(() => compile(exprOf('a / b'), ['int8', 'numeric'], OID.numeric)), null, 'int8 / numeric is numeric');
  t.match(errorOf(() => compile(exprOf('coalesce(a, b)'), ['text', 'int4'], OID.text)), { code: '0A000', message: /coalesce over text and int4/ });
  t.match(errorOf(() => compile(exprOf('a + 1'), ['date'], OID.date)), { code: '0A000', message: /operand of type date/ });
});

void t.test('extra_float_digits decides how floats cast to text print', async (t) => {
  const run = (efd: number) => compile(exprOf('(a / 3)::text'), ['float8'], OID.text, 0, efd)((c) => (c === 0 ? Buffer.from('1') : null))!.toString();
  t.equal(run(1), '0.3333333333333333', 'shortest exact');
  t.equal(run(0), '0.333333333333333', '%.15g');
  t.equal(run(-3), '0.333333333333', '%.12g');
});

void t.test('constant subexpressions are computed when the query starts, as PostgreSQL folds them', async (t) => {
  t.match(errorOf(() => compile(exprOf('a * (1 / 0)'), ['int8'], OID.int8)), { code: '22012', message: 'division by zero' });
  t.match(errorOf(() => compile(exprOf('a + (2147483647 + 1)'), ['int8'], OID.int8)), { code: '22003', message: 'integer out of range' });
  // The planner folds COALESCE arguments up to the first non-NULL constant, and drops the rest.
  t.match(errorOf(() => compile(exprOf('coalesce(a, 1 / 0)'), ['int8'], OID.int8)), { code: '22012' });
  t.match(errorOf(() => compile(exprOf('coalesce(a, NULL, 1 / 0)'), ['int8'], OID.int8)), { code: '22012' });
  t.equal(errorOf(() => compile(exprOf('coalesce(a, 5, 1 / 0)'), ['int8'], OID.int8)), null, 'never reached, never folded');
  // COALESCE stops at its first non-NULL argument: a later one is never evaluated.
  const run = compile(exprOf('coalesce(a, b / 0)'), ['int8', 'int8'], OID.int8);
  t.equal(run((c) => (c === 0 ? Buffer.from('5') : Buffer.from('1')))!.toString(), '5');
  t.match(errorOf(() => run((c) => (c === 0 ? null : Buffer.from('1')))), { code: '22012' });
});

/** Bind's parameters: text values unless a Buffer (sent in binary), with the declared type OIDs (0: none). */
function bound(values: readonly (string | Buffer | null)[], types: readonly number[] = []): BoundParams {
  return {
    values: values.map((v) => (v === null ? null : typeof v === 'string' ? Buffer.from(v, 'utf8') : v)),
    formats: values.map((v) => (Buffer.isBuffer(v) ? 1 : 0)),
    types: values.map((_, i) => types[i] ?? 0),
  };
}

/** Computes `sql` over operand values (text) with bound parameters; the result as text. */
function withParams(sql: string, types: string[], resultOid: number, values: (string | null)[], params: BoundParams): string | null {
  const fields = values.map((v) => (v === null ? null : Buffer.from(v, 'utf8')));
  const out = compile(exprOf(sql), types, resultOid, 0, 1, params)((c) => fields[c] ?? null);
  return out === null ? null : out.toString('utf8');
}

void t.test('bound parameters take their declared type, or the one PostgreSQL infers from the context', async (t) => {
  // Expected values and types as PostgreSQL 15 answered the same prepared statement (parameter
  // types {bigint,numeric,text,bigint,text,bigint,numeric,boolean,bigint,double precision}).
  t.equal(withParams('a + $1', ['int8'], OID.int8, ['3'], bound(['5'])), '8', '$1 + bigint: $1 is bigint');
  t.equal(withParams('coalesce(b, $1)', ['int8', 'numeric'], OID.numeric, ['3', null], bound([' 2.50 '])), '2.50', 'numeric_in trims, keeps the scale');
  t.equal(withParams('a::text || $1', ['int8'], OID.text, ['3'], bound([' units'])), '3 units', '|| types $1 text');
  t.equal(withParams('CASE WHEN a > $1 THEN $2 END', ['int8'], OID.text, ['3'], bound(['2', 'big'])), 'big', 'a comparison types $1 as the other side; a lone CASE arm is text');
  t.equal(withParams('a * $1', ['int8'], OID.int8, ['3'], bound([null])), null, 'a NULL parameter');
  t.equal(withParams('a + $1::numeric(5,2)', ['int8'], OID.numeric, ['3'], bound(['1.005'])), '4.01', 'a cast types $1 directly');
  t.equal(withParams('CASE WHEN $1 THEN a END', ['int8'], OID.int8, ['3'], bound(['yes'])), '3', 'a condition types $1 boolean (boolin)');
  t.equal(withParams('a % $1', ['int8'], OID.int8, ['3'], bound(['2'])), '1');
  t.equal(withParams('abs($1)', ['int8'], OID.float8, ['3'], bound(['-2.5'])), '2.5', 'abs(unknown) is abs(double precision)');
  t.equal(withParams('round($1)', ['int8'], OID.float8, ['3'], bound(['2.5'])), '2', 'round(unknown) is round(double precision), rint');
  // PostgreSQL parses x BETWEEN a AND b as x >= a AND x <= b with x copied: an untyped $1 keeps the
  // type its first comparison gave it (bigint, from $1 >= a), so 3000000000 is no integer overflow.
  t.equal(withParams("CASE WHEN $1 BETWEEN a AND 5 THEN 'in' ELSE 'out' END", ['int8'], OID.text, ['3'], bound(['3000000000'])), 'out', '$1 BETWEEN bigint AND 5: $1 is bigint in both');
  t.equal(withParams("CASE WHEN $1 BETWEEN a AND 5 THEN 'in' ELSE 'out' END", ['int8'], OID.text, ['3'], bound(['4'])), 'in');
  t.equal(withParams("CASE WHEN $1 IN (a, a + 1) THEN 'in' ELSE 'out' END", ['int8'], OID.text, ['3'], bound(['4'])), 'in', 'IN items with columns: $1 = a OR $1 = a + 1');
  // Declared in Parse: the operator is resolved with that type (PostgreSQL: bigint, then numeric).
  t.equal(withParams('a + $1', ['int8'], OID.int8, ['3'], bound(['5'], [OID.int4])), '8', 'bigint + integer is bigint');
  t.equal(withParams('a + $1', ['int8'], OID.numeric, ['3'], bound(['0.5'], [OID.numeric])), '3.5', 'bigint + numeric is numeric');
  t.equal(withParams('a + $1', ['int8'], OID.int8, ['3'], bound(['5'], [705])), '8', 'declared unknown: typed by the context, as undeclared');
  t.match(errorOf(() => withParams('a + $1', ['int8'], OID.int8, ['3'], bound(['0.5'], [OID.numeric]))), { code: '0A000', message: /would compute numeric where PostgreSQL reports int8/ });
  // Binary: read as the parameter's type (declared, or inferred as the server infers it).
  const int8 = Buffer.alloc(8);
  int8.writeBigInt64BE(-7n);
  t.equal(withParams('a + $1', ['int8'], OID.int8, ['3'], bound([int8])), '-4', 'binary bigint, type inferred');
  const int4 = Buffer.alloc(4);
  int4.writeInt32BE(40);
  t.equal(withParams('a + $1', ['int8'], OID.int8, ['3'], bound([int4], [OID.int4])), '43', 'binary integer, declared');
});

void t.test('parameters PostgreSQL cannot type are refused, never guessed', async (t) => {
  t.match(errorOf(() => withParams('a + ($1 + $2)', ['int8'], OID.int8, ['3'], bound(['1', '2']))), { code: '0A000', message: /unknown \+ unknown/ });
  t.match(errorOf(() => withParams('a + -$1', ['int8'], OID.int8, ['3'], bound(['1']))), { code: '0A000', message: /-unknown/ });
  t.match(errorOf(() => withParams('a + $1', ['int8'], OID.int8, ['3'], bound(['2020-01-01'], [OID.date]))), { code: '0A000', message: /a parameter of type date/ });
});

void t.test('an untyped literal takes the type of its context (it was XX000 in coalesce)', async (t) => {
  const run = compile(exprOf("coalesce(a, '5')"), ['int8'], OID.int8);
  t.equal(run(() => null)!.toString(), '5', "coalesce(NULL::bigint, '5') is 5");
  t.equal(compile(exprOf("CASE WHEN a > 0 THEN a ELSE '2.5' END"), ['numeric'], OID.numeric)(() => Buffer.from('-1'))!.toString(), '2.5');
});

void t.test('CASE conditions: boolean columns, and what cannot be compared exactly', async (t) => {
  // bool_or(x) or a grouped condition the shards computed: the column itself decides; NULL is not true.
  const run = compile(exprOf('CASE WHEN a THEN 1 ELSE 0 END'), ['bool'], OID.int4);
  t.same(['t', 'f', null].map((v) => run(() => (v === null ? null : Buffer.from(v)))!.toString()), ['1', '0', '0']);
  t.match(errorOf(() => compile(exprOf("CASE WHEN a = 'x' THEN 1 END"), ['text'], OID.int4)), { code: '0A000', message: /text = text \(pgshard compares numbers\)/ }, 'text order depends on a collation the merge does not know');
  t.match(errorOf(() => compile(exprOf('CASE WHEN a THEN 1 END'), ['int8'], OID.int4)), { code: '0A000', message: /int8 as a condition/ });
  t.match(errorOf(() => compile(exprOf('CASE WHEN a > 0 THEN a ELSE b END'), ['int8', 'text'], OID.int8)), { code: '0A000', message: /CASE over int8 and text/ });
  t.match(errorOf(() => compile(exprOf('CASE WHEN b > 0 THEN a END'), ['bool', 'int8'], OID.bool)), { code: '0A000', message: /CASE over bool/ }, 'boolean results are not computed');
  t.match(errorOf(() => compile(exprOf("a || 'x'"), ['int4'], OID.text)), { code: '0A000', message: /int4 \|\| text/ }, 'a number concatenated without a cast');
});

void t.test('NULL operands: a constant NULL makes a strict operation NULL without evaluating the rest', async (t) => {
  // PostgreSQL: the planner replaces `x / 0 + NULL` by NULL; at run time every operand is evaluated.
  t.equal(compile(exprOf('a / 0 + NULL'), ['int8'], OID.int8)(() => Buffer.from('7')), null);
  t.match(errorOf(() => compile(exprOf('b + a / 0'), ['int8', 'int8'], OID.int8)((c) => (c === 0 ? Buffer.from('7') : null))), { code: '22012' }, 'a NULL at run time does not spare the other operand');
});
