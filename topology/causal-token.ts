// The causal token: a session's write positions (per database and shard: the failover term and the
// WAL position of its last commit) as opaque text another session can import, so it reads those
// writes (`SHOW pgshard.causal_token` in one session, `SET pgshard.causal_token = '...'` in another).
// Pure encode/decode/merge; the session layer decides when to record and apply positions.
//
// Format, version 1 (a stable contract, docs/replicas.md):
//   "v1." + base64url(UTF-8 JSON of [[database, shard, term, "H/L"], ...]), no padding
// entries sorted by database then shard, one per (database, shard). URL-safe (RFC 4648 §5 alphabet
// plus '.'), so it passes through HTTP headers, query strings and SQL literals without escaping.
// Apps must treat it as opaque: a later version may change the payload, never the "vN." prefix.

import { LsnError, formatLsn, parseLsn, type Lsn } from './lsn.js';

export interface CausalEntry {
  readonly database: string;
  readonly shard: string;
  /** The shard's failover term when the position was recorded (grows with every promotion). */
  readonly term: number;
  readonly lsn: Lsn;
}

export const CAUSAL_TOKEN_PREFIX = 'v1.';
/** Longest token decoded by default: far above a real one (~40 characters per shard), small enough to refuse junk cheaply. */
export const CAUSAL_TOKEN_CHARS_MAX = 65_536;
/** Database and shard names in a token (pgshard's client-facing names; PostgreSQL's own are ≤ 63 bytes). */
const NAME_CHARS_MAX = 256;
const BASE64URL = /^[A-Za-z0-9_-]*$/;

/** A token that cannot be read: 22023 invalid_parameter_value, as for any bad SET value. */
export class CausalTokenError extends Error {
  override readonly name = 'CausalTokenError';
  readonly sqlstate = '22023' as const;
  constructor(detail: string) {
    super(`invalid causal token: ${detail}`);
  }
}

const entryKey = (e: Pick<CausalEntry, 'database' | 'shard'>): string => `${e.database}\u0000${e.shard}`;

function compareEntries(a: CausalEntry, b: CausalEntry): number {
  if (a.database !== b.database) return a.database < b.database ? -1 : 1;
  if (a.shard !== b.shard) return a.shard < b.shard ? -1 : 1;
  return 0;
}

/** a is a later position than b: a higher term, or the same term and a higher LSN. */
export function isLaterPosition(a: Pick<CausalEntry, 'term' | 'lsn'>, b: Pick<CausalEntry, 'term' | 'lsn'>): boolean {
  return a.term !== b.term ? a.term > b.term : a.lsn > b.lsn;
}

/** One entry per (database, shard), the later position winning; sorted (the token's canonical order). */
export function mergeCausalEntries(...lists: readonly (readonly CausalEntry[])[]): CausalEntry[] {
  const byKey = new Map<string, CausalEntry>();
  for (const list of lists) {
    for (const e of list) {
      const k = entryKey(e);
      const have = byKey.get(k);
      if (have === undefined || isLaterPosition(e, have)) byKey.set(k, e);
    }
  }
  return [...byKey.values()].sort(compareEntries);
}

function checkName(value: unknown, what: string, index: number): string {
  if (typeof value !== 'string' || value.length === 0 || value.length > NAME_CHARS_MAX) {
    throw new CausalTokenError(`entry ${index}: ${what} must be a non-empty string of at most ${NAME_CHARS_MAX} characters`);
  }
  return value;
}

function checkTerm(value: unknown, index: number): number {
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 0) {
    throw new CausalTokenError(`entry ${index}: term must be a non-negative integer`);
  }
  return value;
}

/**
 * The token for these positions (duplicates merged, the later position kept). Throws CausalTokenError
 * for an entry no decoder would accept back (empty or over-long name, negative term), RangeError for
 * an LSN outside 64 bits.
 */
export function encodeCausalToken(entries: readonly CausalEntry[]): string {
  const rows = mergeCausalEntries(entries).map((e, i) => {
    checkName(e.database, 'database', i);
    checkName(e.shard, 'shard', i);
    checkTerm(e.term, i);
    return [e.database, e.shard, e.term, formatLsn(e.lsn)];
  });
  return CAUSAL_TOKEN_PREFIX + Buffer.from(JSON.stringify(rows), 'utf8').toString('base64url');
}

/** Reads a token; throws CausalTokenError (22023) saying what is wrong. The empty token has no entries. */
export function decodeCausalToken(text: string, maxChars = CAUSAL_TOKEN_CHARS_MAX): CausalEntry[] {
  if (text.length > maxChars) throw new CausalTokenError(`longer than ${maxChars} characters`);
  if (text === '') return [];
  const dot = text.indexOf('.');
  const version = dot < 0 ? '' : text.slice(0, dot + 1);
  if (version !== CAUSAL_TOKEN_PREFIX) {
    const hint = /^v\d+\.$/.test(version) ? `unsupported version ${JSON.stringify(version.slice(0, -1))}` : 'it does not start with "v1."';
    throw new CausalTokenError(`${hint} (a token comes from SHOW pgshard.causal_token)`);
  }
  const body = text.slice(dot + 1);
  if (!BASE64URL.test(body)) throw new CausalTokenError('characters outside the base64url alphabet');
  let payload: unknown;
  try {
    payload = JSON.parse(Buffer.from(body, 'base64url').toString('utf8'));
  } catch {
    throw new CausalTokenError('the payload is not readable (truncated or altered?)');
  }
  if (!Array.isArray(payload)) throw new CausalTokenError('the payload is not a list of positions');
  const entries: CausalEntry[] = [];
  const seen = new Set<string>();
  for (const [i, row] of payload.entries()) {
    if (!Array.isArray(row) || row.length !== 4) throw new CausalTokenError(`entry ${i}: expected [database, shard, term, lsn]`);
    const [db, shard, term, lsn] = row as unknown[];
    const entry: CausalEntry = {
      database: checkName(db, 'database', i),
      shard: checkName(shard, 'shard', i),
      term: checkTerm(term, i),
      lsn: lsnOf(lsn, i),
    };
    const k = entryKey(entry);
    if (seen.has(k)) throw new CausalTokenError(`entry ${i}: ${entry.database}/${entry.shard} appears twice`);
    seen.add(k);
    entries.push(entry);
  }
  return entries.sort(compareEntries);
}

function lsnOf(value: unknown, index: number): Lsn {
  if (typeof value !== 'string') throw new CausalTokenError(`entry ${index}: lsn must be a string like "16/B374D848"`);
  try {
    return parseLsn(value);
  } catch (err) {
    if (err instanceof LsnError) throw new CausalTokenError(`entry ${index}: ${err.message}`);
    throw err;
  }
}
