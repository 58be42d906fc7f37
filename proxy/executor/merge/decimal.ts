// Exact decimal arithmetic for PostgreSQL's numeric type, as far as the merge needs it: parsing the
// text and binary forms, ordering, adding partial sums, the division avg() ends with, and printing
// the result the way numeric_out/numeric_send would. Values are a BigInt mantissa with a display
// scale (the number of fraction digits PostgreSQL would print), never JS floats.
// Semantics follow PostgreSQL 15's numeric.c: NaN sorts above everything and equals itself;
// +Infinity/-Infinity (new in 14); sums take the largest display scale of their inputs; division
// picks its scale with select_div_scale and rounds half away from zero (div_var with round=true).
// Reference: https://www.postgresql.org/docs/15/datatype-numeric.html

import { assertNever } from '../../../planner/assert-never.js';

/** Which kind of numeric value: a finite number, NaN, +Infinity, -Infinity. */
export const FINITE = 0;
export const NAN = 1;
export const PINF = 2;
export const NINF = 3;
export type Special = typeof FINITE | typeof NAN | typeof PINF | typeof NINF;

/** A numeric value: m × 10^-s when finite (s = display scale ≥ 0); m and s are 0n/0 otherwise. */
export interface Decimal {
  readonly special: Special;
  readonly m: bigint;
  readonly s: number;
}

export const DECIMAL_NAN: Decimal = { special: NAN, m: 0n, s: 0 };
export const DECIMAL_PINF: Decimal = { special: PINF, m: 0n, s: 0 };
export const DECIMAL_NINF: Decimal = { special: NINF, m: 0n, s: 0 };
export const DECIMAL_ZERO: Decimal = { special: FINITE, m: 0n, s: 0 };

/** Display scales are capped as in PostgreSQL (NUMERIC_MAX_DISPLAY_SCALE). */
const MAX_DISPLAY_SCALE = 1000;
/** NUMERIC_MIN_SIG_DIGITS: division keeps at least this many significant digits. */
const MIN_SIG_DIGITS = 16;
/** Decimal digits per base-NBASE (10000) digit of PostgreSQL's representation. */
const DEC_DIGITS = 4;

const POW10: bigint[] = [1n];
export function pow10(n: number): bigint {
  while (POW10.length <= n) POW10.push(POW10[POW10.length - 1]! * 10n);
  return POW10[n]!;
}

export function finite(m: bigint, s: number): Decimal {
  return { special: FINITE, m, s };
}

// ---------------------------------------------------------------------------------------------
// Parsing

/**
 * numeric_out's text (`-12.50`, `NaN`, `Infinity`, `-Infinity`) and, for constants written in SQL,
 * what numeric_in also accepts: surrounding spaces, a `+`, a leading or trailing point, an exponent
 * (`1.5e3`; the display scale drops by the exponent as in numeric_in), any case for the specials.
 * Returns null for anything else.
 */
export function parseDecimal(text: string): Decimal | null {
  const t = text.trim();
  switch (t.toLowerCase()) {
    case 'nan':
      return DECIMAL_NAN;
    case 'infinity':
    case '+infinity':
    case 'inf':
    case '+inf':
      return DECIMAL_PINF;
    case '-infinity':
    case '-inf':
      return DECIMAL_NINF;
  }
  const match = /^([+-]?)(\d*)(?:\.(\d*))?(?:[eE]([+-]?\d+))?$/.exec(t);
  if (match === null) return null;
  const intPart = match[2] ?? '';
  const fracPart = match[3] ?? '';
  if (intPart.length === 0 && fracPart.length === 0) return null;
  let m = BigInt(intPart + fracPart || '0');
  let s = fracPart.length;
  if (match[4] !== undefined) {
    const exp = Number(match[4]);
    if (!Number.isSafeInteger(exp) || Math.abs(exp) > 1_000_000) return null;
    // value = m × 10^(exp - s); keep the display scale max(0, s - exp) as numeric_in does.
    const scale = s - exp;
    if (scale >= 0) s = scale;
    else {
      m *= pow10(-scale);
      s = 0;
    }
  }
  if (match[1] === '-') m = -m;
  return finite(m, s);
}

