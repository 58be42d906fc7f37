// resolveInDoubt commits what was decided, rolls back this proxy's undecided transactions once they
// are old enough, and leaves everything else alone. The last test crashes a simulated coordinator at
// every step of a two-phase commit and checks that recovery always ends all-or-nothing.

import t from 'tap';
import { makeGid } from '../../../topology/state/gid.js';
import { finishedDecisions, resolveInDoubt, type PreparedXact } from '../../../topology/state/in-doubt.js';

const ME = 'p1';

void t.test('startup: logged → commit, own unlogged → rollback, others untouched', async (t) => {
  const decided = makeGid(ME);
  const undecided = makeGid(ME);
  const otherProxy = makeGid('p2');
  const now = 1_000_000;
  const prepared: PreparedXact[] = [
    { shard: 0, gid: decided, preparedAtMs: now - 5 },
    { shard: 1, gid: decided, preparedAtMs: now - 5 },
    { shard: 0, gid: undecided, preparedAtMs: now - 1 },
    { shard: 1, gid: otherProxy, preparedAtMs: 0 },
    { shard: 2, gid: 'app_managed_txn', preparedAtMs: 0 },
    { shard: 2, gid: 'pgshard_p1_garbage', preparedAtMs: 0 },
    { shard: 0, gid: decided, preparedAtMs: now - 5 }, // listed twice
  ];
  t.strictSame(resolveInDoubt({ proxyId: ME, logged: new Set([decided]), prepared, nowMs: now, minAgeMs: 0 }), [
    { shard: 0, gid: decided, action: 'commit' },
    { shard: 1, gid: decided, action: 'commit' },
    { shard: 0, gid: undecided, action: 'rollback' },
  ]);
});

void t.test('live: young undecided and active transactions are skipped (fake clock)', async (t) => {
  let now = 50_000;
  const young = makeGid(ME);
  const active = makeGid(ME);
  const preparedAt = now;
  const prepared = [
    { shard: 0, gid: young, preparedAtMs: preparedAt },
    { shard: 3, gid: active, preparedAtMs: preparedAt - 600_000 },
  ];
  const input = () => ({ proxyId: ME, logged: new Set<string>([active]), prepared, nowMs: now, minAgeMs: 60_000, active: new Set([active]) });
  t.strictSame(resolveInDoubt(input()), []);
  now += 59_999;
  t.strictSame(resolveInDoubt(input()), [], 'one ms short of minAgeMs');
  now += 1;
  t.strictSame(resolveInDoubt(input()), [{ shard: 0, gid: young, action: 'rollback' }]);
  // A logged decision is committed whatever its age, unless its coordinator is still at work.
  const logged = makeGid(ME);
  t.strictSame(
    resolveInDoubt({ proxyId: ME, logged: new Set([logged]), prepared: [{ shard: 1, gid: logged, preparedAtMs: now }], nowMs: now, minAgeMs: 60_000 }),
    [{ shard: 1, gid: logged, action: 'commit' }],
  );
});

void t.test('finishedDecisions: forget only what no participant still holds, and only if all were read', async (t) => {
  const done = makeGid(ME);
  const still = makeGid(ME);
  const unread = makeGid(ME);
  const decisions = [
    { gid: done, participants: [0, 1] },
    { gid: still, participants: [0, 1] },
    { gid: unread, participants: [1, 2] },
  ];
  const prepared = [{ shard: 1, gid: still, preparedAtMs: 0 }];
  t.strictSame(finishedDecisions({ decisions, prepared, queriedShards: new Set([0, 1]) }), [done]);
  t.strictSame(finishedDecisions({ decisions, prepared, queriedShards: new Set([0, 1, 2]) }), [done, unread]);
  t.strictSame(finishedDecisions({ decisions, prepared, queriedShards: new Set([0, 1, 2]), active: new Set([done]) }), [unread]);
});

// ------------------------------------------------------------------------------------------------
// Crash at every step of a two-phase commit over 1..4 shards, then recover.

type ShardState = 'open' | 'prepared' | 'committed' | 'rolled back';

void t.test('crash anywhere, recover: every shard ends committed, or none does', async (t) => {
  const failures: string[] = [];
  let scenarios = 0;
  for (let n = 1; n <= 4; n++) {
    // Steps: PREPARE on each shard, then the decision is durable, then COMMIT PREPARED on each.
    const steps = 2 * n + 1;
    for (let crashAfter = 0; crashAfter <= steps; crashAfter++) {
      for (const concurrentForeign of [false, true]) {
        scenarios++;
        const gid = makeGid(ME);
        const shards: ShardState[] = Array.from({ length: n }, () => 'open');
        let logged = false;
        for (let step = 0; step < crashAfter; step++) {
          if (step < n) shards[step] = 'prepared';
          else if (step === n) logged = true;
          else shards[step - n - 1] = 'committed';
        }
        // The crash: open (unprepared) transactions die with their connections.
        for (let s = 0; s < n; s++) if (shards[s] === 'open') shards[s] = 'rolled back';
        const prepared: PreparedXact[] = [];
        for (let s = 0; s < n; s++) if (shards[s] === 'prepared') prepared.push({ shard: s, gid, preparedAtMs: 0 });
        if (concurrentForeign) prepared.push({ shard: 0, gid: makeGid('p2'), preparedAtMs: 0 });
        const actions = resolveInDoubt({ proxyId: ME, logged: new Set(logged ? [gid] : []), prepared, nowMs: 1, minAgeMs: 0 });
        for (const a of actions) {
          if (a.gid !== gid) {
            failures.push(`n=${n} crash=${crashAfter}: touched ${a.gid}`);
            continue;
          }
          if (shards[a.shard] !== 'prepared') failures.push(`n=${n} crash=${crashAfter}: ${a.action} on a ${shards[a.shard]} shard`);
          shards[a.shard] = a.action === 'commit' ? 'committed' : 'rolled back';
        }
        const committed = shards.filter((s) => s === 'committed').length;
        if (committed !== 0 && committed !== n) failures.push(`n=${n} crash=${crashAfter}: ${shards.join(', ')}`);
        if (shards.includes('prepared')) failures.push(`n=${n} crash=${crashAfter}: left prepared`);
        if (logged !== (committed === n)) failures.push(`n=${n} crash=${crashAfter}: outcome differs from the log`);
      }
    }
  }
  t.strictSame(failures, []);
  t.equal(scenarios, 2 * [1, 2, 3, 4].reduce((sum, n) => sum + 2 * n + 2, 0));
});
