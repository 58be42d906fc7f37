// The composition root: builds every part from a config snapshot and wires them together.
// Owns the listening socket, the client registry (cancel keys, clientsMax), the pools, config reload,
// the metrics endpoint and orderly shutdown. Nothing else creates pools or holds global state.

import net from 'node:net';
import tls from 'node:tls';
import { readFileSync } from 'node:fs';
import { buildCancelRequest } from './protocol/rewrite.js';
import { ProxyError } from './errors.js';
import type { Logger } from './logger.js';
import { PoolRegistry } from './backend/pool-registry.js';
import { StatementRegistry } from './backend/statement-registry.js';
import type { ServerConnection } from './backend/server-connection.js';
import { ClientConnection, type ClientRegistry } from './session/client-connection.js';
import type { ProxyContext } from './context.js';
import type { AdminView, ClientView } from './admin/admin-command.js';
import { SessionEffectClassifier } from '../planner/session-effects.js';
import { initSqlParser } from '../planner/sql-parser.js';
import type { Config, DatabaseConfig, ShardingConfig, UserConfig } from '../topology/config/config-types.js';
import { ReadRouter } from './replicas/read-router.js';
import { loadConfigFile } from '../topology/config/load-config.js';
import { errorResponseFrame } from './errors.js';
import { PGSHARD_VERSION } from './version.js';
import { join } from 'node:path';
import { ShardedDatabase } from './executor/sharded-database.js';
import { TwoPhaseCoordinator } from './executor/two-phase-commit.js';
import { Planner } from '../planner/planner.js';
import { buildShardingRules } from '../topology/sharding/sharding-rules-builder.js';
import { DecisionLog, makeGid } from '../topology/state/decision-log.js';
import { loadProxyId } from '../topology/state/proxy-id.js';
import { RulesStore } from '../topology/sharding/rules-store.js';
import { listShardingRules } from './admin/sharding-admin.js';
import { recoverInDoubt } from './executor/in-doubt-recovery.js';
import { HealthChecker } from './health/health-checker.js';
import { FailoverCoordinator } from './failover/failover-coordinator.js';
import { openTopologyStore } from '../topology/coordination/open-store.js';
import type { TopologyStore } from '../topology/coordination/topology-store.js';
import { readCatalogFacts, readShardedViews } from './executor/catalog-lookup.js';
import type { KeyType } from '../planner/hash/pg-hash.js';
import type { LearnedKeyType } from '../planner/plan.js';
import { ProxyMetrics } from './metrics/proxy-metrics.js';
import { nodeEndpoint } from '../topology/node-endpoint.js';
import { MetricsServer } from './metrics/metrics-server.js';

const CLASSIFIER_CACHE_ENTRIES = 10_000;

export interface ProxyServerOptions {
  /** Where RELOAD reads from; without it RELOAD reports that there is no file. */
  readonly configPath?: string;
  readonly log: Logger;
}

export class ProxyServer implements ClientRegistry {
  private config: Config;
  private readonly server: net.Server;
  private readonly pools: PoolRegistry;
  private readonly sharded = new Map<string, { config: DatabaseConfig; version: string; database: ShardedDatabase }>();
  private rulesStore: RulesStore | null = null;
  /** Checks every node on its own timer (SHOW NODES; read routing and failover build on it). */
  private health: HealthChecker | null = null;
  /** Failover of every shard, fed by the health checker; decisions kept in the topology store. */
  private failover: FailoverCoordinator | null = null;
  private topologyStore: TopologyStore | null = null;
  /** Key types the rules leave open, read from the catalog at start or learnt from CREATE TABLE. */
  private readonly keyTypes = new Map<string, Map<string, KeyType>>();
  /** Views over sharded tables, per database (re-read after DDL on views). */
  private readonly views = new Map<string, Map<string, string>>();
  /** Bumped when a runtime rule is added: every database's snapshot is rebuilt on next use. */
  private rulesVersion = 0;
  private decisionLog: DecisionLog | null = null;
  /** Names this proxy's prepared transactions (stable across restarts), so recovery resolves its own. */
  private proxyId = '';
  private readonly clients = new Map<number, ClientConnection>();
  private readonly ctx: ProxyContext;
  private secureContext: tls.SecureContext | null;
  private stopping = false;
  /** The Prometheus endpoint, when metrics.enabled; it reads the state above at scrape time only. */
  private metricsServer: MetricsServer | null = null;

