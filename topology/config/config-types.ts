// The validated, frozen shape of a pgshard configuration. The schema in config-schema.ts produces
// exactly this type (with every default filled in); nothing outside topology/config parses config.
// Every limit carries its unit in its name.

export type AuthMethod = 'scram-sha-256' | 'md5' | 'trust';
export type PoolMode = 'transaction' | 'session';
export type LogLevel = 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'silent';

export interface TlsConfig {
  readonly certFile: string;
  readonly keyFile: string;
}

export interface ListenConfig {
  readonly host: string;
  readonly port: number;
  readonly tls: TlsConfig | null;
}

export interface UserConfig {
  readonly name: string;
  /** Used to authenticate the client (unless method is trust) and, by default, to log in to the shards. */
  readonly password: string | null;
  readonly auth: AuthMethod;
  /** May connect to the admin database. */
  readonly admin: boolean;
  /** Credentials for the shards, when they differ from the client's. */
  readonly serverUser: string | null;
  readonly serverPassword: string | null;
  /** Per-user override of pool.sizeMax (null: the pool default). */
  readonly poolSizeMax: number | null;
}

export interface NodeAddress {
  readonly host: string;
  readonly port: number;
}

/** A configured node of a shard. */
export interface NodeConfig extends NodeAddress {
  /**
   * The node's data directory, when it is on the proxy's machine: with failover.rejoin, a fenced old
   * primary there is rewound (pg_rewind) and started as a replica of the new primary.
   */
  readonly dataDir: string | null;
}

export interface ShardConfig {
  readonly name: string;
  readonly primary: NodeConfig;
  readonly replicas: readonly NodeConfig[];
}

export type ShardKeyTypeName = 'int2' | 'int4' | 'int8' | 'text' | 'varchar' | 'uuid';
export type ShardMethodName = 'hash' | 'range' | 'list';

/** A piece of a range rule: keys in [from, to) live on shard (null bound: unbounded). */
export interface RangePieceConfig {
  readonly from: string | number | null;
  readonly to: string | number | null;
  readonly shard: number;
}

export interface ListPieceConfig {
  readonly values: readonly (string | number)[];
  readonly shard: number;
}

export interface ShardedTableConfig {
  /** `table` or `schema.table`, as Postgres folds it (lower case unless quoted when created). */
  readonly name: string;
  /** The partition key column. */
  readonly column: string;
  /** The key column's type; null: read from the catalog or learnt from the CREATE TABLE. */
  readonly type: ShardKeyTypeName | null;
  readonly method: ShardMethodName;
  readonly ranges: readonly RangePieceConfig[];
  readonly lists: readonly ListPieceConfig[];
  /** List rules: the shard of values in no list (null: such rows are refused). */
  readonly default: number | null;
}

export interface ShardingConfig {
  /** Number of hash buckets keys map to; resharding moves whole buckets. */
  readonly modulus: number;
  readonly tables: readonly ShardedTableConfig[];
  /** Small tables copied to every shard: writes go to all shards, reads to one. */
  readonly referenceTables: readonly string[];
}

export interface DatabaseConfig {
  /** The name clients put in their startup message. */
  readonly name: string;
  /** The database name on every shard (defaults to name). */
  readonly backendDatabase: string;
  readonly shards: readonly ShardConfig[];
  readonly sharding: ShardingConfig;
}

export interface PoolConfig {
  readonly mode: PoolMode;
  /** Server connections per (node, database, user). */
  readonly sizeMax: number;
  readonly acquireTimeoutMs: number;
  /** How long a wait for a connection lasts before the proxy looks for a deadlock (0: never). */
  readonly deadlockTimeoutMs: number;
  readonly idleTimeoutMs: number;
  readonly connectTimeoutMs: number;
  /** Sent when a session-mode client's backend goes back to the pool (and after a dirty release). */
  readonly resetQuery: string;
  /** Prepared statements kept per server connection before the least recently used is closed. */
  readonly preparedPerBackendMax: number;
  /** How long a server connection may live before it is retired (0: forever). */
  readonly lifetimeMs: number;
}

