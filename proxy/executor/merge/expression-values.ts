// PostgreSQL 15's arithmetic operators and casts on single values, for the expressions over merged
// aggregates that the proxy computes (expression.ts): integers as bigint whatever their width
// (checked against the range of their type after every operation), numeric as an exact Decimal,
// float4/float8 as JS numbers (float4 rounded with Math.fround after every operation, which is
// exactly float arithmetic), text as strings. Owns value semantics only; which operation applies to
// which operand types is expression.ts's business.
// Also the input functions that read a literal or a bound parameter as the type PostgreSQL gave it.
// Every failure is PostgreSQL's own error, with its SQLSTATE and wording: 22003 for a result out of
// its type's range, 22012 for a division by zero, 0A000 for NaN or infinity cast to an integer.
// Reference: src/backend/utils/adt/int.c, int8.c, numeric.c, float.c and src/include/utils/float.h.

import { ProxyError } from '../../errors.js';
import { assertNever } from '../../../planner/assert-never.js';
import type { ArithOp } from '../../../planner/plan.js';
import {
  absDecimal,
  addDecimal,
  compareDecimal,
  DECIMAL_NAN,
  DECIMAL_NINF,
  DECIMAL_PINF,
  divideDecimal,
  finite,
  FINITE,
  formatDecimal,
  integerDigits,
  modDecimal,
  multiplyDecimal,
  NAN,
  negateDecimal,
  NINF,
  PINF,
  overflowsNumeric,
  parseDecimal,
  pow10,
  roundDecimal,
  subtractDecimal,
  type Decimal,
} from './decimal.js';
import { formatFloat4, formatFloat8, formatG } from './float-format.js';
import { compareScalar } from './text-values.js';

export type IntType = 'int2' | 'int4' | 'int8';
export type FloatType = 'float4' | 'float8';
export type NumberType = IntType | 'numeric' | FloatType;
export type TextType = 'text' | 'varchar' | 'bpchar';
/**
 * A value's SQL type; 'unknown' is an untyped string literal, NULL or parameter not yet resolved.
 * 'bool' only for CASE conditions and the boolean columns they read.
 */
export type SqlType = NumberType | TextType | 'bool' | 'unknown';

/** bigint for integers, Decimal for numeric, number for floats, string for text, boolean; null is SQL NULL. */
export type Value = bigint | Decimal | number | string | boolean | null;

export type NonNull = Exclude<Value, null>;

const INT_RANGES: Readonly<Record<IntType, { readonly min: bigint; readonly max: bigint; readonly name: string }>> = {
  int2: { min: -0x8000n, max: 0x7fffn, name: 'smallint' },
  int4: { min: -0x80000000n, max: 0x7fffffffn, name: 'integer' },
  int8: { min: -0x8000000000000000n, max: 0x7fffffffffffffffn, name: 'bigint' },
};

export function isInt(t: SqlType): t is IntType {
  return t === 'int2' || t === 'int4' || t === 'int8';
}

export function isFloat(t: SqlType): t is FloatType {
  return t === 'float4' || t === 'float8';
}

export function isNumber(t: SqlType): t is NumberType {
  return isInt(t) || isFloat(t) || t === 'numeric';
}

export function isText(t: SqlType): t is TextType | 'unknown' {
  return t === 'text' || t === 'varchar' || t === 'bpchar' || t === 'unknown';
}

/**
 * PostgreSQL's implicit-cast ladder of the numeric category (int2 → int4 → int8 → numeric → float4 →
 * float8): the common type of numbers (select_common_type) and of arithmetic (operator resolution)
 * is the higher one, float8 being the category's preferred type.
 */
export const NUMBER_RANK: Readonly<Record<NumberType, number>> = { int2: 0, int4: 1, int8: 2, numeric: 3, float4: 4, float8: 5 };

function checkInt(v: bigint, t: IntType): bigint {
  const r = INT_RANGES[t];
  if (v < r.min || v > r.max) throw ProxyError.valueOutOfRange(`${r.name} out of range`);
  return v;
}

