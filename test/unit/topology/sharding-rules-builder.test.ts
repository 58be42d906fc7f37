import t from 'tap';
import { buildShardingRules, splitRelationName } from '../../../topology/sharding/sharding-rules-builder.js';
import { parseConfig } from '../../../topology/config/load-config.js';
import type { ShardingRules } from '../../../planner/sharding-rules.js';

function keyTypeOf(rules: ShardingRules, name: string): string | null | undefined {
  const rule = rules.tables.get(name);
  return rule?.kind === 'sharded' ? rule.keyType : undefined;
}

function shardingOf(sharding: unknown, shards = 3) {
  const config = parseConfig({
    users: [{ name: 'app', password: 'pw' }],
    databases: [{ name: 'app', shards: Array.from({ length: shards }, (_, i) => ({ primary: { host: `h${i}`, port: 5432 } })), sharding }],
  });
  return config.databases[0]!.sharding;
}

void t.test('config rules become the planner snapshot: hash, range, list, reference, schema names', async (t) => {
  const rules = buildShardingRules(
    shardingOf({
      modulus: 64,
      tables: [
        { name: 'orders', column: 'customer_id', type: 'int8' },
        { name: 'sales.events', column: 'region', type: 'text', method: 'list', lists: [{ values: ['eu'], shard: 0 }, { values: ['us', 'ca'], shard: 2 }], default: 1 },
        { name: 'readings', column: 'sensor', type: 'int4', method: 'range', ranges: [{ to: 100, shard: 0 }, { from: 100, to: '200', shard: 1 }, { from: 200, shard: 2 }] },
        { name: 'untyped', column: 'k' },
      ],
      referenceTables: ['public.countries'],
    }),
    3,
  );
  t.equal(rules.shardCount, 3);
  t.equal(rules.buckets.modulus, 64);
  t.strictSame(rules.tables.get('orders'), { kind: 'sharded', name: 'orders', schema: null, column: 'customer_id', keyType: 'int8', method: { kind: 'hash' } });
  t.strictSame(rules.tables.get('events'), {
    kind: 'sharded', name: 'events', schema: 'sales', column: 'region', keyType: 'text',
    method: { kind: 'list', pieces: [{ values: ['eu'], shard: 0 }, { values: ['us', 'ca'], shard: 2 }], defaultShard: 1 },
  });
  t.strictSame(rules.tables.get('readings'), {
    kind: 'sharded', name: 'readings', schema: null, column: 'sensor', keyType: 'int4',
    method: { kind: 'range', pieces: [{ from: null, to: 100n, shard: 0 }, { from: 100n, to: 200n, shard: 1 }, { from: 200n, to: null, shard: 2 }] },
  }, 'integer bounds become bigints, whether written as numbers or strings');
  t.equal(keyTypeOf(rules, 'untyped'), null, 'an undeclared key type stays unknown');
  t.strictSame(rules.tables.get('countries'), { kind: 'reference', name: 'countries', schema: 'public' });
  t.ok(Object.isFrozen(rules));
  const again = buildShardingRules(shardingOf({}), 3);
  t.ok(again.epoch > rules.epoch, 'each snapshot has a newer epoch');
  t.equal(again.tables.size, 0);
});

void t.test('learnt key types fill rules that declare none; declared types win', async (t) => {
  const rules = buildShardingRules(
    shardingOf({ tables: [{ name: 'a', column: 'k' }, { name: 'b', column: 'k', type: 'uuid' }] }),
    3,
    { keyTypes: new Map([['a', 'text'], ['b', 'int8']] as const) },
  );
  t.equal(keyTypeOf(rules, 'a'), 'text');
  t.equal(keyTypeOf(rules, 'b'), 'uuid');
});

void t.test('splitRelationName', async (t) => {
  t.strictSame(splitRelationName('t'), { schema: null, name: 't' });
  t.strictSame(splitRelationName('s.t'), { schema: 's', name: 't' });
});
