// The shard query and merge spec of a multi-shard read. Works on a clone of the top-level SELECT and
// deparses it: ORDER BY keys become result columns (visible when they name / number / repeat an
// output column, hidden columns appended after all visible ones otherwise), with the collation of an
// explicit COLLATE on the key or on the output column it names; LIMIT n OFFSET m becomes LIMIT n+m
// on the shards; aggregates are re-aggregated (avg as sum + hidden count); expressions over
// aggregates are computed by the merge from hidden plain aggregates (aggregate-expr.ts); GROUP BY
// keys not in the output become hidden group columns; HAVING moves to the proxy. When the groups live
// on one shard each (grouped by the shard key) nothing is re-aggregated.
// Owns: the rewrite and Merge construction. Must not: decide which shards run it.

import type { ColumnRef, Merge, MergeColumn, MergeExpr, Predicate, SortKey, ValueRef } from '../plan.js';
import { deparseStatement } from '../sql-parser.js';
import { as, bodyOf, castType, clone, columnRefFields, constOf, exprKey, isStarRef, list, names, paramIndex, selectBody, str, walk, type Body } from './ast.js';
import { ExprUnsupported, hasAggregate, mergeExprOf, placeholder, SUPPORTED_EXPRESSIONS } from './aggregate-expr.js';
import { forEachNode } from '../merge-expr.js';

/** Integer cast targets as the parser names them (`::int` is int4, `::bigint` int8...). */
const INTEGER_CASTS: ReadonlySet<string> = new Set(['int2', 'int4', 'int8', 'smallint', 'integer', 'int', 'bigint']);
/** Other numeric cast targets whose order matches the source's for numbers. */
const ORDERED_NUMERIC_CASTS: ReadonlySet<string> = new Set(['numeric', 'decimal', 'float8', 'float4', 'real', 'double precision']);
import { havingPredicate, HavingError } from './having.js';
import { figureColname, isAggregateCall, scanExpr, type Level } from './query-analysis.js';

export type RewriteResult =
  | { readonly kind: 'ok'; readonly sql: string; readonly merge: Merge }
  | { readonly kind: 'unsupported'; readonly message: string; readonly hint: string };

class Unsupported extends Error {
  constructor(message: string, readonly hint: string) {
    super(message);
  }
}

const HINT_ONE_SHARD = 'add a shard-key condition (key = value) so the query runs on one shard, or route it with /* pgshard: shard=N */';

/** Aggregates the proxy can combine across shards, by their merge kind. */
const MERGEABLE: ReadonlyMap<string, MergeColumn['kind']> = new Map<string, MergeColumn['kind']>([
  ['count', 'count'], ['sum', 'sum'], ['min', 'min'], ['max', 'max'], ['bool_and', 'bool_and'], ['every', 'bool_and'],
  ['bool_or', 'bool_or'], ['avg', 'avg'],
]);

export function rewriteScatterRead(stmt: Body, top: Level): RewriteResult {
  try {
    const op = str(stmt['op']) ?? 'SETOP_NONE';
    const s = clone(stmt);
    const merge = op === 'SETOP_NONE' ? new SelectRewrite(s, top).run() : setOperation(s);
    return { kind: 'ok', sql: deparseStatement({ SelectStmt: s }), merge };
  } catch (err) {
    if (err instanceof Unsupported) return { kind: 'unsupported', message: err.message, hint: err.hint };
    if (err instanceof HavingError) return { kind: 'unsupported', message: `multi-shard query: ${err.message}`, hint: HINT_ONE_SHARD };
    return { kind: 'unsupported', message: 'multi-shard query could not be rewritten for merging', hint: HINT_ONE_SHARD };
  }
}

function fail(what: string): never {
  throw new Unsupported(`${what} is not supported in a query that runs on several shards`, HINT_ONE_SHARD);
}

