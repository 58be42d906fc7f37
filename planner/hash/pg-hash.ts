// PostgreSQL 15's hash partitioning, bit for bit: the "extended" (64-bit, seeded) hash functions of
// the default hash operator classes of the key types pgshard shards by, hash_combine64, and the
// remainder that PARTITION BY HASH uses to pick a partition. pgshard places a key in bucket
// `bucketOf(partitionHash(type, key), modulus)`, which is exactly the remainder PostgreSQL computes
// for a table `PARTITION BY HASH (key)` with partitions `MODULUS modulus`, so placement can be
// checked with SQL on any shard (docs/placement.md).
//
// Written from the algorithms in PostgreSQL's sources: src/common/hashfn.c (hash_bytes_extended,
// hash_bytes_uint32_extended: Bob Jenkins' lookup3 with a 64-bit seed), src/include/common/hashfn.h
// (hash_combine64), src/backend/access/hash/hashfunc.c (hashint2/4/8extended, hashtextextended),
// src/backend/utils/adt/uuid.c (uuid_hash_extended) and src/backend/partitioning/partbounds.c
// (compute_partition_hash_value, satisfies_hash_partition, HASH_PARTITION_SEED). Matches servers
// of little-endian machines (x86-64, arm64); on big-endian ones PostgreSQL's byte hash (text, uuid
// keys) reads words in the other order and differs.
//
// Representation: a 64-bit hash is a Hash64 `{ hi, lo }` of two unsigned 32-bit numbers
// (value = hi * 2^32 + lo, i.e. the uint64 PostgreSQL computes). The hot path (partitionHash,
// partitionBucket, bucketOf) uses only 32-bit integer arithmetic and allocates at most the result:
// a bigint int8 key is range-checked and split into halves through a BigInt64Array (no BigInt
// arithmetic); only a decimal-string int8 key of 16+ digits is parsed with BigInt. Seeds are bigint
// (configuration, not data), converted once and cached; the partition seed's state is precomputed.
// Measured costs: docs/placement.md and bench/hash-bench.ts.
//
// Pure: no I/O, no timers. Module-level scratch state is only used synchronously.

/** An unsigned 64-bit hash as two unsigned 32-bit halves: value = hi * 2^32 + lo. */
export interface Hash64 {
  readonly hi: number;
  readonly lo: number;
}

/** Key column types with their default hash operator class, as PostgreSQL 15 hashes them. */
export type KeyType = 'int2' | 'int4' | 'int8' | 'text' | 'varchar' | 'uuid';

export const KEY_TYPES: readonly KeyType[] = ['int2', 'int4', 'int8', 'text', 'varchar', 'uuid'];

export function isKeyType(s: string): s is KeyType {
  return (KEY_TYPES as readonly string[]).includes(s);
}

/**
 * A key value. null is SQL NULL. By type:
 * - int2/int4: an integer number, a bigint, or a decimal string as int2in/int4in accept it.
 * - int8: a safe-integer number, a bigint, or a decimal string as int8in accepts it.
 * - text/varchar: a string (hashed as UTF-8) or the UTF-8 bytes.
 * - uuid: a string as uuid_in accepts it, or the 16 bytes.
 */
export type KeyValue = number | bigint | string | Uint8Array | null;

/** HASH_PARTITION_SEED (src/include/partitioning/partbounds.h). */
export const HASH_PARTITION_SEED = 0x7a5b22367996dcfdn;
/** The constant hash_combine64 adds ("64bit random data"). */
export const HASH_COMBINE64_CONSTANT = 0x49a0f4dd15e5a8e3n;

/** A key value PostgreSQL would reject; `sqlstate` is the code PostgreSQL raises for it. */
export class KeyValueError extends Error {
  override readonly name = 'KeyValueError';
  constructor(
    message: string,
    /** 22P02 invalid_text_representation or 22003 numeric_value_out_of_range. */
    readonly sqlstate: '22P02' | '22003',
  ) {
    super(message);
  }
}

const TWO_32 = 4294967296;
const PART_SEED_HI = 0x7a5b2236;
const PART_SEED_LO = 0x7996dcfd;
const COMBINE_HI = 0x49a0f4dd;
const COMBINE_LO = 0x15e5a8e3;
/** 0x9e3779b9 + 3923095: the lookup3 initial value before the key length is added. */
const INIT_BASE = (0x9e3779b9 + 3923095) | 0;

// ---------------------------------------------------------------------------------------------
// lookup3 core. mix() and final() are written out inline (JS has no macros and they update three
// variables); every copy is the same code. Values are kept as int32 (`| 0`), which is uint32
// arithmetic modulo 2^32. Results go to OUT[0]/OUT[1]: b and c of PostgreSQL's
// `((uint64) b << 32) | c`.
// ---------------------------------------------------------------------------------------------

