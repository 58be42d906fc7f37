// The keys of the pinned hash vectors: a deterministic list per key type (hand-picked edge cases,
// then pseudo-random keys from a fixed seed), and the fixture format. generate-fixtures.ts hashed
// exactly these keys with PostgreSQL 15 into fixtures/<type>.bin.gz; pg-hash.test.ts regenerates
// them and checks every one. The keys are generated rather than stored to keep the fixtures small
// (a 64-bit hash per key is already ~4.5 MB for all types). Changing anything here invalidates the
// fixtures: the test checks a digest of the keys first.
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gunzipSync } from 'node:zlib';
import type { KeyType } from '../../../planner/hash/pg-hash.js';

export const VECTOR_COUNT = 100_000;
export const FIXTURE_DIR = join(dirname(fileURLToPath(import.meta.url)), 'fixtures');
/** The modulus whose buckets the generator verified against PostgreSQL's partitioning. */
export const FIXTURE_MODULUS = 1024;
export const FIXTURE_FORMAT = 'pgshard-hash-vectors/1';

/**
 * A fixture file is gzip of: this header as one JSON line, '\n', then `count` big-endian uint64s:
 * PostgreSQL's per-type hash (the SQL function of the type's default hash opclass, with
 * HASH_PARTITION_SEED) of each key of vectorKeys(type), in order.
 */
export interface FixtureHeader {
  format: string;
  postgres: string;
  type: KeyType;
  sqlFunction: string;
  count: number;
  keysSha256: string;
  /** What the generator checked against PostgreSQL's partitioning before writing the file. */
  verified: string;
}

export interface Fixture {
  header: FixtureHeader;
  /** hashes[2 * j] = high 32 bits, hashes[2 * j + 1] = low 32 bits of the hash of key j. */
  hashes: Uint32Array;
}

export function readFixture(type: KeyType): Fixture {
  const raw = gunzipSync(readFileSync(join(FIXTURE_DIR, `${type}.bin.gz`)));
  const nl = raw.indexOf(0x0a);
  const header = JSON.parse(raw.subarray(0, nl).toString('utf8')) as FixtureHeader;
  const body = raw.subarray(nl + 1);
  if (header.format !== FIXTURE_FORMAT || header.type !== type || body.length !== header.count * 8) {
    throw new Error(`fixtures/${type}.bin.gz: unexpected header or size`);
  }
  const view = new DataView(body.buffer, body.byteOffset, body.byteLength);
  const hashes = new Uint32Array(header.count * 2);
  for (let j = 0; j < hashes.length; j++) hashes[j] = view.getUint32(j * 4, false);
  return { header, hashes };
}

/** Keys as PostgreSQL input text (int8 keys are exact decimal strings). */
export function vectorKeys(type: KeyType): string[] {
  switch (type) {
    case 'int2':
      return int2Keys();
    case 'int4':
      return int4Keys();
    case 'int8':
      return int8Keys();
    case 'text':
      return textKeys(0x7e57_0001, true);
    case 'varchar':
      return textKeys(0x7e57_0002, false);
    case 'uuid':
      return uuidKeys();
  }
}

/** sha256 of the keys joined by NUL (no key contains NUL), to detect a changed generator. */
export function keysDigest(keys: readonly string[]): string {
  const h = createHash('sha256');
  for (const k of keys) {
    h.update(k, 'utf8');
    h.update('\0');
  }
  return h.digest('hex');
}

/** sfc32: a small, fast, well-distributed 32-bit PRNG (test data only). */
export class Rng {
  #a: number;
  #b: number;
  #c: number;
  #d = 1;

  constructor(seed: number) {
    this.#a = 0x9e3779b9;
    this.#b = 0x243f6a88;
    this.#c = seed | 0;
    for (let i = 0; i < 15; i++) this.u32();
  }

