// The shape of a MergeExpr (plan.ts) as a tree: the operands of each node, so that the passes over
// every node (the columns an expression reads, the parameters it uses) are written once and a new
// node kind is a compile error here only. Owns traversal; what a node means is expression.ts's.

import { assertNever } from './assert-never.js';
import type { MergeCondition, MergeExpr } from './plan.js';

/** The expressions a node reads directly (for CASE: every condition's operands, results and ELSE). */
export function operandsOf(e: MergeExpr): readonly MergeExpr[] {
  switch (e.kind) {
    case 'column':
    case 'const':
    case 'param':
      return [];
    case 'arith':
    case 'concat':
      return [e.left, e.right];
    case 'negate':
    case 'plus':
    case 'abs':
    case 'cast':
    case 'typmod':
    case 'round':
      return [e.arg];
    case 'nullif':
      return [e.arg, e.value];
    case 'coalesce':
    case 'minmax':
      return e.args;
    case 'case':
      return [...e.whens.flatMap((w) => [...conditionOperands(w.condition), w.result]), ...(e.otherwise === null ? [] : [e.otherwise])];
    default:
      return assertNever(e);
  }
}

function conditionOperands(c: MergeCondition): readonly MergeExpr[] {
  switch (c.kind) {
    case 'and':
    case 'or':
      return c.args.flatMap(conditionOperands);
    case 'not':
      return conditionOperands(c.arg);
    case 'compare':
    case 'distinct':
      return [c.left, c.right];
    case 'in-list':
      return [c.arg, ...c.items];
    case 'bool-test':
      return conditionOperands(c.arg);
    case 'is-null':
    case 'truth':
      return [c.arg];
    default:
      return assertNever(c);
  }
}

/** Visits `e` and every expression below it, parents first. */
export function forEachNode(e: MergeExpr, visit: (node: MergeExpr) => void): void {
  visit(e);
  for (const o of operandsOf(e)) forEachNode(o, visit);
}