function limitRef(node: unknown, what: string): ValueRef | null {
  if (node === undefined || node === null) return null;
  const c = constOf(node);
  if (c !== null && c.kind === 'null') return null;
  if (c !== null && c.kind === 'int') return { kind: 'literal', value: c.value };
  let inner: unknown = node;
  const tc = as(node, 'TypeCast');
  if (tc !== null) inner = tc['arg'];
  const p = paramIndex(inner);
  if (p !== null) return { kind: 'param', index: p };
  return fail(`${what} that is not a constant or a parameter`);
}

function bigintCast(index: number): Body {
  return {
    TypeCast: {
      arg: { ParamRef: { number: index + 1 } },
      typeName: { names: [{ String: { sval: 'pg_catalog' } }, { String: { sval: 'int8' } }], typemod: -1 },
    },
  };
}

/** LIMIT for the shards: n + m of the original LIMIT n OFFSET m. */
function shardLimit(limit: ValueRef, offset: ValueRef | null): Body {
  const node = (v: ValueRef): Body => (v.kind === 'literal' ? constNode(v.value) : bigintCast(v.index));
  if (offset === null) return node(limit);
  if (limit.kind === 'literal' && offset.kind === 'literal') return constNode(limit.value + offset.value);
  return { A_Expr: { kind: 'AEXPR_OP', name: [{ String: { sval: '+' } }], lexpr: node(limit), rexpr: node(offset) } };
}

function constNode(v: bigint): Body {
  if (v >= -2147483648n && v <= 2147483647n) return { A_Const: v === 0n ? { ival: {} } : { ival: { ival: Number(v) } } };
  return { A_Const: { fval: { fval: v.toString() } } };
}

function pushLimit(s: Body, limit: ValueRef | null, offset: ValueRef | null): void {
  delete s['limitOffset'];
  if (limit === null) {
    delete s['limitCount'];
    s['limitOption'] = 'LIMIT_OPTION_DEFAULT';
  } else {
    s['limitCount'] = shardLimit(limit, offset);
    s['limitOption'] = 'LIMIT_OPTION_COUNT';
  }
}

function sortKey(sortBy: Body, column: ColumnRef, collation: string | null = null): SortKey {
  const dir = str(sortBy['sortby_dir']);
  if (dir === 'SORTBY_USING') fail('ORDER BY ... USING');
  const descending = dir === 'SORTBY_DESC';
  const nulls = str(sortBy['sortby_nulls']);
  const nullsFirst = nulls === 'SORTBY_NULLS_FIRST' ? true : nulls === 'SORTBY_NULLS_LAST' ? false : descending;
  return collation === null ? { column, descending, nullsFirst } : { column, descending, nullsFirst, collation };
}

/** The collation name of a `COLLATE name` clause (its last part, as written). */
function collationName(clause: Body): string {
  return names(clause['collname']).pop() ?? '';
}

function containsCollate(node: unknown): boolean {
  let found = false;
  walk(node, (type) => {
    if (type === 'CollateClause') found = true;
  });
  return found;
}

/**
 * A top-level `expr COLLATE name` split into the expression and the name; a COLLATE deeper inside
 * gives its collation to the whole expression in ways the merge does not follow, so it is refused.
 */
function splitCollate(node: unknown, where: string): { expr: unknown; collation: string | null } {
  const clause = as(node, 'CollateClause');
  const expr = clause === null ? node : clause['arg'];
  if (containsCollate(expr)) fail(`COLLATE inside ${where} (write it at the end: ${where === 'an aggregate argument' ? 'min(x COLLATE "C")' : 'ORDER BY x COLLATE "C"'})`);
  return { expr, collation: clause === null ? null : collationName(clause) };
}

function ordinal(node: unknown): number | null {
  const c = constOf(node);
  return c !== null && c.kind === 'int' ? Number(c.value) : null;
}

