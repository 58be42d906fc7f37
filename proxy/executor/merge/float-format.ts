// float4/float8 values printed exactly as PostgreSQL 15's float4out/float8out print them, for
// aggregates the merge computes itself (sum of floats, avg of floats). Owns formatting only.
// With extra_float_digits > 0 (the default is 1) PostgreSQL prints the shortest digits that read
// back to the same value (Ryu), in fixed notation when the decimal exponent is in [-4, 15) for
// float8 and [-4, 6) for float4, otherwise as d.ddde+XX with at least two exponent digits. With
// extra_float_digits <= 0 it prints %.{15|6 + extra_float_digits}g.
// PostgreSQL builds Ryu without STRICTLY_SHORTEST: a decimal lying exactly on the boundary of the
// value's rounding interval (which would read back correctly only by round-half-even) is never
// chosen. JS's shortest conversion (Number#toExponential() without an argument) does choose such a
// decimal, so every candidate is checked exactly (BigInt arithmetic) to lie strictly inside the
// interval, and a longer one is taken when it does not. float4 has no JS shortest conversion: its
// digits are searched for among the closest p-digit decimals (toExponential(p - 1)).
// Reference: https://www.postgresql.org/docs/15/datatype-numeric.html#DATATYPE-FLOAT,
// src/common/d2s.c and f2s.c (to_chars thresholds), src/backend/utils/adt/float.c.

/** Digits without a point, and the decimal exponent of the first one (value = d.ddd × 10^exp). */
interface Digits {
  digits: string;
  exp: number;
}

function split(exponential: string): Digits {
  const e = exponential.indexOf('e');
  const mantissa = exponential.slice(0, e);
  return { digits: mantissa.replace('.', ''), exp: Number(exponential.slice(e + 1)) };
}

function specials(x: number): string | null {
  if (Number.isNaN(x)) return 'NaN';
  if (x === Infinity) return 'Infinity';
  if (x === -Infinity) return '-Infinity';
  if (x === 0) return Object.is(x, -0) ? '-0' : '0';
  return null;
}

/** Places the point as PostgreSQL's to_chars does: fixed inside [-4, fixedBelow), else exponential. */
function place(negative: boolean, d: Digits, fixedBelow: number): string {
  const { digits, exp } = d;
  let body: string;
  if (exp >= -4 && exp < fixedBelow) {
    if (exp < 0) body = `0.${'0'.repeat(-exp - 1)}${digits}`;
    else if (digits.length <= exp + 1) body = digits + '0'.repeat(exp + 1 - digits.length);
    else body = `${digits.slice(0, exp + 1)}.${digits.slice(exp + 1)}`;
  } else {
    const mantissa = digits.length > 1 ? `${digits[0]!}.${digits.slice(1)}` : digits;
    const abs = Math.abs(exp);
    body = `${mantissa}e${exp < 0 ? '-' : '+'}${abs < 10 ? '0' : ''}${abs}`;
  }
  return negative ? `-${body}` : body;
}

function stripZeros(d: Digits): Digits {
  let end = d.digits.length;
  while (end > 1 && d.digits[end - 1] === '0') end--;
  return { digits: d.digits.slice(0, end), exp: d.exp };
}

/**
 * printf's %.{precision}g (trailing zeros removed, no '#'), for extra_float_digits <= 0. glibc
 * rounds the exact binary value half to even; toExponential rounds a tie up, so ties are corrected.
 */
export function formatG(x: number, precision: number, single: boolean): string {
  const special = specials(x);
  if (special !== null) return special;
  const abs = Math.abs(x);
  let d = split(abs.toExponential(precision - 1));
  if (Number(d.digits[d.digits.length - 1]) % 2 === 1 && halfUnitAbove(abs, d, single)) d = neighbour(d, -1) ?? d;
  return place(x < 0, stripZeros(d), precision);
}

/** float8out. */
export function formatFloat8(x: number, extraFloatDigits = 1): string {
  if (extraFloatDigits <= 0) return formatG(x, Math.max(1, 15 + extraFloatDigits), false);
  const special = specials(x);
  if (special !== null) return special;
  const abs = Math.abs(x);
  const d = split(abs.toExponential());
  return place(x < 0, strictlyInside(abs, d, false) ? d : shortestStrict(abs, d.digits.length, false), 15);
}

/** float4out; x must already be a float4 value (Math.fround). */
export function formatFloat4(x: number, extraFloatDigits = 1): string {
  if (extraFloatDigits <= 0) return formatG(x, Math.max(1, 6 + extraFloatDigits), true);
  const special = specials(x);
  if (special !== null) return special;
  return place(x < 0, shortestFloat4(Math.abs(x)), 6);
}

