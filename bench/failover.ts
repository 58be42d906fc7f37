// Failover timing (issue #4): kill -9 of a shard's primary under a continuous write load, through the
// built proxy with its own health checks and failover machine. Every trial starts from nothing: a new
// cluster (1 shard: a primary and 2 replicas, synchronous_standby_names = 'ANY 1 (...)'), a new proxy
// process, new writers — a reused cluster would carry the previous trial's timeline, slots and fences.
//
// Per trial: `writers` clients insert unique ids through the proxy, reconnecting after any error, and
// log every acknowledgement; the primary is SIGKILLed; then measured from the kill:
//   - the first acknowledged write that was sent after the kill, and when every writer had one;
//   - when SHOW FAILOVER (admin console, polled) first names another primary;
//   - when the proxy logged the node down, the failover decision, the promotion and the new route;
//   - the statements and connection attempts that failed;
//   - acknowledged writes missing from the new primary (must be 0 with synchronous replication).
// Target: median ≤ 5 s and worst ≤ 10 s from the kill to the first successful write, over ≥ 20 trials,
// with the default checks (health.intervalMs 1000, failuresBeforeDown 3).
//
// The proxy runs as a child process (dist/proxy/cli.js start) so that the writers' event loop does not
// delay its health checks; startBenchProxy() is shared with bench/replica-reads.ts.
// BENCH_FAILOVER_LOG=1 prints each trial's proxy log and every failed statement on stderr.
import { randomBytes } from 'node:crypto';
import { chmod, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { startLocalCluster, type LocalCluster } from '../proxy/demo/local-cluster.js';
import { childPids, pidAlive, type PgNode } from '../proxy/demo/postgres-node.js';
import { sleep, spawnTracked, stopChild } from './processes.js';
import { repoRoot } from './targets.js';

export const FAILOVER_MEDIAN_MS_MAX = 5_000;
export const FAILOVER_WORST_MS_MAX = 10_000;
export const FAILOVER_TRIALS_MIN = 20;

/** A trial whose writes have not come back by then counts as failed at this value. */
const FIRST_WRITE_DEADLINE_MS = 60_000;
/** Pause of a writer after an error before it reconnects. */
const RETRY_PAUSE_MS = 20;
const POLL_MS = 20;

export const BENCH_APP_USER = 'bench';
export const BENCH_ADMIN_USER = 'admin';
export const BENCH_DB = 'bench';

export interface FailoverBenchOptions {
  trials: number;
  intervalMs: number;
  failuresBeforeDown: number;
  writers: number;
}

// ---------------------------------------------------------------------------------------------
// Statistics

export const median = (xs: readonly number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length === 0 ? NaN : s.length % 2 === 1 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
};

/** Nearest-rank percentile (p in 0..100): a value that was measured, not an interpolation. */
export const percentile = (xs: readonly number[], p: number): number => {
  const s = [...xs].sort((a, b) => a - b);
  if (s.length === 0) return NaN;
  return s[Math.min(s.length - 1, Math.max(0, Math.ceil((p / 100) * s.length) - 1))]!;
};

export const fmtInt = (n: number): string => (Number.isFinite(n) ? Math.round(n).toLocaleString('en-US') : 'n/a');

// ---------------------------------------------------------------------------------------------
// The proxy as a child process

export interface ProxyLogRecord {
  /** ms since the epoch, from pino's `time`. */
  at: number;
  msg: string;
  fields: Record<string, unknown>;
}

export interface BenchProxy {
  readonly host: string;
  readonly port: number;
  readonly pid: number;
  /** Every JSON line the proxy logged so far. */
  readonly logs: ProxyLogRecord[];
  alive(): boolean;
  clientConfig(user: string, password: string, database: string): pg.ClientConfig;
  /** SIGTERM (SIGKILL after 10 s), then removes its config and state directory. */
  stop(): Promise<void>;
}

/** `node dist/proxy/cli.js start` with `config` (listen.port 0 is replaced by what it bound). */
export async function startBenchProxy(config: Record<string, unknown>): Promise<BenchProxy> {
  const dir = await mkdtemp(join(tmpdir(), 'pgshard-bench-proxy-'));
  const configFile = join(dir, 'pgshard.json');
  await writeFile(configFile, JSON.stringify({ ...config, state: { dir: join(dir, 'state') } }, null, 2), { mode: 0o600 });
  await chmod(configFile, 0o600);
  const child = spawnTracked(process.execPath, [join(repoRoot, 'dist', 'proxy', 'cli.js'), 'start', '--config', configFile], {
    cwd: dir,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const logs: ProxyLogRecord[] = [];
  const other: string[] = [];
  let partial = '';
  child.stderr?.setEncoding('utf8').on('data', (d: string) => {
    const lines = (partial + d).split('\n');
    partial = lines.pop() ?? '';
    for (const line of lines) {
      if (line === '') continue;
      try {
        const rec = JSON.parse(line) as Record<string, unknown>;
        logs.push({ at: Date.parse(String(rec['time'])), msg: String(rec['msg'] ?? ''), fields: rec });
      } catch {
        other.push(line);
      }
    }
  });
  const running = (): boolean => child.exitCode === null && child.signalCode === null;
  const stop = async (): Promise<void> => {
    await stopChild(child, 'SIGTERM');
    await rm(dir, { recursive: true, force: true });
  };
  let stdout = '';
  try {
    const port = await new Promise<number>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error('pgshard did not print ready: within 30 s')), 30_000);
      child.stdout?.setEncoding('utf8').on('data', (d: string) => {
        stdout += d;
        const m = /^ready: listening on [^\s]+:(\d+)$/m.exec(stdout);
        if (m !== null) {
          clearTimeout(timer);
          resolve(Number(m[1]));
        }
      });
      child.once('exit', (code, signal) => {
        clearTimeout(timer);
        reject(new Error(`pgshard exited (${code ?? signal}) before it was ready: ${[...other, ...logs.map((l) => l.msg)].slice(-5).join(' | ')}`));
      });
    });
    if (child.pid === undefined) throw new Error('pgshard has no pid');
    const pid = child.pid;
    return {
      host: '127.0.0.1',
      port,
      pid,
      logs,
      alive: running,
      clientConfig: (user, password, database) => ({ host: '127.0.0.1', port, user, password, database, connectionTimeoutMillis: 10_000 }),
      stop,
    };
  } catch (err) {
    await stop();
    throw err;
  }
}