/** The plain SELECTs of a set operation, left to right. */
function leafSelects(s: Body): Body[] {
  if ((str(s['op']) ?? 'SETOP_NONE') === 'SETOP_NONE') return [s];
  return [s['larg'], s['rarg']].flatMap((arm) => {
    const b = selectBody(arm);
    return b === null ? [] : leafSelects(b);
  });
}

/** UNION ALL at the top: arms concatenate; ORDER BY may only name output columns. */
function setOperation(s: Body): Merge {
  if (s['op'] !== 'SETOP_UNION' || s['all'] !== true) fail(`${String(s['op']).replace('SETOP_', '')} (only UNION ALL concatenates)`);
  let leftmost = selectBody(s['larg']);
  while (leftmost !== null && leftmost['op'] !== 'SETOP_NONE') leftmost = selectBody(leftmost['larg']);
  const targets = list(leftmost?.['targetList']).map((t) => as(t, 'ResTarget'));
  const starAt = targets.findIndex((t) => t !== null && isStarRef(t['val']));
  const orderBy: SortKey[] = [];
  for (const item of list(s['sortClause'])) {
    const sb = as(item, 'SortBy');
    if (sb === null) fail('ORDER BY');
    const n = ordinal(sb['node']);
    let index = n !== null ? n - 1 : -1;
    const fields = columnRefFields(sb['node']);
    if (index < 0 && fields !== null && fields.length === 1) {
      // Two output columns of that name make PostgreSQL fail (42702): the shards keep the ORDER BY.
      index = outputNamed(targets.map((t, i) => (t === null || (starAt >= 0 && i >= starAt) ? undefined : { key: '', name: str(t['name']) ?? figureColname(t['val']) })), fields[0]!).index;
    }
    if (index < 0) fail('an ORDER BY of a UNION ALL that is not an output column');
    // The output column's collation is any arm's explicit COLLATE (PostgreSQL requires them to agree).
    let collation: string | null = null;
    for (const arm of leafSelects(s)) {
      const target = as(list(arm['targetList'])[index], 'ResTarget');
      collation ??= target === null ? null : targetCollation(target['val']);
    }
    orderBy.push(sortKey(sb, { hidden: false, index }, collation));
  }
  if (s['limitOption'] === 'LIMIT_OPTION_WITH_TIES') fail('FETCH ... WITH TIES');
  const limit = limitRef(s['limitCount'], 'LIMIT');
  const offset = limitRef(s['limitOffset'], 'OFFSET');
  pushLimit(s, limit, offset);
  return { hiddenColumns: 0, aggregate: null, distinct: false, orderBy, limit, offset };
}

interface Target {
  readonly key: string;
  /** The output name (PostgreSQL's FigureColname without AS); null when only the catalog knows it. */
  readonly name: string | null;
}

/**
 * The first output column named `name`, as PostgreSQL resolves `ORDER BY name` (undefined targets
 * are not searched): -1 when none is. `ambiguous` when another column of that name has a different
 * expression: PostgreSQL may fail (42702), and only it can tell (`x` and `t.x` are the same column).
 * Refused when a column whose name only the catalog knows (a sub-query selecting *) may be the one.
 */
function outputNamed(targets: readonly (Target | undefined)[], name: string): { index: number; ambiguous: boolean } {
  const index = targets.findIndex((t) => t?.name === name);
  const first = targets[index];
  if (first === undefined) {
    if (targets.some((t) => t !== undefined && t.name === null)) fail(`ORDER BY ${name} with an output column named by a sub-query selecting * (name the column)`);
    return { index: -1, ambiguous: false };
  }
  return { index, ambiguous: targets.some((t) => t?.name === name && t.key !== first.key) };
}

/**
 * The collation an output column sorts by when ORDER BY names it (by position or name): its own
 * top-level COLLATE. A COLLATE deeper inside the target is refused, as in an ORDER BY expression.
 */
function targetCollation(val: unknown): string | null {
  return splitCollate(val, 'an output column that ORDER BY names').collation;
}