export interface LimitsConfig {
  readonly clientsMax: number;
  readonly frameBytesMax: number;
  /** Messages a client may pipeline before the proxy stops reading from it (back-pressure). */
  readonly pipelineMessagesMax: number;
  /** Bytes queued toward a client or a server before reading from the other side pauses. */
  readonly writeBufferBytesMax: number;
  /** Client statements per session kept in the prepared statement map. */
  readonly preparedPerClientMax: number;
  /** Time allowed for startup + authentication. */
  readonly authTimeoutMs: number;
  /** 0 = no limit; otherwise a statement running longer is canceled with 57014. */
  readonly queryTimeoutMs: number;
  /** How long shutdown waits for running transactions before closing clients. */
  readonly shutdownTimeoutMs: number;
  /** Rows a multi-shard merge may hold at once (groups, DISTINCT values, queued rows); beyond: 54000. */
  readonly mergeRowsMax: number;
  /** Bytes a multi-shard merge may hold at once; beyond: 54000. */
  readonly mergeBytesMax: number;
  /** Parsed statements kept in the plan cache. */
  readonly planCacheEntriesMax: number;
  /** Largest COPY row the proxy splits across shards. */
  readonly copyRowBytesMax: number;
}

export type ReadConsistency = 'strong' | 'sync' | 'bounded' | 'async';
export type ReplicationMode = 'async' | 'sync';

export interface HealthConfig {
  /** Time between checks of each node (jittered by up to 10%). */
  readonly intervalMs: number;
  /** A check not answered within this fails. */
  readonly timeoutMs: number;
  /** Consecutive failed checks before a node is down (a primary then fails over). */
  readonly failuresBeforeDown: number;
  /** A replica further behind its primary than this (WAL bytes) is taken out of read routing. */
  readonly replicaLagBytesMax: number;
  /** A replica whose last replayed transaction is older than this (while its primary writes) is taken out of read routing. */
  readonly replicaLagMsMax: number;
  /** User the checks log in as (null: the first configured user). */
  readonly user: string | null;
}

export interface ReadsConfig {
  /** Default read consistency of a session (SET pgshard.read_consistency changes it). */
  readonly consistency: ReadConsistency;
  /** sync: how long a read waits for a replica to replay the session's last commit before going to the primary. */
  readonly syncWaitMs: number;
  /** bounded: the staleness a replica may have (SET pgshard.max_staleness_ms changes it). */
  readonly maxStalenessMs: number;
}

export interface FailoverConfig {
  /** Promote a replica when a shard's primary is down. */
  readonly enabled: boolean;
  /** How the shards replicate: in async mode a lagging replica is never promoted without FAILOVER ... FORCE. */
  readonly replication: ReplicationMode;
  /** async mode: the most WAL (bytes) a replica may be behind and still be promoted automatically. */
  readonly promoteLagBytesMax: number;
  /** How long queries wait for a failover in progress before failing (08006). */
  readonly waitMs: number;
  /** How long a promotion may take before the next candidate is tried. */
  readonly promoteTimeoutMs: number;
  /** Rewind a fenced old primary (pg_rewind, local data directory) and let it rejoin as a replica. */
  readonly rejoin: boolean;
  /**
   * The configured user whose server credentials the failover actions log in with; it must be a
   * superuser on the nodes (pg_promote, ALTER SYSTEM). null: health.user, else the first user.
   */
  readonly user: string | null;
}

export interface CoordinationConfig {
  /** local: one proxy, state in state.dir; etcd: several proxies share topology through etcd. */
  readonly kind: 'local' | 'etcd';
  /** etcd client URLs (http://127.0.0.1:2379). */
  readonly endpoints: readonly string[];
  /** The leader proxy's lease; it stops acting before the lease can expire. */
  readonly leaseTtlMs: number;
  /** Key prefix in etcd. */
  readonly prefix: string;
}

export interface StateConfig {
  /**
   * Directory for what must survive a restart: sharding rules added at runtime and the two-phase commit
   * decision log. Relative paths are relative to the config file's directory.
   */
  readonly dir: string;
}

export interface LogConfig {
  readonly level: LogLevel;
}

export interface MetricsConfig {
  /** Serve Prometheus metrics over HTTP (off unless asked for: it opens another port). */
  readonly enabled: boolean;
  readonly host: string;
  /** 0 lets the OS pick a free port (tests); ProxyServer.metricsAddress reports the bound one. */
  readonly port: number;
  /** The URL path scrapes GET, e.g. /metrics. */
  readonly path: string;
}

export interface Config {
  readonly listen: ListenConfig;
  readonly users: readonly UserConfig[];
  readonly databases: readonly DatabaseConfig[];
  readonly pool: PoolConfig;
  readonly limits: LimitsConfig;
  readonly log: LogConfig;
  readonly state: StateConfig;
  readonly health: HealthConfig;
  readonly reads: ReadsConfig;
  readonly failover: FailoverConfig;
  readonly coordination: CoordinationConfig;
  readonly metrics: MetricsConfig;
}

/** The database name reserved for the admin console. */
export const ADMIN_DATABASE = 'pgshard';
