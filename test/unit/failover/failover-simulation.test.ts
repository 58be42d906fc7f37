// Seeded simulation of one shard's failover machine against a model of its nodes, on a fake clock:
// crashes and restarts, proxy↔node partitions (the node lives on and keeps replicating), stalled
// WAL receivers, promotions that fail, time out or finish late, lost fences, admin FAILOVER [FORCE]
// and SWITCHOVER, all in random orders. Actions run one at a time with random durations, results are
// fed back as events, and actions of an older term are dropped as the real runner drops them.
//
// Invariants checked after every transition:
//  - terms never decrease, and every action carries the term its transition ended in;
//  - writes are routed to at most one node per term, never to a fenced node;
//  - async mode: no replica more than promoteLagBytesMax behind the best known LSN is promoted
//    without FORCE;
//  - no automatic failover while a replica that answers still streams from the primary;
//  - a switchover promotes only on caught-up, and its new primary holds every acknowledged write.
// A failing seed is reported with its number; rerun one with FAILOVER_SIM_SEED=<n>.

import t, { type Test } from 'tap';
import { bestKnownLsn, replicaLsn } from '../../../topology/failover/election.js';
import { transition } from '../../../topology/failover/failover-machine.js';
import { initialFailoverState } from '../../../topology/failover/initial-state.js';
import type { FailoverAction, FailoverEvent, FailoverLimits, FailoverState, NodeId, NodeSample } from '../../../topology/failover/failover-types.js';
import { MB, limits } from './machine-helpers.js';
import { seededRandom } from '../../helpers/seeded-random.js';

const rng = seededRandom;

interface SimNode {
  id: NodeId;
  alive: boolean;
  role: 'primary' | 'replica';
  /** Primary: WAL written. Replica: unused. */
  wal: bigint;
  received: bigint;
  replayed: bigint;
  upstream: NodeId | null;
  /** The WAL receiver is stalled (network hiccup, slow disk): no progress, not streaming. */
  stalled: boolean;
  /** Fenced for real: default_transaction_read_only = on. */
  readOnly: boolean;
  /** A promotion that timed out finishes on its own at this time. */
  latePromotionAtMs: number | null;
  /** Repointed to a primary whose WAL ends before what it already has: cannot follow. */
  diverged: boolean;
}

interface Pending {
  action: FailoverAction;
  doneAtMs: number;
}

class Violation extends Error {}

class Sim {
  readonly r: () => number;
  now = 10_000;
  state: FailoverState;
  readonly nodes = new Map<NodeId, SimNode>();
  /** Proxy cannot reach these (they still replicate among themselves). */
  readonly partitioned = new Set<NodeId>();
  readonly queue: FailoverAction[] = [];
  running: Pending | null = null;
  routed: NodeId;
  paused = false;
  /** Highest LSN of a write the proxy acknowledged, per routed primary. */
  acked = 0n;
  /** Acknowledged LSN when the current switchover paused writes. */
  switchoverAcked: bigint | null = null;
  readonly routes = new Map<number, NodeId>();
  readonly stats = { transitions: 0, failovers: 0, switchovers: 0, aborted: 0, lagBlocks: 0, vouched: 0, forced: 0, latePromotions: 0 };

  constructor(
    seed: number,
    readonly lim: FailoverLimits,
    replicas: number,
    /** Promotions may time out or answer late (and finish later); otherwise they succeed or certainly fail. */
    readonly timeouts = true,
  ) {
    this.r = rng(seed);
    const ids = ['n0', ...Array.from({ length: replicas }, (_, i) => `n${i + 1}`)];
    for (const id of ids) {
      this.nodes.set(id, {
        id,
        alive: true,
        role: id === 'n0' ? 'primary' : 'replica',
        wal: 0n,
        received: 0n,
        replayed: 0n,
        upstream: id === 'n0' ? null : 'n0',
        stalled: false,
        readOnly: false,
        latePromotionAtMs: null,
        diverged: false,
      });
    }
    this.routed = 'n0';
    this.state = initialFailoverState({ shard: 's', primary: 'n0', replicas: ids.slice(1), limits: lim, nowMs: this.now });
  }

  node(id: NodeId): SimNode {
    const n = this.nodes.get(id);
    if (n === undefined) throw new Error(`no node ${id}`);
    return n;
  }

