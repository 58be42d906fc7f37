// Reading one field of a result row as a comparable value, by the column's ValueType (type OID and
// format): numbers, exact decimals, field bytes or collated strings, and ordering or hashing them
// the way PostgreSQL's comparison and equality operators do. Owns value semantics; where rows are
// held (row-queue.ts) and what is compared when (ordered-merge.ts, aggregate-merge.ts) are elsewhere.
// Fields are `buf[start, end)` views into a DataRow; nothing here keeps them.
// Orderings (PostgreSQL's btree opclasses): ints numerically; floats with NaN above every number
// and -0 = 0; numeric exactly (NaN highest); false < true; dates and times chronologically with
// ±infinity at the ends; text in UTF-8 byte order (C/C.UTF-8) or by Intl.Collator with a byte-order
// tie-break; char(n) without trailing spaces; every other type by raw bytes.

import { assertNever } from '../../../planner/assert-never.js';
import { ProxyError } from '../../errors.js';
import { compareDecimal, decimalEqualityKey, decimalFromBinary, decimalFromText, type Decimal } from './decimal.js';
import { dateFromBinary, microsFromBinary, parseDate, parseTime, parseTimestamp } from './datetime.js';
import { Oid, typeName, type TextOrder, type ValueType } from './value-types.js';

export type Scalar = number | bigint;
/** A parsed field: Scalar for 'scalar' keys, Decimal, Buffer (the field bytes) or string (collated). */
export type KeyValue = Scalar | Decimal | Buffer | string;

/** The 0A000 for a value the merge cannot read (never quoting the value: it may be sensitive). */
export function unreadable(t: ValueType): ProxyError {
  const dateLike = t.family === 'date' || t.family === 'timestamp' || t.family === 'timestamptz' || t.family === 'time';
  return ProxyError.unsupported(
    `cannot merge results of several shards: a ${typeName(t.oid)} value is not in a form pgshard can read`,
    dateLike ? 'pgshard compares dates and times in DateStyle ISO: SET DateStyle = ISO.' : undefined,
  );
}

// ---------------------------------------------------------------------------------------------
// Scalars

/** An integer in text form; beyond 15 digits a bigint (or a number when it is still exact). */
function intFromText(t: ValueType, buf: Buffer, start: number, end: number): Scalar {
  let pos = start;
  let negative = false;
  if (buf[pos] === 0x2d) {
    negative = true;
    pos++;
  }
  if (pos >= end || end - pos > 15) {
    if (pos >= end) throw unreadable(t);
    try {
      const big = BigInt(buf.toString('latin1', start, end));
      const n = Number(big);
      return Number.isSafeInteger(n) ? n : big;
    } catch {
      throw unreadable(t);
    }
  }
  let n = 0;
  for (; pos < end; pos++) {
    const d = buf[pos]! - 0x30;
    if (d < 0 || d > 9) throw unreadable(t);
    n = n * 10 + d;
  }
  return negative ? -n : n;
}

function intFromBinary(t: ValueType, buf: Buffer, start: number, end: number): Scalar {
  const length = end - start;
  if (t.oid === Oid.int2 && length === 2) return buf.readInt16BE(start);
  if (t.oid === Oid.int4 && length === 4) return buf.readInt32BE(start);
  if (t.oid === Oid.oid && length === 4) return buf.readUInt32BE(start);
  if (t.oid === Oid.int8 && length === 8) {
    const v = buf.readBigInt64BE(start);
    const n = Number(v);
    return Number.isSafeInteger(n) ? n : v;
  }
  throw unreadable(t);
}

function floatFromText(t: ValueType, buf: Buffer, start: number, end: number): number {
  const x = Number(buf.toString('latin1', start, end));
  // Number('') is 0 and PostgreSQL never sends an empty float; anything else unparseable is NaN
  // only when the text is not literally NaN.
  if (end === start || (Number.isNaN(x) && !(end - start === 3 && buf[start] === 0x4e))) throw unreadable(t);
  return x;
}

/** A field of a 'scalar'-keyed column as a number (or bigint). */
export function scalarOf(t: ValueType, buf: Buffer, start: number, end: number): Scalar {
  if (t.format === 1) {
    switch (t.family) {
      case 'int':
        return intFromBinary(t, buf, start, end);
      case 'float4':
        if (end - start !== 4) throw unreadable(t);
        return buf.readFloatBE(start);
      case 'float8':
        if (end - start !== 8) throw unreadable(t);
        return buf.readDoubleBE(start);
      case 'bool':
        if (end - start !== 1) throw unreadable(t);
        return buf[start] === 0 ? 0 : 1;
      case 'date':
        if (end - start !== 4) throw unreadable(t);
        return dateFromBinary(buf, start);
      case 'timestamp':
      case 'timestamptz':
      case 'time':
        if (end - start !== 8) throw unreadable(t);
        return microsFromBinary(buf, start, t.family !== 'time');
      case 'numeric':
      case 'text':
      case 'bpchar':
      case 'bytes':
        throw ProxyError.internal(`scalarOf called for ${t.family}`);
      default:
        assertNever(t.family);
    }
  }
  switch (t.family) {
    case 'int':
      return intFromText(t, buf, start, end);
    case 'float4':
    case 'float8':
      return floatFromText(t, buf, start, end);
    case 'bool':
      if (end - start === 1 && buf[start] === 0x74) return 1;
      if (end - start === 1 && buf[start] === 0x66) return 0;
      throw unreadable(t);
    case 'date': {
      const v = parseDate(buf.toString('latin1', start, end));
      if (v === null) throw unreadable(t);
      return v;
    }
    case 'timestamp':
    case 'timestamptz': {
      const v = parseTimestamp(buf.toString('latin1', start, end), t.family === 'timestamptz');
      if (v === null) throw unreadable(t);
      return v;
    }
    case 'time': {
      const v = parseTime(buf.toString('latin1', start, end));
      if (v === null) throw unreadable(t);
      return v;
    }
    case 'numeric':
    case 'text':
    case 'bpchar':
    case 'bytes':
      throw ProxyError.internal(`scalarOf called for ${t.family}`);
    default:
      assertNever(t.family);
  }
}

