// The template of one statement (what the plan cache keeps) and the helpers that build one from the
// facts of a query: a fixed plan, or a route bound per execution, or a VALUES insert.
// Owns: Analysis / TemplateBody, routeOf (facts → route), the no-sharded-table outcomes.
// Must not: walk statements (statement-analyzer.ts, write-analysis.ts do).

import type { Access, Merge, Plan } from '../plan.js';
import type { ShardedTableRule, ShardingRules } from '../sharding-rules.js';
import type { InsertTemplate } from './insert-split.js';
import type { PositionalInsert } from './positional-insert.js';
import { keyTypeMissing, SCATTER_HINT, unsupported } from './messages.js';
import type { KeySource, QueryFacts } from './query-analysis.js';
import { altOf, bindRoute, lazy, type MultiOutcome, type RouteTemplate, type TemplateRestriction } from './route-template.js';

export type TemplateBody =
  | { readonly kind: 'fixed'; readonly plan: Plan }
  | { readonly kind: 'route'; readonly route: RouteTemplate }
  | { readonly kind: 'insert'; readonly insert: InsertTemplate; readonly explain: 'plain' | 'analyze' | null }
  /** INSERT ... VALUES without a column list: placed per execution once the table's columns are known. */
  | { readonly kind: 'positional-insert'; readonly insert: PositionalInsert };

export interface Analysis {
  readonly body: TemplateBody;
  /** Transaction control and pgshard settings: never redirected by hints or SET pgshard.shard. */
  readonly control: boolean;
  /** Access of the statement when a hint or the session forces it onto one shard. */
  readonly access: Access;
  /** Sharded rules the statement touches (for key hints). */
  readonly rules: readonly ShardedTableRule[];
  /** The plan was forced by a comment hint (SET pgshard.shard does not override it). */
  readonly hinted: boolean;
}

export const EMPTY_MERGE: Merge = { hiddenColumns: 0, aggregate: null, distinct: false, orderBy: [], limit: null, offset: null };

export function fixed(plan: Plan, access: Access, rules: readonly ShardedTableRule[] = [], control = false): Analysis {
  return { body: { kind: 'fixed', plan }, control, access, rules, hinted: false };
}

export const UTILITY_READ: Plan = { kind: 'any', access: 'read', reason: 'utility' };
export const UTILITY_WRITE: Plan = { kind: 'any', access: 'write', reason: 'utility' };

/** Why a statement is analysed inside another (COPY (query), EXPLAIN, DECLARE CURSOR), or null. */
export type Purpose = 'copy' | 'explain' | 'explain-analyze' | 'cursor' | null;

/** A data-modifying WITH on a reference table would change one copy only. */
export function cteWriteProblem(facts: QueryFacts): Analysis | null {
  if (facts.referenceWrite === null) return null;
  return fixed(
    unsupported(
      `a data-modifying WITH writes reference table "${facts.referenceWrite}", which must change on every shard`,
      'run the write to the reference table as a statement of its own',
    ),
    'write',
    facts.rules,
  );
}

/** Turns analysed facts into a route (or a fixed plan when no parameter can change it). */
export function routeOf(rules: ShardingRules, facts: QueryFacts, access: Access, multi: () => MultiOutcome, singleOnly = false): Analysis {
  const restrictions: TemplateRestriction[] = [];
  for (const r of facts.restrictions) {
    const inst = facts.instances[r.instance];
    if (inst === undefined) continue;
    const keyType = inst.rule.keyType;
    const needsType = r.alts.some((a: KeySource) => a.kind !== 'instance');
    if (keyType === null) {
      if (needsType) return fixed(keyTypeMissing(inst.rule), access, facts.rules);
      restrictions.push({ instance: r.instance, alts: r.alts.map((a) => ({ kind: 'instance', instance: (a as { instance: number }).instance })) });
      continue;
    }
    restrictions.push({ instance: r.instance, alts: r.alts.map((a) => altOf(rules, inst.rule, keyType, a)) });
  }
  const outcome = lazy((): MultiOutcome => {
    if (singleOnly) return multi();
    if (facts.problems.length > 0) return { kind: 'unsupported', message: `cannot run on several shards: ${facts.problems[0] ?? ''}`, hint: SCATTER_HINT };
    if (!facts.top.partitioned) {
      return {
        kind: 'unsupported',
        message: 'cannot run on several shards: the result rows come from tables that are the same on every shard, filtered by sharded rows',
        hint: SCATTER_HINT,
      };
    }
    if (facts.modifying) return { kind: 'unsupported', message: 'cannot run on several shards: a data-modifying WITH', hint: SCATTER_HINT };
    return multi();
  });
  const route: RouteTemplate = {
    instanceCount: facts.instances.length,
    restrictions,
    access,
    shardZeroTables: facts.unlisted,
    multi: outcome,
  };
  const dynamic = restrictions.some((r) => r.alts.some((a) => a.kind === 'param' || a.kind === 'param-array'));
  const body: TemplateBody = dynamic ? { kind: 'route', route } : { kind: 'fixed', plan: bindRoute(rules, route, null) };
  return { body, control: false, access, rules: facts.rules, hinted: false };
}

/** Table-free, catalog / function-only and reference-only statements run anywhere; unlisted-only ones on shard 0. */
export function withoutSharded(facts: QueryFacts, access: Access): Plan {
  if (facts.unlisted.length > 0) return { kind: 'single', shard: 0, access };
  if (facts.reference) return { kind: 'any', access, reason: 'reference-read' };
  if (facts.catalog) return { kind: 'any', access, reason: 'catalog' };
  // Only functions (SELECT now(), SELECT * FROM current_schema()): answered like the catalog.
  return { kind: 'any', access, reason: facts.functions.size > 0 ? 'catalog' : 'no-table' };
}