  pick<T>(xs: readonly T[]): T {
    return xs[Math.floor(this.r() * xs.length)] as T;
  }

  reachable(id: NodeId): boolean {
    return this.node(id).alive && !this.partitioned.has(id);
  }

  streaming(n: SimNode): boolean {
    if (!n.alive || n.role !== 'replica' || n.stalled || n.diverged || n.upstream === null) return false;
    const up = this.node(n.upstream);
    return up.alive && up.role === 'primary';
  }

  // ----- the world moves ----------------------------------------------------------------------

  worldStep(dt: number): void {
    for (const n of this.nodes.values()) {
      if (n.latePromotionAtMs !== null && this.now >= n.latePromotionAtMs) {
        n.latePromotionAtMs = null;
        if (n.alive && n.role === 'replica') {
          this.promoteInWorld(n);
          this.stats.latePromotions++;
        }
      }
    }
    const p = this.node(this.routed);
    if (!this.paused && p.alive && p.role === 'primary' && !p.readOnly && this.r() < 0.7) {
      p.wal += BigInt(Math.floor(this.r() * 2 * MB));
      this.acked = p.wal;
    }
    for (const n of this.nodes.values()) {
      if (!this.streaming(n)) continue;
      const up = this.node(n.upstream as NodeId);
      const step = BigInt(Math.floor(this.r() * 8 * MB * (dt / 100)));
      n.received = n.received + step < up.wal ? n.received + step : up.wal;
      const rstep = BigInt(Math.floor(this.r() * 8 * MB * (dt / 100)));
      n.replayed = n.replayed + rstep < n.received ? n.replayed + rstep : n.received;
    }
  }

  promoteInWorld(n: SimNode): void {
    n.role = 'primary';
    n.wal = n.received > n.replayed ? n.received : n.replayed;
    n.replayed = n.wal;
    n.upstream = null;
  }

  chaos(): void {
    const x = this.r();
    const ids = [...this.nodes.keys()];
    if (x < 0.006) {
      // Crash, most often of the node that takes the writes.
      const victim = this.r() < 0.6 ? this.routed : this.pick(ids);
      this.node(victim).alive = false;
    } else if (x < 0.02) {
      const dead = ids.filter((id) => !this.node(id).alive);
      if (dead.length > 0) this.node(this.pick(dead)).alive = true;
    } else if (x < 0.026) {
      this.partitioned.add(this.pick(ids));
    } else if (x < 0.04) {
      if (this.partitioned.size > 0) this.partitioned.delete(this.pick([...this.partitioned]));
    } else if (x < 0.046) {
      const n = this.node(this.pick(ids));
      n.stalled = !n.stalled;
    } else if (x < 0.049) {
      this.feed({ kind: 'switchover', target: this.pick(ids) });
    } else if (x < 0.051) {
      const force = this.r() < 0.5;
      const r = this.feed({ kind: 'failover', force });
      if (r && force) this.stats.forced++;
    }
  }

  // ----- the health checker --------------------------------------------------------------------

  check(): void {
    const id = this.pick([...this.nodes.keys()]);
    const n = this.node(id);
    if (!this.reachable(id)) {
      this.feed({ kind: 'check-failed', node: id, error: 'unreachable' });
      return;
    }
    const sample: NodeSample =
      n.role === 'primary'
        ? { role: 'primary', currentLsn: n.wal, receiveLsn: null, replayLsn: null, receiving: false }
        : {
            role: 'replica',
            currentLsn: null,
            receiveLsn: n.received,
            replayLsn: n.replayed,
            // Now and then a check that may not see pg_stat_wal_receiver (receiving unknown).
            receiving: this.r() < 0.03 ? null : this.streaming(n),
            upstream: this.r() < 0.5 ? n.upstream : undefined,
          };
    this.feed({ kind: 'sample', node: id, sample });
  }

  // ----- the machine, and the invariants -------------------------------------------------------

