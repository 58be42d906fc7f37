// INSERT INTO sharded VALUES (...), (...) without a column list. Which value is the shard key depends
// on the table's columns, which only the shards' catalog knows: binding without them gives an
// unsupported plan that `needs` them (the executor reads them from a shard and plans again with
// them). With them, the statement is planned as if it named the first columns of the table, in
// order, as many as each VALUES row has, and it is sent to the shards with exactly that column list:
// the shard then stores every row's key in the key column whatever its catalog says, so a column
// list learnt before a schema change another proxy made can cost a PostgreSQL error (a column that
// no longer exists), never a row on a shard that does not own its key.
// Owns: the positional template and its binding. Must not: read catalogs (the executor does).

import type { BoundParams, CatalogFacts, Plan } from '../plan.js';
import type { ShardedTableRule, ShardingRules } from '../sharding-rules.js';
import type { KeyType } from '../hash/pg-hash.js';
import { as, clone, list, type Body } from './ast.js';
import { bindInsert, rowKeyOf, splitParts, SUPPLY_KEY_HINT, type InsertTemplate } from './insert-split.js';
import { keySourceOf } from './query-analysis.js';
import { unsupported } from './messages.js';

export interface PositionalInsert {
  readonly rule: ShardedTableRule;
  readonly keyType: KeyType;
  /** The table as the statement names it (its schema decides which table the catalog lookup finds). */
  readonly schema: string | null;
  readonly table: string;
  /** The InsertStmt body, without a column list (never mutated). */
  readonly stmt: Body;
  /** Values per VALUES row (PostgreSQL requires every row to have as many). */
  readonly width: number;
  readonly explain: 'plain' | 'analyze' | null;
  /** Per column list ("a\0b"): the template of the statement naming those columns, or the plan refusing it. */
  readonly byColumns: Map<string, InsertTemplate | Plan>;
}

const TEMPLATES_MAX = 16;

export function positionalInsert(
  rule: ShardedTableRule,
  keyType: KeyType,
  relation: { schema: string | null; name: string },
  stmt: Body,
  explain: 'plain' | 'analyze' | null,
): PositionalInsert {
  const select = as(stmt['selectStmt'], 'SelectStmt');
  const first = list(select?.['valuesLists'])[0];
  const width = list(as(first, 'List')?.['items']).length;
  return { rule, keyType, schema: relation.schema, table: relation.name, stmt, width, explain, byColumns: new Map() };
}

/** The refusal when the table's columns are not known (yet): the executor looks them up on `needs`. */
export function columnsNeeded(p: PositionalInsert): Plan {
  return {
    ...unsupported(
      `INSERT into sharded table "${p.table}" without a column list`,
      `name the columns, including shard key "${p.rule.column}": INSERT INTO ${p.table} (${p.rule.column}, ...) VALUES ...`,
    ),
    needs: { kind: 'table-columns', schema: p.schema, table: p.table },
  };
}

export function bindPositionalInsert(rules: ShardingRules, p: PositionalInsert, params: BoundParams | null, facts: CatalogFacts | null): Plan {
  const columns = facts?.tableColumns(p.schema, p.table);
  if (columns === undefined) return columnsNeeded(p);
  // No such table: any shard reports PostgreSQL's own error.
  if (columns === null) return { kind: 'single', shard: 0, access: 'write' };
  if (p.width > columns.length) return tooManyValues(p, columns);
  const names = columns.slice(0, p.width);
  const key = names.join('\u0000');
  let t = p.byColumns.get(key);
  if (t === undefined) {
    t = template(rules, p, names);
    if (p.byColumns.size >= TEMPLATES_MAX) p.byColumns.clear();
    p.byColumns.set(key, t);
  }
  if ('kind' in t) return t;
  const plan = bindInsert(rules, t, params, 'write');
  if (p.explain !== null) {
    // EXPLAIN runs the statement as written on one shard: the rows' own shard, or the first of several.
    if (plan.kind === 'split-insert') {
      if (p.explain === 'analyze') return unsupported('EXPLAIN ANALYZE of an INSERT whose rows go to several shards', 'explain one row at a time');
      return { kind: 'single', shard: plan.parts[0]?.shard ?? 0, access: 'write' };
    }
    return plan;
  }
  // Even on one shard, the shard runs the statement with the column list the rows were placed by.
  if (plan.kind === 'single') return { kind: 'split-insert', parts: splitParts(t, t.rows.map(() => plan.shard)) };
  return plan;
}

/**
 * More values than the columns known: PostgreSQL's error, from shard 0, for the statement naming
 * every known column. Named, because columns learnt before another proxy added one must not let the
 * original statement insert a row on shard 0 that belongs elsewhere.
 */
function tooManyValues(p: PositionalInsert, columns: readonly string[]): Plan {
  const stmt = clone(p.stmt);
  stmt['cols'] = columns.map((name) => ({ ResTarget: { name } }));
  const rows = list(as(stmt['selectStmt'], 'SelectStmt')?.['valuesLists']);
  const t: InsertTemplate = { rule: p.rule, keyType: p.keyType, rows: rows.map(() => ({ kind: 'shard', shard: 0 })), stmt, parts: new Map() };
  return { kind: 'split-insert', parts: splitParts(t, rows.map(() => 0)) };
}

function template(rules: ShardingRules, p: PositionalInsert, names: readonly string[]): InsertTemplate | Plan {
  const keyIndex = names.indexOf(p.rule.column);
  if (keyIndex < 0) {
    return unsupported(`INSERT into sharded table "${p.table}" does not set shard key "${p.rule.column}" (the VALUES rows give only its first ${p.width} column(s))`, SUPPLY_KEY_HINT);
  }
  const stmt = clone(p.stmt);
  stmt['cols'] = names.map((name) => ({ ResTarget: { name } }));
  const select = as(stmt['selectStmt'], 'SelectStmt');
  const rows = list(select?.['valuesLists']);
  const keys = rows.map((row) => rowKeyOf(rules, p.rule, p.keyType, keySourceOf(list(as(row, 'List')?.['items'])[keyIndex])));
  const bad = keys.find((k) => k.kind === 'unsupported');
  if (bad !== undefined && bad.kind === 'unsupported') return unsupported(bad.message, bad.hint);
  return { rule: p.rule, keyType: p.keyType, rows: keys, stmt, parts: new Map() };
}