// Results of the cores. A typed array (which also does the int32 → uint32 conversion) measured
// ~35% faster than module-level `let`s holding numbers >= 2^31.
const OUT = new Uint32Array(2);

/** Seeded lookup3 state for a 4-byte key (hash_bytes_uint32_extended before `a += k`). */
interface Seeded4 {
  readonly a: number;
  readonly b: number;
  readonly c: number;
}

function seededState4(seedHi: number, seedLo: number): Seeded4 {
  let a = (INIT_BASE + 4) | 0;
  let b = a;
  let c = a;
  if (seedHi !== 0 || seedLo !== 0) {
    a = (a + seedHi) | 0;
    b = (b + seedLo) | 0;
    a = (a - c) | 0; a ^= (c << 4) | (c >>> 28); c = (c + b) | 0;
    b = (b - a) | 0; b ^= (a << 6) | (a >>> 26); a = (a + c) | 0;
    c = (c - b) | 0; c ^= (b << 8) | (b >>> 24); b = (b + a) | 0;
    a = (a - c) | 0; a ^= (c << 16) | (c >>> 16); c = (c + b) | 0;
    b = (b - a) | 0; b ^= (a << 19) | (a >>> 13); a = (a + c) | 0;
    c = (c - b) | 0; c ^= (b << 4) | (b >>> 28); b = (b + a) | 0;
  }
  return { a, b, c };
}

const PART_STATE4 = seededState4(PART_SEED_HI, PART_SEED_LO);
const PS4_A = PART_STATE4.a;
const PS4_B = PART_STATE4.b;
const PS4_C = PART_STATE4.c;

/** hash_bytes_uint32_extended(k, seed) from a precomputed seeded state; result in OUT[0]/OUT[1]. */
function uint32Core(k: number, a: number, b: number, c: number): void {
  a = (a + k) | 0;
  c ^= b; c = (c - ((b << 14) | (b >>> 18))) | 0;
  a ^= c; a = (a - ((c << 11) | (c >>> 21))) | 0;
  b ^= a; b = (b - ((a << 25) | (a >>> 7))) | 0;
  c ^= b; c = (c - ((b << 16) | (b >>> 16))) | 0;
  a ^= c; a = (a - ((c << 4) | (c >>> 28))) | 0;
  b ^= a; b = (b - ((a << 14) | (a >>> 18))) | 0;
  c ^= b; c = (c - ((b << 24) | (b >>> 8))) | 0;
  OUT[0] = b;
  OUT[1] = c;
}

/** hash_bytes_extended(k[0..len), seed); result in OUT[0]/OUT[1]. */
function bytesCore(k: Uint8Array, len: number, seedHi: number, seedLo: number): void {
  let a = (INIT_BASE + len) | 0;
  let b = a;
  let c = a;
  if (seedHi !== 0 || seedLo !== 0) {
    a = (a + seedHi) | 0;
    b = (b + seedLo) | 0;
    a = (a - c) | 0; a ^= (c << 4) | (c >>> 28); c = (c + b) | 0;
    b = (b - a) | 0; b ^= (a << 6) | (a >>> 26); a = (a + c) | 0;
    c = (c - b) | 0; c ^= (b << 8) | (b >>> 24); b = (b + a) | 0;
    a = (a - c) | 0; a ^= (c << 16) | (c >>> 16); c = (c + b) | 0;
    b = (b - a) | 0; b ^= (a << 19) | (a >>> 13); a = (a + c) | 0;
    c = (c - b) | 0; c ^= (b << 4) | (b >>> 28); b = (b + a) | 0;
  }
  let i = 0;
  let r = len;
  while (r >= 12) {
    a = (a + (k[i]! | (k[i + 1]! << 8) | (k[i + 2]! << 16) | (k[i + 3]! << 24))) | 0;
    b = (b + (k[i + 4]! | (k[i + 5]! << 8) | (k[i + 6]! << 16) | (k[i + 7]! << 24))) | 0;
    c = (c + (k[i + 8]! | (k[i + 9]! << 8) | (k[i + 10]! << 16) | (k[i + 11]! << 24))) | 0;
    a = (a - c) | 0; a ^= (c << 4) | (c >>> 28); c = (c + b) | 0;
    b = (b - a) | 0; b ^= (a << 6) | (a >>> 26); a = (a + c) | 0;
    c = (c - b) | 0; c ^= (b << 8) | (b >>> 24); b = (b + a) | 0;
    a = (a - c) | 0; a ^= (c << 16) | (c >>> 16); c = (c + b) | 0;
    b = (b - a) | 0; b ^= (a << 19) | (a >>> 13); a = (a + c) | 0;
    c = (c - b) | 0; c ^= (b << 4) | (b >>> 28); b = (b + a) | 0;
    i += 12;
    r -= 12;
  }
  // The last 0..11 bytes (little-endian). As in lookup3, the lowest byte of c is left alone:
  // bytes 8..10 go to bits 8..31 of c.
  if (r > 0) {
    if (r >= 11) c = (c + (k[i + 10]! << 24)) | 0;
    if (r >= 10) c = (c + (k[i + 9]! << 16)) | 0;
    if (r >= 9) c = (c + (k[i + 8]! << 8)) | 0;
    if (r >= 8) b = (b + (k[i + 7]! << 24)) | 0;
    if (r >= 7) b = (b + (k[i + 6]! << 16)) | 0;
    if (r >= 6) b = (b + (k[i + 5]! << 8)) | 0;
    if (r >= 5) b = (b + k[i + 4]!) | 0;
    if (r >= 4) a = (a + (k[i + 3]! << 24)) | 0;
    if (r >= 3) a = (a + (k[i + 2]! << 16)) | 0;
    if (r >= 2) a = (a + (k[i + 1]! << 8)) | 0;
    a = (a + k[i]!) | 0;
  }
  c ^= b; c = (c - ((b << 14) | (b >>> 18))) | 0;
  a ^= c; a = (a - ((c << 11) | (c >>> 21))) | 0;
  b ^= a; b = (b - ((a << 25) | (a >>> 7))) | 0;
  c ^= b; c = (c - ((b << 16) | (b >>> 16))) | 0;
  a ^= c; a = (a - ((c << 4) | (c >>> 28))) | 0;
  b ^= a; b = (b - ((a << 14) | (a >>> 18))) | 0;
  c ^= b; c = (c - ((b << 24) | (b >>> 8))) | 0;
  OUT[0] = b;
  OUT[1] = c;
}