class SelectRewrite {
  private readonly targets: Target[];
  private readonly starAt: number;
  private readonly hidden: Body[] = [];
  private readonly hiddenKeys: string[] = [];
  private readonly hiddenKinds: MergeColumn[] = [];
  private readonly visibleKinds: MergeColumn[] = [];
  private readonly groupKeys: string[];
  /** Each target's own top-level COLLATE, read before any rewrite (null: none). */
  private readonly visibleCollations: (string | null)[];
  /** How many times each parameter (0-based) occurs in the statement, read before any rewrite. */
  private readonly paramUses = new Map<number, number>();
  /** ORDER BY names an output column PostgreSQL may find ambiguous: the shards keep the ORDER BY to decide. */
  private shardsResolveOrder = false;

  constructor(
    private readonly s: Body,
    private readonly top: Level,
  ) {
    const rts = list(s['targetList']).map((t) => as(t, 'ResTarget') ?? {});
    this.targets = rts.map((rt) => ({ key: exprKey(rt['val']), name: str(rt['name']) ?? figureColname(rt['val']) }));
    this.starAt = rts.findIndex((rt) => isStarRef(rt['val']));
    this.visibleCollations = rts.map((rt) => (as(rt['val'], 'CollateClause') === null ? null : targetCollation(rt['val'])));
    // GROUP BY 2 groups by the second target's expression.
    this.groupKeys = list(s['groupClause']).map((g) => {
      const n = ordinal(g);
      const target = n === null ? undefined : rts[n - 1];
      return exprKey(target === undefined ? g : target['val']);
    });
    walk(s, (type, body) => {
      const index = type === 'ParamRef' ? paramIndex({ ParamRef: body }) : null;
      if (index !== null) this.paramUses.set(index, (this.paramUses.get(index) ?? 0) + 1);
    });
  }

  run(): Merge {
    const s = this.s;
    const found = { aggregate: false, window: false };
    scanExpr(s['targetList'], found);
    scanExpr(s['havingClause'], found);
    scanExpr(s['sortClause'], found);
    const perShardGroups = this.top.keyGrouped;
    const distinct = list(s['distinctClause']);
    const distinctOn = distinct.some((d) => as(d, 'ColumnRef') !== null || Object.keys(bodyOf(d) ?? {}).length > 0);
    if (found.window && !perShardGroups) fail('a window function (unless every window is PARTITION BY the shard key)');
    if (distinctOn && !perShardGroups) fail('DISTINCT ON (unless it includes the shard key)');
    if (s['limitOption'] === 'LIMIT_OPTION_WITH_TIES') fail('FETCH ... WITH TIES');
    if (list(s['groupClause']).some((g) => as(g, 'GroupingSet') !== null)) fail('GROUPING SETS / ROLLUP / CUBE');
    const aggregating = !perShardGroups && (found.aggregate || list(s['groupClause']).length > 0 || bodyOf(s['havingClause']) !== null);
    const limit = limitRef(s['limitCount'], 'LIMIT');
    const offset = limitRef(s['limitOffset'], 'OFFSET');
    let having: Predicate | null = null;
    let orderBy: SortKey[];
    if (aggregating) {
      if (this.starAt >= 0) fail('SELECT * with aggregates');
      this.aggregateTargets();
      this.groupColumns();
      const h = s['havingClause'];
      if (h !== undefined) {
        // The proxy compares text in HAVING by the database's collation only.
        if (containsCollate(h)) fail('COLLATE in HAVING');
        having = havingPredicate(h, (e) => this.aggregateColumn(e));
        delete s['havingClause'];
      }
      orderBy = this.orderBy((e) => this.aggregateColumn(e));
      if (!this.shardsResolveOrder) delete s['sortClause'];
      // Groups span shards: the shards return every group; the proxy limits after merging.
      pushLimit(s, null, null);
    } else {
      orderBy = this.orderBy((e) => this.plainColumn(e));
      pushLimit(s, limit, offset);
    }
    const targetList = list(s['targetList']) as unknown[];
    this.hidden.forEach((val, i) => targetList.push({ ResTarget: { name: `pgshard_hidden_${i + 1}`, val } }));
    s['targetList'] = targetList;
    return {
      hiddenColumns: this.hidden.length,
      aggregate: aggregating ? { columns: [...this.visibleKinds, ...this.hiddenKinds], having } : null,
      distinct: distinct.length > 0 && !distinctOn,
      orderBy,
      limit,
      offset,
    };
  }

