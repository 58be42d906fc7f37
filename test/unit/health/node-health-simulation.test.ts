// Seeded simulation of node health on a fake clock: a primary that commits, replicas that replay at
// their own pace, stop streaming, restart, become unreachable and sometimes get promoted behind the
// proxy's back. Checks (with delays between reading a node and recording the result) feed the pure
// state; after every step the invariants are checked against an independent model:
// - up/down/unknown and the failure count follow the consecutive-failure rule;
// - lag bytes is exactly primary current LSN − replica replay LSN of the recorded samples, never < 0;
// - routable implies up, no failure, a replica, not promoted and both lags within the bounds;
// - the staleness bound read routing uses (lag ms + time since lagAtMs) is never below the replica's
//   true staleness now (age of the oldest commit it has not replayed);
// - promoted is set exactly while a configured replica last reported being a primary;
// - every transition to down is announced once.
import t from 'tap';
import {
  applyCheck,
  buildNodeView,
  initialNodeHealth,
  nodeChanges,
  type CheckOutcome,
  type HealthLimits,
  type HealthSample,
  type NodeHealth,
  type NodeView,
} from '../../../topology/health/node-health.js';
import { stalenessBoundMs } from '../../../topology/replica-choice.js';
import { seededRandom } from '../../helpers/seeded-random.js';

const rng = seededRandom;

interface Commit {
  readonly lsn: bigint;
  readonly atMs: number;
}

interface WorldNode {
  readonly name: string;
  readonly configured: 'primary' | 'replica';
  role: 'primary' | 'replica';
  reachable: boolean;
  /** Replica: replication connection up. */
  streaming: boolean;
  /** Replica: the WAL it received and replayed. */
  received: bigint;
  replayed: bigint;
  /** Replica: pg_last_xact_replay_timestamp() (null after a restart until a commit is replayed). */
  replayTs: number | null;
  /** The commit replayTs belongs to (only a later commit moves it). */
  replayTsLsn: bigint;
}

interface Tracked {
  health: NodeHealth;
  /** Independent model of the rule. */
  consecutive: number;
  everUp: boolean;
  modelState: 'unknown' | 'up' | 'down';
  lastSample: HealthSample | null;
  downAnnounced: number;
  downTransitions: number;
}

const LIMITS: HealthLimits = { failuresBeforeDown: 3, replicaLagBytesMax: 4_000, replicaLagMsMax: 400 };

