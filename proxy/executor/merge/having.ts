// HAVING on merged groups: the planner's Predicate compiled once into a function over a merged row's
// field values, with SQL's three-valued logic (a comparison with NULL is unknown; AND/OR/NOT as in
// SQL; a group passes only when the predicate is true). Owns predicate evaluation only.
// Comparisons follow PostgreSQL's operators on the column types: integers, numeric and floats
// compare across types (exactly unless a float is involved, then as float8, as PostgreSQL's implicit
// casts do); other types only with their own family; a constant (literal or bound parameter) is read
// as a value of the column it is compared with. Comparisons PostgreSQL would resolve with casts the
// merge does not model (date vs timestamp, text vs number...) are 0A000 when the query starts.

import { ProxyError } from '../../errors.js';
import type { BoundParams, CompareOp, Operand, Predicate } from '../../../planner/plan.js';
import { assertNever } from '../../../planner/assert-never.js';
import type { RowValues } from './aggregate-merge.js';
import { compareDecimal, decimalToNumber, finite, parseDecimal, type Decimal } from './decimal.js';
import { parseDate, parseTime, parseTimestamp } from './datetime.js';
import { compareScalar, comparedEnd, decimalOf, scalarOf, unreadable, type Collation, type Scalar } from './text-values.js';
import { Oid, requireInspectable, typeName, valueType, type Family, type ValueType } from './value-types.js';
import { allOf, anyOf, holds, negation, type Test as LogicTest } from './logic.js';
import { parseBool } from './expression-values.js';

type Test = LogicTest<RowValues>;

/** How the two sides of a comparison are read and compared. */
type Domain = 'decimal' | 'float' | 'scalar' | 'bytes' | 'collated';
type Comparable = Decimal | number | Scalar | Buffer | string;

export interface HavingContext {
  /** Types of the merged rows' columns (after aggregation). */
  readonly types: readonly ValueType[];
  readonly visible: number;
  readonly params: BoundParams | null;
  readonly collation: Collation | null;
  /** Reads a merged row's field (computing an expression column on first use); default row[column]. */
  readonly read?: (row: RowValues, column: number) => Buffer | null;
}

function readerOf(ctx: HavingContext): (row: RowValues, column: number) => Buffer | null | undefined {
  return ctx.read ?? ((row, column) => row[column]);
}

const NUMERIC_FAMILIES: ReadonlySet<Family> = new Set<Family>(['int', 'numeric', 'float4', 'float8']);

function notComparable(what: string): ProxyError {
  return ProxyError.unsupported(
    `cannot evaluate HAVING across shards: ${what}`,
    'Compare values of the same type in HAVING, or run the query on one shard (SET pgshard.shard = n).',
  );
}

/** Compiles a HAVING predicate; throws 0A000/XX000 for what cannot be evaluated. */
export function compileHaving(predicate: Predicate, ctx: HavingContext): (row: RowValues) => boolean {
  const test = compile(predicate, ctx);
  return (row) => test(row) === true;
}

function compile(p: Predicate, ctx: HavingContext): Test {
  switch (p.kind) {
    case 'and':
      return allOf(p.args.map((a) => compile(a, ctx)));
    case 'or':
      return anyOf(p.args.map((a) => compile(a, ctx)));
    case 'not':
      return negation(compile(p.arg, ctx));
    case 'is-null': {
      const read = operandNullness(p.arg, ctx);
      return p.negated ? (row) => !read(row) : read;
    }
    case 'compare':
      return compileCompare(p.op, p.left, p.right, ctx);
    default:
      return assertNever(p);
  }
}

// ---------------------------------------------------------------------------------------------
// Operands

interface ColumnOperand {
  readonly column: number;
  readonly type: ValueType;
}

/** A constant's raw form: text (literal or text-format parameter) or binary with its declared type. */
interface ConstantOperand {
  readonly bytes: Buffer | null;
  readonly binary: boolean;
  /** Declared type OID of a parameter, 0 when unknown or for literals. */
  readonly typeOid: number;
}

function resolveColumn(op: Operand & { kind: 'column' }, ctx: HavingContext): ColumnOperand {
  const index = op.column.hidden ? ctx.visible + op.column.index : op.column.index;
  const type = ctx.types[index];
  if (type === undefined) throw ProxyError.internal(`HAVING refers to column ${index + 1} of ${ctx.types.length}`);
  requireInspectable(type, index, 'HAVING');
  return { column: index, type };
}

