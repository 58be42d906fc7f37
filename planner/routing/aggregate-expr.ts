// Expressions over aggregates in a re-aggregated scatter read (`coalesce(sum(x), 0)`, `sum(a) / count(*)`,
// `round(avg(x), 2)`, `sum(x)::numeric(10, 2)`, `CASE WHEN count(*) > $1 THEN ... END`, `count(*)::text
// || ' rows'`): which ones the proxy evaluates after merging, as a MergeExpr, and
// the placeholder the shards return in their place. The shards cannot compute such an expression
// themselves: rounding, dividing or casting each shard's partial aggregate is not doing it to the
// total. They return the plain partial aggregates instead (the caller's `leaf` turns them into
// result columns), plus `CASE WHEN false THEN <expression> END` under the expression's own output
// name: never evaluated (the planner drops the arm unprocessed), but type-checked, so each shard
// reports PostgreSQL's result type for it in RowDescription and rejects what PostgreSQL would reject
// (the type modifier the client sees is the proxy's: the placeholder's is not the expression's).
// Owns: the supported subset and its translation. Must not: decide which result columns exist (the
// caller's `leaf` does) nor name them (sql-features.ts's figureColname).

import type { ArithOp, CaseWhen, CastTarget, ColumnRef, MergeCondition, MergeExpr } from '../plan.js';
import { assertNever } from '../assert-never.js';
import { as, bodyOf, castType, columnRefFields, constOf, list, names, operatorName, paramIndex, str, walk, type Body, type Const } from './ast.js';
import { betweenOf, booleanTestOf, connectiveOf, distinctOf, inListOf, testOf } from './conditions.js';
import { isAggregateCall, scanExpr } from './sql-features.js';

/** Thrown for an expression the proxy cannot evaluate exactly; the message names the construct. */
export class ExprUnsupported extends Error {}

export const SUPPORTED_EXPRESSIONS =
  'pgshard computes + - * / %, mod(), unary minus, abs(x), casts to smallint, integer, bigint, numeric, numeric(p, s), real, double precision and text, ' +
  '|| between text values, coalesce, greatest and least of numbers, nullif(x, integer constant), round(x) and round(x, integer constant), ' +
  'CASE over comparisons of numbers, [NOT] IN, [NOT] BETWEEN [SYMMETRIC] and IS [NOT] DISTINCT FROM over numbers, IS [NOT] NULL, ' +
  'IS [NOT] TRUE/FALSE/UNKNOWN, AND, OR and NOT, ' +
  'over count, sum, min, max, avg, grouped columns, constants and parameters used once in the statement';

/** Cast targets by the name the parser gives the type (`::int` is pg_catalog.int4, `::real` float4...). */
const CASTS: ReadonlyMap<string, CastTarget> = new Map<string, CastTarget>([
  ['int2', 'int2'], ['int4', 'int4'], ['int8', 'int8'], ['numeric', 'numeric'], ['float4', 'float4'], ['float8', 'float8'], ['text', 'text'],
]);

const OPERATORS: ReadonlySet<string> = new Set(['+', '-', '*', '/', '%']);

const INT4_MIN = -0x80000000n;
const INT4_MAX = 0x7fffffffn;
const INT8_MIN = -0x8000000000000000n;
const INT8_MAX = 0x7fffffffffffffffn;

/** Whether an expression contains an aggregate call (outside nested sub-selects). */
export function hasAggregate(node: unknown): boolean {
  const found = { aggregate: false, window: false };
  scanExpr(node, found);
  return found.aggregate;
}

/** The columns an expression reads, for messages: `"a", "t.b"`. */
function columnsOf(node: unknown): string {
  const found = new Set<string>();
  walk(node, (type, body) => {
    if (type === 'ColumnRef') found.add(`"${(columnRefFields({ ColumnRef: body }) ?? ['*']).join('.')}"`);
  });
  return [...found].join(', ');
}

function hasColumnRef(node: unknown): boolean {
  let found = false;
  walk(node, (type) => {
    if (type === 'ColumnRef') found = true;
  });
  return found;
}

/**
 * The MergeExpr of an expression over aggregates. `leaf` maps an aggregate call, or an expression
 * without aggregates that reads columns (a grouped expression), to a result column, or null when it
 * cannot (an ungrouped column). Throws ExprUnsupported for anything outside the supported subset.
 */
