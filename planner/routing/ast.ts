// Typed-enough access to libpg-query 15's JSON AST for the routing modules: a node is a one-key object
// ({ SelectStmt: {...} }), a body is that key's value. Readers here never throw on unexpected shapes;
// they return undefined/null and the caller treats the construct as "not understood" (conservative).
// Owns: node unwrapping, field readers, constants, structural equality (ignoring locations), cloning.
// Must not: know about sharding rules or plans.

export type Body = Record<string, unknown>;
export type AstNode = Record<string, unknown>;

/** The node's type name and body, or null for anything that is not a one-key object. */
export function unwrap(node: unknown): { type: string; body: Body } | null {
  if (node === null || typeof node !== 'object' || Array.isArray(node)) return null;
  for (const key in node as AstNode) {
    const body = (node as AstNode)[key];
    if (body !== null && typeof body === 'object' && !Array.isArray(body)) return { type: key, body: body as Body };
    return null;
  }
  return null;
}

/** The body when `node` is of type `type`. */
export function as(node: unknown, type: string): Body | null {
  const u = unwrap(node);
  return u !== null && u.type === type ? u.body : null;
}

export function list(v: unknown): readonly unknown[] {
  return Array.isArray(v) ? v : [];
}

export function str(v: unknown): string | null {
  return typeof v === 'string' ? v : null;
}

export function bodyOf(v: unknown): Body | null {
  return v !== null && typeof v === 'object' && !Array.isArray(v) ? (v as Body) : null;
}

/** `{String: {sval}}` items of a name list (funcname, typeName.names, operator names). */
export function names(v: unknown): string[] {
  const out: string[] = [];
  for (const item of list(v)) {
    const s = as(item, 'String');
    out.push(s === null ? '' : (str(s['sval']) ?? ''));
  }
  return out;
}

/** A ColumnRef's fields as strings; null when it has a `*` or is not a ColumnRef. */
export function columnRefFields(node: unknown): string[] | null {
  const ref = as(node, 'ColumnRef');
  if (ref === null) return null;
  const out: string[] = [];
  for (const f of list(ref['fields'])) {
    const s = as(f, 'String');
    if (s === null) return null;
    out.push(str(s['sval']) ?? '');
  }
  return out;
}

export function isStarRef(node: unknown): boolean {
  const ref = as(node, 'ColumnRef');
  if (ref === null) return false;
  return list(ref['fields']).some((f) => as(f, 'A_Star') !== null);
}

/** A constant as written: integers (any size) as bigint, other numerics/strings as text. */
export type Const =
  | { readonly kind: 'int'; readonly value: bigint }
  | { readonly kind: 'numeric'; readonly text: string }
  | { readonly kind: 'string'; readonly text: string }
  | { readonly kind: 'bool'; readonly value: boolean }
  | { readonly kind: 'bits'; readonly text: string }
  | { readonly kind: 'null' };

const INTEGER_TEXT = /^-?\d+$/;

export function constOf(node: unknown): Const | null {
  const c = as(node, 'A_Const');
  if (c === null) return null;
  if (c['isnull'] === true) return { kind: 'null' };
  const ival = bodyOf(c['ival']);
  if (ival !== null) return { kind: 'int', value: BigInt(typeof ival['ival'] === 'number' ? ival['ival'] : 0) };
  const fval = bodyOf(c['fval']);
  if (fval !== null) {
    const text = str(fval['fval']) ?? '';
    return INTEGER_TEXT.test(text) ? { kind: 'int', value: BigInt(text) } : { kind: 'numeric', text };
  }
  const sval = bodyOf(c['sval']);
  if (sval !== null) return { kind: 'string', text: str(sval['sval']) ?? '' };
  const bval = bodyOf(c['boolval']);
  if (bval !== null) return { kind: 'bool', value: bval['boolval'] === true };
  const bsval = bodyOf(c['bsval']);
  if (bsval !== null) return { kind: 'bits', text: str(bsval['bsval']) ?? '' };
  return null;
}

/** A constant's text as PostgreSQL would print the literal's value (for HAVING operands). */
export function constText(c: Const): string | null {
  switch (c.kind) {
    case 'int':
      return c.value.toString();
    case 'numeric':
    case 'string':
    case 'bits':
      return c.text;
    case 'bool':
      return c.value ? 'true' : 'false';
    case 'null':
      return null;
  }
}

/** `$n` as a 0-based index. */
export function paramIndex(node: unknown): number | null {
  const p = as(node, 'ParamRef');
  if (p === null) return null;
  const n = p['number'];
  return typeof n === 'number' && n >= 1 ? n - 1 : null;
}

/** The last name of a TypeCast's type (`int8` for pg_catalog.int8) and whether it is an array type. */
export function castType(node: Body): { name: string; array: boolean } | null {
  const tn = bodyOf(node['typeName']);
  if (tn === null) return null;
  const parts = names(tn['names']);
  const name = parts[parts.length - 1];
  if (name === undefined) return null;
  return { name, array: list(tn['arrayBounds']).length > 0 };
}

/** The name of an operator A_Expr (`=`, `<>` ...), or null. */
export function operatorName(expr: Body): string | null {
  const parts = names(expr['name']);
  return parts.length === 1 ? (parts[0] ?? null) : parts.length === 2 && parts[0] === 'pg_catalog' ? (parts[1] ?? null) : null;
}

/** Canonical text of a subtree without source locations: two expressions are the same iff keys agree. */
export function exprKey(node: unknown): string {
  return JSON.stringify(node, (k, v: unknown) => (k === 'location' ? undefined : v));
}

export function clone<T>(node: T): T {
  return structuredClone(node);
}

/** Visits every object in a subtree (depth first, parents before children). */
export function walk(node: unknown, visit: (type: string, body: Body) => void): void {
  if (Array.isArray(node)) {
    for (const item of node) walk(item, visit);
    return;
  }
  if (node === null || typeof node !== 'object') return;
  for (const [key, value] of Object.entries(node as AstNode)) {
    if (value !== null && typeof value === 'object') {
      if (!Array.isArray(value) && /^[A-Z]/.test(key)) visit(key, value as Body);
      walk(value, visit);
    }
  }
}

/** Flattens nested AND into its conjuncts. */
export function conjuncts(expr: unknown): unknown[] {
  const b = as(expr, 'BoolExpr');
  if (b !== null && b['boolop'] === 'AND_EXPR') return list(b['args']).flatMap(conjuncts);
  return expr === undefined || expr === null ? [] : [expr];
}

/** The branches of an OR (one branch for anything else). */
export function disjuncts(expr: unknown): unknown[] {
  const b = as(expr, 'BoolExpr');
  if (b !== null && b['boolop'] === 'OR_EXPR') return list(b['args']).flatMap(disjuncts);
  return [expr];
}

/** Lower-level SelectStmt bodies of set operations are bare bodies, top-level ones are wrapped. */
export function selectBody(node: unknown): Body | null {
  const wrapped = as(node, 'SelectStmt');
  if (wrapped !== null) return wrapped;
  const b = bodyOf(node);
  return b !== null && ('op' in b || 'targetList' in b || 'valuesLists' in b) ? b : null;
}
