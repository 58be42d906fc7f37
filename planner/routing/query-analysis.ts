// Facts about the relations of one SELECT / UPDATE / DELETE / INSERT ... SELECT that routing needs:
// every sharded relation instance, what restricts each instance's key (literals, parameters, other
// instances' keys), which instances are joined key-to-key (co-location edges), and why running the
// statement on several shards would give a wrong answer (problems).
//
// Model. Each SELECT level (top, derived table, CTE, sub-link) has FROM items that columns resolve
// against. A restriction "instance X's relevant rows have keys in alts" comes only from positions that
// filter X's rows: WHERE conjuncts of X's own level (through derived tables whose output column is X's
// key), ON conjuncts of the side an outer join does not preserve, and correlated equalities of a
// sub-query (X = outer key). Edges (a.k = b.k) come from any conjunct of a WHERE/ON/USING/IN (sub-select)
// and mean rows combine only when keys are equal. OR restricts an instance only when every branch does.
// Owns: the traversal (FROM items, joins, sub-links, derived tables, CTEs, set operations) and turning
// predicates into restrictions and edges. Scopes, predicate shapes and the safety checks live in
// scopes.ts, key-predicates.ts and scatter-safety.ts. Must not: decide plans.

import type { ShardedTableRule, ShardingRules } from '../sharding-rules.js';
import { as, bodyOf, conjuncts, disjuncts, list, selectBody, str, unwrap, walk, type Body } from './ast.js';
import { colocated } from './key-values.js';
import { comparison, type KeySource } from './key-predicates.js';
import { classifyRelation, relationName } from './relations.js';
import { colocationProblem, levelProblems } from './scatter-safety.js';
import { keyColumnOf, Level, levelOutputs, renamed, type Instance, type KeyColumn, type LevelKind, type Restriction } from './scopes.js';
import { groupedByKey, lastName, scanExpr } from './sql-features.js';

export type { KeySource } from './key-predicates.js';
export { keySourceOf } from './key-predicates.js';
export { Level } from './scopes.js';
export type { Instance, KeyColumn, Restriction } from './scopes.js';
export { figureColname, isAggregateCall, scanExpr } from './sql-features.js';

export interface QueryFacts {
  readonly instances: readonly Instance[];
  readonly restrictions: readonly Restriction[];
  readonly edges: readonly (readonly [number, number])[];
  readonly reference: boolean;
  readonly catalog: boolean;
  readonly unlisted: readonly string[];
  /** Reasons a multi-shard run would be wrong (empty: a scatter is fine). */
  readonly problems: readonly string[];
  /** FOR UPDATE/SHARE or a data-modifying WITH: must run on primaries. */
  readonly locking: boolean;
  readonly modifying: boolean;
  /** The reference table a data-modifying WITH writes, if any. */
  readonly referenceWrite: string | null;
  /** Lower-case names of all functions called. */
  readonly functions: ReadonlySet<string>;
  readonly top: Level;
  /** Distinct sharded rules touched (for key hints). */
  readonly rules: readonly ShardedTableRule[];
}

interface Cte {
  readonly level: Level | null;
  readonly partitioned: boolean;
  readonly hasSharded: boolean;
}

type CteScope = ReadonlyMap<string, Cte>;

interface FromResult {
  readonly instances: Set<number>;
  readonly partitioned: boolean;
  readonly hasSharded: boolean;
}

const NO_CTES: CteScope = new Map();

/** Analyses statements of one rules snapshot. One instance per statement (it accumulates facts). */
export class QueryAnalyzer {
  private readonly instances: Instance[] = [];
  private readonly restrictions: Restriction[] = [];
  private readonly edges: [number, number][] = [];
  /** Links between set-operation arms: connectivity without a key equality. */
  private readonly armEdges: [number, number][] = [];
  private readonly problems: string[] = [];
  private readonly levels: Level[] = [];
  private readonly unlisted = new Set<string>();
  private readonly functions = new Set<string>();
  private reference = false;
  private catalog = false;
  private locking = false;
  private modifying = false;
  /** A reference table written by a data-modifying WITH (one copy would change, not all). */
  private referenceWrite: string | null = null;

  constructor(private readonly rules: ShardingRules) {}

