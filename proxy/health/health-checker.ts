// The I/O half of node health: one check loop per configured node (per database, shard and address),
// each on its own jittered timer, over one persistent connection per node, feeding the pure state in
// topology/health/node-health.ts. Also the sync-read helper waitForReplay, which polls the shard's
// replicas directly instead of waiting for their next check.
//
// What it must not do: decide routing or failover (it reports; topology/replica-choice.ts and the
// failover machine decide), put credentials in errors or logs, or leave a timer or socket behind
// after stop().
//
// One check = one simple query (CHECK_SQL) within health.timeoutMs, connecting first when needed; a
// check that times out fails and its connection is destroyed (a half-answered connection cannot be
// reused). Queries on a node's connection are serialized (checks and replay polls share it).

import type { Config, UserConfig } from '../../topology/config/config-types.js';
import {
  applyCheck,
  applyReplayProgress,
  buildNodeView,
  initialNodeHealth,
  nodeChanges,
  nodeKey,
  routabilityChange,
  type CheckOutcome,
  type HealthChangeKind,
  type HealthLimits,
  type NodeHealth,
  type NodeIdentity,
  type NodeRole,
  type NodeView,
} from '../../topology/health/node-health.js';
import { lsnReached, parseLsnOrNull, type Lsn } from '../../topology/lsn.js';
import type { ServerLogin } from '../backend/server-connection.js';
import type { Logger } from '../logger.js';
import { CHECK_SQL, REPLAY_SQL, parseCheckRow } from './check-query.js';
import { NodeLink } from './node-link.js';
import { serverLogin } from '../backend/server-login.js';

/**
 * Pause between two replay polls of one replica while reads wait on it: starting at 1 ms (a caught-up
 * replica on a LAN replays a commit within a millisecond or two, and a read waits for that) and
 * growing by 1 ms per poll to this, so a replica that is really behind is not polled in a busy loop.
 * Short next to reads.syncWaitMs (default 50 ms).
 */
const REPLAY_POLL_GAP_MS = 5;
/** Jitter of the check interval: ±10% (health.intervalMs documents it), so checks of many nodes spread out. */
const JITTER = 0.1;
/** Error text kept per node (SHOW NODES, logs): enough for a server message, never a stack. */
const ERROR_CHARS_MAX = 300;

/** A change worth acting on: the node's view just after it. */
export interface HealthChange {
  readonly kind: HealthChangeKind;
  readonly node: NodeView;
}

/** Every finished check (the failover wiring feeds these to its machine). */
export interface HealthCheckResult {
  readonly node: NodeView;
  readonly outcome: CheckOutcome;
}

export interface HealthCheckerOptions {
  /** Proxy clock in ms (tests may pass a fake); default Date.now. */
  readonly now?: () => number;
  /** Uniform [0, 1) for the jitter; default Math.random. */
  readonly random?: () => number;
}

interface ReplayWaiter {
  readonly lsn: Lsn;
  readonly resolve: (node: NodeView | null) => void;
  timer: NodeJS.Timeout | null;
}

interface NodeEntry {
  readonly id: NodeIdentity;
  readonly key: string;
  readonly link: NodeLink;
  /**
   * A second connection for replay polls: a read waiting for its write to reach the replica must not
   * queue behind a regular check (a few ms under load, a whole timeout when the check hangs).
   */
  readonly pollLink: NodeLink;
  readonly shard: ShardEntry;
  health: NodeHealth;
  /** Routability at the last recomputation (changes are announced). */
  routable: boolean;
  timer: NodeJS.Timeout | null;
  check: Promise<void> | null;
  polling: Promise<void> | null;
  pollTimer: NodeJS.Timeout | null;
  pollWake: (() => void) | null;
  /** Current pause between replay polls (ms): 1 after a new waiter, growing to REPLAY_POLL_GAP_MS. */
  pollGap: number;
}

interface ShardEntry {
  /** `database/shard`. */
  readonly key: string;
  readonly nodes: NodeEntry[];
  /** The node the shard writes to (lag is measured against it): the configured primary until setPrimary. */
  primary: NodeEntry | null;
  readonly waiters: Set<ReplayWaiter>;
}

function describeError(err: unknown): string {
  const text = err instanceof Error ? err.message : String(err);
  return text.length > ERROR_CHARS_MAX ? `${text.slice(0, ERROR_CHARS_MAX - 3)}...` : text;
}

