// Deadlocks between sessions waiting for server connections. A transaction that spans shards holds a
// connection on each shard it has touched and takes the next shard's when it needs it; with more such
// transactions than a pool has connections, two of them can each hold what the other waits for. No
// server sees that: each shard only sees an idle transaction. The proxy does, since it knows who holds
// each lent connection and who waits for which pool.
//
// A pool is a resource with several units, so a cycle in a wait-for graph is not enough (a waiter may
// be served by any of the holders). This is the reduction used for such resources: every session that
// waits for nothing will finish and hand back what it holds; a waiting session that can then be served
// will finish too; what is left waiting once nothing more can finish is deadlocked.
// Pure: a snapshot of the pools in, the victim out. Owns no timer and fails no one (PoolRegistry does).

/** Who holds or waits for connections: a client session (any object, compared by identity). */
export type PoolHolder = object;

export interface PoolWaits {
  /** Connections the pool could lend without waiting for a holder: idle, being opened, or room to open. */
  readonly free: number;
  /** The holder of each lent connection (null: not a client session, e.g. a health check). */
  readonly lentTo: readonly (PoolHolder | null)[];
  /** Its waiters in arrival order (holder null: not a client session). */
  readonly waiters: readonly { readonly holder: PoolHolder | null; readonly since: number }[];
}

export interface DeadlockVictim {
  /** Index of the pool in the input it waits for. */
  readonly pool: number;
  readonly holder: PoolHolder;
  /** The deadlocked sessions (the victim included). */
  readonly sessions: number;
}

/**
 * The session whose wait should fail to break a deadlock, or null when none exists among waits older
 * than `minWaitMs`. The victim is, among the deadlocked sessions that hold a connection (failing one
 * that holds none frees nothing), the one waiting longest: it has already lost the most time.
 */
export function findDeadlockVictim(pools: readonly PoolWaits[], now: number, minWaitMs: number): DeadlockVictim | null {
  if (!pools.some((p) => p.waiters.some((w) => w.holder !== null && now - w.since >= minWaitMs))) return null;

  const waitsFor = new Map<PoolHolder, { pool: number; since: number }>();
  pools.forEach((p, pool) => {
    for (const w of p.waiters) if (w.holder !== null) waitsFor.set(w.holder, { pool, since: w.since });
  });
  const held = new Map<PoolHolder, number[]>();
  const available = pools.map((p) => p.free);
  pools.forEach((p, pool) => {
    for (const h of p.lentTo) {
      // A connection lent to something that waits for no pool comes back: count it as available.
      if (h === null || !waitsFor.has(h)) available[pool]!++;
      else held.set(h, [...(held.get(h) ?? []), pool]);
    }
  });

  const blocked = new Set(waitsFor.keys());
  for (let progress = true; progress; ) {
    progress = false;
    for (const h of blocked) {
      if (available[waitsFor.get(h)!.pool]! <= 0) continue;
      // Served, it finishes and hands everything back (the unit it is served with included).
      blocked.delete(h);
      for (const pool of held.get(h) ?? []) available[pool]!++;
      progress = true;
    }
  }

  let victim: PoolHolder | null = null;
  let oldest = Number.POSITIVE_INFINITY;
  for (const h of blocked) {
    const w = waitsFor.get(h)!;
    if (!held.has(h) || now - w.since < minWaitMs || w.since >= oldest) continue;
    victim = h;
    oldest = w.since;
  }
  return victim === null ? null : { pool: waitsFor.get(victim)!.pool, holder: victim, sessions: blocked.size };
}
