// A healthy, routable, caught-up replica's NodeView for unit tests of read routing; `over` changes
// what the test is about.
import type { NodeView } from '../../topology/health/node-health.js';

export function replicaView(database: string, shard: string, address: string, nowMs: number, over: Partial<NodeView> = {}): NodeView {
  return {
    key: `${database}/${shard}/${address}`,
    database,
    shard,
    address,
    configuredRole: 'replica',
    observedRole: 'replica',
    state: 'up',
    up: true,
    failures: 0,
    promoted: false,
    receiving: true,
    upstream: null,
    currentLsn: null,
    receiveLsn: 1000n,
    replayLsn: 1000n,
    lagBytes: 0n,
    lagMs: 0,
    lagAtMs: nowMs,
    routable: true,
    lastCheckAtMs: nowMs,
    sampledAtMs: nowMs,
    lastError: null,
    ...over,
  };
}
