// `npm run bench`: pgbench workloads against PostgreSQL directly, pgbouncer (transaction mode) and
// pgshard, alternating targets, R rounds, medians. Prints a markdown table on stdout (progress on
// stderr) and writes it, with machine, settings, every run and every error, to bench/results/.
// Options: see options.ts. Everything started here is stopped in `finally` and on SIGINT/SIGTERM.
// `failover` and `replica-reads` (bench/failover.ts, bench/replica-reads.ts) start their own clusters
// and proxies after the pgbench part; selected alone with --only, they skip it (and pgbouncer).
import { execFileSync } from 'node:child_process';
import { mkdir, writeFile } from 'node:fs/promises';
import { dirname, relative } from 'node:path';
import { load1, machineInfo, uptime } from './machine.js';
import { parseBenchOptions, type BenchOptions } from './options.js';
import { initPgbench, pgbenchPath, runPgbench, type PgbenchResult } from './pgbench.js';
import { BENCH_PG_SETTINGS, startBenchPostgres, type BenchPostgres } from './postgres.js';
import { exitCleanlyOnSignals, sleep } from './processes.js';
import { cpuDelta, processCpuTimes, type CpuTimes } from './proc-cpu.js';
import {
  cpuMsPer1kTx,
  errorsSection,
  PGSHARD_PREPARED_VS_DIRECT_TPS_MIN,
  PGSHARD_VS_PGBOUNCER_CPU_MAX,
  PGSHARD_VS_PGBOUNCER_TPS_MIN,
  resultsTable,
  runsTable,
  tableRows,
  type RunRecord,
} from './report.js';
import {
  buildProxy,
  directTarget,
  ensurePgbouncer,
  logSince,
  logSize,
  MAX_CLIENTS,
  pgbouncerVersion,
  POOL_SIZE,
  repoRoot,
  startPgbouncer,
  startPgshard,
  TARGET_NAMES,
  type Target,
  type TargetName,
} from './targets.js';
import { pgbenchArgs, type Workload } from './workloads.js';
import { runShardedSection } from './sharded.js';
import { runFailoverSection } from './failover.js';
import { runEventLoopsSection } from './event-loops.js';
import { runReplicaReadsSection } from './replica-reads.js';

const progress = (line: string): void => {
  process.stderr.write(`${line}\n`);
};

/** Pause between runs, so one run's connection teardown does not overlap the next. */
const BETWEEN_RUNS_MS = 1_000;

/** pgbench's own vacuum is disabled (-n); tpcb-like gets a fresh one, directly, before each run. */
async function prepareRun(pg: BenchPostgres, w: Workload): Promise<void> {
  if (w.script !== 'tpcb-like') return;
  // One statement per call: a multi-statement query is one implicit transaction, and VACUUM refuses that.
  for (const sql of ['VACUUM pgbench_branches', 'VACUUM pgbench_tellers', 'TRUNCATE pgbench_history']) await pg.primary.sql(sql, pg.database);
}

async function measure(target: Target, w: Workload, seconds: number): Promise<{ result: PgbenchResult; cpu: CpuTimes | null; proxyLog: string }> {
  const logOffset = await logSize(target);
  const cpuBefore = target.pid === null ? null : processCpuTimes(target.pid);
  const result = await runPgbench({ endpoint: target.endpoint, args: pgbenchArgs(w, seconds), timeoutMs: seconds * 1000 + 60_000 });
  let cpu: CpuTimes | null = null;
  if (target.pid !== null && cpuBefore !== null && target.alive()) cpu = cpuDelta(cpuBefore, processCpuTimes(target.pid));
  return { result, cpu, proxyLog: await logSince(target, logOffset) };
}