  constructor(config: Config, private readonly options: ProxyServerOptions) {
    this.config = config;
    this.secureContext = this.buildTls(config);
    this.pools = new PoolRegistry(config, options.log, (db, shardIndex, address) =>
      this.health?.checkNow(`${db.name}/${db.shards[shardIndex]?.name ?? ''}`, `${address.host}:${address.port}`),
    );
    const statements = new StatementRegistry();
    const classifier = new SessionEffectClassifier(CLASSIFIER_CACHE_ENTRIES);
    const admin: AdminView = {
      pools: () => this.pools.all(),
      clients: () => [...this.clients.values()].map(clientView),
    };
    // A getter keeps TLS reloadable without sessions holding a stale context.
    const currentTls = (): tls.SecureContext | null => this.secureContext;
    const currentHealth = (): HealthChecker | null => this.health;
    const currentFailover = (): FailoverCoordinator | null => this.failover;
    this.ctx = {
      config: () => this.config,
      log: options.log,
      statements,
      classifier,
      get tls() {
        return currentTls();
      },
      poolsFor: (db, user) => this.pools.primaries(db, user),
      routingFor: (db, pools) => this.shardedDatabase(db)?.routingFor(pools) ?? null,
      readRouterFor: (db, user) => this.readRouterFor(db, user),
      termOf: (db, shard) => {
        const key = `${db.name}/${db.shards[shard]?.name ?? ''}`;
        return this.failover?.status().find((st) => st.shard === key)?.term ?? 1;
      },
      cancelBackend: (conn) => this.cancelBackend(conn),
      reload: () => this.reload(),
      get health() {
        return currentHealth();
      },
      get failover() {
        return currentFailover();
      },
      sharding: {
        rules: () => listShardingRules(this.config, (d) => this.rulesStore?.rulesFor(d) ?? { tables: [], referenceTables: [] }),
        add: async (database, rule) => {
          if (this.rulesStore === null) throw ProxyError.internal('the rules store is opened at start');
          await this.rulesStore.add(database, rule);
          this.rulesVersion++;
          const db = this.config.databases.find((d) => d.name === database);
          if (db !== undefined) this.shardedDatabase(db);
        },
      },
      admin,
      startedAt: Date.now(),
      version: PGSHARD_VERSION,
    };
    // pauseOnConnect: a client connection starts reading only once its session decides how to read.
    this.server = net.createServer({ pauseOnConnect: true }, (socket) => this.accept(socket));
    this.server.on('error', (err) => options.log.error({ err }, 'listener error'));
  }

  get context(): ProxyContext {
    return this.ctx;
  }

  /** Loads the SQL parser, then listens; resolves with the bound address. */
  async start(): Promise<{ host: string; port: number }> {
    await initSqlParser();
    this.proxyId = await loadProxyId(this.config.state.dir);
    this.rulesStore = await RulesStore.open(this.config.state.dir);
    // A runtime rule that no longer fits the config (a shard it names is gone) stops the start, named.
    for (const db of this.config.databases) this.rulesStore.effectiveRules(db);
    for (const db of this.config.databases) {
      const sharding = this.effectiveSharding(db);
      if (db.shards.length === 1 && sharding.tables.length === 0) continue;
      const facts = await readCatalogFacts(this.config, db, sharding, this.options.log);
      for (const [table, keyType] of facts.keyTypes) this.learnedKeyTypes(db.name).set(table, keyType);
      this.views.set(db.name, facts.shardedViews);
    }
    this.decisionLog = await DecisionLog.open(join(this.config.state.dir, 'pgshard-2pc.log'));
    // Transactions a previous run left prepared are resolved before any client can look at the data.
    const recovered = await recoverInDoubt(this.config, this.decisionLog, this.proxyId, this.options.log);
    if (recovered.committed + recovered.rolledBack + recovered.unreachable.length > 0) this.options.log.info(recovered, 'in-doubt recovery done');
    // Bound before the client port: a metrics port in use fails the start before any client can connect.
    if (this.config.metrics.enabled) await this.startMetrics();
    const { host, port } = this.config.listen;
    try {
      await new Promise<void>((resolve, reject) => {
        this.server.once('error', reject);
        this.server.listen(port, host, () => {
          this.server.off('error', reject);
          resolve();
        });
      });
    } catch (err) {
      await this.metricsServer?.stop();
      throw err;
    }
    const addr = this.server.address() as net.AddressInfo;
    this.topologyStore = await openTopologyStore(this.config, this.proxyId, this.options.log);
    await this.startHealthAndFailover(this.config);
    this.options.log.info({ host: addr.address, port: addr.port }, 'pgshard listening');
    return { host: addr.address, port: addr.port };
  }

