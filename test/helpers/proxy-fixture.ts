// A real PostgreSQL 15 cluster (1 shard) with a pgshard ProxyServer in front of it, for integration
// tests. startProxyFixture() starts both and registers their teardown on the tap test, so servers are
// stopped whether the test passes, fails or throws; startProxyOn() adds a second proxy (another config)
// in front of the same cluster.
//
// Users (same name and password on the proxy and on Postgres, the proxy logs in with them):
//   app        scram-sha-256   (owner of the database `appdb`)
//   md5user    md5
//   trustuser  trust           (password only used by the proxy to log in to Postgres)
//   admin      scram-sha-256, admin: true (may connect to the admin database `pgshard`)
import { Writable } from 'node:stream';
import { ProxyServer } from '../../proxy/proxy-server.js';
import { createLogger, silentLogger, type Logger } from '../../proxy/logger.js';
import { parseConfig } from '../../topology/config/load-config.js';
import { join } from 'node:path';
import type { Config } from '../../topology/config/config-types.js';
import { withCluster, type LocalCluster, type TeardownTarget } from '../harness/cluster.js';

export const DATABASE = 'appdb';

export const USERS = {
  app: { password: 'app secret:1', auth: 'scram-sha-256' },
  md5user: { password: 'md5 secret;2', auth: 'md5' },
  trustuser: { password: 'trust secret 3', auth: 'trust' },
  admin: { password: 'admin secret 4', auth: 'scram-sha-256', admin: true },
} as const;
export type FixtureUser = keyof typeof USERS;

export interface ProxyOptions {
  /** Raw `pool:` section merged over the defaults (e.g. { sizeMax: 1, acquireTimeoutMs: 300 }). */
  pool?: Record<string, unknown>;
  /** Raw `limits:` section. */
  limits?: Record<string, unknown>;
  /** Replaces the database's shard primary address (e.g. a port where nothing listens). */
  primary?: { host: string; port: number };
  /** Collect the proxy's log lines (pino JSON) instead of dropping them. */
  captureLogs?: boolean;
  /** listen.tls: PEM certificate and key files (absolute paths). */
  tls?: { certFile: string; keyFile: string };
  /** state.dir (runtime rules, 2PC decision log); default: a new directory in the cluster's temp dir. */
  stateDir?: string;
  /** Raw `health:` section (e.g. { intervalMs: 100 }). */
  health?: Record<string, unknown>;
  /** Raw `sharding:` section of the database (tables, referenceTables, modulus). */
  sharding?: Record<string, unknown>;
  /** Give every node its dataDir (failover.rejoin can then rewind a local old primary). */
  dataDirs?: boolean;
  /** Raw `reads:`, `failover:` and `coordination:` sections. */
  reads?: Record<string, unknown>;
  failover?: Record<string, unknown>;
  coordination?: Record<string, unknown>;
  /** Raw `metrics:` section (e.g. { enabled: true, port: 0 }). */
  metrics?: Record<string, unknown>;
}

export interface ClusterOptions {
  /** Number of shards (default 1). */
  shards?: number;
  /** Streaming replicas per shard (default 0). */
  replicas?: 0 | 1 | 2;
  settings?: Record<string, string | number>;
  /** synchronous_standby_names = 'ANY 1 (replicas)' on each primary. */
  synchronous?: boolean;
}

export interface ProxyHandle {
  readonly proxy: ProxyServer;
  readonly host: string;
  readonly port: number;
  readonly config: Config;
  /** The raw config object that parseConfig validated (JSON-serialisable, for a config file). */
  readonly rawConfig: Record<string, unknown>;
  /** postgresql://user:password@127.0.0.1:port/db through the proxy. */
  url(user?: FixtureUser, db?: string): string;
  /** node-postgres client settings through the proxy. */
  clientConfig(user?: FixtureUser, db?: string): { host: string; port: number; user: string; password: string; database: string };
  /** Parsed log records (only with captureLogs). */
  logs(): Record<string, unknown>[];
}

export interface ProxyFixture extends ProxyHandle {
  readonly cluster: LocalCluster;
  /** postgresql://... straight to the shard primary, bypassing the proxy. */
  directUrl(user?: FixtureUser, db?: string): string;
}

function userEntries(): Record<string, unknown>[] {
  return Object.entries(USERS).map(([name, u]) => ({ name, ...u }));
}

