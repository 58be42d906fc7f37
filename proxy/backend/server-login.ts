// How the proxy logs in to a node as one of its configured users: the database's name on the shards,
// and the user's server credentials (serverUser/serverPassword, else its own). One place, so pools,
// health checks, recovery and catalog reads all log in alike.

import type { Config, DatabaseConfig, NodeAddress, UserConfig } from '../../topology/config/config-types.js';
import type { ServerLogin } from './server-connection.js';

export function serverLogin(
  config: Config,
  db: DatabaseConfig,
  user: UserConfig,
  node: NodeAddress,
  nodeName: string,
  opts: { connectTimeoutMs?: number; frameBytesMax?: number } = {},
): ServerLogin {
  return {
    node,
    nodeName,
    database: db.backendDatabase,
    user: user.serverUser ?? user.name,
    password: user.serverPassword ?? user.password,
    connectTimeoutMs: opts.connectTimeoutMs ?? config.pool.connectTimeoutMs,
    frameBytesMax: opts.frameBytesMax ?? config.limits.frameBytesMax,
  };
}
