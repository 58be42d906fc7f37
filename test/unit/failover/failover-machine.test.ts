// The failover machine, one rule at a time: when a primary is down, who is elected, the lag bound
// in async mode, the actions and their terms, promotion timeouts, fencing, repointing, rejoining,
// switchover and the admin commands' refusals. The seeded simulation is failover-simulation.test.ts.

import t from 'tap';
import { transition } from '../../../topology/failover/failover-machine.js';
import { initialStateForShard } from '../../../topology/failover/initial-state.js';
import { Driver, MB, kinds, limits, primarySample, replicaSample } from './machine-helpers.js';

const L = (n: number): bigint => BigInt(n);

void t.test('the primary is down after failuresBeforeDown failed checks; the replica with the most WAL is promoted', async (t) => {
  const d = new Driver();
  d.healthy(L(1000), { r1: L(1000), r2: L(1000) });
  d.sample('r1', replicaSample(L(900), L(900), false));
  d.sample('r2', replicaSample(L(950), L(940), false));
  d.fail('p');
  t.equal(d.state.phase, 'suspect');
  t.match(d.state.reason, /failed 1 of 3 checks/);
  d.fail('p');
  t.equal(d.state.phase, 'suspect');
  t.same(d.actions, [], 'nothing happens before the third failure');
  const r = d.fail('p');
  t.strictSame(kinds(r.actions), ['pause-writes@2', 'fence(p)@2', 'promote(r2)@2']);
  t.equal(d.state.term, 2);
  t.equal(d.state.phase, 'promoting');
  t.equal(d.state.primary, null, 'no primary is routable while promoting');
  t.ok(d.state.writesPaused);
  t.match(d.state.fenced, [{ node: 'p', term: 2, applied: false, inFlight: true }]);
  const promote = r.actions.find((a) => a.kind === 'promote');
  t.match(promote, { timeoutMs: 30_000 }, 'the promotion carries failover.promoteTimeoutMs');
});

void t.test('a primary that answers again before the limit goes back to normal', async (t) => {
  const d = new Driver();
  d.healthy(L(100), { r1: L(100), r2: L(100) });
  d.fail('p', 2);
  t.equal(d.state.phase, 'suspect');
  d.sample('p', primarySample(L(120)));
  t.equal(d.state.phase, 'normal');
  d.fail('p', 2);
  t.equal(d.state.phase, 'suspect', 'the failure count started again from zero');
  t.same(d.actions, []);
});

void t.test('a down primary whose WAL a replica still receives is not failed over', async (t) => {
  const d = new Driver();
  d.healthy(L(100), { r1: L(100), r2: L(100) });
  d.sample('r2', replicaSample(L(100), L(100), false));
  d.fail('p', 10);
  t.equal(d.state.phase, 'suspect');
  t.match(d.state.reason, /r1 still receive/);
  t.same(d.actions, []);
  // r1 streams from another node (after a repoint): it does not vouch for p.
  d.sample('r1', replicaSample(L(100), L(100), true, 'r2'));
  t.equal(d.state.phase, 'promoting', 'streaming from another upstream does not count');

  // A receiver status the checker may not see counts as streaming: no failover on a guess.
  const u = new Driver();
  u.healthy(L(100), { r1: L(100), r2: L(100) });
  u.sample('r1', { ...replicaSample(L(100)), receiving: null });
  u.sample('r2', replicaSample(L(100), L(100), false));
  u.fail('p', 5);
  t.equal(u.state.phase, 'suspect');
  t.same(u.actions, []);

  const e = new Driver();
  e.healthy(L(100), { r1: L(100), r2: L(100) });
  e.fail('r1'); // the replica that still streams cannot be asked: it vouches for nobody
  e.sample('r2', replicaSample(L(100), L(100), false));
  e.fail('p', 3);
  t.equal(e.state.phase, 'promoting');
  t.strictSame(kinds(e.actions), ['pause-writes@2', 'fence(p)@2', 'promote(r2)@2']);
});

