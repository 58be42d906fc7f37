// Conditions as the planner translates them for the proxy to evaluate: AND/OR/NOT, comparisons and
// IS [NOT] NULL, whose operands each caller translates its own way: HAVING (having.ts, operands
// are result columns, literals and parameters) and CASE conditions in expressions over aggregates
// (aggregate-expr.ts, operands are expressions). Owns the shape; the operands and what else a caller
// accepts are the caller's.

import type { CompareOp, Comparison, Logic, NullTest } from '../plan.js';
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
