// Deadlock detection over pools with several connections each: who is deadlocked, who is not
// (someone will hand a connection back), and which wait fails.

import t from 'tap';
import { findDeadlockVictim, type PoolWaits } from '../../../proxy/backend/pool-deadlock.js';

const NOW = 100_000;
const MIN = 1_000;

/** A pool with no free connection, lent to `lentTo`, with `waiters` (holder, waited ms). */
function pool(lentTo: (object | null)[], waiters: [object | null, number][], free = 0): PoolWaits {
  return { free, lentTo, waiters: waiters.map(([holder, waited]) => ({ holder, since: NOW - waited })) };
}

void t.test('two transactions, each holding the connection the other waits for', async (t) => {
  const a = { name: 'a' };
  const b = { name: 'b' };
  const pools = [pool([a], [[b, 1500]]), pool([b], [[a, 2500]])];
  const v = findDeadlockVictim(pools, NOW, MIN);
  t.equal(v?.holder, a, 'the longest wait fails');
  t.equal(v?.pool, 1, 'in the pool it waits for');
  t.equal(v?.sessions, 2);
});

void t.test('no verdict before a wait reaches the timeout', async (t) => {
  const a = {};
  const b = {};
  t.equal(findDeadlockVictim([pool([a], [[b, 999]]), pool([b], [[a, 500]])], NOW, MIN), null);
  // Only waits that are old enough can be the victim; a younger one in the cycle waits its turn.
  const v = findDeadlockVictim([pool([a], [[b, 999]]), pool([b], [[a, 1000]])], NOW, MIN);
  t.equal(v?.holder, a);
});

void t.test('a holder that waits for nothing will hand its connection back: no deadlock', async (t) => {
  const a = {};
  const b = {};
  const idleInTx = {};
  // Pool 0 has two connections: b's and one of a session that runs (or idles in a transaction).
  t.equal(findDeadlockVictim([pool([b, idleInTx], [[a, 5000]]), pool([a], [[b, 5000]])], NOW, MIN), null);
  // A connection lent to the proxy's own work (null) comes back as well.
  t.equal(findDeadlockVictim([pool([b, null], [[a, 5000]]), pool([a], [[b, 5000]])], NOW, MIN), null);
  // Room to open one more connection, or one being opened: not blocked.
  t.equal(findDeadlockVictim([pool([b], [[a, 5000]], 1), pool([a], [[b, 5000]])], NOW, MIN), null);
});

void t.test('a chain that ends in a session that can go on is not a deadlock', async (t) => {
  const a = {};
  const b = {};
  const c = {};
  // a waits for pool 1 (held by b), b waits for pool 2 (held by c), c waits for pool 0, which is free.
  const pools = [pool([a], [[c, 3000]], 1), pool([b], [[a, 3000]]), pool([c], [[b, 3000]])];
  t.equal(findDeadlockVictim(pools, NOW, MIN), null);
  // Without the free connection of pool 0 the three are deadlocked.
  const stuck = [pool([a], [[c, 3000]]), pool([b], [[a, 4000]]), pool([c], [[b, 3500]])];
  const v = findDeadlockVictim(stuck, NOW, MIN);
  t.equal(v?.holder, a, 'a has waited longest (4 s, for pool 1)');
  t.equal(v?.sessions, 3);
});

void t.test('several connections per pool: blocked only when every holder is blocked', async (t) => {
  const s = [{}, {}, {}, {}];
  // Pool 0 (2 connections) held by s0, s1; pool 1 (2 connections) held by s2, s3.
  // s0, s1 wait for pool 1; s2 waits for pool 0; s3 waits for nothing: it finishes, s0 or s1 gets its
  // connection, finishes, and so on.
  const some = [pool([s[0]!, s[1]!], [[s[2]!, 2000]]), pool([s[2]!, s[3]!], [[s[0]!, 2000], [s[1]!, 2000]])];
  t.equal(findDeadlockVictim(some, NOW, MIN), null);
  // s3 waits for pool 0 as well: all four are stuck.
  const all = [pool([s[0]!, s[1]!], [[s[2]!, 2000], [s[3]!, 1500]]), pool([s[2]!, s[3]!], [[s[0]!, 2500], [s[1]!, 2000]])];
  const v = findDeadlockVictim(all, NOW, MIN);
  t.equal(v?.holder, s[0]);
  t.equal(v?.sessions, 4);
});

void t.test('a waiter that holds nothing is never the victim', async (t) => {
  const a = {};
  const b = {};
  const newcomer = {};
  // newcomer waits longest but holds nothing: failing it would free nothing.
  const pools = [pool([a], [[b, 2000], [newcomer, 9000]]), pool([b], [[a, 1500]])];
  const v = findDeadlockVictim(pools, NOW, MIN);
  t.equal(v?.holder, b);
  t.equal(v?.sessions, 3, 'the newcomer is stuck behind the deadlock too');
  // Waits of the proxy's own work (holder null) are neither victims nor reasons to look.
  t.equal(findDeadlockVictim([pool([a], [[null, 9000]])], NOW, MIN), null);
});

void t.test('a session holding several connections of one pool', async (t) => {
  const a = {};
  const b = {};
  // a holds both connections of pool 0 and waits for pool 1, held by b, which waits for pool 0.
  const v = findDeadlockVictim([pool([a, a], [[b, 1200]]), pool([b], [[a, 1100]])], NOW, MIN);
  t.equal(v?.holder, b);
});