void t.test('election order: receive LSN, then replay LSN, then config priority', async (t) => {
  const elect = (r1: [number, number], r2: [number, number], r3: [number, number]): string => {
    const d = new Driver({ replicas: ['r1', 'r2', 'r3'] });
    d.sample('p', primarySample(L(1000)));
    d.sample('r1', replicaSample(L(r1[0]), L(r1[1]), false));
    d.sample('r2', replicaSample(L(r2[0]), L(r2[1]), false));
    d.sample('r3', replicaSample(L(r3[0]), L(r3[1]), false));
    const r = d.fail('p', 3);
    const p = r.actions.find((a) => a.kind === 'promote');
    return p?.kind === 'promote' ? p.node : 'none';
  };
  t.equal(elect([900, 900], [990, 800], [950, 950]), 'r2', 'highest receive LSN wins, even with less replayed');
  t.equal(elect([990, 800], [990, 850], [950, 950]), 'r2', 'same received: highest replayed');
  t.equal(elect([990, 900], [990, 900], [990, 900]), 'r1', 'all equal: first in config order');
  t.equal(elect([980, 900], [990, 900], [990, 900]), 'r2', 'priority only breaks ties');
});

void t.test('async: a candidate beyond promoteLagBytesMax waits for FAILOVER ... FORCE', async (t) => {
  const d = new Driver({ limits: { promoteLagBytesMax: 1 * MB } });
  const primaryLsn = L(100 * MB);
  d.healthy(primaryLsn, { r1: primaryLsn, r2: primaryLsn });
  d.primaryDies({ r1: primaryLsn - L(3 * MB), r2: primaryLsn - L(2 * MB) });
  t.equal(d.state.phase, 'electing');
  t.match(d.state.blocked, { kind: 'lag', candidate: 'r2', lagBytes: L(2 * MB), limitBytes: MB });
  t.match(d.state.reason, /r2 is 2097152 bytes behind.*FORCE/);
  t.same(d.actions, [], 'nothing promoted');
  d.send({ kind: 'tick' }, 60_000);
  t.equal(d.state.phase, 'electing', 'time alone changes nothing');

  const refused = d.send({ kind: 'failover', force: false });
  t.match(refused.rejection, { sqlstate: '55000', hint: /FORCE/ });
  t.same(refused.actions, []);
  const forced = d.send({ kind: 'failover', force: true });
  t.equal(forced.rejection, null);
  t.strictSame(kinds(forced.actions), ['pause-writes@2', 'fence(p)@2', 'promote(r2)@2']);
  t.match(d.state.attempt, { force: true, manual: true });
});

void t.test('async: exactly promoteLagBytesMax behind is still promoted; sync mode has no lag bound', async (t) => {
  const at = new Driver({ limits: { promoteLagBytesMax: 1000 } });
  at.healthy(L(5000), { r1: L(5000), r2: L(5000) });
  at.primaryDies({ r1: L(4000), r2: L(3000) });
  t.equal(at.state.phase, 'promoting');

  const sync = new Driver({ limits: { promoteLagBytesMax: 1000, replication: 'sync' } });
  sync.healthy(L(50_000), { r1: L(50_000), r2: L(50_000) });
  sync.primaryDies({ r1: L(4000), r2: L(3000) });
  t.equal(sync.state.phase, 'promoting', 'sync: the most advanced replica has every acknowledged commit');

  // The best known LSN includes what another replica received, not only the primary's last sample.
  const other = new Driver({ limits: { promoteLagBytesMax: 1000 } });
  other.healthy(L(1000), { r1: L(1000), r2: L(1000) });
  other.sample('r1', replicaSample(L(9000), L(9000), false));
  other.fail('r1'); // unreachable now, but what it received is known to exist
  other.sample('r2', replicaSample(L(7000), L(7000), false));
  other.fail('p', 3);
  t.match(other.state.blocked, { kind: 'lag', candidate: 'r2', lagBytes: L(2000) });
});