function checkNumeric(d: Decimal): Decimal {
  if (overflowsNumeric(d)) throw ProxyError.valueOutOfRange('value overflows numeric format');
  return d;
}

const overflow = (): ProxyError => ProxyError.valueOutOfRange('value out of range: overflow');
const underflow = (): ProxyError => ProxyError.valueOutOfRange('value out of range: underflow');

/** float8/float4 arithmetic with float.h's overflow, underflow and division checks (PostgreSQL has no float %). */
function floatArith(op: ArithOp, a: number, b: number, float4: boolean): number {
  const round = (x: number): number => (float4 ? Math.fround(x) : x);
  const inf = (x: number): boolean => x === Infinity || x === -Infinity;
  let r: number;
  switch (op) {
    case '+':
    case '-':
      r = round(op === '+' ? a + b : a - b);
      if (inf(r) && !inf(a) && !inf(b)) throw overflow();
      return r;
    case '*':
      r = round(a * b);
      if (inf(r) && !inf(a) && !inf(b)) throw overflow();
      if (r === 0 && a !== 0 && b !== 0) throw underflow();
      return r;
    case '/':
      if (b === 0 && !Number.isNaN(a)) throw ProxyError.divisionByZero();
      r = round(a / b);
      if (inf(r) && !inf(a)) throw overflow();
      if (r === 0 && a !== 0 && !inf(b)) throw underflow();
      return r;
    case '%':
      throw ProxyError.internal('a float modulo');
    default:
      return assertNever(op);
  }
}

/** `a op b` for operands already converted to the operator's type `t` (never NULL). */
export function arith(op: ArithOp, t: NumberType, a: NonNull, b: NonNull): NonNull {
  if (isInt(t)) {
    const x = a as bigint;
    const y = b as bigint;
    switch (op) {
      case '+':
        return checkInt(x + y, t);
      case '-':
        return checkInt(x - y, t);
      case '*':
        return checkInt(x * y, t);
      case '/':
        if (y === 0n) throw ProxyError.divisionByZero();
        // BigInt division truncates toward zero, as C's; MIN / -1 fails the range check.
        return checkInt(x / y, t);
      case '%':
        if (y === 0n) throw ProxyError.divisionByZero();
        // The remainder has the dividend's sign, as C's; MIN % -1 is 0 (int4mod special-cases it).
        return x % y;
      default:
        return assertNever(op);
    }
  }
  if (t === 'numeric') {
    const x = a as Decimal;
    const y = b as Decimal;
    switch (op) {
      case '+':
        return checkNumeric(addDecimal(x, y));
      case '-':
        return checkNumeric(subtractDecimal(x, y));
      case '*':
        return checkNumeric(multiplyDecimal(x, y));
      case '/':
        // NaN / 0 is NaN; any other division by zero fails, Infinity / 0 included.
        if (x.special === NAN || y.special === NAN) return DECIMAL_NAN;
        if (y.special === FINITE && y.m === 0n) throw ProxyError.divisionByZero();
        return checkNumeric(divideDecimal(x, y));
      case '%':
        // As `/`: NaN % 0 is NaN, anything else % 0 fails, Infinity % 0 included.
        if (x.special === NAN || y.special === NAN) return DECIMAL_NAN;
        if (y.special === FINITE && y.m === 0n) throw ProxyError.divisionByZero();
        return modDecimal(x, y);
      default:
        return assertNever(op);
    }
  }
  return floatArith(op, a as number, b as number, t === 'float4');
}

/** Unary minus. */
export function negate(t: NumberType, v: NonNull): NonNull {
  if (isInt(t)) return checkInt(-(v as bigint), t);
  if (t === 'numeric') return negateDecimal(v as Decimal);
  return -(v as number);
}