function simulate(seed: number, steps: number) {
  const random = rng(seed);
  const int = (lo: number, hi: number) => lo + Math.floor(random() * (hi - lo + 1));
  let now = 1_700_000_000_000;
  let walEnd = 0x1_0000_0000n; // the primary's pg_current_wal_lsn()
  const commits: Commit[] = [];
  const world: WorldNode[] = [
    { name: 'p', configured: 'primary', role: 'primary', reachable: true, streaming: false, received: walEnd, replayed: walEnd, replayTs: null, replayTsLsn: 0n },
    ...['r1', 'r2', 'r3'].map(
      (name): WorldNode => ({ name, configured: 'replica', role: 'replica', reachable: true, streaming: true, received: walEnd, replayed: walEnd, replayTs: null, replayTsLsn: 0n }),
    ),
  ];
  const tracked = new Map<string, Tracked>(
    world.map((w) => [w.name, { health: initialNodeHealth(w.configured), consecutive: 0, everUp: false, modelState: 'unknown', lastSample: null, downAnnounced: 0, downTransitions: 0 }]),
  );
  const stats = { routable: 0, unroutable: 0, down: 0, promoted: 0, boundChecks: 0, waits: 0 };
  const problems: string[] = [];

  const primary = world[0]!;

  /** Time passes: the primary commits, replicas receive and replay, things break and heal. */
  function advance(ms: number): void {
    now += ms;
    // "reachable" is the proxy's view only: an unreachable primary may well keep committing
    // (a partition), and replicas keep streaming from it.
    if (random() < 0.6) {
      for (let i = int(1, 4); i > 0; i--) {
        walEnd += BigInt(int(50, 3_000));
        commits.push({ lsn: walEnd, atMs: now });
      }
    }
    if (random() < 0.05) walEnd += BigInt(int(10, 200)); // WAL without a commit (checkpoint...)
    for (const w of world.slice(1)) {
      if (w.role !== 'replica') continue;
      if (w.streaming) w.received = walEnd - (random() < 0.3 ? BigInt(int(0, 2_000)) : 0n);
      if (w.received < w.replayed) w.received = w.replayed;
      // Replay: sometimes all, sometimes part, sometimes paused.
      const r = random();
      if (r < 0.6) w.replayed = w.received;
      else if (r < 0.85) w.replayed += (w.received - w.replayed) / 2n;
      const last = commits[firstAfter(w.replayed) - 1];
      if (last !== undefined && last.lsn > w.replayTsLsn) {
        w.replayTs = last.atMs;
        w.replayTsLsn = last.lsn;
      }
      if (random() < 0.02) w.streaming = !w.streaming;
    }
    for (const w of world) {
      if (random() < 0.02) {
        const wasReachable = w.reachable;
        w.reachable = !w.reachable;
        // Coming back is a restart: the replay timestamp is gone until the next replayed commit.
        if (!wasReachable && w.reachable && w.role === 'replica') w.replayTs = null;
      }
    }
    const candidate = world[int(1, 3)]!;
    if (random() < 0.002 && candidate.role === 'replica') candidate.role = 'primary';
    else if (random() < 0.004 && candidate.role === 'primary') {
      candidate.role = 'replica';
      candidate.replayTs = null;
    }
  }

  function read(w: WorldNode): CheckOutcome {
    if (!w.reachable) return { kind: 'failure', error: random() < 0.5 ? 'connection refused' : 'no answer within 100 ms (health.timeoutMs)' };
    const sample: HealthSample =
      w.role === 'primary'
        ? { role: 'primary', currentLsn: walEnd, receiveLsn: null, replayLsn: w === primary ? null : w.replayed, replayTimestampMs: null, serverNowMs: now, receiving: false, upstream: null }
        : {
            role: 'replica',
            currentLsn: null,
            receiveLsn: w.received,
            replayLsn: w.replayed,
            replayTimestampMs: w.replayTs,
            serverNowMs: now,
            receiving: w.streaming,
            upstream: 'p',
          };
    return { kind: 'sample', sample, startedAtMs: 0 };
  }

  /** Index of the first commit past `lsn` (commits are in LSN order). */
  function firstAfter(lsn: bigint): number {
    let lo = 0;
    let hi = commits.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (commits[mid]!.lsn <= lsn) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }

  /** Age of the oldest commit the replica has not replayed (0 when it has them all). */
  function trueStalenessMs(w: WorldNode): number {
    const missed = commits[firstAfter(w.replayed)];
    return missed === undefined ? 0 : now - missed.atMs;
  }

  const view = (w: WorldNode): NodeView =>
    buildNodeView({ database: 'db', shard: 's0', host: w.name, port: 5432 }, tracked.get(w.name)!.health, tracked.get('p')!.health, LIMITS);

  function check(step: number): void {
    const p = tracked.get('p')!.lastSample;
    for (const w of world) {
      const tr = tracked.get(w.name)!;
      const v = view(w);
      const where = `seed ${seed} step ${step} ${w.name}`;
      if (v.state !== tr.modelState) problems.push(`${where}: state ${v.state}, model ${tr.modelState}`);
      if (v.failures !== tr.consecutive) problems.push(`${where}: failures ${v.failures}, model ${tr.consecutive}`);
      if (w === primary) continue;
      const s = tr.lastSample;
      const expectBytes =
        s !== null && s.role === 'replica' && s.replayLsn !== null && p !== null && p.role === 'primary' && p.currentLsn !== null
          ? p.currentLsn > s.replayLsn ? p.currentLsn - s.replayLsn : 0n
          : null;
      if (v.lagBytes !== expectBytes) problems.push(`${where}: lagBytes ${v.lagBytes}, expected ${expectBytes}`);
      if (v.lagBytes !== null && v.lagBytes < 0n) problems.push(`${where}: negative lag`);
      const expectPromoted = s !== null && s.role === 'primary';
      if (v.promoted !== expectPromoted) problems.push(`${where}: promoted ${v.promoted}, expected ${expectPromoted}`);
      if (v.promoted) stats.promoted++;
      if (v.routable) {
        stats.routable++;
        const okRule =
          v.up && v.failures === 0 && v.observedRole === 'replica' && !v.promoted &&
          v.lagBytes !== null && v.lagBytes <= BigInt(LIMITS.replicaLagBytesMax) && v.lagMs !== null && v.lagMs <= LIMITS.replicaLagMsMax;
        if (!okRule) problems.push(`${where}: routable without meeting the rule ${JSON.stringify({ ...v, lagBytes: String(v.lagBytes) }, (_k, x: unknown) => (typeof x === 'bigint' ? String(x) : x))}`);
        // The staleness bound must hold for what the replica really serves now (it is still a replica).
        if (w.role === 'replica') {
          const bound = stalenessBoundMs(v, now);
          stats.boundChecks++;
          if (bound === null || bound < trueStalenessMs(w)) problems.push(`${where}: staleness bound ${bound} below the true staleness ${trueStalenessMs(w)}`);
        }
      } else {
        stats.unroutable++;
      }
      if (v.state === 'down') stats.down++;
    }
    for (const [name, tr] of tracked) if (tr.downAnnounced !== tr.downTransitions) problems.push(`seed ${seed} step ${step} ${name}: ${tr.downAnnounced} down announcements for ${tr.downTransitions} transitions`);
  }

  for (let step = 0; step < steps && problems.length === 0; step++) {
    advance(int(1, 150));
    const w = world[int(0, world.length - 1)]!;
    const tr = tracked.get(w.name)!;
    const startedAt = now;
    advance(int(0, 30)); // the query reaches the node
    const read0 = read(w);
    const outcome: CheckOutcome = read0.kind === 'sample' ? { ...read0, startedAtMs: startedAt } : read0;
    advance(int(0, 30)); // the answer comes back
    const prev = tr.health;
    tr.health = applyCheck(prev, outcome, now, LIMITS);
    if (nodeChanges(prev, tr.health).includes('down')) tr.downAnnounced++;
    // The model.
    const before = tr.modelState;
    if (outcome.kind === 'sample') {
      tr.consecutive = 0;
      tr.everUp = true;
      tr.modelState = 'up';
      tr.lastSample = outcome.sample;
    } else {
      tr.consecutive++;
      if (tr.consecutive >= LIMITS.failuresBeforeDown) tr.modelState = 'down';
    }
    if (before !== 'down' && tr.modelState === 'down') tr.downTransitions++;
    check(step);
  }
  return { problems, stats };
}

void t.test('node health simulation: 40 seeds × 3000 steps', async (t) => {
  const totals = { routable: 0, unroutable: 0, down: 0, promoted: 0, boundChecks: 0 };
  for (let seed = 1; seed <= 40; seed++) {
    const { problems, stats } = simulate(seed, 3_000);
    t.strictSame(problems.slice(0, 5), [], `seed ${seed}: no invariant broken`);
    for (const k of Object.keys(totals) as (keyof typeof totals)[]) totals[k] += stats[k];
  }
  t.comment(JSON.stringify(totals));
  // The simulation must actually exercise every branch it checks.
  t.ok(totals.routable > 1_000, 'replicas were often routable');
  t.ok(totals.unroutable > 1_000, 'and often not');
  t.ok(totals.down > 100, 'nodes went down');
  t.ok(totals.promoted > 10, 'replicas got promoted');
  t.ok(totals.boundChecks > 1_000, 'the staleness bound was checked');
});

void t.test('the same seed gives the same run', async (t) => {
  t.strictSame(simulate(7, 500).stats, simulate(7, 500).stats);
});
