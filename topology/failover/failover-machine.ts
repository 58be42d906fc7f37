// One shard's failover and switchover as a pure state machine:
//   transition(state, event, nowMs) → { state, actions, rejection }
// No I/O, no timers, no logger: the caller feeds health samples, the results of the actions it ran,
// admin commands and ticks, and carries out the returned actions in order (proxy/failover/).
//
// Safety rules kept here (docs/failover.md):
// - the term grows by one for every promotion attempt and every switchover and never decreases;
//   every action carries the term it was decided in (a fence: the term its transition ends in), the
//   I/O layer drops actions older than the current term, and a result of another term is ignored
//   (except fence-done, a fact about a node, matched to the fence entry of its term);
// - writes are routed to at most one node per term, never to a fenced node;
// - the old primary is fenced (made read-only where reachable, remembered always) before a replica
//   is promoted; a fenced node is re-fenced when it answers again, until the fence is applied;
// - the primary is down after failuresBeforeDown failed checks, and only while no replica that
//   answers still streams WAL from it;
// - async replication: a candidate beyond promoteLagBytesMax is not promoted without FORCE;
// - switchover: writes paused and old primary fenced, the target is promoted only after it replayed
//   everything (caught-up), within failover.waitMs, else everything is undone.

import { assertNever } from '../../planner/assert-never.js';
import { describeBlocked, elect, isFenced, isUp, mayStreamFrom, nodeView, replicasStillReceiving } from './election.js';
import type {
  Attempt,
  FailoverAction,
  FailoverEvent,
  FailoverLimits,
  FailoverPhase,
  FailoverRejection,
  FailoverState,
  FencedNode,
  NodeId,
  NodeSample,
  NodeView,
  TransitionResult,
} from './failover-types.js';

export function transition(state: FailoverState, event: FailoverEvent, nowMs: number): TransitionResult {
  const step = new Step(state, nowMs);
  step.checkDeadline();
  step.apply(event);
  return step.finish();
}

/** An action before it is stamped with its term. */
type Unstamped<A> = A extends unknown ? Omit<A, 'term'> : never;
type PendingAction = Unstamped<FailoverAction>;

/** The phases in which the routed primary's health decides what happens next. */
const WATCHING: ReadonlySet<FailoverPhase> = new Set(['normal', 'suspect', 'done', 'repointing']);

/** Builds one transition: a working copy of the state plus the actions decided so far. */
class Step {
  s: FailoverState;
  rejection: FailoverRejection | null = null;
  private readonly actions: FailoverAction[] = [];
  /** Nodes whose fence entry was (re)written in this step: it gets the final term. */
  private readonly fencedNow = new Set<NodeId>();

  constructor(
    state: FailoverState,
    private readonly now: number,
  ) {
    this.s = state;
  }

  private get limits(): FailoverLimits {
    return this.s.limits;
  }

  /**
   * One event can hold two decisions (a deadline passed, then the event itself starts a failover):
   * actions carry the term they were decided in, and the I/O layer drops those older than the
   * shard's newest term, so what a later decision superseded (a route back to a primary that is
   * fenced right after) never runs. A fence is never superseded: it carries the final term.
   */
  finish(): TransitionResult {
    const term = this.s.term;
    if (this.fencedNow.size > 0) {
      this.s = { ...this.s, fenced: this.s.fenced.map((f) => (this.fencedNow.has(f.node) ? { ...f, term } : f)) };
    }
    const actions = this.actions.map((a) => (a.kind === 'fence' ? { ...a, term } : a));
    return { state: this.s, actions, rejection: this.rejection };
  }

