// Where the topology decisions of failover live, so that they survive a restart and, with several
// proxies, so that all of them follow one decision: per shard (`database/shard`) its term, the node
// writes are routed to, and the nodes fenced for good. One proxy: a local file (local-store.ts).
// Several proxies: etcd (etcd-store.ts), where exactly one proxy holds a leader lease and only it may
// publish; every publish is conditional on its fencing token, so a proxy that lost its lease (paused,
// partitioned) can never overwrite a newer decision.
//
// The interface is small on purpose: the failover machine decides, the store only makes a decision
// durable and visible.

import type { NodeId } from '../failover/failover-types.js';

/** One shard's routed topology. */
export interface ShardTopology {
  /** Grows with every promotion attempt and switchover; never decreases. */
  readonly term: number;
  /** Where writes go in this term; null while none may be (between fence and promote). */
  readonly primary: NodeId | null;
  /** Nodes that must never be routed to as primary again (until they rejoin as replicas). */
  readonly fenced: readonly NodeId[];
  /**
   * While primary is null: the node being promoted in this term, if one was chosen. A proxy taking
   * over the failover waits for that node (it may still finish promoting) before electing another.
   */
  readonly candidate?: NodeId | null;
}

export type PublishOutcome =
  | { readonly kind: 'published' }
  /** The store holds a newer term: follow it instead. */
  | { readonly kind: 'stale'; readonly current: ShardTopology }
  /** This proxy does not (or no longer) hold the leader lease: it must stop acting. */
  | { readonly kind: 'not-leader' };

export interface TopologyStore {
  /** Every shard's last published topology (shards never published are absent). */
  load(): Promise<Map<string, ShardTopology>>;
  /**
   * Makes `record` the shard's topology iff this proxy is the leader (its fencing token still holds)
   * and the stored term is not higher than record.term. Within its term the leader revises its own
   * decision (no primary while promoting → the promoted node; fenced nodes added); the fencing token,
   * not the term, keeps any other proxy from writing. Publishing the stored record again is a no-op.
   * Resolves once the write is durable (fsync'd file / committed etcd transaction).
   */
  publish(shard: string, record: ShardTopology): Promise<PublishOutcome>;
  /**
   * Calls `fn` for every record published by any proxy (this one included) after the call, in the
   * order the store committed them; the returned function unsubscribes.
   */
  watch(fn: (shard: string, record: ShardTopology) => void): () => void;
  /**
   * True while this proxy may act (run failovers). A local store is always the leader. An etcd store
   * is leader between winning the election and `leaseTtlMs - margin` after its last successful
   * keep-alive: it stops acting before its lease can expire on the server.
   */
  isLeader(): boolean;
  /** Called on every change of isLeader(); the returned function unsubscribes. */
  onLeadership(fn: (leader: boolean) => void): () => void;
  /** Stops keep-alives and watches; an etcd leader resigns (revokes its lease) so another takes over at once. */
  close(): Promise<void>;
}

/** Validates a record read from a file or etcd (anything else is reported, never trusted). */
export function parseShardTopology(value: unknown): ShardTopology | null {
  if (typeof value !== 'object' || value === null) return null;
  const v = value as Record<string, unknown>;
  const term = v['term'];
  const primary = v['primary'];
  const fenced = v['fenced'];
  if (typeof term !== 'number' || !Number.isSafeInteger(term) || term < 0) return null;
  if (primary !== null && typeof primary !== 'string') return null;
  if (!Array.isArray(fenced) || !fenced.every((f): f is string => typeof f === 'string')) return null;
  const candidate = v['candidate'] ?? null;
  if (candidate !== null && typeof candidate !== 'string') return null;
  return candidate === null ? { term, primary, fenced } : { term, primary, fenced, candidate };
}

/** Whether two records are the same decision. */
export function sameTopology(a: ShardTopology, b: ShardTopology): boolean {
  return (
    a.term === b.term &&
    a.primary === b.primary &&
    (a.candidate ?? null) === (b.candidate ?? null) &&
    a.fenced.length === b.fenced.length &&
    a.fenced.every((f, i) => b.fenced[i] === f)
  );
}