/**
 * hash_bytes_extended of a 16-byte key given as four little-endian words (a uuid);
 * result in OUT[0]/OUT[1].
 */
function words16Core(w0: number, w1: number, w2: number, w3: number, seedHi: number, seedLo: number): void {
  let a = (INIT_BASE + 16) | 0;
  let b = a;
  let c = a;
  if (seedHi !== 0 || seedLo !== 0) {
    a = (a + seedHi) | 0;
    b = (b + seedLo) | 0;
    a = (a - c) | 0; a ^= (c << 4) | (c >>> 28); c = (c + b) | 0;
    b = (b - a) | 0; b ^= (a << 6) | (a >>> 26); a = (a + c) | 0;
    c = (c - b) | 0; c ^= (b << 8) | (b >>> 24); b = (b + a) | 0;
    a = (a - c) | 0; a ^= (c << 16) | (c >>> 16); c = (c + b) | 0;
    b = (b - a) | 0; b ^= (a << 19) | (a >>> 13); a = (a + c) | 0;
    c = (c - b) | 0; c ^= (b << 4) | (b >>> 28); b = (b + a) | 0;
  }
  a = (a + w0) | 0;
  b = (b + w1) | 0;
  c = (c + w2) | 0;
  a = (a - c) | 0; a ^= (c << 4) | (c >>> 28); c = (c + b) | 0;
  b = (b - a) | 0; b ^= (a << 6) | (a >>> 26); a = (a + c) | 0;
  c = (c - b) | 0; c ^= (b << 8) | (b >>> 24); b = (b + a) | 0;
  a = (a - c) | 0; a ^= (c << 16) | (c >>> 16); c = (c + b) | 0;
  b = (b - a) | 0; b ^= (a << 19) | (a >>> 13); a = (a + c) | 0;
  c = (c - b) | 0; c ^= (b << 4) | (b >>> 28); b = (b + a) | 0;
  // 4 bytes left: a whole word into a.
  a = (a + w3) | 0;
  c ^= b; c = (c - ((b << 14) | (b >>> 18))) | 0;
  a ^= c; a = (a - ((c << 11) | (c >>> 21))) | 0;
  b ^= a; b = (b - ((a << 25) | (a >>> 7))) | 0;
  c ^= b; c = (c - ((b << 16) | (b >>> 16))) | 0;
  a ^= c; a = (a - ((c << 4) | (c >>> 28))) | 0;
  b ^= a; b = (b - ((a << 14) | (a >>> 18))) | 0;
  c ^= b; c = (c - ((b << 24) | (b >>> 8))) | 0;
  OUT[0] = b;
  OUT[1] = c;
}

