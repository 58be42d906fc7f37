// The cached, parameter-independent part of a keyed statement's route, and binding it: which shards
// each sharded instance's relevant rows can be on (literals resolved when the template is built,
// parameters decoded at bind time), propagated along key equalities to a fixed point, then one shard
// (single) or several (the template's multi-shard outcome).
// Owns: shard sets, key-source resolution, the bind-time fast path. Must not: parse SQL.

import type { Access, BoundParams, Plan } from '../plan.js';
import type { ShardedTableRule, ShardingRules } from '../sharding-rules.js';
import type { KeyType } from '../hash/pg-hash.js';
import { literalDatum, paramDatum, placeNull, placeValue, type KeyDatum, type KeyFamily } from './key-values.js';
import type { KeySource } from './query-analysis.js';
import { decodeArrayParam } from './array-param.js';

/** A key source as the template keeps it: literals already placed. */
export type Alt =
  | { readonly kind: 'shards'; readonly shards: readonly number[] }
  | { readonly kind: 'all' }
  | { readonly kind: 'param'; readonly index: number; readonly cast: KeyFamily | 'other' | null; readonly rule: ShardedTableRule; readonly keyType: KeyType }
  | { readonly kind: 'param-array'; readonly index: number; readonly rule: ShardedTableRule; readonly keyType: KeyType }
  | { readonly kind: 'instance'; readonly instance: number }
  /** A literal outside every range/list piece: planning it is an error. */
  | { readonly kind: 'no-piece'; readonly message: string };

export interface TemplateRestriction {
  readonly instance: number;
  readonly alts: readonly Alt[];
}

/** What runs when the rows are on several shards. */
export type MultiOutcome =
  | { readonly kind: 'scatter'; readonly sql: string; readonly merge: Extract<Plan, { kind: 'scatter' }>['merge'] }
  | { readonly kind: 'copy-out' }
  /** EXPLAIN: show the plan of the first shard involved. */
  | { readonly kind: 'first' }
  | { readonly kind: 'unsupported'; readonly message: string; readonly hint: string };

export interface RouteTemplate {
  readonly instanceCount: number;
  readonly restrictions: readonly TemplateRestriction[];
  readonly access: Access;
  /** Unlisted tables (shard 0 only) are involved: the statement must land on shard 0. */
  readonly shardZeroTables: readonly string[];
  /** Computed on first need (a statement that always lands on one shard never pays for the rewrite). */
  readonly multi: () => MultiOutcome;
}

/** Resolves an analysed key source against its instance's rule (literals placed now). */
export function altOf(rules: ShardingRules, rule: ShardedTableRule, keyType: KeyType, source: KeySource): Alt {
  switch (source.kind) {
    case 'literal':
      return shardsOfDatum(rules, rule, keyType, literalDatum(source.value, source.cast, keyType), false);
    case 'param':
      return { kind: 'param', index: source.index, cast: source.cast, rule, keyType };
    case 'param-array':
      return { kind: 'param-array', index: source.index, rule, keyType };
    case 'null': {
      const placed = placeNull(rules, rule, keyType);
      return { kind: 'shards', shards: placed === 'no-piece' ? [] : [placed] };
    }
    case 'nothing':
      return { kind: 'shards', shards: [] };
    case 'instance':
      return { kind: 'instance', instance: source.instance };
  }
}

/** Memoises a computation (the multi-shard outcome of a cached template). */
export function lazy<T>(compute: () => T): () => T {
  let done = false;
  let value: T | undefined;
  return () => {
    if (!done) {
      value = compute();
      done = true;
    }
    return value as T;
  };
}

const ALL: Alt = { kind: 'all' };
const NONE: Alt = { kind: 'shards', shards: [] };

/** A key value no piece of a range/list rule holds (PostgreSQL: "no partition of relation found for row"). */
class NoPiece extends Error {}

export function noPieceMessage(rule: ShardedTableRule): string {
  // The value itself is left out: it may come from a bound parameter (never echoed in messages).
  return `a key value of table "${rule.name}" is outside every ${rule.method.kind} piece of its sharding rule, and the rule has no default shard`;
}

const NO_PIECE_HINT = 'add a piece (or a default shard) covering this key to the sharding rules';

/** Shards whose rows can equal a decoded value (`nullMatches`: NULL is a value, as for INSERT). */
export function shardsOfDatum(rules: ShardingRules, rule: ShardedTableRule, keyType: KeyType, d: KeyDatum, nullMatches: boolean): Alt {
  switch (d.kind) {
    case 'unknown':
      return ALL;
    case 'invalid':
      return NONE;
    case 'null': {
      if (!nullMatches) return NONE;
      const placed = placeNull(rules, rule, keyType);
      return placed === 'no-piece' ? NONE : { kind: 'shards', shards: [placed] };
    }
    case 'value': {
      const placed = placeValue(rules, rule, keyType, d.value);
      if (placed === 'no-piece') return { kind: 'no-piece', message: noPieceMessage(rule) };
      return typeof placed === 'number' ? { kind: 'shards', shards: [placed] } : NONE;
    }
  }
}

/** null: every shard. */
type ShardSet = readonly number[] | null;

