// What the sharding rules need from the shards' catalog, read from the first shard: key types the
// rules leave open (`type: null`) for tables that already exist, and the views that read sharded
// tables (the planner refuses to read those through one shard). Read at startup, and the views again
// after a DDL statement that creates or drops one. Tables created later through the proxy teach their
// key type from their CREATE TABLE (planner: LearnedKeyType).

import type { Config, DatabaseConfig, ShardingConfig } from '../../topology/config/config-types.js';
import type { KeyType } from '../../planner/hash/pg-hash.js';
import { keyTypeOfSqlType } from '../../planner/routing/ddl.js';
import { splitRelationName } from '../../topology/sharding/sharding-rules-builder.js';
import { ServerConnection } from '../backend/server-connection.js';
import { oneOffQuery } from '../backend/one-off-query.js';
import { serverLogin } from '../backend/server-login.js';
import type { Logger } from '../logger.js';

const literal = (s: string): string => `'${s.replace(/'/g, "''")}'`;
const ident = (s: string): string => `"${s.replace(/"/g, '""')}"`;

export interface CatalogFacts {
  readonly keyTypes: Map<string, KeyType>;
  /** view name → a sharded table it reads (directly or through other views). */
  readonly shardedViews: Map<string, string>;
}

/** Runs `fn` on a fresh connection to the database's first shard primary; null when that fails (logged). */
async function onFirstShard<T>(config: Config, db: DatabaseConfig, log: Logger, fn: (conn: ServerConnection) => Promise<T>): Promise<T | null> {
  const user = config.users.find((u) => u.password !== null || u.auth === 'trust');
  const shard = db.shards[0];
  if (user === undefined || shard === undefined) return null;
  let conn: ServerConnection | null = null;
  try {
    conn = await ServerConnection.connect(serverLogin(config, db, user, shard.primary, `${db.name}/${shard.name}/primary`));
    return await fn(conn);
  } catch (err) {
    log.warn({ database: db.name, err: err instanceof Error ? err.message : String(err) }, 'could not read the first shard\'s catalog');
    return null;
  } finally {
    conn?.destroy();
  }
}

async function keyTypesOn(conn: ServerConnection, db: DatabaseConfig, sharding: ShardingConfig, log: Logger): Promise<Map<string, KeyType>> {
  const found = new Map<string, KeyType>();
  for (const table of sharding.tables.filter((t) => t.type === null)) {
    const { schema, name } = splitRelationName(table.name);
    const relation = schema === null ? ident(name) : `${ident(schema)}.${ident(name)}`;
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
  return found;
}

async function shardedViewsOn(conn: ServerConnection, sharding: ShardingConfig): Promise<Map<string, string>> {
  const tables = sharding.tables.map((t) => splitRelationName(t.name).name);
  const found = new Map<string, string>();
  if (tables.length === 0) return found;
  // A view's rewrite rule depends on the relations it reads; follow views of views.
  const rows = await oneOffQuery(
    conn,
    `WITH RECURSIVE reads(view_oid, table_name) AS (
       SELECT r.ev_class, t.relname::text FROM pg_catalog.pg_rewrite r
         JOIN pg_catalog.pg_depend d ON d.classid = 'pg_catalog.pg_rewrite'::regclass AND d.objid = r.oid AND d.refclassid = 'pg_catalog.pg_class'::regclass
         JOIN pg_catalog.pg_class t ON t.oid = d.refobjid
        WHERE t.relname = ANY (ARRAY[${tables.map(literal).join(', ')}]::text[]) AND r.ev_class <> t.oid
       UNION
       SELECT r.ev_class, reads.table_name FROM reads
         JOIN pg_catalog.pg_depend d ON d.refobjid = reads.view_oid AND d.classid = 'pg_catalog.pg_rewrite'::regclass
         JOIN pg_catalog.pg_rewrite r ON r.oid = d.objid
        WHERE r.ev_class <> reads.view_oid)
     SELECT v.relname, min(reads.table_name) FROM reads JOIN pg_catalog.pg_class v ON v.oid = reads.view_oid
      WHERE v.relkind IN ('v', 'm') GROUP BY v.relname`,
  );
  for (const [view, table] of rows) if (typeof view === 'string' && typeof table === 'string') found.set(view, table);
  return found;
}

export async function readCatalogFacts(config: Config, db: DatabaseConfig, sharding: ShardingConfig, log: Logger): Promise<CatalogFacts> {
  const facts = await onFirstShard(config, db, log, async (conn) => ({
    keyTypes: await keyTypesOn(conn, db, sharding, log),
    shardedViews: await shardedViewsOn(conn, sharding),
  }));
  return facts ?? { keyTypes: new Map(), shardedViews: new Map() };
}

export async function readShardedViews(config: Config, db: DatabaseConfig, sharding: ShardingConfig, log: Logger): Promise<Map<string, string> | null> {
  return onFirstShard(config, db, log, (conn) => shardedViewsOn(conn, sharding));
}