  apply(event: FailoverEvent): void {
    switch (event.kind) {
      case 'sample':
        return this.onSample(event.node, event.sample);
      case 'check-failed':
        return this.onCheckFailed(event.node);
      case 'promote-succeeded':
        if (this.isCurrentPromotion(event.term, event.node)) this.promoted(event.node);
        return;
      case 'promote-failed':
        if (this.isCurrentPromotion(event.term, event.node)) this.promotionFailed(event.node, `failed: ${event.error}`, false);
        return;
      case 'promote-timeout':
        if (this.isCurrentPromotion(event.term, event.node)) this.promotionFailed(event.node, 'timed out', true);
        return;
      case 'fence-done':
        return this.onFenceDone(event.term, event.node, event.applied);
      case 'repoint-done':
        return this.onRepointDone(event.term, event.node, event.ok);
      case 'rejoin-done':
        return this.onRejoinDone(event.term, event.node, event.ok);
      case 'caught-up':
        if (this.isCurrentCatchUp(event.term, event.node)) this.caughtUp(event.node);
        return;
      case 'catch-up-failed':
        if (this.isCurrentCatchUp(event.term, event.node)) this.abortSwitchover(`the target did not catch up: ${event.error}`);
        return;
      case 'failover':
        return this.adminFailover(event.force);
      case 'switchover':
        return this.adminSwitchover(event.target);
      case 'configure':
        return this.configure(event.limits);
      case 'tick':
        return; // deadlines were checked before the event
      default:
        return assertNever(event);
    }
  }

  // ----- deadlines -------------------------------------------------------------------------

  checkDeadline(): void {
    const a = this.s.attempt;
    if (a === null) return;
    if (this.s.phase === 'electing' && a.retryAtMs !== null && this.now >= a.retryAtMs) return this.retryElection();
    if (a.deadlineMs === null || this.now < a.deadlineMs) return;
    if (this.s.phase === 'promoting' && a.candidate !== null) {
      this.promotionFailed(a.candidate, `did not finish within failover.promoteTimeoutMs (${this.limits.promoteTimeoutMs} ms)`, true);
    } else if (this.s.phase === 'catching-up') {
      this.abortSwitchover(`the target did not catch up within failover.waitMs (${this.limits.waitMs} ms)`);
    }
  }

  // ----- health ------------------------------------------------------------------------------

  private onSample(id: NodeId, sample: NodeSample): void {
    if (!this.updateNode(id, (n) => ({ ...n, failures: 0, last: sample, lastAtMs: this.now }))) return;
    // Evaluate first: if a failover starts now, what the node missed must target the next primary.
    this.evaluate();
    this.catchUpWithNode(id);
  }

  private onCheckFailed(id: NodeId): void {
    if (!this.updateNode(id, (n) => ({ ...n, failures: n.failures + 1 }))) return;
    this.evaluate();
  }

  /** A node answered: send it what it missed while it was unreachable (fence, rejoin, repoint). */
  private catchUpWithNode(id: NodeId): void {
    const fence = this.s.fenced.find((f) => f.node === id);
    if (fence !== undefined && !fence.applied && !fence.inFlight) {
      this.setFence(id, { ...fence, inFlight: true });
      this.fencedNow.add(id);
      this.emit({ kind: 'fence', node: id });
    }
    const primary = this.s.primary;
    if (primary === null || this.s.phase === 'catching-up' || this.s.phase === 'promoting') return;
    const rejoin = this.s.rejoins.find((r) => r.node === id);
    if (rejoin !== undefined && rejoin.status === 'waiting') {
      this.s = { ...this.s, rejoins: this.s.rejoins.map((r) => (r.node === id ? { ...r, status: 'sent' } : r)) };
      this.emit({ kind: 'rejoin', node: id, primary });
    }
    const repoint = this.s.repoints.find((r) => r.node === id);
    if (repoint !== undefined && repoint.status === 'waiting') {
      this.s = { ...this.s, repoints: this.s.repoints.map((r) => (r.node === id ? { ...r, status: 'sent' } : r)) };
      this.emit({ kind: 'repoint', node: id, primary });
    }
  }