  /** Applies an event; returns whether an admin command was accepted. */
  feed(event: FailoverEvent): boolean {
    const before = this.state;
    const r = transition(before, event, this.now);
    this.state = r.state;
    this.stats.transitions++;
    this.checkInvariants(before, event, r.state, r.actions);
    if (r.state.blocked?.kind === 'lag' && before.blocked?.kind !== 'lag') this.stats.lagBlocks++;
    if (before.attempt?.kind === 'switchover' && r.state.attempt === null && r.state.phase === 'normal') this.stats.aborted++;
    if (r.state.phase === 'suspect' && /still receive/.test(r.state.reason) && !/still receive/.test(before.reason)) this.stats.vouched++;
    this.queue.push(...r.actions);
    return r.rejection === null;
  }

  fail(msg: string): never {
    throw new Violation(`t=${this.now} term=${this.state.term} phase=${this.state.phase}: ${msg}`);
  }

  checkInvariants(before: FailoverState, event: FailoverEvent, after: FailoverState, actions: readonly FailoverAction[]): void {
    if (after.term < before.term) this.fail(`term went down ${before.term} → ${after.term}`);
    let prevTerm = before.term;
    for (const a of actions) {
      // Terms grow along a batch (a later decision may supersede an earlier one); a fence is never
      // superseded and carries the final term.
      if (a.kind === 'fence') {
        if (a.term !== after.term) this.fail(`a fence carries ${a.term}, not the final term ${after.term}`);
        continue;
      }
      if (a.term < prevTerm || a.term > after.term) this.fail(`${a.kind} carries term ${a.term} (between ${prevTerm} and ${after.term} expected)`);
      prevTerm = a.term;
    }
    for (const a of actions) {
      if (a.kind === 'route' && a.term === after.term) {
        if (after.primary !== a.primary) this.fail(`route(${a.primary}) but the state's primary is ${after.primary}`);
        if (after.fenced.some((f) => f.node === a.primary)) this.fail(`routed to fenced ${a.primary}`);
      }
      if (a.kind !== 'promote') continue;
      const attempt = after.attempt;
      if (attempt === null) this.fail('promote without an attempt');
      if (!after.fenced.some((f) => f.node === attempt.from)) this.fail(`promoting ${a.node} while the old primary ${attempt.from} is not fenced`);
      if (after.fenced.some((f) => f.node === a.node)) this.fail(`promoting fenced ${a.node}`);
      if (attempt.kind === 'switchover') {
        if (event.kind !== 'caught-up' || event.node !== a.node) this.fail(`switchover promoted ${a.node} on ${event.kind}, not on caught-up`);
        continue;
      }
      if (this.lim.replication === 'async' && !attempt.force) {
        const cand = after.nodes.find((n) => n.id === a.node);
        const own = cand === undefined ? null : replicaLsn(cand);
        const best = bestKnownLsn(after);
        if (own === null) this.fail(`promoted ${a.node} with no known LSN`);
        if (best !== null && best - own > BigInt(this.lim.promoteLagBytesMax)) this.fail(`promoted ${a.node} ${best - own} bytes behind without FORCE`);
      }
      if (!attempt.manual && before.attempt === null) {
        // An automatic failover just started: nobody may still stream from the old primary.
        const from = attempt.from;
        const vouching = after.nodes.filter(
          (n) =>
            n.id !== from &&
            n.failures === 0 &&
            n.last?.role === 'replica' &&
            n.last.receiving !== false &&
            (n.last.upstream === undefined || n.last.upstream === null || n.last.upstream === from || !this.nodes.has(n.last.upstream)) &&
            !before.fenced.some((f) => f.node === n.id),
        );
        if (vouching.length > 0) this.fail(`failed over ${from} while ${vouching.map((n) => n.id).join(',')} still receive its WAL`);
        const p = after.nodes.find((n) => n.id === from);
        if (p === undefined || p.failures < this.lim.failuresBeforeDown) this.fail(`failed over ${from} after ${p?.failures} failures`);
      }
    }
    if (after.primary !== null && after.fenced.some((f) => f.node === after.primary)) this.fail(`primary ${after.primary} is fenced`);
  }

  // ----- the I/O layer ---------------------------------------------------------------------------