  facts(top: Level): QueryFacts {
    // Computed afresh on every call: the caller may add restrictions between calls (INSERT ... SELECT).
    const problems = [...this.problems, ...levelProblems(this.levels, top, this.restrictions)];
    const colocation = colocationProblem(this.instances, this.edges, this.armEdges, (a, b) => this.colocatedIds(a, b));
    if (colocation !== null) problems.push(colocation);
    const rules: ShardedTableRule[] = [];
    for (const i of this.instances) if (!rules.includes(i.rule)) rules.push(i.rule);
    return {
      instances: this.instances,
      restrictions: this.restrictions,
      edges: this.edges,
      reference: this.reference,
      catalog: this.catalog,
      unlisted: [...this.unlisted],
      problems,
      locking: this.locking,
      modifying: this.modifying,
      referenceWrite: this.referenceWrite,
      functions: this.functions,
      top,
      rules,
    };
  }

  /** A SELECT (any shape) as the top level or as a nested level. */
  select(node: Body, kind: LevelKind, parent: Level | null, fromOwner: Level | null, ctes: CteScope = NO_CTES): Level {
    const level = new Level(kind, parent, fromOwner, node);
    this.levels.push(level);
    const scope = this.withClause(node, level, ctes);
    const op = str(node['op']) ?? 'SETOP_NONE';
    if (op !== 'SETOP_NONE') {
      const larg = selectBody(node['larg']);
      const rarg = selectBody(node['rarg']);
      // Each arm is computed per shard: it is checked like a derived table of this level.
      const left = larg === null ? null : this.select(larg, 'derived', parent, level, scope);
      const right = rarg === null ? null : this.select(rarg, 'derived', parent, level, scope);
      for (const side of [left, right]) if (side !== null) for (const i of side.below) level.below.add(i);
      const all = node['all'] === true;
      if (!all) level.features.push(`${op.replace('SETOP_', '')}`);
      // Arms are concatenated, not combined row by row: they need no key link to each other.
      const reps = [left, right].map((l) => (l === null ? undefined : [...l.owned][0]));
      if (reps[0] !== undefined && reps[1] !== undefined) this.armEdges.push([reps[0], reps[1]]);
      const both = left !== null && right !== null;
      const arms = [left, right].filter((l): l is Level => l !== null);
      level.partitioned = both && arms.every((l) => l.partitioned);
      if (arms.some((l) => l.below.size > 0) && !level.partitioned) {
        this.problems.push('a set operation combines sharded rows with rows that are the same on every shard');
      }
      this.selectTail(node, level, scope, false);
      level.outputList = (left?.outputList ?? []).map(() => null);
      for (const [name] of left?.outputs ?? []) level.outputs.set(name, null);
      return level;
    }
    if (list(node['lockingClause']).length > 0) this.locking = true;
    const from = this.fromList(list(node['fromClause']), level, scope);
    level.partitioned = from.partitioned;
    if (from.hasSharded && !from.partitioned) {
      this.problems.push('rows that are the same on every shard are combined with sharded rows by an outer join or a set operation');
    }
    for (const v of list(node['valuesLists'])) this.sublinks(v, level, scope);
    this.conditions(node['whereClause'], level, null, scope);
    this.selectTail(node, level, scope, true);
    levelOutputs(node, level);
    return level;
  }

  /** UPDATE / DELETE: the target is an item of the top level, with FROM / USING items beside it. */
  write(node: Body, type: 'UpdateStmt' | 'DeleteStmt', parent: Level | null, ctes: CteScope = NO_CTES): { level: Level; target: number | null } {
    const level = new Level(parent === null ? 'top' : 'cte', parent, null, node);
    this.levels.push(level);
    const scope = this.withClause(node, level, ctes);
    const relation = bodyOf(node['relation']);
    const target = relation === null ? null : this.rangeVar(relation, level, scope);
    const others = this.fromList(list(node[type === 'UpdateStmt' ? 'fromClause' : 'usingClause']), level, scope);
    level.partitioned = target?.partitioned === true || others.partitioned;
    this.conditions(node['whereClause'], level, null, scope);
    if (as(node['whereClause'], 'CurrentOfExpr') !== null && level.owned.size > 0) {
      this.problems.push('WHERE CURRENT OF names a cursor that lives on one shard');
    }
    this.sublinks(node['targetList'], level, scope);
    this.sublinks(node['returningList'], level, scope);
    if (parent !== null) {
      this.modifying = true;
      if (level.owned.size > 0) this.problems.push('a data-modifying WITH writes a sharded table');
      if (relation !== null) this.noteCteWrite(relation);
    }
    const id = target === null ? null : [...target.instances][0] ?? null;
    return { level, target: id };
  }