/** The raw config for a proxy in front of `cluster` (validated by startProxyOn with parseConfig). */
export function rawConfigFor(cluster: LocalCluster, opts: ProxyOptions = {}): Record<string, unknown> {
  const shard = cluster.shards[0];
  if (shard === undefined) throw new Error('cluster has no shard');
  const primary = opts.primary ?? { host: shard.primary.host, port: shard.primary.port };
  const dataDirOf = (node: { dataDir: string }): { dataDir?: string } => (opts.dataDirs === true ? { dataDir: node.dataDir } : {});
  return {
    listen: { host: '127.0.0.1', port: 0, tls: opts.tls ?? null },
    users: userEntries(),
    databases: [
      {
        name: DATABASE,
        shards: cluster.shards.map((s, i) => ({
          name: `shard${i}`,
          primary: i === 0 ? { ...primary, ...dataDirOf(s.primary) } : { host: s.primary.host, port: s.primary.port, ...dataDirOf(s.primary) },
          replicas: s.replicas.map((r) => ({ host: r.host, port: r.port, ...dataDirOf(r) })),
        })),
        ...(opts.sharding !== undefined ? { sharding: opts.sharding } : {}),
      },
    ],
    pool: { ...(opts.pool ?? {}) },
    limits: { shutdownTimeoutMs: 2000, ...(opts.limits ?? {}) },
    log: { level: opts.captureLogs ? 'debug' : 'silent' },
    ...(opts.health === undefined ? {} : { health: opts.health }),
    ...(opts.reads === undefined ? {} : { reads: opts.reads }),
    ...(opts.failover === undefined ? {} : { failover: opts.failover }),
    ...(opts.coordination === undefined ? {} : { coordination: opts.coordination }),
    ...(opts.metrics === undefined ? {} : { metrics: opts.metrics }),
    // Never inside the checkout: each proxy gets its own state directory in the cluster's temp dir.
    state: { dir: opts.stateDir ?? join(cluster.dir, `pgshard-state-${++stateDirs}`) },
  };
}

let stateDirs = 0;

function urlFor(host: string, port: number, user: FixtureUser, db: string): string {
  const e = encodeURIComponent;
  return `postgresql://${e(user)}:${e(USERS[user].password)}@${host}:${port}/${e(db)}`;
}

class LineCollector extends Writable {
  readonly lines: string[] = [];
  private partial = '';
  override _write(chunk: Buffer, _enc: BufferEncoding, cb: (err?: Error | null) => void): void {
    const text = this.partial + chunk.toString('utf8');
    const parts = text.split('\n');
    this.partial = parts.pop() ?? '';
    for (const p of parts) if (p !== '') this.lines.push(p);
    cb();
  }
}

/** Starts another ProxyServer in front of `cluster`; it is stopped when `t` ends. */
export async function startProxyOn(t: TeardownTarget, cluster: LocalCluster, opts: ProxyOptions = {}): Promise<ProxyHandle> {
  const rawConfig = rawConfigFor(cluster, opts);
  const config = parseConfig(rawConfig);
  let log: Logger = silentLogger();
  let collector: LineCollector | null = null;
  if (opts.captureLogs) {
    collector = new LineCollector();
    log = createLogger('debug', collector);
  }
  const proxy = new ProxyServer(config, { log });
  t.teardown(() => proxy.stop());
  const { host, port } = await proxy.start();
  return {
    proxy,
    host,
    port,
    config,
    rawConfig,
    url: (user = 'app', db = DATABASE) => urlFor(host, port, user, db),
    clientConfig: (user = 'app', db = DATABASE) => ({ host, port, user, password: USERS[user].password, database: db }),
    logs: () => (collector?.lines ?? []).map((l) => JSON.parse(l) as Record<string, unknown>),
  };
}

/** A 1-shard cluster with the fixture's users (same passwords) and the database `appdb`, stopped when `t` ends. */
export function startTestCluster(t: TeardownTarget, opts: ClusterOptions = {}): Promise<LocalCluster> {
  return withCluster(t, {
    shards: opts.shards ?? 1,
    replicas: opts.replicas ?? 0,
    // The console's admin is also the servers' superuser: failover actions and health checks log in as it.
    users: Object.entries(USERS).map(([name, u]) => ({ name, password: u.password, superuser: name === 'admin' })),
    databases: [DATABASE],
    settings: opts.settings,
    synchronous: opts.synchronous ?? false,
  });
}

/** Starts a 1-shard cluster with the fixture's users and database, then a proxy in front of it. */
export async function startProxyFixture(t: TeardownTarget, opts: ProxyOptions & ClusterOptions = {}): Promise<ProxyFixture> {
  const cluster = await startTestCluster(t, opts);
  const primary = cluster.shards[0]!.primary;
  const handle = await startProxyOn(t, cluster, opts);
  return {
    ...handle,
    cluster,
    directUrl: (user = 'app', db = DATABASE) => urlFor(primary.host, primary.port, user, db),
  };
}

/** Resolves after `ms` milliseconds. */
export const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** Polls `check` every 25 ms until it returns true, or throws after timeoutMs. */
export async function waitUntil(what: string, check: () => boolean | Promise<boolean>, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await check()) return;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(25);
  }
}
