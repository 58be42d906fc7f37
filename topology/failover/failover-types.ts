// The vocabulary of one shard's failover state machine: its state, the events it reacts to and the
// actions it asks the I/O layer to carry out. Types and the config-derived limits only; the rules
// live in failover-machine.ts (transitions) and election.ts (who may be promoted).
//
// LSNs are bigint byte positions (pg_lsn as a 64-bit integer). Node ids are opaque strings chosen
// by whoever builds the initial state (`host:port` when built from config).

import type { Config, ReplicationMode } from '../config/config-types.js';

export type NodeId = string;

/** The id of a configured node: `host:port`. */
export function nodeIdOf(address: { readonly host: string; readonly port: number }): NodeId {
  return `${address.host}:${address.port}`;
}

/** The per-shard phases. `normal` and `done` are resting phases; the others belong to one attempt. */
export type FailoverPhase =
  | 'normal' // the routed primary answers its checks
  | 'suspect' // the primary failed checks, but is not down yet (or a replica still streams from it)
  | 'electing' // the primary is down (or an admin asked) and no promotion is under way: blocked has the reason
  | 'catching-up' // switchover: writes paused, old primary fenced, waiting for the target to replay everything
  | 'promoting' // a promote action is out; its term is the current term
  | 'repointing' // the new primary is routed; the other replicas are being pointed at it
  | 'done'; // the last failover/switchover finished (behaves as normal)

/** What a health check saw on a node that answered. */
export interface NodeSample {
  /** pg_is_in_recovery(): replica when true. */
  readonly role: 'primary' | 'replica';
  /** Primary: pg_current_wal_lsn(). */
  readonly currentLsn: bigint | null;
  /** Replica: pg_last_wal_receive_lsn() (null before it received anything). */
  readonly receiveLsn: bigint | null;
  /** Replica: pg_last_wal_replay_lsn(). */
  readonly replayLsn: bigint | null;
  /**
   * Replica: its WAL receiver is streaming (pg_stat_wal_receiver.status = 'streaming'); null when
   * the checking role may not see it (no pg_read_all_stats): then it may be, and counts as if it were.
   */
  readonly receiving: boolean | null;
  /**
   * Replica: the node it streams from, when the checker could tell (sender_host:sender_port). Only
   * an upstream that is another node of the shard tells that it does not stream from the primary.
   */
  readonly upstream?: NodeId | null;
}

/** Everything the machine knows about one node. */
export interface NodeView {
  readonly id: NodeId;
  /** Config order: 0 for the configured primary, then the replicas in order. Lower wins a tie. */
  readonly priority: number;
  /** Consecutive failed checks (0 after a successful one). */
  readonly failures: number;
  /** The last successful check's sample (null: never answered). */
  readonly last: NodeSample | null;
  /** When `last` was taken (proxy clock, ms). */
  readonly lastAtMs: number | null;
}

/** A node that must never be routed to as a primary again (until it rejoins as a replica). */
export interface FencedNode {
  readonly node: NodeId;
  /** The term that fenced it. */
  readonly term: number;
  /** The fence reached the node (read-only + backends terminated); false: only remembered so far. */
  readonly applied: boolean;
  /** A fence action for it is out and has not reported back. */
  readonly inFlight: boolean;
}

/** Why an election does not go ahead (shown by the admin console). */
export type BlockedReason =
  | { readonly kind: 'disabled' }
  | { readonly kind: 'no-candidate'; readonly detail: string }
  | { readonly kind: 'lag'; readonly candidate: NodeId; readonly lagBytes: bigint; readonly limitBytes: number };

/** One failover or switchover, from its decision to the route of the new primary. */
export interface Attempt {
  readonly kind: 'failover' | 'switchover';
  /** The primary being replaced. */
  readonly from: NodeId;
  /** The node being promoted (or, in a switchover, caught up). */
  readonly candidate: NodeId | null;
  /**
   * Candidates whose promotion failed or timed out in this attempt. Timed-out ones are fenced for
   * good (they may still finish promoting); failed ones may be tried again from retryAtMs.
   */
  readonly tried: readonly NodeId[];
  /** When every candidate failed: from when the failed (unfenced) ones may be tried again. */
  readonly retryAtMs: number | null;
  /** FAILOVER ... FORCE: the async lag bound is waived. */
  readonly force: boolean;
  /** Started by an admin command rather than by failed checks. */
  readonly manual: boolean;
  /** The first term of this attempt (a retried promotion bumps the term again). */
  readonly firstTerm: number;
  readonly startedAtMs: number;
  /** promoting: promote timeout; catching-up: switchover bound. null otherwise. */
  readonly deadlineMs: number | null;
}

export interface RepointTask {
  readonly node: NodeId;
  /** sent: an action is out; waiting: sent when the node next answers a check. */
  readonly status: 'sent' | 'waiting';
}

export interface RejoinTask {
  readonly node: NodeId;
  /** waiting: sent when the node answers; failed: left to the operator (pg_rewind rarely heals alone). */
  readonly status: 'waiting' | 'sent' | 'failed';
}

/** What the admin console shows about the last completed change of primary. */
export interface LastChange {
  readonly kind: 'failover' | 'switchover';
  readonly term: number;
  readonly from: NodeId;
  readonly to: NodeId;
  readonly atMs: number;
  readonly tookMs: number;
}