  /** Stops accepting, tells clients the proxy is going away, closes every pool. */
  async stop(): Promise<void> {
    if (this.stopping) return;
    this.stopping = true;
    const closed = new Promise<void>((resolve) => this.server.close(() => resolve()));
    const metricsClosed = this.metricsServer?.stop();
    const deadline = Date.now() + this.config.limits.shutdownTimeoutMs;
    // Clients idle between transactions leave at once; others get until the shutdown deadline.
    while (Date.now() < deadline) {
      for (const c of this.clients.values()) if (c.relay === null || c.relay.backend === null) c.fatal(ProxyError.shuttingDown());
      if (this.clients.size === 0) break;
      await new Promise((r) => setTimeout(r, 50));
    }
    for (const c of this.clients.values()) c.fatal(ProxyError.shuttingDown());
    this.failover?.stop();
    this.pools.closeAll();
    await this.health?.stop();
    await this.topologyStore?.close();
    await closed;
    await metricsClosed;
    await this.decisionLog?.close();
  }

  /** Where the metrics endpoint listens (the OS's choice when metrics.port is 0); null when it does not. */
  get metricsAddress(): { host: string; port: number; path: string } | null {
    const server = this.metricsServer;
    const bound = server?.address ?? null;
    return server === null || bound === null ? null : { ...bound, path: server.path };
  }

  private async startMetrics(): Promise<void> {
    const metrics = new ProxyMetrics({
      config: () => this.config,
      pools: () => this.pools.all(),
      primaryOf: (db, shardIndex) => this.pools.primaryOf(db, shardIndex),
      clients: () => [...this.clients.values()].map(clientView),
      health: () => this.health,
      failover: () => this.failover,
      version: PGSHARD_VERSION,
    });
    const server = new MetricsServer(this.config.metrics, metrics, this.options.log);
    await server.start();
    // stop() may have run while the port was being bound: it could not close what it did not see.
    if (this.stopping) await server.stop();
    else this.metricsServer = server;
  }

  // ClientRegistry
  add(client: ClientConnection): boolean {
    if (this.clients.size >= this.config.limits.clientsMax) return false;
    this.clients.set(client.processId, client);
    return true;
  }

  remove(client: ClientConnection): void {
    if (this.clients.get(client.processId) === client) this.clients.delete(client.processId);
  }

  cancel(processId: number, secretKey: number): void {
    const client = this.clients.get(processId);
    // A wrong key is ignored silently, as Postgres does, so keys cannot be probed.
    if (client === undefined || client.secretKey !== secretKey) return;
    for (const target of client.relay?.cancelTargets() ?? []) this.cancelBackend(target);
  }

  cancelBackend(target: ServerConnection): void {
    const { host, port } = target.login.node;
    const frame = buildCancelRequest(target.processId, target.secretKey);
    const sock = net.connect(nodeEndpoint(host, port), () => sock.end(frame));
    sock.on('error', (err) => this.options.log.warn({ err: err.message, node: target.label }, 'cancel request failed'));
    sock.setTimeout(this.config.pool.connectTimeoutMs, () => sock.destroy());
  }

  /**
   * Serves a client connection accepted elsewhere (bench/multi-loop-proxy.ts hands each worker thread
   * the connections a main thread accepts). The socket must not have started reading.
   */
  acceptConnection(socket: net.Socket): void {
    this.accept(socket);
  }

  private accept(socket: net.Socket): void {
    if (this.stopping) {
      socket.end(errorResponseFrame(ProxyError.shuttingDown()));
      return;
    }
    new ClientConnection(socket, this.ctx, this);
  }

  /** The rules a database runs with: its config section plus the rules added at runtime. */
  private learnedKeyTypes(database: string): Map<string, KeyType> {
    let m = this.keyTypes.get(database);
    if (m === undefined) this.keyTypes.set(database, (m = new Map()));
    return m;
  }

  private effectiveSharding(db: DatabaseConfig): ShardingConfig {
    return this.rulesStore === null ? db.sharding : this.rulesStore.effectiveRules(db).effective;
  }

  /**
   * The sharding of a database, or null when it has one shard and no rules (its clients then skip
   * routing). Long-lived per database; its rules snapshot is rebuilt when the config or the runtime
   * rules change, so sessions (and their open multi-shard transactions) survive a rules change.
   */
  private shardedDatabase(db: DatabaseConfig): ShardedDatabase | null {
    const sharding = this.effectiveSharding(db);
    const replicas = db.shards.some((s) => s.replicas.length > 0);
    // Replicas need routing too: which statements only read decides where they may run.
    if (db.shards.length === 1 && sharding.tables.length === 0 && sharding.referenceTables.length === 0 && !replicas) return null;
    const version = `${this.rulesVersion}`;
    let sharded = this.sharded.get(db.name);
    if (sharded !== undefined && sharded.config === db && sharded.version === version) return sharded.database;
    const rules = buildShardingRules(sharding, db.shards.length, {
      keyTypes: this.learnedKeyTypes(db.name),
      shardedViews: this.views.get(db.name) ?? new Map(),
    });
    const planner = new Planner(rules, { cacheEntriesMax: this.config.limits.planCacheEntriesMax });
    if (sharded === undefined) {
      const learn = (learned: readonly LearnedKeyType[]): void => {
        for (const l of learned) this.learnedKeyTypes(db.name).set(l.table, l.keyType);
        this.rulesVersion++;
        this.options.log.info({ database: db.name, learned }, 'shard key types learnt from CREATE TABLE');
        // Rebuild now: every session (new or open) plans with the learnt types from its next statement.
        const current = this.config.databases.find((d) => d.name === db.name);
        if (current !== undefined) this.shardedDatabase(current);
      };
      const viewsChanged = async (): Promise<void> => {
        const current = this.config.databases.find((d) => d.name === db.name);
        if (current === undefined) return;
        const views = await readShardedViews(this.config, current, this.effectiveSharding(current), this.options.log);
        if (views === null) return;
        this.views.set(db.name, views);
        this.rulesVersion++;
        this.shardedDatabase(current);
      };
      sharded = { config: db, version, database: new ShardedDatabase(rules, planner, this.ctx, this.twoPhase(), learn, viewsChanged) };
    }
    else {
      sharded.database.setRules(rules, planner);
      sharded = { config: db, version, database: sharded.database };
    }
    this.sharded.set(db.name, sharded);
    return sharded.database;
  }

