// Whether a statement computes the right answer when every shard runs it on its own rows: nested
// levels must not aggregate / limit / de-duplicate partial data unless they are shard-local (tied by
// key equality to a row of an enclosing level) or grouped by an owned key; and all sharded instances
// must be joined key-to-key between co-located rules.
// Owns: those two checks. Must not: walk the AST (query-analysis.ts collects the facts).

import type { Instance, Level, Restriction } from './scopes.js';

/** Features computed per shard in nested levels are wrong unless the level is shard-local. */
export function levelProblems(levels: readonly Level[], top: Level, restrictions: readonly Restriction[]): string[] {
  const problems: string[] = [];
  for (const level of levels) {
    if (level === top || level.kind === 'top' || level.below.size === 0 || level.features.length === 0) continue;
    if (level.keyGrouped && !level.features.includes('LIMIT/OFFSET')) continue;
    if (shardLocal(level, restrictions)) continue;
    problems.push(`a sub-query over sharded tables uses ${level.features.join(', ')}, which would be computed on each shard separately`);
  }
  return problems;
}

/** Every instance the level owns is tied by key equality to a row of an enclosing level. */
export function shardLocal(level: Level, restrictions: readonly Restriction[]): boolean {
  if (level.owned.size === 0) return false;
  const local = new Set<number>();
  let changed = true;
  while (changed) {
    changed = false;
    for (const r of restrictions) {
      if (!level.owned.has(r.instance) || local.has(r.instance)) continue;
      const tied = r.alts.every((a) => a.kind === 'instance' && (!level.owned.has(a.instance) || local.has(a.instance)));
      if (tied) {
        local.add(r.instance);
        changed = true;
      }
    }
  }
  return local.size === level.owned.size;
}

/**
 * Sharded instances must form one class under key-equality edges between co-located rules (set
 * operation arms count as linked: they are concatenated, not combined); the problem otherwise.
 */
export function colocationProblem(
  instances: readonly Instance[],
  edges: readonly (readonly [number, number])[],
  armEdges: readonly (readonly [number, number])[],
  colocatedIds: (a: number, b: number) => boolean,
): string | null {
  const n = instances.length;
  if (n <= 1) return null;
  const parent = Array.from({ length: n }, (_, i) => i);
  const find = (i: number): number => {
    while (parent[i] !== i) i = parent[i] = parent[parent[i] ?? i] ?? i;
    return i;
  };
  for (const [a, b] of edges) if (colocatedIds(a, b)) parent[find(a)] = find(b);
  for (const [a, b] of armEdges) parent[find(a)] = find(b);
  const roots = new Set(instances.map((i) => find(i.id)));
  if (roots.size <= 1) return null;
  const names = [...new Set(instances.map((i) => i.rule.name))].join(', ');
  return `the sharded tables (${names}) are not all joined on equal shard keys of co-located rules`;
}
