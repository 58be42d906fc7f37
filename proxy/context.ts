// What a client session needs from the running proxy, passed in by the composition root
// (proxy/proxy-server.ts) so that nothing reaches for globals.

import type { SecureContext } from 'node:tls';
import type { Config, DatabaseConfig, UserConfig } from '../topology/config/config-types.js';
import type { SessionEffectClassifier } from '../planner/session-effects.js';
import type { NodePool } from './backend/node-pool.js';
import type { ServerConnection } from './backend/server-connection.js';
import type { StatementRegistry } from './backend/statement-registry.js';
import type { Logger } from './logger.js';
import type { AdminView } from './admin/admin-command.js';
import type { ShardingAdmin } from './admin/sharding-admin.js';
import type { RelayRouting } from './session/query-relay.js';
import type { NodeView } from '../topology/health/node-health.js';
import type { FailoverCoordinator } from './failover/failover-coordinator.js';
import type { ReadRouter } from './replicas/read-router.js';

export interface ClientInfo {
  readonly id: number;
  readonly user: string;
  readonly database: string;
  readonly applicationName: string;
  readonly remote: string;
  readonly connectedAt: number;
  readonly tls: boolean;
}

export interface ProxyContext {
  /** The current frozen config snapshot; a session reads it when it needs it. */
  config(): Config;
  readonly log: Logger;
  readonly statements: StatementRegistry;
  readonly classifier: SessionEffectClassifier;
  readonly tls: SecureContext | null;
  /** The pools serving (database, user): one per shard, on its primary, in shard order. */
  poolsFor(database: DatabaseConfig, user: UserConfig): readonly NodePool[];
  /** Where reads of (database, user) may go besides the primaries; null when no shard has replicas. */
  readRouterFor(database: DatabaseConfig, user: UserConfig): ReadRouter | null;
  /** A shard's current failover term (1 until its first failover). */
  termOf(database: DatabaseConfig, shard: number): number;
  /** How a client of `database` routes over `pools`; null when it has one shard, no rules and no replicas. */
  routingFor(database: DatabaseConfig, pools: readonly NodePool[]): RelayRouting | null;
  /** Asks the node to cancel what this server connection is running (CancelRequest on a new socket). */
  cancelBackend(conn: ServerConnection): void;
  /** Reloads config from its file (admin RELOAD); throws ConfigError with every problem. */
  reload(): Promise<void>;
  /** Live pools and clients, for the admin console. */
  readonly admin: AdminView;
  /** Sharding rules of every database, and adding rules at runtime (admin SHARD TABLE / REFERENCE TABLE). */
  readonly sharding: ShardingAdmin;
  /** Node health from the health checker (admin SHOW NODES); null when health checks are not running. */
  readonly health: { snapshot(): readonly NodeView[] } | null;
  /** Failover of every shard (admin FAILOVER / SWITCHOVER / SHOW FAILOVER); null before start. */
  readonly failover: Pick<FailoverCoordinator, 'failover' | 'switchover' | 'status'> | null;
  readonly startedAt: number;
  readonly version: string;
}