  private addHidden(val: unknown, kind: MergeColumn): ColumnRef {
    const key = exprKey(val);
    const at = this.hiddenKeys.indexOf(key);
    if (at >= 0 && this.hiddenKinds[at]?.kind === kind.kind) return { hidden: true, index: at };
    this.hidden.push(clone(val) as Body);
    this.hiddenKeys.push(key);
    this.hiddenKinds.push(kind);
    return { hidden: true, index: this.hidden.length - 1 };
  }

  private outputCollation(index: number): string | null {
    const rt = as(list(this.s['targetList'])[index], 'ResTarget');
    // Aggregating rewrites replace targets; their collations were read before (visibleCollations).
    return this.visibleCollations[index] ?? (rt === null ? null : targetCollation(rt['val']));
  }

  /** A visible output column by expression, or null (targets after a `*` have unknown positions). */
  private visibleByExpr(key: string): ColumnRef | null {
    const i = this.targets.findIndex((t, i) => t.key === key && (this.starAt < 0 || i < this.starAt));
    return i < 0 ? null : { hidden: false, index: i };
  }

  private orderBy(column: (expr: unknown) => ColumnRef | null): SortKey[] {
    const keys: SortKey[] = [];
    for (const item of list(this.s['sortClause'])) {
      const sb = as(item, 'SortBy');
      if (sb === null) fail('ORDER BY');
      const { expr: node, collation } = splitCollate(sb['node'], 'an ORDER BY expression');
      // A collated key is an expression (SQL99 rules): never an output column's position or name.
      const n = collation === null ? ordinal(node) : null;
      let col: ColumnRef | null = null;
      if (n !== null) {
        if (n < 1 || (this.starAt < 0 && n > this.targets.length)) fail('ORDER BY position out of range');
        col = { hidden: false, index: n - 1 };
      } else {
        const fields = collation === null ? columnRefFields(node) : null;
        if (fields !== null && fields.length === 1) {
          // ORDER BY a bare name prefers an output column of that name (SQL92 rule).
          const { index, ambiguous } = outputNamed(this.targets.map((t, i) => (this.starAt < 0 || i < this.starAt ? t : undefined)), fields[0]!);
          if (index >= 0) col = { hidden: false, index };
          if (ambiguous) this.shardsResolveOrder = true;
        }
        // The shards still sort by the collated expression: their streams arrive in its order.
        col ??= collation === null ? column(node) : this.visibleByExpr(exprKey(node)) ?? column(sb['node']);
      }
      if (col === null) fail('an ORDER BY expression that is neither an output column nor computable per group');
      // ORDER BY 1 or an output name sorts by that column's own COLLATE, if it has one.
      const own = collation === null && !col.hidden ? this.outputCollation(col.index) : null;
      keys.push(sortKey(sb, col, collation ?? own));
    }
    return keys;
  }

  private plainColumn(expr: unknown): ColumnRef {
    return this.visibleByExpr(exprKey(expr)) ?? this.addHidden(expr, { kind: 'group' });
  }