/** abs(): the same type; the least integer of its type has no absolute value in it. */
export function abs(t: NumberType, v: NonNull): NonNull {
  if (isInt(t)) {
    const x = v as bigint;
    return checkInt(x < 0n ? -x : x, t);
  }
  if (t === 'numeric') return absDecimal(v as Decimal);
  return Math.abs(v as number);
}

/**
 * numeric(precision, scale) applied to a numeric value (apply_typmod): rounded half away from zero
 * to `scale` fraction digits, then 22003 when more than precision - scale digits are left before
 * the point. NaN fits any field; an infinity none.
 */
export function applyNumericTypmod(d: Decimal, precision: number, scale: number): Decimal {
  const field = `A field with precision ${precision}, scale ${scale}`;
  if (d.special === NAN) return d;
  if (d.special !== FINITE) throw ProxyError.valueOutOfRange('numeric field overflow', `${field} cannot hold an infinite value.`);
  const r = roundDecimal(d, scale);
  const maxDigits = precision - scale;
  if (r.m !== 0n && integerDigits(r) > maxDigits) {
    throw ProxyError.valueOutOfRange('numeric field overflow', `${field} must round to an absolute value less than ${maxDigits === 0 ? '1' : `10^${maxDigits}`}.`);
  }
  return r;
}

/**
 * The sign of a - b for operands already converted to the comparison's type: integers and numeric
 * exactly, floats with NaN above every number and -0 equal to 0 (float8's btree order).
 */
export function compareValues(t: NumberType, a: NonNull, b: NonNull): number {
  if (isInt(t)) return (a as bigint) < (b as bigint) ? -1 : (a as bigint) > (b as bigint) ? 1 : 0;
  if (t === 'numeric') return compareDecimal(a as Decimal, b as Decimal);
  return compareScalar(a as number, b as number);
}

/** rint(): to the nearest integer, ties to even (C's default rounding mode). */
export function rint(x: number): number {
  if (!Number.isFinite(x)) return x;
  const r = Math.round(x);
  // Math.round rounds ties up; rint rounds them to the even neighbour.
  return Math.abs(x % 1) === 0.5 ? 2 * Math.round(x / 2) : r;
}

// ---------------------------------------------------------------------------------------------
// float4 from exact values (strtof and the int8 → float4 cast round once, to nearest, ties even)

const f32 = new Float32Array(1);
const u32 = new Uint32Array(f32.buffer);

/** The float4 next to f (a float4 value) toward +Infinity (up) or -Infinity. */
function nextFloat4(f: number, up: boolean): number {
  if (f === 0) return up ? 1.401298464324817e-45 : -1.401298464324817e-45;
  f32[0] = f;
  u32[0] = (f > 0) === up ? u32[0]! + 1 : u32[0]! - 1;
  return f32[0]!;
}

const view = new DataView(new ArrayBuffer(8));

/** Sign of m × 10^-s minus the finite double x, exactly. */
function compareExact(m: bigint, s: number, x: number): number {
  view.setFloat64(0, x);
  const bits = view.getBigUint64(0);
  const biased = Number((bits >> 52n) & 0x7ffn);
  let mant = bits & 0xfffffffffffffn;
  let e = -1074;
  if (biased !== 0) {
    mant |= 0x10000000000000n;
    e = biased - 1075;
  }
  if (bits >> 63n === 1n) mant = -mant;
  // m / 10^s against mant × 2^e, both sides multiplied to integers.
  let left = m;
  let right = mant * pow10(s);
  if (e >= 0) right <<= BigInt(e);
  else left <<= BigInt(-e);
  return left < right ? -1 : left > right ? 1 : 0;
}

/**
 * The float4 nearest to m × 10^-s. Through the nearest double first: that can only go wrong when the
 * double lands exactly halfway between two float4s, which is then settled on the exact value.
 */
function exactToFloat4(m: bigint, s: number, x: number): number {
  let f = Math.fround(x);
  if (f === x || !Number.isFinite(f)) return f;
  const lo = f < x ? f : nextFloat4(f, false);
  const hi = f < x ? nextFloat4(f, true) : f;
  if ((lo + hi) / 2 === x) {
    const c = compareExact(m, s, x);
    if (c !== 0) f = c > 0 ? hi : lo;
  }
  return f;
}

