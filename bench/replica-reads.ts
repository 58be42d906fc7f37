// Reads on replicas by read consistency (issue #4): "sync reads: ≥ 20,000 write→read pairs per
// session with replica replay artificially delayed, zero stale reads, and ≥ 80% of sync reads served
// by replicas when they are caught up; async reads with lag never exceed the bound".
//
// One cluster (1 shard: a primary and a streaming replica, asynchronous replication) and one proxy
// process (dist/proxy/cli.js start). Every read returns pg_is_in_recovery(), so each one says which
// node served it. Replay is delayed on the replica with recovery_min_apply_delay (ALTER SYSTEM +
// reload) or paused with pg_wal_replay_pause().
//
// Phases:
//   reference  `strong`: the same pairs with every read on the primary (what sync costs)
//   (a) sync, replica caught up: `sessions` concurrent sessions × `pairs` pairs, each on its own key
//   (b) sync, replay 10 ms behind (within reads.syncWaitMs 50): one session × `pairs` pairs
//   (c) sync, replay 300 ms behind (beyond the wait): one session × pairs/10; reads must fall back to
//       the primary
//   (d) bounded, pgshard.max_staleness_ms 200: a writer updates one row continuously (a sequence
//       number and the primary's clock_timestamp()); a reader reads it while the replica's replay is
//       delayed 0 / 500 / 0 / 150 ms, then paused, then resumed. A read that saw sequence number s
//       missed write s+1: its staleness is at least (read start − ack of s+1) and at most (read end −
//       the primary's clock_timestamp() of s+1). No read served by the replica may be staler than the
//       bound.
import { performance } from 'node:perf_hooks';
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { startLocalCluster, type LocalCluster } from '../proxy/demo/local-cluster.js';
import type { PgNode } from '../proxy/demo/postgres-node.js';
import {
  BENCH_ADMIN_USER,
  BENCH_APP_USER,
  BENCH_DB,
  fmtInt,
  median,
  percentile,
  startBenchProxy,
  waitFor,
  type BenchProxy,
} from './failover.js';
import { sleep } from './processes.js';

export const SYNC_REPLICA_SHARE_MIN = 0.8;
const SYNC_WAIT_MS = 50;
const MAX_STALENESS_MS = 200;
/** Checks well below the bound, as docs/replicas.md asks for bounded reads. */
const HEALTH_INTERVAL_MS = 50;

export interface ReplicaReadsOptions {
  pairs: number;
  sessions: number;
}

const now = (): number => performance.timeOrigin + performance.now();

interface PairStats {
  pairs: number;
  stale: number;
  onReplica: number;
  readMs: number[];
  writeMs: number[];
  errors: string[];
}

/** Writes a new value of `key` and reads it back, `pairs` times. */
async function writeReadPairs(c: pg.Client, key: number, pairs: number): Promise<PairStats> {
  const s: PairStats = { pairs: 0, stale: 0, onReplica: 0, readMs: [], writeMs: [], errors: [] };
  for (let i = 1; i <= pairs; i++) {
    try {
      const w0 = now();
      await c.query('UPDATE kv SET v = $2 WHERE k = $1', [key, i]);
      const r0 = now();
      const r = await c.query<{ v: string; replica: boolean }>('SELECT v, pg_is_in_recovery() AS replica FROM kv WHERE k = $1', [key]);
      const r1 = now();
      s.writeMs.push(r0 - w0);
      s.readMs.push(r1 - r0);
      s.pairs++;
      const row = r.rows[0];
      if (row === undefined || Number(row.v) !== i) s.stale++;
      if (row?.replica === true) s.onReplica++;
    } catch (err) {
      s.errors.push(err instanceof Error ? err.message : String(err));
      if (s.errors.length >= 10) break;
    }
  }
  return s;
}

interface PhaseResult {
  label: string;
  delay: string;
  sessions: number;
  pairsPerSession: number;
  stats: PairStats;
  seconds: number;
}

function merge(all: PairStats[]): PairStats {
  return {
    pairs: all.reduce((n, s) => n + s.pairs, 0),
    stale: all.reduce((n, s) => n + s.stale, 0),
    onReplica: all.reduce((n, s) => n + s.onReplica, 0),
    readMs: all.flatMap((s) => s.readMs),
    writeMs: all.flatMap((s) => s.writeMs),
    errors: all.flatMap((s) => s.errors),
  };
}

