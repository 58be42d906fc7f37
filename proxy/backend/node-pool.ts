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
import type { PoolHolder, PoolWaits } from './pool-deadlock.js';
import { ServerConnection, type ServerLogin } from './server-connection.js';

export interface PoolLimits {
  readonly sizeMax: number;
  readonly acquireTimeoutMs: number;
  readonly idleTimeoutMs: number;
  readonly lifetimeMs: number;
}

/** Called once with a connection, or once with the error that ended the wait. */
export type AcquireCallback = (err: ProxyError | null, conn: ServerConnection | null) => void;

interface Waiter {
  readonly done: AcquireCallback;
  /** The client session waiting (for deadlock detection); null for the proxy's own work. */
  readonly holder: PoolHolder | null;
  readonly since: number;
  /** Date.now() value after which the wait fails. */
  deadline: number;
  /** The hold that set the deadline, if any (its error is the one the waiter gets). */
  hold: PoolHold | null;
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
  /** Milliseconds connections spent lent to clients, summed: busyMs / acquired is the mean checkout. */
  readonly busyMs: number;
  /** Checkouts that had to wait for a connection, and their waits summed (waits that timed out excluded). */
  readonly waited: number;
  readonly waitedMs: number;
  /** Waits failed with 40P01 to break a deadlock (pool-deadlock.ts). */
  readonly deadlocks: number;
}