export function mergeExprOf(node: unknown, leaf: (node: unknown) => ColumnRef | null): MergeExpr {
  const c = constOf(node);
  if (c !== null) return constExpr(c);
  const p = paramIndex(node);
  if (p !== null) return { kind: 'param', index: p };
  const fn = as(node, 'FuncCall');
  if (fn !== null && isAggregateCall(fn)) return column(node, leaf, 'the aggregate');
  if (!hasAggregate(node)) {
    // Grouped expressions are computed by the shards, with PostgreSQL's own semantics.
    if (hasColumnRef(node)) return column(node, leaf, 'the expression');
  }
  if (fn !== null) return funcCall(fn, leaf);
  const coalesce = as(node, 'CoalesceExpr');
  if (coalesce !== null) {
    const args = list(coalesce['args']).map((a) => mergeExprOf(a, leaf));
    if (args.length === 0) throw new ExprUnsupported('coalesce without arguments');
    return { kind: 'coalesce', args };
  }
  const e = as(node, 'A_Expr');
  if (e !== null) return operatorExpr(e, leaf);
  const cast = as(node, 'TypeCast');
  if (cast !== null) return castExpr(cast, leaf);
  const caseExpr = as(node, 'CaseExpr');
  if (caseExpr !== null) return caseOf(caseExpr, leaf);
  const minmax = as(node, 'MinMaxExpr');
  if (minmax !== null) {
    const args = list(minmax['args']).map((a) => mergeExprOf(a, leaf));
    return { kind: 'minmax', op: minmax['op'] === 'IS_LEAST' ? 'least' : 'greatest', args };
  }
  throw new ExprUnsupported(`${describe(node)} in an expression over aggregates`);
}

function constExpr(c: Const): MergeExpr {
  switch (c.kind) {
    case 'null':
      return { kind: 'const', type: 'unknown', text: null };
    case 'int':
      return { kind: 'const', type: c.value >= INT4_MIN && c.value <= INT4_MAX ? 'int4' : c.value >= INT8_MIN && c.value <= INT8_MAX ? 'int8' : 'numeric', text: c.value.toString() };
    case 'numeric':
      return { kind: 'const', type: 'numeric', text: c.text };
    case 'string':
      return { kind: 'const', type: 'unknown', text: c.text };
    case 'bool':
    case 'bits':
      throw new ExprUnsupported(`a ${c.kind === 'bool' ? 'boolean' : 'bit string'} constant in an expression over aggregates`);
    default:
      return assertNever(c);
  }
}

function column(node: unknown, leaf: (node: unknown) => ColumnRef | null, what: string): MergeExpr {
  const col = leaf(node);
  if (col === null) throw new ExprUnsupported(`${what} ${describe(node)}, which is neither an aggregate nor grouped, in an expression over aggregates`);
  return { kind: 'column', column: col };
}

function funcCall(fn: Body, leaf: (node: unknown) => ColumnRef | null): MergeExpr {
  const n = names(fn['funcname']);
  const name = (n[n.length - 1] ?? '').toLowerCase();
  const qualifiedElsewhere = n.length > 1 && n[0] !== 'pg_catalog';
  const args = list(fn['args']);
  const plain = !qualifiedElsewhere && bodyOf(fn['over']) === null && fn['func_variadic'] !== true;
  if (plain && name === 'abs' && args.length === 1) return { kind: 'abs', arg: mergeExprOf(args[0], leaf) };
  // mod(a, b) is the function behind a % b, resolved over the same signatures (integers, numeric).
  if (plain && name === 'mod' && args.length === 2) return arithExpr('%', mergeExprOf(args[0], leaf), mergeExprOf(args[1], leaf), 'mod()');
  if (!plain || name !== 'round' || args.length < 1 || args.length > 2) {
    throw new ExprUnsupported(`function ${name}() in an expression over aggregates`);
  }
  const arg = mergeExprOf(args[0], leaf);
  if (args.length === 1) return { kind: 'round', arg, digits: null };
  const d = constOf(args[1]);
  if (d === null || d.kind !== 'int' || d.value < INT4_MIN || d.value > INT4_MAX) {
    throw new ExprUnsupported('round(x, n) with n other than an integer constant in an expression over aggregates');
  }
  return { kind: 'round', arg, digits: Number(d.value) };
}

