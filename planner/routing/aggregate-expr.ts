// Expressions over aggregates in a re-aggregated scatter read (`coalesce(sum(x), 0)`, `sum(a) / count(*)`,
// `round(avg(x), 2)`, `sum(x)::int`): which ones the proxy evaluates after merging, as a MergeExpr, and
// the placeholder the shards return in their place. The shards cannot compute such an expression
// themselves: rounding, dividing or casting each shard's partial aggregate is not doing it to the
// total. They return the plain partial aggregates instead (the caller's `leaf` turns them into
// result columns), plus `CASE WHEN false THEN <expression> END` under the expression's own output
// name: never evaluated (the planner drops the arm unprocessed), but type-checked, so each shard
// reports PostgreSQL's result type for it in RowDescription and rejects what PostgreSQL would reject.
// Owns: the supported subset and its translation, output names (FigureColname). Must not: decide
// which result columns exist (the caller's `leaf` does).

import type { CastTarget, ColumnRef, MergeExpr } from '../plan.js';
import { as, bodyOf, castType, columnRefFields, constOf, list, names, paramIndex, str, walk, type Body } from './ast.js';
import { isAggregateCall, scanExpr } from './sql-features.js';

/** Thrown for an expression the proxy cannot evaluate exactly; the message names the construct. */
export class ExprUnsupported extends Error {}

export const SUPPORTED_EXPRESSIONS =
  'pgshard computes + - * /, unary minus, casts to smallint, integer, bigint, numeric, real, double precision and text, ' +
  'coalesce, nullif(x, integer constant), round(x) and round(x, integer constant) over count, sum, min, max, avg, grouped columns and constants';

/** Cast targets by the name the parser gives the type (`::int` is pg_catalog.int4, `::real` float4...). */
const CASTS: ReadonlyMap<string, CastTarget> = new Map<string, CastTarget>([
  ['int2', 'int2'], ['int4', 'int4'], ['int8', 'int8'], ['numeric', 'numeric'], ['float4', 'float4'], ['float8', 'float8'], ['text', 'text'],
]);

const OPERATORS: ReadonlySet<string> = new Set(['+', '-', '*', '/']);

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
  if (c !== null) {
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
    }
  }
  if (paramIndex(node) !== null) throw new ExprUnsupported('a parameter in an expression over aggregates');
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
  throw new ExprUnsupported(`${describe(node)} in an expression over aggregates`);
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
  if (name !== 'round' || qualifiedElsewhere || bodyOf(fn['over']) !== null || fn['func_variadic'] === true || args.length < 1 || args.length > 2) {
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
  if (e['kind'] !== 'AEXPR_OP' || !OPERATORS.has(name)) {
    throw new ExprUnsupported(`operator ${name === '' ? (str(e['kind']) ?? '?') : name} in an expression over aggregates`);
  }
  if (e['lexpr'] === undefined || e['lexpr'] === null) {
    const arg = mergeExprOf(e['rexpr'], leaf);
    if (name === '-') return { kind: 'negate', arg };
    // Unary plus is the identity of every numeric type.
    if (name === '+') return arg;
    throw new ExprUnsupported(`prefix operator ${name} in an expression over aggregates`);
  }
  const left = mergeExprOf(e['lexpr'], leaf);
  const right = mergeExprOf(e['rexpr'], leaf);
  if (isUnknownConst(left) || isUnknownConst(right)) {
    throw new ExprUnsupported('a string constant in arithmetic over aggregates (write it as a number)');
  }
  return { kind: 'arith', op: name as '+' | '-' | '*' | '/', left, right };
}

function isUnknownConst(e: MergeExpr): boolean {
  return e.kind === 'const' && e.type === 'unknown' && e.text !== null;
}

function castExpr(cast: Body, leaf: (node: unknown) => ColumnRef | null): MergeExpr {
  const t = castType(cast);
  const typeName = bodyOf(cast['typeName']);
  const target = t === null ? undefined : CASTS.get(t.name);
  if (t === null || target === undefined || t.array) throw new ExprUnsupported(`a cast to ${t?.name ?? 'this type'} in an expression over aggregates`);
  if (list(typeName?.['typmods']).length > 0) {
    throw new ExprUnsupported(`a cast with a type modifier (${t.name}(...)) in an expression over aggregates (use round(x, n) for a number of decimals)`);
  }
  const arg = mergeExprOf(cast['arg'], leaf);
  if (isUnknownConst(arg) && target !== 'text') throw new ExprUnsupported(`a string constant cast to ${t.name} in an expression over aggregates (write it as a number)`);
  return { kind: 'cast', to: target, arg };
}

function describe(node: unknown): string {
  const fields = columnRefFields(node);
  if (fields !== null) return `"${fields.join('.')}"`;
  const fn = as(node, 'FuncCall');
  if (fn !== null) return `${(names(fn['funcname']).pop() ?? '').toLowerCase()}()`;
  const u = node !== null && typeof node === 'object' ? Object.keys(node)[0] : undefined;
  if (u === undefined) return 'this construct';
  const known: Record<string, string> = {
    CaseExpr: 'CASE',
    MinMaxExpr: 'greatest/least',
    SubLink: 'a sub-query',
    BoolExpr: 'a boolean condition',
    NullTest: 'a boolean condition',
    BooleanTest: 'a boolean condition',
  };
  return known[u] ?? `a ${u} node`;
}

/** `CASE WHEN false THEN <expr> END`: the shards type-check the expression without evaluating it. */
export function placeholder(expr: unknown): Body {
  return { CaseExpr: { args: [{ CaseWhen: { expr: { A_Const: { boolval: {} } }, result: expr } }] } };
}

/** PostgreSQL's output name for an unnamed target (FigureColname), and how strongly it was chosen. */
function figureColname(node: unknown): { name: string; strength: number } {
  const fields = columnRefFields(node);
  if (fields !== null && fields.length > 0) return { name: fields[fields.length - 1]!, strength: 2 };
  const fn = as(node, 'FuncCall');
  if (fn !== null) return { name: names(fn['funcname']).pop() ?? '?column?', strength: 2 };
  const e = as(node, 'A_Expr');
  if (e !== null && e['kind'] === 'AEXPR_NULLIF') return { name: 'nullif', strength: 2 };
  const cast = as(node, 'TypeCast');
  if (cast !== null) {
    const inner = figureColname(cast['arg']);
    if (inner.strength <= 1) {
      const t = names(bodyOf(cast['typeName'])?.['names']).pop();
      if (t !== undefined) return { name: t, strength: 1 };
    }
    return inner;
  }
  const collate = as(node, 'CollateClause');
  if (collate !== null) return figureColname(collate['arg']);
  if (as(node, 'CoalesceExpr') !== null) return { name: 'coalesce', strength: 2 };
  const minmax = as(node, 'MinMaxExpr');
  if (minmax !== null) return { name: minmax['op'] === 'IS_LEAST' ? 'least' : 'greatest', strength: 2 };
  if (as(node, 'CaseExpr') !== null) return { name: 'case', strength: 1 };
  return { name: '?column?', strength: 0 };
}

export function outputName(node: unknown): string {
  return figureColname(node).name;
}
