// SQL features that matter when a query runs on several shards: aggregate calls, window functions,
// grouping by the shard key, and the output names PostgreSQL gives unnamed targets (the one copy of
// FigureColname: ORDER BY resolves output names with it, and scatter placeholders are named by it).
// Owns: those syntactic tests. Must not: resolve columns (callers pass a resolver).

import { as, bodyOf, isStarRef, list, names, selectBody, str, unwrap, walk, type Body } from './ast.js';

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

/**
 * PostgreSQL 15's output name for a target without AS (FigureColname, parse_target.c): a column's
 * or field's name, a function's name (also for the constructs that act like one: coalesce, nullif,
 * greatest, least, ARRAY, ROW, EXISTS, grouping, current_date...), a cast's inner name or else its
 * type's name, a CASE's ELSE when that is named as strongly as a column or function, else `case`, a
 * scalar sub-query's first output name; `?column?` for anything else. Null only when the name
 * depends on the catalog: a scalar sub-query whose first output is a `*`.
 */
export function figureColname(node: unknown): string | null {
  const f = figure(node);
  return f.strength === 0 ? '?column?' : f.name;
}

/** A name and how strongly it was chosen: 2 a real name, 1 a fallback (a type's name, `case`), 0 none. */
interface Figured {
  readonly name: string | null;
  readonly strength: 0 | 1 | 2;
}

const UNNAMED: Figured = { name: null, strength: 0 };
const named = (name: string | null): Figured => ({ name, strength: 2 });

/** The last String among a ColumnRef's fields or an A_Indirection's items (skipping `*` and subscripts). */
function lastString(items: unknown): string | null {
  let last: string | null = null;
  for (const item of list(items)) {
    const s = as(item, 'String');
    if (s !== null) last = str(s['sval']) ?? '';
  }
  return last;
}

/** FigureColnameInternal. */
function figure(node: unknown): Figured {
  const u = unwrap(node);
  if (u === null) return UNNAMED;
  const b = u.body;
  switch (u.type) {
    case 'ColumnRef': {
      const last = lastString(b['fields']);
      return last === null ? UNNAMED : named(last);
    }
    case 'A_Indirection': {
      const last = lastString(b['indirection']);
      return last === null ? figure(b['arg']) : named(last);
    }
    case 'FuncCall':
      return named(names(b['funcname']).pop() ?? '');
    case 'A_Expr':
      return b['kind'] === 'AEXPR_NULLIF' ? named('nullif') : UNNAMED;
    case 'TypeCast': {
      const inner = figure(b['arg']);
      const type = names(bodyOf(b['typeName'])?.['names']).pop();
      return inner.strength <= 1 && type !== undefined ? { name: type, strength: 1 } : inner;
    }
    case 'CollateClause':
      return figure(b['arg']);
    case 'GroupingFunc':
      return named('grouping');
    case 'SubLink':
      switch (b['subLinkType']) {
        case 'EXISTS_SUBLINK':
          return named('exists');
        case 'ARRAY_SUBLINK':
          return named('array');
        case 'EXPR_SUBLINK':
          return named(firstOutputName(b['subselect']));
        default:
          return UNNAMED;
      }
    case 'CaseExpr': {
      const otherwise = figure(b['defresult']);
      return otherwise.strength <= 1 ? { name: 'case', strength: 1 } : otherwise;
    }
    case 'A_ArrayExpr':
      return named('array');
    case 'RowExpr':
      return named('row');
    case 'CoalesceExpr':
      return named('coalesce');
    case 'MinMaxExpr':
      return named(b['op'] === 'IS_LEAST' ? 'least' : 'greatest');
    case 'SQLValueFunction': {
      // SVFOP_CURRENT_TIMESTAMP_N (with a precision) is current_timestamp too.
      const op = str(b['op']);
      return op === null ? UNNAMED : named(op.replace(/^SVFOP_/, '').replace(/_N$/, '').toLowerCase());
    }
    case 'XmlExpr': {
      const op = str(b['op']);
      return op === null || op === 'IS_DOCUMENT' ? UNNAMED : named(op.replace(/^IS_/, '').toLowerCase());
    }
    case 'XmlSerialize':
      return named('xmlserialize');
    default:
      return UNNAMED;
  }
}

/**
 * The output name of a sub-select's first column (its leftmost arm's, for a set operation; `column1`
 * for VALUES); null when that column is a `*`, whose name only the catalog knows.
 */
function firstOutputName(subselect: unknown): string | null {
  let s = selectBody(subselect);
  while (s !== null && (str(s['op']) ?? 'SETOP_NONE') !== 'SETOP_NONE') s = selectBody(s['larg']);
  if (s === null) return null;
  if (list(s['valuesLists']).length > 0) return 'column1';
  const first = as(list(s['targetList'])[0], 'ResTarget');
  if (first === null || isStarRef(first['val'])) return null;
  return str(first['name']) ?? figureColname(first['val']);
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

