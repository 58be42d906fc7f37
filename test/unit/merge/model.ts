// A naive in-memory model of what one PostgreSQL would return, for the merge's randomized tests:
// values are PostgreSQL's text output, compared here with code written independently of
// proxy/executor/merge (BigInt integers, a small exact decimal, floats with NaN last, UTF-8 bytes,
// ISO dates). Only avg's final division uses the merge's own decimal code, which values.test.ts
// checks against PostgreSQL's output.
import { divideDecimal, finite, formatDecimal, parseDecimal } from '../../../proxy/executor/merge/decimal.js';
import { formatFloat8 } from '../../../proxy/executor/merge/float-format.js';
import type { Rng } from './frames.js';

export type ColType = 'int4' | 'int8' | 'numeric' | 'float8' | 'text' | 'bool' | 'date';
export type Val = string | null;

// ---------------------------------------------------------------------------------------------
// Values

const INT8_SPECIAL = ['9223372036854775807', '-9223372036854775808', '9007199254740993', '9007199254740992', '-9007199254740993', '0'];
const FLOATS = ['NaN', 'Infinity', '-Infinity', '0', '-0', '1.5', '-2.25', '1e+20', '3.14159', '1e-05', '100'];
const CHARS = ['a', 'b', 'B', 'é', '中', '😀', ' ', 'z'];
const DATES = ['2024-01-01', '2024-01-02', '0044-03-15 BC', '0001-01-01', '0001-12-31 BC', 'infinity', '-infinity', '20000-01-01', '1999-12-31'];

export function randomValue(type: ColType, rng: Rng, nullChance = 0.1): Val {
  if (rng.chance(nullChance)) return null;
  switch (type) {
    case 'int4':
      return String(rng.int(-5, 5));
    case 'int8':
      return rng.chance(0.3) ? rng.pick(INT8_SPECIAL) : String(rng.int(-1000, 1000) * 1_000_003);
    case 'numeric': {
      if (rng.chance(0.05)) return rng.pick(['NaN', 'Infinity', '-Infinity']);
      const scale = rng.int(0, 3);
      const m = BigInt(rng.int(-40, 40)) * 10n ** BigInt(rng.int(0, scale));
      return formatScaled(m, scale);
    }
    case 'float8':
      return rng.pick(FLOATS);
    case 'text':
      return Array.from({ length: rng.int(0, 3) }, () => rng.pick(CHARS)).join('');
    case 'bool':
      return rng.pick(['t', 'f']);
    case 'date':
      return rng.pick(DATES);
  }
}

export function formatScaled(m: bigint, s: number): string {
  const neg = m < 0n;
  let digits = (neg ? -m : m).toString();
  if (s > 0) {
    digits = digits.padStart(s + 1, '0');
    digits = `${digits.slice(0, -s)}.${digits.slice(-s)}`;
  }
  return neg ? `-${digits}` : digits;
}

interface Num {
  rank: number; // 0 -inf, 1 finite, 2 +inf, 3 NaN
  m: bigint;
  s: number;
}

export function num(text: string): Num {
  if (text === 'NaN') return { rank: 3, m: 0n, s: 0 };
  if (text === 'Infinity') return { rank: 2, m: 0n, s: 0 };
  if (text === '-Infinity') return { rank: 0, m: 0n, s: 0 };
  const neg = text.startsWith('-');
  const [mantissa, exponent = '0'] = (neg ? text.slice(1) : text).split(/e/i);
  const [i, f = ''] = mantissa!.split('.');
  const e = Number(exponent);
  // numeric_in: value i.f × 10^e keeps max(0, scale - e) fraction digits.
  let m = BigInt(i! + f);
  let s = f.length - e;
  if (s < 0) {
    m *= 10n ** BigInt(-s);
    s = 0;
  }
  return { rank: 1, m: neg ? -m : m, s };
}

function cmpNum(a: Num, b: Num): number {
  if (a.rank !== b.rank || a.rank !== 1) return Math.sign(a.rank - b.rank);
  const s = Math.max(a.s, b.s);
  const x = a.m * 10n ** BigInt(s - a.s);
  const y = b.m * 10n ** BigInt(s - b.s);
  return x < y ? -1 : x > y ? 1 : 0;
}

function addNum(a: Num, b: Num): Num {
  if (a.rank === 3 || b.rank === 3) return { rank: 3, m: 0n, s: 0 };
  if (a.rank !== 1 || b.rank !== 1) {
    if (a.rank === 1) return b;
    if (b.rank === 1) return a;
    return a.rank === b.rank ? a : { rank: 3, m: 0n, s: 0 };
  }
  const s = Math.max(a.s, b.s);
  return { rank: 1, m: a.m * 10n ** BigInt(s - a.s) + b.m * 10n ** BigInt(s - b.s), s };
}

function showNum(n: Num): string {
  return n.rank === 3 ? 'NaN' : n.rank === 2 ? 'Infinity' : n.rank === 0 ? '-Infinity' : formatScaled(n.m, n.s);
}

function dateKey(text: string): number {
  if (text === 'infinity') return Infinity;
  if (text === '-infinity') return -Infinity;
  const bc = text.endsWith(' BC');
  const [y, m, d] = text.replace(' BC', '').split('-').map(Number) as [number, number, number];
  return (bc ? 1 - y : y) * 10000 + m * 100 + d;
}

