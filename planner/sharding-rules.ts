// The sharding rules the planner routes by: which tables are sharded (by which key column, with which
// placement method), which are reference tables copied to every shard, and the bucket map. A frozen
// snapshot with an epoch: a statement is planned against the snapshot it started with, and a change
// (config reload, admin SHARD TABLE, resharding) produces a new snapshot rather than mutating this one.
// Pure data: built by topology/ from config and the persisted admin rules.

import type { BucketMap } from './hash/bucket-map.js';
import type { KeyType } from './hash/pg-hash.js';

/** A range rule's piece: keys in [from, to) live on `shard`. null bounds are unbounded. */
export interface RangePiece {
  /** Inclusive lower bound (null: minus infinity). Integers as bigint, text as string. */
  readonly from: bigint | string | null;
  /** Exclusive upper bound (null: plus infinity). */
  readonly to: bigint | string | null;
  readonly shard: number;
}

/** A list rule's piece: any of `values` lives on `shard`. */
export interface ListPiece {
  readonly values: readonly (bigint | string)[];
  readonly shard: number;
}

export type ShardMethod =
  | { readonly kind: 'hash' }
  | { readonly kind: 'range'; readonly pieces: readonly RangePiece[] }
  | { readonly kind: 'list'; readonly pieces: readonly ListPiece[]; readonly defaultShard: number | null };

export interface ShardedTableRule {
  readonly kind: 'sharded';
  /** Relation name, lower case as Postgres folds unquoted identifiers. */
  readonly name: string;
  /** Schema it is declared in, or null for "whatever schema a statement names or search_path finds". */
  readonly schema: string | null;
  /** The partition key column (lower case). */
  readonly column: string;
  /**
   * The key column's type, which decides the hash function. null until known (declared in config, read
   * from the shard's catalog, or learnt from the CREATE TABLE that passes through the proxy).
   */
  readonly keyType: KeyType | null;
  readonly method: ShardMethod;
}

export interface ReferenceTableRule {
  readonly kind: 'reference';
  readonly name: string;
  readonly schema: string | null;
}

export type TableRule = ShardedTableRule | ReferenceTableRule;

export interface ShardingRules {
  /** Bumped on every change; plans cached under one epoch are never used under another. */
  readonly epoch: number;
  readonly shardCount: number;
  readonly buckets: BucketMap;
  /** By lower-case relation name (unqualified); a rule with a schema only matches that schema. */
  readonly tables: ReadonlyMap<string, TableRule>;
  /**
   * Views (and materialized views) that read a sharded table, by name → that table. A view exists on
   * every shard and sees only that shard's rows, so reading one through any single shard would be
   * silently incomplete: the planner refuses it.
   */
  readonly shardedViews?: ReadonlyMap<string, string>;
}

/** Looks a relation up as a statement names it (schema may be absent). */
export function findRule(rules: ShardingRules, schema: string | null, name: string): TableRule | undefined {
  const rule = rules.tables.get(name);
  if (rule === undefined) return undefined;
  if (rule.schema !== null && schema !== null && rule.schema !== schema) return undefined;
  return rule;
}
