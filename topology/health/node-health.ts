// What the proxy knows about one node's health, as pure state and pure transitions:
//   applyCheck(state, outcome, nowMs, limits) → state
// plus the derived facts read routing needs: the replica's lag behind its primary (bytes and ms),
// whether it may serve reads ("routable"), and the changes worth announcing (up, down, promoted...).
// No I/O, no timers, no logger: proxy/health/health-checker.ts runs the checks and feeds the outcomes.
//
// Definitions (docs/replicas.md is the user-facing version):
// - up/down: a node is down after `failuresBeforeDown` consecutive failed checks and up again after
//   one successful check; before its first successful check (and before it is down) it is 'unknown'.
// - role: what the node reported at its last successful check (pg_is_in_recovery()).
// - lag bytes: the shard primary's pg_current_wal_lsn() minus the replica's pg_last_wal_replay_lsn(),
//   each from its latest sample, never below 0; unknown (null) without a sample of both.
// - lag ms: 0 when lag bytes is 0 (the replica replayed everything the primary had written at its
//   last check); otherwise the replica's now() − pg_last_xact_replay_timestamp(), i.e. the age of the
//   last transaction it replayed: an upper bound of how stale its data is, since everything committed
//   before that transaction is visible on it. Unknown (null) when it replayed no transaction since it
//   started. Both times come from the database servers, not the proxy.
// - lag "as of": the proxy time at which lag ms was a bound of the replica's staleness: the start of
//   the primary's last check when lag bytes is 0 (everything committed before it is replayed), else
//   the start of the replica's last check. Later, the bound is lag ms + the time elapsed since then
//   (topology/replica-choice.ts, bounded reads): the replica may have replayed nothing meanwhile.
// - routable: up, no failed check since the last success, reports being a replica, not promoted,
//   lag bytes ≤ replicaLagBytesMax and lag ms ≤ replicaLagMsMax (both known). A failed check takes a
//   replica out of read routing at once (a read can always go to the primary instead), although it
//   counts as down only after failuresBeforeDown failures (which is what failover waits for).
// - promoted: a node expected to be a replica (configured as one, or last seen as one) reports being
//   a primary. It stays set while the node keeps reporting primary, and clears when it reports replica.

import type { HealthConfig } from '../config/config-types.js';
import { bytesBehind, type Lsn } from '../lsn.js';

export type NodeRole = 'primary' | 'replica';
export type ObservedRole = NodeRole | 'unknown';
export type NodeState = 'unknown' | 'up' | 'down';

/** The limits node health obeys (the `health` config section). */
export type HealthLimits = Pick<HealthConfig, 'failuresBeforeDown' | 'replicaLagBytesMax' | 'replicaLagMsMax'>;

/** What one successful check read from a node (one query, proxy/health/health-checker.ts). */
export interface HealthSample {
  /** pg_is_in_recovery(): replica when true. */
  readonly role: NodeRole;
  /** Primary: pg_current_wal_lsn() (null on a replica). */
  readonly currentLsn: Lsn | null;
  /** pg_last_wal_receive_lsn(): null until the node received WAL by streaming. */
  readonly receiveLsn: Lsn | null;
  /** pg_last_wal_replay_lsn(): null on a node that never was in recovery. */
  readonly replayLsn: Lsn | null;
  /** pg_last_xact_replay_timestamp() in ms since the epoch (null: no transaction replayed since start). */
  readonly replayTimestampMs: number | null;
  /** The node's now() in ms since the epoch, the clock lag ms is measured with. */
  readonly serverNowMs: number;
  /**
   * pg_stat_wal_receiver.status = 'streaming'. null when the checking user may not see it (the
   * details are hidden from roles without pg_read_all_stats / pg_monitor) although a receiver runs.
   */
  readonly receiving: boolean | null;
  /** The receiver's sender_host:sender_port, when visible. */
  readonly upstream: string | null;
}

export type CheckOutcome =
  | { readonly kind: 'sample'; readonly sample: HealthSample; readonly startedAtMs: number }
  | { readonly kind: 'failure'; readonly error: string };

