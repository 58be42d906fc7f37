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

export interface ShardConfig {
  readonly name: string;
  readonly primary: NodeAddress;
  readonly replicas: readonly NodeAddress[];
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

export interface Config {
  readonly listen: ListenConfig;
  readonly users: readonly UserConfig[];
  readonly databases: readonly DatabaseConfig[];
  readonly pool: PoolConfig;
  readonly limits: LimitsConfig;
  readonly log: LogConfig;
  readonly state: StateConfig;
}

/** The database name reserved for the admin console. */
export const ADMIN_DATABASE = 'pgshard';