/** d plus or minus one unit in its last digit (null when that reaches zero). */
function neighbour(d: Digits, delta: 1 | -1): Digits | null {
  const n = BigInt(d.digits) + BigInt(delta);
  if (n <= 0n) return null;
  const s = n.toString();
  // A carry (999 → 1000) adds a digit and raises the exponent; a borrow (100 → 99) the reverse.
  return { digits: s.length > d.digits.length ? s.slice(0, d.digits.length) : s, exp: d.exp + (s.length - d.digits.length) };
}

/**
 * The shortest decimal of at least `from` digits lying strictly inside the rounding interval of the
 * positive float x (float4 when `single`), the closest to x among equally short ones.
 */
function shortestStrict(x: number, from: number, single: boolean): Digits {
  const most = single ? 9 : 17;
  for (let p = from; p <= most; p++) {
    let d = split(x.toExponential(p - 1));
    // toExponential rounds a tie up; Ryu rounds it to the even digit.
    if (Number(d.digits[d.digits.length - 1]) % 2 === 1 && halfUnitAbove(x, d, single)) d = neighbour(d, -1) ?? d;
    if (strictlyInside(x, d, single)) return stripZeros(d);
    for (const delta of [1, -1] as const) {
      const n = neighbour(d, delta);
      if (n !== null && n.digits.length === p && strictlyInside(x, n, single)) return stripZeros(n);
    }
  }
  return stripZeros(split(x.toExponential(most - 1)));
}

/** The shortest float4 decimal, as f2s prints it; x > 0 is a float4 value. */
function shortestFloat4(x: number): Digits {
  return shortestStrict(x, 1, true);
}

// ---------------------------------------------------------------------------------------------
// Exact interval test

const view = new DataView(new ArrayBuffer(8));

/** x = mantissa × 2^exponent exactly, with the spacing below x (halved at a power of two). */
function decompose(x: number, single: boolean): { m: bigint; e: number; lowerHalved: boolean } {
  if (single) {
    view.setFloat32(0, x);
    const bits = view.getUint32(0);
    const biased = (bits >>> 23) & 0xff;
    const fraction = bits & 0x7fffff;
    if (biased === 0) return { m: BigInt(fraction), e: -149, lowerHalved: false };
    return { m: BigInt(fraction | 0x800000), e: biased - 150, lowerHalved: fraction === 0 && biased > 1 };
  }
  view.setFloat64(0, x);
  const bits = view.getBigUint64(0);
  const biased = Number((bits >> 52n) & 0x7ffn);
  const fraction = bits & 0xfffffffffffffn;
  if (biased === 0) return { m: fraction, e: -1074, lowerHalved: false };
  return { m: fraction | 0x10000000000000n, e: biased - 1075, lowerHalved: fraction === 0n && biased > 1 };
}

/** Whether x is exactly half a unit of d's last digit below d (a tie between d and its lower neighbour). */
function halfUnitAbove(x: number, d: Digits, single: boolean): boolean {
  const { m, e } = decompose(x, single);
  // x = m × 2^e; d - half unit = (2D - 1) × 10^k / 2. Compare 2m × 2^e with (2D - 1) × 10^k.
  const k = d.exp - (d.digits.length - 1);
  let left = 2n * m;
  let right = 2n * BigInt(d.digits) - 1n;
  if (k >= 0) right *= 10n ** BigInt(k);
  else left *= 10n ** BigInt(-k);
  if (e >= 0) left <<= BigInt(e);
  else right <<= BigInt(-e);
  return left === right;
}

/**
 * Whether the decimal d lies strictly between the midpoints to x's neighbours: it reads back as x
 * without relying on ties (d2s/f2s with acceptBounds false).
 */
function strictlyInside(x: number, d: Digits, single: boolean): boolean {
  const { m, e, lowerHalved } = decompose(x, single);
  // Compare c = D × 10^k with the bounds (4m ± 2) × 2^(e - 2) (4m - 1 below a power of two), all
  // multiplied by 2^(2 - e) and, for k < 0, by 10^-k so that every side is an integer.
  const k = d.exp - (d.digits.length - 1);
  let c = BigInt(d.digits);
  let upper = 4n * m + 2n;
  let lower = lowerHalved ? 4n * m - 1n : 4n * m - 2n;
  if (k >= 0) c *= 10n ** BigInt(k);
  else {
    const f = 10n ** BigInt(-k);
    upper *= f;
    lower *= f;
  }
  if (e <= 2) c <<= BigInt(2 - e);
  else {
    upper <<= BigInt(e - 2);
    lower <<= BigInt(e - 2);
  }
  return c > lower && c < upper;
}
