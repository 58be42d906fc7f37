// A pool of server connections to one node for one (database, user).
// Owns: how many connections exist (never more than sizeMax), who waits for one (FIFO, each with
// its acquire deadline), idle and lifetime retirement. It lends only clean connections: idle, outside
// a transaction, with no listener. Callers hand back a connection with release() only when it is clean,
// and with discard() otherwise.
//
// Failover (proxy/failover/): a shard's primary pool can be put on hold (acquirers wait, bounded by
// their own deadline, instead of connecting to a node that is down or being fenced) and later resumed
// or redirected to the new primary's pool, which then serves everyone waiting here.

import { ProxyError } from '../errors.js';
import type { Logger } from '../logger.js';
import { ServerConnection, type ServerLogin } from './server-connection.js';

export interface PoolLimits {
  readonly sizeMax: number;
  readonly acquireTimeoutMs: number;
  readonly idleTimeoutMs: number;
  readonly lifetimeMs: number;
}

interface Waiter {
  resolve(conn: ServerConnection): void;
  reject(err: ProxyError): void;
  timer: NodeJS.Timeout;
  since: number;
}

/** Why acquirers wait, and for how long at most, while a pool is on hold. */
export interface PoolHold {
  readonly waitMs: number;
  /** The error a waiter gets when waitMs passes first. */
  readonly timeoutError: () => ProxyError;
}

export interface PoolStats {
  readonly name: string;
  readonly database: string;
  readonly user: string;
  readonly active: number;
  readonly idle: number;
  readonly connecting: number;
  readonly waiting: number;
  readonly maxWaitMs: number;
  readonly sizeMax: number;
  readonly acquired: number;
  readonly timeouts: number;
  readonly connectErrors: number;
}

export class NodePool {
  private readonly idle: ServerConnection[] = [];
  private readonly waiters: Waiter[] = [];
  private readonly lent = new Set<ServerConnection>();
  private connecting = 0;
  private closed = false;
  private acquired = 0;
  private timeouts = 0;
  private connectErrors = 0;
  private lastConnectError: ProxyError | null = null;
  private readonly sweeper: NodeJS.Timeout;
  private held: PoolHold | null = null;
  /** Set by redirect(): this pool is retired and `successor` serves its acquirers. */
  private successor: NodePool | null = null;

  constructor(
    readonly name: string,
    readonly login: ServerLogin,
    private limits: PoolLimits,
    private readonly log: Logger,
    /**
     * Called when a connect fails; returning true means the node is a shard primary a failover may
     * replace: the waiters are not failed at once (they wait for their deadline, which a failover
     * hold extends), and the caller has the node checked now rather than at its next health check.
     */
    private readonly onConnectError: (() => boolean) | null = null,
  ) {
    this.sweeper = setInterval(() => this.sweep(), Math.max(1000, Math.min(limits.idleTimeoutMs, 30_000)));
    this.sweeper.unref();
  }

  /** Applies new limits from a config reload; shrinking happens as connections come back. */
  setLimits(limits: PoolLimits): void {
    this.limits = limits;
  }

  get size(): number {
    return this.idle.length + this.lent.size + this.connecting;
  }

  /** The fast path: an idle connection now, or null. */
  tryAcquire(): ServerConnection | null {
    if (this.successor !== null) return this.successor.tryAcquire();
    if (this.held !== null) return null;
    while (this.idle.length > 0) {
      const conn = this.idle.pop()!;
      if (conn.broken || conn.closed) {
        conn.destroy();
        continue;
      }
      this.lend(conn);
      return conn;
    }
    return null;
  }

  acquire(): Promise<ServerConnection> {
    if (this.successor !== null) return this.successor.acquire();
    if (this.closed) return Promise.reject(ProxyError.shuttingDown());
    const conn = this.tryAcquire();
    if (conn !== null) return Promise.resolve(conn);
    const hold = this.held;
    return new Promise((resolve, reject) => {
      const waiter: Waiter = {
        resolve,
        reject,
        since: Date.now(),
        timer: setTimeout(() => {
          const i = this.waiters.indexOf(waiter);
          if (i >= 0) this.waiters.splice(i, 1);
          this.timeouts++;
          reject(
            hold !== null
              ? hold.timeoutError()
              : this.lastConnectError !== null && this.size === 0
                ? this.lastConnectError
                : ProxyError.poolTimeout(this.name, this.limits.acquireTimeoutMs),
          );
        }, hold?.waitMs ?? this.limits.acquireTimeoutMs),
      };
      this.waiters.push(waiter);
      this.grow();
    });
  }

  /**
   * Failover: acquirers wait (up to hold.waitMs) instead of being served; idle connections, to a node
   * that is down or about to be fenced, are closed. Lent ones finish what they run.
   */
  hold(hold: PoolHold): void {
    if (this.closed) return;
    this.held = hold;
    for (const conn of this.idle.splice(0)) conn.destroy();
    // Those already waiting get the failover's bound too.
    for (const w of this.waiters) {
      clearTimeout(w.timer);
      w.timer = setTimeout(() => this.expire(w, hold.timeoutError()), Math.max(0, w.since + hold.waitMs - Date.now()));
    }
  }

