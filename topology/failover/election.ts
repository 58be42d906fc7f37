// Who may be promoted, and whether the primary may be declared down. Pure functions over a
// FailoverState: no clock, no I/O. failover-machine.ts decides when to ask.
//
// Rules (issue #4, docs/failover.md):
// - a candidate is a replica (by its last sample) that answered its last check, is not fenced and
//   was not already tried in this attempt;
// - the one with the most WAL wins: highest receive LSN, then highest replay LSN, then config
//   priority (earlier in the config first);
// - in async replication, a candidate more than promoteLagBytesMax behind the best known LSN of the
//   shard is not promoted without FORCE;
// - a primary that failed its checks is not down while a replica that answers still streams from it.

import { assertNever } from '../../planner/assert-never.js';
import type { BlockedReason, FailoverLimits, FailoverState, NodeId, NodeView } from './failover-types.js';

/** The node answered its last check. */
export function isUp(n: NodeView): boolean {
  return n.last !== null && n.failures === 0;
}

export function isFenced(state: FailoverState, id: NodeId): boolean {
  return state.fenced.some((f) => f.node === id);
}

export function nodeView(state: FailoverState, id: NodeId): NodeView | undefined {
  return state.nodes.find((n) => n.id === id);
}

/** The most WAL a replica is known to hold: receive LSN, or replay LSN when it received nothing yet. */
export function replicaLsn(n: NodeView): bigint | null {
  const s = n.last;
  if (s === null) return null;
  if (s.receiveLsn === null) return s.replayLsn;
  if (s.replayLsn === null) return s.receiveLsn;
  return s.receiveLsn > s.replayLsn ? s.receiveLsn : s.replayLsn;
}

const maxLsn = (a: bigint | null, b: bigint | null): bigint | null => (a === null ? b : b === null ? a : a > b ? a : b);

/**
 * The furthest WAL position the shard is known to have written on its current timeline: the
 * primary's (or, during an attempt, the replaced primary's) last pg_current_wal_lsn(), and every
 * replica's received WAL. Nodes fenced before the current attempt are left out: their WAL beyond
 * the fork point belongs to an abandoned timeline.
 */
export function bestKnownLsn(state: FailoverState): bigint | null {
  const primaryId = state.primary ?? state.attempt?.from ?? null;
  const sinceTerm = state.attempt?.firstTerm ?? Number.POSITIVE_INFINITY;
  let best: bigint | null = null;
  for (const n of state.nodes) {
    if (n.id === primaryId) {
      if (n.last?.role === 'primary') best = maxLsn(best, n.last.currentLsn);
      continue;
    }
    const fence = state.fenced.find((f) => f.node === n.id);
    if (fence !== undefined && fence.term < sinceTerm) continue;
    if (n.last?.role === 'replica') best = maxLsn(best, replicaLsn(n));
  }
  return best;
}

/** Candidates for promotion, best first. */
export function rankCandidates(state: FailoverState): NodeView[] {
  const primaryId = state.primary ?? state.attempt?.from ?? null;
  const tried = state.attempt?.tried ?? [];
  const eligible = state.nodes.filter(
    (n) =>
      n.id !== primaryId &&
      isUp(n) &&
      n.last?.role === 'replica' &&
      replicaLsn(n) !== null &&
      !isFenced(state, n.id) &&
      !tried.includes(n.id),
  );
  return eligible.sort(compareCandidates);
}

function compareCandidates(a: NodeView, b: NodeView): number {
  const byLsn = compareDesc(a.last?.receiveLsn ?? replicaLsn(a), b.last?.receiveLsn ?? replicaLsn(b));
  if (byLsn !== 0) return byLsn;
  const byReplay = compareDesc(a.last?.replayLsn ?? null, b.last?.replayLsn ?? null);
  if (byReplay !== 0) return byReplay;
  return a.priority - b.priority;
}

/** Descending order of LSNs, unknown (null) last. */
function compareDesc(a: bigint | null, b: bigint | null): number {
  if (a === b) return 0;
  if (a === null) return 1;
  if (b === null) return -1;
  return a > b ? -1 : 1;
}

export type Election =
  | { readonly kind: 'elected'; readonly candidate: NodeId; readonly lagBytes: bigint }
  | { readonly kind: 'blocked'; readonly reason: BlockedReason };

/** The replica to promote now, or why none may be. */
export function elect(state: FailoverState, limits: FailoverLimits, force: boolean): Election {
  const ranked = rankCandidates(state);
  const best = ranked[0];
  if (best === undefined) {
    const tried = state.attempt?.tried ?? [];
    const detail = tried.length > 0 ? `no reachable replica left (tried: ${tried.join(', ')})` : 'no reachable replica';
    return { kind: 'blocked', reason: { kind: 'no-candidate', detail } };
  }
  const known = bestKnownLsn(state);
  const own = replicaLsn(best) ?? 0n;
  const lagBytes = known !== null && known > own ? known - own : 0n;
  if (limits.replication === 'async' && !force && lagBytes > BigInt(limits.promoteLagBytesMax)) {
    return { kind: 'blocked', reason: { kind: 'lag', candidate: best.id, lagBytes, limitBytes: limits.promoteLagBytesMax } };
  }
  return { kind: 'elected', candidate: best.id, lagBytes };
}

/**
 * Whether a replica's last sample says it may be streaming from `primary`. Unknown counts as yes:
 * a receiver whose status cannot be seen, or an upstream address that is not another node of the
 * shard (the checker may see 127.0.0.1 where the config says localhost).
 */
export function mayStreamFrom(state: FailoverState, n: NodeView, primary: NodeId): boolean {
  const s = n.last;
  if (s === null || s.role !== 'replica' || s.receiving === false) return false;
  const up = s.upstream ?? null;
  return up === null || up === primary || !state.nodes.some((o) => o.id === up);
}

/**
 * Replicas that answer their checks and still stream WAL from the primary: while there is one, the
 * primary is alive (only this proxy cannot reach it) and is not failed over.
 */
export function replicasStillReceiving(state: FailoverState): NodeId[] {
  const primaryId = state.primary;
  if (primaryId === null) return [];
  return state.nodes.filter((n) => n.id !== primaryId && isUp(n) && !isFenced(state, n.id) && mayStreamFrom(state, n, primaryId)).map((n) => n.id);
}

export function describeBlocked(reason: BlockedReason): string {
  switch (reason.kind) {
    case 'disabled':
      return 'automatic failover is disabled (failover.enabled = false): use FAILOVER';
    case 'no-candidate':
      return reason.detail;
    case 'lag':
      return `best candidate ${reason.candidate} is ${reason.lagBytes} bytes behind (failover.promoteLagBytesMax = ${reason.limitBytes}): use FAILOVER ... FORCE to promote it anyway`;
    default:
      return assertNever(reason);
  }
}
