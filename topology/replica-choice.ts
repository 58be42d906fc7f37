// Where a read goes, given the session's read consistency: the primary, one replica, or "wait for a
// replica to replay this LSN" (sync). Pure: the caller supplies the node views (health), each
// replica's in-flight query count, the session's position and the clock; it carries out a wait with
// HealthChecker.waitForReplay and falls back to the primary when that returns null.
//
// Levels (issue #4, docs/replicas.md):
// - strong: the primary.
// - sync (read-your-writes): a routable replica whose replay LSN (as last seen) is at or past the
//   session's last commit on the shard; none → wait up to reads.syncWaitMs for a routable replica to
//   reach it (only for replicas whose known lag is within twice that wait); still none → the primary. A session without a recorded commit reads any routable replica.
// - bounded: a routable replica whose staleness bound is ≤ maxStalenessMs. The bound is its lag in ms
//   plus the time elapsed since the lag was measured (NodeView.lagAtMs): the replica may have
//   replayed nothing since, so only the sum is a bound that holds now. None → the primary.
// - async: any routable replica; none → the primary.
// Among eligible replicas the one with the fewest in-flight queries wins; ties are broken by
// `rotation` (the caller passes a counter) so equally idle replicas share the load.

import { assertNever } from '../planner/assert-never.js';
import type { ReadConsistency } from './config/config-types.js';
import type { NodeView } from './health/node-health.js';
import { lsnReached, type Lsn } from './lsn.js';

export { decodeCausalToken, encodeCausalToken, mergeCausalEntries, CausalTokenError, type CausalEntry } from './causal-token.js';

export interface ReplicaCandidate {
  /** The replica's health view (HealthChecker.snapshot()). */
  readonly node: NodeView;
  /** Queries this proxy is running on it right now. */
  readonly inFlight: number;
}

export interface ReplicaChoiceInput {
  readonly consistency: ReadConsistency;
  /** sync: the WAL position of the session's last commit on this shard (null: none recorded). */
  readonly sessionLsn: Lsn | null;
  /** bounded: the staleness the session accepts (reads.maxStalenessMs or its SET). */
  readonly maxStalenessMs: number;
  /** sync: how long a read may wait for a replica (reads.syncWaitMs); 0 never waits. */
  readonly syncWaitMs: number;
  /** The shard's replicas (any state: the choice filters). */
  readonly replicas: readonly ReplicaCandidate[];
  /** Proxy clock (the one the views' lagAtMs was taken with). */
  readonly nowMs: number;
  /** sync: this read already waited once; do not wait again. */
  readonly waited?: boolean;
  /** Breaks ties between equally loaded replicas (e.g. a counter the caller increments). */
  readonly rotation?: number;
}

export type PrimaryReason = 'strong' | 'no-replica' | 'too-stale' | 'not-replayed';

export type ReplicaChoice =
  | { readonly kind: 'primary'; readonly reason: PrimaryReason }
  | { readonly kind: 'replica'; readonly node: NodeView }
  | { readonly kind: 'wait'; readonly candidates: readonly NodeView[]; readonly lsn: Lsn; readonly timeoutMs: number };

/** How stale a replica's data may be right now, at most (ms); null when unknown. */
export function stalenessBoundMs(node: NodeView, nowMs: number): number | null {
  if (node.lagMs === null || node.lagAtMs === null) return null;
  return node.lagMs + Math.max(0, nowMs - node.lagAtMs);
}

/** The least loaded of `eligible` (non-empty), ties rotated. */
function leastLoaded(eligible: readonly ReplicaCandidate[], rotation: number): NodeView {
  let min = Number.POSITIVE_INFINITY;
  for (const c of eligible) min = Math.min(min, c.inFlight);
  const tied = eligible.filter((c) => c.inFlight === min);
  const n = tied.length;
  const pick = tied[((Math.trunc(rotation) % n) + n) % n] ?? tied[0]!;
  return pick.node;
}

function byLoad(candidates: readonly ReplicaCandidate[]): NodeView[] {
  return [...candidates].sort((a, b) => a.inFlight - b.inFlight).map((c) => c.node);
}

export function chooseReplica(input: ReplicaChoiceInput): ReplicaChoice {
  const rotation = input.rotation ?? 0;
  const routable = input.replicas.filter((c) => c.node.routable);
  switch (input.consistency) {
    case 'strong':
      return { kind: 'primary', reason: 'strong' };
    case 'async':
      return routable.length === 0 ? { kind: 'primary', reason: 'no-replica' } : { kind: 'replica', node: leastLoaded(routable, rotation) };
    case 'bounded': {
      if (routable.length === 0) return { kind: 'primary', reason: 'no-replica' };
      const fresh = routable.filter((c) => {
        const bound = stalenessBoundMs(c.node, input.nowMs);
        return bound !== null && bound <= input.maxStalenessMs;
      });
      return fresh.length === 0 ? { kind: 'primary', reason: 'too-stale' } : { kind: 'replica', node: leastLoaded(fresh, rotation) };
    }
    case 'sync': {
      if (routable.length === 0) return { kind: 'primary', reason: 'no-replica' };
      const lsn = input.sessionLsn;
      if (lsn === null) return { kind: 'replica', node: leastLoaded(routable, rotation) };
      const replayed = routable.filter((c) => lsnReached(c.node.replayLsn, lsn));
      if (replayed.length > 0) return { kind: 'replica', node: leastLoaded(replayed, rotation) };
      if (input.waited === true || input.syncWaitMs <= 0) return { kind: 'primary', reason: 'not-replayed' };
      // A replica known to lag far more than the wait (twice: the lag is a coarse, noisy measure) will
      // not catch up in time: waiting for it is hopeless.
      const hopeful = routable.filter((c) => c.node.lagMs === null || c.node.lagMs <= 2 * input.syncWaitMs);
      if (hopeful.length === 0) return { kind: 'primary', reason: 'not-replayed' };
      return { kind: 'wait', candidates: byLoad(hopeful), lsn, timeoutMs: input.syncWaitMs };
    }
    default:
      return assertNever(input.consistency);
  }
}