function intToFloat4(v: bigint): number {
  return exactToFloat4(v, 0, Number(v));
}

// ---------------------------------------------------------------------------------------------
// Conversions

function intName(t: IntType): string {
  return INT_RANGES[t].name;
}

/** float8/float4 → integer: rint, then the range check (NaN fails it), as dtoi4/ftoi4 and friends. */
function floatToInt(x: number, t: IntType): bigint {
  const r = rint(x);
  const limit = t === 'int2' ? 32768 : t === 'int4' ? 2147483648 : 9223372036854775808;
  if (!(r >= -limit && r < limit)) throw ProxyError.valueOutOfRange(`${intName(t)} out of range`);
  return BigInt(r);
}

/** numeric → integer: half away from zero, then the range check; NaN and infinities are 0A000. */
function numericToInt(d: Decimal, t: IntType): bigint {
  if (d.special === NAN) throw ProxyError.unsupported(`cannot convert NaN to ${intName(t)}`);
  if (d.special !== FINITE) throw ProxyError.unsupported(`cannot convert infinity to ${intName(t)}`);
  return checkInt(roundDecimal(d, 0).m, t);
}

/** numeric → float8/float4 goes through numeric_out and float8in/float4in, with their range errors. */
function numericToFloat(d: Decimal, float4: boolean): number {
  if (d.special === NAN) return NaN;
  if (d.special === PINF) return Infinity;
  if (d.special === NINF) return -Infinity;
  const text = formatDecimal(d);
  const double = Number(text);
  const x = float4 ? exactToFloat4(d.m, d.s, double) : double;
  // strtod/strtof report ERANGE; PostgreSQL fails when the result is 0 or infinite (not for denormals).
  if (!Number.isFinite(x) || (x === 0 && d.m !== 0n)) {
    throw ProxyError.valueOutOfRange(`"${text}" is out of range for type ${float4 ? 'real' : 'double precision'}`);
  }
  return x;
}

/** float → numeric: printf's %.15g (%.6g for float4), read back by numeric_in; NaN and ±Infinity kept. */
function floatToNumeric(x: number, float4: boolean): Decimal {
  if (Number.isNaN(x)) return DECIMAL_NAN;
  if (x === Infinity) return DECIMAL_PINF;
  if (x === -Infinity) return DECIMAL_NINF;
  const d = parseDecimal(formatG(x, float4 ? 6 : 15, float4));
  if (d === null) throw ProxyError.internal(`float ${x} printed as something numeric_in rejects`);
  return d;
}

/**
 * A value of type `from` as type `to`, as PostgreSQL's cast (implicit or explicit) between them
 * converts it. `extraFloatDigits` is the session's, for floats printed as text. Throws XX000 for a
 * conversion the caller should have refused (expression.ts checks types when it compiles).
 */
export function convert(v: Value, from: SqlType, to: SqlType, extraFloatDigits: number): Value {
  if (v === null || from === to) return v;
  const impossible = (): ProxyError => ProxyError.internal(`no conversion from ${from} to ${to}`);
  if (isInt(from)) {
    const x = v as bigint;
    if (isInt(to)) return checkInt(x, to);
    switch (to) {
      case 'numeric':
        return finite(x, 0);
      case 'float8':
        return Number(x);
      case 'float4':
        return intToFloat4(x);
      case 'text':
      case 'varchar':
      case 'bpchar':
        return x.toString();
      case 'bool':
      case 'unknown':
        throw impossible();
      default:
        return assertNever(to);
    }
  }
  if (from === 'numeric') {
    const d = v as Decimal;
    if (isInt(to)) return numericToInt(d, to);
    if (isFloat(to)) return numericToFloat(d, to === 'float4');
    if (to === 'text' || to === 'varchar' || to === 'bpchar') return formatDecimal(d);
    throw impossible();
  }
  if (isFloat(from)) {
    const x = v as number;
    if (isInt(to)) return floatToInt(x, to);
    switch (to) {
      case 'numeric':
        return floatToNumeric(x, from === 'float4');
      case 'float8':
        return x;
      case 'float4': {
        const r = Math.fround(x);
        if ((r === Infinity || r === -Infinity) && Number.isFinite(x)) throw overflow();
        if (r === 0 && x !== 0) throw underflow();
        return r;
      }
      case 'text':
      case 'varchar':
      case 'bpchar':
        return from === 'float4' ? formatFloat4(x, extraFloatDigits) : formatFloat8(x, extraFloatDigits);
      case 'bool':
      case 'unknown':
        throw impossible();
      default:
        return assertNever(to);
    }
  }
  if (isText(from) && isText(to)) {
    // char(n) → text drops the padding (rtrim1); the other text types keep every character.
    return from === 'bpchar' && to !== 'bpchar' ? (v as string).replace(/ +$/, '') : v;
  }
  throw impossible();
}