void t.test('failover.enabled = false: down is detected, nothing promoted until FAILOVER', async (t) => {
  const d = new Driver({ limits: { enabled: false } });
  d.healthy(L(100), { r1: L(100), r2: L(100) });
  d.primaryDies({ r1: L(100), r2: L(100) });
  t.equal(d.state.phase, 'electing');
  t.match(d.state.blocked, { kind: 'disabled' });
  t.same(d.actions, []);
  const r = d.send({ kind: 'failover', force: false });
  t.strictSame(kinds(r.actions), ['pause-writes@2', 'fence(p)@2', 'promote(r1)@2']);
});

void t.test('no reachable replica: electing with a reason; the primary coming back ends it', async (t) => {
  const d = new Driver();
  d.healthy(L(100), { r1: L(100), r2: L(100) });
  d.fail('r1', 3);
  d.fail('r2', 3);
  d.fail('p', 3);
  t.equal(d.state.phase, 'electing');
  t.match(d.state.blocked, { kind: 'no-candidate' });
  t.match(d.send({ kind: 'failover', force: true }).rejection, { sqlstate: '08006' });
  d.sample('p', primarySample(L(100)));
  t.equal(d.state.phase, 'normal');
  t.equal(d.state.blocked, null);
  t.equal(d.state.term, 1, 'no term was spent');
});

void t.test('promotion succeeded: route, resume, repoint the others (late ones when they answer), done', async (t) => {
  const d = new Driver({ replicas: ['r1', 'r2', 'r3'] });
  d.healthy(L(100), { r1: L(100), r2: L(100), r3: L(100) });
  d.fail('r3'); // unreachable at the time of the failover
  d.primaryDies({ r1: L(100), r2: L(100) });
  const ok = d.send({ kind: 'promote-succeeded', term: 2, node: 'r1' }, 500);
  t.strictSame(kinds(ok.actions), ['route(r1)@2', 'resume-writes@2', 'repoint(r2→r1)@2']);
  t.equal(d.state.primary, 'r1');
  t.equal(d.state.phase, 'repointing');
  t.notOk(d.state.writesPaused);
  t.match(d.state.lastChange, { kind: 'failover', term: 2, from: 'p', to: 'r1', tookMs: 500 });
  t.strictSame(d.state.repoints, [
    { node: 'r2', status: 'sent' },
    { node: 'r3', status: 'waiting' },
  ]);
  t.same(d.send({ kind: 'repoint-done', term: 1, node: 'r2', ok: true }).actions, [], 'an older term is ignored');
  t.equal(d.state.repoints.length, 2);
  d.send({ kind: 'repoint-done', term: 2, node: 'r2', ok: true });
  t.equal(d.state.phase, 'done');
  t.match(d.state.reason, /r3 when they answer/);
  const late = d.sample('r3', replicaSample(L(100), L(100), false));
  t.strictSame(kinds(late.actions), ['repoint(r3→r1)@2']);
  const failed = d.send({ kind: 'repoint-done', term: 2, node: 'r3', ok: false, error: 'x' });
  t.same(failed.actions, []);
  t.strictSame(kinds(d.sample('r3', replicaSample(L(100))).actions), ['repoint(r3→r1)@2'], 'a failed repoint is retried when it answers');
  d.send({ kind: 'repoint-done', term: 2, node: 'r3', ok: true });
  t.strictSame(d.state.repoints, []);
  t.notOk(d.actions.some((a) => (a.kind === 'repoint' && (a.primary === 'p' || a.node === 'p')) || (a.kind === 'route' && a.primary === 'p')), 'the old primary is never repointed nor routed');
});

