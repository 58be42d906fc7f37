// Shared fixtures of the routing tests: a 4-shard rule set sharding the pgbench tables and some app
// tables of the shared SQL corpus, shard numbers computed independently through placementOf, and
// BoundParams builders.

import { placementOf, evenBucketMap } from '../../../planner/hash/bucket-map.js';
import type { KeyType, KeyValue } from '../../../planner/hash/pg-hash.js';
import type { BoundParams } from '../../../planner/plan.js';
import type { ShardingRules, TableRule, ShardMethod } from '../../../planner/sharding-rules.js';

const hash: ShardMethod = { kind: 'hash' };

function sharded(name: string, column: string, keyType: KeyType | null, method: ShardMethod = hash, schema: string | null = null): TableRule {
  return { kind: 'sharded', name, schema, column, keyType, method };
}

function reference(name: string): TableRule {
  return { kind: 'reference', name, schema: null };
}

export const SHARDS = 4;
export const buckets = evenBucketMap(1024, SHARDS);

export function makeRules(extra: readonly TableRule[] = []): ShardingRules {
  const list: TableRule[] = [
    // pgbench
    sharded('pgbench_accounts', 'aid', 'int4'),
    sharded('pgbench_tellers', 'tid', 'int4'),
    sharded('pgbench_branches', 'bid', 'int4'),
    sharded('pgbench_history', 'aid', 'int4'),
    // app tables of the corpus
    sharded('users', 'id', 'int8'),
    sharded('orders', 'customer_id', 'int8'),
    sharded('order_items', 'order_id', 'int8'),
    sharded('customers', 'id', 'int8'),
    sharded('shop_order', 'customer_id', 'int8'),
    sharded('User', 'id', 'int4', hash, 'public'),
    sharded('Post', 'authorId', 'int4'),
    sharded('events', 'id', 'int8'),
    sharded('documents', 'id', 'uuid'),
    sharded('sessions', 'user_id', 'int8'),
    sharded('memberships', 'user_id', 'int8'),
    sharded('measurements', 'sensor_id', 'int8'),
    sharded('accounts', 'email', 'text'),
    sharded('tenants_text', 'name', 'varchar'),
    sharded('pending', 'id', null),
    sharded('ranged', 'id', 'int8', {
      kind: 'range',
      pieces: [
        { from: null, to: 100n, shard: 0 },
        { from: 100n, to: 200n, shard: 1 },
        { from: 200n, to: 300n, shard: 2 },
      ],
    }),
    sharded('ranged_twin', 'rid', 'int8', {
      kind: 'range',
      pieces: [
        { from: null, to: 100n, shard: 0 },
        { from: 100n, to: 200n, shard: 1 },
        { from: 200n, to: 300n, shard: 2 },
      ],
    }),
    sharded('listed', 'region', 'text', {
      kind: 'list',
      pieces: [
        { values: ['eu', 'uk'], shard: 1 },
        { values: ['us'], shard: 2 },
      ],
      defaultShard: null,
    }),
    sharded('words', 'w', 'text', {
      kind: 'range',
      pieces: [
        { from: null, to: 'm', shard: 0 },
        { from: 'm', to: null, shard: 3 },
      ],
    }),
    reference('countries'),
    reference('products'),
    reference('vip_list'),
    ...extra,
  ];
  const tables = new Map<string, TableRule>();
  for (const r of list) tables.set(r.name, r);
  return { epoch: 1, shardCount: SHARDS, buckets, tables };
}

/** Shard of a key, computed independently of the planner. */
export function shardOf(type: KeyType, value: KeyValue): number {
  return placementOf(type, value, buckets).shard;
}

/** A key of `type` that lands on `shard` (searching small integers / strings). */
export function keyOnShard(type: KeyType, shard: number, avoid: readonly number[] = []): number {
  for (let i = 1; i < 100000; i++) {
    if (avoid.includes(i)) continue;
    const v = type === 'text' || type === 'varchar' ? String(i) : i;
    if (shardOf(type, v) === shard) return i;
  }
  throw new Error('no key');
}

const enc = new TextEncoder();

/** Text-format parameters (null = SQL NULL), types left to the server. */
export function textParams(...values: (string | number | null)[]): BoundParams {
  return {
    values: values.map((v) => (v === null ? null : enc.encode(String(v)))),
    formats: values.map(() => 0),
    types: values.map(() => 0),
  };
}

export function int4Binary(v: number): Uint8Array {
  const b = new Uint8Array(4);
  new DataView(b.buffer).setInt32(0, v);
  return b;
}

export function int8Binary(v: bigint): Uint8Array {
  const b = new Uint8Array(8);
  new DataView(b.buffer).setBigInt64(0, v);
  return b;
}

export const NO_SESSION = { shard: null } as const;