function resolveConstant(op: Operand & { kind: 'literal' | 'param' }, ctx: HavingContext): ConstantOperand {
  if (op.kind === 'literal') return { bytes: op.text === null ? null : Buffer.from(op.text, 'utf8'), binary: false, typeOid: 0 };
  const params = ctx.params;
  if (params === null || op.index < 0 || op.index >= params.values.length) {
    throw ProxyError.internal(`HAVING refers to parameter $${op.index + 1}, which is not bound`);
  }
  const value = params.values[op.index];
  return {
    bytes: value === null || value === undefined ? null : Buffer.from(value.buffer, value.byteOffset, value.byteLength),
    binary: params.formats[op.index] === 1,
    typeOid: params.types[op.index] ?? 0,
  };
}

function operandNullness(op: Operand, ctx: HavingContext): Test {
  switch (op.kind) {
    case 'column': {
      const { column } = resolveColumn(op, ctx);
      const read = readerOf(ctx);
      return (row) => read(row, column) === null;
    }
    case 'literal':
    case 'param': {
      const isNull = resolveConstant(op, ctx).bytes === null;
      return () => isNull;
    }
    default:
      return assertNever(op);
  }
}

// ---------------------------------------------------------------------------------------------
// Comparisons

function domainOf(a: ValueType, b: ValueType | null): Domain {
  if (b !== null && a.family !== b.family) {
    const numeric = NUMERIC_FAMILIES.has(a.family) && NUMERIC_FAMILIES.has(b.family);
    const textual = (a.family === 'text' || a.family === 'bpchar') && (b.family === 'text' || b.family === 'bpchar');
    if (!numeric && !textual) throw notComparable(`${typeName(a.oid)} compared with ${typeName(b.oid)}`);
  }
  const families = b === null ? [a.family] : [a.family, b.family];
  if (families.every((f) => NUMERIC_FAMILIES.has(f))) {
    return families.some((f) => f === 'float4' || f === 'float8') ? 'float' : 'decimal';
  }
  switch (a.key) {
    case 'scalar':
      return 'scalar';
    case 'decimal':
      return 'decimal';
    case 'bytes':
      return 'bytes';
    case 'collated':
      return 'collated';
    default:
      assertNever(a.key);
  }
}

/** A column's field in the comparison domain. */
function readField(t: ValueType, domain: Domain, buf: Buffer): Comparable {
  const end = buf.length;
  switch (domain) {
    case 'decimal':
      return t.family === 'numeric' ? decimalOf(t, buf, 0, end) : finite(BigInt(scalarOf(t, buf, 0, end)), 0);
    case 'float':
      if (t.family === 'numeric') return decimalToNumber(decimalOf(t, buf, 0, end));
      return Number(scalarOf(t, buf, 0, end));
    case 'scalar':
      return scalarOf(t, buf, 0, end);
    case 'bytes':
      return buf.subarray(0, comparedEnd(t, buf, 0, end));
    case 'collated':
      return buf.toString('utf8', 0, comparedEnd(t, buf, 0, end));
    default:
      assertNever(domain);
  }
}

/** A text constant read as a value of column type t, in the comparison domain. */
function readTextConstant(t: ValueType, domain: Domain, text: string): Comparable {
  const bad = (): ProxyError => notComparable(`a constant is not a valid ${typeName(t.oid)} value`);
  switch (domain) {
    case 'decimal':
    case 'float': {
      const d = parseDecimal(text);
      if (d === null) throw bad();
      return domain === 'decimal' ? d : decimalToNumber(d);
    }
    case 'scalar': {
      let v: Scalar | null;
      switch (t.family) {
        case 'bool': {
          const b = parseBool(text);
          v = b === null ? null : Number(b);
          break;
        }
        case 'date':
          v = parseDate(text);
          break;
        case 'timestamp':
        case 'timestamptz':
          v = parseTimestamp(text.replace('T', ' '), t.family === 'timestamptz');
          break;
        case 'time':
          v = parseTime(text);
          break;
        case 'int':
        case 'float4':
        case 'float8':
        case 'numeric':
        case 'text':
        case 'bpchar':
        case 'bytes':
          v = null;
          break;
        default:
          assertNever(t.family);
      }
      if (v === null) throw t.family === 'bool' ? bad() : unreadable(t);
      return v;
    }
    case 'bytes': {
      const buf = Buffer.from(t.oid === Oid.uuid ? text.toLowerCase() : text, 'utf8');
      return buf.subarray(0, comparedEnd(t, buf, 0, buf.length));
    }
    case 'collated': {
      const buf = Buffer.from(text, 'utf8');
      return buf.toString('utf8', 0, comparedEnd(t, buf, 0, buf.length));
    }
    default:
      assertNever(domain);
  }
}

