// Decides where one batch of client messages (up to and including its Sync, Query or FunctionCall)
// runs: on one shard (the hot path, frames forwarded as they are), nowhere (a lone BEGIN/COMMIT the
// proxy answers itself), or through the distributed executor (several shards, merges, 2PC). Reads
// frames only: it never sends, and it plans through the planner's cache, so a repeated statement
// costs a map lookup and a key hash.

import type { Plan, ReadLevel, SessionRouting, StatementPlan } from '../../planner/plan.js';
import { decodeBind, decodeBindNames, decodeParse, decodeQuery } from '../protocol/client-messages.js';
import { T_BIND, T_CLOSE, T_DESCRIBE, T_EXECUTE, T_PARSE, T_QUERY, T_SYNC } from '../protocol/frontend-types.js';

export interface PlannerLike {
  plan(sql: string, params: { values: readonly (Uint8Array | null)[]; formats: readonly number[]; types: readonly number[] } | null, session: SessionRouting): readonly StatementPlan[];
}

export type BatchRoute =
  /**
   * Forward the batch to this shard; null: any shard will do (no table, catalog, SET...). `read`: it
   * only reads data (a replica may serve it, by the session's read consistency).
   */
  | { readonly kind: 'shard'; readonly shard: number | null; readonly read: boolean; readonly consistency?: ReadLevel }
  /** The batch is one BEGIN: answer it and open the transaction on the shard its first statement picks. */
  | { readonly kind: 'begin'; readonly text: string }
  /** The batch is one COMMIT or ROLLBACK. */
  | { readonly kind: 'end'; readonly commit: boolean }
  /** Needs the distributed executor (several shards, a merge, a rewrite, an error to report in order). */
  | { readonly kind: 'distributed'; readonly read: boolean; readonly consistency?: ReadLevel };

export interface StatementLookup {
  /** SQL and parameter types of a client statement prepared earlier (not in this batch). */
  statement(name: string): { query: string; paramTypes: readonly number[] } | undefined;
}

const ANY: BatchRoute = { kind: 'shard', shard: null, read: false };
const ANY_READ: BatchRoute = { kind: 'shard', shard: null, read: true };
const DISTRIBUTED: BatchRoute = { kind: 'distributed', read: false };
const DISTRIBUTED_READ: BatchRoute = { kind: 'distributed', read: true };
const COMMIT: BatchRoute = { kind: 'end', commit: true };
const ROLLBACK: BatchRoute = { kind: 'end', commit: false };
const byShard: BatchRoute[] = [];
const byShardRead: BatchRoute[] = [];

function shardRoute(shard: number, read: boolean): BatchRoute {
  return read ? (byShardRead[shard] ??= { kind: 'shard', shard, read }) : (byShard[shard] ??= { kind: 'shard', shard, read });
}

/**
 * Whether a replica may run the statement: it reads data only. Session utilities (SET, SHOW, LISTEN,
 * DISCARD...) stay with the primary: some of them are refused during recovery or pin the session.
 */
function readsOnly(plan: Plan): boolean {
  switch (plan.kind) {
    case 'single':
      return plan.access === 'read';
    case 'any':
      return plan.access === 'read' && plan.reason !== 'utility';
    case 'scatter':
      return plan.access === 'read';
    case 'copy-out':
      return true;
    case 'broadcast':
    case 'split-insert':
    case 'copy-in':
    case 'transaction':
    case 'pgshard-setting':
    case 'unsupported':
      return false;
  }
}

/** Where a plan may run: a shard, any shard (-1), or -2 for "needs the executor". */
function placeOf(plan: Plan): number {
  switch (plan.kind) {
    case 'single':
      return plan.shard;
    case 'any':
      return -1;
    case 'transaction':
      // BEGIN/COMMIT/SAVEPOINT alongside other statements go wherever those run; 2PC commands do not.
      return plan.action.kind === 'two-phase' ? -2 : -1;
    case 'scatter':
    case 'broadcast':
    case 'split-insert':
    case 'copy-in':
    case 'copy-out':
    case 'pgshard-setting':
    case 'unsupported':
      return -2;
  }
}

/** Combines the places of a batch's statements: one shard, any (-1), or the executor (-2). */
function combine(place: number, next: number): number {
  if (place === -2 || next === -2) return -2;
  if (place === -1) return next;
  if (next === -1 || next === place) return place;
  return -2;
}