/** numeric_out text from buf[start, end): the fast path of parseDecimal, no trimming or exponent. */
export function decimalFromText(buf: Buffer, start: number, end: number): Decimal | null {
  let pos = start;
  let negative = false;
  if (pos < end && buf[pos] === 0x2d) {
    negative = true;
    pos++;
  }
  const c = buf[pos];
  if (c === undefined || pos >= end) return null;
  if (c < 0x30 || c > 0x39) return parseDecimal(buf.toString('latin1', start, end));
  // Accumulate up to 15 digits in a number, then continue in BigInt.
  let small = 0;
  let digits = 0;
  let big = 0n;
  let usingBig = false;
  let s = 0;
  let seenPoint = false;
  for (; pos < end; pos++) {
    const b = buf[pos]!;
    if (b === 0x2e && !seenPoint) {
      seenPoint = true;
      continue;
    }
    if (b < 0x30 || b > 0x39) return parseDecimal(buf.toString('latin1', start, end));
    if (seenPoint) s++;
    if (!usingBig) {
      small = small * 10 + (b - 0x30);
      if (++digits === 15) {
        usingBig = true;
        big = BigInt(small);
      }
    } else {
      big = big * 10n + BigInt(b - 0x30);
    }
  }
  let m = usingBig ? big : BigInt(small);
  if (negative) m = -m;
  return finite(m, s);
}

const NUMERIC_POS = 0x0000;
const NUMERIC_NEG = 0x4000;
const NUMERIC_NAN = 0xc000;
const NUMERIC_PINF = 0xd000;
const NUMERIC_NINF = 0xf000;

/**
 * numeric_send's binary form: Int16 ndigits, Int16 weight, UInt16 sign, Int16 dscale, then ndigits
 * Int16 base-10000 digits (the first one multiplied by 10000^weight). Null when malformed.
 */
export function decimalFromBinary(buf: Buffer, start: number, end: number): Decimal | null {
  if (end - start < 8) return null;
  const ndigits = buf.readInt16BE(start);
  const weight = buf.readInt16BE(start + 2);
  const sign = buf.readUInt16BE(start + 4);
  const dscale = buf.readInt16BE(start + 6);
  if (sign === NUMERIC_NAN) return DECIMAL_NAN;
  if (sign === NUMERIC_PINF) return DECIMAL_PINF;
  if (sign === NUMERIC_NINF) return DECIMAL_NINF;
  if ((sign !== NUMERIC_POS && sign !== NUMERIC_NEG) || ndigits < 0 || dscale < 0 || end - start !== 8 + 2 * ndigits) return null;
  let n = 0n;
  for (let i = 0; i < ndigits; i++) {
    const d = buf.readInt16BE(start + 8 + 2 * i);
    if (d < 0 || d > 9999) return null;
    n = n * 10000n + BigInt(d);
  }
  // value = n × 10000^(weight - ndigits + 1); m = value × 10^dscale.
  const shift = DEC_DIGITS * (weight - ndigits + 1) + dscale;
  let m = shift >= 0 ? n * pow10(shift) : n / pow10(-shift);
  if (sign === NUMERIC_NEG) m = -m;
  return finite(m, dscale);
}

// ---------------------------------------------------------------------------------------------
// Ordering and equality

/** Rank of the specials around the finite values: -Infinity < finite < +Infinity < NaN. */
function rank(d: Decimal): number {
  switch (d.special) {
    case NINF:
      return 0;
    case FINITE:
      return 1;
    case PINF:
      return 2;
    case NAN:
      return 3;
    default:
      assertNever(d.special);
  }
}

/** numeric_cmp: -1, 0 or 1. 1.0 and 1.00 are equal; NaN equals NaN and is above everything. */
export function compareDecimal(a: Decimal, b: Decimal): number {
  if (a.special !== FINITE || b.special !== FINITE) {
    const d = rank(a) - rank(b);
    return d < 0 ? -1 : d > 0 ? 1 : 0;
  }
  let x = a.m;
  let y = b.m;
  if (a.s < b.s) x *= pow10(b.s - a.s);
  else if (a.s > b.s) y *= pow10(a.s - b.s);
  return x < y ? -1 : x > y ? 1 : 0;
}

