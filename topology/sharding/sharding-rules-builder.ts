// Builds the planner's frozen ShardingRules snapshot for one database from its config section (and,
// later, from rules added at runtime and key types learnt from the catalog). Topology owns the epoch:
// every new snapshot gets a higher one, so plans cached under an older snapshot are never reused.

import { evenBucketMap } from '../../planner/hash/bucket-map.js';
import type { KeyType } from '../../planner/hash/pg-hash.js';
import type { ShardingRules, ShardMethod, TableRule } from '../../planner/sharding-rules.js';
import type { ShardedTableConfig, ShardingConfig } from '../config/config-types.js';

let nextEpoch = 1;

/** Splits `schema.table` (config form) into its parts. */
export function splitRelationName(name: string): { schema: string | null; name: string } {
  const dot = name.indexOf('.');
  return dot < 0 ? { schema: null, name } : { schema: name.slice(0, dot), name: name.slice(dot + 1) };
}

function boundOf(value: string | number | null, type: KeyType | null): bigint | string | null {
  if (value === null) return null;
  const numeric = type === 'int2' || type === 'int4' || type === 'int8';
  return numeric ? BigInt(value) : String(value);
}

function methodOf(table: ShardedTableConfig): ShardMethod {
  switch (table.method) {
    case 'hash':
      return { kind: 'hash' };
    case 'range':
      return {
        kind: 'range',
        pieces: table.ranges.map((r) => ({ from: boundOf(r.from, table.type), to: boundOf(r.to, table.type), shard: r.shard })),
      };
    case 'list':
      return {
        kind: 'list',
        pieces: table.lists.map((l) => ({ values: l.values.map((v) => boundOf(v, table.type)!), shard: l.shard })),
        defaultShard: table.default,
      };
  }
}

export interface LearnedTypes {
  /** Key types found since the config was loaded (catalog, CREATE TABLE), by lower-case table name. */
  readonly keyTypes: ReadonlyMap<string, KeyType>;
  /** Views over sharded tables found in the first shard's catalog (view → table). */
  readonly shardedViews?: ReadonlyMap<string, string>;
}

export function buildShardingRules(config: ShardingConfig, shardCount: number, learned?: LearnedTypes): ShardingRules {
  const tables = new Map<string, TableRule>();
  for (const t of config.tables) {
    const { schema, name } = splitRelationName(t.name);
    tables.set(name, {
      kind: 'sharded',
      name,
      schema,
      column: t.column,
      keyType: t.type ?? learned?.keyTypes.get(name) ?? null,
      method: methodOf(t),
    });
  }
  for (const ref of config.referenceTables) {
    const { schema, name } = splitRelationName(ref);
    tables.set(name, { kind: 'reference', name, schema });
  }
  return Object.freeze({
    epoch: nextEpoch++,
    shardCount,
    buckets: evenBucketMap(config.modulus, shardCount),
    tables,
    ...(learned?.shardedViews === undefined || learned.shardedViews.size === 0 ? {} : { shardedViews: learned.shardedViews }),
  });
}