export function routeBatch(
  planner: PlannerLike,
  session: SessionRouting,
  lookup: StatementLookup,
  unnamed: { query: string; paramTypes: readonly number[] } | null,
  types: readonly number[],
  bufs: readonly Buffer[],
  starts: readonly number[],
  ends: readonly number[],
  from: number,
  to: number,
): BatchRoute {
  let place = -1;
  let units = 0;
  let lone: Plan | null = null;
  let shapeOk = true;
  let batchParsed: Map<string, { query: string; paramTypes: readonly number[] }> | null = null;
  let lastUnnamed = unnamed;
  let read = true;
  let consistency: ReadLevel | undefined;
  for (let i = from; i < to; i++) {
    const type = types[i]!;
    const buf = bufs[i]!;
    const start = starts[i]!;
    const end = ends[i]!;
    let plans: readonly StatementPlan[] | null = null;
    switch (type) {
      case T_QUERY:
        plans = planner.plan(decodeQuery(buf, start, end), null, session);
        shapeOk &&= to - from === 1;
        break;
      case T_PARSE: {
        const p = decodeParse(buf, start, end);
        if (p.name === '') lastUnnamed = p;
        else (batchParsed ??= new Map()).set(p.name, p);
        break;
      }
      case T_BIND: {
        const stmt = boundStatement(buf, start, end, lastUnnamed, batchParsed, lookup);
        // An unknown statement: forward, and let the relay report it as Postgres would.
        if (stmt === null) {
          read = false;
          break;
        }
        const bind = decodeBind(buf, start, end);
        plans = planner.plan(stmt.query, { values: bind.values, formats: bind.paramFormats, types: stmt.paramTypes }, session);
        break;
      }
      case T_DESCRIBE:
      case T_EXECUTE:
      case T_SYNC:
        break;
      default:
        // Close, Flush, FunctionCall: no routing information; a lone BEGIN batch has none of them.
        shapeOk = false;
        if (type !== T_CLOSE) read = false;
        break;
    }
    if (plans === null) continue;
    for (const sp of plans) {
      units++;
      lone = sp.plan;
      place = combine(place, placeOf(sp.plan));
      read &&= readsOnly(sp.plan);
      consistency ??= sp.consistency;
    }
  }
  read &&= units > 0;
  if (units === 1 && shapeOk && lone !== null && lone.kind === 'transaction') {
    const action = lone.action.kind;
    if (action === 'begin') return { kind: 'begin', text: beginText(types, bufs, starts, ends, from, to, lastUnnamed, batchParsed, lookup) };
    if (action === 'commit') return COMMIT;
    if (action === 'rollback') return ROLLBACK;
  }
  if (consistency !== undefined) {
    return place === -2 ? { kind: 'distributed', read, consistency } : { kind: 'shard', shard: place === -1 ? null : place, read, consistency };
  }
  if (place === -2) return read ? DISTRIBUTED_READ : DISTRIBUTED;
  if (place === -1) return read ? ANY_READ : ANY;
  return shardRoute(place, read);
}

type Statement = { query: string; paramTypes: readonly number[] };

/** The statement a Bind names: the unnamed one, one parsed earlier in this batch, or one prepared before. */
function boundStatement(
  buf: Buffer,
  start: number,
  end: number,
  unnamed: Statement | null,
  parsed: Map<string, Statement> | null,
  lookup: StatementLookup,
): Statement | null {
  const name = decodeBindNames(buf, start, end).statement;
  return (name === '' ? unnamed : parsed?.get(name) ?? lookup.statement(name)) ?? null;
}

/** The BEGIN statement's own text (it may carry ISOLATION LEVEL / READ ONLY), replayed when the transaction opens. */
function beginText(
  types: readonly number[],
  bufs: readonly Buffer[],
  starts: readonly number[],
  ends: readonly number[],
  from: number,
  to: number,
  unnamed: Statement | null,
  parsed: Map<string, Statement> | null,
  lookup: StatementLookup,
): string {
  for (let i = from; i < to; i++) {
    if (types[i] === T_QUERY) return decodeQuery(bufs[i]!, starts[i]!, ends[i]!);
    if (types[i] === T_BIND) {
      const stmt = boundStatement(bufs[i]!, starts[i]!, ends[i]!, unnamed, parsed, lookup);
      if (stmt !== null) return stmt.query;
    }
  }
  return 'BEGIN';
}
