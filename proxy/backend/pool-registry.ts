// Every server connection pool of the proxy: one per (database, user, node). Also which node is each
// shard's primary right now, as one live array of primary pools per (database, user) that sessions
// and the executor index by shard: a failover replaces the entry in place (and redirects the old
// pool's waiters), so the next acquire of every session goes to the new primary without any session
// being told. It also watches waits across all pools for deadlocks (pool-deadlock.ts).

import type { Config, DatabaseConfig, NodeAddress, UserConfig } from '../../topology/config/config-types.js';
import type { Logger } from '../logger.js';
import { ProxyError } from '../errors.js';
import { NodePool, type PoolHold, type PoolLimits } from './node-pool.js';
import { findDeadlockVictim } from './pool-deadlock.js';
import { serverLogin } from './server-login.js';

/** Server frames up to 1 GiB (+ header): the proxy forwards what Postgres sends. */
const SERVER_FRAME_BYTES_MAX = 1024 * 1024 * 1024 + 5;

const addressKey = (a: NodeAddress): string => `${a.host}:${a.port}`;

function poolLimits(config: Config, user: UserConfig): PoolLimits {
  return {
    sizeMax: user.poolSizeMax ?? config.pool.sizeMax,
    acquireTimeoutMs: config.pool.acquireTimeoutMs,
    idleTimeoutMs: config.pool.idleTimeoutMs,
    lifetimeMs: config.pool.lifetimeMs,
  };
}

interface PoolEntry {
  readonly pool: NodePool;
  readonly database: string;
  readonly user: string;
  readonly node: string;
}

export class PoolRegistry {
  private readonly pools = new Map<string, PoolEntry>();
  /** (database, user) → the pool of each shard's current primary, in shard order. Entries change in place. */
  private readonly primaryArrays = new Map<string, { db: DatabaseConfig; user: UserConfig; pools: NodePool[] }>();
  /** (database, shard index) → the node routed as primary, when it is not the configured one. */
  private readonly routed = new Map<string, NodeAddress>();
  /** (database, shard index) → the hold in force on its primary pools (failover in progress). */
  private readonly holds = new Map<string, PoolHold>();
  private deadlockTimer: NodeJS.Timeout | null = null;

  constructor(
    private config: Config,
    private readonly log: Logger,
    /** A connect to a shard's node failed while failover may replace it (the health checker checks it now). */
    private readonly onConnectError: (db: DatabaseConfig, shardIndex: number, address: NodeAddress) => void = () => {},
  ) {
    this.startDeadlockChecks();
  }

  /**
   * Every half pool.deadlockTimeoutMs, looks for sessions that have waited that long for a connection
   * in a deadlock, and fails one wait per deadlock with 40P01. A tick without such a wait looks at
   * each pool's waiters and builds nothing.
   */
  private startDeadlockChecks(): void {
    if (this.deadlockTimer !== null) clearInterval(this.deadlockTimer);
    this.deadlockTimer = null;
    const ms = this.config.pool.deadlockTimeoutMs;
    if (ms === 0) return;
    this.deadlockTimer = setInterval(() => this.breakDeadlocks(ms), Math.max(10, Math.floor(ms / 2)));
    this.deadlockTimer.unref();
  }

  /** Fails waits until no deadlock is left (each victim's wait ends, so each round frees its connections' waiters in time). */
  breakDeadlocks(minWaitMs: number): void {
    const pools = this.all();
    if (!pools.some((p) => p.hasWaitSince(Date.now() - minWaitMs))) return;
    for (;;) {
      const victim = findDeadlockVictim(pools.map((p) => p.waits()), Date.now(), minWaitMs);
      if (victim === null) return;
      const pool = pools[victim.pool]!;
      this.log.warn({ pool: pool.name, sessions: victim.sessions }, 'deadlock between sessions waiting for server connections: failing one wait with 40P01');
      if (!pool.failWaiter(victim.holder, ProxyError.connectionDeadlock(pool.name, victim.sessions))) return;
    }
  }

  /** The pool of (db, user) on one node of a shard. */
  node(db: DatabaseConfig, user: UserConfig, shardIndex: number, address: NodeAddress): NodePool {
    const key = `${db.name}\u0000${user.name}\u0000${addressKey(address)}`;
    let entry = this.pools.get(key);
    if (entry === undefined) {
      const shard = db.shards[shardIndex];
      const name = `${db.name}/${shard?.name ?? shardIndex}/${addressKey(address)}`;
      // Where a failover can replace the node, a failed connect waits for it instead of failing at once.
      const failover = this.config.failover.enabled && (shard?.replicas.length ?? 0) > 0;
      const pool = new NodePool(
        name,
        serverLogin(this.config, db, user, address, name, { frameBytesMax: SERVER_FRAME_BYTES_MAX }),
        poolLimits(this.config, user),
        this.log,
        failover ? () => this.connectFailed(db, shardIndex, address) : null,
      );
      entry = { pool, database: db.name, user: user.name, node: addressKey(address) };
      this.pools.set(key, entry);
    }
    return entry.pool;
  }