function operatorExpr(e: Body, leaf: (node: unknown) => ColumnRef | null): MergeExpr {
  const op = names(e['name']);
  const name = op.length === 1 || (op.length === 2 && op[0] === 'pg_catalog') ? (op[op.length - 1] ?? '') : '';
  if (e['kind'] === 'AEXPR_NULLIF') {
    const value = constOf(e['rexpr']);
    if (value === null || value.kind !== 'int' || value.value < INT4_MIN || value.value > INT4_MAX) {
      throw new ExprUnsupported('nullif(x, y) with y other than an integer constant in an expression over aggregates');
    }
    return { kind: 'nullif', arg: mergeExprOf(e['lexpr'], leaf), value: { kind: 'const', type: 'int4', text: value.value.toString() } };
  }
  if (e['kind'] !== 'AEXPR_OP' || !(OPERATORS.has(name) || name === '||')) {
    throw new ExprUnsupported(`operator ${name === '' ? (str(e['kind']) ?? '?') : name} in an expression over aggregates`);
  }
  if (e['lexpr'] === undefined || e['lexpr'] === null) {
    const arg = mergeExprOf(e['rexpr'], leaf);
    if (name === '-') return { kind: 'negate', arg };
    if (name === '+') return { kind: 'plus', arg };
    throw new ExprUnsupported(`prefix operator ${name} in an expression over aggregates`);
  }
  const left = mergeExprOf(e['lexpr'], leaf);
  const right = mergeExprOf(e['rexpr'], leaf);
  if (name === '||') {
    if (certainlyNotText(e['lexpr'], left) || certainlyNotText(e['rexpr'], right)) {
      throw new ExprUnsupported('operator || with an operand that is not text in an expression over aggregates (cast it: sum(x)::text || \'...\')');
    }
    return { kind: 'concat', left, right };
  }
  return arithExpr(name as ArithOp, left, right, 'arithmetic');
}

function arithExpr(op: ArithOp, left: MergeExpr, right: MergeExpr, what: string): MergeExpr {
  if (isUnknownConst(left) || isUnknownConst(right)) {
    throw new ExprUnsupported(`a string constant in ${what} over aggregates (write it as a number)`);
  }
  return { kind: 'arith', op, left, right };
}

/** Aggregates whose result is never text. */
const NON_TEXT_AGGREGATES: ReadonlySet<string> = new Set(['count', 'sum', 'avg', 'bool_and', 'bool_or', 'every']);

/**
 * An operand of || that is surely not text (a number, a boolean). PostgreSQL would concatenate its
 * output text (anytextcat); pgshard asks for the cast instead. Operands whose type only the shards
 * know (min/max, grouped columns) are checked when they answer.
 */
function certainlyNotText(node: unknown, e: MergeExpr): boolean {
  switch (e.kind) {
    case 'arith':
    case 'negate':
    case 'plus':
    case 'abs':
    case 'typmod':
    case 'nullif':
    case 'round':
      return true;
    case 'const':
      return e.type !== 'unknown';
    case 'cast':
      return e.to !== 'text';
    case 'column': {
      const fn = as(node, 'FuncCall');
      return fn !== null && isAggregateCall(fn) && NON_TEXT_AGGREGATES.has((names(fn['funcname']).pop() ?? '').toLowerCase());
    }
    case 'param':
    case 'coalesce':
    case 'concat':
    case 'case':
    case 'minmax':
      return false;
    default:
      return assertNever(e);
  }
}

function isUnknownConst(e: MergeExpr): boolean {
  return e.kind === 'const' && e.type === 'unknown' && e.text !== null;
}

function castExpr(cast: Body, leaf: (node: unknown) => ColumnRef | null): MergeExpr {
  const t = castType(cast);
  const target = t === null ? undefined : CASTS.get(t.name);
  if (t === null || target === undefined || t.array) throw new ExprUnsupported(`a cast to ${t?.name ?? 'this type'} in an expression over aggregates`);
  const typmods = list(bodyOf(cast['typeName'])?.['typmods']);
  if (typmods.length > 0 && target !== 'numeric') {
    throw new ExprUnsupported(`a cast with a type modifier (${t.name}(...)) in an expression over aggregates`);
  }
  const arg = mergeExprOf(cast['arg'], leaf);
  if (isUnknownConst(arg) && target !== 'text') throw new ExprUnsupported(`a string constant cast to ${t.name} in an expression over aggregates (write it as a number)`);
  const converted: MergeExpr = { kind: 'cast', to: target, arg };
  return typmods.length > 0 ? numericTypmod(converted, typmods) : converted;
}

/**
 * `::numeric(p, s)` (or `numeric(p)`, scale 0): the cast to numeric, then the field's rounding and
 * overflow check. Precision and scale out of PostgreSQL's bounds are the shards' error to report.
 */
function numericTypmod(arg: MergeExpr, typmods: readonly unknown[]): MergeExpr {
  const values = typmods.map((m) => constOf(m));
  const [precision, scale = { kind: 'int', value: 0n }] = values;
  if (values.length > 2 || precision?.kind !== 'int' || scale?.kind !== 'int' || [precision, scale].some((v) => v.value < INT4_MIN || v.value > INT4_MAX)) {
    throw new ExprUnsupported('numeric(p, s) with p and s other than integer constants in an expression over aggregates');
  }
  return { kind: 'typmod', arg, precision: Number(precision.value), scale: Number(scale.value) };
}

