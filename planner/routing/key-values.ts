// Shard-key values: decoding a literal or a bound parameter into the value the key column would hold,
// and placing that value on a shard under a table's rule (hash buckets, range pieces, list pieces).
// Conservative by design: a value whose meaning depends on a type we do not model ("unknown") must be
// treated by callers as "could be on any shard"; a value no row can hold ("nowhere") matches nothing.
// Owns: key-type families, text/binary parameter decoding, range/list piece lookup.
// Must not: parse SQL or build plans.

import type { BoundParams } from '../plan.js';
import type { ShardedTableRule, ShardingRules } from '../sharding-rules.js';
import { KeyValueError, parseUuidText, type KeyType } from '../hash/pg-hash.js';
import { placementOf } from '../hash/bucket-map.js';
import type { Const } from './ast.js';

/** Key types that hash and compare alike. */
export type KeyFamily = 'int' | 'text' | 'uuid';

export function keyFamily(t: KeyType): KeyFamily {
  switch (t) {
    case 'int2':
    case 'int4':
    case 'int8':
      return 'int';
    case 'text':
    case 'varchar':
      return 'text';
    case 'uuid':
      return 'uuid';
  }
}

const CAST_FAMILIES: ReadonlyMap<string, KeyFamily> = new Map<string, KeyFamily>([
  ['int2', 'int'], ['int4', 'int'], ['int8', 'int'], ['int', 'int'], ['integer', 'int'], ['smallint', 'int'], ['bigint', 'int'],
  ['text', 'text'], ['varchar', 'text'], ['uuid', 'uuid'],
]);

/** The family of a cast's target type; 'other' for types whose comparison with the key we do not model. */
export function castFamily(typeName: string, array: boolean): KeyFamily | 'other' {
  if (array) return 'other';
  return CAST_FAMILIES.get(typeName) ?? 'other';
}

/** What a key expression's value is, once decoded for the key column's type. */
export type KeyDatum =
  | { readonly kind: 'value'; readonly value: number | bigint | string | Uint8Array }
  | { readonly kind: 'null' }
  /** No row's key can equal it (PostgreSQL would reject it or compare it false). */
  | { readonly kind: 'invalid' }
  /** Its comparison with the key is not modelled: any shard may hold matches. */
  | { readonly kind: 'unknown' };

const UNKNOWN: KeyDatum = { kind: 'unknown' };
const INVALID: KeyDatum = { kind: 'invalid' };
const NULL_DATUM: KeyDatum = { kind: 'null' };

const INT_RANGES: Record<'int2' | 'int4' | 'int8', readonly [bigint, bigint]> = {
  int2: [-32768n, 32767n],
  int4: [-2147483648n, 2147483647n],
  int8: [-9223372036854775808n, 9223372036854775807n],
};

function intDatum(v: bigint, keyType: KeyType): KeyDatum {
  const range = INT_RANGES[keyType as 'int2' | 'int4' | 'int8'];
  if (range === undefined || v < range[0] || v > range[1]) return INVALID;
  return { kind: 'value', value: v >= -9007199254740991n && v <= 9007199254740991n ? Number(v) : v };
}

const INT_TEXT = /^\s*([+-]?\d+)\s*$/;
const DECIMAL_TEXT = /^([+-]?\d+)(?:\.(\d*))?$/;

/** A key value from its text form (an untyped literal or a text-format parameter). */
export function textDatum(text: string, keyType: KeyType): KeyDatum {
  switch (keyFamily(keyType)) {
    case 'int': {
      const m = INT_TEXT.exec(text);
      return m === null ? INVALID : intDatum(BigInt(m[1] ?? '0'), keyType);
    }
    case 'text':
      return { kind: 'value', value: text };
    case 'uuid':
      try {
        return { kind: 'value', value: parseUuidText(text) };
      } catch {
        return INVALID;
      }
  }
}

/**
 * A literal compared with (or inserted into) the key. `cast` is the family of an explicit cast around
 * it (null: none; 'other': a type we do not model).
 */