void t.test('a promotion that times out (fenced) or fails (not fenced): next candidate in a new term; late answers ignored', async (t) => {
  const d = new Driver({ limits: { promoteTimeoutMs: 1000 } });
  d.healthy(L(100), { r1: L(100), r2: L(100) });
  d.primaryDies({ r1: L(100), r2: L(90) });
  t.equal(d.state.attempt?.candidate, 'r1');
  const idle = d.send({ kind: 'tick' }, 999);
  t.same(idle.actions, [], 'not yet');
  const timeout = d.send({ kind: 'tick' }, 1);
  t.strictSame(kinds(timeout.actions), ['fence(r1)@3', 'promote(r2)@3']);
  t.equal(d.state.term, 3);
  t.strictSame(d.state.attempt?.tried, ['r1']);
  t.same(d.send({ kind: 'promote-succeeded', term: 2, node: 'r1' }).actions, [], 'the late success of term 2 is ignored');
  t.equal(d.state.primary, null);
  const failed = d.send({ kind: 'promote-failed', term: 3, node: 'r2', error: 'connection refused' });
  t.strictSame(kinds(failed.actions), [], 'it certainly did not promote: not fenced');
  t.equal(d.state.phase, 'electing');
  t.strictSame(d.state.fenced.map((f) => f.node), ['p', 'r1']);
  t.match(d.state.reason, /r2 failed: connection refused.*tried: r1, r2/);
  t.ok(d.state.writesPaused, 'writes stay paused: there is nowhere to send them');
  t.equal(d.state.term, 3);

  // An explicit promote-timeout from the I/O layer is the same as the deadline.
  const e = new Driver({ replicas: ['r1', 'r2', 'r3'] });
  e.healthy(L(100), { r1: L(100), r2: L(100), r3: L(100) });
  e.primaryDies({ r1: L(100), r2: L(100), r3: L(100) });
  const r = e.send({ kind: 'promote-timeout', term: 2, node: 'r1' });
  t.strictSame(kinds(r.actions), ['fence(r1)@3', 'promote(r2)@3']);
  t.same(e.send({ kind: 'promote-timeout', term: 2, node: 'r2' }).actions, [], 'wrong term');
  t.same(e.send({ kind: 'promote-timeout', term: 3, node: 'r1' }).actions, [], 'wrong node');
});

void t.test('after every candidate failed, the next eligible replica is promoted in a new term', async (t) => {
  const d = new Driver({ replicas: ['r1', 'r2', 'r3'] });
  d.healthy(L(100), { r1: L(100), r2: L(100), r3: L(100) });
  d.fail('r3', 3);
  d.primaryDies({ r1: L(100), r2: L(100) });
  d.send({ kind: 'promote-timeout', term: 2, node: 'r1' });
  d.send({ kind: 'promote-timeout', term: 3, node: 'r2' });
  t.equal(d.state.phase, 'electing');
  t.equal(d.state.attempt?.retryAtMs, null, 'both are fenced: nothing to retry');
  const back = d.sample('r3', replicaSample(L(100), L(100), false));
  t.strictSame(kinds(back.actions), ['promote(r3)@4']);
  t.equal(d.state.phase, 'promoting');
  t.equal(d.state.attempt?.from, 'p');
  d.send({ kind: 'promote-succeeded', term: 4, node: 'r3' });
  t.equal(d.state.primary, 'r3');
  t.strictSame(d.state.repoints, [], 'p, r1 and r2 are all fenced: nothing to repoint');
  t.equal(d.state.phase, 'done');
  t.strictSame(d.state.fenced.map((f) => f.node).sort(), ['p', 'r1', 'r2']);
});

void t.test('candidates whose promotion certainly failed are tried again after promoteTimeoutMs', async (t) => {
  const d = new Driver({ limits: { promoteTimeoutMs: 1000 } });
  d.healthy(L(100), { r1: L(100), r2: L(100) });
  d.primaryDies({ r1: L(100), r2: L(100) });
  d.send({ kind: 'promote-failed', term: 2, node: 'r1', error: 'e' });
  d.send({ kind: 'promote-failed', term: 3, node: 'r2', error: 'e' });
  t.equal(d.state.phase, 'electing');
  t.equal(d.state.attempt?.retryAtMs, d.now + 1000);
  t.same(d.sample('r1', replicaSample(L(100), L(100), false), 999).actions, [], 'not before retryAtMs');
  const again = d.send({ kind: 'tick' }, 1);
  t.strictSame(kinds(again.actions), ['promote(r1)@4']);
  t.strictSame(d.state.attempt?.tried, []);
  d.send({ kind: 'promote-succeeded', term: 4, node: 'r1' });
  t.strictSame(kinds(d.last?.actions ?? []), ['route(r1)@4', 'resume-writes@4', 'repoint(r2→r1)@4']);
});