/** NULLIF's `=`: a number against an integer constant, as PostgreSQL's cross-type equality. */
export function equalsInteger(t: NumberType, v: NonNull, c: bigint): boolean {
  if (isInt(t)) return (v as bigint) === c;
  if (t === 'numeric') {
    const d = v as Decimal;
    if (d.special !== FINITE) return false;
    return d.s === 0 ? d.m === c : d.m === c * pow10(d.s);
  }
  // float8 = int4 compares as float8 (float4 = int4 as float48eq): -0 equals 0.
  return (v as number) === Number(c);
}

// ---------------------------------------------------------------------------------------------
// Input functions

const INT_TEXT = /^[ \t\n\v\f\r]*([+-]?\d+)[ \t\n\v\f\r]*$/;

/** PostgreSQL's boolin: t/true/y/yes/on/1 and f/false/n/no/off/0, any case, unique prefixes. */
export function parseBool(text: string): boolean | null {
  const s = text.trim().toLowerCase();
  if (s.length === 0) return null;
  if ('true'.startsWith(s) || 'yes'.startsWith(s) || s === 'on' || s === '1') return true;
  if ('false'.startsWith(s) || 'no'.startsWith(s) || s === 'of' || s === 'off' || s === '0') return false;
  return null;
}

/**
 * A value of type `to` from its text, as the type's input function reads it (int4in, numeric_in,
 * float8in, boolin...): a string literal or a text-format parameter, once PostgreSQL gave it a
 * type. The shards read the same text with the same function first (PostgreSQL coerces literals
 * while parsing, parameters at Bind), so text they reject never gets here; what this reads more
 * strictly than PostgreSQL (hexadecimal floats) is 0A000 rather than a different value.
 */
export function inputValue(text: string, to: SqlType): Value {
  const unreadable = (): ProxyError => ProxyError.unsupported(`cannot compute an expression over aggregates across shards: a constant or parameter pgshard cannot read as ${to}`);
  if (isInt(to)) {
    const m = INT_TEXT.exec(text);
    if (m === null) throw unreadable();
    const v = BigInt(m[1]!);
    const r = INT_RANGES[to];
    if (v < r.min || v > r.max) throw ProxyError.valueOutOfRange(`value "${text}" is out of range for type ${r.name}`);
    return v;
  }
  switch (to) {
    case 'numeric':
    case 'float4':
    case 'float8': {
      // float8in and float4in accept what numeric_in does (and hexadecimal, refused above), and
      // round the exact value once, which the numeric conversion does.
      const d = parseDecimal(text);
      if (d === null) throw unreadable();
      return to === 'numeric' ? checkNumeric(d) : numericToFloat(d, to === 'float4');
    }
    case 'bool': {
      const b = parseBool(text);
      if (b === null) throw unreadable();
      return b;
    }
    case 'text':
    case 'varchar':
    case 'bpchar':
    case 'unknown':
      return text;
    default:
      return assertNever(to);
  }
}
