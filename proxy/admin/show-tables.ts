// SHOW TABLES: one row per sharding rule of every database, from the config file or added at runtime.

import { renderListPiece, renderRangePiece } from '../../topology/sharding/rule-checks.js';
import { isReferenceRule } from '../../topology/sharding/rules-store.js';
import type { ShardedTableConfig } from '../../topology/config/config-types.js';
import type { AdminCommand } from './admin-command.js';
import { rowsResult, textColumns } from './admin-command.js';
import type { ShardingAdminRule } from './sharding-admin.js';

/** Where a rule puts rows, in the words of the SHARD TABLE syntax. */
export function placementOf(rule: ShardedTableConfig, modulus: number | undefined): string {
  switch (rule.method) {
    case 'hash':
      return modulus === undefined ? 'hash' : `hash ${modulus} buckets`;
    case 'range':
      return rule.ranges.map(renderRangePiece).join(', ');
    case 'list':
      return rule.lists.map(renderListPiece).join(', ') + (rule.default === null ? '' : ` DEFAULT ${rule.default}`);
  }
}

function sourceOf(entry: ShardingAdminRule): string {
  return entry.shadowed === true ? 'runtime (shadowed by config)' : entry.source;
}

export const showTables: AdminCommand = {
  words: ['SHOW', 'TABLES'],
  help: 'SHOW TABLES — sharding rules of every database (config and runtime)',
  execute: (ctx) => {
    const databases = new Map(ctx.config().databases.map((d) => [d.name, d]));
    const rows = ctx.sharding.rules().map((entry) => {
      const db = databases.get(entry.database);
      const { rule } = entry;
      if (isReferenceRule(rule)) {
        const shards = db === undefined ? 'every shard' : `every shard (${db.shards.length})`;
        return [entry.database, rule.reference, 'reference', null, null, null, shards, sourceOf(entry)];
      }
      return [entry.database, rule.name, 'sharded', rule.column, rule.type ?? '', rule.method, placementOf(rule, db?.sharding.modulus), sourceOf(entry)];
    });
    return rowsResult(textColumns('database', 'table', 'kind', 'column', 'key_type', 'method', 'placement', 'source'), rows);
  },
};