  private readonly readRouters = new Map<string, { db: DatabaseConfig; user: UserConfig; router: ReadRouter }>();

  private readRouterFor(db: DatabaseConfig, user: UserConfig): ReadRouter | null {
    if (!db.shards.some((s) => s.replicas.length > 0)) return null;
    const key = `${db.name}\u0000${user.name}`;
    const have = this.readRouters.get(key);
    if (have !== undefined && have.db === db && have.user === user) return have.router;
    const router = new ReadRouter(db, user, this.pools, () => this.health, () => this.config);
    this.readRouters.set(key, { db, user, router });
    return router;
  }

  private twoPhase(): TwoPhaseCoordinator {
    const log = this.decisionLog;
    if (log === null) throw ProxyError.internal('the decision log is opened at start');
    return new TwoPhaseCoordinator(
      log,
      () => makeGid(this.proxyId),
      (gid, shards) => this.options.log.warn({ gid, shards }, 'two-phase commit logged but not finished on every shard; recovery will finish it'),
    );
  }

  /** Swaps in a new frozen config; pools whose login changed are retired, others take new limits. */
  async reload(): Promise<void> {
    const path = this.options.configPath;
    if (path === undefined) throw ProxyError.unsupported('RELOAD needs the proxy to be started with a config file');
    const next = loadConfigFile(path);
    const secure = this.buildTls(next);
    // Runtime rules must still fit the new config (all or nothing, like the config itself).
    for (const db of next.databases) this.rulesStore?.effectiveRules(db);
    this.pools.reload(next);
    const metricsMoved = JSON.stringify(next.metrics) !== JSON.stringify(this.config.metrics);
    this.config = next;
    this.secureContext = secure;
    if (metricsMoved)
      this.options.log.warn({ metrics: this.metricsAddress }, 'metrics settings changed: the metrics endpoint keeps its listener until the proxy restarts');
    // Nodes may have changed: a new checker and new failover machines for the new config (the old
    // checker's connections close; the machines restart from the topology store).
    const previous = this.health;
    this.failover?.stop();
    await this.startHealthAndFailover(next);
    await previous?.stop();
    this.options.log.info('configuration reloaded');
  }

  private async startHealthAndFailover(config: Config): Promise<void> {
    const health = new HealthChecker(config, this.options.log);
    this.health = health;
    if (this.topologyStore !== null) {
      const failover = new FailoverCoordinator({ config, log: this.options.log, pools: this.pools, health, store: this.topologyStore });
      await failover.start();
      this.failover = failover;
    }
    health.start();
  }

  private buildTls(config: Config): tls.SecureContext | null {
    const t = config.listen.tls;
    if (t === null) return null;
    return tls.createSecureContext({ cert: readFileSync(t.certFile), key: readFileSync(t.keyFile) });
  }
}

function clientView(c: ClientConnection): ClientView {
  const relay = c.relay;
  return {
    id: c.id,
    processId: c.processId,
    user: c.info?.user ?? '',
    database: c.info?.database ?? '',
    applicationName: c.info?.applicationName ?? '',
    remote: c.remote,
    connectedAt: c.connectedAt,
    tls: c.info?.tls ?? false,
    state: relay === null ? c.phase : relay.backend !== null ? 'active' : relay.waitingSince > 0 ? 'waiting' : 'idle',
    txStatus: relay?.txStatus ?? 'I',
    server: relay?.backend?.id ?? null,
    pinnedReason: relay?.pinnedReason ?? null,
    queries: relay?.queries ?? 0,
    waitingMs: relay !== null && relay.waitingSince > 0 ? Date.now() - relay.waitingSince : 0,
  };
}