export function literalDatum(c: Const, cast: KeyFamily | 'other' | null, keyType: KeyType): KeyDatum {
  if (c.kind === 'null') return NULL_DATUM;
  if (cast === 'other') return UNKNOWN;
  const family = keyFamily(keyType);
  if (cast !== null && cast !== family) return UNKNOWN;
  switch (c.kind) {
    case 'int':
      if (family === 'int') return intDatum(c.value, keyType);
      return cast === 'text' && family === 'text' ? { kind: 'value', value: c.value.toString() } : UNKNOWN;
    case 'numeric': {
      // `aid = 2.0` compares as numeric: equal to 2; `aid = 1.5` matches nothing.
      if (family !== 'int' || cast !== null) return UNKNOWN;
      const m = DECIMAL_TEXT.exec(c.text);
      if (m === null) return UNKNOWN;
      return /^0*$/.test(m[2] ?? '') ? intDatum(BigInt(m[1] ?? '0'), keyType) : INVALID;
    }
    case 'string':
      // An untyped literal takes the key column's type (or the cast's).
      return textDatum(c.text, keyType);
    case 'bool':
    case 'bits':
      return UNKNOWN;
  }
}

/** Type OIDs (pg_type.oid) of parameter types that decode as a key family. */
const OID_FAMILY: ReadonlyMap<number, KeyFamily> = new Map<number, KeyFamily>([
  [21, 'int'], [23, 'int'], [20, 'int'], [25, 'text'], [1043, 'text'], [2950, 'uuid'],
]);
const OID_UNKNOWN = 705;

const utf8 = new TextDecoder('utf-8', { fatal: true });

/** Parses ASCII decimal digits of a text-format integer parameter without building a string. */
function intFromText(bytes: Uint8Array, keyType: KeyType): KeyDatum {
  let i = 0;
  let end = bytes.length;
  while (i < end && isSpace(bytes[i] ?? 0)) i++;
  while (end > i && isSpace(bytes[end - 1] ?? 0)) end--;
  let negative = false;
  if (i < end && (bytes[i] === 0x2d || bytes[i] === 0x2b)) {
    negative = bytes[i] === 0x2d;
    i++;
  }
  if (i >= end) return INVALID;
  if (end - i > 15) {
    const text = Buffer.from(bytes.buffer, bytes.byteOffset + i, end - i).toString('latin1');
    if (!/^\d+$/.test(text)) return INVALID;
    return intDatum(negative ? -BigInt(text) : BigInt(text), keyType);
  }
  let v = 0;
  for (let j = i; j < end; j++) {
    const d = (bytes[j] ?? 0) - 0x30;
    if (d < 0 || d > 9) return INVALID;
    v = v * 10 + d;
  }
  return intDatum(BigInt(negative ? -v : v), keyType);
}

function isSpace(b: number): boolean {
  return b === 0x20 || (b >= 0x09 && b <= 0x0d);
}

/** A key value from a binary int2/int4/int8 (big-endian, by length). */
export function binaryInt(bytes: Uint8Array, keyType: KeyType): KeyDatum {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  switch (bytes.length) {
    case 2:
      return intDatum(BigInt(view.getInt16(0)), keyType);
    case 4:
      return intDatum(BigInt(view.getInt32(0)), keyType);
    case 8:
      return intDatum(view.getBigInt64(0), keyType);
    default:
      return INVALID;
  }
}

/**
 * A bound parameter (0-based `index`) compared with the key. `cast` as for literalDatum. Missing
 * parameters (params null, or fewer values than referenced) are 'unknown'.
 */
export function paramDatum(params: BoundParams | null, index: number, cast: KeyFamily | 'other' | null, keyType: KeyType): KeyDatum {
  if (params === null || index >= params.values.length) return UNKNOWN;
  const bytes = params.values[index];
  if (bytes === undefined) return UNKNOWN;
  if (bytes === null) return NULL_DATUM;
  if (cast === 'other') return UNKNOWN;
  const family = keyFamily(keyType);
  if (cast !== null && cast !== family) return UNKNOWN;
  const oid = params.types[index] ?? 0;
  const declared = oid === 0 || oid === OID_UNKNOWN ? null : (OID_FAMILY.get(oid) ?? 'other');
  const binary = (params.formats[index] ?? 0) === 1;
  if (binary) {
    // Binary values are laid out by their declared type (or the key's when undeclared).
    const layout = declared ?? family;
    if (layout !== family) return UNKNOWN;
    switch (family) {
      case 'int':
        return binaryInt(bytes, keyType);
      case 'text':
        try {
          return { kind: 'value', value: utf8.decode(bytes) };
        } catch {
          return INVALID;
        }
      case 'uuid':
        return bytes.length === 16 ? { kind: 'value', value: bytes } : INVALID;
    }
  }
  // Text format: a declared type of another family is only converted to the key type by a cast.
  if (declared !== null && declared !== family && cast === null) return UNKNOWN;
  if (family === 'int') return intFromText(bytes, keyType);
  let text: string;
  try {
    text = utf8.decode(bytes);
  } catch {
    return INVALID;
  }
  return textDatum(text, keyType);
}

