// `npm run bench -- --only event-loops`: does a second event loop help? pgshard as one event loop
// (dist/proxy/cli.js, the product) against the same build run as N worker threads in one process
// (bench/multi-loop-proxy.ts, each thread a ProxyServer with 1/N of the pool), and PostgreSQL directly
// as the reference, alternating within each round; medians of tps and of the proxy's CPU per
// transaction (all threads of the process, /proc/<pid>/stat).
import { join } from 'node:path';
import { cpuDelta, processCpuTimes, totalSeconds } from './proc-cpu.js';
import { initPgbench, runPgbench } from './pgbench.js';
import { startBenchPostgres } from './postgres.js';
import { directTarget, POOL_SIZE, repoRoot, startPgshard, type Target } from './targets.js';
import { findWorkload, pgbenchArgs, type Workload } from './workloads.js';

export interface EventLoopsOptions {
  durationSec: number;
  rounds: number;
  scale: number;
  threads: number;
}

const WORKLOAD_IDS = ['select-simple-8', 'select-prepared-8', 'select-extended-64', 'select-prepared-64'];

interface Sample {
  tps: number;
  cpuUsPerTx: number | null;
}

const median = (xs: readonly number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length === 0 ? NaN : s.length % 2 === 1 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
};

async function measure(target: Target, w: Workload, durationSec: number): Promise<Sample | string> {
  const before = target.pid === null ? null : processCpuTimes(target.pid);
  const r = await runPgbench({ endpoint: target.endpoint, args: pgbenchArgs(w, durationSec), timeoutMs: durationSec * 1000 + 60_000 });
  if (r.errored || r.tps === null || r.processed === null || r.processed === 0) return r.errors.join(' | ') || 'no tps';
  const cpu = before === null || target.pid === null ? null : totalSeconds(cpuDelta(before, processCpuTimes(target.pid)));
  return { tps: r.tps, cpuUsPerTx: cpu === null ? null : (cpu * 1e6) / r.processed };
}

export async function runEventLoopsSection(opts: EventLoopsOptions, progress: (line: string) => void): Promise<string[]> {
  const workloads = WORKLOAD_IDS.map((id) => findWorkload(id));
  const pg = await startBenchPostgres(progress);
  const targets: Target[] = [];
  const names = ['direct', 'pgshard, 1 event loop', `pgshard, ${opts.threads} worker threads`];
  const samples = new Map<string, Sample[]>();
  const errors: string[] = [];
  try {
    progress(`event-loops: pgbench -i -s ${opts.scale}...`);
    await initPgbench(directTarget(pg).endpoint, opts.scale);
    targets.push(directTarget(pg));
    targets.push(await startPgshard(pg));
    targets.push(
      await startPgshard(pg, {
        // Resolved here: the proxy runs in a temp directory, where a bare `tsx` would not resolve.
        nodeArgs: ['--import', import.meta.resolve('tsx')],
        cli: join(repoRoot, 'bench', 'multi-loop-proxy.ts'),
        extraArgs: ['--threads', String(opts.threads)],
      }),
    );
    for (let round = 1; round <= opts.rounds; round++) {
      for (const w of workloads) {
        for (const [i, target] of targets.entries()) {
          const s = await measure(target, w, opts.durationSec);
          const key = `${w.id}|${names[i]}`;
          if (typeof s === 'string') errors.push(`round ${round} ${w.id} ${names[i]}: ${s}`);
          else samples.set(key, [...(samples.get(key) ?? []), s]);
          progress(`event-loops round ${round} ${w.id} ${names[i]}: ${typeof s === 'string' ? `failed: ${s}` : `${Math.round(s.tps)} tps${s.cpuUsPerTx === null ? '' : `, ${s.cpuUsPerTx.toFixed(1)} µs CPU/tx`}`}`);
        }
      }
    }
  } finally {
    for (const t of targets) await t.stop().catch(() => undefined);
    await pg.cluster.stop();
  }
  const cell = (w: Workload, name: string): { tps: number; cpu: number } => {
    const xs = samples.get(`${w.id}|${name}`) ?? [];
    return { tps: median(xs.map((x) => x.tps)), cpu: median(xs.flatMap((x) => (x.cpuUsPerTx === null ? [] : [x.cpuUsPerTx]))) };
  };
  const fmt = (n: number, digits = 0): string => (Number.isNaN(n) ? 'n/a' : n.toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: digits }));
  const rows = workloads.map((w) => {
    const d = cell(w, names[0]!);
    const one = cell(w, names[1]!);
    const many = cell(w, names[2]!);
    return `| ${w.label} | ${w.clients} | ${fmt(d.tps)} | ${fmt(one.tps)} | ${fmt(many.tps)} | ${fmt(one.tps / d.tps, 2)} | ${fmt(many.tps / d.tps, 2)} | ${fmt(many.tps / one.tps, 2)} | ${fmt(one.cpu, 1)} | ${fmt(many.cpu, 1)} |`;
  });
  return [
    `## Event loops: one, or ${opts.threads} worker threads (\`bench/event-loops.ts\`)`,
    '',
    `The same build of pgshard as one event loop and as ${opts.threads} worker threads in one process (\`bench/multi-loop-proxy.ts\`: each thread a whole proxy with 1/${opts.threads} of the ${POOL_SIZE}-connection pool; the main thread accepts and hands out client descriptors), PostgreSQL directly as the reference. ${opts.rounds} alternating round(s) × ${opts.durationSec} s per run, medians. CPU: user + system time of the proxy process (all threads) per transaction.`,
    '',
    `| workload | clients | direct tps | 1 loop tps | ${opts.threads} threads tps | 1 loop / direct | ${opts.threads} threads / direct | threads / 1 loop | 1 loop CPU µs/tx | ${opts.threads} threads CPU µs/tx |`,
    '|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|',
    ...rows,
    '',
    errors.length === 0 ? 'No errors.' : `Errors:\n${errors.map((e) => `- ${e}`).join('\n')}`,
    '',
  ];
}