// ---------------------------------------------------------------------------------------------
// Seeds: bigint in the API (any bigint, taken modulo 2^64 like PostgreSQL's int8 → uint64 cast),
// converted once and cached (the partition seed is also precomputed).
// ---------------------------------------------------------------------------------------------

let seedCached = HASH_PARTITION_SEED;
let seedHi = PART_SEED_HI;
let seedLo = PART_SEED_LO;
let seedState4: Seeded4 = PART_STATE4;

function loadSeed(seed: bigint): void {
  if (seed === seedCached) return;
  if (typeof seed !== 'bigint') throw new TypeError(`seed must be a bigint, got ${typeof seed}`);
  const u = BigInt.asUintN(64, seed);
  seedHi = Number(u >> 32n);
  seedLo = Number(u & 0xffffffffn);
  seedState4 = seededState4(seedHi, seedLo);
  seedCached = seed;
}

// ---------------------------------------------------------------------------------------------
// Key value conversion (validation mirrors PostgreSQL's input functions).
// ---------------------------------------------------------------------------------------------

/** C isspace() in the C locale: what int2in/int4in/int8in skip around the digits. */
function isSpace(ch: number): boolean {
  return ch === 32 || (ch >= 9 && ch <= 13);
}

/** What scanInteger found: [DIGITS_START, DIGITS_END) are the digits, DIGITS_NEG is 1 for '-'. */
const DIGITS = new Int32Array(3);
const DIGITS_START = 0;
const DIGITS_END = 1;
const DIGITS_NEG = 2;

/** Scans PostgreSQL's integer syntax (pg_strtoint16/32/64 in 15): spaces, sign, digits, spaces. */
function scanInteger(s: string): boolean {
  const n = s.length;
  let i = 0;
  while (i < n && isSpace(s.charCodeAt(i))) i++;
  let neg = false;
  const sign = s.charCodeAt(i);
  if (sign === 45 /* - */) {
    neg = true;
    i++;
  } else if (sign === 43 /* + */) {
    i++;
  }
  const start = i;
  while (i < n) {
    const ch = s.charCodeAt(i);
    if (ch < 48 || ch > 57) break;
    i++;
  }
  const end = i;
  if (end === start) return false;
  while (i < n && isSpace(s.charCodeAt(i))) i++;
  if (i !== n) return false;
  DIGITS[DIGITS_START] = start;
  DIGITS[DIGITS_END] = end;
  DIGITS[DIGITS_NEG] = neg ? 1 : 0;
  return true;
}

const TYPE_NAMES = { int2: 'smallint', int4: 'integer', int8: 'bigint' } as const;

function invalidSyntax(type: 'int2' | 'int4' | 'int8', s: string): KeyValueError {
  return new KeyValueError(`invalid input syntax for type ${TYPE_NAMES[type]}: "${s}"`, '22P02');
}

function outOfRange(type: 'int2' | 'int4' | 'int8', v: unknown): KeyValueError {
  const shown = typeof v === 'string' ? `"${v}"` : String(v);
  return new KeyValueError(`value ${shown} is out of range for type ${TYPE_NAMES[type]}`, '22003');
}

/** An int2/int4 key as an int32 number; range-checked against [min, max]. */
function toInt32(type: 'int2' | 'int4', v: KeyValue, min: number, max: number): number {
  if (typeof v === 'number') {
    if (Number.isInteger(v) && v >= min && v <= max) return v | 0;
    if (Number.isInteger(v)) throw outOfRange(type, v);
    throw new KeyValueError(`${type} key must be an integer, got ${v}`, '22P02');
  }
  if (typeof v === 'string') {
    if (!scanInteger(v)) throw invalidSyntax(type, v);
    const end = DIGITS[DIGITS_END]!;
    // Skip leading zeros so that long zero-padded literals stay exact.
    let i = DIGITS[DIGITS_START]!;
    while (i < end - 1 && v.charCodeAt(i) === 48) i++;
    if (end - i > 10) throw outOfRange(type, v);
    let x = 0;
    for (; i < end; i++) x = x * 10 + (v.charCodeAt(i) - 48);
    if (DIGITS[DIGITS_NEG] === 1) x = -x;
    if (x < min || x > max) throw outOfRange(type, v);
    return x | 0;
  }
  if (typeof v === 'bigint') {
    if (v < BigInt(min) || v > BigInt(max)) throw outOfRange(type, v);
    return Number(v) | 0;
  }
  throw new TypeError(`${type} key must be a number, bigint or string, got ${describe(v)}`);
}

const INT8_MIN = -(2n ** 63n);
const INT8_MAX = 2n ** 63n - 1n;

/**
 * hashint8extended's fold of an int64 into the uint32 it hashes:
 * lohalf ^ (val >= 0 ? hihalf : ~hihalf). Returns the folded word (uint32 or int32 bits).
 */
