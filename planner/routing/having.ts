// HAVING of a re-aggregated scatter read, as a Predicate the proxy evaluates on merged groups.
// Operands are result columns (aggregates and group expressions, resolved by the caller, which may
// append hidden columns), literals and parameters; connectives AND/OR/NOT, comparisons and IS [NOT]
// NULL. Anything else cannot be evaluated by the proxy: the caller reports it unsupported.
// Owns: the translation. Must not: decide which columns exist.

import type { ColumnRef, Operand, Predicate } from '../plan.js';
import { as, constOf, constText, operatorName, paramIndex } from './ast.js';
import { connectiveOf, testOf } from './conditions.js';

export class HavingError extends Error {}

/** `column` maps a non-constant expression to a result column, or null when it cannot. */
export function havingPredicate(expr: unknown, column: (expr: unknown) => ColumnRef | null): Predicate {
  const connective = connectiveOf(expr, (a) => havingPredicate(a, column), (what) => new HavingError(what));
  if (connective !== null) return connective;
  const test = testOf(expr, (o) => operand(o, column));
  if (test !== null) return test;
  const e = as(expr, 'A_Expr');
  if (e !== null && e['kind'] === 'AEXPR_OP') throw new HavingError(`operator ${operatorName(e) ?? '?'} in HAVING`);
  const c = constOf(expr);
  if (c !== null && c.kind === 'bool') {
    const t: Operand = { kind: 'literal', text: '1' };
    return { kind: 'compare', op: c.value ? '=' : '<>', left: t, right: t };
  }
  throw new HavingError('a HAVING condition the proxy cannot evaluate');
}

function operand(expr: unknown, column: (expr: unknown) => ColumnRef | null): Operand {
  let inner = expr;
  const tc = as(expr, 'TypeCast');
  if (tc !== null && (constOf(tc['arg']) !== null || paramIndex(tc['arg']) !== null)) inner = tc['arg'];
  const c = constOf(inner);
  if (c !== null) return { kind: 'literal', text: constText(c) };
  const p = paramIndex(inner);
  if (p !== null) return { kind: 'param', index: p };
  const col = column(expr);
  if (col === null) throw new HavingError('a HAVING operand that is neither an aggregate of the query, a grouped expression, a constant nor a parameter');
  return { kind: 'column', column: col };
}