export interface NodeHealth {
  readonly configuredRole: NodeRole;
  /** The role reported at the last successful check ('unknown' before one). */
  readonly observedRole: ObservedRole;
  readonly state: NodeState;
  /** Consecutive failed checks (0 after a successful one). */
  readonly failures: number;
  /** When the last check finished, whatever its outcome (proxy clock, ms). */
  readonly lastCheckAtMs: number | null;
  /** The last successful check's sample; kept (as the last known facts) while checks fail. */
  readonly sample: HealthSample | null;
  /** When the check that produced `sample` started: the data it read is at least this fresh. */
  readonly sampledAtMs: number | null;
  /** The last failed check's reason while the node keeps failing (null after a success). */
  readonly lastError: string | null;
  readonly promoted: boolean;
}

export function initialNodeHealth(configuredRole: NodeRole): NodeHealth {
  return {
    configuredRole,
    observedRole: 'unknown',
    state: 'unknown',
    failures: 0,
    lastCheckAtMs: null,
    sample: null,
    sampledAtMs: null,
    lastError: null,
    promoted: false,
  };
}

/** The state after one check. */
export function applyCheck(state: NodeHealth, outcome: CheckOutcome, nowMs: number, limits: Pick<HealthLimits, 'failuresBeforeDown'>): NodeHealth {
  if (outcome.kind === 'sample') {
    const role = outcome.sample.role;
    const expectedReplica = state.configuredRole === 'replica' || state.observedRole === 'replica' || state.promoted;
    return {
      ...state,
      observedRole: role,
      state: 'up',
      failures: 0,
      lastCheckAtMs: nowMs,
      sample: outcome.sample,
      sampledAtMs: outcome.startedAtMs,
      lastError: null,
      promoted: role === 'primary' && expectedReplica,
    };
  }
  const failures = state.failures + 1;
  return {
    ...state,
    state: failures >= limits.failuresBeforeDown ? 'down' : state.state,
    failures,
    lastCheckAtMs: nowMs,
    lastError: outcome.error,
  };
}

/**
 * A newer replay position read outside the regular check (waitForReplay polls a replica directly).
 * Only moves replayLsn forward, and only on a node last seen up as a replica; nothing else changes.
 */
export function applyReplayProgress(state: NodeHealth, replayLsn: Lsn): NodeHealth {
  const s = state.sample;
  if (s === null || s.role !== 'replica' || state.state !== 'up') return state;
  if (s.replayLsn !== null && s.replayLsn >= replayLsn) return state;
  return { ...state, sample: { ...s, replayLsn } };
}

export interface ReplicaLag {
  readonly bytes: bigint | null;
  readonly ms: number | null;
  /** Proxy time at which `ms` bounded the replica's staleness (null when ms is unknown). */
  readonly atMs: number | null;
}

const UNKNOWN_LAG: ReplicaLag = { bytes: null, ms: null, atMs: null };

/**
 * The lag of `replica` behind `primary` (the node its shard writes to), from their latest samples.
 * Unknown for a node that is not (known as) a replica, or without a primary sample.
 */
export function replicaLag(replica: NodeHealth, primary: NodeHealth | null): ReplicaLag {
  const r = replica.sample;
  if (r === null || r.role !== 'replica' || r.replayLsn === null) return UNKNOWN_LAG;
  const p = primary?.sample ?? null;
  if (p === null || p.role !== 'primary' || p.currentLsn === null) return UNKNOWN_LAG;
  const bytes = bytesBehind(p.currentLsn, r.replayLsn);
  if (bytes === 0n) return { bytes, ms: 0, atMs: primary?.sampledAtMs ?? null };
  if (r.replayTimestampMs === null) return { bytes, ms: null, atMs: null };
  return { bytes, ms: Math.max(0, r.serverNowMs - r.replayTimestampMs), atMs: replica.sampledAtMs };
}

