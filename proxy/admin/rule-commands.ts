// What SHARD TABLE and REFERENCE TABLE share: reading a table name and IN DATABASE, finding the
// database, refusing a table that already has a rule, and handing the rule to the running proxy.

import type { DatabaseConfig } from '../../topology/config/config-types.js';
import { ruleKey } from '../../topology/sharding/rule-checks.js';
import { isReferenceRule } from '../../topology/sharding/rules-store.js';
import type { ProxyContext } from '../context.js';
import { ProxyError } from '../errors.js';
import type { TokenReader } from './admin-tokens.js';
import { asRuleProxyError, type RuntimeRule } from './sharding-admin.js';

/** `table` or `schema.table` in the config's form (each part folded or quoted as PostgreSQL does). */
export function readTableName(r: TokenReader): string {
  const parts = [r.expectIdentifier('a table name', `after ${r.command}`)];
  if (r.acceptPunct('.')) parts.push(r.expectIdentifier('a table name', `after "${parts[0]!}."`));
  // The config's `schema.table` form cannot carry a dot or white space inside a part.
  if (parts.some((p) => /[.\s]/.test(p)))
    throw ProxyError.unsupported(`${r.command}: a table or schema name containing "." or white space cannot have a sharding rule`);
  return parts.join('.');
}

/** `IN DATABASE db`, when the next token is IN; null when absent. */
export function readInDatabase(r: TokenReader): string | null {
  if (!r.acceptKeyword('IN')) return null;
  r.expectKeyword('DATABASE', 'after IN');
  return r.expectIdentifier('a database name', 'after IN DATABASE');
}

/** The database a command names, or the only one when it names none. */
export function resolveDatabase(ctx: ProxyContext, name: string | null, command: string, syntax: string): DatabaseConfig {
  const databases = ctx.config().databases;
  const names = databases.map((d) => d.name);
  if (name === null) {
    if (databases.length === 1) return databases[0]!;
    throw ProxyError.adminSyntax(
      `${command}: expected IN DATABASE at the end: the config has ${databases.length} databases (${names.join(', ')})`,
      `Syntax: ${syntax}`,
    );
  }
  const db = databases.find((d) => d.name === name);
  if (db === undefined) throw ProxyError.adminUnknownDatabase(name, names);
  return db;
}

function describeExisting(rule: RuntimeRule): string {
  return isReferenceRule(rule) ? `reference table ${rule.reference}` : `${rule.name}, sharded by ${rule.column}`;
}

/** Throws 42710 when `table` already has a rule in `database` (by unqualified name, as the planner matches). */
export function refuseExistingRule(ctx: ProxyContext, database: string, table: string): void {
  const key = ruleKey(table);
  const existing = ctx.sharding
    .rules()
    .find((r) => r.database === database && ruleKey(isReferenceRule(r.rule) ? r.rule.reference : r.rule.name) === key);
  if (existing === undefined) return;
  const from = existing.source === 'config' ? 'the config file' : 'a runtime rule';
  throw ProxyError.duplicateRule(
    `table "${key}" already has a sharding rule in database "${database}" (${describeExisting(existing.rule)}, from ${from})`,
    'A table has one rule. Runtime rules cannot be changed with a command: change the config file (its rules win) and RELOAD.',
  );
}

/** Saves the rule through the running proxy; store failures keep their SQLSTATE. */
export async function addRule(ctx: ProxyContext, database: string, rule: RuntimeRule): Promise<void> {
  try {
    await ctx.sharding.add(database, rule);
  } catch (err) {
    throw asRuleProxyError(err);
  }
}