void t.test('a fenced old primary that comes back is fenced for real and never routed to', async (t) => {
  const d = new Driver();
  d.healthy(L(100), { r1: L(100), r2: L(100) });
  d.primaryDies({ r1: L(100), r2: L(100) });
  d.send({ kind: 'fence-done', term: 2, node: 'p', applied: false, error: 'connection refused' });
  t.match(d.state.fenced, [{ node: 'p', applied: false, inFlight: false }]);
  d.send({ kind: 'promote-succeeded', term: 2, node: 'r1' });
  d.send({ kind: 'repoint-done', term: 2, node: 'r2', ok: true });
  const back = d.sample('p', primarySample(L(100)));
  t.strictSame(kinds(back.actions), ['fence(p)@2']);
  t.same(d.sample('p', primarySample(L(100))).actions, [], 'not twice while one is out');
  d.send({ kind: 'fence-done', term: 2, node: 'p', applied: true });
  t.match(d.state.fenced, [{ node: 'p', applied: true, inFlight: false }]);
  t.same(d.sample('p', primarySample(L(100))).actions, []);
  t.equal(d.state.primary, 'r1');
  // The new primary fails: the old one (answering, a primary by role) is never a candidate.
  d.sample('r2', replicaSample(L(200), L(200), false, 'r1'));
  d.fail('r1', 3);
  t.equal(d.state.attempt?.candidate, 'r2');
  t.notOk(d.actions.some((a) => a.kind === 'route' && a.primary === 'p'));
  t.notOk(d.actions.some((a) => a.kind === 'promote' && a.node === 'p'));
});

void t.test('rejoin (when configured): the old primary is rewound once it answers, then is a replica again', async (t) => {
  const d = new Driver({ limits: { rejoin: true } });
  d.healthy(L(100), { r1: L(100), r2: L(100) });
  d.primaryDies({ r1: L(100), r2: L(100) });
  d.send({ kind: 'fence-done', term: 2, node: 'p', applied: false });
  const ok = d.send({ kind: 'promote-succeeded', term: 2, node: 'r1' });
  t.notOk(ok.actions.some((a) => a.kind === 'rejoin'), 'not while it is down');
  t.strictSame(d.state.rejoins, [{ node: 'p', status: 'waiting' }]);
  const back = d.sample('p', primarySample(L(100)));
  t.strictSame(kinds(back.actions), ['fence(p)@2', 'rejoin(p→r1)@2'], 'fenced first, then rejoined');
  d.send({ kind: 'fence-done', term: 2, node: 'p', applied: true });
  d.send({ kind: 'rejoin-done', term: 2, node: 'p', ok: true });
  t.strictSame(d.state.rejoins, []);
  t.strictSame(d.state.fenced, [], 'a rejoined node is a replica like the others');

  const f = new Driver({ limits: { rejoin: true } });
  f.healthy(L(100), { r1: L(100), r2: L(100) });
  f.primaryDies({ r1: L(100), r2: L(100) });
  f.send({ kind: 'fence-done', term: 2, node: 'p', applied: false });
  f.send({ kind: 'promote-succeeded', term: 2, node: 'r1' });
  f.sample('p', primarySample(L(100)));
  f.send({ kind: 'rejoin-done', term: 2, node: 'p', ok: false, error: 'pg_rewind failed' });
  t.strictSame(f.state.rejoins, [{ node: 'p', status: 'failed' }]);
  t.notOk(f.sample('p', primarySample(L(100))).actions.some((a) => a.kind === 'rejoin'), 'a failed rejoin is left to the operator');
  t.match(f.state.fenced, [{ node: 'p' }], 'and the node stays fenced');
});