  private aggregateTargets(): void {
    for (const t of list(this.s['targetList'])) {
      const rt = as(t, 'ResTarget');
      if (rt === null) fail('a target');
      const val = rt['val'];
      const fn = as(val, 'FuncCall');
      if (fn !== null && isAggregateCall(fn)) {
        const merged = this.aggregateMerge(fn);
        if (merged.kind === 'avg') {
          const count = this.addHidden(countOf(fn), { kind: 'count' });
          if (str(rt['name']) === null) rt['name'] = 'avg';
          fn['funcname'] = [{ String: { sval: 'sum' } }];
          this.visibleKinds.push({ kind: 'avg', count });
        } else {
          this.visibleKinds.push(merged);
        }
        continue;
      }
      const castKind = this.castAggregateKind(val);
      if (castKind !== null) {
        // Each shard casts its own partial result; combining the casts gives the cast of the total.
        this.visibleKinds.push(castKind);
        continue;
      }
      if (hasAggregate(val)) {
        const expr = this.expression(val);
        rt['name'] = str(rt['name']) ?? figureColname(val) ?? fail('an expression over aggregates named after a sub-query selecting * (name it with AS)');
        rt['val'] = placeholder(val);
        this.visibleKinds.push({ kind: 'expr', expr });
        continue;
      }
      this.visibleKinds.push({ kind: 'group' });
    }
  }

  /** An expression over aggregates as the proxy computes it; 0A000 naming what is not supported. */
  private expression(val: unknown): MergeExpr {
    try {
      const expr = mergeExprOf(val, (n) => this.operandColumn(n));
      this.requireSingleUse(expr);
      return expr;
    } catch (err) {
      if (err instanceof ExprUnsupported) throw new Unsupported(`${err.message} is not supported in a query that runs on several shards`, `${SUPPORTED_EXPRESSIONS}; otherwise ${HINT_ONE_SHARD}`);
      throw err;
    }
  }

  /**
   * A parameter without a declared type takes the type of the context PostgreSQL meets it in first;
   * the proxy infers it from the expression's own context, which is that one only when the
   * statement has no other use of it.
   */
  private requireSingleUse(expr: MergeExpr): void {
    forEachNode(expr, (node) => {
      if (node.kind === 'param' && (this.paramUses.get(node.index) ?? 0) > 1) {
        throw new ExprUnsupported(`parameter $${node.index + 1} in an expression over aggregates when the statement uses it more than once`);
      }
    });
  }

  /**
   * `count(...)::int`, `min(x)::numeric` and the like: a cast the shards can apply to their partial
   * results. count to an integer type (the merge adds the counts and checks the type's range, as
   * PostgreSQL's cast would); min/max to an integer, numeric or float type (those casts keep order,
   * so the least of the casts is the cast of the least). sum is not among them: rounding each shard's
   * sum is not rounding the total.
   */
  private castAggregateKind(expr: unknown): MergeColumn | null {
    const cast = as(expr, 'TypeCast');
    if (cast === null) return null;
    const fn = as(cast['arg'], 'FuncCall');
    const target = castType(cast);
    if (fn === null || target === null || target.array || !isAggregateCall(fn) || list(bodyOf(cast['typeName'])?.['typmods']).length > 0) return null;
    const merged = this.aggregateMerge(fn);
    const type = target.name.toLowerCase();
    if (merged.kind === 'count' && INTEGER_CASTS.has(type)) return merged;
    // A cast of text loses its collation; the cast numbers order as the originals do.
    if ((merged.kind === 'min' || merged.kind === 'max') && merged.collation === undefined && (INTEGER_CASTS.has(type) || ORDERED_NUMERIC_CASTS.has(type))) return merged;
    return null;
  }