/** One statement on a new connection. */
export async function queryOnce(config: pg.ClientConfig, sql: string): Promise<Record<string, unknown>[]> {
  const c = new pg.Client(config);
  c.on('error', () => undefined);
  await c.connect();
  try {
    return (await c.query<Record<string, unknown>>(sql)).rows;
  } finally {
    await c.end().catch(() => undefined);
  }
}

export async function waitFor(what: string, timeoutMs: number, check: () => boolean | Promise<boolean>, everyMs = 50): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown = null;
  for (;;) {
    try {
      if (await check()) return;
    } catch (err) {
      last = err;
    }
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${last === null ? '' : ` (last error: ${String(last)})`}`);
    await sleep(everyMs);
  }
}

const errorCode = (err: unknown): string => (err as { code?: unknown }).code?.toString() ?? '';
const errorText = (err: unknown): string => (err instanceof Error ? err.message : String(err));

// ---------------------------------------------------------------------------------------------
// Writers

interface Ack {
  id: number;
  sentAt: number;
  ackAt: number;
}

interface Failure {
  kind: 'connect' | 'statement';
  sentAt: number;
  at: number;
  code: string;
  message: string;
}

/** One client inserting ids index, index + n, index + 2n, ... through the proxy, one at a time. */
class Writer {
  readonly acks: Ack[] = [];
  readonly failures: Failure[] = [];
  private stopped = false;
  private loop: Promise<void> | null = null;
  private client: pg.Client | null = null;
  private seq = 0;

  constructor(
    private readonly index: number,
    private readonly stride: number,
    private readonly config: pg.ClientConfig,
  ) {}

  start(): void {
    this.loop = this.run();
  }

  private async run(): Promise<void> {
    while (!this.stopped) {
      let kind: Failure['kind'] = 'connect';
      let sentAt = Date.now();
      try {
        if (this.client === null) {
          const c = new pg.Client({ ...this.config, query_timeout: FIRST_WRITE_DEADLINE_MS });
          c.on('error', () => undefined);
          this.client = c;
          await c.connect();
        }
        kind = 'statement';
        const id = ++this.seq * this.stride + this.index;
        sentAt = Date.now();
        await this.client.query('INSERT INTO t (id) VALUES ($1)', [id]);
        this.acks.push({ id, sentAt, ackAt: Date.now() });
      } catch (err) {
        if (this.stopped) break;
        this.failures.push({ kind, sentAt, at: Date.now(), code: errorCode(err), message: errorText(err) });
        const c = this.client;
        this.client = null;
        await c?.end().catch(() => undefined);
        await sleep(RETRY_PAUSE_MS);
      }
    }
  }

  /** The first acknowledgement of a statement sent at or after `t`. */
  firstAckSentFrom(t: number): Ack | undefined {
    return this.acks.find((a) => a.sentAt >= t);
  }

  async stop(): Promise<void> {
    this.stopped = true;
    // A statement stuck in the proxy must not keep the bench waiting: ending the client fails it.
    await Promise.race([this.loop, sleep(5_000)]);
    await this.client?.end().catch(() => undefined);
    await this.loop;
  }
}

// ---------------------------------------------------------------------------------------------
// One trial

export interface TrialResult {
  trial: number;
  /** kill → first acknowledged write sent after every process of the old primary had exited (null: none within the deadline). */
  firstWriteMs: number | null;
  /** kill → the old primary's last process exited. */
  goneMs: number | null;
  /** Writes sent after the kill that the dying old primary still acknowledged. */
  lateAcks: number;
  /** kill → every writer had such a write. */
  allWritersMs: number | null;
  /** kill → SHOW FAILOVER names another primary. */
  routedMs: number | null;
  /** From the proxy's log, relative to the kill. */
  downMs: number | null;
  decidedMs: number | null;
  fenceMs: number | null;
  promotedMs: number | null;
  acked: number;
  lost: number;
  /** Failed statements and connection attempts after the kill (in flight at the kill / sent later). */
  failedInFlight: number;
  failedLater: number;
  failedConnects: number;
  errorKinds: Map<string, number>;
  term: string;
  newPrimary: string;
  /** The proxy's log from the kill until the writers stopped: ms from the kill, message, fields. */
  timeline: string[];
  error: string | null;
}

const nodeId = (n: PgNode): string => `${n.host}:${n.port}`;

/** The failover's own steps and the health verdicts; not every refused connection. */
const TIMELINE_MSG = /^(failover|node |a replica|replica )/;
const TIMELINE_SKIP = new Set(['level', 'time', 'pid', 'hostname', 'app', 'msg', 'component']);

function timelineFields(l: ProxyLogRecord): string {
  const kept = Object.entries(l.fields).filter(([k]) => !TIMELINE_SKIP.has(k));
  return kept.length === 0 ? '' : JSON.stringify(Object.fromEntries(kept)).slice(0, 300);
}

function logTime(proxy: BenchProxy, from: number, match: (r: ProxyLogRecord) => boolean): number | null {
  const r = proxy.logs.find((l) => l.at >= from - 5 && match(l));
  return r === undefined ? null : r.at - from;
}

async function runTrial(trial: number, opts: FailoverBenchOptions, progress: (line: string) => void): Promise<TrialResult> {
  const result: TrialResult = {
    trial,
    firstWriteMs: null,
    goneMs: null,
    lateAcks: 0,
    allWritersMs: null,
    routedMs: null,
    downMs: null,
    decidedMs: null,
    fenceMs: null,
    promotedMs: null,
    acked: 0,
    lost: 0,
    failedInFlight: 0,
    failedLater: 0,
    failedConnects: 0,
    errorKinds: new Map(),
    term: '',
    newPrimary: '',
    timeline: [],
    error: null,
  };
  const appPassword = randomBytes(12).toString('hex');
  const adminPassword = randomBytes(12).toString('hex');
  let cluster: LocalCluster | null = null;
  let proxy: BenchProxy | null = null;
  let admin: pg.Client | null = null;
  const writers: Writer[] = [];
  try {
    cluster = await startLocalCluster({
      shards: 1,
      replicas: 2,
      users: [
        { name: BENCH_APP_USER, password: appPassword },
        { name: BENCH_ADMIN_USER, password: adminPassword, superuser: true },
      ],
      databases: [BENCH_DB],
      synchronous: true,
    });
    const shard = cluster.shards[0]!;
    const oldPrimary = shard.primary;
    await oldPrimary.sql(`CREATE TABLE t (id bigint PRIMARY KEY); ALTER TABLE t OWNER TO ${BENCH_APP_USER}`, BENCH_DB);
    proxy = await startBenchProxy({
      listen: { host: '127.0.0.1', port: 0 },
      users: [
        { name: BENCH_APP_USER, password: appPassword, auth: 'scram-sha-256' },
        { name: BENCH_ADMIN_USER, password: adminPassword, auth: 'scram-sha-256', admin: true },
      ],
      databases: [
        {
          name: BENCH_DB,
          shards: [{ name: 'shard0', primary: { host: oldPrimary.host, port: oldPrimary.port }, replicas: shard.replicas.map((r) => ({ host: r.host, port: r.port })) }],
        },
      ],
      log: { level: 'info' },
      // Defaults everywhere else (health.timeoutMs, failover.waitMs, promoteTimeoutMs, reads).
      health: { intervalMs: opts.intervalMs, failuresBeforeDown: opts.failuresBeforeDown, user: BENCH_ADMIN_USER },
      failover: { user: BENCH_ADMIN_USER, replication: 'sync' },
    });
    const p = proxy;
    const adminConfig = p.clientConfig(BENCH_ADMIN_USER, adminPassword, 'pgshard');
    const a = new pg.Client(adminConfig);
    a.on('error', () => undefined);
    await a.connect();
    admin = a;
    await waitFor('the proxy sees all 3 nodes up', 30_000, async () => {
      const rows = (await a.query<Record<string, unknown>>('SHOW NODES')).rows;
      return rows.length === 3 && rows.every((r) => r['state'] === 'up');
    });
    const failoverRow = async (): Promise<Record<string, unknown>> => (await a.query<Record<string, unknown>>('SHOW FAILOVER')).rows[0] ?? {};
    const before = await failoverRow();
    if (before['primary'] !== nodeId(oldPrimary)) throw new Error(`SHOW FAILOVER names ${String(before['primary'])} before the kill`);

    const appConfig = p.clientConfig(BENCH_APP_USER, appPassword, BENCH_DB);
    for (let i = 0; i < opts.writers; i++) writers.push(new Writer(i, opts.writers, appConfig));
    for (const w of writers) w.start();
    const warmFrom = Date.now();
    await waitFor('writes flow through the proxy', 30_000, () => Date.now() - warmFrom >= 1_000 && writers.every((w) => w.acks.length >= 20));

    const pid = oldPrimary.postmasterPid();
    if (pid === null) throw new Error('the primary is not running');
    const children = childPids(pid);
    // The clock starts at the signal itself; kill9() then waits for the children and clears the lock files.
    const killedAt = Date.now();
    process.kill(pid, 'SIGKILL');
    const killed = oldPrimary.kill9();
    // The postmaster's children outlive it for a few ms and may still commit (and, with a standby
    // that confirms, acknowledge) writes: those are not writes the failover brought back.
    const gone = (async () => {
      while ([pid, ...children].some(pidAlive)) await sleep(1);
      return Date.now();
    })();
    // SHOW FAILOVER polled while the writers wait: when the proxy itself reports the new primary.
    const routed = (async () => {
      while (Date.now() - killedAt < FIRST_WRITE_DEADLINE_MS) {
        const row = await failoverRow().catch(() => ({}) as Record<string, unknown>);
        const primary = row['primary'];
        if (typeof primary === 'string' && primary !== '' && primary !== nodeId(oldPrimary)) return Date.now() - killedAt;
        await sleep(POLL_MS);
      }
      return null;
    })();
    await killed;
    const goneAt = await gone;
    result.goneMs = goneAt - killedAt;
    result.lateAcks = writers.reduce((n, w) => n + w.acks.filter((x) => x.sentAt >= killedAt && x.sentAt < goneAt).length, 0);
    await waitFor('every writer has a write acknowledged after the kill', FIRST_WRITE_DEADLINE_MS, () => writers.every((w) => w.firstAckSentFrom(goneAt) !== undefined), POLL_MS).catch(
      (err: unknown) => progress(`  trial ${trial}: ${errorText(err)}`),
    );
    result.routedMs = await routed;
    const firsts = writers.map((w) => w.firstAckSentFrom(goneAt)?.ackAt);
    const seen = firsts.filter((x): x is number => x !== undefined);
    result.firstWriteMs = seen.length === 0 ? null : Math.min(...seen) - killedAt;
    result.allWritersMs = seen.length < writers.length ? null : Math.max(...seen) - killedAt;
    // Some more writes on the new primary, then stop and count.
    await sleep(500);
    for (const w of writers) await w.stop();

    const after = await failoverRow();
    result.term = String(after['term'] ?? '');
    result.newPrimary = String(after['primary'] ?? '');
    result.downMs = logTime(p, killedAt, (l) => l.msg === 'node down' && String(l.fields['node']).endsWith(`/${nodeId(oldPrimary)}`));
    result.decidedMs = logTime(p, killedAt, (l) => /^failover: \S+ → (promoting|electing)$/.test(l.msg));
    result.fenceMs = logTime(p, killedAt, (l) => l.msg === 'failover: fence finished');
    result.promotedMs = logTime(p, killedAt, (l) => l.msg === 'failover: promote finished');
    result.timeline = p.logs
      .filter((l) => l.at >= killedAt - 5 && TIMELINE_MSG.test(l.msg))
      .map((l) => `${String(l.at - killedAt).padStart(6)} ms  ${l.msg}  ${timelineFields(l)}`);
    if (process.env['BENCH_FAILOVER_LOG'] === '1') {
      progress(result.timeline.map((l) => `    ${l}`).join('\n'));
      const failures = writers.flatMap((w, i) => w.failures.filter((f) => f.at >= killedAt).map((f) => ({ ...f, writer: i })));
      for (const f of failures.sort((x, y) => x.at - y.at)) progress(`    writer ${f.writer}: ${f.kind} sent ${f.sentAt - killedAt} ms, failed ${f.at - killedAt} ms: ${f.code} ${f.message}`);
      for (const [i, w] of writers.entries()) progress(`    writer ${i}: first ack sent after the old primary's processes were gone: ${JSON.stringify(w.firstAckSentFrom(goneAt), (k, v: unknown) => (typeof v === 'number' && k !== 'id' ? v - killedAt : v))}`);
    }

    for (const w of writers) {
      for (const f of w.failures) {
        if (f.at < killedAt) continue;
        if (f.kind === 'connect') result.failedConnects++;
        else if (f.sentAt < killedAt) result.failedInFlight++;
        else result.failedLater++;
        const key = `${f.kind}: ${f.code === '' ? '' : `${f.code} `}${f.message.replace(/\d+(\.\d+)*/g, 'N').slice(0, 120)}`;
        result.errorKinds.set(key, (result.errorKinds.get(key) ?? 0) + 1);
      }
    }
    const acked = writers.flatMap((w) => w.acks.map((x) => x.id));
    result.acked = acked.length;
    const promoted = shard.replicas.find((r) => nodeId(r) === result.newPrimary);
    if (promoted === undefined) throw new Error(`SHOW FAILOVER names ${result.newPrimary} after the kill, not a replica`);
    if (await promoted.isInRecovery()) throw new Error(`${result.newPrimary} is still in recovery`);
    const present = new Set((await promoted.sql('SELECT id FROM t', BENCH_DB)).map((r) => Number(r['id'])));
    result.lost = acked.filter((id) => !present.has(id)).length;
  } catch (err) {
    result.error = errorText(err).split('\n')[0] ?? '';
    const tail = proxy?.logs.filter((l) => String(l.fields['component'] ?? '') === 'failover' || /^node|^failover/.test(l.msg)).slice(-8);
    if (tail !== undefined && tail.length > 0) progress(`  proxy log:\n${tail.map((l) => `    ${new Date(l.at).toISOString()} ${l.msg}`).join('\n')}`);
  } finally {
    for (const w of writers) await w.stop().catch(() => undefined);
    await admin?.end().catch(() => undefined);
    await proxy?.stop().catch((err: unknown) => progress(`  stopping the proxy: ${errorText(err)}`));
    await cluster?.stop().catch((err: unknown) => progress(`  stopping the cluster: ${errorText(err)}`));
  }
  return result;
}

