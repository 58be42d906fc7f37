// The 0A000 plans shared by several routing modules, so the same situation reads the same everywhere.
// Owns: message and hint wording. Must not: decide when they apply.

import type { Plan } from '../plan.js';
import type { ShardedTableRule } from '../sharding-rules.js';

export type UnsupportedPlan = Extract<Plan, { kind: 'unsupported' }>;

export function unsupported(message: string, hint: string): UnsupportedPlan {
  return { kind: 'unsupported', message, hint };
}

export function keyTypeMissing(rule: ShardedTableRule): UnsupportedPlan {
  return unsupported(
    `the type of shard key "${rule.column}" of table "${rule.name}" is not known yet, so its values cannot be placed`,
    `declare the key's type in the sharding rules (type: int4, int8, text, uuid...), or create the table through pgshard so the type is learnt from CREATE TABLE`,
  );
}

export const SCATTER_HINT =
  'add a shard-key condition (key = value) so the statement runs on one shard, co-locate the tables by their shard key, or route it with /* pgshard: shard=N */';

export function shardOutOfRange(shard: number, shardCount: number, source: string): UnsupportedPlan {
  return unsupported(`${source} names shard ${shard}, but shards are numbered 0 to ${shardCount - 1}`, `use a shard number from 0 to ${shardCount - 1}`);
}