  private expire(w: Waiter, err: ProxyError): void {
    const i = this.waiters.indexOf(w);
    if (i < 0) return;
    this.waiters.splice(i, 1);
    this.timeouts++;
    w.reject(err);
  }

  /** Ends a hold: waiters are served again. */
  resume(): void {
    if (this.held === null) return;
    this.held = null;
    this.grow();
  }

  /** Connections lent out right now (in-flight work, for balancing reads and draining writes). */
  get activeCount(): number {
    return this.lent.size;
  }

  get onHold(): boolean {
    return this.held !== null;
  }

  /**
   * Retires this pool in favour of `to` (the shard's new primary): its waiters and every later
   * acquire are served by `to`; its connections are closed as they come back.
   */
  redirect(to: NodePool): void {
    if (to === this) return;
    this.successor = to;
    this.held = null;
    // Waiters move before close(), which would fail them.
    for (const w of this.waiters.splice(0)) {
      clearTimeout(w.timer);
      to.acquire().then(w.resolve, w.reject);
    }
    this.close();
  }

  /** Takes back a clean connection: idle, status 'I', no statement in flight. */
  release(conn: ServerConnection): void {
    if (conn.owner !== this && conn.owner !== null) {
      conn.owner.release(conn);
      return;
    }
    this.lent.delete(conn);
    conn.listener = null;
    conn.lastUsedAt = Date.now();
    if (conn.broken || conn.closed || this.closed || this.tooOld(conn) || this.size > this.limits.sizeMax) {
      conn.destroy();
      this.grow();
      return;
    }
    const waiter = this.held === null ? this.waiters.shift() : undefined;
    if (waiter !== undefined) {
      clearTimeout(waiter.timer);
      this.lend(conn);
      waiter.resolve(conn);
      return;
    }
    this.idle.push(conn);
  }

  /** Takes back a connection that must not be reused. */
  discard(conn: ServerConnection): void {
    if (conn.owner !== this && conn.owner !== null) {
      conn.owner.discard(conn);
      return;
    }
    this.lent.delete(conn);
    conn.listener = null;
    conn.destroy();
    this.grow();
  }

  stats(): PoolStats {
    const now = Date.now();
    return {
      name: this.name,
      database: this.login.database,
      user: this.login.user,
      active: this.lent.size,
      idle: this.idle.length,
      connecting: this.connecting,
      waiting: this.waiters.length,
      maxWaitMs: this.waiters.length > 0 ? now - this.waiters[0]!.since : 0,
      sizeMax: this.limits.sizeMax,
      acquired: this.acquired,
      timeouts: this.timeouts,
      connectErrors: this.connectErrors,
    };
  }

  /** Every connection, for SHOW SERVERS. */
  connections(): { conn: ServerConnection; state: 'active' | 'idle' }[] {
    return [
      ...[...this.lent].map((conn) => ({ conn, state: 'active' as const })),
      ...this.idle.map((conn) => ({ conn, state: 'idle' as const })),
    ];
  }

  private lend(conn: ServerConnection): void {
    this.lent.add(conn);
    conn.owner = this;
    this.acquired++;
  }

  close(): void {
    this.closed = true;
    clearInterval(this.sweeper);
    for (const w of this.waiters.splice(0)) {
      clearTimeout(w.timer);
      w.reject(ProxyError.shuttingDown());
    }
    for (const conn of this.idle.splice(0)) conn.destroy();
  }

  /** Opens connections while clients wait and there is room. */
  private grow(): void {
    while (!this.closed && this.held === null && this.waiters.length > this.connecting && this.size < this.limits.sizeMax) {
      this.connecting++;
      ServerConnection.connect(this.login).then(
        (conn) => {
          this.connecting--;
          this.lastConnectError = null;
          this.lent.add(conn);
          conn.owner = this;
          this.release(conn);
        },
        (err: ProxyError) => {
          this.connecting--;
          this.connectErrors++;
          this.lastConnectError = err;
          this.log.warn({ pool: this.name, err: err.message }, 'server connection failed');
          if (this.onConnectError?.() === true) return;
          // Nobody else is coming to serve the waiters: fail them now rather than at their deadline.
          if (this.size === 0) {
            for (const w of this.waiters.splice(0)) {
              clearTimeout(w.timer);
              w.reject(err);
            }
          }
        },
      );
    }
  }

  private tooOld(conn: ServerConnection): boolean {
    return this.limits.lifetimeMs > 0 && Date.now() - conn.createdAt > this.limits.lifetimeMs;
  }

  private sweep(): void {
    const now = Date.now();
    for (let i = this.idle.length - 1; i >= 0; i--) {
      const conn = this.idle[i]!;
      if (conn.broken || conn.closed || now - conn.lastUsedAt > this.limits.idleTimeoutMs || this.tooOld(conn)) {
        this.idle.splice(i, 1);
        conn.destroy();
      }
    }
  }
}