  /** How an aggregate call merges: its kind, and for min/max an explicit COLLATE of the argument. */
  private aggregateMerge(fn: Body): Exclude<MergeColumn, { kind: 'group' | 'expr' }> {
    const n = names(fn['funcname']);
    const name = (n[n.length - 1] ?? '').toLowerCase();
    if (fn['agg_distinct'] === true) fail(`${name}(DISTINCT ...)`);
    if (list(fn['agg_order']).length > 0 || fn['agg_within_group'] === true) fail(`${name}(... ORDER BY ...)`);
    const kind = MERGEABLE.get(name);
    if (kind === undefined || kind === 'group' || kind === 'expr' || (n.length > 1 && n[0] !== 'pg_catalog')) {
      fail(`aggregate ${name} (only count, sum, min, max, avg, bool_and, bool_or combine across shards, unless grouped by the shard key)`);
    }
    if (kind !== 'count' && list(fn['args']).length !== 1) fail(`${name} with ${list(fn['args']).length} arguments`);
    if (kind === 'min' || kind === 'max') {
      const { collation } = splitCollate(list(fn['args'])[0], 'an aggregate argument');
      return collation === null ? { kind } : { kind, collation };
    }
    if (kind === 'avg') return { kind, count: { hidden: true, index: -1 } };
    return { kind };
  }

  /** GROUP BY items that are not output columns become hidden group columns. */
  private groupColumns(): void {
    for (const g of list(this.s['groupClause'])) {
      const n = ordinal(g);
      if (n !== null) {
        if (n < 1 || n > this.targets.length) fail('GROUP BY position out of range');
        continue;
      }
      if (this.visibleByExpr(exprKey(g)) !== null) continue;
      const fields = columnRefFields(g);
      if (fields !== null && fields.length === 1 && this.targets.some((t) => t.name === fields[0])) continue;
      this.addHidden(g, { kind: 'group' });
    }
  }

  /**
   * A HAVING / ORDER BY operand of an aggregate query: an aggregate, a grouped expression, or an
   * expression over them that the proxy computes (in a hidden column of its own).
   */
  private aggregateColumn(expr: unknown): ColumnRef | null {
    const col = this.operandColumn(expr);
    if (col !== null || !hasAggregate(expr)) return col;
    const key = exprKey(expr);
    const visible = this.visibleByExpr(key);
    if (visible !== null) return visible;
    return this.addHidden(placeholder(expr), { kind: 'expr', expr: this.expression(expr) });
  }

  /** An aggregate call or a grouped expression as a result column (null: neither). */
  private operandColumn(expr: unknown): ColumnRef | null {
    const key = exprKey(expr);
    const visible = this.visibleByExpr(key);
    if (visible !== null) return visible;
    const fn = as(expr, 'FuncCall');
    if (fn !== null && isAggregateCall(fn)) {
      const merged = this.aggregateMerge(fn);
      if (merged.kind === 'avg') {
        const count = this.addHidden(countOf(fn), { kind: 'count' });
        const sum = clone(fn);
        sum['funcname'] = [{ String: { sval: 'sum' } }];
        return this.addHidden({ FuncCall: sum }, { kind: 'avg', count });
      }
      return this.addHidden(expr, merged);
    }
    if (hasAggregate(expr)) return null;
    const groupAt = this.groupKeys.indexOf(key);
    if (groupAt < 0 && !this.dependsOnGroups(expr)) return null;
    return this.addHidden(expr, { kind: 'group' });
  }

  /** An expression over grouped columns only (Postgres accepts it in HAVING / ORDER BY). */
  private dependsOnGroups(expr: unknown): boolean {
    const refs: string[] = [];
    const collect = (n: unknown): void => {
      if (n === null || typeof n !== 'object') return;
      if (Array.isArray(n)) return n.forEach(collect);
      const ref = as(n, 'ColumnRef');
      if (ref !== null) {
        refs.push(exprKey(n));
        return;
      }
      for (const v of Object.values(n as Body)) collect(v);
    };
    collect(expr);
    return refs.every((r) => this.groupKeys.includes(r));
  }
}

/** count(x) with the same argument and FILTER as an avg(x) (counts the values avg divides by). */
function countOf(avg: Body): Body {
  const c: Body = { funcname: [{ String: { sval: 'count' } }], args: clone(avg['args']), funcformat: 'COERCE_EXPLICIT_CALL' };
  if (avg['agg_filter'] !== undefined) c['agg_filter'] = clone(avg['agg_filter']);
  return { FuncCall: c };
}
