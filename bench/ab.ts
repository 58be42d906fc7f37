// `node --import tsx bench/ab.ts --a <dir> --b <dir>`: is build B cheaper than build A? Two builds of
// the proxy (each a directory holding dist/proxy/cli.js, e.g. `git worktree` checkouts built with
// `npx tsc -p tsconfig.build.json`) take turns in front of the same PostgreSQL, a pgbench run each
// per round, and the proxy's CPU per transaction (user and system, from /proc) is compared. The
// user part is what a change to the proxy's own code moves; it is also the part least disturbed by
// whatever else the machine runs, while system time and tps follow the machine's load.
//   --workload <id>  a workload id from workloads.ts (default select-prepared-8); repeatable as a list a,b
//   --rounds <n>     rounds (default 5); A and B alternate, A first in odd rounds
//   --seconds <n>    pgbench duration per run (default 8)
//   --scale <n>      pgbench -i scale factor (default 10)
//   --a-node-args, --b-node-args "<flags>"  node options for that build's proxy (space-separated), e.g.
//                    the same build twice with `--b-node-args=--single-threaded-gc` (with =: the value starts with --)
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { positiveInt } from './options.js';
import { initPgbench, runPgbench } from './pgbench.js';
import { startBenchPostgres } from './postgres.js';
import { exitCleanlyOnSignals } from './processes.js';
import { cpuDelta, processCpuTimes } from './proc-cpu.js';
import { directTarget, startPgshard } from './targets.js';
import { findWorkload, pgbenchArgs, type Workload } from './workloads.js';

interface Sample {
  tps: number;
  userUs: number;
  systemUs: number;
}

const progress = (line: string): void => {
  process.stderr.write(`${line}\n`);
};

const median = (xs: readonly number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  const mid = s.length >> 1;
  return s.length % 2 === 1 ? (s[mid] as number) : ((s[mid - 1] as number) + (s[mid] as number)) / 2;
};

async function main(): Promise<void> {
  const { values } = parseArgs({
    args: process.argv.slice(2),
    options: {
      a: { type: 'string' },
      b: { type: 'string' },
      workload: { type: 'string', default: 'select-prepared-8' },
      rounds: { type: 'string' },
      seconds: { type: 'string' },
      scale: { type: 'string' },
      'a-node-args': { type: 'string', default: '' },
      'b-node-args': { type: 'string', default: '' },
    },
    strict: true,
  });
  if (values.a === undefined || values.b === undefined) throw new Error('--a <dir> and --b <dir> are required (each holds dist/proxy/cli.js)');
  const builds = { A: join(resolve(values.a), 'dist', 'proxy', 'cli.js'), B: join(resolve(values.b), 'dist', 'proxy', 'cli.js') };
  const nodeArgs = {
    A: (values['a-node-args'] ?? '').split(' ').filter((a) => a !== ''),
    B: (values['b-node-args'] ?? '').split(' ').filter((a) => a !== ''),
  };
  const workloads: Workload[] = (values.workload ?? '').split(',').map((id) => findWorkload(id.trim()));
  const rounds = positiveInt('--rounds', values.rounds, 5);
  const seconds = positiveInt('--seconds', values.seconds, 8);
  const scale = positiveInt('--scale', values.scale, 10);
  exitCleanlyOnSignals();

  const pg = await startBenchPostgres(progress);
  const samples = new Map<string, Sample[]>();
  try {
    progress(`pgbench -i -s ${scale}...`);
    await initPgbench(directTarget(pg).endpoint, scale);
    for (let round = 1; round <= rounds; round++) {
      const order = round % 2 === 1 ? (['A', 'B'] as const) : (['B', 'A'] as const);
      for (const workload of workloads) {
        for (const name of order) {
          const proxy = await startPgshard(pg, { cli: builds[name], nodeArgs: nodeArgs[name] });
          try {
            const pid = proxy.pid as number;
            const before = processCpuTimes(pid);
            const res = await runPgbench({ endpoint: proxy.endpoint, args: pgbenchArgs(workload, seconds), timeoutMs: seconds * 1000 + 60_000 });
            const cpu = cpuDelta(before, processCpuTimes(pid));
            if (res.errored || res.processed === null || res.tps === null) throw new Error(`${name}: pgbench failed:\n${res.errors.join('\n')}`);
            const sample = { tps: res.tps, userUs: (cpu.user * 1e6) / res.processed, systemUs: (cpu.system * 1e6) / res.processed };
            const key = `${workload.id} ${name}`;
            samples.set(key, [...(samples.get(key) ?? []), sample]);
            progress(
              `round ${round} ${workload.id} ${name}: ${sample.tps.toFixed(0)} tps, user ${sample.userUs.toFixed(2)} µs/tx, system ${sample.systemUs.toFixed(2)} µs/tx`,
            );
          } finally {
            await proxy.stop();
          }
        }
      }
    }
  } finally {
    await pg.cluster.stop();
  }

  const lines = ['| workload | build | tps | user µs/tx | system µs/tx | total µs/tx |', '| --- | --- | ---: | ---: | ---: | ---: |'];
  for (const workload of workloads) {
    for (const name of ['A', 'B'] as const) {
      const s = samples.get(`${workload.id} ${name}`) ?? [];
      const user = median(s.map((x) => x.userUs));
      const system = median(s.map((x) => x.systemUs));
      lines.push(
        `| ${workload.id} | ${name} | ${median(s.map((x) => x.tps)).toFixed(0)} | ${user.toFixed(2)} | ${system.toFixed(2)} | ${median(s.map((x) => x.userUs + x.systemUs)).toFixed(2)} |`,
      );
    }
  }
  const describe = (name: 'A' | 'B'): string => `${builds[name]}${nodeArgs[name].length > 0 ? ` (node ${nodeArgs[name].join(' ')})` : ''}`;
  process.stdout.write(`A = ${describe('A')}\nB = ${describe('B')}\nmedians of ${rounds} rounds of ${seconds} s\n\n${lines.join('\n')}\n`);
}

main().catch((err: unknown) => {
  process.stderr.write(`${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  process.exitCode = 1;
});
