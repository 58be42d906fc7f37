// What the admin commands SHARD TABLE, REFERENCE TABLE and SHOW TABLES need from the running proxy
// (ProxyContext.sharding), and the helpers that keep its implementation in the composition root short.
// Must not: parse admin syntax, or persist anything itself (the RulesStore does).

import type { Config } from '../../topology/config/config-types.js';
import { mergeRules, type RuntimeRule, type ShardingConfigPart } from '../../topology/sharding/rules-store.js';
import { RuleError } from '../../topology/sharding/rules-store.js';
import { ProxyError } from '../errors.js';

export type { RuntimeRule } from '../../topology/sharding/rules-store.js';

export interface ShardingAdminRule {
  readonly database: string;
  /** `config`: from the config file; `runtime`: added with SHARD TABLE / REFERENCE TABLE. */
  readonly source: 'config' | 'runtime';
  readonly rule: RuntimeRule;
  /** A runtime rule not in effect because the config file has a rule for the same table. */
  readonly shadowed?: boolean;
}

export interface ShardingAdmin {
  /** Every rule of every database: config rules first, then runtime ones, per database in config order. */
  rules(): readonly ShardingAdminRule[];
  /**
   * Persists a runtime rule (RulesStore.add) and then rebuilds that database's rules snapshot, so new
   * statements route by it. Throws RuleError (topology) or ProxyError; the caller has already checked
   * that the database exists and that the table has no rule.
   */
  add(database: string, rule: RuntimeRule): Promise<void>;
}

/** ShardingAdmin.rules() from the config and the runtime rules of each database. */
export function listShardingRules(config: Config, runtimeFor: (database: string) => ShardingConfigPart): ShardingAdminRule[] {
  const out: ShardingAdminRule[] = [];
  for (const db of config.databases) {
    for (const rule of db.sharding.tables) out.push({ database: db.name, source: 'config', rule });
    for (const reference of db.sharding.referenceTables) out.push({ database: db.name, source: 'config', rule: { reference } });
    const runtime = runtimeFor(db.name);
    const shadowed = new Set(mergeRules(db.sharding, runtime).shadowed);
    const entry = (rule: RuntimeRule, name: string): ShardingAdminRule =>
      shadowed.has(name) ? { database: db.name, source: 'runtime', rule, shadowed: true } : { database: db.name, source: 'runtime', rule };
    for (const rule of runtime.tables) out.push(entry(rule, rule.name));
    for (const reference of runtime.referenceTables) out.push(entry({ reference }, reference));
  }
  return out;
}

/** A failure of ShardingAdmin.add as the client sees it: RuleErrors keep their SQLSTATE. */
export function asRuleProxyError(err: unknown): unknown {
  if (!(err instanceof RuleError)) return err;
  switch (err.sqlstate) {
    case '42710':
      return ProxyError.duplicateRule(err.message);
    case '42P17':
      return ProxyError.invalidRule(err.message);
    case '58030':
      return ProxyError.stateWriteFailed(err.message);
  }
}