function describeRun(r: RunRecord): string {
  const res = r.result;
  const cpu = cpuMsPer1kTx(r);
  const parts = [
    res.tps === null ? 'no tps' : `${Math.round(res.tps)} tps`,
    res.latencyMs === null ? '' : `${res.latencyMs.toFixed(3)} ms`,
    cpu === null ? '' : `CPU ${cpu.toFixed(1)} ms/1k tx`,
    res.failed ? `${res.failed} failed tx` : '',
    `load ${r.load1.toFixed(2)}`,
    r.crashed ? 'PROXY DIED' : res.errored ? `ERROR (exit ${res.exitCode}): ${res.errors[0] ?? ''}` : '',
  ];
  return parts.filter((p) => p !== '').join(', ');
}

interface Context {
  opts: BenchOptions;
  pg: BenchPostgres;
  targets: Map<TargetName, Target>;
  pgbouncerBin: string;
}

/** A proxy that died is logged and restarted so that the remaining runs still measure something. */
async function restartIfDead(ctx: Context, name: TargetName): Promise<boolean> {
  const t = ctx.targets.get(name);
  if (t === undefined || t.alive()) return false;
  progress(`!! ${name} is not running any more: restarting it`);
  await t.stop().catch(() => undefined);
  ctx.targets.set(name, name === 'pgbouncer' ? await startPgbouncer(ctx.pg, ctx.pgbouncerBin) : await startPgshard(ctx.pg));
  return true;
}

async function warmUp(ctx: Context): Promise<void> {
  const seconds = ctx.opts.quick ? 1 : 3;
  const w: Workload = { id: 'warm-up', label: 'warm-up', script: 'select-only', mode: 'extended', clients: 8, check: null };
  for (const name of TARGET_NAMES) {
    const t = ctx.targets.get(name);
    if (t === undefined) continue;
    const res = await runPgbench({ endpoint: t.endpoint, args: pgbenchArgs(w, seconds), timeoutMs: seconds * 1000 + 60_000 });
    progress(`warm-up ${name}: ${res.tps === null ? 'no tps' : `${Math.round(res.tps)} tps`}${res.errored ? ` ERROR: ${res.errors.join(' | ')}` : ''}`);
  }
}

async function runRounds(ctx: Context): Promise<RunRecord[]> {
  const { opts } = ctx;
  const records: RunRecord[] = [];
  const total = opts.rounds * opts.workloads.length * TARGET_NAMES.length;
  for (let round = 1; round <= opts.rounds; round++) {
    for (const w of opts.workloads) {
      for (const name of TARGET_NAMES) {
        const target = ctx.targets.get(name);
        if (target === undefined) continue;
        await prepareRun(ctx.pg, w);
        const loadBefore = load1();
        const m = await measure(target, w, opts.durationSec);
        const crashed = !target.alive();
        const record: RunRecord = { round, workload: w, target: name, ...m, load1: loadBefore, crashed };
        records.push(record);
        progress(`[${records.length}/${total}] round ${round} ${w.label} c=${w.clients} ${name}: ${describeRun(record)}`);
        if (m.proxyLog !== '') progress(`   ${name} log:\n${m.proxyLog.replace(/^/gm, '     ')}`);
        await restartIfDead(ctx, name);
        await sleep(BETWEEN_RUNS_MS);
      }
    }
  }
  return records;
}

function settingsLines(ctx: Context, info: { pgbouncer: string; pgbench: string }): string[] {
  const { opts, pg } = ctx;
  const s = Object.entries(pg.settings).map(([k, v]) => `${k}=${v}`).join(', ');
  const ours = Object.entries(BENCH_PG_SETTINGS).map(([k, v]) => `${k}=${v}`).join(', ');
  return [
    `- PostgreSQL: ${pg.version}; one primary on 127.0.0.1 (local-cluster harness defaults + ${ours}); in effect: ${s}`,
    `- pgbench: ${info.pgbench}; \`pgbench -i -s ${opts.scale}\` once; runs: \`-n -T ${opts.durationSec} -j min(clients,2)\`; ${opts.rounds} round(s), medians; targets alternate within each round`,
    `- pgbouncer: ${info.pgbouncer}; pool_mode=transaction, default_pool_size=${POOL_SIZE}, max_client_conn=${MAX_CLIENTS}, auth_type=scram-sha-256`,
    `- pgshard: dist/proxy/cli.js start; one database, one shard; pool.mode=transaction, pool.sizeMax=${POOL_SIZE}, limits.clientsMax=${MAX_CLIENTS}, log.level=warn; Node ${process.version}`,
    `- Marks: pgshard/pgbouncer tps ≥ ${PGSHARD_VS_PGBOUNCER_TPS_MIN} and CPU ratio ≤ ${PGSHARD_VS_PGBOUNCER_CPU_MAX} for -M simple/extended; pgshard/direct ≥ ${PGSHARD_PREPARED_VS_DIRECT_TPS_MIN} for -M prepared`,
  ];
}

