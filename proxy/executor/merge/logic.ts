// SQL's three-valued logic, shared by the two places the proxy evaluates conditions: HAVING on merged
// groups (having.ts) and CASE conditions in expressions over aggregates (expression.ts, also for its
// IN lists). A condition is a function of a row (whatever a row is to its caller) giving true, false
// or null for unknown.
// AND and OR evaluate their arguments left to right and stop at the first one that decides, as
// PostgreSQL's executor does, so a later argument that would fail is never evaluated.

import { assertNever } from '../../../planner/assert-never.js';
import type { BooleanTestKind, CompareOp } from '../../../planner/plan.js';

/** Three-valued truth: true, false, or null for unknown. */
export type Truth = boolean | null;

export type Test<Row> = (row: Row) => Truth;

/** AND: false as soon as one argument is false; otherwise unknown if one is unknown. */
export function allOf<Row>(args: readonly Test<Row>[]): Test<Row> {
  return (row) => {
    let result: Truth = true;
    for (const a of args) {
      const v = a(row);
      if (v === false) return false;
      if (v === null) result = null;
    }
    return result;
  };
}

/** OR: true as soon as one argument is true; otherwise unknown if one is unknown. */
export function anyOf<Row>(args: readonly Test<Row>[]): Test<Row> {
  return (row) => {
    let result: Truth = false;
    for (const a of args) {
      const v = a(row);
      if (v === true) return true;
      if (v === null) result = null;
    }
    return result;
  };
}

/** NOT: unknown stays unknown. */
export function negation<Row>(arg: Test<Row>): Test<Row> {
  return (row) => {
    const v = arg(row);
    return v === null ? null : !v;
  };
}

/** Whether `op` holds for a comparison result c (negative, zero or positive). */
export function holds(op: CompareOp, c: number): boolean {
  switch (op) {
    case '=':
      return c === 0;
    case '<>':
      return c !== 0;
    case '<':
      return c < 0;
    case '<=':
      return c <= 0;
    case '>':
      return c > 0;
    case '>=':
      return c >= 0;
    default:
      return assertNever(op);
  }
}

/** `v IS [NOT] TRUE / FALSE / UNKNOWN`: never unknown itself. */
export function booleanTest(test: BooleanTestKind, v: Truth): boolean {
  switch (test) {
    case 'true':
      return v === true;
    case 'not-true':
      return v !== true;
    case 'false':
      return v === false;
    case 'not-false':
      return v !== false;
    case 'unknown':
      return v === null;
    case 'not-unknown':
      return v !== null;
    default:
      return assertNever(test);
  }
}