function foldInt8Number(n: number): number {
  // n is a safe integer: split it exactly into a signed high word and an unsigned low word.
  const hi = Math.floor(n / TWO_32);
  const lo = n - hi * TWO_32;
  return lo ^ hi ^ (hi >> 31);
}

// A bigint's two 32-bit halves through a typed array: no BigInt arithmetic (and no allocation).
const INT64_SCRATCH = new BigInt64Array(1);
const INT32_HALVES = new Int32Array(INT64_SCRATCH.buffer);
const LITTLE_ENDIAN = new Uint8Array(new Uint32Array([1]).buffer)[0] === 1;
const LO_INDEX = LITTLE_ENDIAN ? 0 : 1;
const HI_INDEX = LITTLE_ENDIAN ? 1 : 0;

function foldInt8BigInt(v: bigint): number {
  if (v < INT8_MIN || v > INT8_MAX) throw outOfRange('int8', v);
  INT64_SCRATCH[0] = v;
  const hi = INT32_HALVES[HI_INDEX]!;
  return INT32_HALVES[LO_INDEX]! ^ hi ^ (hi >> 31);
}

function foldInt8(v: KeyValue): number {
  if (typeof v === 'number') {
    if (Number.isSafeInteger(v)) return foldInt8Number(v);
    if (Number.isInteger(v)) {
      throw new KeyValueError(`int8 key ${v} is not a safe integer; pass a bigint or a string`, '22003');
    }
    throw new KeyValueError(`int8 key must be an integer, got ${v}`, '22P02');
  }
  if (typeof v === 'bigint') return foldInt8BigInt(v);
  if (typeof v === 'string') {
    if (!scanInteger(v)) throw invalidSyntax('int8', v);
    const end = DIGITS[DIGITS_END]!;
    const neg = DIGITS[DIGITS_NEG] === 1;
    let i = DIGITS[DIGITS_START]!;
    while (i < end - 1 && v.charCodeAt(i) === 48) i++;
    if (end - i <= 15) {
      // Below 10^15 < 2^53: exact as a number.
      let x = 0;
      for (; i < end; i++) x = x * 10 + (v.charCodeAt(i) - 48);
      return foldInt8Number(neg ? -x : x);
    }
    if (end - i > 19) throw outOfRange('int8', v);
    const big = BigInt(v.slice(i, end));
    const signed = neg ? -big : big;
    if (signed < INT8_MIN || signed > INT8_MAX) throw outOfRange('int8', v);
    return foldInt8BigInt(signed);
  }
  throw new TypeError(`int8 key must be a number, bigint or string, got ${describe(v)}`);
}

// UTF-8: short ASCII strings are copied into a scratch buffer by a plain loop (cheaper than a call
// into the encoder); others are encoded with TextEncoder, into the scratch buffer when they surely
// fit. Measured crossover (bench/hash-bench.ts) is around 12-16 characters.
const SCRATCH = new Uint8Array(4096);
const ENCODER = new TextEncoder();
const SHORT_ASCII_MAX = 12;

/**
 * Writes the UTF-8 bytes of s into SCRATCH and returns their count, or returns -1 (writing
 * nothing) when they might not fit.
 */
function utf8IntoScratch(s: string): number {
  const n = s.length;
  if (n <= SHORT_ASCII_MAX) {
    let i = 0;
    for (; i < n; i++) {
      const ch = s.charCodeAt(i);
      if (ch >= 0x80) break;
      SCRATCH[i] = ch;
    }
    return i === n ? n : ENCODER.encodeInto(s, SCRATCH).written;
  }
  return n * 3 <= SCRATCH.length ? ENCODER.encodeInto(s, SCRATCH).written : -1;
}

/** hash_bytes_extended of the UTF-8 bytes of s; result in OUT. */
function stringCore(s: string, seedHi: number, seedLo: number): void {
  const n = utf8IntoScratch(s);
  if (n >= 0) {
    bytesCore(SCRATCH, n, seedHi, seedLo);
  } else {
    const bytes = ENCODER.encode(s);
    bytesCore(bytes, bytes.length, seedHi, seedLo);
  }
}

/** Hex digit values by char code (0..127), -1 for non-hex. */
const HEX = new Int8Array(128).fill(-1);
for (let d = 0; d < 10; d++) HEX[48 + d] = d;
for (let d = 0; d < 6; d++) {
  HEX[65 + d] = 10 + d;
  HEX[97 + d] = 10 + d;
}

/** A parsed uuid: its 16 bytes as four little-endian words. */
const UUID_WORDS = new Int32Array(4);