function healthUser(config: Config): UserConfig | null {
  const name = config.health.user;
  return (name === null ? config.users[0] : config.users.find((u) => u.name === name)) ?? null;
}

export class HealthChecker {
  private readonly shards = new Map<string, ShardEntry>();
  private readonly nodes: NodeEntry[] = [];
  private readonly changeListeners: ((change: HealthChange) => void)[] = [];
  private readonly checkListeners: ((result: HealthCheckResult) => void)[] = [];
  private readonly log: Logger;
  private readonly now: () => number;
  private readonly random: () => number;
  private started = false;
  private stopping: Promise<void> | null = null;

  constructor(
    private readonly config: Config,
    log: Logger,
    options: HealthCheckerOptions = {},
  ) {
    this.log = log.child({ component: 'health' });
    this.now = options.now ?? Date.now;
    this.random = options.random ?? Math.random;
    const user = healthUser(config);
    for (const db of config.databases) {
      for (const shardConfig of db.shards) {
        const shard: ShardEntry = { key: `${db.name}/${shardConfig.name}`, nodes: [], primary: null, waiters: new Set() };
        const members: [NodeRole, (typeof shardConfig.replicas)[number]][] = [
          ['primary', shardConfig.primary],
          ...shardConfig.replicas.map((r): [NodeRole, typeof r] => ['replica', r]),
        ];
        for (const [role, address] of members) {
          const id: NodeIdentity = { database: db.name, shard: shardConfig.name, host: address.host, port: address.port };
          const login: ServerLogin | null =
            user === null
              ? null
              : serverLogin(config, db, user, address, `health ${shard.key}`, { connectTimeoutMs: config.health.timeoutMs });
          const entry: NodeEntry = {
            id,
            key: nodeKey(id),
            link: new NodeLink(login),
            pollLink: new NodeLink(login === null ? null : { ...login, nodeName: `${login.nodeName} replay poll` }),
            shard,
            health: initialNodeHealth(role),
            routable: false,
            timer: null,
            check: null,
            polling: null,
            pollTimer: null,
            pollWake: null,
            pollGap: 1,
          };
          shard.nodes.push(entry);
          this.nodes.push(entry);
          if (role === 'primary') shard.primary = entry;
        }
        this.shards.set(shard.key, shard);
      }
    }
  }

  private get limits(): HealthLimits {
    return this.config.health;
  }

  /** Starts every node's loop; the first checks are spread over the first 10% of an interval. */
  start(): void {
    if (this.started || this.stopping !== null) return;
    this.started = true;
    for (const node of this.nodes) this.schedule(node, this.random() * this.config.health.intervalMs * JITTER);
  }

  /**
   * Stops every loop, resolves pending waitForReplay calls with null, and closes every connection.
   * Resolves once no timer or socket of the checker is left (a connect in progress ends within
   * health.timeoutMs).
   */
  stop(): Promise<void> {
    this.stopping ??= this.shutdown();
    return this.stopping;
  }

  private async shutdown(): Promise<void> {
    for (const node of this.nodes) {
      if (node.timer !== null) clearTimeout(node.timer);
      node.timer = null;
      this.wakePoll(node);
    }
    for (const shard of this.shards.values()) for (const w of [...shard.waiters]) this.finishWaiter(shard, w, null);
    const closing = this.nodes.flatMap((n) => [n.link.close(), n.pollLink.close()]);
    await Promise.allSettled(this.nodes.flatMap((n) => [n.check, n.polling]).filter((p) => p !== null));
    await Promise.allSettled(closing);
  }

  /** Registers a listener: 'change' for up/down/promoted/role/routable/unroutable, 'check' after every check. */
  on(event: 'change', fn: (change: HealthChange) => void): this;
  on(event: 'check', fn: (result: HealthCheckResult) => void): this;
  on(event: 'change' | 'check', fn: ((change: HealthChange) => void) | ((result: HealthCheckResult) => void)): this {
    if (event === 'change') this.changeListeners.push(fn as (change: HealthChange) => void);
    else this.checkListeners.push(fn as (result: HealthCheckResult) => void);
    return this;
  }

  /** Every configured node, in config order (databases, shards, primary then replicas). */
  snapshot(): NodeView[] {
    return this.nodes.map((n) => this.view(n));
  }

