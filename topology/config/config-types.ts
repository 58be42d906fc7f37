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

export interface DatabaseConfig {
  /** The name clients put in their startup message. */
  readonly name: string;
  /** The database name on every shard (defaults to name). */
  readonly backendDatabase: string;
  readonly shards: readonly ShardConfig[];
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
}

/** The database name reserved for the admin console. */
export const ADMIN_DATABASE = 'pgshard';