function hexAt(s: string, i: number): number {
  const ch = s.charCodeAt(i);
  return ch < 128 ? HEX[ch]! : -1;
}

/** The byte written as two hex digits at s[i], s[i + 1]; negative if either is not a hex digit. */
function hexByte(s: string, i: number): number {
  return (hexAt(s, i) << 4) | hexAt(s, i + 1);
}

function invalidUuid(s: string): KeyValueError {
  return new KeyValueError(`invalid input syntax for type uuid: "${s}"`, '22P02');
}

/** Parses a uuid into UUID_WORDS. */
function loadUuid(v: KeyValue): void {
  if (typeof v === 'string') {
    // Canonical 8-4-4-4-12 (any case): the common case, parsed without intermediate bytes. A
    // non-hex digit makes its byte negative.
    if (v.length === 36 && v.charCodeAt(8) === 45 && v.charCodeAt(13) === 45 && v.charCodeAt(18) === 45 && v.charCodeAt(23) === 45) {
      const b0 = hexByte(v, 0), b1 = hexByte(v, 2), b2 = hexByte(v, 4), b3 = hexByte(v, 6);
      const b4 = hexByte(v, 9), b5 = hexByte(v, 11), b6 = hexByte(v, 14), b7 = hexByte(v, 16);
      const b8 = hexByte(v, 19), b9 = hexByte(v, 21), b10 = hexByte(v, 24), b11 = hexByte(v, 26);
      const b12 = hexByte(v, 28), b13 = hexByte(v, 30), b14 = hexByte(v, 32), b15 = hexByte(v, 34);
      if ((b0 | b1 | b2 | b3 | b4 | b5 | b6 | b7 | b8 | b9 | b10 | b11 | b12 | b13 | b14 | b15) < 0) throw invalidUuid(v);
      UUID_WORDS[0] = b0 | (b1 << 8) | (b2 << 16) | (b3 << 24);
      UUID_WORDS[1] = b4 | (b5 << 8) | (b6 << 16) | (b7 << 24);
      UUID_WORDS[2] = b8 | (b9 << 8) | (b10 << 16) | (b11 << 24);
      UUID_WORDS[3] = b12 | (b13 << 8) | (b14 << 16) | (b15 << 24);
      return;
    }
    loadUuidBytes(parseUuidText(v));
    return;
  }
  if (v instanceof Uint8Array) {
    if (v.length !== 16) throw new KeyValueError(`uuid key must be 16 bytes, got ${v.length}`, '22P02');
    loadUuidBytes(v);
    return;
  }
  throw new TypeError(`uuid key must be a string or 16 bytes, got ${describe(v)}`);
}

function loadUuidBytes(k: Uint8Array): void {
  UUID_WORDS[0] = k[0]! | (k[1]! << 8) | (k[2]! << 16) | (k[3]! << 24);
  UUID_WORDS[1] = k[4]! | (k[5]! << 8) | (k[6]! << 16) | (k[7]! << 24);
  UUID_WORDS[2] = k[8]! | (k[9]! << 8) | (k[10]! << 16) | (k[11]! << 24);
  UUID_WORDS[3] = k[12]! | (k[13]! << 8) | (k[14]! << 16) | (k[15]! << 24);
}

/**
 * uuid_in's grammar (string_to_uuid in PostgreSQL 15): optional braces around 32 hex digits, with an
 * optional '-' after any group of 4 digits except the last. No spaces.
 */
export function parseUuidText(s: string): Uint8Array {
  const out = new Uint8Array(16);
  let p = 0;
  let braces = false;
  if (s.charCodeAt(0) === 123 /* { */) {
    braces = true;
    p++;
  }
  for (let i = 0; i < 16; i++) {
    const hi = p < s.length ? hexAt(s, p) : -1;
    const lo = p + 1 < s.length ? hexAt(s, p + 1) : -1;
    if (hi < 0 || lo < 0) throw invalidUuid(s);
    out[i] = (hi << 4) | lo;
    p += 2;
    if (s.charCodeAt(p) === 45 /* - */ && i % 2 === 1 && i < 15) p++;
  }
  if (braces) {
    if (s.charCodeAt(p) !== 125 /* } */) throw invalidUuid(s);
    p++;
  }
  if (p !== s.length) throw invalidUuid(s);
  return out;
}

function describe(v: unknown): string {
  if (v === null) return 'null';
  if (v instanceof Uint8Array) return `${v.length} bytes`;
  return typeof v;
}

// ---------------------------------------------------------------------------------------------
// Public hash functions: the SQL-callable hash*extended functions of PostgreSQL 15.
// ---------------------------------------------------------------------------------------------

