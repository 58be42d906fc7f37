// Where a session's read goes on one shard: its primary's pool or a replica's, by the session's read
// consistency (topology/replica-choice.ts decides from the health checker's views; this module maps
// the decision to pools and carries out a sync read's wait). One per (database, user), shared by
// that user's sessions; null for a database without replicas.

import type { Config, DatabaseConfig, NodeAddress, ReadConsistency, UserConfig } from '../../topology/config/config-types.js';
import { chooseReplica, type ReplicaCandidate } from '../../topology/replica-choice.js';
import type { Lsn } from '../../topology/lsn.js';
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
}

export function initialReadSettings(config: Config): ReadSettings {
  return { consistency: config.reads.consistency, maxStalenessMs: config.reads.maxStalenessMs, positions: [], unknown: new Set(), exporting: false };
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
    const replicas: ReplicaCandidate[] = [];
    for (const node of views) if (node.routable) replicas.push({ node, inFlight: this.poolOf(shard, node).activeCount });
    const choice = chooseReplica({
      consistency,
      sessionLsn: reads.positions[shard] ?? null,
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
        return { kind: 'replica', pool: this.poolOf(shard, choice.node) };
      case 'wait':
        return { kind: 'wait', lsn: choice.lsn, timeoutMs: choice.timeoutMs };
    }
  }

  /** sync: resolves with the pool of a replica that replayed `lsn`, or null (go to the primary). */
  async waitForReplica(shard: number, lsn: Lsn, timeoutMs: number): Promise<NodePool | null> {
    const health = this.health();
    if (health === null) return null;
    const node = await health.waitForReplay(this.shardKeys[shard]!, lsn, timeoutMs);
    return node === null ? null : this.poolOf(shard, node);
  }

  private poolOf(shard: number, node: NodeView): NodePool {
    const i = node.address.lastIndexOf(':');
    const address: NodeAddress = { host: node.address.slice(0, i), port: Number(node.address.slice(i + 1)) };
    return this.pools.node(this.db, this.user, shard, address);
  }
}