/**
 * -1, 0 or 1. Numbers and bigints compare exactly with each other; NaN equals NaN and is above
 * everything (float8_cmp_internal); -0 equals 0.
 */
export function compareScalar(a: Scalar, b: Scalar): number {
  if (a < b) return -1;
  if (a > b) return 1;
  // Equal, or at least one NaN (only numbers can be NaN).
  const aNaN = a !== a;
  const bNaN = b !== b;
  if (aNaN) return bNaN ? 0 : 1;
  return bNaN ? -1 : 0;
}

// ---------------------------------------------------------------------------------------------
// Decimals, bytes, collated text

export function decimalOf(t: ValueType, buf: Buffer, start: number, end: number): Decimal {
  const d = t.format === 1 ? decimalFromBinary(buf, start, end) : decimalFromText(buf, start, end);
  if (d === null) throw unreadable(t);
  return d;
}

/** End of the bytes that take part in comparisons: char(n) without its trailing spaces (bpcharcmp). */
export function comparedEnd(t: ValueType, buf: Buffer, start: number, end: number): number {
  if (t.family !== 'bpchar') return end;
  while (end > start && buf[end - 1] === 0x20) end--;
  return end;
}

/** Code point order of two strings (UTF-8 byte order), the tie-break of collated comparisons. */
export function compareCodePoints(a: string, b: string): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    const x = a.charCodeAt(i);
    const y = b.charCodeAt(i);
    if (x === y) continue;
    // Surrogates (U+D800..DFFF) encode code points above U+FFFF: they sort after U+E000..U+FFFF.
    const xs = x >= 0xd800 && x <= 0xdfff;
    const ys = y >= 0xd800 && y <= 0xdfff;
    if (xs !== ys) return xs ? 1 : -1;
    return x < y ? -1 : 1;
  }
  return a.length < b.length ? -1 : a.length > b.length ? 1 : 0;
}

/** Text ordering for 'collated' keys: the collator, then code point order (as strcoll + strcmp). */
export class Collation {
  private readonly collator: Intl.Collator;
  constructor(locale: string) {
    this.collator = new Intl.Collator(locale);
  }
  compare(a: string, b: string): number {
    const c = this.collator.compare(a, b);
    if (c !== 0) return c < 0 ? -1 : 1;
    return compareCodePoints(a, b);
  }
}

/** Collators by locale: building one costs far more than a query's merge setup should. */
const collators = new Map<string, Collation>();

export function collationFor(order: TextOrder): Collation | null {
  if (order === 'bytes') return null;
  let c = collators.get(order.locale);
  if (c === undefined) {
    c = new Collation(order.locale);
    collators.set(order.locale, c);
  }
  return c;
}

// ---------------------------------------------------------------------------------------------
// Generic keys (aggregates, HAVING, sorting held result rows)

/** A field as a KeyValue for its column's key kind. Bytes keys are views into buf (copy to keep). */
export function keyOf(t: ValueType, buf: Buffer, start: number, end: number): KeyValue {
  switch (t.key) {
    case 'scalar':
      return scalarOf(t, buf, start, end);
    case 'decimal':
      return decimalOf(t, buf, start, end);
    case 'bytes':
      return buf.subarray(start, comparedEnd(t, buf, start, end));
    case 'collated':
      return buf.toString('utf8', start, comparedEnd(t, buf, start, end));
    default:
      assertNever(t.key);
  }
}

/** Compares two KeyValues of the same column (t.key decides how); collation is needed for 'collated'. */
export function compareKeys(t: ValueType, a: KeyValue, b: KeyValue, collation: Collation | null): number {
  switch (t.key) {
    case 'scalar':
      return compareScalar(a as Scalar, b as Scalar);
    case 'decimal':
      return compareDecimal(a as Decimal, b as Decimal);
    case 'bytes':
      return Buffer.compare(a as Buffer, b as Buffer);
    case 'collated':
      if (collation === null) throw ProxyError.internal('collated key without a collation');
      return collation.compare(a as string, b as string);
    default:
      assertNever(t.key);
  }
}

/**
 * A string equal for two fields exactly when PostgreSQL's equality operator says they are equal
 * (GROUP BY and DISTINCT): 1.0 and 1.00, -0 and 0, 'a ' and 'a' for char(n). Text compares by bytes,
 * as deterministic collations do.
 */
export function equalityKey(t: ValueType, buf: Buffer, start: number, end: number): string {
  switch (t.family) {
    case 'float4':
    case 'float8': {
      const x = scalarOf(t, buf, start, end) as number;
      return x === 0 ? '0' : String(x);
    }
    case 'numeric':
      return decimalEqualityKey(decimalOf(t, buf, start, end));
    case 'bpchar':
      return buf.toString('latin1', start, comparedEnd(t, buf, start, end));
    case 'int':
    case 'bool':
    case 'date':
    case 'timestamp':
    case 'timestamptz':
    case 'time':
    case 'text':
    case 'bytes':
      // Output functions print one text per value (and send one binary form): the bytes are the value.
      return buf.toString('latin1', start, end);
    default:
      assertNever(t.family);
  }
}
