// The planner's public entry: SQL text (+ bound parameters, + the session's routing settings) → one
// StatementPlan per statement. Statements are analysed once per SQL text into templates kept in an
// LRU cache (a Planner belongs to one rules snapshot, so the cache never needs an epoch); a cache hit
// only binds parameters and hashes keys. Never throws: a planner bug becomes an unsupported plan.
// Pure: no I/O, no timers, no logging. Routing rules: docs/routing.md.

import { LRUCache } from 'lru-cache';
import type { BoundParams, CatalogFacts, Plan, ReadLevel, SessionRouting, StatementPlan } from './plan.js';
import { findConsistencyHint } from './routing/hints.js';
import type { ShardingRules } from './sharding-rules.js';
import { assertNever } from './assert-never.js';
import { parseSql } from './sql-parser.js';
import { analyseStatement, bindInsertTemplate, unparsedStatement, type Analysis } from './routing/statement-analyzer.js';
import { bindRoute } from './routing/route-template.js';
import { shardOutOfRange } from './routing/messages.js';
import { isDdlType } from './routing/ddl.js';
import { bindPositionalInsert } from './routing/positional-insert.js';

interface StatementTemplate {
  readonly text: string;
  readonly analysis: Analysis;
  /** The statement's read-consistency hint, if it has one. */
  readonly consistency: ReadLevel | null;
  /** The StatementPlan itself when the plan never depends on parameters (no allocation per hit). */
  readonly fixed: StatementPlan | null;
}

export interface PlannerOptions {
  /** Distinct SQL texts whose analysis is kept (planCacheEntriesMax). */
  readonly cacheEntriesMax: number;
}

export class Planner {
  private readonly cache: LRUCache<string, readonly StatementTemplate[]>;

  constructor(
    readonly rules: ShardingRules,
    opts: PlannerOptions,
  ) {
    this.cache = new LRUCache({ max: Math.max(1, Math.floor(opts.cacheEntriesMax)) });
  }

  /**
   * One plan per statement of `sql` (none for an empty string or only comments). `facts` are what
   * the executor read from a shard's catalog for an earlier plan of the same SQL that `needs` them.
   */
  plan(sql: string, params: BoundParams | null, session: SessionRouting, facts: CatalogFacts | null = null): readonly StatementPlan[] {
    try {
      let templates = this.cache.get(sql);
      if (templates === undefined) {
        templates = this.analyse(sql);
        this.cache.set(sql, templates);
      }
      if (templates.length === 1) {
        const only = templates[0] as StatementTemplate;
        return [this.bind(only, params, session, facts)];
      }
      return templates.map((t) => this.bind(t, params, session, facts));
    } catch (err) {
      return [{ text: sql, plan: internalError(err) }];
    }
  }

  /** Number of cached SQL texts (for metrics and tests). */
  get cachedEntries(): number {
    return this.cache.size;
  }

  private analyse(sql: string): StatementTemplate[] {
    // An empty string is an empty query (EmptyQueryResponse), as for comments only.
    if (sql.trim() === '') return [];
    const parsed = parseSql(sql);
    if (!parsed.ok) return [template(sql.trim(), unparsedStatement(this.rules, sql))];
    return parsed.statements.map((s) => {
      let analysis: Analysis;
      try {
        analysis = analyseStatement(this.rules, s.node, s.text);
        // A hint (or SET pgshard.shard, applied at bind) says which shard's copy of the view is meant.
        const view = analysis.hinted ? null : readsShardedView(this.rules, s.node);
        if (view !== null) {
          analysis = {
            ...analysis,
            body: {
              kind: 'fixed',
              plan: {
                kind: 'unsupported',
                message: `"${view.view}" is a view over the sharded table "${view.table}": each shard's copy of it sees only that shard's rows`,
                hint: `query "${view.table}" directly (pgshard merges it across shards), or pick one shard with /* pgshard: shard=N */`,
              },
            },
          };
        }
      } catch (err) {
        analysis = { body: { kind: 'fixed', plan: internalError(err) }, control: false, access: 'write', rules: [], hinted: false };
      }
      return template(s.text, analysis);
    });
  }

  private bind(t: StatementTemplate, params: BoundParams | null, session: SessionRouting, facts: CatalogFacts | null): StatementPlan {
    const a = t.analysis;
    if (session.shard !== null && !a.control && !a.hinted) {
      const shard = session.shard;
      const plan: Plan =
        Number.isInteger(shard) && shard >= 0 && shard < this.rules.shardCount
          ? { kind: 'single', shard, access: a.access }
          : shardOutOfRange(shard, this.rules.shardCount, 'SET pgshard.shard');
      return withHint(t, plan);
    }
    if (t.fixed !== null) return t.fixed;
    const body = a.body;
    switch (body.kind) {
      case 'fixed':
        return withHint(t, body.plan);
      case 'route':
        return withHint(t, bindRoute(this.rules, body.route, params));
      case 'insert':
        return withHint(t, bindInsertTemplate(this.rules, body, params));
      case 'positional-insert':
        return withHint(t, bindPositionalInsert(this.rules, body.insert, params, facts));
      default:
        return assertNever(body);
    }
  }
}

/** The first view over a sharded table a statement reads (DDL on views, e.g. DROP VIEW, is fine). */
function readsShardedView(rules: ShardingRules, node: Record<string, unknown>): { view: string; table: string } | null {
  const views = rules.shardedViews;
  if (views === undefined || views.size === 0) return null;
  const type = Object.keys(node)[0] ?? '';
  if (isDdlType(type)) return null;
  let found: { view: string; table: string } | null = null;
  const visit = (n: unknown): void => {
    if (found !== null || n === null || typeof n !== 'object') return;
    if (Array.isArray(n)) {
      for (const item of n) visit(item);
      return;
    }
    const b = n as Record<string, unknown>;
    const name = b['relname'];
    if (typeof name === 'string') {
      const table = views.get(name);
      if (table !== undefined) found = { view: name, table };
    }
    for (const v of Object.values(b)) visit(v);
  };
  visit(node);
  return found;
}

function template(text: string, analysis: Analysis): StatementTemplate {
  const hinted = findConsistencyHint(text);
  if (hinted === 'invalid') {
    const plan: Plan = { kind: 'unsupported', message: 'malformed pgshard consistency hint', hint: 'write /* pgshard: consistency=strong | sync | bounded | async */' };
    return { text, analysis: { ...analysis, body: { kind: 'fixed', plan } }, consistency: null, fixed: { text, plan } };
  }
  const fixed = analysis.body.kind === 'fixed' ? (hinted === null ? { text, plan: analysis.body.plan } : { text, plan: analysis.body.plan, consistency: hinted }) : null;
  return { text, analysis, consistency: hinted, fixed };
}

function withHint(t: StatementTemplate, plan: Plan): StatementPlan {
  return t.consistency === null ? { text: t.text, plan } : { text: t.text, plan, consistency: t.consistency };
}

function internalError(err: unknown): Plan {
  const detail = err instanceof Error ? err.message : String(err);
  return {
    kind: 'unsupported',
    message: `pgshard could not plan this statement (planner error: ${detail})`,
    hint: 'route it with /* pgshard: shard=N */ and report the statement to the pgshard maintainers',
  };
}
