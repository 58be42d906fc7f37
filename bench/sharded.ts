// The sharding section of `npm run bench`: pgbench -S -M prepared through pgshard on 2 shards (the
// pgbench tables sharded by their keys, loaded with `pgbench -i` through the proxy, i.e. by COPY
// splitting) against the same data on one PostgreSQL directly, alternating, median of the rounds;
// and the planner micro-benchmark (bench/planner-bench.ts). Target: routed point selects keep
// ≥ 0.8× the single-node direct throughput; a plan-cache hit costs ≤ 5 µs.
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { startLocalCluster } from '../proxy/demo/local-cluster.js';
import { initPgbench, runPgbench, type Endpoint } from './pgbench.js';
import { cpuDelta, processCpuTimes, totalSeconds } from './proc-cpu.js';
import { BENCH_DATABASE, BENCH_PG_SETTINGS, BENCH_USER, type BenchPostgres } from './postgres.js';
import { repoRoot, startPgshard } from './targets.js';

export const SHARDED_TPS_VS_DIRECT_MIN = 0.8;
export const PLAN_CACHE_HIT_US_MAX = 5;

/** The pgbench tables sharded by their keys (the database's `sharding:` config section). */
export const PGBENCH_SHARDING = {
  tables: [
    { name: 'pgbench_accounts', column: 'aid', type: 'int4' },
    { name: 'pgbench_tellers', column: 'tid', type: 'int4' },
    { name: 'pgbench_branches', column: 'bid', type: 'int4' },
    { name: 'pgbench_history', column: 'aid', type: 'int4' },
  ],
};

const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length === 0 ? NaN : s.length % 2 === 1 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
};

export interface ShardedOptions {
  durationSec: number;
  rounds: number;
  scale: number;
  clients: number;
}

/** Runs the section; returns its markdown. `direct` already holds `pgbench -i -s scale` data. */
export async function runShardedSection(direct: BenchPostgres, opts: ShardedOptions, progress: (line: string) => void): Promise<string[]> {
  progress('sharded: starting 2 shards...');
  const cluster = await startLocalCluster({
    shards: 2,
    replicas: 0,
    users: [{ name: BENCH_USER, password: direct.password }],
    databases: [BENCH_DATABASE],
    settings: BENCH_PG_SETTINGS,
    log: progress,
  });
  const rows: string[] = [];
  let proxy: Awaited<ReturnType<typeof startPgshard>> | null = null;
  try {
    proxy = await startPgshard(direct, {
      shards: cluster.shards.map((s) => ({ host: s.primary.host, port: s.primary.port })),
      sharding: PGBENCH_SHARDING,
    });
    progress(`sharded: pgbench -i -s ${opts.scale} through pgshard (COPY split over 2 shards)...`);
    const t0 = Date.now();
    await initPgbench(proxy.endpoint, opts.scale);
    const loadSec = (Date.now() - t0) / 1000;
    const counts = await Promise.all(cluster.shards.map(async (s) => Number((await s.primary.sql('SELECT count(*) AS n FROM pgbench_accounts', BENCH_DATABASE))[0]?.['n'])));
    const args = ['-n', '-S', '-M', 'prepared', '-c', String(opts.clients), '-j', '2', '-T', String(opts.durationSec)];
    const targets: [string, Endpoint][] = [
      ['direct (1 node)', { host: direct.host, port: direct.port, user: direct.user, password: direct.password, database: direct.database }],
      ['pgshard (2 shards)', proxy.endpoint],
    ];
    const tps = new Map<string, number[]>(targets.map(([name]) => [name, []]));
    const proxyCpuUs: number[] = [];
    const errors: string[] = [];
    for (let round = 1; round <= opts.rounds; round++) {
      for (const [name, endpoint] of targets) {
        const viaProxy = endpoint === proxy.endpoint;
        const cpuBefore = viaProxy ? processCpuTimes(proxy.pid as number) : null;
        const r = await runPgbench({ endpoint, args, timeoutMs: opts.durationSec * 1000 + 60_000 });
        if (cpuBefore !== null && r.processed) proxyCpuUs.push((totalSeconds(cpuDelta(cpuBefore, processCpuTimes(proxy.pid as number))) * 1e6) / r.processed);
        if (r.errored || r.tps === null) errors.push(`${name} round ${round}: ${r.errors.join(' | ') || 'no tps'}`);
        else tps.get(name)!.push(r.tps);
        progress(`sharded round ${round} ${name}: ${r.tps === null ? 'no tps' : `${Math.round(r.tps)} tps`}${r.failed ? `, ${r.failed} failed` : ''}`);
      }
    }
    const d = median(tps.get('direct (1 node)')!);
    const s = median(tps.get('pgshard (2 shards)')!);
    const ratio = s / d;
    rows.push(
      '## Sharded: pgbench -S -M prepared on 2 shards',
      '',
      `pgbench tables sharded by aid/tid/bid (int4, hash, 1024 buckets) over 2 shards on this machine, loaded by \`pgbench -i -s ${opts.scale}\` through pgshard in ${loadSec.toFixed(1)} s (COPY split: ${counts.join(' + ')} accounts rows). ${opts.clients} clients, ${opts.durationSec} s per run, ${opts.rounds} alternating round(s), medians. Both shards and the direct node share the same CPUs. pgshard's CPU per transaction (median): ${median(proxyCpuUs).toFixed(1)} µs.`,
      '',
      '| target | tps (median) | ratio to direct | mark |',
      '|---|---:|---:|---|',
      `| direct (1 node) | ${Math.round(d)} | 1.00 | |`,
      `| pgshard (2 shards) | ${Math.round(s)} | ${ratio.toFixed(2)} | ${ratio >= SHARDED_TPS_VS_DIRECT_MIN ? '✓' : '✗'} ≥ ${SHARDED_TPS_VS_DIRECT_MIN} |`,
      '',
      errors.length === 0 ? 'No errors.' : `Errors:\n${errors.map((e) => `- ${e}`).join('\n')}`,
      '',
    );
  } finally {
    await proxy?.stop().catch(() => undefined);
    await cluster.stop();
  }
  progress('sharded: planner micro-benchmark...');
  const planner = execFileSync(process.execPath, ['--import', 'tsx', join(repoRoot, 'bench', 'planner-bench.ts'), '--ms', '200'], { cwd: repoRoot, encoding: 'utf8' });
  rows.push(
    '## Planner micro-benchmark (`bench/planner-bench.ts`)',
    '',
    `Target: a plan-cache hit (bind parameters + hash the key) ≤ ${PLAN_CACHE_HIT_US_MAX} µs.`,
    '',
    '```',
    planner.trimEnd(),
    '```',
    '',
  );
  return rows;
}
