// Node health as pure state: up/down after failuresBeforeDown failures and up after one success,
// roles and the promoted flag, lag in bytes and ms, routability at and around each bound, the
// changes announced, and the view SHOW NODES and read routing use.
import t from 'tap';
import {
  applyCheck,
  applyReplayProgress,
  buildNodeView,
  initialNodeHealth,
  isRoutable,
  nodeChanges,
  nodeKey,
  replicaLag,
  routabilityChange,
  type CheckOutcome,
  type HealthLimits,
  type HealthSample,
  type NodeHealth,
} from '../../../topology/health/node-health.js';

const limits: HealthLimits = { failuresBeforeDown: 3, replicaLagBytesMax: 1000, replicaLagMsMax: 500 };
const NOW = 1_700_000_000_000;

function primarySample(currentLsn: bigint, serverNowMs = NOW): HealthSample {
  return { role: 'primary', currentLsn, receiveLsn: null, replayLsn: null, replayTimestampMs: null, serverNowMs, receiving: false, upstream: null };
}

function replicaSample(replayLsn: bigint | null, over: Partial<HealthSample> = {}): HealthSample {
  return {
    role: 'replica',
    currentLsn: null,
    receiveLsn: replayLsn,
    replayLsn,
    replayTimestampMs: NOW - 100,
    serverNowMs: NOW,
    receiving: true,
    upstream: '127.0.0.1:5432',
    ...over,
  };
}

const ok = (sample: HealthSample, startedAtMs = NOW): CheckOutcome => ({ kind: 'sample', sample, startedAtMs });
const fail = (error = 'connection refused'): CheckOutcome => ({ kind: 'failure', error });

function run(state: NodeHealth, outcomes: CheckOutcome[], start = NOW): NodeHealth {
  let s = state;
  outcomes.forEach((o, i) => {
    s = applyCheck(s, o, start + i * 100, limits);
  });
  return s;
}

void t.test('initial state: unknown until the first check', async (t) => {
  const s = initialNodeHealth('replica');
  t.equal(s.state, 'unknown');
  t.equal(s.observedRole, 'unknown');
  t.equal(s.failures, 0);
  t.equal(s.sample, null);
  t.equal(s.lastCheckAtMs, null);
  t.equal(s.promoted, false);
});

void t.test('down after failuresBeforeDown consecutive failures, up after one success', async (t) => {
  let s = run(initialNodeHealth('primary'), [ok(primarySample(10n))]);
  t.equal(s.state, 'up');
  t.equal(s.observedRole, 'primary');
  s = run(s, [fail(), fail()]);
  t.equal(s.state, 'up', 'two failures: still up (failuresBeforeDown = 3)');
  t.equal(s.failures, 2);
  t.equal(s.lastError, 'connection refused');
  t.equal(s.sample?.currentLsn, 10n, 'the last sample is kept while checks fail');
  s = run(s, [ok(primarySample(11n))]);
  t.equal(s.state, 'up');
  t.equal(s.failures, 0, 'a success resets the count');
  t.equal(s.lastError, null, 'and clears the error');
  s = run(s, [fail('a'), fail('b'), fail('timeout')]);
  t.equal(s.state, 'down', 'three consecutive failures: down');
  t.equal(s.lastError, 'timeout', 'the latest error is kept');
  t.equal(s.observedRole, 'primary', 'the last known role stays');
  s = run(s, [fail(), fail()]);
  t.equal(s.state, 'down');
  t.equal(s.failures, 5);
  s = run(s, [ok(primarySample(12n))]);
  t.equal(s.state, 'up', 'one success brings it back');

  // A node that never answered goes from unknown straight to down.
  let n = run(initialNodeHealth('replica'), [fail(), fail()]);
  t.equal(n.state, 'unknown');
  n = run(n, [fail()]);
  t.equal(n.state, 'down');

  // failuresBeforeDown = 1: the first failure is enough.
  const one = applyCheck(run(initialNodeHealth('replica'), [ok(replicaSample(1n))]), fail(), NOW, { failuresBeforeDown: 1 });
  t.equal(one.state, 'down');
});