  /** Re-reads the situation after anything changed: is the primary down, may an election proceed? */
  private evaluate(): void {
    const phase = this.s.phase;
    if (phase === 'electing' && this.s.attempt !== null) return this.retryElection();
    if (!WATCHING.has(phase) && phase !== 'electing') return;
    const primary = this.s.primary;
    if (primary === null) return;
    const p = nodeView(this.s, primary);
    if (p === undefined) return;
    const n = this.limits.failuresBeforeDown;
    if (p.failures === 0) {
      if (phase === 'suspect' || phase === 'electing') this.setPhase('normal', `primary ${primary} answers again`, null);
      return;
    }
    if (p.failures < n) {
      this.setPhase('suspect', `primary ${primary} failed ${p.failures} of ${n} checks`, null);
      return;
    }
    const receiving = replicasStillReceiving(this.s);
    if (receiving.length > 0) {
      this.setPhase('suspect', `primary ${primary} failed ${p.failures} checks but ${receiving.join(', ')} still receive its WAL`, null);
      return;
    }
    if (!this.limits.enabled) {
      const blocked = { kind: 'disabled' } as const;
      this.setPhase('electing', `primary ${primary} is down; ${describeBlocked(blocked)}`, blocked);
      return;
    }
    const election = elect(this.s, this.limits, false);
    if (election.kind === 'blocked') {
      this.setPhase('electing', `primary ${primary} is down; ${describeBlocked(election.reason)}`, election.reason);
      return;
    }
    this.startFailover(primary, election.candidate, false, false);
  }

  /**
   * An attempt whose candidates all failed: promote the next replica that becomes eligible, or,
   * from retryAtMs on, one whose promotion failed without starting.
   */
  private retryElection(): void {
    let a = this.s.attempt;
    if (a === null) return;
    if (a.retryAtMs !== null && this.now >= a.retryAtMs) {
      a = { ...a, tried: a.tried.filter((id) => isFenced(this.s, id)), retryAtMs: null };
      this.s = { ...this.s, attempt: a };
    }
    const election = elect(this.s, this.limits, a.force);
    if (election.kind === 'blocked') {
      if (this.s.blocked === null || describeBlocked(this.s.blocked) !== describeBlocked(election.reason)) {
        this.setPhase('electing', `no primary; ${describeBlocked(election.reason)}`, election.reason);
      }
      return;
    }
    this.promoteNext(election.candidate);
  }

  // ----- failover ------------------------------------------------------------------------------

  /** Term + 1: pause writes, fence the old primary, promote the candidate. */
  private startFailover(from: NodeId, candidate: NodeId, manual: boolean, force: boolean): void {
    const term = this.s.term + 1;
    const attempt: Attempt = {
      kind: 'failover',
      from,
      candidate,
      tried: [],
      retryAtMs: null,
      force,
      manual,
      firstTerm: term,
      startedAtMs: this.now,
      deadlineMs: this.now + this.limits.promoteTimeoutMs,
    };
    this.s = { ...this.s, term, attempt, primary: null, writesPaused: true, repoints: [] };
    this.emit({ kind: 'pause-writes' });
    this.fence(from);
    this.emit({ kind: 'promote', node: candidate, timeoutMs: this.limits.promoteTimeoutMs, deadlineMs: this.now + this.limits.promoteTimeoutMs });
    this.setPhase('promoting', `promoting ${candidate} to replace ${from} (term ${term}${manual ? ', admin' : ''}${force ? ', forced' : ''})`, null);
  }

  /** Another promotion in the same attempt: a new term, so late answers of the previous one are ignored. */
  private promoteNext(candidate: NodeId): void {
    const a = this.s.attempt;
    if (a === null) return;
    const term = this.s.term + 1;
    this.s = { ...this.s, term, attempt: { ...a, candidate, retryAtMs: null, deadlineMs: this.now + this.limits.promoteTimeoutMs } };
    if (!this.s.writesPaused) {
      this.s = { ...this.s, writesPaused: true };
      this.emit({ kind: 'pause-writes' });
    }
    this.emit({ kind: 'promote', node: candidate, timeoutMs: this.limits.promoteTimeoutMs, deadlineMs: this.now + this.limits.promoteTimeoutMs });
    this.setPhase('promoting', `promoting ${candidate} to replace ${a.from} (term ${term}, after ${a.tried.join(', ')})`, null);
  }

  private isCurrentPromotion(term: number, node: NodeId): boolean {
    return term === this.s.term && this.s.phase === 'promoting' && this.s.attempt?.candidate === node;
  }

