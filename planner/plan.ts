// What the planner decides for one SQL statement: where it runs and, when it runs on several shards,
// how their results merge. Pure data produced by planner/planner.ts and consumed by proxy/executor.
// Every consumer switches over `kind` exhaustively (assertNever), so a new variant is a compile error
// wherever it must be handled.

import type { ReferenceTableRule, ShardedTableRule } from './sharding-rules.js';
import type { KeyType } from './hash/pg-hash.js';

export type Access = 'read' | 'write';

/** A number written in the SQL (LIMIT 10) or bound later ($1, 0-based index here). */
export type ValueRef =
  | { readonly kind: 'literal'; readonly value: bigint }
  | { readonly kind: 'param'; readonly index: number };

/** Bound parameters of an extended-protocol Bind (or none for the simple protocol). */
export interface BoundParams {
  /** Raw values as sent in Bind; null is SQL NULL. */
  readonly values: readonly (Uint8Array | null)[];
  /** Per value: 0 text, 1 binary (already expanded from Bind's 0/1/n format codes). */
  readonly formats: readonly number[];
  /** Parameter type OIDs from Parse (0 = left to the server). */
  readonly types: readonly number[];
}

/** Per-session routing settings the planner honours. */
export interface SessionRouting {
  /** SET pgshard.shard = N: every statement goes to shard N. */
  readonly shard: number | null;
}

/** A column of the shard query's result: visible (the client sees it) or hidden (appended for the merge). */
export interface ColumnRef {
  readonly hidden: boolean;
  /** Index among the visible columns, or among the hidden ones (which follow all visible columns). */
  readonly index: number;
}

export interface SortKey {
  readonly column: ColumnRef;
  readonly descending: boolean;
  /** As Postgres defaults it: NULLS FIRST for DESC, NULLS LAST for ASC, unless written. */
  readonly nullsFirst: boolean;
  /**
   * The collation of an explicit `COLLATE name` on the sort key, as written (last name part, case
   * kept: "C", "ucs_basic", "de-x-icu"); absent when none is written (the column's own collation).
   */
  readonly collation?: string;
}

/** How one output column of an aggregate query is combined across shards. */
export type MergeColumn =
  | { readonly kind: 'group' }
  | { readonly kind: 'count' }
  | { readonly kind: 'sum' }
  /** `collation`: an explicit `COLLATE name` on the argument, as in SortKey. */
  | { readonly kind: 'min'; readonly collation?: string }
  | { readonly kind: 'max'; readonly collation?: string }
  | { readonly kind: 'bool_and' }
  | { readonly kind: 'bool_or' }
  /** The shards return sum(x) in this column and count(x) in `count`; the client sees sum / count. */
  | { readonly kind: 'avg'; readonly count: ColumnRef }
  /**
   * An expression over merged aggregates and group columns (`coalesce(sum(x), 0)`, `sum(a) / count(*)`),
   * computed by the proxy per merged row. The shards return a NULL of the expression's own type in
   * this column (so their RowDescription carries PostgreSQL's type for it) and the aggregates it
   * reads in other columns, which are never themselves 'expr' columns.
   */
  | { readonly kind: 'expr'; readonly expr: MergeExpr };

/** Types a cast in a merged expression may name (PostgreSQL's internal names). */
export type CastTarget = 'int2' | 'int4' | 'int8' | 'numeric' | 'float4' | 'float8' | 'text';

/**
 * An expression the proxy evaluates over a merged row, with PostgreSQL's semantics for the operand
 * types the shards report (proxy/executor/merge/expression.ts). Constants keep their SQL literal's
 * type: integers int4 (int8, numeric when larger), decimals numeric, strings unknown, true/false bool
 * (in CASE conditions only). A parameter takes its type from Parse or, left to the server, from its
 * context as PostgreSQL infers it (the planner admits only parameters used once in the statement).
 */
