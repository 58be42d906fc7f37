// What the metrics endpoint reports, read at scrape time from the same live state the admin console
// shows (SHOW POOLS, SHOW CLIENTS, SHOW NODES, SHOW FAILOVER), and turned into label sets and numbers.
// Pure apart from the source it is given: nothing here counts anything on the query path, so
// metrics cost nothing until they are scraped. Labels carry names and host:port only, never a
// password or a conninfo.

import type { ClientView } from '../admin/admin-command.js';
import type { PoolStats } from '../backend/node-pool.js';
import type { FailoverStatus } from '../failover/failover-coordinator.js';
import type { FailoverPhase } from '../../topology/failover/failover-types.js';
import type { NodeView, ObservedRole } from '../../topology/health/node-health.js';
import { ADMIN_DATABASE, type Config, type DatabaseConfig, type NodeAddress } from '../../topology/config/config-types.js';

/** The part of a NodePool the metrics read: its name, node and stats (its login's password is never touched). */
export interface PoolLike {
  readonly name: string;
  readonly login: { readonly node: NodeAddress };
  stats(): PoolStats;
}

/** The live state of one proxy, as the composition root exposes it. */
export interface MetricsSource {
  config(): Config;
  pools(): readonly PoolLike[];
  /** The node a shard writes to now (it moves with failovers). */
  primaryOf(db: DatabaseConfig, shardIndex: number): NodeAddress;
  clients(): readonly ClientView[];
  health(): { snapshot(): readonly NodeView[] } | null;
  failover(): { status(): readonly FailoverStatus[] } | null;
  readonly version: string;
}

export type PoolRole = 'primary' | 'replica' | 'unknown';

export interface PoolLabels {
  readonly database: string;
  readonly shard: string;
  readonly node: string;
  readonly user: string;
  readonly role: PoolRole;
}

export interface PoolSample {
  readonly labels: PoolLabels;
  active: number;
  idle: number;
  connecting: number;
  waiting: number;
  maxWaitSeconds: number;
  sizeMax: number;
  acquired: number;
  timeouts: number;
  connectErrors: number;
  busySeconds: number;
  waited: number;
  waitedSeconds: number;
  deadlocks: number;
}

export type ClientState = 'active' | 'idle' | 'waiting' | 'login' | 'closing';

export interface ClientSample {
  readonly labels: { readonly database: string; readonly user: string; readonly state: ClientState };
  count: number;
}

export interface NodeSample {
  readonly labels: { readonly database: string; readonly shard: string; readonly node: string };
  readonly up: boolean;
  readonly role: ObservedRole;
  readonly routable: boolean;
  readonly lagSeconds: number | null;
  readonly lagBytes: number | null;
  readonly failures: number;
}

export interface ShardSample {
  readonly labels: { readonly database: string; readonly shard: string };
  readonly term: number;
  readonly phase: FailoverPhase;
  readonly primary: string | null;
  readonly fenced: number;
  readonly failovers: number;
  readonly switchovers: number;
  readonly promoteFailures: number;
}

export interface MetricsSnapshot {
  readonly version: string;
  readonly pools: readonly PoolSample[];
  /** Every client connection the proxy holds, logged in or not (what limits.clientsMax bounds). */
  readonly clientsConnected: number;
  readonly clientsMax: number;
  readonly clients: readonly ClientSample[];
  /** Empty until health checks run. */
  readonly nodes: readonly NodeSample[];
  /** Empty until failover runs. */
  readonly shards: readonly ShardSample[];
  /** Whether this proxy runs failovers (the coordination leader); null before failover runs. */
  readonly leader: boolean | null;
}

export const FAILOVER_PHASES = ['normal', 'suspect', 'electing', 'catching-up', 'promoting', 'repointing', 'done'] as const satisfies readonly FailoverPhase[];
export const NODE_ROLES = ['primary', 'replica', 'unknown'] as const satisfies readonly ObservedRole[];
// A new phase or role must be added above, or its state set would silently miss it.
type Missing<All, Listed> = [Exclude<All, Listed>] extends [never] ? true : Exclude<All, Listed>;
const _everyPhase: Missing<FailoverPhase, (typeof FAILOVER_PHASES)[number]> = true;
const _everyRole: Missing<ObservedRole, (typeof NODE_ROLES)[number]> = true;

const addressKey = (a: NodeAddress): string => `${a.host}:${a.port}`;

export function takeSnapshot(source: MetricsSource): MetricsSnapshot {
  const config = source.config();
  const clients = source.clients();
  const failover = source.failover()?.status() ?? null;
  return {
    version: source.version,
    pools: poolSamples(config, source),
    clientsConnected: clients.length,
    clientsMax: config.limits.clientsMax,
    clients: clientSamples(config, clients),
    nodes: (source.health()?.snapshot() ?? []).map(nodeSample),
    shards: (failover ?? []).map((s) => shardSample(config, s)),
    leader: failover === null ? null : failover.some((s) => s.leader),
  };
}

/**
 * Pools by (database, shard, node, server user, role). Two client users logging in to a node as the
 * same server user have two pools with one label set: their numbers are added up (the longest wait is
 * kept), so that no series is reported twice.
 */