  private promoted(node: NodeId): void {
    const a = this.s.attempt;
    if (a === null) return;
    const term = this.s.term;
    this.s = {
      ...this.s,
      primary: node,
      attempt: null,
      writesPaused: false,
      lastChange: { kind: a.kind, term, from: a.from, to: node, atMs: this.now, tookMs: this.now - a.startedAtMs },
    };
    this.emit({ kind: 'route', primary: node });
    this.emit({ kind: 'resume-writes' });
    // Every other replica follows the new primary; the ones not answering get it when they do.
    const repoints = this.s.nodes
      .filter((n) => n.id !== node && !isFenced(this.s, n.id))
      .map((n) => ({ node: n.id, status: isUp(n) ? ('sent' as const) : ('waiting' as const) }));
    this.s = { ...this.s, repoints };
    for (const r of repoints) if (r.status === 'sent') this.emit({ kind: 'repoint', node: r.node, primary: node });
    if (this.limits.rejoin) {
      const gone = [a.from, ...a.tried.filter((id) => isFenced(this.s, id))];
      const rejoins = this.s.rejoins.filter((r) => !gone.includes(r.node));
      for (const id of gone) {
        const n = nodeView(this.s, id);
        const fence = this.s.fenced.find((f) => f.node === id);
        // Rejoin only what the fence reached or what is down (the rejoin stops it first anyway).
        const ready = n !== undefined && isUp(n) && fence !== undefined && !fence.inFlight;
        rejoins.push({ node: id, status: ready ? 'sent' : 'waiting' });
        if (ready) this.emit({ kind: 'rejoin', node: id, primary: node });
      }
      this.s = { ...this.s, rejoins };
    }
    const what = a.kind === 'switchover' ? 'switchover' : 'failover';
    if (repoints.some((r) => r.status === 'sent')) this.setPhase('repointing', `${what} to ${node} (term ${term}): re-pointing replicas`, null);
    else this.setPhase('done', `${what} to ${node} (term ${term}) done`, null);
  }

  /** `unknown`: the node may still finish promoting on its own, so it is fenced for good. */
  private promotionFailed(node: NodeId, why: string, unknown: boolean): void {
    const a = this.s.attempt;
    if (a === null) return;
    if (unknown) this.fence(node);
    if (a.kind === 'switchover') {
      // The old primary has everything and is healthy: go back to it rather than promote anything
      // less complete.
      this.abortSwitchover(`promotion of ${node} ${why}`);
      return;
    }
    this.s = { ...this.s, attempt: { ...a, tried: [...a.tried, node], candidate: null, deadlineMs: null } };
    const election = elect(this.s, this.limits, a.force);
    if (election.kind === 'elected') return this.promoteNext(election.candidate);
    const retryAtMs = this.s.attempt?.tried.some((id) => !isFenced(this.s, id)) === true ? this.now + this.limits.promoteTimeoutMs : null;
    if (this.s.attempt !== null) this.s = { ...this.s, attempt: { ...this.s.attempt, retryAtMs } };
    this.setPhase('electing', `promotion of ${node} ${why}; ${describeBlocked(election.reason)}`, election.reason);
  }

  // ----- fencing, repointing, rejoining ----------------------------------------------------------

  /** Remembers `node` as fenced in the current term and asks for the fence to be applied. */
  private fence(node: NodeId): void {
    const entry: FencedNode = { node, term: this.s.term, applied: false, inFlight: true };
    this.s = { ...this.s, fenced: [...this.s.fenced.filter((f) => f.node !== node), entry] };
    this.fencedNow.add(node);
    this.emit({ kind: 'fence', node });
  }

  private setFence(node: NodeId, entry: FencedNode): void {
    this.s = { ...this.s, fenced: this.s.fenced.map((f) => (f.node === node ? entry : f)) };
  }

  /**
   * Whether a fence reached its node is a fact about that node, not a decision: it is recorded for
   * the fence entry of that term even when the shard's term moved on meanwhile.
   */
  private onFenceDone(term: number, node: NodeId, applied: boolean): void {
    const f = this.s.fenced.find((e) => e.node === node);
    if (f === undefined || f.term !== term) return;
    this.setFence(node, { ...f, applied: f.applied || applied, inFlight: false });
  }

