// The state a shard's failover machine starts from: from explicit node lists, or from a shard's
// config (nodes `host:port` in config order, their priority) plus what the state store persisted
// (term, current primary, fenced nodes) when the proxy restarts. Pure.

import type { Config, NodeAddress, ShardConfig } from '../config/config-types.js';
import { failoverLimits, nodeIdOf, type FailoverLimits, type FailoverState, type NodeId } from './failover-types.js';

export interface InitialFailoverState {
  readonly shard: string;
  /** The configured (or last persisted) primary. */
  readonly primary: NodeId;
  /** The replicas in config order (their priority). */
  readonly replicas: readonly NodeId[];
  readonly limits: FailoverLimits;
  /** The last persisted term (default 1). */
  readonly term?: number;
  /** Nodes fenced in earlier runs (persisted). */
  readonly fenced?: readonly NodeId[];
  readonly nowMs: number;
}

/**
 * The state of a configured shard: nodes `host:port` in config order (their priority). `persisted`
 * is what the state store kept (term, current primary, fenced nodes) when the proxy restarts.
 */
export function initialStateForShard(
  shard: Pick<ShardConfig, 'name'> & { readonly primary: NodeAddress; readonly replicas: readonly NodeAddress[] },
  config: Pick<Config, 'health' | 'failover'>,
  nowMs: number,
  persisted?: { readonly term: number; readonly primary: NodeId; readonly fenced: readonly NodeId[] },
): FailoverState {
  const ids = [nodeIdOf(shard.primary), ...shard.replicas.map(nodeIdOf)];
  const primary = persisted !== undefined && ids.includes(persisted.primary) ? persisted.primary : (ids[0] as NodeId);
  const state = initialFailoverState({
    shard: shard.name,
    primary: ids[0] as NodeId,
    replicas: ids.slice(1),
    limits: failoverLimits(config),
    nowMs,
    ...(persisted !== undefined ? { term: persisted.term, fenced: persisted.fenced.filter((f) => ids.includes(f)) } : {}),
  });
  return { ...state, primary };
}

export function initialFailoverState(init: InitialFailoverState): FailoverState {
  const ids = [init.primary, ...init.replicas];
  if (new Set(ids).size !== ids.length) throw new Error(`shard ${init.shard}: a node is listed twice`);
  const term = init.term ?? 1;
  if (!Number.isSafeInteger(term) || term < 0) throw new Error(`shard ${init.shard}: bad term ${term}`);
  return {
    shard: init.shard,
    limits: init.limits,
    term,
    primary: init.primary,
    nodes: ids.map((id, priority) => ({ id, priority, failures: 0, last: null, lastAtMs: null })),
    phase: 'normal',
    phaseSinceMs: init.nowMs,
    reason: 'started',
    blocked: null,
    attempt: null,
    fenced: (init.fenced ?? []).map((node) => ({ node, term, applied: false, inFlight: false })),
    repoints: [],
    rejoins: [],
    writesPaused: false,
    lastChange: null,
  };
}