/** How numeric_out prints NaN and the infinities; null for a finite value. */
function specialText(d: Decimal): string | null {
  switch (d.special) {
    case NAN:
      return 'NaN';
    case PINF:
      return 'Infinity';
    case NINF:
      return '-Infinity';
    case FINITE:
      return null;
    default:
      return assertNever(d.special);
  }
}

/** A string equal for equal values whatever their display scale (1.0 and 1.00), for hashing. */
export function decimalEqualityKey(d: Decimal): string {
  const special = specialText(d);
  if (special !== null) return special;
  let m = d.m;
  let s = d.s;
  if (m === 0n) return '0';
  while (s > 0 && m % 10n === 0n) {
    m /= 10n;
    s--;
  }
  return s === 0 ? m.toString() : `${m.toString()}e-${s}`;
}

export function decimalToNumber(d: Decimal): number {
  switch (d.special) {
    case NAN:
      return NaN;
    case PINF:
      return Infinity;
    case NINF:
      return -Infinity;
    case FINITE:
      return Number(formatDecimal(d));
    default:
      assertNever(d.special);
  }
}

// ---------------------------------------------------------------------------------------------
// Arithmetic

/** numeric_add: NaN absorbs; +Inf + -Inf is NaN; the display scale is the larger of the two. */
export function addDecimal(a: Decimal, b: Decimal): Decimal {
  if (a.special !== FINITE || b.special !== FINITE) {
    if (a.special === NAN || b.special === NAN) return DECIMAL_NAN;
    if (a.special === FINITE) return b;
    if (b.special === FINITE) return a;
    return a.special === b.special ? a : DECIMAL_NAN;
  }
  if (a.s === b.s) return finite(a.m + b.m, a.s);
  if (a.s < b.s) return finite(a.m * pow10(b.s - a.s) + b.m, b.s);
  return finite(a.m + b.m * pow10(a.s - b.s), a.s);
}

/** numeric_uminus: NaN stays NaN, the infinities swap. */
export function negateDecimal(a: Decimal): Decimal {
  switch (a.special) {
    case FINITE:
      return finite(-a.m, a.s);
    case PINF:
      return DECIMAL_NINF;
    case NINF:
      return DECIMAL_PINF;
    case NAN:
      return a;
    default:
      return assertNever(a.special);
  }
}

/** numeric_abs: the infinities become +Infinity, NaN stays NaN; the display scale is kept. */
export function absDecimal(a: Decimal): Decimal {
  switch (a.special) {
    case FINITE:
      return a.m < 0n ? finite(-a.m, a.s) : a;
    case NINF:
      return DECIMAL_PINF;
    case PINF:
    case NAN:
      return a;
    default:
      return assertNever(a.special);
  }
}

/** numeric_sub: a + (-b), with the same special-value rules (Inf - Inf is NaN). */
export function subtractDecimal(a: Decimal, b: Decimal): Decimal {
  return addDecimal(a, negateDecimal(b));
}

/** NUMERIC_DSCALE_MAX: a product with more fraction digits is rounded to this many. */
const MAX_RESULT_DSCALE = 0x3fff;

/**
 * numeric_mul: the exact product at the sum of the display scales (rounded when that exceeds
 * NUMERIC_DSCALE_MAX). NaN absorbs; Inf × 0 is NaN; otherwise the infinities keep the sign product.
 */
export function multiplyDecimal(a: Decimal, b: Decimal): Decimal {
  if (a.special !== FINITE || b.special !== FINITE) {
    if (a.special === NAN || b.special === NAN) return DECIMAL_NAN;
    const sign = (d: Decimal): number => (d.special === PINF ? 1 : d.special === NINF ? -1 : d.m > 0n ? 1 : d.m < 0n ? -1 : 0);
    const s = sign(a) * sign(b);
    return s === 0 ? DECIMAL_NAN : s > 0 ? DECIMAL_PINF : DECIMAL_NINF;
  }
  const product = finite(a.m * b.m, a.s + b.s);
  return product.s > MAX_RESULT_DSCALE ? roundDecimal(product, MAX_RESULT_DSCALE) : product;
}

/**
 * numeric_round(a, scale): half away from zero at `scale` fraction digits (negative: tens,
 * hundreds...); the display scale becomes max(scale, 0), so round(1.5, 3) is 1.500. The specials are
 * returned unchanged. `scale` is clamped to ±2000 as PostgreSQL does.
 */