void t.test('turning rejoin on schedules a rejoin of every fenced node', async (t) => {
  const d = new Driver();
  d.healthy(L(100), { r1: L(100), r2: L(100) });
  d.primaryDies({ r1: L(100), r2: L(100) });
  d.send({ kind: 'fence-done', term: 2, node: 'p', applied: false });
  d.send({ kind: 'promote-succeeded', term: 2, node: 'r1' });
  t.strictSame(d.state.rejoins, []);
  d.send({ kind: 'configure', limits: limits({ rejoin: true }) });
  t.strictSame(d.state.rejoins, [{ node: 'p', status: 'waiting' }]);
  t.strictSame(kinds(d.sample('p', primarySample(L(100))).actions), ['fence(p)@2', 'rejoin(p→r1)@2']);
  d.send({ kind: 'configure', limits: limits({ rejoin: true }) });
  t.strictSame(d.state.rejoins, [{ node: 'p', status: 'sent' }], 'not scheduled twice');
});

void t.test('switchover: pause, fence, catch up, then promote; zero-loss order', async (t) => {
  const d = new Driver({ limits: { waitMs: 2000 } });
  d.healthy(L(100), { r1: L(100), r2: L(100) });
  const start = d.send({ kind: 'switchover', target: 'r2' });
  t.equal(start.rejection, null);
  t.strictSame(kinds(start.actions), ['pause-writes@2', 'fence(p)@2', 'catch-up(r2←p)@2']);
  t.match(start.actions[2], { timeoutMs: 2000 });
  t.equal(d.state.phase, 'catching-up');
  t.equal(d.state.primary, null);
  // Samples meanwhile never start anything, even a sample saying r2 replayed everything.
  t.same(d.sample('r2', replicaSample(L(100))).actions, []);
  t.same(d.send({ kind: 'caught-up', term: 1, node: 'r2' }).actions, [], 'older term');
  t.same(d.send({ kind: 'caught-up', term: 2, node: 'r1' }).actions, [], 'not the target');
  const caught = d.send({ kind: 'caught-up', term: 2, node: 'r2' }, 300);
  t.strictSame(kinds(caught.actions), ['promote(r2)@2']);
  const done = d.send({ kind: 'promote-succeeded', term: 2, node: 'r2' }, 200);
  t.strictSame(kinds(done.actions), ['route(r2)@2', 'resume-writes@2', 'repoint(r1→r2)@2']);
  t.match(d.state.lastChange, { kind: 'switchover', from: 'p', to: 'r2', tookMs: 500 });
  t.match(d.state.fenced, [{ node: 'p' }], 'the old primary stays fenced (read-only) unless it rejoins');
});

void t.test('switchover that cannot finish is undone: unfence, route back, resume', async (t) => {
  const timeout = new Driver({ limits: { waitMs: 2000 } });
  timeout.healthy(L(100), { r1: L(100), r2: L(100) });
  timeout.send({ kind: 'switchover', target: 'r1' });
  const r = timeout.send({ kind: 'tick' }, 2000);
  t.strictSame(kinds(r.actions), ['unfence(p)@2', 'route(p)@2', 'resume-writes@2']);
  t.equal(timeout.state.phase, 'normal');
  t.equal(timeout.state.primary, 'p');
  t.strictSame(timeout.state.fenced, []);
  t.match(timeout.state.reason, /aborted.*waitMs/);
  t.same(timeout.send({ kind: 'caught-up', term: 2, node: 'r1' }).actions, [], 'a late caught-up is ignored');

  const failed = new Driver();
  failed.healthy(L(100), { r1: L(100), r2: L(100) });
  failed.send({ kind: 'switchover', target: 'r1' });
  const f = failed.send({ kind: 'catch-up-failed', term: 2, node: 'r1', error: 'connection refused' });
  t.strictSame(kinds(f.actions), ['unfence(p)@2', 'route(p)@2', 'resume-writes@2']);

  const promoteFails = new Driver();
  promoteFails.healthy(L(100), { r1: L(100), r2: L(100) });
  promoteFails.send({ kind: 'switchover', target: 'r1' });
  promoteFails.send({ kind: 'caught-up', term: 2, node: 'r1' });
  const p = promoteFails.send({ kind: 'promote-timeout', term: 2, node: 'r1' });
  t.strictSame(kinds(p.actions), ['fence(r1)@2', 'unfence(p)@2', 'route(p)@2', 'resume-writes@2'], 'the target may still promote itself: fenced');
  t.equal(promoteFails.state.primary, 'p');
  t.strictSame(promoteFails.state.fenced.map((x) => x.node), ['r1']);
});

