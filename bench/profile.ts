// `node --import tsx bench/profile.ts`: where does pgshard spend its CPU? Starts the same PostgreSQL
// and pgshard as `npm run bench` (the proxy under `node --cpu-prof`), runs one pgbench workload
// through it, stops the proxy (which writes the .cpuprofile on exit) and prints the functions with
// the most self time, source-mapped to the TypeScript files.
//   --workload <id>      a workload id from workloads.ts (default select-extended-64)
//   --seconds <n>        pgbench duration (default 20)
//   --top <n>            rows per table (default 25): all functions, then JavaScript functions only
//   --scale <n>          pgbench -i scale factor (default 10)
//   --profile-dir <dir>  where the .cpuprofile goes (default: a new temp dir; it is kept)
//   --skip-build         use dist/ as it is
//   --shards <n>         n shards with the pgbench tables sharded by key, loaded through the proxy
//                        (default 1: one node, loaded directly)
//   --perf               sample with Linux `perf record` (CPU time, kernel and native frames included,
//                        JavaScript named through --perf-basic-prof) instead of V8's wall-clock sampler,
//                        which charges the time a thread is descheduled inside write(2) to writeBuffer
import { execFileSync, type ChildProcess } from 'node:child_process';
import { mkdir, mkdtemp, readdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { isJavaScript, readCpuProfile, selfTimes, selfTimeTable } from './cpuprofile.js';
import { positiveInt } from './options.js';
import { initPgbench, runPgbench } from './pgbench.js';
import { startBenchPostgres } from './postgres.js';
import { PGBENCH_SHARDING } from './sharded.js';
import { exitCleanlyOnSignals, spawnTracked, stopChild } from './processes.js';
import { cpuDelta, processCpuTimes, totalSeconds } from './proc-cpu.js';
import { buildProxy, directTarget, repoRoot, startPgshard, type Target } from './targets.js';
import { findWorkload, pgbenchArgs } from './workloads.js';

const progress = (line: string): void => {
  process.stderr.write(`${line}\n`);
};

async function main(): Promise<void> {
  const { values } = parseArgs({
    args: process.argv.slice(2),
    options: {
      workload: { type: 'string', default: 'select-extended-64' },
      seconds: { type: 'string' },
      top: { type: 'string' },
      scale: { type: 'string' },
      'profile-dir': { type: 'string' },
      'skip-build': { type: 'boolean', default: false },
      perf: { type: 'boolean', default: false },
      shards: { type: 'string' },
    },
    strict: true,
  });
  const workload = findWorkload(values.workload ?? 'select-extended-64');
  const seconds = positiveInt('--seconds', values.seconds, 20);
  const top = positiveInt('--top', values.top, 25);
  const scale = positiveInt('--scale', values.scale, 10);
  const shards = positiveInt('--shards', values.shards, 1);
  const profileDir = values['profile-dir'] === undefined ? await mkdtemp(join(tmpdir(), 'pgshard-cpuprof-')) : resolve(values['profile-dir']);
  await mkdir(profileDir, { recursive: true });
  exitCleanlyOnSignals();

  if (!values['skip-build']) {
    progress('building the proxy (tsc -p tsconfig.build.json)...');
    buildProxy();
  }
  const before = new Set(await readdir(profileDir));
  const perfData = join(profileDir, 'perf.data');
  const pg = await startBenchPostgres(progress, shards);
  let proxy: Target | undefined;
  try {
    const nodeArgs = values.perf ? ['--perf-basic-prof'] : ['--cpu-prof', `--cpu-prof-dir=${profileDir}`];
    if (shards === 1) {
      progress(`pgbench -i -s ${scale}...`);
      await initPgbench(directTarget(pg).endpoint, scale);
      proxy = await startPgshard(pg, { nodeArgs });
    } else {
      const primaries = pg.cluster.shards.map((s) => ({ host: s.primary.host, port: s.primary.port }));
      proxy = await startPgshard(pg, { nodeArgs, shards: primaries, sharding: PGBENCH_SHARDING });
      progress(`pgbench -i -s ${scale} through pgshard (${shards} shards)...`);
      await initPgbench(proxy.endpoint, scale);
    }
    const pid = proxy.pid as number;
    progress(`${workload.label}, ${workload.clients} clients, ${seconds} s through pgshard (pid ${pid}, profiling)...`);
    const cpuBefore = processCpuTimes(pid);
    const recorder = values.perf ? startPerfRecord(pid, perfData) : undefined;
    const res = await runPgbench({ endpoint: proxy.endpoint, args: pgbenchArgs(workload, seconds), timeoutMs: seconds * 1000 + 60_000 });
    const cpu = cpuDelta(cpuBefore, processCpuTimes(pid));
    if (recorder !== undefined) await stopChild(recorder, 'SIGINT');
    const perTx = (s: number): string => (res.processed ? `${((s * 1e6) / res.processed).toFixed(1)}` : '?');
    progress(`pgbench: ${res.tps?.toFixed(0) ?? '?'} tps, ${res.latencyMs ?? '?'} ms average latency`);
    progress(
      `proxy CPU during the run: ${totalSeconds(cpu).toFixed(2)} s = user ${cpu.user.toFixed(2)} + system ${cpu.system.toFixed(2)}; ` +
        `per transaction: ${perTx(totalSeconds(cpu))} µs = user ${perTx(cpu.user)} + system ${perTx(cpu.system)}`,
    );
    if (res.errored) progress(`pgbench errors:\n${res.errors.join('\n')}`);
  } finally {
    await proxy?.stop();
    await pg.cluster.stop();
  }

  if (values.perf) {
    process.stdout.write(`${perfReport(perfData, top)}\nperf data: ${perfData}\n`);
    return;
  }
  const written = (await readdir(profileDir)).filter((f) => f.endsWith('.cpuprofile') && !before.has(f));
  if (written.length === 0) throw new Error(`no .cpuprofile was written to ${profileDir} (did the proxy exit cleanly?)`);
  const file = join(profileDir, written.sort().at(-1) as string);
  const report = selfTimes(readCpuProfile(file), repoRoot);
  const busy = report.totalSamples === 0 ? 0 : (100 * report.busySamples) / report.totalSamples;
  process.stdout.write(
    [
      `profile: ${file} (open in Chrome DevTools > Performance, or VS Code)`,
      `${report.totalSamples} samples over ${(report.durationMs / 1000).toFixed(1)} s (whole proxy lifetime, start-up included); ${busy.toFixed(1)}% not idle`,
      '',
      `Top ${top} functions by self time:`,
      '',
      'V8 samples the main thread on a wall clock: a native call such as writeBuffer (write(2) to a socket, which on',
      'loopback runs the TCP stack and wakes the receiver) also collects the time the thread was descheduled inside it.',
      "Compare with the user/system split above before blaming a syscall.",
      '',
      selfTimeTable(report, top),
      '',
      `Top ${top} JavaScript functions (native calls and VM entries left out):`,
      '',
      selfTimeTable(report, top, isJavaScript),
      '',
    ].join('\n'),
  );
}

/** `perf record` of one process at ~4 kHz with call graphs, until SIGINT. */
function startPerfRecord(pid: number, output: string): ChildProcess {
  return spawnTracked('perf', ['record', '-q', '-F', '3997', '-g', '-p', String(pid), '-o', output], { stdio: ['ignore', 'ignore', 'inherit'] });
}

/** Self time by symbol (kernel, libuv, V8 builtins and JIT-compiled JavaScript), highest first. */
function perfReport(data: string, top: number): string {
  const out = execFileSync('perf', ['report', '-i', data, '--stdio', '--no-children', '-g', 'none', '--sort', 'dso,symbol', '--percent-limit', '0.3'], {
    encoding: 'utf8',
    maxBuffer: 64 * 1024 * 1024,
    stdio: ['ignore', 'pipe', 'ignore'],
  });
  const rows = out.split('\n').filter((l) => /^\s+\d/.test(l));
  return ['perf self time (% of the proxy\'s samples):', ...rows.slice(0, top)].join('\n');
}

main().catch((err: unknown) => {
  console.error(err instanceof Error ? (err.stack ?? err.message) : err);
  process.exitCode = 1;
});