// ---------------------------------------------------------------------------------------------
// The section

const ms = (v: number | null): string => (v === null ? '—' : fmtInt(v));

function describeTrial(r: TrialResult): string {
  if (r.error !== null && r.firstWriteMs === null) return `ERROR: ${r.error}`;
  return [
    `first write ${ms(r.firstWriteMs)} ms`,
    `all writers ${ms(r.allWritersMs)} ms`,
    `routed ${ms(r.routedMs)} ms`,
    `down ${ms(r.downMs)} ms`,
    `promoted ${ms(r.promotedMs)} ms`,
    `${r.acked} acked, ${r.lost} lost`,
    `failed: ${r.failedInFlight} in flight + ${r.failedLater} later + ${r.failedConnects} connects`,
    `term ${r.term}`,
    r.error === null ? '' : `ERROR: ${r.error}`,
  ]
    .filter((s) => s !== '')
    .join(', ');
}

function summaryRow(label: string, values: readonly (number | null)[], mark: string): string {
  const xs = values.filter((v): v is number => v !== null);
  const missing = values.length - xs.length;
  return `| ${label} | ${xs.length}${missing > 0 ? ` (+${missing} none)` : ''} | ${ms(xs.length ? Math.min(...xs) : null)} | ${ms(xs.length ? median(xs) : null)} | ${ms(xs.length ? percentile(xs, 90) : null)} | ${ms(xs.length ? Math.max(...xs) : null)} | ${mark} |`;
}