void t.test('admin commands that are refused say why, with a SQLSTATE, and change nothing', async (t) => {
  const d = new Driver();
  d.healthy(L(100), { r1: L(100), r2: L(100) });
  const before = d.state;
  t.match(d.send({ kind: 'switchover', target: 'nope' }).rejection, { sqlstate: '42704', message: /no node "nope"/ });
  t.match(d.send({ kind: 'switchover', target: 'p' }).rejection, { sqlstate: '55000', message: /already the primary/ });
  d.sample('r2', replicaSample(L(100), L(100), false));
  t.match(d.send({ kind: 'switchover', target: 'r2' }).rejection, { sqlstate: '55000', message: /not a healthy replica streaming/ });
  d.sample('r2', replicaSample(L(100), L(100), true, 'r1'));
  t.match(d.send({ kind: 'switchover', target: 'r2' }).rejection, { sqlstate: '55000' }, 'streaming from another node');
  d.fail('p');
  t.match(d.send({ kind: 'switchover', target: 'r1' }).rejection, { sqlstate: '55000', hint: /FAILOVER/ }, 'suspect primary');
  t.equal(d.state.term, before.term);
  d.sample('p', primarySample(L(100)));
  d.send({ kind: 'switchover', target: 'r1' });
  t.match(d.send({ kind: 'switchover', target: 'r1' }).rejection, { sqlstate: '55000', message: /in progress/ });
  t.match(d.send({ kind: 'failover', force: true }).rejection, { sqlstate: '55000', message: /in progress/ });
});

void t.test('FAILOVER on a healthy primary: manual failover, lag bound unless FORCE', async (t) => {
  const d = new Driver({ limits: { promoteLagBytesMax: 10 } });
  d.healthy(L(1000), { r1: L(1000), r2: L(995) });
  const r = d.send({ kind: 'failover', force: false });
  t.strictSame(kinds(r.actions), ['pause-writes@2', 'fence(p)@2', 'promote(r1)@2']);
  t.match(d.state.attempt, { manual: true, force: false, from: 'p' });

  const lag = new Driver({ limits: { promoteLagBytesMax: 10 } });
  lag.healthy(L(1000), { r1: L(900), r2: L(800) });
  t.match(lag.send({ kind: 'failover', force: false }).rejection, { sqlstate: '55000' });
  t.equal(lag.send({ kind: 'failover', force: true }).rejection, null);
});

void t.test('every action of a transition carries its final term; terms never decrease', async (t) => {
  const d = new Driver({ limits: { promoteTimeoutMs: 1000 } });
  d.healthy(L(100), { r1: L(100), r2: L(100) });
  d.primaryDies({ r1: L(100), r2: L(100) });
  d.send({ kind: 'fence-done', term: 2, node: 'p', applied: false });
  // One transition, two decisions: the promotion deadline passed (fence r1, promote r2 in term 3)
  // and p answers (fence it for real): every action is stamped with term 3, as are the fence entries.
  const r = transition(d.state, { kind: 'sample', node: 'p', sample: primarySample(L(100)) }, d.now + 1000);
  t.strictSame(kinds(r.actions), ['fence(r1)@3', 'promote(r2)@3', 'fence(p)@3']);
  t.strictSame(r.state.fenced.map((f) => [f.node, f.term]), [['p', 3], ['r1', 3]]);
  t.equal(r.state.term, 3);
  // A repoint owed to a replica is not sent when the same sample starts a failover away from it.
  const e = new Driver();
  e.healthy(L(100), { r1: L(100), r2: L(100) });
  e.fail('r2');
  e.primaryDies({ r1: L(100) });
  e.send({ kind: 'promote-succeeded', term: 2, node: 'r1' });
  t.strictSame(e.state.repoints, [{ node: 'r2', status: 'waiting' }]);
  e.fail('r1', 3);
  t.equal(e.state.phase, 'electing', 'r1 down, r2 still unreachable');
  const back = e.sample('r2', replicaSample(L(100), L(100), false));
  t.strictSame(kinds(back.actions), ['pause-writes@3', 'fence(r1)@3', 'promote(r2)@3'], 'no repoint of r2 to the dead r1');
});