void t.test('lastCheckAtMs and sampledAtMs', async (t) => {
  let s = applyCheck(initialNodeHealth('replica'), ok(replicaSample(1n), NOW - 30), NOW, limits);
  t.equal(s.lastCheckAtMs, NOW);
  t.equal(s.sampledAtMs, NOW - 30, 'the start of the check: the data is at least that fresh');
  s = applyCheck(s, fail(), NOW + 500, limits);
  t.equal(s.lastCheckAtMs, NOW + 500, 'a failed check also counts as a check');
  t.equal(s.sampledAtMs, NOW - 30, 'but the sample time stays that of the last success');
});

void t.test('promoted: a node expected to be a replica reports primary', async (t) => {
  let r = run(initialNodeHealth('replica'), [ok(replicaSample(5n))]);
  t.equal(r.promoted, false);
  const before = r;
  r = applyCheck(r, ok(primarySample(6n)), NOW, limits);
  t.equal(r.promoted, true);
  t.strictSame(nodeChanges(before, r), ['role', 'promoted']);
  const again = applyCheck(r, ok(primarySample(7n)), NOW, limits);
  t.equal(again.promoted, true, 'stays set while it reports primary');
  t.strictSame(nodeChanges(r, again), [], 'announced once');
  const back = applyCheck(again, ok(replicaSample(7n)), NOW, limits);
  t.equal(back.promoted, false, 'clears when it reports replica again');

  // A configured replica whose very first answer says primary.
  const first = applyCheck(initialNodeHealth('replica'), ok(primarySample(1n)), NOW, limits);
  t.equal(first.promoted, true);
  t.strictSame(nodeChanges(initialNodeHealth('replica'), first), ['up', 'promoted']);

  // A configured primary seen as a replica (rejoined) and then as a primary again: promoted too.
  let p = run(initialNodeHealth('primary'), [ok(primarySample(1n))]);
  t.equal(p.promoted, false);
  p = applyCheck(p, ok(replicaSample(1n)), NOW, limits);
  t.equal(p.promoted, false);
  p = applyCheck(p, ok(primarySample(2n)), NOW, limits);
  t.equal(p.promoted, true, 'it was last seen as a replica');
  p = applyCheck(p, ok(primarySample(3n)), NOW, limits);
  t.equal(p.promoted, true, 'sticky while primary');
});

void t.test('changes announced', async (t) => {
  const a = initialNodeHealth('replica');
  const b = applyCheck(a, ok(replicaSample(1n)), NOW, limits);
  t.strictSame(nodeChanges(a, b), ['up']);
  const c = run(b, [fail(), fail(), fail()]);
  t.strictSame(nodeChanges(b, c), ['down']);
  t.strictSame(nodeChanges(c, c), []);
  const d = applyCheck(c, ok(replicaSample(2n)), NOW, limits);
  t.strictSame(nodeChanges(c, d), ['up']);
  const p = applyCheck(initialNodeHealth('primary'), ok(primarySample(1n)), NOW, limits);
  const demoted = applyCheck(p, ok(replicaSample(1n)), NOW, limits);
  t.strictSame(nodeChanges(p, demoted), ['role'], 'a primary reporting replica is a role change, not a promotion');
  t.equal(routabilityChange(false, true), 'routable');
  t.equal(routabilityChange(true, false), 'unroutable');
  t.equal(routabilityChange(true, true), null);
});