  u32(): number {
    const t = (((this.#a + this.#b) | 0) + this.#d) | 0;
    this.#d = (this.#d + 1) | 0;
    this.#a = this.#b ^ (this.#b >>> 9);
    this.#b = (this.#c + (this.#c << 3)) | 0;
    this.#c = (this.#c << 21) | (this.#c >>> 11);
    this.#c = (this.#c + t) | 0;
    return t >>> 0;
  }

  /** Uniform integer in [0, n), n <= 2^32. */
  below(n: number): number {
    return Math.floor((this.u32() / 4294967296) * n);
  }

  /** Uniform integer in [lo, hi]. */
  between(lo: number, hi: number): number {
    return lo + this.below(hi - lo + 1);
  }

  pick<T>(items: readonly T[]): T {
    return items[this.below(items.length)]!;
  }

  u64(): bigint {
    return (BigInt(this.u32()) << 32n) | BigInt(this.u32());
  }
}

class KeySet {
  readonly keys: string[] = [];
  readonly #seen = new Set<string>();

  constructor(readonly limit: number) {}

  add(k: string): void {
    if (this.keys.length >= this.limit || this.#seen.has(k)) return;
    this.#seen.add(k);
    this.keys.push(k);
  }

  get full(): boolean {
    return this.keys.length >= this.limit;
  }
}

function int2Keys(): string[] {
  const out: string[] = [];
  for (let v = -32768; v <= 32767; v++) out.push(String(v));
  return out;
}

function int4Keys(): string[] {
  const set = new KeySet(VECTOR_COUNT);
  const min = -2147483648;
  const max = 2147483647;
  const add = (v: number): void => {
    if (Number.isInteger(v) && v >= min && v <= max) set.add(String(v));
  };
  for (const v of [0, 1, -1, min, max, min + 1, max - 1]) add(v);
  for (let k = 0; k <= 31; k++) {
    const p = 2 ** k;
    for (const v of [p, p - 1, p + 1, -p, -p + 1, -p - 1]) add(v);
  }
  for (let v = -2000; v <= 2000; v++) add(v);
  const rng = new Rng(0x1e57_0004);
  while (!set.full) {
    const r = rng.below(10);
    if (r < 6) add(rng.u32() | 0);
    else if (r < 8) add(rng.between(-65536, 65536));
    else add(rng.between(-(1 << 24), 1 << 24));
  }
  return set.keys;
}

function int8Keys(): string[] {
  const set = new KeySet(VECTOR_COUNT);
  const min = -(2n ** 63n);
  const max = 2n ** 63n - 1n;
  const add = (v: bigint): void => {
    if (v >= min && v <= max) set.add(v.toString());
  };
  for (const v of [0n, 1n, -1n, min, max, min + 1n, max - 1n]) add(v);
  for (let k = 0n; k <= 63n; k++) {
    const p = 2n ** k;
    for (const v of [p, p - 1n, p + 1n, -p, -p + 1n, -p - 1n]) add(v);
  }
  // Around the boundaries a JS number can hold exactly, and around the int4 range.
  for (const c of [2n ** 53n, 2n ** 31n, 2n ** 32n]) {
    for (let d = -3n; d <= 3n; d++) {
      add(c + d);
      add(-c + d);
    }
  }
  for (let v = -1000n; v <= 1000n; v++) add(v);
  const rng = new Rng(0x1e57_0008);
  while (!set.full) {
    const r = rng.below(20);
    if (r < 10) add(BigInt.asIntN(64, rng.u64()));
    else if (r < 14) add(BigInt.asIntN(54, rng.u64())); // within ±2^53
    else if (r < 17) add(BigInt(rng.u32() | 0)); // int4 range
    else add(BigInt(rng.between(-65536, 65536)) * 2n ** 32n + BigInt(rng.u32())); // small high word
  }
  return set.keys;
}

// Code points by UTF-8 length, for random strings. No U+0000 (PostgreSQL text cannot hold it).
const ASCII_PRINTABLE = Array.from({ length: 95 }, (_, i) => String.fromCharCode(32 + i));
const ASCII_CONTROL = ['\t', '\n', '\r', '\x01', '\x1f', '\x7f'];
const TWO_BYTE = ['é', 'ü', 'ß', 'ñ', 'ø', 'Ω', 'π', 'Ж', 'я', 'א', 'ع', '\u0080', '\u07ff', '\u00a0', '\u0301'];
const THREE_BYTE = ['中', '文', '日', '本', '語', 'ア', 'ー', '한', '€', '\u0800', '\uffff', '\ufeff', '\u2028', '\ud7ff', '\ue000'];
const FOUR_BYTE = ['😀', '🙂', '🚀', '👍🏽', '𝄞', '𠀀', '\u{10000}', '\u{10ffff}', '🇫🇷'];

function randomChar(rng: Rng, mix: number): string {
  // mix 0: ASCII only; 1: mostly ASCII; 2: anything.
  const r = rng.below(100);
  if (mix === 0 || r < (mix === 1 ? 80 : 40)) {
    return rng.below(50) === 0 ? rng.pick(ASCII_CONTROL) : rng.pick(ASCII_PRINTABLE);
  }
  if (r < (mix === 1 ? 90 : 60)) return rng.pick(TWO_BYTE);
  if (r < (mix === 1 ? 96 : 80)) return rng.pick(THREE_BYTE);
  if (r < (mix === 1 ? 99 : 92)) return rng.pick(FOUR_BYTE);
  // Any scalar value (no surrogates, no NUL).
  for (;;) {
    const cp = rng.between(1, 0x10ffff);
    if (cp < 0xd800 || cp > 0xdfff) return String.fromCodePoint(cp);
  }
}

function randomString(rng: Rng, chars: number, mix: number): string {
  let s = '';
  for (let i = 0; i < chars; i++) s += randomChar(rng, mix);
  return s;
}

/** A string of exactly `bytes` UTF-8 bytes mixing 1- to 4-byte characters. */
function stringOfBytes(rng: Rng, bytes: number): string {
  let s = '';
  let left = bytes;
  while (left > 0) {
    const n = rng.between(1, Math.min(4, left));
    if (n === 1) s += rng.pick(ASCII_PRINTABLE);
    else if (n === 2) s += rng.pick(TWO_BYTE);
    else if (n === 3) s += rng.pick(THREE_BYTE);
    else s += rng.pick(FOUR_BYTE.filter((c) => Buffer.byteLength(c) === 4));
    left -= n;
  }
  return s;
}

function textKeys(seed: number, withFixed: boolean): string[] {
  const set = new KeySet(VECTOR_COUNT);
  const rng = new Rng(seed);
  set.add('');
  if (withFixed) {
    for (const s of [
      'a', 'abc', 'hello world', 'é', '中文', '😀', 'é中😀', 'e\u0301', 'Ünïcödé', '日本語テキスト', '🙂🙃',
      "it's", 'back\\slash', 'quote"d', 'tab\there', 'new\nline', ' leading', 'trailing ', '{braces}',
      'NULL', 'null', '0', '-1', '00000000-0000-0000-0000-000000000000', 'x'.repeat(12), 'y'.repeat(24),
    ]) {
      set.add(s);
    }
  }
  // Every length 0..64 (bytes = chars for ASCII): every tail case of hash_bytes, several blocks.
  for (let len = 0; len <= 64; len++) {
    for (let i = 0; i < 40; i++) set.add(randomString(rng, len, 0));
  }
  // Every UTF-8 byte length 1..64 with multi-byte characters.
  for (let bytes = 1; bytes <= 64; bytes++) {
    for (let i = 0; i < 40; i++) set.add(stringOfBytes(rng, bytes));
  }
  // Around 1 KB, and a few larger than the hasher's 4 KB scratch buffer.
  for (let i = 0; i < 150; i++) set.add(randomString(rng, rng.between(1000, 1100), 0));
  for (let i = 0; i < 50; i++) set.add(randomString(rng, rng.between(300, 400), 2));
  for (let i = 0; i < 10; i++) set.add(randomString(rng, rng.between(4090, 4100), 0));
  for (let i = 0; i < 10; i++) set.add(randomString(rng, rng.between(1360, 1370), 2));
  for (let i = 0; i < 5; i++) set.add(randomString(rng, rng.between(5000, 6000), 1));
  while (!set.full) {
    const r = rng.below(10);
    if (r < 5) set.add(randomString(rng, rng.between(1, 24), 0));
    else if (r < 8) set.add(randomString(rng, rng.between(1, 40), 1));
    else set.add(randomString(rng, rng.between(1, 20), 2));
  }
  return set.keys;
}

function uuidText(hi: bigint, lo: bigint): string {
  const hex = hi.toString(16).padStart(16, '0') + lo.toString(16).padStart(16, '0');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

function uuidKeys(): string[] {
  const set = new KeySet(VECTOR_COUNT);
  const all = 2n ** 64n - 1n;
  set.add(uuidText(0n, 0n));
  set.add(uuidText(all, all));
  for (let bit = 0n; bit < 64n; bit++) {
    set.add(uuidText(1n << bit, 0n));
    set.add(uuidText(0n, 1n << bit));
    set.add(uuidText(all ^ (1n << bit), all));
    set.add(uuidText(all, all ^ (1n << bit)));
  }
  for (let byte = 0n; byte < 8n; byte++) {
    set.add(uuidText(0xffn << (byte * 8n), 0n));
    set.add(uuidText(0n, 0xffn << (byte * 8n)));
  }
  for (let i = 1n; i <= 256n; i++) set.add(uuidText(0n, i));
  const rng = new Rng(0x1e57_0016);
  while (!set.full) {
    let hi = rng.u64();
    let lo = rng.u64();
    if (rng.below(2) === 0) {
      // RFC 4122 version 4 layout.
      hi = (hi & ~0xf000n) | 0x4000n;
      lo = (lo & ~(0xc000n << 48n)) | (0x8000n << 48n);
    }
    set.add(uuidText(hi, lo));
  }
  return set.keys;
}
