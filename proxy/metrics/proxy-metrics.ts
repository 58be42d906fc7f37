// The Prometheus metrics of one proxy, in a Registry of its own (several proxies may share a process,
// in tests and in the multi-proxy demo). Every pgshard metric is a collect-at-scrape view of a
// MetricsSnapshot: each scrape resets the series and fills them from the live state, so a pool or
// node that went away disappears and nothing is counted on the query path. prom-client renders the
// exposition format and adds the Node.js process metrics.

import { Counter, Gauge, Registry, collectDefaultMetrics } from 'prom-client';
import {
  FAILOVER_PHASES,
  NODE_ROLES,
  takeSnapshot,
  type MetricsSnapshot,
  type MetricsSource,
} from './metrics-snapshot.js';

export const METRICS_PREFIX = 'pgshard_';

const POOL_LABELS = ['database', 'shard', 'node', 'user', 'role'] as const;
const NODE_LABELS = ['database', 'shard', 'node'] as const;
const SHARD_LABELS = ['database', 'shard'] as const;

type Labels<L extends string> = Partial<Record<L, string>>;
type Fill<L extends string> = (s: MetricsSnapshot, put: (labels: Labels<L>, value: number) => void) => void;

export class ProxyMetrics {
  readonly registry = new Registry();
  /** The snapshot of the scrape being rendered, so that every metric of one scrape agrees. */
  private current: MetricsSnapshot | null = null;
  private rendering = 0;

  constructor(private readonly source: MetricsSource) {
    collectDefaultMetrics({ register: this.registry, prefix: METRICS_PREFIX });
    this.define();
  }

  get contentType(): string {
    return this.registry.contentType;
  }

  /** The exposition text of every metric, from one snapshot of the proxy's state. */
  async render(): Promise<string> {
    this.rendering++;
    try {
      this.current = takeSnapshot(this.source);
      return await this.registry.metrics();
    } finally {
      if (--this.rendering === 0) this.current = null;
    }
  }

  private snapshot(): MetricsSnapshot {
    return this.current ?? takeSnapshot(this.source);
  }

  private gauge<L extends string>(name: string, help: string, labelNames: readonly L[], fill: Fill<L>): void {
    const snapshot = () => this.snapshot();
    const metric: Gauge<L> = new Gauge<L>({
      name: METRICS_PREFIX + name,
      help,
      labelNames,
      registers: [this.registry],
      collect() {
        metric.reset();
        fill(snapshot(), (labels, value) => metric.set(labels, value));
      },
    });
  }

  /** A counter whose value is a running total the proxy already keeps (set, not incremented, at scrape). */
  private counter<L extends string>(name: string, help: string, labelNames: readonly L[], fill: Fill<L>): void {
    const snapshot = () => this.snapshot();
    const metric: Counter<L> = new Counter<L>({
      name: METRICS_PREFIX + name,
      help,
      labelNames,
      registers: [this.registry],
      collect() {
        metric.reset();
        fill(snapshot(), (labels, value) => metric.inc(labels, value));
      },
    });
  }

