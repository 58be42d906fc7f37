// Conditions as the planner translates them for the proxy to evaluate: AND/OR/NOT, comparisons and
// IS [NOT] NULL, whose operands each caller translates its own way: HAVING (having.ts, operands
// are result columns, literals and parameters) and CASE conditions in expressions over aggregates
// (aggregate-expr.ts, operands are expressions), which also take [NOT] IN, [NOT] BETWEEN
// [SYMMETRIC], IS [NOT] DISTINCT FROM and IS [NOT] TRUE/FALSE/UNKNOWN, in the shape PostgreSQL's
// parser gives them (transformAExprIn, transformAExprBetween, transformAExprDistinct,
// transformBooleanTest). Owns the shape; the operands and what else a caller accepts are the caller's.

import type { BooleanTest, BooleanTestKind, CompareOp, Comparison, Distinct, InList, Logic, NullTest } from '../plan.js';
import { as, list, operatorName, str } from './ast.js';

const COMPARE_OPS: ReadonlyMap<string, CompareOp> = new Map<string, CompareOp>([
  ['=', '='], ['<>', '<>'], ['!=', '<>'], ['<', '<'], ['<=', '<='], ['>', '>'], ['>=', '>='],
]);

/**
 * AND/OR/NOT with each argument translated by `condition`; null when `node` is not one.
 * `malformed` makes the caller's error for a BoolExpr the parser never produces.
 */
export function connectiveOf<Leaf>(node: unknown, condition: (node: unknown) => Logic<Leaf>, malformed: (what: string) => Error): Logic<Leaf> | null {
  const b = as(node, 'BoolExpr');
  if (b === null) return null;
  const args = list(b['args']).map(condition);
  switch (b['boolop']) {
    case 'AND_EXPR':
      return { kind: 'and', args };
    case 'OR_EXPR':
      return { kind: 'or', args };
    case 'NOT_EXPR': {
      const arg = args[0];
      if (arg === undefined) throw malformed('NOT without an argument');
      return { kind: 'not', arg };
    }
    default:
      throw malformed('unknown boolean operator');
  }
}

/** `a op b` for op one of = <> != < <= > >=, or `a IS [NOT] NULL`, operands translated left to right; null for anything else. */
export function testOf<O>(node: unknown, operand: (node: unknown) => O): Comparison<O> | NullTest<O> | null {
  const e = as(node, 'A_Expr');
  if (e !== null && e['kind'] === 'AEXPR_OP' && e['lexpr'] !== undefined && e['lexpr'] !== null) {
    const op = COMPARE_OPS.get(operatorName(e) ?? '');
    if (op !== undefined) return { kind: 'compare', op, left: operand(e['lexpr']), right: operand(e['rexpr']) };
  }
  const nt = as(node, 'NullTest');
  if (nt !== null) return { kind: 'is-null', negated: str(nt['nulltesttype']) === 'IS_NOT_NULL', arg: operand(nt['arg']) };
  return null;
}

/**
 * `x [NOT] BETWEEN [SYMMETRIC] a AND b` as the comparisons PostgreSQL's parser rewrites it to:
 * `x >= a AND x <= b`, NOT BETWEEN `x < a OR x > b`, SYMMETRIC the same OR-ed (AND-ed) with a and b
 * swapped. The parser copies the operands: each is translated wherever it appears. Null for
 * anything else.
 */
export function betweenOf<O>(node: unknown, operand: (node: unknown) => O): Logic<Comparison<O>> | null {
  const e = as(node, 'A_Expr');
  const kind = str(e?.['kind']) ?? '';
  if (e === null || !kind.includes('BETWEEN')) return null;
  const [low, high] = list(as(e['rexpr'], 'List')?.['items']);
  const x = e['lexpr'];
  const negated = kind.startsWith('AEXPR_NOT_');
  const compare = (op: CompareOp, left: unknown, right: unknown): Comparison<O> => ({ kind: 'compare', op, left: operand(left), right: operand(right) });
  // BETWEEN: x >= a AND x <= b; NOT BETWEEN: x < a OR x > b.
  const range = (a: unknown, b: unknown): Logic<Comparison<O>> =>
    negated ? { kind: 'or', args: [compare('<', x, a), compare('>', x, b)] } : { kind: 'and', args: [compare('>=', x, a), compare('<=', x, b)] };
  if (!kind.endsWith('_SYM')) return range(low, high);
  const both = [range(low, high), range(high, low)];
  return negated ? { kind: 'and', args: both } : { kind: 'or', args: both };
}

/**
 * `x [NOT] IN (v1, v2, ...)` as PostgreSQL's parser builds it: the items without columns
 * (`hasColumns` false), when there are two or more, as one InList (x = ANY (ARRAY[...]) in their
 * common type); every other item as a comparison `x = v` (NOT IN: `x <> v`), OR-ed (AND-ed) after
 * it, in list order. Null for anything else.
 */
export function inListOf<O>(node: unknown, operand: (node: unknown) => O, hasColumns: (node: unknown) => boolean): Logic<Comparison<O> | InList<O>> | null {
  const e = as(node, 'A_Expr');
  if (e === null || e['kind'] !== 'AEXPR_IN') return null;
  const negated = operatorName(e) === '<>';
  const items = list(as(e['rexpr'], 'List')?.['items']);
  const constant = items.filter((i) => !hasColumns(i));
  const parts: (Comparison<O> | InList<O>)[] = [];
  let compared = items;
  if (constant.length > 1) {
    parts.push({ kind: 'in-list', negated, arg: operand(e['lexpr']), items: constant.map(operand) });
    compared = items.filter(hasColumns);
  }
  for (const item of compared) parts.push({ kind: 'compare', op: negated ? '<>' : '=', left: operand(e['lexpr']), right: operand(item) });
  const [only] = parts;
  if (parts.length === 1 && only !== undefined) return only;
  return { kind: negated ? 'and' : 'or', args: parts };
}

/** `x IS DISTINCT FROM y`, and `x IS NOT DISTINCT FROM y` as its NOT (as PostgreSQL parses it); null for anything else. */
export function distinctOf<O>(node: unknown, operand: (node: unknown) => O): Logic<Distinct<O>> | null {
  const e = as(node, 'A_Expr');
  if (e === null || (e['kind'] !== 'AEXPR_DISTINCT' && e['kind'] !== 'AEXPR_NOT_DISTINCT')) return null;
  const distinct: Distinct<O> = { kind: 'distinct', left: operand(e['lexpr']), right: operand(e['rexpr']) };
  return e['kind'] === 'AEXPR_DISTINCT' ? distinct : { kind: 'not', arg: distinct };
}

const BOOLEAN_TESTS: ReadonlyMap<string, BooleanTestKind> = new Map<string, BooleanTestKind>([
  ['IS_TRUE', 'true'], ['IS_NOT_TRUE', 'not-true'], ['IS_FALSE', 'false'], ['IS_NOT_FALSE', 'not-false'], ['IS_UNKNOWN', 'unknown'], ['IS_NOT_UNKNOWN', 'not-unknown'],
]);

/** `c IS [NOT] TRUE / FALSE / UNKNOWN` with the condition translated by `condition`; null for anything else. */
export function booleanTestOf<C>(node: unknown, condition: (node: unknown) => C): BooleanTest<C> | null {
  const b = as(node, 'BooleanTest');
  const test = BOOLEAN_TESTS.get(str(b?.['booltesttype']) ?? '');
  if (b === null || test === undefined) return null;
  return { kind: 'bool-test', test, arg: condition(b['arg']) };
}
