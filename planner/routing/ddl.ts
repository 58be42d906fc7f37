// Schema changes and maintenance: they run on every shard (broadcast), inside the client's transaction
// unless PostgreSQL refuses the statement in a transaction block (CONCURRENTLY forms, VACUUM,
// CREATE/DROP DATABASE, ALTER SYSTEM, tablespaces, subscriptions...). A CREATE TABLE of a sharded
// table is checked for its key column, and its key type is learnt when the rules do not know it.
// Owns: which statement types are DDL / maintenance and their transactional flag; key-type learning.
// Must not: route reads or writes.

import type { LearnedKeyType, Plan } from '../plan.js';
import type { ShardingRules } from '../sharding-rules.js';
import type { KeyType } from '../hash/pg-hash.js';
import { as, bodyOf, castType, list, str, type Body } from './ast.js';
import { keyFamily } from './key-values.js';
import { classifyRelation, relationName } from './relations.js';
import { unsupported } from './messages.js';

/** Statement types that change schema objects, roles or privileges. */
const DDL_TYPES = /^(Create|Alter|Drop|Define|Comment|Grant|Rename|Reassign|SecLabel|Import|Composite|Rule|Truncate|View|Index|DropOwned|ReassignOwned)/;

/** DDL that PostgreSQL refuses inside a transaction block. */
const NON_TRANSACTIONAL = new Set([
  'CreatedbStmt', 'DropdbStmt', 'AlterSystemStmt', 'CreateTableSpaceStmt', 'DropTableSpaceStmt', 'CreateSubscriptionStmt',
  'DropSubscriptionStmt', 'AlterDatabaseStmt',
]);

export function isDdlType(type: string): boolean {
  return DDL_TYPES.test(type);
}

function hasOption(options: unknown, name: string): boolean {
  return list(options).some((o) => str(as(o, 'DefElem')?.['defname']) === name);
}

const broadcastDdl = (transactional: boolean, learned: readonly LearnedKeyType[] = []): Plan => ({
  kind: 'broadcast', reason: 'ddl', transactional, learned,
});

/** The plan of a DDL statement (CREATE TABLE AS / SELECT INTO are handled by the caller). */
export function planDdl(rules: ShardingRules, type: string, body: Body): Plan {
  switch (type) {
    case 'CreateStmt':
      return createTable(rules, body);
    case 'IndexStmt':
    case 'DropStmt':
      return broadcastDdl(body['concurrent'] !== true);
    case 'AlterDatabaseStmt':
      // ALTER DATABASE ... SET TABLESPACE cannot run in a transaction block; other forms can.
      return broadcastDdl(!hasOption(body['options'], 'tablespace'));
    default:
      return broadcastDdl(!NON_TRANSACTIONAL.has(type));
  }
}

/** VACUUM / ANALYZE / CLUSTER / REINDEX / REFRESH MATERIALIZED VIEW / CHECKPOINT. */
export function planMaintenance(type: string, body: Body): Plan {
  let transactional = true;
  switch (type) {
    case 'VacuumStmt':
      // ANALYZE alone may run in a transaction block; VACUUM may not.
      transactional = body['is_vacuumcmd'] !== true;
      break;
    case 'ReindexStmt': {
      const kind = str(body['kind']) ?? '';
      transactional = !hasOption(body['params'], 'concurrently') && kind !== 'REINDEX_OBJECT_DATABASE' && kind !== 'REINDEX_OBJECT_SYSTEM';
      break;
    }
    case 'ClusterStmt':
      transactional = bodyOf(body['relation']) !== null;
      break;
    default:
      break;
  }
  return { kind: 'broadcast', reason: 'maintenance', transactional, learned: [] };
}

export const MAINTENANCE_TYPES: ReadonlySet<string> = new Set(['VacuumStmt', 'ReindexStmt', 'ClusterStmt', 'RefreshMatViewStmt', 'CheckPointStmt']);

/** Column types pgshard can shard by, under their SQL spellings (the parser already maps integer → int4...). */
const KEY_TYPE_NAMES: ReadonlyMap<string, KeyType> = new Map<string, KeyType>([
  ['int2', 'int2'], ['smallint', 'int2'], ['smallserial', 'int2'], ['serial2', 'int2'],
  ['int4', 'int4'], ['int', 'int4'], ['integer', 'int4'], ['serial', 'int4'], ['serial4', 'int4'],
  ['int8', 'int8'], ['bigint', 'int8'], ['bigserial', 'int8'], ['serial8', 'int8'],
  ['text', 'text'], ['varchar', 'varchar'], ['character varying', 'varchar'], ['uuid', 'uuid'],
]);

/** The key type of a column type as SQL or format_type() spells it (undefined: not a shardable type). */
export function keyTypeOfSqlType(name: string): KeyType | undefined {
  return KEY_TYPE_NAMES.get(name.toLowerCase().replace(/\(.*\)$/, '').trim());
}

function createTable(rules: ShardingRules, body: Body): Plan {
  const relation = bodyOf(body['relation']);
  if (relation === null) return broadcastDdl(true);
  const rel = relationName(relation);
  const cls = classifyRelation(rules, rel);
  if (cls.kind !== 'sharded') return broadcastDdl(true);
  const rule = cls.rule;
  const elements = list(body['tableElts']);
  // PARTITION OF / OF type / LIKE: the columns are not all written here.
  if (bodyOf(body['partbound']) !== null || bodyOf(body['ofTypename']) !== null || elements.some((e) => as(e, 'TableLikeClause') !== null)) {
    return broadcastDdl(true);
  }
  const column = elements.map((e) => as(e, 'ColumnDef')).find((c) => c !== null && str(c['colname']) === rule.column);
  if (column === undefined || column === null) {
    return unsupported(
      `CREATE TABLE of sharded table "${rule.name}" has no column "${rule.column}", its shard key`,
      `add the key column "${rule.column}", or change the table's rule in the sharding configuration`,
    );
  }
  const t = castType(column);
  const keyType = t === null || t.array ? undefined : KEY_TYPE_NAMES.get(t.name.toLowerCase());
  const typeName = t === null ? 'unknown' : `${t.name}${t.array ? '[]' : ''}`;
  if (keyType === undefined) {
    return unsupported(
      `shard key "${rule.column}" of table "${rule.name}" has type ${typeName}, which pgshard cannot shard by`,
      'use one of smallint, integer, bigint (or serial/bigserial), text, varchar, uuid for the shard key',
    );
  }
  if (rule.keyType !== null) {
    if (keyFamily(rule.keyType) !== keyFamily(keyType)) {
      return unsupported(
        `shard key "${rule.column}" of table "${rule.name}" is declared ${rule.keyType} in the sharding rules but created as ${typeName}`,
        'make the column type match the rule (values of different types hash differently)',
      );
    }
    return broadcastDdl(true);
  }
  return broadcastDdl(true, [{ table: rule.name, keyType }]);
}