  private define(): void {
    this.gauge('info', 'pgshard build information; always 1.', ['version'], (s, put) => put({ version: s.version }, 1));

    // Pools: one per (database, shard node, user), as in SHOW POOLS.
    this.gauge('pool_server_connections', 'Server connections of the pool by state: lent to a client (active), idle, or being opened (connecting).', [...POOL_LABELS, 'state'], (s, put) => {
      for (const p of s.pools) {
        put({ ...p.labels, state: 'active' }, p.active);
        put({ ...p.labels, state: 'idle' }, p.idle);
        put({ ...p.labels, state: 'connecting' }, p.connecting);
      }
    });
    this.gauge('pool_clients_waiting', 'Clients waiting for a server connection of the pool.', POOL_LABELS, (s, put) => {
      for (const p of s.pools) put(p.labels, p.waiting);
    });
    this.gauge('pool_max_wait_seconds', 'How long the oldest waiting client of the pool has waited (0 when none waits).', POOL_LABELS, (s, put) => {
      for (const p of s.pools) put(p.labels, p.maxWaitSeconds);
    });
    this.gauge('pool_size_max', 'Server connections the pool may open (pool.sizeMax or the user\'s poolSizeMax).', POOL_LABELS, (s, put) => {
      for (const p of s.pools) put(p.labels, p.sizeMax);
    });
    this.counter('pool_acquired_total', 'Server connections lent to clients (checkouts) since the pool was created.', POOL_LABELS, (s, put) => {
      for (const p of s.pools) put(p.labels, p.acquired);
    });
    this.counter('pool_acquire_timeouts_total', 'Clients that gave up waiting for a server connection (53300 / failover wait exceeded).', POOL_LABELS, (s, put) => {
      for (const p of s.pools) put(p.labels, p.timeouts);
    });
    this.counter('pool_connect_errors_total', 'Failed attempts to open a server connection of the pool.', POOL_LABELS, (s, put) => {
      for (const p of s.pools) put(p.labels, p.connectErrors);
    });
    this.counter('pool_server_busy_seconds_total', 'Time server connections of the pool spent lent to clients, summed; divided by pool_acquired_total, the mean checkout (transaction) time.', POOL_LABELS, (s, put) => {
      for (const p of s.pools) put(p.labels, p.busySeconds);
    });
    this.counter('pool_waits_total', 'Checkouts that had to wait for a server connection (and got one).', POOL_LABELS, (s, put) => {
      for (const p of s.pools) put(p.labels, p.waited);
    });
    this.counter('pool_wait_seconds_total', 'Time clients waited for a server connection before they got one, summed; divided by pool_waits_total, the mean wait.', POOL_LABELS, (s, put) => {
      for (const p of s.pools) put(p.labels, p.waitedSeconds);
    });
    this.counter('pool_deadlocks_total', 'Waits for a server connection of the pool failed with 40P01 to break a deadlock between sessions.', POOL_LABELS, (s, put) => {
      for (const p of s.pools) put(p.labels, p.deadlocks);
    });

    // Clients, as in SHOW CLIENTS.
    this.gauge('clients_connected', 'Client connections held by the proxy, logged in or not (bounded by limits.clientsMax).', [], (s, put) => put({}, s.clientsConnected));
    this.gauge('clients_max', 'Client connections the proxy accepts at once (limits.clientsMax).', [], (s, put) => put({}, s.clientsMax));
    this.gauge('clients', 'Client connections by database, user and state (active, idle, waiting, login, closing).', ['database', 'user', 'state'], (s, put) => {
      for (const c of s.clients) put(c.labels, c.count);
    });

    // Node health, as in SHOW NODES.
    this.gauge('node_up', 'Whether the node answers its health checks (1) or not, or has not been checked yet (0).', NODE_LABELS, (s, put) => {
      for (const n of s.nodes) put(n.labels, n.up ? 1 : 0);
    });
    this.gauge('node_role', 'The node\'s role as last observed (pg_is_in_recovery): 1 for its role, 0 for the others.', [...NODE_LABELS, 'role'], (s, put) => {
      for (const n of s.nodes) for (const role of NODE_ROLES) put({ ...n.labels, role }, n.role === role ? 1 : 0);
    });
    this.gauge('node_routable', 'Whether reads may be routed to the node (a healthy replica within the lag bounds).', NODE_LABELS, (s, put) => {
      for (const n of s.nodes) put(n.labels, n.routable ? 1 : 0);
    });
    this.gauge('node_replication_lag_seconds', 'Replica staleness: age of its last replayed transaction while the primary writes; replicas whose lag is known only.', NODE_LABELS, (s, put) => {
      for (const n of s.nodes) if (n.lagSeconds !== null) put(n.labels, n.lagSeconds);
    });
    this.gauge('node_replication_lag_bytes', 'WAL the replica has not replayed yet, in bytes; replicas whose lag is known only.', NODE_LABELS, (s, put) => {
      for (const n of s.nodes) if (n.lagBytes !== null) put(n.labels, n.lagBytes);
    });
    this.gauge('node_check_failures', 'Health checks of the node failed in a row.', NODE_LABELS, (s, put) => {
      for (const n of s.nodes) put(n.labels, n.failures);
    });

    // Failover, as in SHOW FAILOVER.
    this.gauge('failover_term', 'The shard\'s failover term (fencing token); it grows with each change of primary.', SHARD_LABELS, (s, put) => {
      for (const sh of s.shards) put(sh.labels, sh.term);
    });
    this.gauge('failover_phase', 'The shard\'s failover phase: 1 for the current one, 0 for the others.', [...SHARD_LABELS, 'phase'], (s, put) => {
      for (const sh of s.shards) for (const phase of FAILOVER_PHASES) put({ ...sh.labels, phase }, sh.phase === phase ? 1 : 0);
    });
    this.gauge('failover_fenced_nodes', 'Nodes of the shard fenced (kept from taking writes) after a change of primary.', SHARD_LABELS, (s, put) => {
      for (const sh of s.shards) put(sh.labels, sh.fenced);
    });
    this.gauge('shard_primary', 'The node the shard writes to now (1); absent while the shard has no primary.', [...SHARD_LABELS, 'node'], (s, put) => {
      for (const sh of s.shards) if (sh.primary !== null) put({ ...sh.labels, node: sh.primary }, 1);
    });
    this.counter('failovers_total', 'Failovers completed on the shard since failover started.', SHARD_LABELS, (s, put) => {
      for (const sh of s.shards) put(sh.labels, sh.failovers);
    });
    this.counter('switchovers_total', 'Switchovers completed on the shard since failover started.', SHARD_LABELS, (s, put) => {
      for (const sh of s.shards) put(sh.labels, sh.switchovers);
    });
    this.counter('failover_promote_failures_total', 'Promotions that failed or timed out on the shard since failover started.', SHARD_LABELS, (s, put) => {
      for (const sh of s.shards) put(sh.labels, sh.promoteFailures);
    });
    this.gauge('failover_leader', 'Whether this proxy runs failovers (1: the coordination leader, or the only proxy; 0 before failover starts).', [], (s, put) =>
      put({}, s.leader === true ? 1 : 0),
    );
  }
}