// ---------------------------------------------------------------------------------------------
// Bounded staleness

interface ClockAck {
  seq: number;
  /** The primary's clock_timestamp() in the UPDATE (ms since the epoch). */
  at: number;
  ackAt: number;
}

interface BoundedRead {
  segment: number;
  start: number;
  end: number;
  seq: number;
  replica: boolean;
}

interface Segment {
  label: string;
  ms: number;
  apply: () => Promise<void>;
}

interface SegmentStats {
  label: string;
  reads: number;
  onReplica: number;
  /** Largest staleness of a replica read: at least / at most (ms). */
  replicaMaxLower: number;
  replicaMaxUpper: number;
  replicaOverBound: number;
  primaryMaxLower: number;
  replicaLowerP50: number;
}

function stalenessOf(read: BoundedRead, acks: readonly ClockAck[]): { lower: number; upper: number } {
  // seq numbers start at 1 and acks[i].seq === i + 1 (one writer, one statement at a time).
  const next = acks[read.seq];
  if (next === undefined) return { lower: 0, upper: 0 };
  return { lower: Math.max(0, read.start - next.ackAt), upper: Math.max(0, read.end - next.at) };
}

async function runBounded(proxyConfig: (user: string) => pg.ClientConfig, replica: PgNode, setDelay: (d: string) => Promise<void>, progress: (line: string) => void): Promise<{ segments: SegmentStats[]; writes: number; errors: string[] }> {
  const writer = new pg.Client(proxyConfig(BENCH_APP_USER));
  const reader = new pg.Client(proxyConfig(BENCH_APP_USER));
  writer.on('error', () => undefined);
  reader.on('error', () => undefined);
  const acks: ClockAck[] = [];
  const reads: BoundedRead[] = [];
  const errors: string[] = [];
  let stopped = false;
  let segment = 0;
  try {
    await writer.connect();
    await reader.connect();
    await writer.query("SET pgshard.read_consistency = 'strong'");
    await reader.query('SET pgshard.read_consistency = bounded');
    await reader.query(`SET pgshard.max_staleness_ms = ${MAX_STALENESS_MS}`);
    const writing = (async () => {
      let seq = 0;
      while (!stopped) {
        seq++;
        try {
          const r = await writer.query<{ at: string }>('UPDATE clock SET seq = $1, at = clock_timestamp() WHERE id = 1 RETURNING (extract(epoch FROM at) * 1000)::float8 AS at', [seq]);
          acks.push({ seq, at: Number(r.rows[0]?.at), ackAt: now() });
        } catch (err) {
          errors.push(`writer: ${err instanceof Error ? err.message : String(err)}`);
          return;
        }
      }
    })();
    const reading = (async () => {
      while (!stopped) {
        try {
          const start = now();
          const r = await reader.query<{ seq: string; replica: boolean }>('SELECT seq, pg_is_in_recovery() AS replica FROM clock WHERE id = 1');
          const end = now();
          reads.push({ segment, start, end, seq: Number(r.rows[0]?.seq), replica: r.rows[0]?.replica === true });
        } catch (err) {
          errors.push(`reader: ${err instanceof Error ? err.message : String(err)}`);
          return;
        }
      }
    })();
    const segments: Segment[] = [
      { label: 'replay not delayed', ms: 3_000, apply: () => setDelay('0') },
      { label: 'recovery_min_apply_delay 500 ms', ms: 4_000, apply: () => setDelay('500ms') },
      { label: 'replay not delayed', ms: 3_000, apply: () => setDelay('0') },
      { label: 'recovery_min_apply_delay 150 ms', ms: 4_000, apply: () => setDelay('150ms') },
      { label: 'replay not delayed', ms: 3_000, apply: () => setDelay('0') },
      { label: 'replay paused (pg_wal_replay_pause)', ms: 3_000, apply: async () => void (await replica.sql('SELECT pg_wal_replay_pause()')) },
      { label: 'replay resumed', ms: 3_000, apply: async () => void (await replica.sql('SELECT pg_wal_replay_resume()')) },
    ];
    for (let i = 0; i < segments.length; i++) {
      const seg = segments[i]!;
      await seg.apply();
      segment = i;
      progress(`replica-reads (d) bounded: ${seg.label}, ${seg.ms / 1000} s`);
      await sleep(seg.ms);
    }
    stopped = true;
    await Promise.all([writing, reading]);
    const stats: SegmentStats[] = segments.map((seg, i) => {
      const mine = reads.filter((r) => r.segment === i);
      const onReplica = mine.filter((r) => r.replica).map((r) => stalenessOf(r, acks));
      const onPrimary = mine.filter((r) => !r.replica).map((r) => stalenessOf(r, acks));
      return {
        label: seg.label,
        reads: mine.length,
        onReplica: onReplica.length,
        replicaMaxLower: Math.max(0, ...onReplica.map((s) => s.lower)),
        replicaMaxUpper: Math.max(0, ...onReplica.map((s) => s.upper)),
        replicaOverBound: onReplica.filter((s) => s.lower > MAX_STALENESS_MS).length,
        primaryMaxLower: Math.max(0, ...onPrimary.map((s) => s.lower)),
        replicaLowerP50: onReplica.length === 0 ? NaN : median(onReplica.map((s) => s.lower)),
      };
    });
    return { segments: stats, writes: acks.length, errors };
  } finally {
    stopped = true;
    await replica.sql('SELECT pg_wal_replay_resume()').catch(() => undefined);
    await writer.end().catch(() => undefined);
    await reader.end().catch(() => undefined);
  }
}

