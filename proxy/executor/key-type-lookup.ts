// Key types the sharding rules leave open (`type: null`), read from the first shard's catalog at
// startup: a table that already exists tells its key column's type. Tables created later through the
// proxy teach it from their CREATE TABLE (planner: LearnedKeyType). A table that does not exist yet
// stays unknown; statements that need its key get 0A000 saying so.

import type { Config, DatabaseConfig, ShardingConfig } from '../../topology/config/config-types.js';
import type { KeyType } from '../../planner/hash/pg-hash.js';
import { keyTypeOfSqlType } from '../../planner/routing/ddl.js';
import { splitRelationName } from '../../topology/sharding/sharding-rules-builder.js';
import { ServerConnection } from '../backend/server-connection.js';
import { oneOffQuery } from '../backend/one-off-query.js';
import type { Logger } from '../logger.js';

const literal = (s: string): string => `'${s.replace(/'/g, "''")}'`;

export async function lookupKeyTypes(config: Config, db: DatabaseConfig, sharding: ShardingConfig, log: Logger): Promise<Map<string, KeyType>> {
  const found = new Map<string, KeyType>();
  const open = sharding.tables.filter((t) => t.type === null);
  const user = config.users.find((u) => u.password !== null || u.auth === 'trust');
  const shard = db.shards[0];
  if (open.length === 0 || user === undefined || shard === undefined) return found;
  let conn: ServerConnection | null = null;
  try {
    conn = await ServerConnection.connect({
      node: shard.primary,
      nodeName: `${db.name}/${shard.name}/primary`,
      database: db.backendDatabase,
      user: user.serverUser ?? user.name,
      password: user.serverPassword ?? user.password,
      connectTimeoutMs: config.pool.connectTimeoutMs,
      frameBytesMax: config.limits.frameBytesMax,
    });
    for (const table of open) {
      const { schema, name } = splitRelationName(table.name);
      const relation = schema === null ? `"${name.replace(/"/g, '""')}"` : `"${schema.replace(/"/g, '""')}"."${name.replace(/"/g, '""')}"`;
      const rows = await oneOffQuery(
        conn,
        `SELECT pg_catalog.format_type(a.atttypid, NULL) FROM pg_catalog.pg_attribute a ` +
          `WHERE a.attrelid = pg_catalog.to_regclass(${literal(relation)}) AND a.attname = ${literal(table.column)} AND NOT a.attisdropped`,
      );
      const typeName = rows[0]?.[0];
      if (typeName === undefined || typeName === null) continue;
      const keyType = keyTypeOfSqlType(typeName);
      if (keyType !== undefined) found.set(name, keyType);
      else log.warn({ database: db.name, table: table.name, column: table.column, type: typeName }, 'shard key column has a type pgshard cannot shard by');
    }
  } catch (err) {
    log.warn({ database: db.name, err: err instanceof Error ? err.message : String(err) }, 'could not read key types from the first shard');
  } finally {
    conn?.destroy();
  }
  return found;
}