function paramShards(rules: ShardingRules, alt: Extract<Alt, { kind: 'param' | 'param-array' }>, params: BoundParams | null): ShardSet {
  if (alt.kind === 'param') {
    const a = shardsOfDatum(rules, alt.rule, alt.keyType, paramDatum(params, alt.index, alt.cast, alt.keyType), false);
    if (a.kind === 'no-piece') throw new NoPiece(a.message);
    return a.kind === 'shards' ? a.shards : null;
  }
  const elements = params === null ? null : decodeArrayParam(params, alt.index, alt.keyType);
  if (elements === null) return null;
  const out: number[] = [];
  for (const el of elements) {
    const a = shardsOfDatum(rules, alt.rule, alt.keyType, el, false);
    if (a.kind === 'no-piece') throw new NoPiece(a.message);
    if (a.kind !== 'shards') return null;
    for (const s of a.shards) if (!out.includes(s)) out.push(s);
  }
  return out;
}

function union(a: ShardSet, b: ShardSet): ShardSet {
  if (a === null || b === null) return null;
  if (b.length === 0) return a;
  const out = [...a];
  for (const s of b) if (!out.includes(s)) out.push(s);
  return out;
}

function intersect(a: ShardSet, b: ShardSet): ShardSet {
  if (a === null) return b;
  if (b === null) return a;
  return a.filter((s) => b.includes(s));
}

function sameSet(a: ShardSet, b: ShardSet): boolean {
  if (a === null || b === null) return a === b;
  return a.length === b.length && a.every((s) => b.includes(s));
}

type Resolved = ShardSet | { readonly instance: number };

function resolveAlt(rules: ShardingRules, a: Alt, params: BoundParams | null): Resolved {
  switch (a.kind) {
    case 'shards':
      return a.shards;
    case 'all':
      return null;
    case 'param':
    case 'param-array':
      return paramShards(rules, a, params);
    case 'instance':
      return { instance: a.instance };
    case 'no-piece':
      throw new NoPiece(a.message);
  }
}

/** The shards each instance's relevant rows can be on. */
export function instanceShards(rules: ShardingRules, t: RouteTemplate, params: BoundParams | null): ShardSet[] {
  const sets: ShardSet[] = new Array<ShardSet>(t.instanceCount).fill(null);
  // Parameters decode once; instance alternatives are re-read each round until nothing narrows.
  const resolved = t.restrictions.map((r) => r.alts.map((a) => resolveAlt(rules, a, params)));
  for (let round = 0; round <= t.instanceCount; round++) {
    let changed = false;
    t.restrictions.forEach((r, i) => {
      let allowed: ShardSet = [];
      for (const a of resolved[i] ?? []) {
        const s: ShardSet = a !== null && 'instance' in a ? (sets[a.instance] ?? null) : a;
        allowed = union(allowed, s);
        if (allowed === null) break;
      }
      const next = intersect(sets[r.instance] ?? null, allowed);
      if (!sameSet(next, sets[r.instance] ?? null)) {
        sets[r.instance] = next;
        changed = true;
      }
    });
    if (!changed) break;
  }
  return sets;
}

function allShards(rules: ShardingRules): number[] {
  return Array.from({ length: rules.shardCount }, (_, i) => i);
}

/** The plan of a keyed statement for these parameters. */
export function bindRoute(rules: ShardingRules, t: RouteTemplate, params: BoundParams | null): Plan {
  try {
    return route(rules, t, params);
  } catch (err) {
    if (err instanceof NoPiece) return { kind: 'unsupported', message: err.message, hint: NO_PIECE_HINT };
    throw err;
  }
}

function route(rules: ShardingRules, t: RouteTemplate, params: BoundParams | null): Plan {
  let shards: ShardSet;
  const only = t.instanceCount === 1 && t.restrictions.length === 1 ? t.restrictions[0] : undefined;
  const alt = only !== undefined && only.alts.length === 1 ? only.alts[0] : undefined;
  if (alt !== undefined && alt.kind === 'param') {
    // Fast path: one table, one `key = $n`.
    shards = paramShards(rules, alt, params);
  } else if (t.instanceCount === 0) {
    shards = [];
  } else {
    const sets = instanceShards(rules, t, params);
    shards = [];
    for (const s of sets) {
      shards = union(shards, s);
      if (shards === null) break;
    }
  }
  if (shards !== null && shards.length <= 1) {
    const shard = shards[0] ?? 0;
    if (t.shardZeroTables.length > 0 && shard !== 0) return shardZeroConflict(t);
    return { kind: 'single', shard, access: t.access };
  }
  if (t.shardZeroTables.length > 0) return shardZeroConflict(t);
  const list = shards === null ? allShards(rules) : [...shards].sort((a, b) => a - b);
  const multi = t.multi();
  switch (multi.kind) {
    case 'scatter':
      return { kind: 'scatter', shards: list, access: t.access, sql: multi.sql, merge: multi.merge };
    case 'copy-out':
      return { kind: 'copy-out', shards: list };
    case 'first':
      return { kind: 'single', shard: list[0] ?? 0, access: t.access };
    case 'unsupported':
      return { kind: 'unsupported', message: multi.message, hint: multi.hint };
  }
}

function shardZeroConflict(t: RouteTemplate): Plan {
  return {
    kind: 'unsupported',
    message: `statement combines ${t.shardZeroTables.join(', ')} (not in the sharding rules, so on shard 0 only) with sharded rows that are not all on shard 0`,
    hint: 'declare the table as a reference table or a sharded table co-located with the others, or add a shard-key condition that selects shard 0',
  };
}
