// Shard-key predicates: which conjuncts compare an instance's key with a value (a constant or a
// parameter, possibly cast), a list of values, an array, NULL, or another instance's key.
// Owns: recognising those shapes. Must not: decide which instances a predicate restricts.

import { as, castType, constOf, list, names, operatorName, paramIndex, str, type Body, type Const } from './ast.js';
import { castFamily, type KeyFamily } from './key-values.js';
import { keyColumnOf, type KeyColumn, type Level } from './scopes.js';

/** Where an instance's key values come from. */
export type KeySource =
  | { readonly kind: 'literal'; readonly value: Const; readonly cast: KeyFamily | 'other' | null }
  | { readonly kind: 'param'; readonly index: number; readonly cast: KeyFamily | 'other' | null }
  /** `key = ANY($n)`: every element of an array parameter. */
  | { readonly kind: 'param-array'; readonly index: number }
  /** `key IS NULL`. */
  | { readonly kind: 'null' }
  /** Never true (`key = NULL`). */
  | { readonly kind: 'nothing' }
  /** Equal to another instance's key (rules co-located). */
  | { readonly kind: 'instance'; readonly instance: number };

/** A value a key can be compared with: a constant or a parameter, possibly cast. */
export function keySourceOf(node: unknown): KeySource | null {
  let cast: KeyFamily | 'other' | null = null;
  let inner = node;
  const tc = as(node, 'TypeCast');
  if (tc !== null) {
    const t = castType(tc);
    cast = t === null ? 'other' : castFamily(t.name, t.array);
    inner = tc['arg'];
    if (as(inner, 'TypeCast') !== null) return null;
  }
  const c = constOf(inner);
  if (c !== null) return c.kind === 'null' ? { kind: 'nothing' } : { kind: 'literal', value: c, cast };
  const p = paramIndex(inner);
  if (p !== null) return { kind: 'param', index: p, cast };
  return null;
}

export type Comparison =
  | { readonly kind: 'values'; readonly key: KeyColumn; readonly alts: KeySource[] }
  | { readonly kind: 'link'; readonly a: KeyColumn; readonly b: KeyColumn };

/** `key = value`, `key IN (...)`, `key = ANY(...)`, `key IS NULL`, `a.key = b.key`, `key IN (SELECT key ...)`. */
export function comparison(c: unknown, level: Level, sublinkLevels: ReadonlyMap<Body, Level>): Comparison | null {
  const e = as(c, 'A_Expr');
  if (e !== null) {
    const kind = str(e['kind']);
    const op = operatorName(e);
    if (op !== '=') return null;
    if (kind === 'AEXPR_OP') {
      const lk = keyColumnOf(e['lexpr'], level);
      const rk = keyColumnOf(e['rexpr'], level);
      if (lk !== null && rk !== null) return { kind: 'link', a: lk, b: rk };
      if (lk !== null) {
        const s = keySourceOf(e['rexpr']);
        return s === null ? null : { kind: 'values', key: lk, alts: [s] };
      }
      if (rk !== null) {
        const s = keySourceOf(e['lexpr']);
        return s === null ? null : { kind: 'values', key: rk, alts: [s] };
      }
      return null;
    }
    if (kind === 'AEXPR_IN') {
      const key = keyColumnOf(e['lexpr'], level);
      if (key === null) return null;
      const alts: KeySource[] = [];
      for (const item of list(as(e['rexpr'], 'List')?.['items'])) {
        const s = keySourceOf(item);
        if (s === null) return null;
        alts.push(s);
      }
      return { kind: 'values', key, alts };
    }
    if (kind === 'AEXPR_OP_ANY') {
      const key = keyColumnOf(e['lexpr'], level);
      if (key === null) return null;
      let r = e['rexpr'];
      const tc = as(r, 'TypeCast');
      if (tc !== null) {
        const t = castType(tc);
        if (t === null || !t.array) return null;
        r = tc['arg'];
      }
      const p = paramIndex(r);
      if (p !== null) return { kind: 'values', key, alts: [{ kind: 'param-array', index: p }] };
      const arr = as(r, 'A_ArrayExpr');
      if (arr === null) return null;
      const alts: KeySource[] = [];
      for (const item of list(arr['elements'])) {
        const s = keySourceOf(item);
        if (s === null) return null;
        alts.push(s);
      }
      return { kind: 'values', key, alts };
    }
    return null;
  }
  const nt = as(c, 'NullTest');
  if (nt !== null && nt['nulltesttype'] === 'IS_NULL') {
    const key = keyColumnOf(nt['arg'], level);
    return key === null ? null : { kind: 'values', key, alts: [{ kind: 'null' }] };
  }
  const sl = as(c, 'SubLink');
  if (sl !== null && sl['subLinkType'] === 'ANY_SUBLINK') {
    const opNames = names(sl['operName']);
    if (opNames.length > 0 && opNames[opNames.length - 1] !== '=') return null;
    const outer = keyColumnOf(sl['testexpr'], level);
    const sub = sublinkLevels.get(sl);
    const inner = sub?.outputList.length === 1 ? (sub.outputList[0] ?? null) : null;
    if (outer !== null && inner !== null) return { kind: 'link', a: outer, b: inner };
  }
  return null;
}