function poolSamples(config: Config, source: MetricsSource): PoolSample[] {
  const samples = new Map<string, PoolSample>();
  for (const pool of source.pools()) {
    const s = pool.stats();
    const labels = { ...placePool(config, source, pool), user: s.user };
    const key = JSON.stringify(labels);
    const have = samples.get(key);
    const maxWaitSeconds = s.maxWaitMs / 1000;
    if (have === undefined) {
      samples.set(key, {
        labels,
        active: s.active,
        idle: s.idle,
        connecting: s.connecting,
        waiting: s.waiting,
        maxWaitSeconds,
        sizeMax: s.sizeMax,
        acquired: s.acquired,
        timeouts: s.timeouts,
        connectErrors: s.connectErrors,
        busySeconds: s.busyMs / 1000,
        waited: s.waited,
        waitedSeconds: s.waitedMs / 1000,
        deadlocks: s.deadlocks,
      });
      continue;
    }
    have.active += s.active;
    have.idle += s.idle;
    have.connecting += s.connecting;
    have.waiting += s.waiting;
    have.maxWaitSeconds = Math.max(have.maxWaitSeconds, maxWaitSeconds);
    have.sizeMax += s.sizeMax;
    have.acquired += s.acquired;
    have.timeouts += s.timeouts;
    have.connectErrors += s.connectErrors;
    have.busySeconds += s.busyMs / 1000;
    have.waited += s.waited;
    have.waitedSeconds += s.waitedMs / 1000;
    have.deadlocks += s.deadlocks;
  }
  return [...samples.values()];
}

/**
 * A pool's database, shard and role. Pool names are `database/shard/host:port` (PoolRegistry), but a
 * database or shard name may itself contain `/`, so the name is matched against the configured
 * databases (the longest that fits wins) rather than split.
 */
function placePool(config: Config, source: MetricsSource, pool: PoolLike): Omit<PoolLabels, 'user'> {
  const node = addressKey(pool.login.node);
  let db: DatabaseConfig | undefined;
  for (const d of config.databases) {
    const fits = pool.name.startsWith(`${d.name}/`) && pool.name.endsWith(`/${node}`) && pool.name.length > d.name.length + node.length + 1;
    if (fits && (db === undefined || d.name.length > db.name.length)) db = d;
  }
  if (db === undefined) {
    const slash = pool.name.indexOf('/');
    return { database: slash < 0 ? pool.name : pool.name.slice(0, slash), shard: '', node, role: 'unknown' };
  }
  const shard = pool.name.slice(db.name.length + 1, pool.name.length - node.length - 1);
  // A shard renamed by RELOAD keeps its pool (same node and login): find it by its node then.
  let index = db.shards.findIndex((s) => s.name === shard);
  if (index < 0) index = db.shards.findIndex((s) => [s.primary, ...s.replicas].some((a) => addressKey(a) === node));
  const role: PoolRole = index < 0 ? 'unknown' : addressKey(source.primaryOf(db, index)) === node ? 'primary' : 'replica';
  return { database: db.name, shard, node, role };
}

function clientState(c: ClientView): ClientState {
  switch (c.state) {
    case 'active':
    case 'idle':
    case 'waiting':
      return c.state;
    // An admin console session has no relay: it is idle between its commands.
    case 'ready':
      return 'idle';
    case 'closed':
      return 'closing';
    default:
      return 'login';
  }
}

/**
 * Clients by database, user and state. Only configured names become label values (a client still
 * logging in may have asked for any database), so a scraper never sees more series than the config has.
 */
function clientSamples(config: Config, clients: readonly ClientView[]): ClientSample[] {
  const databases = new Set([...config.databases.map((d) => d.name), ADMIN_DATABASE]);
  const users = new Set(config.users.map((u) => u.name));
  const samples = new Map<string, ClientSample>();
  for (const c of clients) {
    const labels = {
      database: databases.has(c.database) ? c.database : '',
      user: users.has(c.user) ? c.user : '',
      state: clientState(c),
    };
    const key = JSON.stringify(labels);
    const have = samples.get(key);
    if (have === undefined) samples.set(key, { labels, count: 1 });
    else have.count++;
  }
  return [...samples.values()];
}

function nodeSample(n: NodeView): NodeSample {
  return {
    labels: { database: n.database, shard: n.shard, node: n.address },
    up: n.state === 'up',
    role: n.observedRole,
    routable: n.routable,
    lagSeconds: n.lagMs === null ? null : n.lagMs / 1000,
    lagBytes: n.lagBytes === null ? null : Number(n.lagBytes),
    failures: n.failures,
  };
}

/** Failover keys are `database/shard`; split by the configured names, since either may contain `/`. */
function shardSample(config: Config, s: FailoverStatus): ShardSample {
  let labels = { database: '', shard: s.shard };
  for (const db of config.databases) {
    for (const shard of db.shards) if (`${db.name}/${shard.name}` === s.shard) labels = { database: db.name, shard: shard.name };
  }
  return {
    labels,
    term: s.term,
    phase: s.phase,
    primary: s.primary,
    fenced: s.fenced.length,
    failovers: s.failovers,
    switchovers: s.switchovers,
    promoteFailures: s.promoteFailures,
  };
}