  runActions(): void {
    if (this.running !== null && this.now >= this.running.doneAtMs) {
      const a = this.running.action;
      this.running = null;
      if (a.kind === 'promote' && a.term < this.state.term) lateResults++;
      const result = this.execute(a);
      if (result !== null) this.feed(result);
    }
    while (this.running === null && this.queue.length > 0) {
      const a = this.queue.shift() as FailoverAction;
      if (a.term < this.state.term) continue; // an older term's action: dropped, as the runner does
      if (a.kind === 'pause-writes' || a.kind === 'resume-writes' || a.kind === 'route') {
        this.execute(a);
        continue;
      }
      // Some actions answer after the machine gave up on them (promotion deadline): late results.
      const slow = this.timeouts && this.r() < 0.05 ? 1000 + Math.floor(this.r() * 3000) : 0;
      this.running = { action: a, doneAtMs: this.now + slow + Math.floor(this.r() * 400) };
    }
  }

  execute(a: FailoverAction): FailoverEvent | null {
    switch (a.kind) {
      case 'pause-writes':
        this.paused = true;
        this.switchoverAcked = this.acked;
        return null;
      case 'resume-writes':
        this.paused = false;
        return null;
      case 'route': {
        // What the proxy actually does: one primary per term, the machine's current one, unfenced.
        const prev = this.routes.get(a.term);
        if (prev !== undefined && prev !== a.primary) this.fail(`two primaries routed in term ${a.term}: ${prev}, ${a.primary}`);
        this.routes.set(a.term, a.primary);
        if (this.state.term === a.term && this.state.primary !== a.primary) this.fail(`routing ${a.primary} in term ${a.term} whose primary is ${this.state.primary}`);
        if (this.state.fenced.some((f) => f.node === a.primary)) this.fail(`routing to fenced ${a.primary}`);
        this.routed = a.primary;
        this.acked = this.node(a.primary).wal;
        return null;
      }
      case 'fence': {
        const ok = this.reachable(a.node) && this.r() < 0.9;
        if (ok) this.node(a.node).readOnly = true;
        return { kind: 'fence-done', term: a.term, node: a.node, applied: ok };
      }
      case 'unfence':
        if (this.reachable(a.node)) this.node(a.node).readOnly = false;
        return null;
      case 'catch-up': {
        const target = this.node(a.node);
        const primary = this.node(a.primary);
        if (!this.reachable(a.node) || !this.reachable(a.primary)) return { kind: 'catch-up-failed', term: a.term, node: a.node, error: 'unreachable' };
        if (this.streaming(target) && target.replayed >= primary.wal) return { kind: 'caught-up', term: a.term, node: a.node };
        if (this.r() < 0.2) return { kind: 'catch-up-failed', term: a.term, node: a.node, error: 'timed out' };
        // Not yet: check again a bit later.
        this.running = { action: a, doneAtMs: this.now + 50 };
        return null;
      }
      case 'promote': {
        const n = this.node(a.node);
        if (!this.reachable(a.node) || n.role !== 'replica') return { kind: 'promote-failed', term: a.term, node: a.node, error: 'unreachable' };
        const attempt = this.state.attempt;
        if (attempt?.kind === 'switchover' && this.switchoverAcked !== null && n.replayed < this.switchoverAcked) {
          this.fail(`switchover promotes ${a.node} at ${n.replayed} before it replayed the acknowledged ${this.switchoverAcked}`);
        }
        const x = this.r();
        if (x < 0.8) {
          this.promoteInWorld(n);
          if (attempt?.kind === 'switchover') this.stats.switchovers++;
          else this.stats.failovers++;
          return { kind: 'promote-succeeded', term: a.term, node: a.node };
        }
        if (x < 0.9 && this.timeouts) {
          n.latePromotionAtMs = this.now + Math.floor(this.r() * 3000);
          return { kind: 'promote-timeout', term: a.term, node: a.node };
        }
        return { kind: 'promote-failed', term: a.term, node: a.node, error: 'pg_promote failed' };
      }
      case 'repoint': {
        if (!this.reachable(a.node)) return { kind: 'repoint-done', term: a.term, node: a.node, ok: false, error: 'unreachable' };
        const n = this.node(a.node);
        n.upstream = a.primary;
        n.diverged = n.received > this.node(a.primary).wal;
        return { kind: 'repoint-done', term: a.term, node: a.node, ok: true };
      }
      case 'rejoin': {
        if (!this.reachable(a.node)) return { kind: 'rejoin-done', term: a.term, node: a.node, ok: false, error: 'unreachable' };
        const n = this.node(a.node);
        const p = this.node(a.primary);
        n.role = 'replica';
        n.upstream = a.primary;
        n.readOnly = false;
        n.diverged = false;
        n.received = n.received < p.wal ? n.received : p.wal;
        n.replayed = n.replayed < n.received ? n.replayed : n.received;
        return { kind: 'rejoin-done', term: a.term, node: a.node, ok: true };
      }
      default: {
        const never: never = a;
        throw new Error(`unhandled ${JSON.stringify(never)}`);
      }
    }
  }

