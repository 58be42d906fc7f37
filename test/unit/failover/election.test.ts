// election.ts on hand-built states: who is a candidate, in which order, the best known LSN the lag
// bound is measured against, and which replicas vouch for a primary the proxy cannot reach.

import t from 'tap';
import { bestKnownLsn, elect, rankCandidates, replicaLsn, replicasStillReceiving } from '../../../topology/failover/election.js';
import { initialFailoverState } from '../../../topology/failover/initial-state.js';
import type { FailoverState, NodeSample } from '../../../topology/failover/failover-types.js';
import type { HealthSample } from '../../../topology/health/node-health.js';
import { limits, primarySample, replicaSample } from './machine-helpers.js';

function state(samples: Record<string, NodeSample | 'down' | null>, over: Partial<FailoverState> = {}): FailoverState {
  const base = initialFailoverState({ shard: 's', primary: 'p', replicas: Object.keys(samples).filter((k) => k !== 'p'), limits: limits(), nowMs: 0 });
  const nodes = base.nodes.map((n) => {
    const s = samples[n.id];
    if (s === undefined || s === null) return n;
    if (s === 'down') return { ...n, failures: 3, last: replicaSample(5000n) };
    return { ...n, last: s, lastAtMs: 0 };
  });
  return { ...base, nodes, ...over };
}

void t.test('replicaLsn: the furthest of received and replayed', async (t) => {
  const n = (s: NodeSample | null) => ({ id: 'x', priority: 0, failures: 0, last: s, lastAtMs: 0 });
  t.equal(replicaLsn(n(replicaSample(10n, 5n))), 10n);
  t.equal(replicaLsn(n(replicaSample(null, 7n))), 7n, 'nothing received since a restart: what it replayed');
  t.equal(replicaLsn(n(replicaSample(3n, 9n))), 9n, 'receive LSN reset below replay after a restart');
  t.equal(replicaLsn(n(replicaSample(null, null))), null);
  t.equal(replicaLsn(n(null)), null);
});

void t.test('candidates: answering, not fenced, not tried, replicas with a known LSN', async (t) => {
  const s = state({
    p: primarySample(100n),
    a: replicaSample(50n),
    down: 'down',
    never: null,
    promoted: primarySample(80n),
    blank: replicaSample(null, null),
    fenced: replicaSample(99n),
    tried: replicaSample(98n),
    b: replicaSample(60n),
  });
  const s2: FailoverState = {
    ...s,
    fenced: [{ node: 'fenced', term: 1, applied: true, inFlight: false }],
    attempt: { kind: 'failover', from: 'p', candidate: null, tried: ['tried'], retryAtMs: null, force: false, manual: false, firstTerm: 2, startedAtMs: 0, deadlineMs: null },
  };
  t.strictSame(rankCandidates(s2).map((n) => n.id), ['b', 'a']);
});

void t.test('best known LSN: the primary and every replica, not what earlier-fenced nodes wrote', async (t) => {
  const s = state({ p: primarySample(100n), a: replicaSample(120n), old: replicaSample(500n) });
  t.equal(bestKnownLsn(s), 500n, 'no attempt: everything unfenced counts');
  const fencedEarlier: FailoverState = { ...s, fenced: [{ node: 'old', term: 1, applied: true, inFlight: false }] };
  t.equal(bestKnownLsn(fencedEarlier), 120n, 'a node fenced earlier is on an abandoned timeline');
  const duringAttempt: FailoverState = {
    ...s,
    primary: null,
    fenced: [
      { node: 'p', term: 2, applied: false, inFlight: false },
      { node: 'old', term: 2, applied: false, inFlight: false },
    ],
    attempt: { kind: 'failover', from: 'p', candidate: null, tried: ['old'], retryAtMs: null, force: false, manual: false, firstTerm: 2, startedAtMs: 0, deadlineMs: null },
  };
  t.equal(bestKnownLsn(duringAttempt), 500n, 'a candidate that failed in this attempt still holds WAL that exists');
  t.equal(bestKnownLsn(state({ p: null, a: null })), null, 'nothing known');
  const e = elect(duringAttempt, limits({ promoteLagBytesMax: 100 }), false);
  t.match(e, { kind: 'blocked', reason: { kind: 'lag', candidate: 'a', lagBytes: 380n } });
  t.match(elect(duringAttempt, limits({ promoteLagBytesMax: 100 }), true), { kind: 'elected', candidate: 'a', lagBytes: 380n });
});

void t.test('vouching replicas: answering, maybe streaming, not from another node of the shard', async (t) => {
  const s = state({
    p: primarySample(1n),
    streams: replicaSample(1n, 1n, true),
    fromP: replicaSample(1n, 1n, true, 'p'),
    fromIdle: replicaSample(1n, 1n, true, 'idle'),
    foreignAddress: replicaSample(1n, 1n, true, 'localhost:5432'),
    unknownStatus: { ...replicaSample(1n, 1n), receiving: null },
    idle: replicaSample(1n, 1n, false),
    down: 'down',
  });
  t.strictSame(replicasStillReceiving(s), ['streams', 'fromP', 'foreignAddress', 'unknownStatus'], 'unknown counts as streaming');
  t.strictSame(replicasStillReceiving({ ...s, primary: null }), [], 'no primary: nobody vouches');
});

void t.test("the health checker's samples are the machine's samples", async (t) => {
  const h: HealthSample = {
    role: 'replica',
    currentLsn: null,
    receiveLsn: 10n,
    replayLsn: 9n,
    replayTimestampMs: null,
    serverNowMs: 0,
    receiving: null,
    upstream: '127.0.0.1:5432',
  };
  const asSample: NodeSample = h; // compile-time contract: a HealthSample can be fed as is
  t.equal(asSample.receiveLsn, 10n);
});
