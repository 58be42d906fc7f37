// What a relation named in a statement is, for routing: a sharded table (with its rule), a reference
// table (a full copy on every shard), a catalog relation (pg_catalog / information_schema: the same on
// every shard for routing purposes), or an unlisted table (lives on shard 0 only).
// Owns: RangeVar name handling (quoted identifiers keep their case; the parser already folded unquoted
// ones) and the catalog test. Must not: look at predicates.

import { findRule, type ReferenceTableRule, type ShardedTableRule, type ShardingRules } from '../sharding-rules.js';
import { bodyOf, str, type Body } from './ast.js';

export type RelationClass =
  | { readonly kind: 'sharded'; readonly rule: ShardedTableRule }
  | { readonly kind: 'reference'; readonly rule: ReferenceTableRule }
  | { readonly kind: 'catalog' }
  | { readonly kind: 'unlisted'; readonly name: string };

export interface RelationName {
  readonly schema: string | null;
  readonly name: string;
  /** The alias, or the relation name when there is none: how columns qualify it. */
  readonly refName: string;
  readonly aliased: boolean;
}

export const CATALOG_SCHEMAS: ReadonlySet<string> = new Set(['pg_catalog', 'information_schema', 'pg_toast']);

export function relationName(rangeVar: Body): RelationName {
  const name = str(rangeVar['relname']) ?? '';
  const schema = str(rangeVar['schemaname']);
  const alias = bodyOf(rangeVar['alias']);
  const aliasName = alias === null ? null : str(alias['aliasname']);
  return { schema, name, refName: aliasName ?? name, aliased: aliasName !== null };
}

export function classifyRelation(rules: ShardingRules, rel: { schema: string | null; name: string }): RelationClass {
  if (rel.schema !== null && CATALOG_SCHEMAS.has(rel.schema)) return { kind: 'catalog' };
  const rule = findRule(rules, rel.schema, rel.name);
  if (rule !== undefined) return rule.kind === 'sharded' ? { kind: 'sharded', rule } : { kind: 'reference', rule };
  // Unqualified pg_* names resolve to pg_catalog first (it is implicitly first in search_path).
  if (rel.schema === null && rel.name.startsWith('pg_')) return { kind: 'catalog' };
  return { kind: 'unlisted', name: rel.schema === null ? rel.name : `${rel.schema}.${rel.name}` };
}

export interface RelationKinds {
  sharded: boolean;
  reference: boolean;
  catalog: boolean;
  unlisted: boolean;
}

/** The kinds of every relation named anywhere in a subtree (CTE names count as unlisted: conservative). */
export function relationKinds(rules: ShardingRules, node: unknown): RelationKinds {
  const kinds: RelationKinds = { sharded: false, reference: false, catalog: false, unlisted: false };
  const visit = (n: unknown): void => {
    if (n === null || typeof n !== 'object') return;
    if (Array.isArray(n)) {
      for (const item of n) visit(item);
      return;
    }
    const b = n as Body;
    if (typeof b['relname'] === 'string') kinds[classifyRelation(rules, relationName(b)).kind] = true;
    for (const v of Object.values(b)) visit(v);
  };
  visit(node);
  return kinds;
}
