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
import { mkdir, mkdtemp, readdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { isJavaScript, readCpuProfile, selfTimes, selfTimeTable } from './cpuprofile.js';
import { positiveInt } from './options.js';
import { initPgbench, runPgbench } from './pgbench.js';
import { startBenchPostgres } from './postgres.js';
import { exitCleanlyOnSignals } from './processes.js';
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
    },
    strict: true,
  });
  const workload = findWorkload(values.workload ?? 'select-extended-64');
  const seconds = positiveInt('--seconds', values.seconds, 20);
  const top = positiveInt('--top', values.top, 25);
  const scale = positiveInt('--scale', values.scale, 10);
  const profileDir = values['profile-dir'] === undefined ? await mkdtemp(join(tmpdir(), 'pgshard-cpuprof-')) : resolve(values['profile-dir']);
  await mkdir(profileDir, { recursive: true });
  exitCleanlyOnSignals();

  if (!values['skip-build']) {
    progress('building the proxy (tsc -p tsconfig.build.json)...');
    buildProxy();
  }
  const before = new Set(await readdir(profileDir));
  const pg = await startBenchPostgres(progress);
  let proxy: Target | undefined;
  try {
    progress(`pgbench -i -s ${scale}...`);
    await initPgbench(directTarget(pg).endpoint, scale);
    proxy = await startPgshard(pg, { nodeArgs: ['--cpu-prof', `--cpu-prof-dir=${profileDir}`] });
    const pid = proxy.pid as number;
    progress(`${workload.label}, ${workload.clients} clients, ${seconds} s through pgshard (pid ${pid}, profiling)...`);
    const cpuBefore = processCpuTimes(pid);
    const res = await runPgbench({ endpoint: proxy.endpoint, args: pgbenchArgs(workload, seconds), timeoutMs: seconds * 1000 + 60_000 });
    const cpu = cpuDelta(cpuBefore, processCpuTimes(pid));
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

main().catch((err: unknown) => {
  console.error(err instanceof Error ? (err.stack ?? err.message) : err);
  process.exitCode = 1;
});