export interface FailoverState {
  readonly shard: string;
  /** The config the machine obeys (replaced by a `configure` event on reload). */
  readonly limits: FailoverLimits;
  /** Grows by one for every promotion attempt and switchover; never decreases. */
  readonly term: number;
  /** The node writes are routed to in this term; null while none may be (between fence and promote). */
  readonly primary: NodeId | null;
  /** All known nodes, in priority (config) order. */
  readonly nodes: readonly NodeView[];
  readonly phase: FailoverPhase;
  readonly phaseSinceMs: number;
  /** Human-readable reason of the current phase (admin console, logs). */
  readonly reason: string;
  readonly blocked: BlockedReason | null;
  readonly attempt: Attempt | null;
  readonly fenced: readonly FencedNode[];
  readonly repoints: readonly RepointTask[];
  readonly rejoins: readonly RejoinTask[];
  /** Writes are paused (by this machine) until a resume-writes. */
  readonly writesPaused: boolean;
  readonly lastChange: LastChange | null;
}

/** Health events (from the checker), results of actions (from the I/O layer), admin commands, time. */
export type FailoverEvent =
  | { readonly kind: 'sample'; readonly node: NodeId; readonly sample: NodeSample }
  | { readonly kind: 'check-failed'; readonly node: NodeId; readonly error: string }
  | { readonly kind: 'promote-succeeded'; readonly term: number; readonly node: NodeId }
  /** The node certainly did not start promoting (not reached, or the server refused with an error). */
  | { readonly kind: 'promote-failed'; readonly term: number; readonly node: NodeId; readonly error: string }
  /** The outcome is unknown (no answer in time, connection lost after sending): it may still promote. */
  | { readonly kind: 'promote-timeout'; readonly term: number; readonly node: NodeId }
  | { readonly kind: 'fence-done'; readonly term: number; readonly node: NodeId; readonly applied: boolean; readonly error?: string }
  | { readonly kind: 'repoint-done'; readonly term: number; readonly node: NodeId; readonly ok: boolean; readonly error?: string }
  | { readonly kind: 'rejoin-done'; readonly term: number; readonly node: NodeId; readonly ok: boolean; readonly error?: string }
  | { readonly kind: 'caught-up'; readonly term: number; readonly node: NodeId }
  | { readonly kind: 'catch-up-failed'; readonly term: number; readonly node: NodeId; readonly error: string }
  | { readonly kind: 'failover'; readonly force: boolean }
  | { readonly kind: 'switchover'; readonly target: NodeId }
  | { readonly kind: 'configure'; readonly limits: FailoverLimits }
  | { readonly kind: 'tick' };

/** Every action carries the term it belongs to; the I/O layer drops actions of an older term. */
export type FailoverAction =
  | { readonly kind: 'pause-writes'; readonly term: number }
  | { readonly kind: 'resume-writes'; readonly term: number }
  | { readonly kind: 'fence'; readonly term: number; readonly node: NodeId }
  | { readonly kind: 'unfence'; readonly term: number; readonly node: NodeId }
  /** Wait (until deadlineMs, the machine's clock) for `node` to replay all of `primary`'s WAL. */
  | { readonly kind: 'catch-up'; readonly term: number; readonly node: NodeId; readonly primary: NodeId; readonly timeoutMs: number; readonly deadlineMs: number }
  /** Promote `node`; the machine gives up at deadlineMs (its clock), so should the I/O. */
  | { readonly kind: 'promote'; readonly term: number; readonly node: NodeId; readonly timeoutMs: number; readonly deadlineMs: number }
  | { readonly kind: 'route'; readonly term: number; readonly primary: NodeId }
  | { readonly kind: 'repoint'; readonly term: number; readonly node: NodeId; readonly primary: NodeId }
  | { readonly kind: 'rejoin'; readonly term: number; readonly node: NodeId; readonly primary: NodeId };

/** An admin command the machine refused; sqlstate is what the admin console answers with. */
export interface FailoverRejection {
  /** 42704: unknown node; 55000: not possible in the current state; 08006: no replica can be promoted. */
  readonly sqlstate: '42704' | '55000' | '08006';
  readonly message: string;
  readonly hint?: string;
}

export interface TransitionResult {
  readonly state: FailoverState;
  /** To be carried out in order (the I/O layer runs them one after the other). */
  readonly actions: readonly FailoverAction[];
  /** Set when an admin event was refused (the state is then unchanged). */
  readonly rejection: FailoverRejection | null;
}

/** The configuration the machine obeys (health + failover sections). */
export interface FailoverLimits {
  readonly enabled: boolean;
  readonly replication: ReplicationMode;
  readonly failuresBeforeDown: number;
  readonly promoteLagBytesMax: number;
  readonly promoteTimeoutMs: number;
  /** Switchover: how long writes may stay paused while the target catches up. */
  readonly waitMs: number;
  readonly rejoin: boolean;
}

export function failoverLimits(config: Pick<Config, 'health' | 'failover'>): FailoverLimits {
  return {
    enabled: config.failover.enabled,
    replication: config.failover.replication,
    failuresBeforeDown: config.health.failuresBeforeDown,
    promoteLagBytesMax: config.failover.promoteLagBytesMax,
    promoteTimeoutMs: config.failover.promoteTimeoutMs,
    waitMs: config.failover.waitMs,
    rejoin: config.failover.rejoin,
  };
}