void t.test('lag in bytes and ms', async (t) => {
  // The primary's check started at NOW - 40, the replicas' at NOW - 10.
  const primary = applyCheck(initialNodeHealth('primary'), ok(primarySample(10_000n), NOW - 40), NOW, limits);
  const at = (replay: bigint | null, over: Partial<HealthSample> = {}) => applyCheck(initialNodeHealth('replica'), ok(replicaSample(replay, over), NOW - 10), NOW, limits);
  const unknown = { bytes: null, ms: null, atMs: null };

  t.strictSame(replicaLag(at(10_000n), primary), { bytes: 0n, ms: 0, atMs: NOW - 40 }, 'fully replayed: 0 bytes, 0 ms as of the primary check (however old its last transaction)');
  t.strictSame(replicaLag(at(10_500n), primary), { bytes: 0n, ms: 0, atMs: NOW - 40 }, 'ahead of an older primary sample: 0, never negative');
  t.strictSame(replicaLag(at(9_000n), primary), { bytes: 1000n, ms: 100, atMs: NOW - 10 }, 'behind: bytes from the LSNs, ms = replica now() - last replayed commit, as of the replica check');
  t.strictSame(replicaLag(at(9_000n, { replayTimestampMs: null }), primary), { bytes: 1000n, ms: null, atMs: null }, 'behind with no replayed transaction: ms unknown');
  t.strictSame(replicaLag(at(9_000n, { replayTimestampMs: NOW + 50 }), primary), { bytes: 1000n, ms: 0, atMs: NOW - 10 }, 'clock skew never gives negative ms');
  t.strictSame(replicaLag(at(null), primary), unknown, 'no replay position: unknown');
  t.strictSame(replicaLag(at(9_000n), null), unknown, 'no primary: unknown');
  t.strictSame(replicaLag(at(9_000n), initialNodeHealth('primary')), unknown, 'primary never answered: unknown');
  const demoted = applyCheck(primary, ok(replicaSample(1n)), NOW, limits);
  t.strictSame(replicaLag(at(9_000n), demoted), unknown, 'the "primary" says it is a replica: unknown');
  const promoted = applyCheck(initialNodeHealth('replica'), ok(primarySample(9n)), NOW, limits);
  t.strictSame(replicaLag(promoted, primary), unknown, 'a node reporting primary has no replica lag');
  const big = applyCheck(initialNodeHealth('primary'), ok(primarySample(2n ** 63n)), NOW, limits);
  t.equal(replicaLag(at(1n), big).bytes, 2n ** 63n - 1n, 'exact beyond 2^53');
});

void t.test('routable: up, no failure, replica, not promoted, both lags known and within bounds', async (t) => {
  const primary = applyCheck(initialNodeHealth('primary'), ok(primarySample(10_000n)), NOW, limits);
  const replica = (replay: bigint, tsAgo = 100) =>
    applyCheck(initialNodeHealth('replica'), ok(replicaSample(replay, { replayTimestampMs: NOW - tsAgo })), NOW, limits);
  const routable = (r: NodeHealth) => isRoutable(r, replicaLag(r, primary), limits);

  t.equal(routable(replica(10_000n)), true);
  t.equal(routable(replica(9_000n, 500)), true, 'exactly at both bounds (1000 bytes, 500 ms): routable');
  t.equal(routable(replica(8_999n, 100)), false, 'one byte over');
  t.equal(routable(replica(9_500n, 501)), false, 'one ms over');
  t.equal(routable(replica(9_500n, 10_000)), false, 'old last transaction while behind');
  t.equal(routable(replica(10_000n, 10_000_000)), true, 'old last transaction but nothing to replay: lag 0 ms');
  const noTs = applyCheck(initialNodeHealth('replica'), ok(replicaSample(9_999n, { replayTimestampMs: null })), NOW, limits);
  t.equal(routable(noTs), false, 'unknown ms lag is not routable');
  const failedOnce = applyCheck(replica(10_000n), fail(), NOW, limits);
  t.equal(failedOnce.state, 'up');
  t.equal(routable(failedOnce), false, 'one failed check takes it out of reads (still up for failover)');
  t.equal(routable(applyCheck(failedOnce, ok(replicaSample(10_000n)), NOW, limits)), true, 'one success puts it back');
  t.equal(routable(initialNodeHealth('replica')), false, 'never checked');
  const promoted = applyCheck(replica(10_000n), ok(primarySample(10_000n)), NOW, limits);
  t.equal(isRoutable(promoted, { bytes: 0n, ms: 0, atMs: NOW }, limits), false, 'promoted is never routable');
  t.equal(isRoutable(replica(10_000n), { bytes: null, ms: 0, atMs: NOW }, limits), false, 'unknown bytes');
  t.equal(isRoutable(replica(10_000n), { bytes: 0n, ms: 0, atMs: NOW }, { replicaLagBytesMax: 0, replicaLagMsMax: 0 }), true, 'zero bounds admit a fully replayed replica');
  t.equal(isRoutable(replica(10_000n), { bytes: 2n ** 60n, ms: 0, atMs: NOW }, { replicaLagBytesMax: Number.MAX_SAFE_INTEGER, replicaLagMsMax: 0 }), false, 'bigint comparison past 2^53');
});