  /**
   * INSERT: the target is an item of the top level; a SELECT source is a derived level of it; VALUES
   * rows, RETURNING and ON CONFLICT only contribute their sub-links.
   */
  insert(node: Body): { level: Level; target: number | null; source: Level | null } {
    const level = new Level('top', null, null, node);
    this.levels.push(level);
    const scope = this.withClause(node, level, NO_CTES);
    const relation = bodyOf(node['relation']);
    const target = relation === null ? null : this.rangeVar(relation, level, scope);
    const sel = as(node['selectStmt'], 'SelectStmt');
    let source: Level | null = null;
    if (sel !== null) {
      if (list(sel['valuesLists']).length > 0 && (str(sel['op']) ?? 'SETOP_NONE') === 'SETOP_NONE') this.sublinks(sel['valuesLists'], level, scope);
      else source = this.select(sel, 'derived', level, level, scope);
    }
    this.sublinks(node['returningList'], level, scope);
    this.sublinks(node['onConflictClause'], level, scope);
    const id = target === null ? null : [...target.instances][0] ?? null;
    return { level, target: id, source };
  }

  private noteCteWrite(relation: Body): void {
    const rel = relationName(relation);
    if (classifyRelation(this.rules, rel).kind === 'reference') this.referenceWrite ??= rel.name;
  }

  /** A restriction the caller derived itself (an INSERT's key from its source). */
  restrict(instance: number, alts: readonly KeySource[]): void {
    this.restrictions.push({ instance, alts });
  }

  /** Whether two instances' rules place equal keys on the same shard. */
  colocatedInstances(a: number, b: number): boolean {
    return this.colocatedIds(a, b);
  }

  private withClause(node: Body, level: Level, outer: CteScope): CteScope {
    const withClause = bodyOf(node['withClause']);
    if (withClause === null) return outer;
    const scope = new Map(outer);
    const recursive = withClause['recursive'] === true;
    for (const c of list(withClause['ctes'])) {
      const cte = as(c, 'CommonTableExpr');
      if (cte === null) continue;
      const name = str(cte['ctename']) ?? '';
      if (recursive) scope.set(name, { level: null, partitioned: false, hasSharded: false });
      const q = unwrap(cte['ctequery']);
      if (q === null) continue;
      let cteLevel: Level | null = null;
      if (q.type === 'SelectStmt') {
        cteLevel = this.select(q.body, 'cte', level, null, scope);
      } else if (q.type === 'UpdateStmt' || q.type === 'DeleteStmt') {
        cteLevel = this.write(q.body, q.type, level, scope).level;
      } else if (q.type === 'InsertStmt') {
        cteLevel = new Level('cte', level, null, q.body);
        this.levels.push(cteLevel);
        const rel = bodyOf(q.body['relation']);
        if (rel !== null) {
          this.rangeVar(rel, cteLevel, scope);
          this.noteCteWrite(rel);
        }
        const sel = as(q.body['selectStmt'], 'SelectStmt');
        if (sel !== null) this.select(sel, 'sublink', cteLevel, null, scope);
        this.modifying = true;
        if (cteLevel.below.size > 0) this.problems.push('a data-modifying WITH writes a sharded table');
      }
      if (cteLevel === null) continue;
      for (const i of cteLevel.below) level.below.add(i);
      if (recursive && cteLevel.below.size > 0) this.problems.push('a recursive WITH over sharded tables recurses across shards');
      scope.set(name, { level: cteLevel, partitioned: cteLevel.partitioned, hasSharded: cteLevel.below.size > 0 });
    }
    return scope;
  }

