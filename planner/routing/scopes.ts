// Scopes of a statement being analysed: the sharded relation instances, the SELECT levels (top,
// derived table, CTE, sub-link) with their FROM items, and how a column reference resolves to an
// instance's shard key. Resolution is conservative: an unqualified name resolves only when exactly one
// item of the nearest level with FROM items can supply it as a key; anything unsure is "not a key".
// Owns: Level / Item / Instance shapes, column resolution. Must not: extract predicates.

import type { ShardedTableRule } from '../sharding-rules.js';
import { as, columnRefFields, isStarRef, list, str, type Body } from './ast.js';
import { figureColname } from './sql-features.js';
import type { KeySource } from './key-predicates.js';

export interface Restriction {
  readonly instance: number;
  readonly alts: readonly KeySource[];
}

export interface Instance {
  readonly id: number;
  readonly rule: ShardedTableRule;
  readonly level: Level;
  /** On the side an outer join fills with NULLs (its key can be NULL in the join result). */
  nullable: boolean;
}

/** A column of a FROM item that is some instance's key. `restrictable`: a filter on it filters the instance. */
export interface KeyColumn {
  readonly instance: number;
  readonly restrictable: boolean;
}

export type LevelKind = 'top' | 'derived' | 'cte' | 'sublink';

export interface Item {
  readonly kind: 'sharded' | 'replicated' | 'unlisted' | 'derived';
  readonly refName: string | null;
  readonly relName: string | null;
  readonly schema: string | null;
  readonly aliased: boolean;
  readonly instance: number | null;
  readonly rule: ShardedTableRule | null;
  /** Output columns known to be keys (derived tables and CTEs); null entry: known name, not a key. */
  readonly columns: ReadonlyMap<string, KeyColumn | null> | null;
}

export class Level {
  readonly items: Item[] = [];
  /** Instances in this level's FROM, directly or through derived tables. */
  readonly owned = new Set<number>();
  /** Instances anywhere below this level (FROM, sub-links, CTEs). */
  readonly below = new Set<number>();
  /** Per-shard computations that are wrong over partial data unless the level is shard-local. */
  readonly features: string[] = [];
  /** Set when such a feature is harmless: grouped / partitioned by an owned key. */
  keyGrouped = false;
  /** The level's rows are a disjoint union over shards. */
  partitioned = false;
  outputs = new Map<string, KeyColumn | null>();
  /** Output columns by position (for IN (sub-select) and set operations). */
  outputList: (KeyColumn | null)[] = [];
  constructor(
    readonly kind: LevelKind,
    readonly parent: Level | null,
    /** For derived tables: the level whose FROM holds this one. */
    readonly fromOwner: Level | null,
    readonly body: Body,
  ) {}
}

/** Resolves a column reference to an instance's key, or null (not a key, or not sure). */
export function keyColumnOf(node: unknown, level: Level): KeyColumn | null {
  const fields = columnRefFields(node);
  if (fields === null) return null;
  const col = fields[fields.length - 1] ?? '';
  if (fields.length === 1) {
    for (let l: Level | null = level; l !== null; l = l.parent) {
      const hits: (KeyColumn | null)[] = [];
      for (const item of l.items) {
        if (item.kind === 'sharded' && item.rule?.column === col && item.instance !== null) hits.push({ instance: item.instance, restrictable: true });
        else if (item.columns?.has(col) === true) hits.push(item.columns.get(col) ?? null);
      }
      if (hits.length === 1) return hits[0] ?? null;
      if (hits.length > 1 || l.items.length > 0) return null;
    }
    return null;
  }
  const qual = fields[fields.length - 2] ?? '';
  const schema = fields.length >= 3 ? (fields[fields.length - 3] ?? null) : null;
  for (let l: Level | null = level; l !== null; l = l.parent) {
    for (const item of l.items) {
      const matches = schema === null ? item.refName === qual : !item.aliased && item.relName === qual && (item.schema === null || item.schema === schema);
      if (!matches) continue;
      if (item.kind === 'sharded') return item.rule?.column === col && item.instance !== null ? { instance: item.instance, restrictable: true } : null;
      return item.columns?.get(col) ?? null;
    }
  }
  return null;
}


/** Output columns of a derived table under its alias's column names (`AS t(a, b)`). */
export function renamed(inner: Level, alias: Body | null): Map<string, KeyColumn | null> {
  const colnames = list(alias?.['colnames']).map((c) => str(as(c, 'String')?.['sval']) ?? '');
  if (colnames.length === 0) return new Map(inner.outputs);
  const out = new Map<string, KeyColumn | null>();
  colnames.forEach((name, i) => out.set(name, inner.outputList[i] ?? null));
  for (const [name, col] of inner.outputs) if (!out.has(name) && !colnames.includes(name)) out.set(name, col);
  return out;
}

/** A level's output columns that carry a shard key (for derived tables, CTEs and IN (sub-select)). */
export function levelOutputs(node: Body, level: Level): void {
  const simple = !level.features.some((f) => f === 'LIMIT/OFFSET' || f === 'window function' || f === 'DISTINCT ON');
  for (const t of list(node['targetList'])) {
    const rt = as(t, 'ResTarget');
    if (rt === null) continue;
    const val = rt['val'];
    if (isStarRef(val)) {
      const fields = list(as(val, 'ColumnRef')?.['fields']);
      const qual = fields.length > 1 ? str(as(fields[0], 'String')?.['sval']) : null;
      for (const item of level.items) {
        if (qual !== null && item.refName !== qual) continue;
        const cols: [string, KeyColumn | null][] =
          item.kind === 'sharded' && item.rule !== null && item.instance !== null
            ? [[item.rule.column, { instance: item.instance, restrictable: true }]]
            : [...(item.columns ?? [])];
        for (const [name, col] of cols) addOutput(level, name, col === null ? null : { instance: col.instance, restrictable: col.restrictable && simple });
      }
      continue;
    }
    const key = keyColumnOf(val, level);
    const name = str(rt['name']) ?? figureColname(val);
    const col = key === null ? null : { instance: key.instance, restrictable: key.restrictable && simple };
    level.outputList.push(col);
    if (name !== null) addOutput(level, name, col);
  }
}

function addOutput(level: Level, name: string, col: KeyColumn | null): void {
  if (level.outputs.has(name)) {
    const prev = level.outputs.get(name) ?? null;
    if (prev === null || col === null || prev.instance !== col.instance) level.outputs.set(name, null);
    return;
  }
  level.outputs.set(name, col);
}
