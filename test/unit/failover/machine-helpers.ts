// Shared builders for the failover machine's unit tests and simulation: limits, samples, and a
// driver that applies events one after the other and keeps every action emitted.

import { transition } from '../../../topology/failover/failover-machine.js';
import { initialFailoverState } from '../../../topology/failover/initial-state.js';
import type {
  FailoverAction,
  FailoverEvent,
  FailoverLimits,
  FailoverState,
  NodeId,
  NodeSample,
  TransitionResult,
} from '../../../topology/failover/failover-types.js';

export const MB = 1024 * 1024;

export function limits(over: Partial<FailoverLimits> = {}): FailoverLimits {
  return {
    enabled: true,
    replication: 'async',
    failuresBeforeDown: 3,
    promoteLagBytesMax: 16 * MB,
    promoteTimeoutMs: 30_000,
    waitMs: 5_000,
    rejoin: false,
    ...over,
  };
}

export function primarySample(currentLsn: bigint): NodeSample {
  return { role: 'primary', currentLsn, receiveLsn: null, replayLsn: null, receiving: false };
}

export function replicaSample(receiveLsn: bigint | null, replayLsn: bigint | null = receiveLsn, receiving = true, upstream?: NodeId): NodeSample {
  const s: NodeSample = { role: 'replica', currentLsn: null, receiveLsn, replayLsn, receiving };
  return upstream === undefined ? s : { ...s, upstream };
}

/** Applies events in order on a fake clock; `actions` keeps everything emitted. */
export class Driver {
  state: FailoverState;
  now = 1_000;
  readonly actions: FailoverAction[] = [];
  last: TransitionResult | null = null;

  constructor(opts: { primary?: NodeId; replicas?: NodeId[]; limits?: Partial<FailoverLimits>; term?: number } = {}) {
    this.state = initialFailoverState({
      shard: 'shard0',
      primary: opts.primary ?? 'p',
      replicas: opts.replicas ?? ['r1', 'r2'],
      limits: limits(opts.limits),
      term: opts.term ?? 1,
      nowMs: this.now,
    });
  }

  send(event: FailoverEvent, advanceMs = 0): TransitionResult {
    this.now += advanceMs;
    const r = transition(this.state, event, this.now);
    this.state = r.state;
    this.actions.push(...r.actions);
    this.last = r;
    return r;
  }

  sample(node: NodeId, sample: NodeSample, advanceMs = 0): TransitionResult {
    return this.send({ kind: 'sample', node, sample }, advanceMs);
  }

  fail(node: NodeId, times = 1): TransitionResult {
    let r: TransitionResult | null = null;
    for (let i = 0; i < times; i++) r = this.send({ kind: 'check-failed', node, error: 'connection refused' }, 100);
    return r as TransitionResult;
  }

  /** A healthy shard: the primary at `lsn`, each replica streaming at the given LSN. */
  healthy(lsn: bigint, replicas: Record<NodeId, bigint>): void {
    this.sample(this.state.primary ?? 'p', primarySample(lsn));
    for (const [id, l] of Object.entries(replicas)) this.sample(id, replicaSample(l));
  }

  /** The primary dies: replicas stop receiving (keeping their LSNs), then it fails N checks. */
  primaryDies(replicas: Record<NodeId, bigint>): TransitionResult {
    for (const [id, l] of Object.entries(replicas)) this.sample(id, replicaSample(l, l, false));
    return this.fail(this.state.primary ?? 'p', this.state.limits.failuresBeforeDown);
  }
}

export const kinds = (actions: readonly FailoverAction[]): string[] =>
  actions.map((a) => {
    switch (a.kind) {
      case 'pause-writes':
      case 'resume-writes':
        return `${a.kind}@${a.term}`;
      case 'route':
        return `route(${a.primary})@${a.term}`;
      case 'repoint':
      case 'rejoin':
        return `${a.kind}(${a.node}→${a.primary})@${a.term}`;
      case 'catch-up':
        return `catch-up(${a.node}←${a.primary})@${a.term}`;
      case 'fence':
      case 'unfence':
      case 'promote':
        return `${a.kind}(${a.node})@${a.term}`;
    }
  });