  /** Sub-links and features of the clauses after FROM/WHERE. */
  private selectTail(node: Body, level: Level, scope: CteScope, simple: boolean): void {
    const found = { aggregate: false, window: false };
    if (simple) {
      scanExpr(node['targetList'], found);
      scanExpr(node['havingClause'], found);
      scanExpr(node['sortClause'], found);
      this.sublinks(node['targetList'], level, scope);
      this.sublinks(node['havingClause'], level, scope);
      this.sublinks(node['groupClause'], level, scope);
    }
    this.sublinks(node['sortClause'], level, scope);
    this.sublinks(node['limitCount'], level, scope);
    this.sublinks(node['limitOffset'], level, scope);
    if (found.aggregate) level.features.push('aggregate');
    if (list(node['groupClause']).length > 0) level.features.push('GROUP BY');
    if (bodyOf(node['havingClause']) !== null) level.features.push('HAVING');
    if (found.window) level.features.push('window function');
    const distinct = list(node['distinctClause']);
    if (distinct.length > 0) level.features.push(bodyOf(distinct[0]) !== null && unwrap(distinct[0]) !== null ? 'DISTINCT ON' : 'DISTINCT');
    if (node['limitCount'] !== undefined || node['limitOffset'] !== undefined) level.features.push('LIMIT/OFFSET');
    if (simple) {
      level.keyGrouped = groupedByKey(node, (e) => {
        const k = keyColumnOf(e, level);
        return k !== null && level.owned.has(k.instance) && this.instances[k.instance]?.nullable === false;
      });
    }
  }

  private fromList(items: readonly unknown[], level: Level, scope: CteScope): FromResult {
    const instances = new Set<number>();
    let partitioned = false;
    let hasSharded = false;
    for (const item of items) {
      const r = this.fromItem(item, level, scope);
      for (const i of r.instances) instances.add(i);
      partitioned ||= r.partitioned;
      hasSharded ||= r.hasSharded;
    }
    return { instances, partitioned, hasSharded };
  }

  private fromItem(node: unknown, level: Level, scope: CteScope): FromResult {
    const u = unwrap(node);
    const none: FromResult = { instances: new Set(), partitioned: false, hasSharded: false };
    if (u === null) return none;
    switch (u.type) {
      case 'RangeVar':
        return this.rangeVar(u.body, level, scope);
      case 'RangeTableSample':
        return this.fromItem(u.body['relation'], level, scope);
      case 'RangeSubselect': {
        const sub = as(u.body['subquery'], 'SelectStmt');
        const alias = bodyOf(u.body['alias']);
        if (sub === null) return none;
        const inner = this.select(sub, 'derived', level, level, scope);
        const columns = renamed(inner, alias);
        level.items.push({
          kind: 'derived', refName: alias === null ? null : str(alias['aliasname']), relName: null, schema: null, aliased: true,
          instance: null, rule: null, columns,
        });
        for (const i of inner.owned) level.owned.add(i);
        for (const i of inner.below) level.below.add(i);
        return { instances: new Set(inner.owned), partitioned: inner.partitioned, hasSharded: inner.below.size > 0 };
      }
      case 'RangeFunction':
      case 'RangeTableFunc': {
        this.sublinks(u.body, level, scope);
        walk(u.body, (type, body) => {
          if (type === 'FuncCall') this.functions.add(lastName(body['funcname']));
        });
        const alias = bodyOf(u.body['alias']);
        level.items.push({
          kind: 'replicated', refName: alias === null ? null : str(alias['aliasname']), relName: null, schema: null, aliased: true,
          instance: null, rule: null, columns: null,
        });
        return none;
      }
      case 'JoinExpr':
        return this.join(u.body, level, scope);
      default:
        return none;
    }
  }

  private join(j: Body, level: Level, scope: CteScope): FromResult {
    const left = this.fromItem(j['larg'], level, scope);
    const right = this.fromItem(j['rarg'], level, scope);
    const type = str(j['jointype']) ?? 'JOIN_INNER';
    const markNullable = (side: FromResult): void => {
      for (const i of side.instances) {
        const inst = this.instances[i];
        if (inst !== undefined) inst.nullable = true;
      }
    };
    let partitioned: boolean;
    let restricted: Set<number>;
    switch (type) {
      case 'JOIN_LEFT':
        markNullable(right);
        partitioned = left.partitioned;
        if (!left.partitioned && right.hasSharded) this.problems.push('a LEFT JOIN keeps rows that are the same on every shard and joins sharded rows to them');
        restricted = right.instances;
        break;
      case 'JOIN_RIGHT':
        markNullable(left);
        partitioned = right.partitioned;
        if (!right.partitioned && left.hasSharded) this.problems.push('a RIGHT JOIN keeps rows that are the same on every shard and joins sharded rows to them');
        restricted = left.instances;
        break;
      case 'JOIN_FULL':
        markNullable(left);
        markNullable(right);
        partitioned = left.partitioned && right.partitioned;
        if ((left.hasSharded || right.hasSharded) && !partitioned) this.problems.push('a FULL JOIN keeps rows that are the same on every shard');
        restricted = new Set();
        break;
      default:
        partitioned = left.partitioned || right.partitioned;
        restricted = new Set([...left.instances, ...right.instances]);
    }
    const instances = new Set([...left.instances, ...right.instances]);
    for (const u of list(j['usingClause'])) {
      const col = str(as(u, 'String')?.['sval']);
      if (col === null) continue;
      const a = this.sideKey(left.instances, col);
      const b = this.sideKey(right.instances, col);
      if (a !== null && b !== null) this.link(a, b, restricted);
    }
    this.conditions(j['quals'], level, restricted, scope);
    return { instances, partitioned, hasSharded: left.hasSharded || right.hasSharded };
  }

