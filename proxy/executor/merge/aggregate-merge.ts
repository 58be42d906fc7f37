// Re-aggregation of the partial aggregates every shard computed for its own rows: rows with equal
// group columns are folded into one (count and sum add up, min/max keep the extreme, bool_and/or
// combine, avg adds its sum and, at the end, divides by its count column), and the finished values
// are printed exactly as PostgreSQL prints its own aggregate results. Owns grouping and the
// aggregate arithmetic; HAVING, DISTINCT, ORDER BY and LIMIT on the merged rows come after, in
// merge-stream.ts. Every group is held until all shards have finished (budgeted: 54000 past the
// limits); without GROUP BY there is exactly one result row even if no shard sent one.
// Result types are the shards' own (count → int8, sum(int4) → int8, sum(int8) → numeric, ...)
// except avg, whose shard column holds sum(x): numeric for integer and numeric input, float8 for
// float input. Expression columns (coalesce(sum(x), 0)...) are computed from a finished row's other
// columns (expression.ts) when first read, so HAVING decides which groups need them. Exactness: integer and numeric arithmetic is exact (BigInt); float sums add the
// shards' partial sums in float arithmetic, as PostgreSQL's own parallel aggregation combines them.
// Reference: https://www.postgresql.org/docs/15/functions-aggregate.html

import { ProxyError } from '../../errors.js';
import type { AggregateMerge as AggregateSpec, BoundParams, MergeColumn, MergeExpr } from '../../../planner/plan.js';
import { forEachNode } from '../../../planner/merge-expr.js';
import { assertNever } from '../../../planner/assert-never.js';
import { addDecimal, decimalToBinary, divideDecimal, finite, formatDecimal, type Decimal } from './decimal.js';
import { floatBinary, intBinary } from './binary-numbers.js';
import { formatFloat4, formatFloat8 } from './float-format.js';
import { ENTRY_OVERHEAD_BYTES, type MergeBudget } from './merge-budget.js';
import type { Retype } from './row-codec.js';
import { collationFor, compareKeys, decimalOf, equalityKey, keyOf, scalarOf, type Collation, type KeyValue, type Scalar } from './text-values.js';
import { collationTextOrder } from './collations.js';
import { Oid, requireInspectable, typeName, valueType, type TextOrder, type ValueType } from './value-types.js';
import { compileExpression, type FieldReader } from './expression.js';

/**
 * Field values of one merged row (all columns, hidden ones included); null is SQL NULL, undefined an
 * expression column not computed yet (AggregateMerger.field computes it when first needed).
 */
export type RowValues = (Buffer | null | undefined)[];

/** A 22003 error as PostgreSQL raises it when a merged sum leaves its type's range. */
function outOfRange(message: string): ProxyError {
  return ProxyError.valueOutOfRange(message);
}

const INT_RANGES: ReadonlyMap<number, { min: bigint; max: bigint; name: string }> = new Map([
  [Oid.int2, { min: -0x8000n, max: 0x7fffn, name: 'smallint' }],
  [Oid.int4, { min: -0x80000000n, max: 0x7fffffffn, name: 'integer' }],
  [Oid.int8, { min: -0x8000000000000000n, max: 0x7fffffffffffffffn, name: 'bigint' }],
  [Oid.oid, { min: 0n, max: 0xffffffffn, name: 'oid' }],
]);

function addInt(a: Scalar, b: Scalar): Scalar {
  if (typeof a === 'number' && typeof b === 'number') {
    const r = a + b;
    if (Number.isSafeInteger(r)) return r;
  }
  const r = BigInt(a) + BigInt(b);
  const n = Number(r);
  return Number.isSafeInteger(n) ? n : r;
}

function addFloat(a: number, b: number, float4: boolean): number {
  const r = float4 ? Math.fround(a + b) : a + b;
  // float8pl/float4pl: an infinite result from finite inputs is an overflow error.
  if ((r === Infinity || r === -Infinity) && Number.isFinite(a) && Number.isFinite(b)) {
    throw outOfRange('value out of range: overflow');
  }
  return r;
}