  private onRepointDone(term: number, node: NodeId, ok: boolean): void {
    if (term !== this.s.term) return;
    const task = this.s.repoints.find((r) => r.node === node);
    if (task === undefined || task.status !== 'sent') return;
    const repoints = ok
      ? this.s.repoints.filter((r) => r.node !== node)
      : this.s.repoints.map((r) => (r.node === node ? { ...r, status: 'waiting' as const } : r));
    this.s = { ...this.s, repoints };
    if (this.s.phase === 'repointing' && !repoints.some((r) => r.status === 'sent')) {
      const left = repoints.map((r) => r.node);
      this.setPhase('done', `term ${term}: replicas re-pointed${left.length > 0 ? ` (${left.join(', ')} when they answer)` : ''}`, null);
    }
  }

  private onRejoinDone(term: number, node: NodeId, ok: boolean): void {
    if (term !== this.s.term) return;
    const task = this.s.rejoins.find((r) => r.node === node);
    if (task === undefined || task.status !== 'sent') return;
    if (!ok) {
      // pg_rewind failures rarely heal by themselves: left for the operator (shown as failed).
      this.s = { ...this.s, rejoins: this.s.rejoins.map((r) => (r.node === node ? { ...r, status: 'failed' as const } : r)) };
      return;
    }
    // A replica of the current primary again: no longer fenced, and a candidate like the others.
    this.s = {
      ...this.s,
      rejoins: this.s.rejoins.filter((r) => r.node !== node),
      fenced: this.s.fenced.filter((f) => f.node !== node),
    };
  }

  /** New limits; turning rejoin on schedules a rejoin of every fenced node (sent as each answers). */
  private configure(limits: FailoverLimits): void {
    const rejoinNow = limits.rejoin && !this.limits.rejoin;
    this.s = { ...this.s, limits };
    if (rejoinNow) {
      const fresh = this.s.fenced.filter((f) => !this.s.rejoins.some((r) => r.node === f.node)).map((f) => ({ node: f.node, status: 'waiting' as const }));
      this.s = { ...this.s, rejoins: [...this.s.rejoins, ...fresh] };
    }
    this.evaluate();
  }

  // ----- switchover ------------------------------------------------------------------------------

  private isCurrentCatchUp(term: number, node: NodeId): boolean {
    return term === this.s.term && this.s.phase === 'catching-up' && this.s.attempt?.candidate === node;
  }

  private caughtUp(node: NodeId): void {
    const a = this.s.attempt;
    if (a === null) return;
    this.s = { ...this.s, attempt: { ...a, deadlineMs: this.now + this.limits.promoteTimeoutMs } };
    this.emit({ kind: 'promote', node, timeoutMs: this.limits.promoteTimeoutMs, deadlineMs: this.now + this.limits.promoteTimeoutMs });
    this.setPhase('promoting', `switchover: ${node} caught up with ${a.from}, promoting (term ${this.s.term})`, null);
  }

  /** Back to the old primary: unfence it, route to it again, resume writes. */
  private abortSwitchover(why: string): void {
    const a = this.s.attempt;
    if (a === null) return;
    const target = a.candidate;
    this.s = {
      ...this.s,
      primary: a.from,
      attempt: null,
      writesPaused: false,
      fenced: this.s.fenced.filter((f) => f.node !== a.from),
    };
    this.emit({ kind: 'unfence', node: a.from });
    this.emit({ kind: 'route', primary: a.from });
    this.emit({ kind: 'resume-writes' });
    this.setPhase('normal', `switchover to ${target ?? '?'} aborted (term ${this.s.term}): ${why}`, null);
  }

  // ----- admin -------------------------------------------------------------------------------------

  private reject(sqlstate: FailoverRejection['sqlstate'], message: string, hint?: string): void {
    this.rejection = hint === undefined ? { sqlstate, message } : { sqlstate, message, hint };
  }