  private sideKey(instances: Set<number>, col: string): number | null {
    const hits = [...instances].filter((i) => this.instances[i]?.rule.column === col);
    return hits.length === 1 ? (hits[0] ?? null) : null;
  }

  private rangeVar(rv: Body, level: Level, scope: CteScope): FromResult {
    const rel = relationName(rv);
    if (rel.schema === null && scope.has(rel.name)) {
      const cte = scope.get(rel.name);
      const columns = new Map<string, KeyColumn | null>();
      for (const [name, col] of cte?.level?.outputs ?? []) columns.set(name, col === null ? null : { instance: col.instance, restrictable: false });
      level.items.push({ kind: 'derived', refName: rel.refName, relName: rel.name, schema: null, aliased: rel.aliased, instance: null, rule: null, columns });
      return { instances: new Set(), partitioned: cte?.partitioned === true, hasSharded: cte?.hasSharded === true };
    }
    const cls = classifyRelation(this.rules, rel);
    switch (cls.kind) {
      case 'sharded': {
        const id = this.instances.length;
        this.instances.push({ id, rule: cls.rule, level, nullable: false });
        for (let l: Level | null = level; l !== null; l = l.fromOwner) l.owned.add(id);
        for (let l: Level | null = level; l !== null; l = l.parent ?? l.fromOwner) l.below.add(id);
        level.items.push({ kind: 'sharded', refName: rel.refName, relName: rel.name, schema: rel.schema, aliased: rel.aliased, instance: id, rule: cls.rule, columns: null });
        return { instances: new Set([id]), partitioned: true, hasSharded: true };
      }
      case 'reference':
        this.reference = true;
        break;
      case 'catalog':
        this.catalog = true;
        break;
      case 'unlisted':
        this.unlisted.add(cls.name);
        break;
    }
    level.items.push({
      kind: cls.kind === 'unlisted' ? 'unlisted' : 'replicated', refName: rel.refName, relName: rel.name, schema: rel.schema,
      aliased: rel.aliased, instance: null, rule: null, columns: null,
    });
    return { instances: new Set(), partitioned: false, hasSharded: false };
  }

  /** Restrictions and edges of a boolean expression. `restricted`: instances it may restrict (null: all owned here). */
  private conditions(expr: unknown, level: Level, restricted: Set<number> | null, scope: CteScope): void {
    if (expr === undefined || expr === null) return;
    this.sublinks(expr, level, scope);
    const allowed = (i: number): boolean => (restricted === null ? level.owned.has(i) : restricted.has(i));
    for (const c of conjuncts(expr)) {
      const r = comparison(c, level, this.sublinkLevels);
      if (r === null) {
        const b = as(c, 'BoolExpr');
        if (b !== null && b['boolop'] === 'OR_EXPR') this.disjunction(c, level, allowed);
        continue;
      }
      if (r.kind === 'link') {
        this.link(r.a, r.b, null, allowed);
      } else if (allowed(r.key.instance) && r.key.restrictable) {
        this.restrictions.push({ instance: r.key.instance, alts: r.alts });
      }
    }
  }

