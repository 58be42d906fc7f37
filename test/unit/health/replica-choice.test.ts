// Replica choice for every read consistency level and its edges: no replica, unroutable replicas,
// the sync LSN at/below/above replay, waiting once, syncWaitMs 0, the bounded staleness bound with
// the time since the lag was measured, least in-flight first and tie rotation.
import t from 'tap';
import type { NodeView } from '../../../topology/health/node-health.js';
import { replicaView } from '../../helpers/node-views.js';
import { chooseReplica, stalenessBoundMs, type ReplicaCandidate, type ReplicaChoiceInput } from '../../../topology/replica-choice.js';

const NOW = 1_000_000;

function node(name: string, over: Partial<NodeView> = {}): NodeView {
  return replicaView('db', 's0', `${name}:5432`, NOW, over);
}

const c = (n: NodeView, inFlight = 0): ReplicaCandidate => ({ node: n, inFlight });

function input(over: Partial<ReplicaChoiceInput>): ReplicaChoiceInput {
  return { consistency: 'async', sessionLsn: null, maxStalenessMs: 1000, syncWaitMs: 50, replicas: [], nowMs: NOW, ...over };
}

const picked = (r: ReturnType<typeof chooseReplica>): string => (r.kind === 'replica' ? r.node.address : r.kind === 'primary' ? `primary:${r.reason}` : `wait:${r.lsn}`);

void t.test('strong: always the primary', async (t) => {
  t.strictSame(chooseReplica(input({ consistency: 'strong', replicas: [c(node('a'))] })), { kind: 'primary', reason: 'strong' });
  t.strictSame(chooseReplica(input({ consistency: 'strong' })), { kind: 'primary', reason: 'strong' });
});

void t.test('async: any routable replica, least in-flight first', async (t) => {
  t.equal(picked(chooseReplica(input({}))), 'primary:no-replica', 'no replica configured');
  t.equal(picked(chooseReplica(input({ replicas: [c(node('a', { routable: false })), c(node('b', { routable: false }))] }))), 'primary:no-replica', 'none routable');
  t.equal(picked(chooseReplica(input({ replicas: [c(node('a'), 3), c(node('b'), 1), c(node('c'), 2)] }))), 'b:5432', 'fewest in flight');
  t.equal(picked(chooseReplica(input({ replicas: [c(node('a', { routable: false }), 0), c(node('b'), 9)] }))), 'b:5432', 'an unroutable replica is skipped however idle');
  t.equal(
    picked(chooseReplica(input({ replicas: [c(node('a', { lagMs: 9_999, lagAtMs: 0 }))] }))),
    'a:5432',
    'async ignores staleness beyond routability',
  );
});

void t.test('ties rotate', async (t) => {
  const replicas = [c(node('a'), 1), c(node('b'), 0), c(node('c'), 0), c(node('d'), 0)];
  const seen = [0, 1, 2, 3, 4, 5, -1, 1.7].map((rotation) => picked(chooseReplica(input({ replicas, rotation }))));
  t.strictSame(seen, ['b:5432', 'c:5432', 'd:5432', 'b:5432', 'c:5432', 'd:5432', 'd:5432', 'c:5432'], 'only the least loaded take turns; any number is a valid rotation');
  t.equal(picked(chooseReplica(input({ replicas, rotation: Number.MAX_SAFE_INTEGER }))), ['b:5432', 'c:5432', 'd:5432'][Number.MAX_SAFE_INTEGER % 3]);
});