export type MergeExpr =
  | { readonly kind: 'column'; readonly column: ColumnRef }
  | { readonly kind: 'const'; readonly type: 'int4' | 'int8' | 'numeric' | 'bool' | 'unknown'; readonly text: string | null }
  /** `$n` of an extended-protocol statement; `index` is 0-based. */
  | { readonly kind: 'param'; readonly index: number }
  | { readonly kind: 'arith'; readonly op: ArithOp; readonly left: MergeExpr; readonly right: MergeExpr }
  | { readonly kind: 'negate'; readonly arg: MergeExpr }
  /** Unary plus: the operand's own value and type, but an operator's result (no type modifier). */
  | { readonly kind: 'plus'; readonly arg: MergeExpr }
  | { readonly kind: 'abs'; readonly arg: MergeExpr }
  | { readonly kind: 'cast'; readonly to: CastTarget; readonly arg: MergeExpr }
  /** numeric(precision, scale) applied to `arg`, a cast to numeric: `x::numeric(10, 2)`. */
  | { readonly kind: 'typmod'; readonly arg: MergeExpr; readonly precision: number; readonly scale: number }
  | { readonly kind: 'coalesce'; readonly args: readonly MergeExpr[] }
  /** NULLIF(arg, value) with an integer constant `value`. */
  | { readonly kind: 'nullif'; readonly arg: MergeExpr; readonly value: MergeExpr }
  /** round(arg) (digits null) or round(arg, digits). */
  | { readonly kind: 'round'; readonly arg: MergeExpr; readonly digits: number | null }
  /** `left || right` over text. */
  | { readonly kind: 'concat'; readonly left: MergeExpr; readonly right: MergeExpr }
  /** GREATEST / LEAST: the greatest or least non-NULL argument, in the arguments' common type. */
  | { readonly kind: 'minmax'; readonly op: 'greatest' | 'least'; readonly args: readonly MergeExpr[] }
  /** Searched CASE (a simple `CASE x WHEN v` arrives as `WHEN x = v`); `otherwise` null: no ELSE. */
  | { readonly kind: 'case'; readonly whens: readonly CaseWhen[]; readonly otherwise: MergeExpr | null };

export type ArithOp = '+' | '-' | '*' | '/' | '%';

export interface CaseWhen {
  readonly condition: MergeCondition;
  readonly result: MergeExpr;
}

export type Operand =
  | { readonly kind: 'column'; readonly column: ColumnRef }
  /** A constant in its text form (null: SQL NULL). */
  | { readonly kind: 'literal'; readonly text: string | null }
  | { readonly kind: 'param'; readonly index: number };

export type CompareOp = '=' | '<>' | '<' | '<=' | '>' | '>=';

/** AND/OR/NOT over conditions whose leaves are `Leaf`, with SQL's three-valued logic. */
export type Logic<Leaf> =
  | { readonly kind: 'and'; readonly args: readonly Logic<Leaf>[] }
  | { readonly kind: 'or'; readonly args: readonly Logic<Leaf>[] }
  | { readonly kind: 'not'; readonly arg: Logic<Leaf> }
  | Leaf;

export interface Comparison<O> {
  readonly kind: 'compare';
  readonly op: CompareOp;
  readonly left: O;
  readonly right: O;
}

export interface NullTest<O> {
  readonly kind: 'is-null';
  readonly negated: boolean;
  readonly arg: O;
}

/** A HAVING condition, evaluated by the proxy on merged groups. */
export type Predicate = Logic<Comparison<Operand> | NullTest<Operand>>;

/**
 * `arg IN (items...)` (`arg = ANY (ARRAY[items...])`) or, negated, `arg NOT IN (items...)` (`arg <>
 * ALL (...)`): PostgreSQL's ScalarArrayOpExpr for the IN-list items without columns, when there are
 * two or more; the items are converted to the common type of `arg` and the items first. Items with
 * columns (and lists with one item without) are comparisons OR-ed (AND-ed) after it, as PostgreSQL
 * parses them.
 */
export interface InList<O> {
  readonly kind: 'in-list';
  readonly negated: boolean;
  readonly arg: O;
  readonly items: readonly O[];
}

/** `left IS DISTINCT FROM right` (IS NOT DISTINCT FROM is its NOT): `<>` where NULL equals NULL. */
export interface Distinct<O> {
  readonly kind: 'distinct';
  readonly left: O;
  readonly right: O;
}

export type BooleanTestKind = 'true' | 'not-true' | 'false' | 'not-false' | 'unknown' | 'not-unknown';

/** `arg IS [NOT] TRUE / FALSE / UNKNOWN`: never NULL. */
export interface BooleanTest<C> {
  readonly kind: 'bool-test';
  readonly test: BooleanTestKind;
  readonly arg: C;
}

/**
 * A CASE condition in an expression over aggregates. `truth` is a boolean operand itself: bool_or(x),
 * a condition without aggregates (the shards compute it per group, as a column), true, false, $n.
 * BETWEEN arrives as the comparisons PostgreSQL rewrites it to.
 */
export type MergeCondition = Logic<
  | Comparison<MergeExpr>
  | NullTest<MergeExpr>
  | InList<MergeExpr>
  | Distinct<MergeExpr>
  | BooleanTest<MergeCondition>
  | { readonly kind: 'truth'; readonly arg: MergeExpr }
>;

export interface AggregateMerge {
  /** One entry per shard result column: visible ones first, then hidden ones. */
  readonly columns: readonly MergeColumn[];
  readonly having: Predicate | null;
}

/** How the results of a multi-shard read are combined. Applied in this order: aggregate, having, distinct, order, offset/limit. */
export interface Merge {
  /** Columns appended to the shard query only for the merge; stripped before rows reach the client. */
  readonly hiddenColumns: number;
  readonly aggregate: AggregateMerge | null;
  readonly distinct: boolean;
  readonly orderBy: readonly SortKey[];
  readonly limit: ValueRef | null;
  readonly offset: ValueRef | null;
}