/** The commit measured, and whether the proxy's sources differed from it (the build takes the working tree). */
function sourcesRevision(): string {
  try {
    const head = execFileSync('git', ['rev-parse', '--short', 'HEAD'], { cwd: repoRoot, encoding: 'utf8' }).trim();
    const dirty = execFileSync('git', ['status', '--porcelain', '--', 'proxy', 'topology', 'planner'], { cwd: repoRoot, encoding: 'utf8' })
      .split('\n')
      .filter((l) => l.trim() !== '').length;
    return dirty === 0 ? `commit ${head}` : `commit ${head} plus uncommitted changes to ${dirty} file(s) under proxy/, topology/, planner/`;
  } catch {
    return 'unknown (no git)';
  }
}

/** The sections that start their own clusters and proxies; run after everything else is stopped. */
async function standaloneSections(opts: BenchOptions): Promise<string[]> {
  const rows: string[] = [];
  if (opts.failover) {
    progress(`failover: ${opts.trials} trial(s), health.intervalMs ${opts.intervalMs}...`);
    rows.push(...(await runFailoverSection({ trials: opts.trials, intervalMs: opts.intervalMs, failuresBeforeDown: 3, writers: 4 }, progress)));
  }
  if (opts.replicaReads) {
    progress(`replica-reads: ${opts.pairs} pairs per session...`);
    rows.push(...(await runReplicaReadsSection({ pairs: opts.pairs, sessions: 4 }, progress)));
  }
  if (opts.eventLoops) {
    progress(`event-loops: 1 event loop vs ${opts.threads} worker threads...`);
    rows.push(...(await runEventLoopsSection({ durationSec: opts.durationSec, rounds: opts.rounds, scale: opts.scale, threads: opts.threads }, progress)));
  }
  return rows;
}

