// Where a session's read goes on one shard: its primary's pool or a replica's, by the session's read
// consistency (topology/replica-choice.ts decides from the health checker's views; this module maps
// the decision to pools and carries out a sync read's wait). One per (database, user), shared by
// that user's sessions; null for a database without replicas.

import type { Config, DatabaseConfig, NodeAddress, ReadConsistency, UserConfig } from '../../topology/config/config-types.js';
import { chooseReplica, type ReplicaCandidate } from '../../topology/replica-choice.js';
import { lsnReached, type Lsn } from '../../topology/lsn.js';

const laterOf = (a: Lsn | null, b: Lsn | null): Lsn | null => (a === null ? b : b === null ? a : a > b ? a : b);
import type { NodeView } from '../../topology/health/node-health.js';
import type { HealthChecker } from '../health/health-checker.js';
import type { NodePool } from '../backend/node-pool.js';
import type { PoolRegistry } from '../backend/pool-registry.js';

/** A session's read settings (config default, startup option, SET pgshard.*). */
export interface ReadSettings {
  consistency: ReadConsistency;
  maxStalenessMs: number;
  /** Per shard: the WAL position of the session's last commit there (sync reads wait for it). */
  readonly positions: (Lsn | null)[];
  /** Shards whose position after a write could not be read: their sync reads go to the primary until the next write there. */
  readonly unknown: Set<number>;
  /** SHOW pgshard.causal_token was used: positions are tracked whatever the consistency. */
  exporting: boolean;
  /**
   * sync (monotonic reads): per shard, the replica the session last read from, and the replay
   * position that replica was known to have then. The session stays on that replica while it
   * qualifies; another replica must be known to have replayed at least as far.
   */
  readonly lastReplica: ({ readonly address: string; readonly replayed: Lsn | null } | null)[];
}

export function initialReadSettings(config: Config): ReadSettings {
  return { consistency: config.reads.consistency, maxStalenessMs: config.reads.maxStalenessMs, positions: [], unknown: new Set(), exporting: false, lastReplica: [] };
}

/** Whether the session's commits must be followed by their WAL position. */
export function tracksPositions(s: ReadSettings): boolean {
  return s.consistency === 'sync' || s.exporting;
}

export type ReadTarget =
  | { readonly kind: 'primary' }
  | { readonly kind: 'replica'; readonly pool: NodePool }
  /** sync: no replica has replayed the session's last commit yet; wait (waitForReplica) before choosing. */
  | { readonly kind: 'wait'; readonly lsn: Lsn; readonly timeoutMs: number };

const PRIMARY: ReadTarget = { kind: 'primary' };

export class ReadRouter {
  private rotation = 0;
  private readonly shardKeys: string[];

  constructor(
    private readonly db: DatabaseConfig,
    private readonly user: UserConfig,
    private readonly pools: PoolRegistry,
    private readonly health: () => HealthChecker | null,
    private readonly config: () => Config,
  ) {
    this.shardKeys = db.shards.map((s) => `${db.name}/${s.name}`);
  }

  /** Whether the shard has replicas at all (else nothing about reads needs tracking). */
  hasReplicas(shard: number): boolean {
    return (this.db.shards[shard]?.replicas.length ?? 0) > 0;
  }

  /** The read's target on `shard`, at the session's consistency or the statement's hinted one. */
  choose(shard: number, reads: ReadSettings, hinted: ReadConsistency | null): ReadTarget {
    const consistency = hinted ?? reads.consistency;
    if (consistency === 'strong' || !this.hasReplicas(shard) || (consistency === 'sync' && reads.unknown.has(shard))) return PRIMARY;
    const views = this.health()?.shardSnapshot(this.shardKeys[shard]!);
    if (views === undefined || views === null) return PRIMARY;
    const last = consistency === 'sync' ? (reads.lastReplica[shard] ?? null) : null;
    const sessionLsn = laterOf(reads.positions[shard] ?? null, last?.replayed ?? null);
    const replicas: ReplicaCandidate[] = [];
    for (const node of views) {
      if (!node.routable) continue;
      // Monotonic reads: the replica read last keeps the session while it has what the session saw.
      if (last !== null && node.address === last.address && (sessionLsn === null || lsnReached(node.replayLsn, sessionLsn))) return this.remember(shard, reads, consistency, node);
      replicas.push({ node, inFlight: this.poolOf(shard, node).activeCount });
    }
    const choice = chooseReplica({
      consistency,
      sessionLsn,
      maxStalenessMs: reads.maxStalenessMs,
      syncWaitMs: this.config().reads.syncWaitMs,
      replicas,
      nowMs: Date.now(),
      rotation: this.rotation++,
    });
    switch (choice.kind) {
      case 'primary':
        return PRIMARY;
      case 'replica':
        return this.remember(shard, reads, consistency, choice.node);
      case 'wait':
        return { kind: 'wait', lsn: choice.lsn, timeoutMs: choice.timeoutMs };
    }
  }

  /** sync: resolves with the pool of a replica that replayed `lsn`, or null (go to the primary). */
  async waitForReplica(shard: number, reads: ReadSettings, lsn: Lsn, timeoutMs: number): Promise<NodePool | null> {
    const health = this.health();
    if (health === null) return null;
    const node = await health.waitForReplay(this.shardKeys[shard]!, lsn, timeoutMs);
    if (node === null) return null;
    const target = this.remember(shard, reads, 'sync', node);
    return target.kind === 'replica' ? target.pool : null;
  }

  private remember(shard: number, reads: ReadSettings, consistency: ReadConsistency, node: NodeView): ReadTarget {
    if (consistency === 'sync') {
      const before = reads.lastReplica[shard]?.replayed ?? null;
      reads.lastReplica[shard] = { address: node.address, replayed: laterOf(before, node.replayLsn) };
    }
    return { kind: 'replica', pool: this.poolOf(shard, node) };
  }

  private poolOf(shard: number, node: NodeView): NodePool {
    const i = node.address.lastIndexOf(':');
    const address: NodeAddress = { host: node.address.slice(0, i), port: Number(node.address.slice(i + 1)) };
    return this.pools.node(this.db, this.user, shard, address);
  }
}