  /** A connect to a node failed: for the shard's primary, have it checked now and let waiters wait. */
  private connectFailed(db: DatabaseConfig, shardIndex: number, address: NodeAddress): boolean {
    if (addressKey(this.primaryOf(db, shardIndex)) !== addressKey(address)) return false;
    this.onConnectError(db, shardIndex, address);
    return true;
  }

  /** The node shard `shardIndex` of `db` writes to now. */
  primaryOf(db: DatabaseConfig, shardIndex: number): NodeAddress {
    return this.routed.get(`${db.name}\u0000${shardIndex}`) ?? db.shards[shardIndex]!.primary;
  }

  /** The live array of (db, user)'s primary pools, one per shard (the same array on every call). */
  primaries(db: DatabaseConfig, user: UserConfig): readonly NodePool[] {
    const key = `${db.name}\u0000${user.name}`;
    let entry = this.primaryArrays.get(key);
    if (entry === undefined || entry.db !== db || entry.user !== user) {
      const pools = db.shards.map((_, i) => this.withHold(db, i, this.node(db, user, i, this.primaryOf(db, i))));
      entry = { db, user, pools };
      this.primaryArrays.set(key, entry);
    }
    return entry.pools;
  }

  /**
   * Routes writes of `db`'s shard `shardIndex` to `address` from now on: every (db, user) primary
   * array points at that node's pool, and whoever waits on the previous pool is served by the new one.
   */
  routePrimary(db: DatabaseConfig, shardIndex: number, address: NodeAddress): void {
    this.routed.set(`${db.name}\u0000${shardIndex}`, address);
    this.holds.delete(`${db.name}\u0000${shardIndex}`);
    for (const entry of this.primaryArrays.values()) {
      if (entry.db.name !== db.name) continue;
      const previous = entry.pools[shardIndex];
      const next = this.node(entry.db, entry.user, shardIndex, address);
      next.resume();
      entry.pools[shardIndex] = next;
      if (previous !== undefined && previous !== next) previous.redirect(next);
    }
  }

  /** Failover in progress on the shard: acquirers of its primary pools wait (bounded by hold.waitMs). */
  holdPrimary(db: DatabaseConfig, shardIndex: number, hold: PoolHold): void {
    this.holds.set(`${db.name}\u0000${shardIndex}`, hold);
    for (const entry of this.primaryArrays.values()) if (entry.db.name === db.name) entry.pools[shardIndex]?.hold(hold);
  }

  resumePrimary(db: DatabaseConfig, shardIndex: number): void {
    this.holds.delete(`${db.name}\u0000${shardIndex}`);
    for (const entry of this.primaryArrays.values()) if (entry.db.name === db.name) entry.pools[shardIndex]?.resume();
  }

  /** Whether a session holds a connection of the shard's primary (a write may be running). */
  primaryBusy(db: DatabaseConfig, shardIndex: number): boolean {
    for (const entry of this.primaryArrays.values()) {
      if (entry.db.name === db.name && (entry.pools[shardIndex]?.activeCount ?? 0) > 0) return true;
    }
    return false;
  }

  private withHold(db: DatabaseConfig, shardIndex: number, pool: NodePool): NodePool {
    const hold = this.holds.get(`${db.name}\u0000${shardIndex}`);
    if (hold !== undefined) pool.hold(hold);
    return pool;
  }

  all(): NodePool[] {
    return [...this.pools.values()].map((e) => e.pool);
  }

  /**
   * A new config: pools whose login changed are closed (their sessions get new ones on next acquire),
   * others take the new limits; primary arrays are rebuilt lazily for the new database objects.
   */
  reload(next: Config): void {
    for (const [key, entry] of this.pools) {
      const db = next.databases.find((d) => d.name === entry.database);
      const user = next.users.find((u) => u.name === entry.user);
      const onNode = db?.shards.some((s) => [s.primary, ...s.replicas].some((a) => addressKey(a) === entry.node)) ?? false;
      const login = entry.pool.login;
      const same =
        db !== undefined && user !== undefined && onNode &&
        db.backendDatabase === login.database && (user.serverUser ?? user.name) === login.user &&
        (user.serverPassword ?? user.password) === login.password;
      if (same) {
        entry.pool.setLimits(poolLimits(next, user));
      } else {
        this.pools.delete(key);
        entry.pool.close();
      }
    }
    // A routed primary that is no longer a node of its shard falls back to the configured one.
    for (const [key, address] of this.routed) {
      const [dbName, shardIndex] = key.split('\u0000') as [string, string];
      const shard = next.databases.find((d) => d.name === dbName)?.shards[Number(shardIndex)];
      if (shard === undefined || ![shard.primary, ...shard.replicas].some((a) => addressKey(a) === addressKey(address))) this.routed.delete(key);
    }
    const deadlockTimeoutChanged = next.pool.deadlockTimeoutMs !== this.config.pool.deadlockTimeoutMs;
    this.config = next;
    if (deadlockTimeoutChanged) this.startDeadlockChecks();
  }

  closeAll(): void {
    if (this.deadlockTimer !== null) clearInterval(this.deadlockTimer);
    this.deadlockTimer = null;
    for (const entry of this.pools.values()) entry.pool.close();
  }
}