async function main(): Promise<void> {
  const opts = parseBenchOptions(process.argv.slice(2), process.env);
  exitCleanlyOnSignals();
  const startedAt = new Date();
  const loadAtStart = uptime();
  const pgbenchPart = opts.workloads.length > 0 || opts.sharded;
  if (pgbenchPart) progress(`pgshard bench: ${opts.rounds} round(s) x ${opts.workloads.length} workload(s) x 3 targets, ${opts.durationSec} s each; ${loadAtStart}`);
  else progress(`pgshard bench: ${[opts.failover ? 'failover' : '', opts.replicaReads ? 'replica-reads' : '', opts.eventLoops ? 'event-loops' : ''].filter((x) => x !== '').join(' + ')}; ${loadAtStart}`);
  if (opts.build) {
    progress('building the proxy (tsc -p tsconfig.build.json)...');
    buildProxy();
  }
  if (!pgbenchPart) {
    const sections = await standaloneSections(opts);
    const m = machineInfo();
    const doc = [
      '# pgshard benchmark results',
      '',
      `Run: ${startedAt.toISOString()} – ${new Date().toISOString()} (\`npm run bench -- ${process.argv.slice(2).join(' ')}\`)`,
      '',
      `Machine: ${m.cpus} CPUs (${m.cpuModel}), ${m.memoryGiB} GiB RAM, Linux ${m.kernel}, Node ${process.version}. The clients, PostgreSQL and pgshard all share these CPUs.`,
      '',
      `Load: at start \`${loadAtStart}\`; at end \`${uptime()}\`.`,
      '',
      `Sources: ${sourcesRevision()}.`,
      '',
      ...sections,
    ].join('\n');
    process.stdout.write(`\n${sections.join('\n')}\n`);
    await mkdir(dirname(opts.outFile), { recursive: true });
    await writeFile(opts.outFile, doc);
    progress(`\nwritten to ${relative(repoRoot, opts.outFile)}`);
    return;
  }
  const pgbouncerBin = ensurePgbouncer(progress);
  const versions = {
    pgbouncer: pgbouncerVersion(pgbouncerBin),
    pgbench: execFileSync(pgbenchPath, ['--version'], { encoding: 'utf8' }).trim(),
  };

  const pg = await startBenchPostgres(progress);
  const targets = new Map<TargetName, Target>();
  const ctx: Context = { opts, pg, targets, pgbouncerBin };
  let records: RunRecord[];
  let shardedSection: string[] = [];
  try {
    progress(`pgbench -i -s ${opts.scale}...`);
    await initPgbench(directTarget(pg).endpoint, opts.scale);
    targets.set('direct', directTarget(pg));
    targets.set('pgbouncer', await startPgbouncer(pg, pgbouncerBin));
    targets.set('pgshard', await startPgshard(pg));
    progress(`pgbouncer on port ${targets.get('pgbouncer')?.endpoint.port}, pgshard on port ${targets.get('pgshard')?.endpoint.port}`);
    if (opts.workloads.length > 0) await warmUp(ctx);
    records = await runRounds(ctx);
    if (opts.sharded) {
      // Its own shards; the direct node keeps its pgbench data as the single-node reference.
      for (const name of ['pgbouncer', 'pgshard'] as const) await targets.get(name)?.stop();
      targets.delete('pgbouncer');
      targets.delete('pgshard');
      shardedSection = await runShardedSection(pg, { durationSec: opts.durationSec, rounds: opts.rounds, scale: opts.scale, clients: 8 }, progress);
    }
  } finally {
    for (const t of targets.values()) await t.stop().catch((err: unknown) => progress(`stopping ${t.name}: ${String(err)}`));
    await pg.cluster.stop();
  }
  const sections = await standaloneSections(opts);

  const loadAtEnd = uptime();
  const table = resultsTable(tableRows(opts.workloads, records));
  process.stdout.write(`\n${table}\n`);
  const m = machineInfo();
  const loads = records.map((r) => r.load1);
  const doc = [
    `# pgshard benchmark results`,
    '',
    `Run: ${startedAt.toISOString()} – ${new Date().toISOString()} (\`npm run bench${process.argv.length > 2 ? ` -- ${process.argv.slice(2).join(' ')}` : ''}\`)`,
    '',
    `Machine: ${m.cpus} CPUs (${m.cpuModel}), ${m.memoryGiB} GiB RAM, Linux ${m.kernel}. pgbench, PostgreSQL, pgbouncer and pgshard all share these CPUs.`,
    '',
    `Load: at start \`${loadAtStart}\`; at end \`${loadAtEnd}\`; 1-minute load before each run ranged ${Math.min(...loads).toFixed(2)}–${Math.max(...loads).toFixed(2)}.`,
    '',
    '## Settings',
    '',
    ...settingsLines(ctx, versions),
    '',
    '## Results (medians)',
    '',
    table,
    '',
    'CPU ms/1k tx: user+system CPU time of the proxy process (all threads, from /proc/<pid>/stat) during the run, per 1,000 transactions pgbench processed. "fails": every round of that run reported errors (see below).',
    '',
    ...shardedSection,
    ...sections,
    '## Errors and proxy log output',
    '',
    errorsSection(records),
    '',
    '## Every run',
    '',
    runsTable(records),
    '',
  ].join('\n');
  await mkdir(dirname(opts.outFile), { recursive: true });
  await writeFile(opts.outFile, doc);
  progress(`\nwritten to ${relative(repoRoot, opts.outFile)}`);
}

main().catch((err: unknown) => {
  console.error(err instanceof Error ? (err.stack ?? err.message) : err);
  process.exitCode = 1;
});