/** Where a key value lives: a shard, or nowhere a rule can put it (a range/list value outside every piece). */
export type Placed = number | 'no-piece';

export function placeValue(rules: ShardingRules, rule: ShardedTableRule, keyType: KeyType, value: number | bigint | string | Uint8Array): Placed | 'invalid' {
  const method = rule.method;
  switch (method.kind) {
    case 'hash':
      try {
        return placementOf(keyType, value, rules.buckets).shard;
      } catch (err) {
        if (err instanceof KeyValueError || err instanceof RangeError) return 'invalid';
        throw err;
      }
    case 'range': {
      const v = comparable(value, keyType);
      for (const piece of method.pieces) {
        if (piece.from !== null && compare(v, comparable(piece.from, keyType)) < 0) continue;
        if (piece.to !== null && compare(v, comparable(piece.to, keyType)) >= 0) continue;
        return piece.shard;
      }
      return 'no-piece';
    }
    case 'list': {
      const v = comparable(value, keyType);
      for (const piece of method.pieces) {
        for (const candidate of piece.values) if (compare(v, comparable(candidate, keyType)) === 0) return piece.shard;
      }
      return method.defaultShard ?? 'no-piece';
    }
  }
}

/** Where a NULL key lives: PostgreSQL puts it in hash bucket 0; list/range rules only in a default piece. */
export function placeNull(rules: ShardingRules, rule: ShardedTableRule, keyType: KeyType): Placed {
  const method = rule.method;
  switch (method.kind) {
    case 'hash':
      return placementOf(keyType, null, rules.buckets).shard;
    case 'range':
      return 'no-piece';
    case 'list':
      return method.defaultShard ?? 'no-piece';
  }
}

type Comparable = bigint | Buffer;

function comparable(v: number | bigint | string | Uint8Array, keyType: KeyType): Comparable {
  switch (keyFamily(keyType)) {
    case 'int':
      if (typeof v === 'bigint') return v;
      if (typeof v === 'number') return BigInt(v);
      if (typeof v === 'string') return BigInt(v.trim());
      return 0n;
    case 'text':
      return typeof v === 'string' ? Buffer.from(v, 'utf8') : Buffer.from(v instanceof Uint8Array ? v : String(v));
    case 'uuid':
      // uuid order is the order of its 16 bytes.
      return Buffer.from(typeof v === 'string' ? parseUuidText(v) : v instanceof Uint8Array ? v : new Uint8Array(16));
  }
}

function compare(a: Comparable, b: Comparable): number {
  if (typeof a === 'bigint' && typeof b === 'bigint') return a < b ? -1 : a > b ? 1 : 0;
  if (Buffer.isBuffer(a) && Buffer.isBuffer(b)) return Buffer.compare(a, b);
  return 0;
}

/** Whether rows of two rules with equal keys always share a shard (same hash family, or identical pieces). */
export function colocated(a: ShardedTableRule, b: ShardedTableRule): boolean {
  if (a.keyType === null || b.keyType === null) return false;
  if (keyFamily(a.keyType) !== keyFamily(b.keyType)) return false;
  if (a.method.kind !== b.method.kind) return false;
  if (a.method.kind === 'hash') return true;
  return JSON.stringify(a.method, bigintJson) === JSON.stringify(b.method, bigintJson);
}

function bigintJson(_k: string, v: unknown): unknown {
  return typeof v === 'bigint' ? `${v}n` : v;
}