/** May serve reads (see the header for the rule). */
export function isRoutable(replica: NodeHealth, lag: ReplicaLag, limits: Pick<HealthLimits, 'replicaLagBytesMax' | 'replicaLagMsMax'>): boolean {
  return (
    replica.state === 'up' &&
    replica.failures === 0 &&
    replica.observedRole === 'replica' &&
    !replica.promoted &&
    lag.bytes !== null &&
    lag.bytes <= BigInt(limits.replicaLagBytesMax) &&
    lag.ms !== null &&
    lag.ms <= limits.replicaLagMsMax
  );
}

/** Transitions worth a log line and a listener call. */
export type HealthChangeKind = 'up' | 'down' | 'promoted' | 'role' | 'routable' | 'unroutable';

/** The node-level changes between two states (routability needs the shard: see routabilityChange). */
export function nodeChanges(prev: NodeHealth, next: NodeHealth): HealthChangeKind[] {
  const out: HealthChangeKind[] = [];
  if (prev.state !== 'up' && next.state === 'up') out.push('up');
  if (prev.state !== 'down' && next.state === 'down') out.push('down');
  if (prev.observedRole !== 'unknown' && next.observedRole !== 'unknown' && prev.observedRole !== next.observedRole) out.push('role');
  if (!prev.promoted && next.promoted) out.push('promoted');
  return out;
}

export function routabilityChange(prev: boolean, next: boolean): HealthChangeKind | null {
  if (prev === next) return null;
  return next ? 'routable' : 'unroutable';
}

/** One node as the rest of the proxy sees it (admin SHOW NODES, read routing, failover wiring). */
export interface NodeView {
  /** `database/shard/host:port`. */
  readonly key: string;
  readonly database: string;
  readonly shard: string;
  /** `host:port`. */
  readonly address: string;
  readonly configuredRole: NodeRole;
  readonly observedRole: ObservedRole;
  readonly state: NodeState;
  readonly up: boolean;
  readonly failures: number;
  readonly promoted: boolean;
  readonly receiving: boolean | null;
  readonly upstream: string | null;
  readonly currentLsn: Lsn | null;
  readonly receiveLsn: Lsn | null;
  readonly replayLsn: Lsn | null;
  readonly lagBytes: bigint | null;
  readonly lagMs: number | null;
  /** Proxy time at which lagMs bounded the replica's staleness (see the header). */
  readonly lagAtMs: number | null;
  readonly routable: boolean;
  readonly lastCheckAtMs: number | null;
  readonly sampledAtMs: number | null;
  readonly lastError: string | null;
}

export interface NodeIdentity {
  readonly database: string;
  readonly shard: string;
  readonly host: string;
  readonly port: number;
}

export function nodeAddress(id: Pick<NodeIdentity, 'host' | 'port'>): string {
  return `${id.host}:${id.port}`;
}

export function nodeKey(id: NodeIdentity): string {
  return `${id.database}/${id.shard}/${nodeAddress(id)}`;
}

/** The view of `node`, given the health of the node its shard writes to (null: none known). */
export function buildNodeView(id: NodeIdentity, node: NodeHealth, primary: NodeHealth | null, limits: HealthLimits): NodeView {
  const s = node.sample;
  const lag = node === primary ? UNKNOWN_LAG : replicaLag(node, primary);
  return {
    key: nodeKey(id),
    database: id.database,
    shard: id.shard,
    address: nodeAddress(id),
    configuredRole: node.configuredRole,
    observedRole: node.observedRole,
    state: node.state,
    up: node.state === 'up',
    failures: node.failures,
    promoted: node.promoted,
    receiving: s?.role === 'replica' ? s.receiving : null,
    upstream: s?.role === 'replica' ? s.upstream : null,
    currentLsn: s?.role === 'primary' ? s.currentLsn : null,
    receiveLsn: s?.role === 'replica' ? s.receiveLsn : null,
    replayLsn: s?.role === 'replica' ? s.replayLsn : null,
    lagBytes: lag.bytes,
    lagMs: lag.ms,
    lagAtMs: lag.atMs,
    routable: node !== primary && isRoutable(node, lag, limits),
    lastCheckAtMs: node.lastCheckAtMs,
    sampledAtMs: node.sampledAtMs,
    lastError: node.lastError,
  };
}
