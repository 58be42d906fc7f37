// SQL features that matter when a query runs on several shards: aggregate calls, window functions,
// grouping by the shard key, and the output names PostgreSQL gives unnamed targets.
// Owns: those syntactic tests. Must not: resolve columns (callers pass a resolver).

import { as, bodyOf, columnRefFields, castType, list, names, str, unwrap, walk, type Body } from './ast.js';

const AGGREGATES = new Set([
  'count', 'sum', 'avg', 'min', 'max', 'array_agg', 'string_agg', 'bool_and', 'bool_or', 'every', 'json_agg', 'jsonb_agg',
  'json_object_agg', 'jsonb_object_agg', 'stddev', 'stddev_pop', 'stddev_samp', 'variance', 'var_pop', 'var_samp',
  'percentile_cont', 'percentile_disc', 'mode', 'corr', 'covar_pop', 'covar_samp', 'regr_avgx', 'regr_avgy', 'regr_count',
  'regr_intercept', 'regr_r2', 'regr_slope', 'regr_sxx', 'regr_sxy', 'regr_syy', 'bit_and', 'bit_or', 'bit_xor', 'xmlagg',
  'range_agg', 'range_intersect_agg', 'grouping',
]);

export function isAggregateCall(fn: Body): boolean {
  if (bodyOf(fn['over']) !== null) return false;
  const n = names(fn['funcname']);
  const name = n[n.length - 1] ?? '';
  return fn['agg_star'] === true || fn['agg_distinct'] === true || list(fn['agg_order']).length > 0 ||
    bodyOf(fn['agg_filter']) !== null || fn['agg_within_group'] === true || AGGREGATES.has(name);
}

/** Aggregates / window calls / sub-links directly in an expression (not inside nested sub-selects). */
export function scanExpr(node: unknown, found: { aggregate: boolean; window: boolean }): void {
  if (Array.isArray(node)) {
    for (const n of node) scanExpr(n, found);
    return;
  }
  const u = unwrap(node);
  if (u === null) {
    const b = bodyOf(node);
    if (b !== null) for (const v of Object.values(b)) if (v !== null && typeof v === 'object') scanExpr(v, found);
    return;
  }
  if (u.type === 'SubLink') {
    scanExpr(u.body['testexpr'], found);
    return;
  }
  if (u.type === 'FuncCall') {
    if (bodyOf(u.body['over']) !== null) found.window = true;
    else if (isAggregateCall(u.body)) found.aggregate = true;
  }
  for (const v of Object.values(u.body)) if (v !== null && typeof v === 'object') scanExpr(v, found);
}

export function lastName(v: unknown): string {
  const n = names(v);
  return (n[n.length - 1] ?? '').toLowerCase();
}

/** Postgres's output name for a target without AS: a column's name or a function's name. */
export function implicitName(val: unknown): string | null {
  const fields = columnRefFields(val);
  if (fields !== null) return fields[fields.length - 1] ?? null;
  const fn = as(val, 'FuncCall');
  if (fn !== null) return lastName(fn['funcname']);
  const tc = as(val, 'TypeCast');
  if (tc !== null) {
    const inner = implicitName(tc['arg']);
    if (inner !== null) return inner;
    const t = castType(tc);
    return t?.name ?? null;
  }
  const collate = as(val, 'CollateClause');
  if (collate !== null) return implicitName(collate['arg']);
  return null;
}

/** GROUP BY / DISTINCT ON / every window's PARTITION BY includes an owned shard key (`isOwnedKey`). */
export function groupedByKey(node: Body, isOwnedKey: (expr: unknown) => boolean): boolean {
  const ownedKey = (exprs: readonly unknown[]): boolean => exprs.some(isOwnedKey);
  const group = list(node['groupClause']);
  if (group.some((g) => as(g, 'GroupingSet') !== null)) return false;
  const distinct = list(node['distinctClause']).filter((d) => unwrap(d) !== null);
  const hasWindow = { aggregate: false, window: false };
  scanExpr(node['targetList'], hasWindow);
  if (group.length === 0 && distinct.length === 0 && !hasWindow.window) return false;
  if (group.length > 0 && !ownedKey(group)) return false;
  if (distinct.length > 0 && !ownedKey(distinct)) return false;
  if (hasWindow.window) {
    const windows = new Map<string, Body>();
    for (const w of list(node['windowClause'])) {
      const def = as(w, 'WindowDef');
      if (def !== null) windows.set(str(def['name']) ?? '', def);
    }
    let ok = true;
    walk(node['targetList'], (type, body) => {
      if (type !== 'FuncCall') return;
      let over = bodyOf(body['over']);
      if (over === null) return;
      const ref = str(over['refname']) ?? str(over['name']);
      if (list(over['partitionClause']).length === 0 && ref !== null) over = windows.get(ref) ?? over;
      if (!ownedKey(list(over['partitionClause']))) ok = false;
    });
    if (!ok) return false;
  }
  return true;
}