void t.test('configure replaces the limits and re-evaluates', async (t) => {
  const d = new Driver({ limits: { failuresBeforeDown: 5 } });
  d.healthy(L(100), { r1: L(100), r2: L(100) });
  d.sample('r1', replicaSample(L(100), L(100), false));
  d.sample('r2', replicaSample(L(100), L(100), false));
  d.fail('p', 3);
  t.equal(d.state.phase, 'suspect', '3 of 5');
  const r = d.send({ kind: 'configure', limits: limits({ failuresBeforeDown: 3 }) });
  t.strictSame(kinds(r.actions), ['pause-writes@2', 'fence(p)@2', 'promote(r1)@2']);
});

void t.test('unknown nodes and stray results change nothing', async (t) => {
  const d = new Driver();
  d.healthy(L(100), { r1: L(100), r2: L(100) });
  const before = d.state;
  for (const e of [
    { kind: 'sample', node: 'zz', sample: primarySample(L(1)) },
    { kind: 'check-failed', node: 'zz', error: 'x' },
    { kind: 'promote-succeeded', term: 1, node: 'r1' },
    { kind: 'repoint-done', term: 1, node: 'r1', ok: true },
    { kind: 'rejoin-done', term: 1, node: 'p', ok: true },
    { kind: 'fence-done', term: 1, node: 'p', applied: true },
    { kind: 'caught-up', term: 1, node: 'r1' },
    { kind: 'tick' },
  ] as const) {
    const r = d.send(e);
    t.same(r.actions, [], e.kind);
  }
  t.equal(d.state, before, 'the very same state object');
});

void t.test('the initial state of a configured shard: host:port ids in config order, persisted term and primary', async (t) => {
  const shard = { name: 'shard0', primary: { host: '10.0.0.1', port: 5432 }, replicas: [{ host: '10.0.0.2', port: 5432 }, { host: '10.0.0.3', port: 5433 }] };
  const config = {
    health: { intervalMs: 1000, timeoutMs: 1000, failuresBeforeDown: 4, replicaLagBytesMax: 1, replicaLagMsMax: 1, user: null },
    failover: { enabled: true, replication: 'sync' as const, promoteLagBytesMax: 7, waitMs: 100, promoteTimeoutMs: 200, rejoin: true, user: null },
  };
  const s = initialStateForShard(shard, config, 5);
  t.strictSame(s.nodes.map((n) => [n.id, n.priority]), [['10.0.0.1:5432', 0], ['10.0.0.2:5432', 1], ['10.0.0.3:5433', 2]]);
  t.equal(s.primary, '10.0.0.1:5432');
  t.equal(s.term, 1);
  t.strictSame(s.limits, limits({ failuresBeforeDown: 4, replication: 'sync', promoteLagBytesMax: 7, waitMs: 100, promoteTimeoutMs: 200, rejoin: true }));
  const after = initialStateForShard(shard, config, 5, { term: 7, primary: '10.0.0.3:5433', fenced: ['10.0.0.1:5432', 'gone:1'] });
  t.equal(after.term, 7);
  t.equal(after.primary, '10.0.0.3:5433');
  t.strictSame(after.fenced.map((f) => f.node), ['10.0.0.1:5432'], 'fenced nodes no longer configured are forgotten');
  t.throws(() => initialStateForShard({ ...shard, replicas: [shard.primary] }, config, 5), /listed twice/);
});
