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
  /** The pool serving (database, user) on the database's first shard primary. */
  poolFor(database: DatabaseConfig, user: UserConfig): NodePool;
  /** Asks the node to cancel what this server connection is running (CancelRequest on a new socket). */
  cancelBackend(conn: ServerConnection): void;
  /** Reloads config from its file (admin RELOAD); throws ConfigError with every problem. */
  reload(): Promise<void>;
  /** Live pools and clients, for the admin console. */
  readonly admin: AdminView;
  readonly startedAt: number;
  readonly version: string;
}