void t.test('bounded: lag ms plus the time since it was measured, within maxStalenessMs', async (t) => {
  t.equal(stalenessBoundMs(node('a', { lagMs: 100, lagAtMs: NOW - 50 }), NOW), 150);
  t.equal(stalenessBoundMs(node('a', { lagMs: 100, lagAtMs: NOW + 50 }), NOW), 100, 'a clock that went backwards adds nothing');
  t.equal(stalenessBoundMs(node('a', { lagMs: null }), NOW), null);
  t.equal(stalenessBoundMs(node('a', { lagAtMs: null }), NOW), null);
  const b = (replicas: ReplicaCandidate[], maxStalenessMs = 1000) => picked(chooseReplica(input({ consistency: 'bounded', maxStalenessMs, replicas })));
  t.equal(b([c(node('a', { lagMs: 600, lagAtMs: NOW - 400 }))]), 'a:5432', 'exactly at the bound');
  t.equal(b([c(node('a', { lagMs: 600, lagAtMs: NOW - 401 }))]), 'primary:too-stale', '1 ms over');
  t.equal(b([c(node('a', { lagMs: 0, lagAtMs: NOW - 1001 }))]), 'primary:too-stale', 'caught up long ago: the bound has grown since');
  t.equal(b([c(node('a', { lagMs: null, lagAtMs: null }))]), 'primary:too-stale', 'unknown lag');
  t.equal(b([c(node('a', { lagMs: 900, lagAtMs: NOW }), 0), c(node('b', { lagMs: 10, lagAtMs: NOW }), 5)]), 'a:5432', 'among fresh enough, least loaded (not least lagging)');
  t.equal(b([c(node('a', { lagMs: 1200, lagAtMs: NOW }), 0), c(node('b', { lagMs: 10, lagAtMs: NOW }), 5)]), 'b:5432', 'a too stale one is skipped');
  t.equal(b([c(node('a', { routable: false }))]), 'primary:no-replica');
  t.equal(b([c(node('a', { lagMs: 0, lagAtMs: NOW }))], 0), 'a:5432', 'maxStalenessMs 0 admits a replica caught up right now');
  t.equal(b([c(node('a', { lagMs: 0, lagAtMs: NOW - 1 }))], 0), 'primary:too-stale');
});

void t.test('sync: read-your-writes by LSN, wait once, then the primary', async (t) => {
  const s = (over: Partial<ReplicaChoiceInput>) => chooseReplica(input({ consistency: 'sync', ...over }));
  t.equal(picked(s({ sessionLsn: 500n })), 'primary:no-replica', 'no replica');
  t.equal(picked(s({ sessionLsn: null, replicas: [c(node('a'), 2), c(node('b'), 1)] })), 'b:5432', 'no commit recorded: any routable replica');
  t.equal(picked(s({ sessionLsn: 1000n, replicas: [c(node('a'))] })), 'a:5432', 'replay LSN equal to the session LSN');
  t.equal(picked(s({ sessionLsn: 999n, replicas: [c(node('a'))] })), 'a:5432', 'replay past it');
  const behind = node('a', { replayLsn: 900n, lagBytes: 100n, lagMs: 5 });
  const unknownReplay = node('u', { replayLsn: null });
  const waited = s({ sessionLsn: 1000n, replicas: [c(behind, 3), c(unknownReplay, 1), c(node('x', { routable: false, replayLsn: 5000n }))] });
  t.strictSame(
    waited,
    { kind: 'wait', candidates: [unknownReplay, behind], lsn: 1000n, timeoutMs: 50 },
    'nobody replayed it: wait (for routable replicas, least loaded first; an unroutable one never counts even if it replayed)',
  );
  t.equal(picked(s({ sessionLsn: 1000n, replicas: [c(behind)], waited: true })), 'primary:not-replayed', 'after one wait: the primary');
  t.equal(picked(s({ sessionLsn: 1000n, replicas: [c(behind)], syncWaitMs: 0 })), 'primary:not-replayed', 'syncWaitMs 0 never waits');
  t.equal(picked(s({ sessionLsn: 1000n, replicas: [c(node('slow', { replayLsn: 10n, lagMs: 300 }))] })), 'primary:not-replayed', 'a replica lagging far more than the wait (over twice) is not waited for');
  t.equal(picked(s({ sessionLsn: 1000n, replicas: [c(node('slow', { replayLsn: 10n, lagMs: 300 })), c(node('near', { replayLsn: 10n, lagMs: 90 }))] })), 'wait:1000', 'one within twice the wait is');
  t.equal(
    picked(s({ sessionLsn: 1000n, replicas: [c(behind, 0), c(node('b', { replayLsn: 1500n }), 7), c(node('d', { replayLsn: 1000n }), 4)] })),
    'd:5432',
    'of the replicas that replayed it, the least loaded',
  );
  t.equal(picked(s({ sessionLsn: 2n ** 63n, replicas: [c(node('a', { replayLsn: 2n ** 63n - 1n }))], waited: true })), 'primary:not-replayed', 'exact past 2^53');
  t.equal(picked(s({ sessionLsn: 0n, replicas: [c(node('a', { replayLsn: 0n }))] })), 'a:5432', '0/0 is reached by 0/0');
});