export type TxAction =
  | { readonly kind: 'begin' }
  | { readonly kind: 'commit' }
  | { readonly kind: 'rollback' }
  | { readonly kind: 'savepoint'; readonly name: string }
  | { readonly kind: 'release'; readonly name: string }
  | { readonly kind: 'rollback-to'; readonly name: string }
  /** PREPARE TRANSACTION / COMMIT PREPARED / ROLLBACK PREPARED issued by the client itself. */
  | { readonly kind: 'two-phase'; readonly command: 'prepare' | 'commit-prepared' | 'rollback-prepared'; readonly gid: string };

/** A sharded table's key type learnt from a CREATE TABLE passing through. */
export interface LearnedKeyType {
  readonly table: string;
  readonly keyType: KeyType;
}

export interface InsertPart {
  readonly shard: number;
  /** The INSERT with only this shard's rows; parameters renumbered $1.. in the order of `params`. */
  readonly sql: string;
  /** 0-based indexes of the original parameters this part binds, in its own $1.. order. */
  readonly params: readonly number[];
}

export type Plan =
  /** Runs unchanged on one shard. The hot path: no rewrite. */
  | { readonly kind: 'single'; readonly shard: number; readonly access: Access }
  /** Runs unchanged on any one shard (no table, catalog/tool queries, reference-table reads, SET/SHOW). */
  | { readonly kind: 'any'; readonly access: Access; readonly reason: 'no-table' | 'catalog' | 'reference-read' | 'utility' }
  /** Runs `sql` (rewritten for the merge, or the original text) on `shards` and merges. */
  | {
      readonly kind: 'scatter';
      readonly shards: readonly number[];
      readonly access: Access;
      readonly sql: string;
      readonly merge: Merge;
    }
  /**
   * Runs unchanged on every shard (DDL, reference-table writes, maintenance). `transactional` is false
   * for statements Postgres refuses inside a transaction block (VACUUM, CREATE INDEX CONCURRENTLY...).
   * A reference-table write reports one shard's command tag; DDL the common tag.
   */
  | {
      readonly kind: 'broadcast';
      readonly reason: 'ddl' | 'reference-write' | 'maintenance';
      readonly transactional: boolean;
      readonly learned: readonly LearnedKeyType[];
    }
  /** A multi-row INSERT whose rows live on different shards. Command tags and RETURNING rows are summed/concatenated. */
  | { readonly kind: 'split-insert'; readonly parts: readonly InsertPart[] }
  /**
   * COPY ... FROM STDIN into a sharded or reference table: rows are split per shard (reference: copied to
   * all). `columns` is the COPY column list, or null for the table's own column order (the executor
   * reads it from the catalog).
   */
  | {
      readonly kind: 'copy-in';
      readonly table: ShardedTableRule | ReferenceTableRule;
      readonly columns: readonly string[] | null;
      readonly format: 'text' | 'csv';
      readonly delimiter: string;
      readonly quote: string;
      readonly escape: string;
      readonly header: boolean;
      readonly nullString: string;
    }
  /** COPY ... TO STDOUT from a sharded table: every shard's rows, concatenated. */
  | { readonly kind: 'copy-out'; readonly shards: readonly number[] }
  | { readonly kind: 'transaction'; readonly action: TxAction }
  /** SET / RESET / SHOW of a pgshard.* setting: answered by the proxy, never sent to a shard. */
  | { readonly kind: 'pgshard-setting'; readonly command: 'set' | 'reset' | 'show'; readonly name: string; readonly value: string | null }
  /**
   * Cannot be routed safely: 0A000 with `hint` saying why and what to do. With `needs`, the plan
   * depends on a fact of the shards' catalog the planner was not given: the executor reads it and
   * plans the statement again with it (Planner.plan's `facts`); without the fact this is the error.
   */
  | { readonly kind: 'unsupported'; readonly message: string; readonly hint: string; readonly needs?: CatalogNeed };

/** A catalog fact a plan needs: the live columns of a table (in attnum order), as a statement names it. */
export interface CatalogNeed {
  readonly kind: 'table-columns';
  /** The schema the statement names, or null (the session's search_path decides). */
  readonly schema: string | null;
  readonly table: string;
}

/** Catalog facts the executor learnt from a shard, given to the planner for plans that need them. */
export interface CatalogFacts {
  /** A table's live (not dropped) column names in attnum order; null: no such table; undefined: not known. */
  tableColumns(schema: string | null, table: string): readonly string[] | null | undefined;
}

export type ReadLevel = 'strong' | 'sync' | 'bounded' | 'async';

export interface StatementPlan {
  /** The statement's own text (one statement of a multi-statement Query string). */
  readonly text: string;
  readonly plan: Plan;
  /** A `/* pgshard: consistency=... *\/` hint: this read's consistency instead of the session's. */
  readonly consistency?: ReadLevel;
}