/**
 * CASE: a simple `CASE x WHEN v THEN ...` becomes `WHEN x = v`, as PostgreSQL itself resolves each
 * arm's `=` between x and v. An untyped x ($n, 'text') PostgreSQL first makes text: not followed.
 */
function caseOf(c: Body, leaf: (node: unknown) => ColumnRef | null): MergeExpr {
  const subject = c['arg'] ?? null;
  if (subject !== null) {
    const k = constOf(subject)?.kind;
    if (paramIndex(subject) !== null || k === 'string' || k === 'null') throw new ExprUnsupported('CASE over a parameter or a string constant (CASE $1 WHEN ...) in an expression over aggregates');
  }
  const whens = list(c['args']).map((item): CaseWhen => {
    const w = as(item, 'CaseWhen');
    if (w === null) throw new ExprUnsupported('a CASE arm the proxy does not understand');
    const test = subject === null ? w['expr'] : { A_Expr: { kind: 'AEXPR_OP', name: [{ String: { sval: '=' } }], lexpr: subject, rexpr: w['expr'] } };
    return { condition: conditionOf(test, leaf), result: mergeExprOf(w['result'], leaf) };
  });
  const otherwise = c['defresult'];
  return { kind: 'case', whens, otherwise: otherwise === undefined || otherwise === null ? null : mergeExprOf(otherwise, leaf) };
}

/** A CASE condition (a WHEN clause). */
function conditionOf(node: unknown, leaf: (node: unknown) => ColumnRef | null): MergeCondition {
  // Without aggregates, over grouped columns: the shards compute it, as a boolean column, with
  // PostgreSQL's own semantics (text comparisons and their collations included).
  if (!hasAggregate(node) && hasColumnRef(node)) {
    const col = leaf(node);
    if (col === null) throw new ExprUnsupported(`a CASE condition on ${columnsOf(node)}, not grouped, in an expression over aggregates`);
    return { kind: 'truth', arg: { kind: 'column', column: col } };
  }
  const condition = (a: unknown): MergeCondition => conditionOf(a, leaf);
  const operand = (o: unknown): MergeExpr => mergeExprOf(o, leaf);
  const translated =
    connectiveOf<MergeCondition>(node, condition, (what) => new ExprUnsupported(what)) ??
    testOf(node, operand) ??
    inListOf(node, operand, hasColumnRef) ??
    betweenOf(node, operand) ??
    distinctOf(node, operand) ??
    booleanTestOf(node, condition);
  if (translated !== null) return translated;
  const e = as(node, 'A_Expr');
  if (e !== null) {
    const what = e['kind'] === 'AEXPR_OP' ? `operator ${operatorName(e) ?? '?'}` : (str(e['kind']) ?? '?').replace('AEXPR_', '');
    throw new ExprUnsupported(`${what} in a CASE condition over aggregates`);
  }
  const c = constOf(node);
  if (c !== null && c.kind === 'bool') return { kind: 'truth', arg: { kind: 'const', type: 'bool', text: String(c.value) } };
  // A boolean aggregate (bool_or(x)), a parameter, NULL: the value itself decides.
  return { kind: 'truth', arg: mergeExprOf(node, leaf) };
}

function describe(node: unknown): string {
  const fields = columnRefFields(node);
  if (fields !== null) return `"${fields.join('.')}"`;
  const fn = as(node, 'FuncCall');
  if (fn !== null) return `${(names(fn['funcname']).pop() ?? '').toLowerCase()}()`;
  const u = node !== null && typeof node === 'object' ? Object.keys(node)[0] : undefined;
  if (u === undefined) return 'this construct';
  const known: Record<string, string> = {
    SubLink: 'a sub-query',
    BoolExpr: 'a boolean condition',
    NullTest: 'a boolean condition',
    BooleanTest: 'a boolean condition',
  };
  return known[u] ?? `a ${u} node`;
}

/**
 * `CASE WHEN false THEN <expr> END`: the shards type-check the expression without evaluating it, and
 * report its type. Not its type modifier (numeric(10, 2)'s precision and scale: a CASE without ELSE
 * has none), which the proxy works out itself (proxy/executor/merge/expression.ts).
 */
export function placeholder(expr: unknown): Body {
  return { CaseExpr: { args: [{ CaseWhen: { expr: { A_Const: { boolval: {} } }, result: expr } }] } };
}