/** hashint2extended(v, seed). v: an integer in [-32768, 32767]. */
export function hashInt2Extended(v: number, seed: bigint): Hash64 {
  const k = toInt32('int2', v, -32768, 32767);
  loadSeed(seed);
  uint32Core(k, seedState4.a, seedState4.b, seedState4.c);
  return { hi: OUT[0]!, lo: OUT[1]! };
}

/** hashint4extended(v, seed). v: an integer in [-2^31, 2^31 - 1]. */
export function hashInt4Extended(v: number, seed: bigint): Hash64 {
  const k = toInt32('int4', v, -2147483648, 2147483647);
  loadSeed(seed);
  uint32Core(k, seedState4.a, seedState4.b, seedState4.c);
  return { hi: OUT[0]!, lo: OUT[1]! };
}

/**
 * hashint8extended(v, seed). v: a bigint, a decimal string (int8in syntax), or a number that is a
 * safe integer; the full int64 range is exact.
 */
export function hashInt8Extended(v: bigint | string | number, seed: bigint): Hash64 {
  const k = foldInt8(v);
  loadSeed(seed);
  uint32Core(k, seedState4.a, seedState4.b, seedState4.c);
  return { hi: OUT[0]!, lo: OUT[1]! };
}

/**
 * hashtextextended(s, seed) under a deterministic collation (the database default, C, C.UTF-8,
 * any libc/ICU collation created deterministic): the hash of the UTF-8 bytes. A string is encoded
 * as UTF-8 (lone surrogates become U+FFFD, as any UTF-8 encoder on the wire would do).
 */
export function hashTextExtended(s: string | Uint8Array, seed: bigint): Hash64 {
  loadSeed(seed);
  if (typeof s === 'string') {
    stringCore(s, seedHi, seedLo);
  } else if (s instanceof Uint8Array) {
    bytesCore(s, s.length, seedHi, seedLo);
  } else {
    throw new TypeError(`text key must be a string or bytes, got ${describe(s)}`);
  }
  return { hi: OUT[0]!, lo: OUT[1]! };
}

/** varchar's default hash opclass uses hashtextextended: same as hashTextExtended. */
export function hashVarcharExtended(s: string | Uint8Array, seed: bigint): Hash64 {
  return hashTextExtended(s, seed);
}

/** uuid_hash_extended(uuid, seed): the hash of the 16 bytes. Any uuid_in text form, or 16 bytes. */
export function hashUuidExtended(uuid: string | Uint8Array, seed: bigint): Hash64 {
  loadUuid(uuid);
  loadSeed(seed);
  words16Core(UUID_WORDS[0]!, UUID_WORDS[1]!, UUID_WORDS[2]!, UUID_WORDS[3]!, seedHi, seedLo);
  return { hi: OUT[0]!, lo: OUT[1]! };
}

/** hash_combine64(a, b): a ^ (b + 0x49a0f4dd15e5a8e3 + (a << 54) + (a >> 7)), modulo 2^64. */
export function hashCombine64(a: Hash64, b: Hash64): Hash64 {
  combine(a.hi, a.lo, b.hi, b.lo);
  return { hi: OUT[0]!, lo: OUT[1]! };
}

function combine(aHi: number, aLo: number, bHi: number, bLo: number): void {
  // (a << 54): only bits 0..9 of a survive, as bits 22..31 of the high word.
  const shlHi = (aLo << 22) >>> 0;
  // (a >> 7), logical.
  const shrLo = ((aLo >>> 7) | (aHi << 25)) >>> 0;
  const shrHi = aHi >>> 7;
  const sumLo = bLo + COMBINE_LO + shrLo; // < 3 * 2^32: exact
  const carry = sumLo >= 2 * TWO_32 ? 2 : sumLo >= TWO_32 ? 1 : 0;
  const sumHi = bHi + COMBINE_HI + shlHi + shrHi + carry;
  OUT[0] = aHi ^ sumHi;
  OUT[1] = aLo ^ sumLo;
}

// ---------------------------------------------------------------------------------------------
// Partitioning.
// ---------------------------------------------------------------------------------------------

/** The per-type hash with HASH_PARTITION_SEED, into OUT[0]/OUT[1]. */
function partitionTypeHash(type: KeyType, value: KeyValue): void {
  switch (type) {
    case 'int4':
      uint32Core(toInt32('int4', value, -2147483648, 2147483647), PS4_A, PS4_B, PS4_C);
      return;
    case 'int8':
      uint32Core(foldInt8(value), PS4_A, PS4_B, PS4_C);
      return;
    case 'int2':
      uint32Core(toInt32('int2', value, -32768, 32767), PS4_A, PS4_B, PS4_C);
      return;
    case 'text':
    case 'varchar':
      if (typeof value === 'string') {
        stringCore(value, PART_SEED_HI, PART_SEED_LO);
      } else if (value instanceof Uint8Array) {
        bytesCore(value, value.length, PART_SEED_HI, PART_SEED_LO);
      } else {
        throw new TypeError(`${type} key must be a string or bytes, got ${describe(value)}`);
      }
      return;
    case 'uuid':
      loadUuid(value);
      words16Core(UUID_WORDS[0]!, UUID_WORDS[1]!, UUID_WORDS[2]!, UUID_WORDS[3]!, PART_SEED_HI, PART_SEED_LO);
      return;
    default: {
      const never: never = type;
      throw new TypeError(`unknown key type ${String(never)}`);
    }
  }
}