void t.test('replay progress from a poll moves replayLsn forward only', async (t) => {
  const r = applyCheck(initialNodeHealth('replica'), ok(replicaSample(100n)), NOW, limits);
  t.equal(applyReplayProgress(r, 150n).sample?.replayLsn, 150n);
  t.equal(applyReplayProgress(r, 50n), r, 'older: unchanged');
  t.equal(applyReplayProgress(r, 100n), r, 'same: unchanged');
  const down = run(r, [fail(), fail(), fail()]);
  t.equal(applyReplayProgress(down, 500n), down, 'not applied to a down node');
  const p = applyCheck(initialNodeHealth('primary'), ok(primarySample(100n)), NOW, limits);
  t.equal(applyReplayProgress(p, 500n), p, 'not applied to a primary');
  const fresh = applyCheck(initialNodeHealth('replica'), ok(replicaSample(null)), NOW, limits);
  t.equal(applyReplayProgress(fresh, 7n).sample?.replayLsn, 7n, 'from unknown');
});

void t.test('views: keys, role-specific fields, the primary is never routable', async (t) => {
  const id = { database: 'appdb', shard: 'shard0', host: '127.0.0.1', port: 5433 };
  t.equal(nodeKey(id), 'appdb/shard0/127.0.0.1:5433');
  const primary = applyCheck(initialNodeHealth('primary'), ok(primarySample(10_000n)), NOW, limits);
  const replica = applyCheck(initialNodeHealth('replica'), ok(replicaSample(9_900n, { receiveLsn: 9_950n })), NOW - 5, limits);
  const pv = buildNodeView({ ...id, port: 5432 }, primary, primary, limits);
  t.equal(pv.routable, false);
  t.equal(pv.currentLsn, 10_000n);
  t.equal(pv.replayLsn, null);
  t.equal(pv.lagBytes, null);
  t.equal(pv.receiving, null);
  t.equal(pv.up, true);
  const rv = buildNodeView(id, replica, primary, limits);
  t.match(rv, {
    key: 'appdb/shard0/127.0.0.1:5433',
    database: 'appdb',
    shard: 'shard0',
    address: '127.0.0.1:5433',
    configuredRole: 'replica',
    observedRole: 'replica',
    state: 'up',
    up: true,
    failures: 0,
    promoted: false,
    receiving: true,
    upstream: '127.0.0.1:5432',
    currentLsn: null,
    receiveLsn: 9_950n,
    replayLsn: 9_900n,
    lagBytes: 100n,
    lagMs: 100,
    lagAtMs: NOW,
    routable: true,
    lastCheckAtMs: NOW - 5,
    sampledAtMs: NOW,
    lastError: null,
  });
  const unchecked = buildNodeView(id, initialNodeHealth('replica'), primary, limits);
  t.match(unchecked, { state: 'unknown', up: false, observedRole: 'unknown', routable: false, lagBytes: null, replayLsn: null });
});