export function roundDecimal(a: Decimal, scale: number): Decimal {
  if (a.special !== FINITE) return a;
  const rscale = Math.max(-2000, Math.min(2000, scale));
  const out = Math.max(rscale, 0);
  if (rscale >= a.s) return finite(a.m * pow10(out - a.s), out);
  const q = roundedQuotient(a.m, pow10(a.s - rscale));
  return rscale >= 0 ? finite(q, rscale) : finite(q * pow10(-rscale), 0);
}

/** Digits before the point of PostgreSQL's largest numeric (NUMERIC_WEIGHT_MAX + 1 base-10000 digits). */
const MAX_INTEGER_DIGITS = 4 * 0x8000;

/** Whether a finite value is too large for PostgreSQL's numeric ("value overflows numeric format"). */
export function overflowsNumeric(a: Decimal): boolean {
  if (a.special !== FINITE || a.m === 0n) return false;
  const digits = (a.m < 0n ? -a.m : a.m).toString().length;
  return digits - a.s > MAX_INTEGER_DIGITS;
}

/**
 * Weight and first digit of |m| × 10^-s in PostgreSQL's base-10000 representation, as
 * select_div_scale reads them: weight w is the power of 10000 of the first non-zero base-10000
 * digit, firstDigit that digit's value (0..9999). Zero gives weight 0, first digit 0.
 */
export function base10000Lead(m: bigint, s: number): { weight: number; firstDigit: number } {
  if (m === 0n) return { weight: 0, firstDigit: 0 };
  const digits = (m < 0n ? -m : m).toString();
  // Decimal exponent of the leading digit: value = 0.d1d2... × 10^(exp10 + 1).
  const exp10 = digits.length - 1 - s;
  const weight = Math.floor(exp10 / DEC_DIGITS);
  // The base-10000 digit spans decimal positions 4w+3 .. 4w; the leading digit sits at exp10.
  const take = exp10 - DEC_DIGITS * weight + 1;
  const lead = digits.length >= take ? digits.slice(0, take) : digits.padEnd(take, '0');
  return { weight, firstDigit: Number(lead) };
}

/** select_div_scale(var1, var2): the display scale of var1 / var2. */
export function selectDivScale(a: Decimal, b: Decimal): number {
  const la = base10000Lead(a.m, a.s);
  const lb = base10000Lead(b.m, b.s);
  let qweight = la.weight - lb.weight;
  if (la.firstDigit <= lb.firstDigit) qweight--;
  let rscale = MIN_SIG_DIGITS - qweight * DEC_DIGITS;
  rscale = Math.max(rscale, a.s, b.s, 0);
  return Math.min(rscale, MAX_DISPLAY_SCALE);
}

/**
 * numeric_div(a, b) for finite b ≠ 0: exact quotient at select_div_scale's scale, rounded half away
 * from zero. Specials: NaN stays NaN, ±Infinity keeps its sign combined with b's.
 */
export function divideDecimal(a: Decimal, b: Decimal): Decimal {
  if (a.special === NAN || b.special === NAN) return DECIMAL_NAN;
  if (b.special !== FINITE) {
    if (a.special !== FINITE) return DECIMAL_NAN;
    return DECIMAL_ZERO;
  }
  if (b.m === 0n) throw new RangeError('division by zero');
  if (a.special !== FINITE) {
    const positive = (a.special === PINF) === b.m > 0n;
    return positive ? DECIMAL_PINF : DECIMAL_NINF;
  }
  const rscale = selectDivScale(a, b);
  // a/b = (a.m / 10^a.s) / (b.m / 10^b.s); scaled by 10^rscale: a.m × 10^(rscale - a.s + b.s) / b.m.
  const shift = rscale - a.s + b.s;
  let num = a.m;
  let den = b.m;
  if (shift >= 0) num *= pow10(shift);
  else den *= pow10(-shift);
  return finite(roundedQuotient(num, den), rscale);
}

/**
 * numeric_mod(a, b) for b ≠ 0: a - trunc(a / b) × b exactly (mod_var), so the sign is a's, at the
 * larger of the two display scales. NaN absorbs; Infinity % b is NaN; a % ±Infinity is a.
 */