/** An integer result in the column's type and format, with the type's range check. */
function intField(v: Scalar, t: ValueType): Buffer {
  const range = INT_RANGES.get(t.oid);
  if (range !== undefined) {
    const big = BigInt(v);
    if (big < range.min || big > range.max) throw outOfRange(`${range.name} out of range`);
  }
  if (t.format === 0) return Buffer.from(v.toString(), 'latin1');
  switch (t.oid) {
    case Oid.int2:
      return intBinary(2, v);
    case Oid.int4:
      return intBinary(4, v);
    case Oid.oid: {
      const b = Buffer.allocUnsafe(4);
      b.writeUInt32BE(Number(v));
      return b;
    }
    default:
      return intBinary(8, v);
  }
}

function decimalField(d: Decimal, t: ValueType): Buffer {
  return t.format === 0 ? Buffer.from(formatDecimal(d), 'latin1') : decimalToBinary(d);
}

function floatField(x: number, t: ValueType, extraFloatDigits: number): Buffer {
  const float4 = t.family === 'float4';
  if (t.format === 0) return Buffer.from(float4 ? formatFloat4(x, extraFloatDigits) : formatFloat8(x, extraFloatDigits), 'latin1');
  return floatBinary(float4, x);
}

/** A copy of buf[start, start + length) (one allocation, from Node's pool when small). */
function copyField(buf: Buffer, start: number, length: number): Buffer {
  const copy = Buffer.allocUnsafe(length);
  buf.copy(copy, 0, start, start + length);
  return copy;
}

function boolField(v: boolean, t: ValueType): Buffer {
  return t.format === 0 ? Buffer.from(v ? 't' : 'f', 'latin1') : Buffer.from([v ? 1 : 0]);
}

/** Folds one partial value (buf[start, start + length), length -1 for NULL) into a column's state. */
type Fold = (state: unknown, buf: Buffer, start: number, length: number) => unknown;
/**
 * The merged field of a column from its state; `group` indexes the other columns' states (avg).
 * undefined for an expression column, computed later from the finished row.
 */
type Final = (state: unknown, group: number) => Buffer | null | undefined;

interface ColumnPlan {
  readonly initial: unknown;
  readonly fold: Fold;
  readonly final: Final;
}

export interface AggregateLayout {
  /** Types of the merged rows' columns (avg retyped; the others as the shards sent them). */
  readonly types: readonly ValueType[];
  /** Visible columns whose type changes in the client's RowDescription (avg; expression columns' type modifiers). */
  readonly retype: ReadonlyMap<number, Retype>;
}

export class AggregateMerger {
  readonly layout: AggregateLayout;
  private readonly plans: ColumnPlan[];
  private readonly groupColumns: number[];
  /** Expression columns and how each is computed from the other columns of a merged row. */
  private readonly expressions: { readonly column: number; readonly compute: (read: FieldReader) => Buffer | null }[] = [];
  /**
   * Group number by group key; the states are stored per column (states[column][group]) rather
   * than as an object per group, so that 100k groups are a few long arrays for the GC to trace.
   */
  private readonly groups = new Map<string, number>();
  /** The group of rows whose single group column is NULL (no key string needed). */
  private nullGroup = -1;
  private groupCount = 0;
  private readonly states: unknown[][];
  /** Groups and bytes taken from the budget. */
  private heldRows = 0;
  private heldBytes = 0;

