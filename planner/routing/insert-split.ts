// INSERT ... VALUES into a sharded table: each row's key (a literal placed when the template is built,
// or a parameter placed at bind), then one shard (single) or per-shard INSERTs with only that shard's
// rows and parameters renumbered $1.. (split-insert). Split SQL is built once per distinct grouping of
// rows and kept in a small per-template map, so a prepared multi-row INSERT re-executed with keys that
// fall the same way costs no deparse.
// Owns: row keys, grouping, parameter renumbering. Must not: analyse anything but the VALUES rows.

import type { BoundParams, InsertPart, Plan } from '../plan.js';
import type { ShardedTableRule, ShardingRules } from '../sharding-rules.js';
import type { KeyType } from '../hash/pg-hash.js';
import { deparseStatement } from '../sql-parser.js';
import { as, clone, walk, type Body } from './ast.js';
import { literalDatum, paramDatum, placeNull, placeValue, type KeyDatum, type KeyFamily } from './key-values.js';
import type { KeySource } from './query-analysis.js';
import { noPieceMessage } from './route-template.js';

export type RowKey =
  | { readonly kind: 'shard'; readonly shard: number }
  | { readonly kind: 'param'; readonly index: number; readonly cast: KeyFamily | 'other' | null }
  | { readonly kind: 'unsupported'; readonly message: string; readonly hint: string };

export interface InsertTemplate {
  readonly rule: ShardedTableRule;
  readonly keyType: KeyType;
  readonly rows: readonly RowKey[];
  /** The InsertStmt body (never mutated). */
  readonly stmt: Body;
  /** Split SQL by row set ("0,2,"), shared by every parameter set that groups those rows together. */
  readonly parts: Map<string, InsertPart>;
}

const PARTS_CACHE_MAX = 256;

export const SUPPLY_KEY_HINT = 'supply the shard key as a constant or a parameter in every row, or route the statement with /* pgshard: shard=N */';

/** Shard of an inserted key value; NULL keys go where PostgreSQL's partitioning puts them. */
export function rowShard(rules: ShardingRules, rule: ShardedTableRule, keyType: KeyType, d: KeyDatum, what: string): RowKey {
  switch (d.kind) {
    case 'unknown':
      return { kind: 'unsupported', message: `cannot tell which shard ${what} belongs to (its type is not the key's)`, hint: SUPPLY_KEY_HINT };
    case 'invalid':
      // PostgreSQL rejects the value on any shard with its own error.
      return { kind: 'shard', shard: 0 };
    case 'null': {
      const placed = placeNull(rules, rule, keyType);
      if (placed === 'no-piece') return noPiece(rule, `a NULL key of table "${rule.name}" has no shard: only a list rule's default shard can hold it`);
      return { kind: 'shard', shard: placed };
    }
    case 'value': {
      const placed = placeValue(rules, rule, keyType, d.value);
      if (placed === 'invalid') return { kind: 'shard', shard: 0 };
      if (placed === 'no-piece') return noPiece(rule, noPieceMessage(rule));
      return { kind: 'shard', shard: placed };
    }
  }
}

function noPiece(rule: ShardedTableRule, message: string): RowKey {
  return { kind: 'unsupported', message, hint: `add a ${rule.method.kind} piece (or a default shard) covering this key to the sharding rules` };
}

export function rowKeyOf(rules: ShardingRules, rule: ShardedTableRule, keyType: KeyType, source: KeySource | null): RowKey {
  if (source === null) {
    return { kind: 'unsupported', message: `INSERT into sharded table "${rule.name}" does not give shard key "${rule.column}" as a constant or parameter`, hint: SUPPLY_KEY_HINT };
  }
  switch (source.kind) {
    case 'literal':
      return rowShard(rules, rule, keyType, literalDatum(source.value, source.cast, keyType), 'the key value');
    case 'param':
      return { kind: 'param', index: source.index, cast: source.cast };
    case 'nothing':
    case 'null':
      return rowShard(rules, rule, keyType, { kind: 'null' }, 'a NULL key');
    case 'param-array':
    case 'instance':
      return rowKeyOf(rules, rule, keyType, null);
  }
}

/** The plan for these parameters: one shard, per-shard parts, or the first row problem. */
export function bindInsert(rules: ShardingRules, t: InsertTemplate, params: BoundParams | null, access: 'write'): Plan {
  const shards = new Array<number>(t.rows.length);
  let first = -1;
  let same = true;
  for (let i = 0; i < t.rows.length; i++) {
    const row = t.rows[i];
    if (row === undefined) continue;
    let key: RowKey = row;
    if (row.kind === 'param') {
      // Planning without parameters (simple protocol): PostgreSQL itself reports the missing $n.
      if (params === null || row.index >= params.values.length) key = { kind: 'shard', shard: 0 };
      else key = rowShard(rules, t.rule, t.keyType, paramDatum(params, row.index, row.cast, t.keyType), `the key value of parameter $${row.index + 1}`);
    }
    if (key.kind === 'unsupported') return { kind: 'unsupported', message: key.message, hint: key.hint };
    if (key.kind !== 'shard') continue;
    shards[i] = key.shard;
    if (first < 0) first = key.shard;
    else if (key.shard !== first) same = false;
  }
  if (same) return { kind: 'single', shard: first < 0 ? 0 : first, access };
  return { kind: 'split-insert', parts: splitParts(t, shards) };
}

export function splitParts(t: InsertTemplate, shards: readonly number[]): readonly InsertPart[] {
  const order: number[] = [];
  for (const s of shards) if (!order.includes(s)) order.push(s);
  order.sort((a, b) => a - b);
  return order.map((shard) => {
    // A part's SQL depends only on which rows it carries: cache it by that row set.
    let rows = '';
    for (let i = 0; i < shards.length; i++) if (shards[i] === shard) rows += `${i},`;
    let cached = t.parts.get(rows);
    if (cached === undefined) {
      cached = part(t.stmt, shards, shard);
      if (t.parts.size >= PARTS_CACHE_MAX) t.parts.clear();
      t.parts.set(rows, cached);
    }
    return cached.shard === shard ? cached : { shard, sql: cached.sql, params: cached.params };
  });
}

function part(stmt: Body, shards: readonly number[], shard: number): InsertPart {
  const copy = clone(stmt);
  const select = as(copy['selectStmt'], 'SelectStmt');
  if (select !== null) {
    const rows = select['valuesLists'] as unknown[];
    select['valuesLists'] = rows.filter((_, i) => shards[i] === shard);
  }
  const refs: Body[] = [];
  walk(copy, (type, body) => {
    if (type === 'ParamRef') refs.push(body);
  });
  const used = [...new Set(refs.map((r) => (typeof r['number'] === 'number' ? r['number'] : 0)))].sort((a, b) => a - b);
  for (const r of refs) r['number'] = used.indexOf(typeof r['number'] === 'number' ? r['number'] : 0) + 1;
  return { shard, sql: deparseStatement({ InsertStmt: copy }), params: used.map((n) => n - 1) };
}