  private disjunction(expr: unknown, level: Level, allowed: (i: number) => boolean): void {
    let common: Map<number, KeySource[]> | null = null;
    for (const branch of disjuncts(expr)) {
      const here = new Map<number, KeySource[]>();
      for (const c of conjuncts(branch)) {
        const r = comparison(c, level, this.sublinkLevels);
        if (r === null) continue;
        if (r.kind === 'link') {
          for (const [x, y] of [[r.a, r.b], [r.b, r.a]] as const) {
            if (allowed(x.instance) && x.restrictable && this.colocatedIds(x.instance, y.instance) && !here.has(x.instance)) {
              here.set(x.instance, [{ kind: 'instance', instance: y.instance }]);
            }
          }
        } else if (allowed(r.key.instance) && r.key.restrictable && !here.has(r.key.instance)) {
          here.set(r.key.instance, [...r.alts]);
        }
      }
      if (common === null) {
        common = here;
      } else {
        for (const [i, alts] of common) {
          const more = here.get(i);
          if (more === undefined) common.delete(i);
          else alts.push(...more);
        }
      }
    }
    for (const [instance, alts] of common ?? []) this.restrictions.push({ instance, alts });
  }

  private colocatedIds(a: number, b: number): boolean {
    const x = this.instances[a];
    const y = this.instances[b];
    return x !== undefined && y !== undefined && (x.rule === y.rule || colocated(x.rule, y.rule));
  }

  /** Edge a–b, and each side restricted by the other where allowed. */
  /** Resolves a column reference to an instance's key, or null (not a key, or not sure). */
  keyColumn(node: unknown, level: Level): KeyColumn | null {
    return keyColumnOf(node, level);
  }

  private link(a: KeyColumn | number, b: KeyColumn | number, restricted: Set<number> | null, allowedFn?: (i: number) => boolean): void {
    const ka: KeyColumn = typeof a === 'number' ? { instance: a, restrictable: true } : a;
    const kb: KeyColumn = typeof b === 'number' ? { instance: b, restrictable: true } : b;
    if (ka.instance === kb.instance) return;
    this.edges.push([ka.instance, kb.instance]);
    if (!this.colocatedIds(ka.instance, kb.instance)) return;
    const allowed = allowedFn ?? ((i: number): boolean => restricted?.has(i) === true);
    if (allowed(ka.instance) && ka.restrictable) this.restrictions.push({ instance: ka.instance, alts: [{ kind: 'instance', instance: kb.instance }] });
    if (allowed(kb.instance) && kb.restrictable) this.restrictions.push({ instance: kb.instance, alts: [{ kind: 'instance', instance: ka.instance }] });
  }

  private readonly sublinkLevels = new Map<Body, Level>();

  /** Analyses every sub-link in an expression (not descending into the sub-selects themselves). */
  private sublinks(node: unknown, level: Level, scope: CteScope): void {
    if (node === null || typeof node !== 'object') return;
    if (Array.isArray(node)) {
      for (const n of node) this.sublinks(n, level, scope);
      return;
    }
    const u = unwrap(node);
    if (u !== null && u.type === 'SubLink') {
      if (this.sublinkLevels.has(u.body)) return;
      const sub = as(u.body['subselect'], 'SelectStmt');
      if (sub !== null) {
        const inner = this.select(sub, 'sublink', level, null, scope);
        this.sublinkLevels.set(u.body, inner);
        for (const i of inner.below) level.below.add(i);
        if (u.body['subLinkType'] === 'ANY_SUBLINK' || u.body['subLinkType'] === 'ALL_SUBLINK') {
          // `x IN (SELECT k ...)` under OR/NOT still only combines rows whose keys are equal.
          const outer = keyColumnOf(u.body['testexpr'], level);
          const innerKey = inner.outputList.length === 1 ? (inner.outputList[0] ?? null) : null;
          if (outer !== null && innerKey !== null) {
            this.edges.push([outer.instance, innerKey.instance]);
            if (this.colocatedIds(outer.instance, innerKey.instance) && innerKey.restrictable) {
              this.restrictions.push({ instance: innerKey.instance, alts: [{ kind: 'instance', instance: outer.instance }] });
            }
          }
        }
      }
      this.sublinks(u.body['testexpr'], level, scope);
      return;
    }
    if (u !== null && u.type === 'FuncCall') this.functions.add(lastName(u.body['funcname']));
    for (const v of Object.values(u?.body ?? (node as Body))) if (v !== null && typeof v === 'object') this.sublinks(v, level, scope);
  }
}