  /** The views of one shard (`database/shard`), or null for an unknown shard. */
  shardSnapshot(shard: string): NodeView[] | null {
    const entry = this.shards.get(shard);
    return entry === undefined ? null : entry.nodes.map((n) => this.view(n));
  }

  /**
   * Checks `address` (`host:port`) of `shard` now instead of at its next turn (a pool could not
   * connect to it): a dead primary is noticed up to one interval sooner. A check already running
   * counts; the node's loop then goes on from this check.
   */
  checkNow(shard: string, address: string): void {
    const node = this.shards.get(shard)?.nodes.find((n) => `${n.id.host}:${n.id.port}` === address);
    // Only the first failure comes early: the ones after it keep the interval, so failuresBeforeDown
    // still spans (failuresBeforeDown − 1) intervals and a quick restart does not fail over.
    if (node === undefined || node.check !== null || node.timer === null || this.stopping !== null || node.health.failures > 0) return;
    clearTimeout(node.timer);
    this.schedule(node, 0);
  }

  /**
   * Tells the checker which node the shard writes to now (after a failover): replica lag is measured
   * against it. `address` is `host:port` of a configured node of the shard; returns false otherwise.
   */
  setPrimary(shard: string, address: string): boolean {
    const entry = this.shards.get(shard);
    const node = entry?.nodes.find((n) => `${n.id.host}:${n.id.port}` === address);
    if (entry === undefined || node === undefined) return false;
    entry.primary = node;
    this.refreshShard(entry);
    return true;
  }

  /**
   * Resolves with a routable replica of `shard` (`database/shard`) that replayed at least `lsn`, or
   * null when none did within timeoutMs. Replicas are polled directly (pg_last_wal_replay_lsn() every
   * few ms) while someone waits, rather than at the next regular check.
   */
  waitForReplay(shard: string, lsn: Lsn, timeoutMs: number): Promise<NodeView | null> {
    const entry = this.shards.get(shard);
    if (entry === undefined) return Promise.reject(new Error(`unknown shard ${shard}`));
    const ready = this.replayedBy(entry, lsn);
    if (ready !== null || timeoutMs <= 0 || this.stopping !== null) return Promise.resolve(ready);
    return new Promise((resolve) => {
      const waiter: ReplayWaiter = { lsn, resolve, timer: null };
      waiter.timer = setTimeout(() => this.finishWaiter(entry, waiter, null), timeoutMs);
      entry.waiters.add(waiter);
      for (const node of entry.nodes) {
        // A new waiter is polled for at once, and from the shortest gap again.
        node.pollGap = 1;
        this.wakePoll(node);
        this.pollReplay(node);
      }
    });
  }

  // ------------------------------------------------------------------------------------- internals

  private view(node: NodeEntry): NodeView {
    const primary = node.shard.primary;
    return buildNodeView(node.id, node.health, primary === null ? null : primary.health, this.limits);
  }

  private schedule(node: NodeEntry, delayMs: number): void {
    if (this.stopping !== null) return;
    node.timer = setTimeout(() => {
      node.timer = null;
      node.check = this.runCheck(node).finally(() => {
        node.check = null;
      });
    }, Math.max(0, delayMs));
  }

  private jitteredInterval(): number {
    const interval = this.config.health.intervalMs;
    return interval * (1 - JITTER + 2 * JITTER * this.random());
  }

  private async runCheck(node: NodeEntry): Promise<void> {
    const started = this.now();
    const next = this.jitteredInterval();
    let outcome: CheckOutcome;
    try {
      const rows = await node.link.query(CHECK_SQL, this.config.health.timeoutMs);
      outcome = { kind: 'sample', sample: parseCheckRow(rows[0]), startedAtMs: started };
    } catch (err) {
      outcome = { kind: 'failure', error: describeError(err) };
    }
    if (this.stopping !== null) return;
    try {
      this.record(node, outcome);
    } catch (err) {
      this.log.error({ node: node.key, err: describeError(err) }, 'recording a health check failed');
    }
    // The interval runs from the start of a check, so a slow answer does not stretch the period.
    this.schedule(node, next - (this.now() - started));
  }

  private record(node: NodeEntry, outcome: CheckOutcome): void {
    const prev = node.health;
    node.health = applyCheck(prev, outcome, this.now(), this.limits);
    const view = this.view(node);
    this.emit(this.checkListeners, { node: view, outcome });
    for (const kind of nodeChanges(prev, node.health)) this.announce(kind, view);
    // A primary's new position changes every replica's lag; a replica's, only its own.
    this.refreshShard(node.shard);
    this.settleWaiters(node.shard);
    // A replica that just became routable joins the polling for reads still waiting.
    if (node.shard.waiters.size > 0) for (const n of node.shard.nodes) this.pollReplay(n);
  }