  /**
   * `types` are the shard result's columns and `typmods` their type modifiers, `visible` how many of
   * them the client sees, `params` the statement's bound parameters (for `$n` in expression
   * columns). Throws 0A000 for aggregates over types the merge cannot combine, XX000 for a spec that
   * does not fit the result.
   */
  constructor(
    spec: AggregateSpec,
    types: readonly ValueType[],
    typmods: readonly number[],
    visible: number,
    private readonly budget: MergeBudget,
    private readonly collation: Collation | null,
    private readonly textOrder: TextOrder,
    private readonly extraFloatDigits: number,
    params: BoundParams | null,
  ) {
    if (spec.columns.length !== types.length) {
      throw ProxyError.internal(`aggregate merge describes ${spec.columns.length} columns but the shards return ${types.length}`);
    }
    this.groupColumns = [];
    const outTypes: ValueType[] = [];
    const retype = new Map<number, Retype>();
    this.plans = spec.columns.map((column, i) => {
      const t = types[i]!;
      if (column.kind === 'group') this.groupColumns.push(i);
      requireInspectable(t, i, column.kind === 'group' ? 'GROUP BY' : `${column.kind}()`);
      let out = t;
      if (column.kind === 'avg') {
        const numeric = t.family === 'int' || t.family === 'numeric';
        out = valueType(numeric ? Oid.numeric : Oid.float8, t.format, textOrder);
        if (i < visible) retype.set(i, numeric ? { typeOid: Oid.numeric, typeSize: -1 } : { typeOid: Oid.float8, typeSize: 8 });
      }
      outTypes.push(out);
      return this.columnPlan(column, i, t, out, types, spec.columns, visible);
    });
    this.layout = { types: outTypes, retype };
    this.states = this.plans.map(() => []);
    // avg's merged value has no type modifier (PostgreSQL's avg result has none either).
    const outTypmods = spec.columns.map((column, i) => (column.kind === 'avg' ? -1 : (typmods[i] ?? -1)));
    spec.columns.forEach((column, i) => {
      if (column.kind !== 'expr') return;
      const ctx = { types: outTypes, typmods: outTypmods, visible, result: outTypes[i]!, extraFloatDigits, params };
      const compiled = compileExpression(column.expr, ctx);
      this.expressions.push({ column: i, compute: compiled.evaluate });
      // The placeholder's type modifier is not the expression's (a CASE without ELSE has none):
      // the client gets the one PostgreSQL gives the expression.
      if (i < visible) retype.set(i, { typeModifier: compiled.typmod });
      const reads = new Set<number>();
      collectColumns(column.expr, visible, reads);
      for (const r of reads) {
        if (spec.columns[r]?.kind === 'expr') throw ProxyError.internal(`expression column ${i + 1} reads expression column ${r + 1}`);
      }
    });
  }

  /**
   * A field of a merged row, computing an expression column on first use. HAVING reads fields
   * through this, so an expression is computed only for groups that get that far, as PostgreSQL
   * computes a target only for the groups HAVING lets through.
   */
  field(row: RowValues, column: number): Buffer | null {
    const v = row[column];
    if (v !== undefined) return v;
    const e = this.expressions.find((x) => x.column === column);
    if (e === undefined) throw ProxyError.internal(`merged column ${column + 1} has no value`);
    const computed = e.compute((c) => row[c] ?? null);
    row[column] = computed;
    return computed;
  }

  /** Computes every expression column not computed yet: the row is then complete. */
  complete(row: RowValues): (Buffer | null)[] {
    for (const e of this.expressions) if (row[e.column] === undefined) row[e.column] = e.compute((c) => row[c] ?? null);
    return row as (Buffer | null)[];
  }

  /** Number of groups held. */
  get size(): number {
    return this.groupCount;
  }

  /** Folds one shard row; `fields` is its layout from readDataRow. */
  add(buf: Buffer, fields: Int32Array): void {
    const plans = this.plans;
    const group = this.groupOf(buf, fields);
    const states = this.states;
    for (let i = 0; i < plans.length; i++) {
      const column = states[i]!;
      column[group] = plans[i]!.fold(column[group], buf, fields[2 * i]!, fields[2 * i + 1]!);
    }
  }

  /**
   * The merged rows, in no particular order; gives the groups' budget back. Without group columns
   * there is always exactly one row (count 0, other aggregates NULL when no shard sent a row).
   */
  finish(): RowValues[] {
    if (this.groupColumns.length === 0 && this.groupCount === 0) this.newGroup(0);
    const rows: RowValues[] = [];
    for (let g = 0; g < this.groupCount; g++) {
      // Expression columns stay undefined here: they are computed by field() / complete().
      rows.push(this.plans.map((p, i) => p.final(this.states[i]![g], g)));
    }
    this.release();
    return rows;
  }

  /** Drops every group and gives their budget back (also when the query failed or was abandoned). */
  release(): void {
    this.groups.clear();
    this.nullGroup = -1;
    this.groupCount = 0;
    for (const column of this.states) column.length = 0;
    this.budget.give(this.heldRows, this.heldBytes);
    this.heldRows = 0;
    this.heldBytes = 0;
  }