/** The proxy's account of the fastest and the slowest trial: where the time went. */
function timelines(results: readonly TrialResult[]): string[] {
  const timed = results.filter((r) => r.firstWriteMs !== null && r.timeline.length > 0).sort((x, y) => x.firstWriteMs! - y.firstWriteMs!);
  const picks = [...new Set([timed[0], timed[timed.length - 1]])].filter((r): r is TrialResult => r !== undefined);
  return picks.flatMap((r) => [
    `Proxy log of trial ${r.trial} (first write after ${ms(r.firstWriteMs)} ms), ms from the kill:`,
    '',
    '```',
    ...r.timeline.slice(0, 40).map((l) => l.replace(/"conninfo":"[^"]*"/, '"conninfo":"…"')),
    '```',
    '',
  ]);
}

/** Runs the trials; returns the section's markdown. */
export async function runFailoverSection(opts: FailoverBenchOptions, progress: (line: string) => void): Promise<string[]> {
  const results: TrialResult[] = [];
  const startedAt = new Date();
  for (let trial = 1; trial <= opts.trials; trial++) {
    const t0 = Date.now();
    const r = await runTrial(trial, opts, progress);
    results.push(r);
    progress(`failover trial ${trial}/${opts.trials} (${((Date.now() - t0) / 1000).toFixed(1)} s): ${describeTrial(r)}`);
    if (results.length >= 3 && results.slice(-3).every((x) => x.error !== null && x.firstWriteMs === null)) {
      progress('failover: 3 trials in a row failed; stopping');
      break;
    }
  }
  // A trial without a write after the kill counts at the deadline: it cannot make the target look met.
  const first = results.map((r) => r.firstWriteMs ?? FIRST_WRITE_DEADLINE_MS);
  const med = median(first);
  const worst = Math.max(...first);
  const lost = results.reduce((s, r) => s + r.lost, 0);
  const acked = results.reduce((s, r) => s + r.acked, 0);
  const medianOk = med <= FAILOVER_MEDIAN_MS_MAX;
  const worstOk = worst <= FAILOVER_WORST_MS_MAX;
  const enough = results.length >= FAILOVER_TRIALS_MIN;
  const errors = new Map<string, number>();
  for (const r of results) for (const [k, n] of r.errorKinds) errors.set(k, (errors.get(k) ?? 0) + n);
  const trialErrors = results.filter((r) => r.error !== null);
  const detection = opts.failuresBeforeDown * opts.intervalMs;

  return [
    '## Failover: kill -9 of the primary under writes (`bench/failover.ts`)',
    '',
    `Run ${startedAt.toISOString()} – ${new Date().toISOString()}. ${results.length} trial(s), each on a new cluster (1 shard: a primary and 2 replicas, PostgreSQL 15, \`synchronous_standby_names = 'ANY 1 ("shard0-replica1", "shard0-replica2")'\`, synchronous_commit on) and a new proxy process (\`dist/proxy/cli.js start\`): \`health.intervalMs ${opts.intervalMs}\`, \`failuresBeforeDown ${opts.failuresBeforeDown}\`, \`health.user\` and \`failover.user\` a superuser, \`failover.replication sync\`, every other key at its default (\`health.timeoutMs\` 1000, \`failover.waitMs\` 30000, \`promoteTimeoutMs\` 30000, \`reads.consistency\` sync). ${opts.writers} writers insert unique ids one at a time through the proxy, reconnecting ${RETRY_PAUSE_MS} ms after an error; the primary is SIGKILLed after ≥ 1 s of writes.`,
    '',
    'Times are from the kill (ms). first write: the first acknowledged INSERT sent after every process of the old primary had exited (its backends outlive the postmaster by a few ms and may still commit; those acknowledgements are counted as late acks, not as the failover\'s); all writers: when the last writer had one; routed: when `SHOW FAILOVER` (polled every 20 ms) first named the new primary; down / decided / fenced / promoted: the proxy\'s log (`node down` of the old primary; the failover machine leaving `suspect`; `fence finished`; `promote finished`). failed: INSERTs in flight at the kill, INSERTs sent later, and failed connection attempts, until the writers stopped. lost: acknowledged ids missing on the new primary.',
    '',
    '| trial | first write | all writers | routed | down | decided | fenced | promoted | old primary gone | acked | late acks | lost | failed (in flight / later / connects) | term |',
    '|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|---:|',
    ...results.map(
      (r) =>
        `| ${r.trial} | ${ms(r.firstWriteMs)} | ${ms(r.allWritersMs)} | ${ms(r.routedMs)} | ${ms(r.downMs)} | ${ms(r.decidedMs)} | ${ms(r.fenceMs)} | ${ms(r.promotedMs)} | ${ms(r.goneMs)} | ${fmtInt(r.acked)} | ${r.lateAcks} | ${r.lost} | ${r.failedInFlight} / ${r.failedLater} / ${r.failedConnects} | ${r.term}${r.error === null ? '' : ' ⚠'} |`,
    ),
    '',
    '| from the kill (ms) | trials | min | median | p90 | worst | target |',
    '|---|---:|---:|---:|---:|---:|---|',
    summaryRow('first successful write', results.map((r) => r.firstWriteMs), `median ≤ ${fmtInt(FAILOVER_MEDIAN_MS_MAX)} ${medianOk ? '✓' : '✗'}, worst ≤ ${fmtInt(FAILOVER_WORST_MS_MAX)} ${worstOk ? '✓' : '✗'}, ≥ ${FAILOVER_TRIALS_MIN} trials ${enough ? '✓' : '✗'}`),
    summaryRow('every writer writing again', results.map((r) => r.allWritersMs), ''),
    summaryRow('new primary in SHOW FAILOVER', results.map((r) => r.routedMs), ''),
    summaryRow('old primary down (log)', results.map((r) => r.downMs), `${opts.failuresBeforeDown} failed checks, ${fmtInt(opts.intervalMs)} ms apart: ≤ ${fmtInt(detection)}`),
    summaryRow('failover decided (log)', results.map((r) => r.decidedMs), ''),
    summaryRow('old primary fenced (log)', results.map((r) => r.fenceMs), ''),
    summaryRow('replica promoted (log)', results.map((r) => r.promotedMs), ''),
    '',
    `Acknowledged writes lost: ${lost} of ${fmtInt(acked)} ${lost === 0 ? '✓' : '✗'} (synchronous replication: must be 0). Writes sent after the kill that the dying old primary still acknowledged: ${results.reduce((n, r) => n + r.lateAcks, 0)} (counted in acked, none lost). Failed after the kill, all trials: ${results.reduce((n, r) => n + r.failedInFlight, 0)} INSERTs in flight, ${results.reduce((n, r) => n + r.failedLater, 0)} sent later, ${results.reduce((n, r) => n + r.failedConnects, 0)} connection attempts (per trial at most ${Math.max(...results.map((r) => r.failedInFlight + r.failedLater + r.failedConnects))}).`,
    '',
    errors.size === 0 ? 'No statement failed after the kill.' : 'Errors after the kill, all trials:',
    '',
    ...[...errors.entries()].sort((x, y) => y[1] - x[1]).map(([k, n]) => `- ${n} × ${k}`),
    '',
    ...(trialErrors.length === 0 ? [] : ['Trial errors:', '', ...trialErrors.map((r) => `- trial ${r.trial}: ${r.error ?? ''}`), '']),
    ...timelines(results),
  ];
}
