// Global transaction identifiers for PREPARE TRANSACTION. Owns their format only: a gid names the
// proxy that prepared it, so that several proxies sharing a shard each resolve only their own in-doubt
// transactions, and it never repeats, so that a logged decision can never apply to a later transaction.
//
//   pgshard_<proxyId>_<counter>_<random>
//
// counter counts this process's gids; random (64 bits per gid) keeps gids unique across restarts of a
// proxy whose counter starts again at 1. PostgreSQL allows 199 bytes (GIDSIZE 200 with its NUL).

import { randomBytes } from 'node:crypto';

/** Longest gid PostgreSQL accepts (GIDSIZE - 1 in twophase.c). */
export const GID_BYTES_MAX = 199;

/** A proxy id goes into gids and SQL literals: letters, digits, '_', '.', '-' only. */
export const PROXY_ID_PATTERN = /^[A-Za-z0-9_.-]{1,64}$/;

const GID_PATTERN = /^pgshard_([A-Za-z0-9_.-]{1,64})_([1-9][0-9]{0,15})_([0-9a-f]{16})$/;

let counter = 0;

export interface ParsedGid {
  proxyId: string;
  counter: number;
  random: string;
}

/** A new gid for a transaction this proxy is about to prepare. */
export function makeGid(proxyId: string): string {
  if (!PROXY_ID_PATTERN.test(proxyId)) {
    throw new RangeError(`proxy id must be 1 to 64 of [A-Za-z0-9_.-], got ${JSON.stringify(proxyId)}`);
  }
  counter = counter >= Number.MAX_SAFE_INTEGER ? 1 : counter + 1;
  return `pgshard_${proxyId}_${counter}_${randomBytes(8).toString('hex')}`;
}

/** The parts of a gid made by makeGid (of any proxy), or null for any other gid. */
export function parseGid(gid: string): ParsedGid | null {
  const m = GID_PATTERN.exec(gid);
  if (m === null) return null;
  return { proxyId: m[1]!, counter: Number(m[2]!), random: m[3]! };
}
