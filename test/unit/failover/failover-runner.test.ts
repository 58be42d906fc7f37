// FailoverRunner: actions run one at a time in order, results go back to the machine, actions of a
// term the machine has left are dropped, and the machine is woken up at its deadline.

import t from 'tap';
import { setTimeout as sleep } from 'node:timers/promises';
import { FailoverRunner } from '../../../proxy/failover/failover-runner.js';
import { silentLogger } from '../../../proxy/logger.js';
import { initialFailoverState } from '../../../topology/failover/initial-state.js';
import type { FailoverAction, FailoverEvent } from '../../../topology/failover/failover-types.js';
import { kinds, limits, primarySample, replicaSample } from './machine-helpers.js';

function setup(over: Parameters<typeof limits>[0], respond: (a: FailoverAction) => Promise<FailoverEvent | null>) {
  const ran: FailoverAction[] = [];
  let running = 0;
  let maxRunning = 0;
  const runner = new FailoverRunner({
    initial: initialFailoverState({ shard: 's', primary: 'p', replicas: ['r1', 'r2'], limits: limits(over), nowMs: Date.now() }),
    log: silentLogger(),
    actions: {
      async run(a) {
        running++;
        maxRunning = Math.max(maxRunning, running);
        ran.push(a);
        try {
          return await respond(a);
        } finally {
          running--;
        }
      },
    },
  });
  const kill = (): void => {
    runner.dispatch({ kind: 'sample', node: 'r1', sample: replicaSample(100n, 100n, false) });
    runner.dispatch({ kind: 'sample', node: 'r2', sample: replicaSample(90n, 90n, false) });
    for (let i = 0; i < 3; i++) runner.dispatch({ kind: 'check-failed', node: 'p', error: 'x' });
  };
  return { runner, ran, kill, maxRunning: () => maxRunning };
}

void t.test('one action at a time, in order, results fed back', async (t) => {
  const s = setup({}, async (a) => {
    await sleep(5);
    if (a.kind === 'fence') return { kind: 'fence-done', term: a.term, node: a.node, applied: false };
    if (a.kind === 'promote') return { kind: 'promote-succeeded', term: a.term, node: a.node };
    if (a.kind === 'repoint') return { kind: 'repoint-done', term: a.term, node: a.node, ok: true };
    return null;
  });
  s.runner.dispatch({ kind: 'sample', node: 'p', sample: primarySample(100n) });
  s.kill();
  await s.runner.idle();
  t.strictSame(kinds(s.ran), ['pause-writes@2', 'fence(p)@2', 'promote(r1)@2', 'route(r1)@2', 'resume-writes@2', 'repoint(r2→r1)@2']);
  t.equal(s.maxRunning(), 1);
  t.equal(s.runner.state.phase, 'done');
  t.equal(s.runner.state.primary, 'r1');
  s.runner.stop();
});

void t.test('the deadline wakes the machine; queued actions of the old term are dropped; a late answer is ignored', async (t) => {
  let releaseFence: () => void = () => undefined;
  const s = setup({ promoteTimeoutMs: 300 }, async (a) => {
    if (a.kind === 'fence' && a.node === 'p') {
      await new Promise<void>((r) => (releaseFence = r)); // a fence that hangs past the promotion deadline
      return { kind: 'fence-done', term: a.term, node: a.node, applied: false };
    }
    if (a.kind === 'promote') return { kind: 'promote-succeeded', term: a.term, node: a.node };
    return null;
  });
  s.kill();
  await sleep(20);
  t.strictSame(kinds(s.ran), ['pause-writes@2', 'fence(p)@2']);
  // r1's deadline passes while the fence hangs: the machine times it out and moves to term 3 by itself.
  for (let i = 0; i < 200 && s.runner.state.term < 3; i++) await sleep(5);
  t.equal(s.runner.state.term, 3);
  t.equal(s.runner.state.attempt?.candidate, 'r2');
  releaseFence();
  await s.runner.idle();
  t.strictSame(kinds(s.ran), ['pause-writes@2', 'fence(p)@2', 'fence(r1)@3', 'promote(r2)@3', 'route(r2)@3', 'resume-writes@3'], 'promote(r1)@2 was never run');
  t.equal(s.runner.state.primary, 'r2');
  s.runner.stop();
});