// ---------------------------------------------------------------------------------------------

const f1 = (x: number): string => (Number.isFinite(x) ? x.toFixed(1) : 'n/a');
const f2 = (x: number): string => (Number.isFinite(x) ? x.toFixed(2) : 'n/a');
const pct = (n: number, d: number): string => (d === 0 ? 'n/a' : `${((n / d) * 100).toFixed(1)}%`);

async function connect(config: pg.ClientConfig): Promise<pg.Client> {
  const c = new pg.Client(config);
  c.on('error', () => undefined);
  await c.connect();
  return c;
}

/** Runs the phases; returns the section's markdown. */
export async function runReplicaReadsSection(opts: ReplicaReadsOptions, progress: (line: string) => void): Promise<string[]> {
  const startedAt = new Date();
  const appPassword = randomBytes(12).toString('hex');
  const adminPassword = randomBytes(12).toString('hex');
  let cluster: LocalCluster | null = null;
  let proxy: BenchProxy | null = null;
  const clients: pg.Client[] = [];
  const phases: PhaseResult[] = [];
  let bounded: Awaited<ReturnType<typeof runBounded>> | null = null;
  let failure: string | null = null;
  let version = '?';
  try {
    cluster = await startLocalCluster({
      shards: 1,
      replicas: 1,
      users: [
        { name: BENCH_APP_USER, password: appPassword },
        { name: BENCH_ADMIN_USER, password: adminPassword, superuser: true },
      ],
      databases: [BENCH_DB],
      log: progress,
    });
    const shard = cluster.shards[0]!;
    const primary = shard.primary;
    const replica = shard.replicas[0]!;
    version = String((await primary.sql('SHOW server_version'))[0]?.['server_version'] ?? '?');
    await primary.sql(
      `CREATE TABLE kv (k int PRIMARY KEY, v bigint NOT NULL); INSERT INTO kv SELECT g, 0 FROM generate_series(1, 100) g;
       CREATE TABLE clock (id int PRIMARY KEY, seq bigint NOT NULL, at timestamptz NOT NULL); INSERT INTO clock VALUES (1, 0, clock_timestamp());
       ALTER TABLE kv OWNER TO ${BENCH_APP_USER}; ALTER TABLE clock OWNER TO ${BENCH_APP_USER}`,
      BENCH_DB,
    );
    proxy = await startBenchProxy({
      listen: { host: '127.0.0.1', port: 0 },
      users: [
        { name: BENCH_APP_USER, password: appPassword, auth: 'scram-sha-256' },
        { name: BENCH_ADMIN_USER, password: adminPassword, auth: 'scram-sha-256', admin: true },
      ],
      databases: [{ name: BENCH_DB, shards: [{ name: 'shard0', primary: { host: primary.host, port: primary.port }, replicas: [{ host: replica.host, port: replica.port }] }] }],
      log: { level: 'warn' },
      health: { intervalMs: HEALTH_INTERVAL_MS, user: BENCH_ADMIN_USER },
      reads: { consistency: 'sync', syncWaitMs: SYNC_WAIT_MS, maxStalenessMs: 1_000 },
    });
    const p = proxy;
    const appConfig = (user: string): pg.ClientConfig => p.clientConfig(user, user === BENCH_ADMIN_USER ? adminPassword : appPassword, user === BENCH_ADMIN_USER ? 'pgshard' : BENCH_DB);
    const admin = await connect(appConfig(BENCH_ADMIN_USER));
    clients.push(admin);
    await waitFor('the replica is routable', 30_000, async () =>
      (await admin.query<Record<string, unknown>>('SHOW NODES')).rows.some((r) => r['configured_role'] === 'replica' && r['routable'] === true),
    );

    const setDelay = async (delay: string): Promise<void> => {
      await replica.sql(`ALTER SYSTEM SET recovery_min_apply_delay = '${delay}'`);
      await replica.sql('SELECT pg_reload_conf()');
      const expect = delay === '0' ? '0' : delay;
      await waitFor(`recovery_min_apply_delay = ${delay}`, 10_000, async () => String((await replica.sql('SHOW recovery_min_apply_delay'))[0]?.['recovery_min_apply_delay']) === expect, 20);
    };
    const caughtUp = async (): Promise<void> => {
      const lsn = String((await primary.sql('SELECT pg_current_wal_lsn() AS l'))[0]?.['l']);
      await replica.waitForReplayLsn(lsn, 30_000);
    };

    const runPhase = async (label: string, delay: string, sessions: number, pairs: number, consistency: 'sync' | 'strong', firstKey: number): Promise<void> => {
      await setDelay(delay === '0 ms' ? '0' : delay.replace(' ', ''));
      if (delay === '0 ms') await caughtUp();
      const cs = await Promise.all(Array.from({ length: sessions }, () => connect(appConfig(BENCH_APP_USER))));
      clients.push(...cs);
      for (const c of cs) await c.query(`SET pgshard.read_consistency = ${consistency}`);
      progress(`replica-reads: ${label}: ${sessions} × ${fmtInt(pairs)} pairs...`);
      const t0 = now();
      const all = await Promise.all(cs.map((c, i) => writeReadPairs(c, firstKey + i, pairs)));
      const seconds = (now() - t0) / 1000;
      for (const c of cs) await c.end().catch(() => undefined);
      const stats = merge(all);
      phases.push({ label, delay, sessions, pairsPerSession: pairs, stats, seconds });
      progress(
        `replica-reads: ${label}: ${stats.stale} stale, ${pct(stats.onReplica, stats.pairs)} on the replica, ${fmtInt(stats.pairs / seconds)} pairs/s, read p50 ${f2(median(stats.readMs))} ms p99 ${f2(percentile(stats.readMs, 99))} ms${stats.errors.length ? `, ${stats.errors.length} errors: ${stats.errors[0] ?? ''}` : ''}`,
      );
    };

    await runPhase('reference: strong (reads on the primary)', '0 ms', opts.sessions, opts.pairs, 'strong', 1);
    await runPhase('(a) sync, replica caught up', '0 ms', opts.sessions, opts.pairs, 'sync', 11);
    await runPhase('(b) sync, replay delayed within syncWaitMs', '10 ms', 1, opts.pairs, 'sync', 21);
    await runPhase('(c) sync, replay delayed beyond syncWaitMs', '300 ms', 1, Math.max(100, Math.round(opts.pairs / 10)), 'sync', 31);
    await setDelay('0');
    await caughtUp();
    bounded = await runBounded(appConfig, replica, setDelay, progress);
    await setDelay('0');
  } catch (err) {
    failure = err instanceof Error ? (err.stack ?? err.message) : String(err);
    progress(`replica-reads failed: ${failure}`);
  } finally {
    for (const c of clients) await c.end().catch(() => undefined);
    await proxy?.stop().catch((err: unknown) => progress(`stopping the proxy: ${String(err)}`));
    await cluster?.stop().catch((err: unknown) => progress(`stopping the cluster: ${String(err)}`));
  }

  const a = phases.find((ph) => ph.label.startsWith('(a)'));
  const syncPhases = phases.filter((ph) => ph.label.includes('sync,'));
  const stale = syncPhases.reduce((n, ph) => n + ph.stats.stale, 0);
  const shareA = a === undefined ? NaN : a.stats.onReplica / a.stats.pairs;
  const overBound = bounded?.segments.reduce((n, s) => n + s.replicaOverBound, 0) ?? NaN;
  const row = (ph: PhaseResult): string => {
    const s = ph.stats;
    const share = pct(s.onReplica, s.pairs);
    const shareMark = ph.label.startsWith('(a)') ? ` ${s.onReplica / s.pairs >= SYNC_REPLICA_SHARE_MIN ? '✓' : '✗'}` : '';
    const staleMark = ph.label.includes('sync,') ? ` ${s.stale === 0 ? '✓' : '✗'}` : '';
    return `| ${ph.label} | ${ph.delay} | ${ph.sessions} × ${fmtInt(ph.pairsPerSession)} | ${s.stale}${staleMark} | ${share}${shareMark} | ${fmtInt(s.pairs / ph.seconds)} | ${f2(median(s.readMs))} | ${f2(percentile(s.readMs, 99))} | ${f2(median(s.writeMs))} | ${s.errors.length} |`;
  };
  return [
    '## Replica reads: read consistency (`bench/replica-reads.ts`)',
    '',
    `Run ${startedAt.toISOString()} – ${new Date().toISOString()}. One shard: a PostgreSQL ${version} primary and one streaming replica (asynchronous), a proxy process (\`dist/proxy/cli.js start\`) with \`reads.syncWaitMs ${SYNC_WAIT_MS}\`, \`health.intervalMs ${HEALTH_INTERVAL_MS}\` (the bounded phase needs checks well below its bound), other keys at their defaults. A pair is \`UPDATE kv SET v = $2 WHERE k = $1\` then \`SELECT v, pg_is_in_recovery() FROM kv WHERE k = $1\` on the same session (extended protocol, node-postgres); a read is stale when it does not return the value just written. Each session has its own key. Replay delayed with \`recovery_min_apply_delay\`. Latencies are client round trips in ms.`,
    '',
    '| phase | replay delay | sessions × pairs | stale reads | served by the replica | pairs/s | read p50 | read p99 | write p50 | errors |',
    '|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|',
    ...phases.map(row),
    '',
    `Targets: 0 stale sync reads ${stale === 0 && syncPhases.length === 3 ? '✓' : '✗'} (${stale} in ${fmtInt(syncPhases.reduce((n, ph) => n + ph.stats.pairs, 0))} pairs); ≥ ${SYNC_REPLICA_SHARE_MIN * 100}% of sync reads on the replica when it is caught up: ${pct(a?.stats.onReplica ?? 0, a?.stats.pairs ?? 0)} ${shareA >= SYNC_REPLICA_SHARE_MIN ? '✓' : '✗'}.`,
    '',
    `### (d) bounded: \`pgshard.max_staleness_ms = ${MAX_STALENESS_MS}\``,
    '',
    bounded === null
      ? 'Not run.'
      : `A writer (\`strong\`) updates one row with a sequence number and the primary's \`clock_timestamp()\` as fast as it can (${fmtInt(bounded.writes)} acknowledged updates); a reader (\`bounded\`) reads it back-to-back. For a replica read that saw sequence number s, staleness ≥ read start − acknowledgement of s+1 (the read started after s+1 was acknowledged and did not see it) and ≤ read end − the primary's timestamp of s+1. The bound is violated when the lower figure exceeds ${MAX_STALENESS_MS} ms.`,
    '',
    ...(bounded === null
      ? []
      : [
          '| replay on the replica | reads | on the replica | replica reads: staleness p50 | max (at least) | max (at most) | over the bound | primary reads: max staleness |',
          '|---|---:|---:|---:|---:|---:|---:|---:|',
          ...bounded.segments.map(
            (s) =>
              `| ${s.label} | ${fmtInt(s.reads)} | ${pct(s.onReplica, s.reads)} | ${f1(s.replicaLowerP50)} | ${f1(s.replicaMaxLower)} | ${f1(s.replicaMaxUpper)} | ${s.replicaOverBound} | ${f1(s.primaryMaxLower)} |`,
          ),
          '',
          `Bounded reads served by the replica beyond ${MAX_STALENESS_MS} ms: ${overBound} ${overBound === 0 ? '✓' : '✗'}.${bounded.errors.length > 0 ? ` Errors: ${bounded.errors.join(' | ')}` : ''}`,
          '',
        ]),
    ...(failure === null ? [] : ['Failed:', '', '```', failure, '```', '']),
  ];
}