  /** The group number of a row, creating (and budgeting) the group on first sight. */
  private groupOf(buf: Buffer, fields: Int32Array): number {
    const columns = this.groupColumns;
    if (columns.length === 0) return this.groupCount === 0 ? this.newGroup(this.rowBytes(fields)) : 0;
    let key: string;
    if (columns.length === 1) {
      const c = columns[0]!;
      const length = fields[2 * c + 1]!;
      if (length < 0) {
        if (this.nullGroup < 0) this.nullGroup = this.newGroup(this.rowBytes(fields));
        return this.nullGroup;
      }
      key = equalityKey(this.layout.types[c]!, buf, fields[2 * c]!, fields[2 * c]! + length);
    } else {
      key = '';
      for (const c of columns) {
        const length = fields[2 * c + 1]!;
        if (length < 0) key += 'N';
        else {
          const k = equalityKey(this.layout.types[c]!, buf, fields[2 * c]!, fields[2 * c]! + length);
          key += `V${k.length}:${k}`;
        }
      }
    }
    const g = this.groups.get(key);
    if (g !== undefined) return g;
    const created = this.newGroup(2 * key.length + this.rowBytes(fields));
    this.groups.set(key, created);
    return created;
  }

  /** Estimated bytes of a group's values: the fields of the partial row that created it. */
  private rowBytes(fields: Int32Array): number {
    let bytes = 0;
    for (let i = 0; i < this.plans.length; i++) bytes += Math.max(0, fields[2 * i + 1]!);
    return bytes;
  }

  /** Appends a group with every column's initial state; `bytes` beyond the fixed overhead. */
  private newGroup(bytes: number): number {
    const total = ENTRY_OVERHEAD_BYTES + 16 * this.plans.length + bytes;
    this.budget.take(1, total, 'aggregation groups');
    this.heldRows++;
    this.heldBytes += total;
    for (let i = 0; i < this.plans.length; i++) this.states[i]!.push(this.plans[i]!.initial);
    return this.groupCount++;
  }

  private columnPlan(
    column: MergeColumn,
    index: number,
    t: ValueType,
    out: ValueType,
    types: readonly ValueType[],
    columns: readonly MergeColumn[],
    visible: number,
  ): ColumnPlan {
    const efd = this.extraFloatDigits;
    const where = `column ${index + 1} (${typeName(t.oid)})`;
    const cannot = (what: string): ProxyError =>
      ProxyError.unsupported(
        `cannot merge ${what} over ${typeName(t.oid)} from several shards`,
        'Run the query on one shard (SET pgshard.shard = n), or aggregate a supported type (integers, numeric, float4, float8).',
      );
    switch (column.kind) {
      case 'group':
        return {
          initial: undefined,
          fold: (state, buf, start, length) => (state !== undefined ? state : length < 0 ? null : copyField(buf, start, length)),
          final: (state) => (state === undefined ? null : (state as Buffer | null)),
        };
      case 'count':
        if (t.family !== 'int') throw ProxyError.internal(`count() merge on ${where}`);
        return {
          initial: 0,
          fold: (state, buf, start, length) => (length < 0 ? state : addInt(state as Scalar, scalarOf(t, buf, start, start + length))),
          final: (state) => intField(state as Scalar, t),
        };
      case 'sum':
        return this.sumPlan(t, cannot('sum()'), efd);
      case 'avg': {
        const count = column.count;
        const countIndex = count.hidden ? visible + count.index : count.index;
        const countKind = columns[countIndex]?.kind;
        const countType = types[countIndex];
        if ((countKind !== 'count' && countKind !== 'sum') || countType?.family !== 'int') {
          throw ProxyError.internal(`avg() on ${where} refers to column ${countIndex + 1}, which is not a count`);
        }
        const sum = this.sumPlan(t, cannot('avg()'), efd, true);
        const numeric = out.family === 'numeric';
        return {
          initial: null,
          fold: sum.fold,
          final: (state, group) => {
            const n = this.states[countIndex]![group] as Scalar | null;
            if (state === null || n === null || n === 0) return null;
            if (!numeric) return floatField((state as number) / Number(n), out, efd);
            const total = typeof state === 'object' ? (state as Decimal) : finite(BigInt(state as Scalar), 0);
            return decimalField(divideDecimal(total, finite(BigInt(n), 0)), out);
          },
        };
      }
      case 'min':
      case 'max': {
        const sign = column.kind === 'min' ? 1 : -1;
        // min(x COLLATE "C") picks the least value by that collation, not the database's.
        const order = column.collation === undefined ? null : collationTextOrder(column.collation, this.textOrder);
        const kt = order === null ? t : valueType(t.oid, t.format, order);
        const collation = order === null ? this.collation : collationFor(order);
        return {
          initial: null,
          fold: (state, buf, start, length) => {
            if (length < 0) return state;
            const key = keyOf(kt, buf, start, start + length);
            const current = state as [Buffer, KeyValue] | null;
            if (current !== null && sign * compareKeys(kt, key, current[1], collation) >= 0) return state;
            const copy = copyField(buf, start, length);
            this.grow((current === null ? 0 : -current[0].length) + length);
            return [copy, keyOf(kt, copy, 0, length)];
          },
          final: (state) => (state === null ? null : (state as [Buffer, KeyValue])[0]),
        };
      }
      case 'expr':
        // The shards send a NULL placeholder; the value comes from the other columns (complete()).
        return { initial: null, fold: (state) => state, final: () => undefined };
      case 'bool_and':
      case 'bool_or': {
        if (t.family !== 'bool') throw cannot(`${column.kind}()`);
        const and = column.kind === 'bool_and';
        return {
          initial: null,
          fold: (state, buf, start, length) => {
            if (length < 0) return state;
            const v = scalarOf(t, buf, start, start + length) === 1;
            if (state === null) return v;
            return and ? (state as boolean) && v : (state as boolean) || v;
          },
          final: (state) => (state === null ? null : boolField(state as boolean, t)),
        };
      }
      default:
        return assertNever(column);
    }
  }