  run(steps: number): void {
    for (let i = 0; i < steps; i++) {
      const dt = 10 + Math.floor(this.r() * 90);
      this.now += dt;
      this.worldStep(dt);
      this.chaos();
      this.check();
      if (this.r() < 0.3) this.feed({ kind: 'tick' });
      this.runActions();
    }
  }
}

/** Results of promotions that arrive after their deadline passed. */
let lateResults = 0;

const ONE_SEED = process.env.FAILOVER_SIM_SEED;
const SEEDS = ONE_SEED !== undefined ? [Number(ONE_SEED)] : Array.from({ length: 300 }, (_, i) => i + 1);
const STEPS = 3000;

function runSeeds(t: Test, name: string, lim: FailoverLimits, replicas: number): Sim['stats'] {
  const total = { transitions: 0, failovers: 0, switchovers: 0, aborted: 0, lagBlocks: 0, vouched: 0, forced: 0, latePromotions: 0 };
  const failures: string[] = [];
  for (const seed of SEEDS) {
    const sim = new Sim(seed * 7919 + replicas, lim, replicas);
    try {
      sim.run(STEPS);
    } catch (err) {
      if (!(err instanceof Violation)) throw err;
      failures.push(`seed ${seed}: ${err.message}`);
    }
    for (const k of Object.keys(total) as (keyof typeof total)[]) total[k] += sim.stats[k];
  }
  t.strictSame(failures, [], `${name}: no invariant broken over ${SEEDS.length} seeds × ${STEPS} steps`);
  t.comment(`${name}: ${JSON.stringify(total)}`);
  return total;
}

void t.test('async replication, 2 replicas, tight lag bound', async (t) => {
  const s = runSeeds(t, 'async', limits({ promoteLagBytesMax: 4 * MB, promoteTimeoutMs: 1500, waitMs: 1000, failuresBeforeDown: 3 }), 2);
  t.ok(s.failovers > 50, 'failovers happened');
  t.ok(s.switchovers > 10, 'switchovers happened');
  t.ok(s.lagBlocks > 10, 'the lag bound blocked elections');
  t.ok(s.vouched > 10, 'replicas vouched for unreachable primaries');
  t.ok(s.latePromotions > 0, 'timed-out promotions finished late');
  t.ok(lateResults > 0, 'promotion results arrived after their term ended');
});

void t.test('sync replication, 3 replicas, rejoin on', async (t) => {
  const s = runSeeds(t, 'sync', limits({ replication: 'sync', promoteTimeoutMs: 1500, waitMs: 1000, failuresBeforeDown: 2, rejoin: true }), 3);
  t.ok(s.failovers > 50);
  t.ok(s.switchovers > 10);
});

void t.test('liveness: a dead primary with reachable replicas is replaced, even when promotions fail', async (t) => {
  const lim = limits({ promoteTimeoutMs: 1500, failuresBeforeDown: 3 });
  const took: number[] = [];
  for (const seed of SEEDS) {
    const sim = new Sim(seed, lim, 2, false);
    const step = (): void => {
      const dt = 10 + Math.floor(sim.r() * 90);
      sim.now += dt;
      sim.worldStep(dt);
      sim.check();
      sim.feed({ kind: 'tick' });
      sim.runActions();
    };
    for (let i = 0; i < 50; i++) step();
    const killedAt = sim.now;
    sim.node('n0').alive = false;
    for (let i = 0; i < 5000 && (sim.state.primary === null || sim.state.primary === 'n0'); i++) step();
    took.push(sim.state.primary === null || sim.state.primary === 'n0' ? Number.POSITIVE_INFINITY : sim.now - killedAt);
  }
  took.sort((a, b) => a - b);
  t.ok(took.every(Number.isFinite), 'every seed got a new primary');
  t.comment(`time to a new primary (fake ms, checks of random nodes every 10-100 ms): median ${took[took.length >> 1]}, worst ${took[took.length - 1]}`);
});