  /** Recomputes routability in a shard and announces what changed. */
  private refreshShard(shard: ShardEntry): void {
    for (const n of shard.nodes) {
      const view = this.view(n);
      const change = routabilityChange(n.routable, view.routable);
      n.routable = view.routable;
      if (change !== null) this.announce(change, view);
    }
  }

  private announce(kind: HealthChangeKind, node: NodeView): void {
    const fields = {
      node: node.key,
      configuredRole: node.configuredRole,
      observedRole: node.observedRole,
      failures: node.failures,
      lagBytes: node.lagBytes === null ? null : String(node.lagBytes),
      lagMs: node.lagMs,
      error: node.lastError,
    };
    switch (kind) {
      case 'down':
        this.log.warn(fields, 'node down');
        break;
      case 'promoted':
        this.log.warn(fields, 'a replica reports it is a primary');
        break;
      case 'role':
        this.log.warn(fields, 'node changed role');
        break;
      case 'unroutable':
        this.log.info(fields, 'replica taken out of read routing');
        break;
      case 'routable':
        this.log.info(fields, 'replica back in read routing');
        break;
      case 'up':
        this.log.info(fields, 'node up');
        break;
    }
    this.emit(this.changeListeners, { kind, node });
  }

  /** A listener that throws must not stop the loops. */
  private emit<T>(listeners: readonly ((arg: T) => void)[], arg: T): void {
    for (const fn of [...listeners]) {
      try {
        fn(arg);
      } catch (err) {
        this.log.error({ err: describeError(err) }, 'health listener failed');
      }
    }
  }

  private replayedBy(shard: ShardEntry, lsn: Lsn): NodeView | null {
    for (const n of shard.nodes) {
      const view = this.view(n);
      if (view.routable && lsnReached(view.replayLsn, lsn)) return view;
    }
    return null;
  }

  private settleWaiters(shard: ShardEntry): void {
    for (const w of [...shard.waiters]) {
      const node = this.replayedBy(shard, w.lsn);
      if (node !== null) this.finishWaiter(shard, w, node);
    }
  }

  private finishWaiter(shard: ShardEntry, w: ReplayWaiter, node: NodeView | null): void {
    if (!shard.waiters.delete(w)) return;
    if (w.timer !== null) clearTimeout(w.timer);
    w.timer = null;
    w.resolve(node);
    if (shard.waiters.size === 0) for (const n of shard.nodes) this.wakePoll(n);
  }

  /** Polls one replica's replay position while reads of its shard wait (one poll loop per node). */
  private pollReplay(node: NodeEntry): void {
    if (node.polling !== null || !this.view(node).routable) return;
    node.polling = this.pollLoop(node).finally(() => {
      node.polling = null;
    });
  }

  private async pollLoop(node: NodeEntry): Promise<void> {
    const shard = node.shard;
    node.pollGap = 1;
    try {
      while (this.stopping === null && shard.waiters.size > 0 && this.view(node).routable) {
        const rows = await node.pollLink.query(REPLAY_SQL, this.config.health.timeoutMs);
        const lsn = parseLsnOrNull(rows[0]?.[0] ?? null);
        if (lsn !== null) {
          node.health = applyReplayProgress(node.health, lsn);
          this.settleWaiters(shard);
        }
        if (shard.waiters.size === 0 || this.stopping !== null) break;
        await new Promise<void>((resolve) => {
          node.pollWake = resolve;
          node.pollTimer = setTimeout(resolve, node.pollGap);
        });
        node.pollGap = Math.min(REPLAY_POLL_GAP_MS, node.pollGap + 1);
        node.pollTimer = null;
        node.pollWake = null;
      }
    } catch (err) {
      // The regular check decides whether the node is down; waiting reads fall back at their timeout.
      this.log.debug({ node: node.key, err: describeError(err) }, 'replay poll failed');
    }
  }

  private wakePoll(node: NodeEntry): void {
    if (node.pollTimer !== null) clearTimeout(node.pollTimer);
    node.pollTimer = null;
    const wake = node.pollWake;
    node.pollWake = null;
    wake?.();
  }
}