const ZERO: Hash64 = Object.freeze({ hi: 0, lo: 0 });

/**
 * compute_partition_hash_value for a single-column key of `type` with the type's default hash
 * opclass: hash_combine64(0, hash(value, HASH_PARTITION_SEED)). A NULL key is skipped, as
 * PostgreSQL does, so its row hash is 0 (bucket 0 for every modulus).
 */
export function partitionHash(type: KeyType, value: KeyValue): Hash64 {
  if (value === null) return ZERO;
  partitionTypeHash(type, value);
  combine(0, 0, OUT[0]!, OUT[1]!);
  return { hi: OUT[0]!, lo: OUT[1]! };
}

/**
 * compute_partition_hash_value for a multi-column key (PARTITION BY HASH (c1, c2, ...)):
 * starting from 0, each non-NULL column's hash is combined in column order.
 */
export function partitionHashRow(types: readonly KeyType[], values: readonly KeyValue[]): Hash64 {
  if (types.length !== values.length) {
    throw new TypeError(`${types.length} key types but ${values.length} values`);
  }
  let hi = 0;
  let lo = 0;
  for (let i = 0; i < types.length; i++) {
    const value = values[i];
    if (value === null || value === undefined) continue;
    partitionTypeHash(types[i]!, value);
    combine(hi, lo, OUT[0]!, OUT[1]!);
    hi = OUT[0]!;
    lo = OUT[1]!;
  }
  return { hi, lo };
}

/**
 * The remainder PostgreSQL uses: `hash % modulus` on the uint64. modulus: an integer in
 * [1, 2^31 - 1] (PostgreSQL's MODULUS is an int4).
 */
export function bucketOf(hash: Hash64, modulus: number): number {
  return remainder(hash.hi, hash.lo, modulus);
}

function remainder(hi: number, lo: number, modulus: number): number {
  if ((modulus | 0) !== modulus || modulus <= 0) {
    throw new RangeError(`modulus must be an integer in [1, 2147483647], got ${modulus}`);
  }
  if ((modulus & (modulus - 1)) === 0) return (lo & (modulus - 1)) >>> 0;
  // Horner over 16-bit digits: every intermediate value stays below 2^47, so it is exact.
  let r = (hi >>> 16) % modulus;
  r = (r * 65536 + (hi & 0xffff)) % modulus;
  r = (r * 65536 + (lo >>> 16)) % modulus;
  return (r * 65536 + (lo & 0xffff)) % modulus;
}

/** bucketOf(partitionHash(type, value), modulus) without allocating the hash. */
export function partitionBucket(type: KeyType, value: KeyValue, modulus: number): number {
  if (value === null) return remainder(0, 0, modulus);
  partitionTypeHash(type, value);
  combine(0, 0, OUT[0]!, OUT[1]!);
  return remainder(OUT[0]!, OUT[1]!, modulus);
}

// ---------------------------------------------------------------------------------------------
// Conversions.
// ---------------------------------------------------------------------------------------------

/** The unsigned 64-bit value. */
export function hash64ToBigInt(h: Hash64): bigint {
  return (BigInt(h.hi) << 32n) | BigInt(h.lo);
}

/** The value as PostgreSQL's SQL-level hash*extended functions show it (a signed bigint). */
export function hash64ToSignedBigInt(h: Hash64): bigint {
  return BigInt.asIntN(64, hash64ToBigInt(h));
}

/** Any bigint, taken modulo 2^64 (so both PostgreSQL's signed form and the uint64 work). */
export function hash64FromBigInt(v: bigint): Hash64 {
  const u = BigInt.asUintN(64, v);
  return { hi: Number(u >> 32n), lo: Number(u & 0xffffffffn) };
}

/** 16 lowercase hex digits. */
export function hash64ToHex(h: Hash64): string {
  return h.hi.toString(16).padStart(8, '0') + h.lo.toString(16).padStart(8, '0');
}

export function hash64Equals(a: Hash64, b: Hash64): boolean {
  return a.hi === b.hi && a.lo === b.lo;
}