  private busy(): boolean {
    const phase = this.s.phase;
    if (phase === 'promoting' || phase === 'catching-up' || phase === 'repointing') {
      this.reject('55000', `shard ${this.s.shard}: a ${this.s.attempt?.kind ?? 'failover'} is in progress (${phase}, term ${this.s.term})`);
      return true;
    }
    return false;
  }

  /** FAILOVER shard [FORCE]: promote the best replica now, whatever the primary's checks say. */
  private adminFailover(force: boolean): void {
    if (this.busy()) return;
    const from = this.s.primary ?? this.s.attempt?.from ?? null;
    if (from === null) return this.reject('55000', `shard ${this.s.shard} has no primary to replace`);
    const election = elect(this.s, this.limits, force);
    if (election.kind === 'blocked') {
      const r = election.reason;
      if (r.kind === 'lag') return this.reject('55000', `shard ${this.s.shard}: ${describeBlocked(r)}`, `FAILOVER ${this.s.shard} FORCE promotes it and loses up to ${r.lagBytes} bytes of WAL`);
      return this.reject('08006', `shard ${this.s.shard}: ${describeBlocked(r)}`);
    }
    if (this.s.attempt !== null) {
      // Candidates of an earlier promotion all failed: continue that attempt.
      this.s = { ...this.s, attempt: { ...this.s.attempt, force: this.s.attempt.force || force, manual: true } };
      return this.promoteNext(election.candidate);
    }
    this.startFailover(from, election.candidate, true, force);
  }

  /** SWITCHOVER shard TO node: planned and lossless. */
  private adminSwitchover(target: NodeId): void {
    const t = nodeView(this.s, target);
    if (t === undefined) return this.reject('42704', `shard ${this.s.shard} has no node "${target}"`);
    if (this.busy()) return;
    const from = this.s.primary;
    if (this.s.phase !== 'normal' && this.s.phase !== 'done') {
      return this.reject('55000', `shard ${this.s.shard}: the primary is not healthy (${this.s.phase}: ${this.s.reason})`, `use FAILOVER ${this.s.shard}`);
    }
    if (from === null) return this.reject('55000', `shard ${this.s.shard} has no primary`);
    if (target === from) return this.reject('55000', `${target} is already the primary of shard ${this.s.shard}`);
    if (isFenced(this.s, target)) return this.reject('55000', `${target} is fenced (a former primary or a failed candidate)`);
    const replicaOk = isUp(t) && mayStreamFrom(this.s, t, from);
    if (!replicaOk) return this.reject('55000', `${target} is not a healthy replica streaming from ${from}`);
    const term = this.s.term + 1;
    const attempt: Attempt = {
      kind: 'switchover',
      from,
      candidate: target,
      tried: [],
      retryAtMs: null,
      force: false,
      manual: true,
      firstTerm: term,
      startedAtMs: this.now,
      deadlineMs: this.now + this.limits.waitMs,
    };
    this.s = { ...this.s, term, attempt, primary: null, writesPaused: true, repoints: [] };
    this.emit({ kind: 'pause-writes' });
    this.fence(from);
    this.emit({ kind: 'catch-up', node: target, primary: from, timeoutMs: this.limits.waitMs, deadlineMs: this.now + this.limits.waitMs });
    this.setPhase('catching-up', `switchover to ${target} (term ${term}): writes paused, waiting for it to replay all of ${from}'s WAL`, null);
  }

  // ----- helpers -------------------------------------------------------------------------------

  private emit(action: PendingAction): void {
    this.actions.push({ ...action, term: this.s.term } as FailoverAction);
  }

  private updateNode(id: NodeId, f: (n: NodeView) => NodeView): boolean {
    let found = false;
    const nodes = this.s.nodes.map((n) => {
      if (n.id !== id) return n;
      found = true;
      return f(n);
    });
    if (found) this.s = { ...this.s, nodes };
    return found;
  }

  private setPhase(phase: FailoverPhase, reason: string, blocked: FailoverState['blocked']): void {
    const since = phase === this.s.phase ? this.s.phaseSinceMs : this.now;
    this.s = { ...this.s, phase, phaseSinceMs: since, reason, blocked };
  }
}