  /**
   * sum() of partial sums: exact integers, exact decimals, or floats (float4 in float4 arithmetic,
   * except under avg(), where PostgreSQL accumulates float4 input in float8).
   */
  private sumPlan(t: ValueType, unsupported: ProxyError, efd: number, forAvg = false): ColumnPlan {
    switch (t.family) {
      case 'int':
        return {
          initial: null,
          fold: (state, buf, start, length) => {
            if (length < 0) return state;
            const v = scalarOf(t, buf, start, start + length);
            return state === null ? v : addInt(state as Scalar, v);
          },
          final: (state) => (state === null ? null : intField(state as Scalar, t)),
        };
      case 'numeric':
        return {
          initial: null,
          fold: (state, buf, start, length) => {
            if (length < 0) return state;
            const v = decimalOf(t, buf, start, start + length);
            return state === null ? v : addDecimal(state as Decimal, v);
          },
          final: (state) => (state === null ? null : decimalField(state as Decimal, t)),
        };
      case 'float4':
      case 'float8': {
        const float4 = t.family === 'float4' && !forAvg;
        return {
          initial: null,
          fold: (state, buf, start, length) => {
            if (length < 0) return state;
            const v = scalarOf(t, buf, start, start + length) as number;
            return state === null ? v : addFloat(state as number, v, float4);
          },
          final: (state) => (state === null ? null : floatField(state as number, t, efd)),
        };
      }
      case 'bool':
      case 'date':
      case 'timestamp':
      case 'timestamptz':
      case 'time':
      case 'text':
      case 'bpchar':
      case 'bytes':
        throw unsupported;
      default:
        assertNever(t.family);
    }
  }

  private grow(bytes: number): void {
    if (bytes > 0) this.budget.take(0, bytes, 'aggregation groups');
    else this.budget.give(0, -bytes);
    this.heldBytes += bytes;
  }
}

/** The merged-row indexes of the columns an expression reads. */
function collectColumns(e: MergeExpr, visible: number, out: Set<number>): void {
  forEachNode(e, (node) => {
    if (node.kind === 'column') out.add(node.column.hidden ? visible + node.column.index : node.column.index);
  });
}