/** -1/0/1 of two non-null values of a type, as PostgreSQL orders them. */
export function compareValues(type: ColType, a: string, b: string): number {
  switch (type) {
    case 'int4':
    case 'int8': {
      const x = BigInt(a);
      const y = BigInt(b);
      return x < y ? -1 : x > y ? 1 : 0;
    }
    case 'numeric':
      return cmpNum(num(a), num(b));
    case 'float8': {
      const x = Number(a);
      const y = Number(b);
      if (Number.isNaN(x) || Number.isNaN(y)) return Number.isNaN(x) ? (Number.isNaN(y) ? 0 : 1) : -1;
      return x < y ? -1 : x > y ? 1 : 0;
    }
    case 'text':
      return Math.sign(Buffer.compare(Buffer.from(a), Buffer.from(b)));
    case 'bool':
      return a === b ? 0 : a === 'f' ? -1 : 1;
    case 'date':
      return Math.sign(dateKey(a) - dateKey(b)) || 0;
  }
}

export function equalValues(type: ColType, a: Val, b: Val): boolean {
  if (a === null || b === null) return a === b;
  return compareValues(type, a, b) === 0;
}

// ---------------------------------------------------------------------------------------------
// Rows and sorting

export interface KeyRef {
  /** Index into the model row. */
  col: number;
  desc: boolean;
  nullsFirst: boolean;
}

export function compareRowsBy(types: readonly ColType[], keys: readonly KeyRef[], a: readonly Val[], b: readonly Val[]): number {
  for (const k of keys) {
    const x = a[k.col]!;
    const y = b[k.col]!;
    if (x === null || y === null) {
      if (x === y) continue;
      return (x === null) === k.nullsFirst ? -1 : 1;
    }
    const c = compareValues(types[k.col]!, x, y);
    if (c !== 0) return k.desc ? -c : c;
  }
  return 0;
}

/** Keeps the first of every group of rows equal in `cols` (SELECT DISTINCT). */
export function distinctRows(types: readonly ColType[], cols: readonly number[], rows: readonly Val[][]): Val[][] {
  const out: Val[][] = [];
  for (const r of rows) {
    if (!out.some((o) => cols.every((c) => equalValues(types[c]!, o[c]!, r[c]!)))) out.push(r);
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// Aggregates

export type AggKind = 'count*' | 'count' | 'sum' | 'min' | 'max' | 'avg' | 'bool_and' | 'bool_or';

export interface AggCol {
  kind: AggKind;
  /** Model input column (unused for count*). */
  input: number;
}

/** The shard-side (partial) value of an aggregate over some rows, as PostgreSQL prints it. */
export function partial(types: readonly ColType[], agg: AggCol, rows: readonly Val[][]): { value: Val; count: Val } {
  const vals = rows.map((r) => r[agg.input]!).filter((v): v is string => v !== null);
  const type = types[agg.input]!;
  switch (agg.kind) {
    case 'count*':
      return { value: String(rows.length), count: null };
    case 'count':
      return { value: String(vals.length), count: null };
    case 'sum':
    case 'avg': {
      let value: Val = null;
      if (vals.length > 0) {
        if (type === 'int4' || type === 'int8') value = vals.reduce((s, v) => s + BigInt(v), 0n).toString();
        else if (type === 'numeric') value = showNum(vals.map(num).reduce(addNum));
        else value = formatFloat8(vals.reduce((s, v) => s + Number(v), 0));
      }
      return { value, count: String(vals.length) };
    }
    case 'min':
    case 'max': {
      if (vals.length === 0) return { value: null, count: null };
      const sign = agg.kind === 'min' ? 1 : -1;
      return { value: vals.reduce((best, v) => (sign * compareValues(type, v, best) < 0 ? v : best)), count: null };
    }
    case 'bool_and':
    case 'bool_or': {
      if (vals.length === 0) return { value: null, count: null };
      const and = agg.kind === 'bool_and';
      return { value: (and ? vals.every((v) => v === 't') : vals.some((v) => v === 't')) ? 't' : 'f', count: null };
    }
  }
}

/** The final value PostgreSQL prints for an aggregate over all rows. */
export function finalValue(types: readonly ColType[], agg: AggCol, rows: readonly Val[][]): Val {
  const p = partial(types, agg, rows);
  if (agg.kind !== 'avg' || p.value === null) return p.value;
  const type = types[agg.input]!;
  if (type === 'float8') return formatFloat8(Number(p.value) / Number(p.count));
  return formatDecimal(divideDecimal(parseDecimal(p.value)!, finite(BigInt(p.count!), 0)));
}

/** Groups rows by the model columns `cols` (text values are canonical for the group types used). */
export function groupRows(cols: readonly number[], rows: readonly Val[][]): Val[][][] {
  const groups = new Map<string, Val[][]>();
  for (const r of rows) {
    const key = JSON.stringify(cols.map((c) => r[c]));
    let g = groups.get(key);
    if (g === undefined) groups.set(key, (g = []));
    g.push(r);
  }
  return [...groups.values()];
}

/** The partition of `rows` into `shards` random parts. */
export function split<T>(rows: readonly T[], shards: number, rng: Rng): T[][] {
  const parts: T[][] = Array.from({ length: shards }, () => []);
  for (const r of rows) parts[rng.int(0, shards - 1)]!.push(r);
  return parts;
}
