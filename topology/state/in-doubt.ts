// What to do with the prepared transactions found on the shards (pg_prepared_xacts), given the
// decisions in this proxy's log. Pure: no I/O, no clock; the caller runs the statements. Owns the
// rule of presumed abort: a transaction of this proxy is committed only if its decision was logged,
// and every other one of its transactions is rolled back; other proxies' and foreign gids are never
// touched.
//
// At startup no transaction of this proxy can still be on its way to a decision (the process that
// prepared it is gone), so minAgeMs can be 0. When resolution also runs while the proxy serves
// clients, a transaction may be prepared on some shards while the coordinator is still preparing the
// others or writing its decision: such gids must be in `active`, and minAgeMs (well above the longest
// PREPARE + fsync, and above the clock skew between proxy and shards) keeps young ones safe besides.

import { parseGid } from './gid.js';

export interface PreparedXact {
  shard: number;
  gid: string;
  /**
   * When it was prepared (pg_prepared_xacts.prepared), in the proxy's clock. Best computed from the
   * shard's own clock: nowMs - (shard now() - prepared).
   */
  preparedAtMs: number;
}

export interface InDoubtInput {
  proxyId: string;
  /** Gids with a logged commit decision (DecisionLog.pending()). */
  logged: ReadonlySet<string>;
  prepared: readonly PreparedXact[];
  nowMs: number;
  /** Younger unlogged transactions are left alone: 0 at startup, more when running live. */
  minAgeMs: number;
  /** Gids the live coordinator is working on right now; never touched. */
  active?: ReadonlySet<string>;
}

export interface Resolution {
  shard: number;
  gid: string;
  action: 'commit' | 'rollback';
}

/** COMMIT PREPARED / ROLLBACK PREPARED to run, one per (shard, gid), in the order found. */
export function resolveInDoubt(input: InDoubtInput): Resolution[] {
  const out: Resolution[] = [];
  const seen = new Set<string>();
  for (const p of input.prepared) {
    const key = `${p.shard}\u0000${p.gid}`;
    if (seen.has(key)) continue;
    seen.add(key);
    if (input.active?.has(p.gid) === true) continue;
    if (input.logged.has(p.gid)) {
      out.push({ shard: p.shard, gid: p.gid, action: 'commit' });
      continue;
    }
    const parsed = parseGid(p.gid);
    if (parsed === null || parsed.proxyId !== input.proxyId) continue;
    if (input.nowMs - p.preparedAtMs < input.minAgeMs) continue;
    out.push({ shard: p.shard, gid: p.gid, action: 'rollback' });
  }
  return out;
}

export interface FinishedInput {
  /** The logged decisions (DecisionLog.pending()). */
  decisions: readonly { gid: string; participants: readonly number[] }[];
  prepared: readonly PreparedXact[];
  /** Shards whose pg_prepared_xacts was read successfully this round. */
  queriedShards: ReadonlySet<number>;
  active?: ReadonlySet<string>;
}

/**
 * Decisions that can be forgotten: prepared on no shard that was read, and every participant was
 * read. A participant that could not be read may still hold the transaction prepared; forgetting its
 * decision then would make the next recovery roll it back.
 */
export function finishedDecisions(input: FinishedInput): string[] {
  const stillPrepared = new Set(input.prepared.map((p) => p.gid));
  const out: string[] = [];
  for (const d of input.decisions) {
    if (stillPrepared.has(d.gid) || input.active?.has(d.gid) === true) continue;
    if (d.participants.every((s) => input.queriedShards.has(s))) out.push(d.gid);
  }
  return out;
}