export function modDecimal(a: Decimal, b: Decimal): Decimal {
  if (a.special === NAN || b.special === NAN || a.special !== FINITE) return DECIMAL_NAN;
  if (b.special !== FINITE) return a;
  if (b.m === 0n) throw new RangeError('division by zero');
  const s = Math.max(a.s, b.s);
  // BigInt % truncates toward zero, as mod_var's truncated quotient does.
  return finite((a.m * pow10(s - a.s)) % (b.m * pow10(s - b.s)), s);
}

/**
 * How many decimal digits a finite non-zero value has before the point: floor(log10 |a|) + 1, so
 * negative for |a| < 0.1 (0.001 gives -2). apply_typmod's `ddigits`.
 */
export function integerDigits(a: Decimal): number {
  return (a.m < 0n ? -a.m : a.m).toString().length - a.s;
}

/** num / den rounded half away from zero. */
function roundedQuotient(num: bigint, den: bigint): bigint {
  let q = num / den;
  const r = num % den;
  if (r !== 0n) {
    const r2 = (r < 0n ? -r : r) * 2n;
    const d = den < 0n ? -den : den;
    if (r2 >= d) q += (num < 0n) !== (den < 0n) ? -1n : 1n;
  }
  return q;
}

// ---------------------------------------------------------------------------------------------
// Output

/** numeric_out: exactly s fraction digits, no exponent, `NaN`, `Infinity`, `-Infinity`. */
export function formatDecimal(d: Decimal): string {
  const special = specialText(d);
  if (special !== null) return special;
  const negative = d.m < 0n;
  let digits = (negative ? -d.m : d.m).toString();
  if (d.s > 0) {
    if (digits.length <= d.s) digits = digits.padStart(d.s + 1, '0');
    digits = `${digits.slice(0, digits.length - d.s)}.${digits.slice(digits.length - d.s)}`;
  }
  return negative ? `-${digits}` : digits;
}

/** numeric_send: see decimalFromBinary for the layout. */
export function decimalToBinary(d: Decimal): Buffer {
  if (d.special !== FINITE) {
    const out = Buffer.alloc(8);
    out.writeUInt16BE(d.special === NAN ? NUMERIC_NAN : d.special === PINF ? NUMERIC_PINF : NUMERIC_NINF, 4);
    // numeric_send reads the display scale out of the special value's header bits: 32 for the
    // infinities, 0 for NaN (what PostgreSQL 15 sends; receivers ignore it).
    if (d.special !== NAN) out.writeInt16BE(32, 6);
    return out;
  }
  const negative = d.m < 0n;
  const all = (negative ? -d.m : d.m).toString();
  // Split at the decimal point, then pad both parts to whole base-10000 digits.
  const intLen = all.length - d.s;
  let intPart = intLen > 0 ? all.slice(0, intLen) : '';
  let fracPart = intLen > 0 ? all.slice(intLen) : all.padStart(d.s, '0');
  intPart = intPart.padStart(Math.ceil(intPart.length / DEC_DIGITS) * DEC_DIGITS, '0');
  fracPart = fracPart.padEnd(Math.ceil(fracPart.length / DEC_DIGITS) * DEC_DIGITS, '0');
  const groups: number[] = [];
  const joined = intPart + fracPart;
  for (let i = 0; i < joined.length; i += DEC_DIGITS) groups.push(Number(joined.slice(i, i + DEC_DIGITS)));
  let weight = intPart.length / DEC_DIGITS - 1;
  let first = 0;
  while (first < groups.length && groups[first] === 0) {
    first++;
    weight--;
  }
  let last = groups.length;
  while (last > first && groups[last - 1] === 0) last--;
  const ndigits = last - first;
  if (ndigits === 0) weight = 0;
  const out = Buffer.alloc(8 + 2 * ndigits);
  out.writeInt16BE(ndigits, 0);
  out.writeInt16BE(weight, 2);
  out.writeUInt16BE(ndigits > 0 && negative ? NUMERIC_NEG : NUMERIC_POS, 4);
  out.writeInt16BE(d.s, 6);
  for (let i = 0; i < ndigits; i++) out.writeInt16BE(groups[first + i]!, 8 + 2 * i);
  return out;
}