export class NodePool {
  private readonly idle: ServerConnection[] = [];
  private readonly waiters: Waiter[] = [];
  // An array with each connection's index on the connection (swap-remove) rather than a Set: lending
  // and taking back happen once per transaction, and a Set's deletions make it rehash now and then.
  private readonly lent: ServerConnection[] = [];
  private connecting = 0;
  private closed = false;
  private acquired = 0;
  private timeouts = 0;
  private connectErrors = 0;
  // Running totals for SHOW POOLS and the metrics, like pgbouncer's SHOW STATS times: a subtraction per
  // checkout, where a histogram would cost the query path a lookup and a bucket search.
  private busyMs = 0;
  private waited = 0;
  private waitedMs = 0;
  private deadlocks = 0;
  private lastConnectError: ProxyError | null = null;
  private readonly sweeper: NodeJS.Timeout;
  /**
   * One timer for every waiter's deadline, armed for the earliest: a waiter that is served in time (the
   * common case under load) costs no timer of its own.
   */
  private deadlineTimer: NodeJS.Timeout | null = null;
  private deadlineAt = Number.POSITIVE_INFINITY;
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
    return this.idle.length + this.lent.length + this.connecting;
  }

  /**
   * The fast path: an idle connection now, or null. `holder` is the client session it is lent to
   * (acquireThen() and acquire() take it too): what deadlock detection knows about who holds what.
   */
  tryAcquire(holder: PoolHolder | null = null): ServerConnection | null {
    if (this.successor !== null) return this.successor.tryAcquire(holder);
    if (this.held !== null) return null;
    while (this.idle.length > 0) {
      const conn = this.idle.pop()!;
      if (conn.broken || conn.closed) {
        conn.destroy();
        continue;
      }
      this.lend(conn, holder);
      return conn;
    }
    return null;
  }

  acquire(holder: PoolHolder | null = null): Promise<ServerConnection> {
    return new Promise((resolve, reject) => {
      this.acquireThen((err, conn) => (err === null ? resolve(conn!) : reject(err)), holder);
    });
  }

  /**
   * acquire() without a promise: `done` runs synchronously when a connection is idle, else once a
   * connection is released to this waiter or its deadline passes. The relay's hot path uses it.
   */
  acquireThen(done: AcquireCallback, holder: PoolHolder | null = null): void {
    if (this.successor !== null) return this.successor.acquireThen(done, holder);
    if (this.closed) return done(ProxyError.shuttingDown(), null);
    const conn = this.tryAcquire(holder);
    if (conn !== null) return done(null, conn);
    const hold = this.held;
    const since = Date.now();
    const deadline = since + (hold?.waitMs ?? this.limits.acquireTimeoutMs);
    this.waiters.push({ done, holder, since, deadline, hold });
    this.armDeadline(deadline);
    this.grow();
  }

  /** Makes sure the deadline timer fires by `at`. */
  private armDeadline(at: number): void {
    if (this.deadlineTimer !== null && this.deadlineAt <= at) return;
    if (this.deadlineTimer !== null) clearTimeout(this.deadlineTimer);
    this.deadlineAt = at;
    this.deadlineTimer = setTimeout(() => this.expireOverdue(), Math.max(0, at - Date.now()));
  }

  /** Fails every waiter whose deadline has passed and re-arms the timer for the next one. */
  private expireOverdue(): void {
    this.deadlineTimer = null;
    this.deadlineAt = Number.POSITIVE_INFINITY;
    const now = Date.now();
    let next = Number.POSITIVE_INFINITY;
    const overdue: Waiter[] = [];
    let kept = 0;
    for (const w of this.waiters) {
      if (w.deadline <= now) {
        overdue.push(w);
      } else {
        this.waiters[kept++] = w;
        if (w.deadline < next) next = w.deadline;
      }
    }
    this.waiters.length = kept;
    if (next !== Number.POSITIVE_INFINITY) this.armDeadline(next);
    for (const w of overdue) {
      this.timeouts++;
      w.done(this.timeoutErrorFor(w), null);
    }
  }

  private timeoutErrorFor(w: Waiter): ProxyError {
    if (w.hold !== null) return w.hold.timeoutError();
    if (this.lastConnectError !== null && this.size === 0) return this.lastConnectError;
    return ProxyError.poolTimeout(this.name, this.limits.acquireTimeoutMs);
  }

  /** Ends every wait with `err` (pool closing, node unreachable). */
  private failWaiters(err: ProxyError): void {
    for (const w of this.waiters.splice(0)) w.done(err, null);
    this.disarmDeadline();
  }

  private disarmDeadline(): void {
    if (this.deadlineTimer === null) return;
    clearTimeout(this.deadlineTimer);
    this.deadlineTimer = null;
    this.deadlineAt = Number.POSITIVE_INFINITY;
  }

  /**
   * Failover: acquirers wait (up to hold.waitMs) instead of being served; idle connections, to a node
   * that is down or about to be fenced, are closed. Lent ones finish what they run.
   */
  hold(hold: PoolHold): void {
    if (this.closed) return;
    this.held = hold;
    for (const conn of this.idle.splice(0)) conn.destroy();
    // Those already waiting get the failover's bound too, counted from when they began to wait.
    if (this.waiters.length === 0) return;
    this.disarmDeadline();
    let next = Number.POSITIVE_INFINITY;
    for (const w of this.waiters) {
      w.deadline = w.since + hold.waitMs;
      w.hold = hold;
      if (w.deadline < next) next = w.deadline;
    }
    this.armDeadline(next);
  }

  /** Ends a hold: waiters are served again. */
  resume(): void {
    if (this.held === null) return;
    this.held = null;
    this.grow();
  }

  /** Connections lent out right now (in-flight work, for balancing reads and draining writes). */
  get activeCount(): number {
    return this.lent.length;
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
    for (const w of this.waiters.splice(0)) to.acquireThen(w.done, w.holder);
    this.disarmDeadline();
    this.close();
  }

  /** Takes back a clean connection: idle, status 'I', no statement in flight. */
  release(conn: ServerConnection): void {
    if (conn.owner !== this && conn.owner !== null) {
      conn.owner.release(conn);
      return;
    }
    const wasLent = this.unlend(conn);
    conn.listener = null;
    const now = Date.now();
    conn.lastUsedAt = now;
    if (wasLent) this.busyMs += now - conn.lentSince;
    if (conn.broken || conn.closed || this.closed || this.tooOld(conn) || this.size > this.limits.sizeMax) {
      conn.destroy();
      this.grow();
      return;
    }
    const waiter = this.held === null ? this.waiters.shift() : undefined;
    if (waiter !== undefined) {
      // The deadline timer stays armed: when it fires it finds this waiter gone and re-arms or stops.
      this.lend(conn, waiter.holder);
      this.waited++;
      this.waitedMs += now - waiter.since;
      waiter.done(null, conn);
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
    if (this.unlend(conn)) this.busyMs += Date.now() - conn.lentSince;
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
      active: this.lent.length,
      idle: this.idle.length,
      connecting: this.connecting,
      waiting: this.waiters.length,
      maxWaitMs: this.waiters.length > 0 ? now - this.waiters[0]!.since : 0,
      sizeMax: this.limits.sizeMax,
      acquired: this.acquired,
      timeouts: this.timeouts,
      connectErrors: this.connectErrors,
      busyMs: this.busyMs,
      waited: this.waited,
      waitedMs: this.waitedMs,
      deadlocks: this.deadlocks,
    };
  }

  /** Every connection, for SHOW SERVERS. */
  connections(): { conn: ServerConnection; state: 'active' | 'idle' }[] {
    return [
      ...this.lent.map((conn) => ({ conn, state: 'active' as const })),
      ...this.idle.map((conn) => ({ conn, state: 'idle' as const })),
    ];
  }

  private lend(conn: ServerConnection, holder: PoolHolder | null): void {
    this.addLent(conn);
    conn.holder = holder;
    this.acquired++;
  }

  /** Whether a client session has waited here since `before` (Date.now() value) or longer. */
  hasWaitSince(before: number): boolean {
    return this.waiters.some((w) => w.holder !== null && w.since <= before);
  }

  /** Who holds and who waits, for deadlock detection (PoolRegistry). */
  waits(): PoolWaits {
    return {
      free: this.idle.length + this.connecting + Math.max(0, this.limits.sizeMax - this.size),
      lentTo: this.lent.map((conn) => conn.holder),
      waiters: this.waiters,
    };
  }

  /** Ends `holder`'s wait with `err` (a deadlock victim); false when it no longer waits here. */
  failWaiter(holder: PoolHolder, err: ProxyError): boolean {
    const at = this.waiters.findIndex((w) => w.holder === holder);
    if (at < 0) return false;
    const [w] = this.waiters.splice(at, 1);
    this.deadlocks++;
    w!.done(err, null);
    return true;
  }

  private addLent(conn: ServerConnection): void {
    conn.lentAt = this.lent.length;
    conn.lentSince = Date.now();
    this.lent.push(conn);
    conn.owner = this;
  }

  /** Takes conn off the lent list; false when it was not on it. */
  private unlend(conn: ServerConnection): boolean {
    const at = conn.lentAt;
    if (at < 0 || this.lent[at] !== conn) return false;
    const last = this.lent.pop()!;
    if (last !== conn) {
      this.lent[at] = last;
      last.lentAt = at;
    }
    conn.lentAt = -1;
    conn.holder = null;
    return true;
  }

  close(): void {
    this.closed = true;
    clearInterval(this.sweeper);
    this.failWaiters(ProxyError.shuttingDown());
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
          this.addLent(conn);
          this.release(conn);
        },
        (err: ProxyError) => {
          this.connecting--;
          this.connectErrors++;
          this.lastConnectError = err;
          this.log.warn({ pool: this.name, err: err.message }, 'server connection failed');
          if (this.onConnectError?.() === true) return;
          // Nobody else is coming to serve the waiters: fail them now rather than at their deadline.
          if (this.size === 0) this.failWaiters(err);
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
