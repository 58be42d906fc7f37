// PostgreSQL log sequence numbers (pg_lsn) as 64-bit unsigned integers held in a bigint: parsing the
// text form `16/B374D848`, formatting it back, comparing, and the byte distance between two positions.
// Pure; no I/O. A `number` cannot hold an LSN exactly (WAL positions pass 2^53 on long-lived
// clusters), so every comparison and subtraction happens on bigint.
//
// Text form (src/backend/utils/adt/pg_lsn.c, pg_lsn_in_internal / pg_lsn_out): two groups of 1–8
// hexadecimal digits separated by '/', the high and the low 32 bits; no sign, no spaces. Output is
// `%X/%X`: upper case, no leading zeros. 0/0 is InvalidXLogRecPtr ("no position").

/** A WAL position: an integer in [0, 2^64 − 1]. */
export type Lsn = bigint;

export const LSN_ZERO: Lsn = 0n;
export const LSN_MAX: Lsn = 0xffff_ffff_ffff_ffffn;

/** Text longer than this is never an LSN ("FFFFFFFF/FFFFFFFF" is 17 characters). */
const LSN_TEXT_MAX = 17;
/** How much of a rejected input an error message quotes (inputs can be arbitrary user text). */
const QUOTE_MAX = 40;

const LSN_TEXT = /^([0-9A-Fa-f]{1,8})\/([0-9A-Fa-f]{1,8})$/;

/**
 * Text that is not an LSN. `sqlstate` is the one PostgreSQL raises for `'x'::pg_lsn`
 * (22P02 invalid_text_representation); callers that parse user input under another contract
 * (e.g. a causal token, 22023) wrap it.
 */
export class LsnError extends Error {
  override readonly name = 'LsnError';
  readonly sqlstate = '22P02' as const;
}

function quote(text: string): string {
  return JSON.stringify(text.length > QUOTE_MAX ? `${text.slice(0, QUOTE_MAX)}...` : text);
}

/** Parses `H/L` as PostgreSQL does; throws LsnError for anything else. */
export function parseLsn(text: string): Lsn {
  const m = text.length <= LSN_TEXT_MAX ? LSN_TEXT.exec(text) : null;
  if (m === null) throw new LsnError(`invalid input syntax for type pg_lsn: ${quote(text)} (expected two groups of 1-8 hex digits, e.g. 16/B374D848)`);
  return (BigInt(`0x${m[1]!}`) << 32n) | BigInt(`0x${m[2]!}`);
}

/** parseLsn for a nullable column (SQL NULL stays null). */
export function parseLsnOrNull(text: string | null): Lsn | null {
  return text === null ? null : parseLsn(text);
}

export function isLsn(value: bigint): boolean {
  return value >= LSN_ZERO && value <= LSN_MAX;
}

function checkRange(lsn: Lsn): void {
  if (!isLsn(lsn)) throw new RangeError(`${lsn} is outside the pg_lsn range [0, 2^64 - 1]`);
}

/** `%X/%X`, exactly as PostgreSQL prints a pg_lsn. */
export function formatLsn(lsn: Lsn): string {
  checkRange(lsn);
  const hi = lsn >> 32n;
  const lo = lsn & 0xffff_ffffn;
  return `${hi.toString(16).toUpperCase()}/${lo.toString(16).toUpperCase()}`;
}

/** formatLsn for a nullable value (null stays null). */
export function formatLsnOrNull(lsn: Lsn | null): string | null {
  return lsn === null ? null : formatLsn(lsn);
}

/** -1, 0 or 1, for sorting. */
export function compareLsn(a: Lsn, b: Lsn): -1 | 0 | 1 {
  return a < b ? -1 : a > b ? 1 : 0;
}

/** a − b in bytes of WAL, signed (pg_wal_lsn_diff). */
export function lsnDiff(a: Lsn, b: Lsn): bigint {
  checkRange(a);
  checkRange(b);
  return a - b;
}

/** How many bytes `behind` is behind `ahead`; 0 when it is level or ahead (lag is never negative). */
export function bytesBehind(ahead: Lsn, behind: Lsn): bigint {
  const d = lsnDiff(ahead, behind);
  return d > 0n ? d : 0n;
}

/** The later of two positions, either of which may be unknown (null). */
export function maxLsn(a: Lsn | null, b: Lsn | null): Lsn | null {
  if (a === null) return b;
  if (b === null) return a;
  return a > b ? a : b;
}

/** `reached` is known and at or past `target`. */
export function lsnReached(reached: Lsn | null, target: Lsn): boolean {
  return reached !== null && reached >= target;
}