function readConstant(c: ConstantOperand, t: ValueType, domain: Domain): Comparable | null {
  if (c.bytes === null) return null;
  if (!c.binary) return readTextConstant(t, domain, c.bytes.toString('utf8'));
  // A binary parameter is in its declared type, or (type left to the server) in the type the
  // server inferred from the comparison: the column's.
  const pt = valueType(c.typeOid !== 0 ? c.typeOid : t.oid, 1, 'bytes');
  if (!pt.inspectable) throw notComparable(`parameter of ${typeName(pt.oid)} in binary format`);
  const family = pt.family;
  if (domain === 'decimal' || domain === 'float') {
    if (!NUMERIC_FAMILIES.has(family)) throw notComparable(`${typeName(pt.oid)} parameter compared with ${typeName(t.oid)}`);
  } else if (family !== t.family && !((family === 'text' || family === 'bpchar') && (t.family === 'text' || t.family === 'bpchar'))) {
    throw notComparable(`${typeName(pt.oid)} parameter compared with ${typeName(t.oid)}`);
  }
  return readField(pt, domain, c.bytes);
}

function compareIn(domain: Domain, a: Comparable, b: Comparable, collation: Collation | null): number {
  switch (domain) {
    case 'decimal':
      return compareDecimal(a as Decimal, b as Decimal);
    case 'float':
    case 'scalar':
      return compareScalar(a as Scalar, b as Scalar);
    case 'bytes':
      return Buffer.compare(a as Buffer, b as Buffer);
    case 'collated':
      if (collation === null) throw ProxyError.internal('collated HAVING without a collation');
      return collation.compare(a as string, b as string);
    default:
      assertNever(domain);
  }
}

function compileCompare(op: CompareOp, left: Operand, right: Operand, ctx: HavingContext): Test {
  const collation = ctx.collation;
  if (left.kind === 'column' && right.kind === 'column') {
    const a = resolveColumn(left, ctx);
    const b = resolveColumn(right, ctx);
    const domain = domainOf(a.type, b.type);
    const read = readerOf(ctx);
    return (row) => {
      const x = read(row, a.column);
      const y = read(row, b.column);
      if (x === null || y === null || x === undefined || y === undefined) return null;
      return holds(op, compareIn(domain, readField(a.type, domain, x), readField(b.type, domain, y), collation));
    };
  }
  if (left.kind === 'column' || right.kind === 'column') {
    const columnOnLeft = left.kind === 'column';
    const col = resolveColumn((columnOnLeft ? left : right) as Operand & { kind: 'column' }, ctx);
    const constant = resolveConstant((columnOnLeft ? right : left) as Operand & { kind: 'literal' | 'param' }, ctx);
    const domain = domainOf(col.type, null);
    const value = readConstant(constant, col.type, domain);
    if (value === null) return () => null;
    const read = readerOf(ctx);
    return (row) => {
      const x = read(row, col.column);
      if (x === null || x === undefined) return null;
      const c = compareIn(domain, readField(col.type, domain, x), value, collation);
      return holds(op, columnOnLeft ? c : -c);
    };
  }
  // Two constants: numbers when both read as numbers, otherwise their text.
  const a = resolveConstant(left as Operand & { kind: 'literal' | 'param' }, ctx);
  const b = resolveConstant(right as Operand & { kind: 'literal' | 'param' }, ctx);
  if (a.bytes === null || b.bytes === null) return () => null;
  if (a.binary || b.binary) throw notComparable('two parameters compared with each other');
  const da = parseDecimal(a.bytes.toString('utf8'));
  const db = parseDecimal(b.bytes.toString('utf8'));
  const result = holds(op, da !== null && db !== null ? compareDecimal(da, db) : Buffer.compare(a.bytes, b.bytes));
  return () => result;
}
