// Command-line and environment options of `npm run bench` (bench/run.ts).
//   --duration <s>   seconds per pgbench run (env BENCH_DURATION, default 10)
//   --rounds <n>     rounds; every workload runs once per target per round (env BENCH_ROUNDS, default 3)
//   --scale <n>      pgbench -i scale factor (env BENCH_SCALE, default 10)
//   --quick          smoke run: 3 s, 1 round (results go to bench/results/quick.md unless --out)
//   --only <ids>     comma-separated workload ids (see workloads.ts); `sharded` is the 2-shard section
//   --out <file>     markdown results file (default bench/results/latest.md)
//   --skip-build     use dist/ as it is instead of running tsc -p tsconfig.build.json
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { repoRoot } from './targets.js';
import { findWorkload, WORKLOADS, type Workload } from './workloads.js';

export interface BenchOptions {
  durationSec: number;
  rounds: number;
  scale: number;
  quick: boolean;
  workloads: readonly Workload[];
  outFile: string;
  build: boolean;
  /** Run the sharded section (bench/sharded.ts): always in a full run, with --only only when listed. */
  sharded: boolean;
}

export function positiveInt(name: string, raw: string | undefined, fallback: number): number {
  if (raw === undefined || raw === '') return fallback;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 1) throw new Error(`${name} must be a positive integer, got ${JSON.stringify(raw)}`);
  return n;
}

export function parseBenchOptions(argv: string[], env: NodeJS.ProcessEnv): BenchOptions {
  const { values } = parseArgs({
    args: argv,
    options: {
      duration: { type: 'string' },
      rounds: { type: 'string' },
      scale: { type: 'string' },
      quick: { type: 'boolean', default: false },
      only: { type: 'string' },
      out: { type: 'string' },
      'skip-build': { type: 'boolean', default: false },
    },
    strict: true,
  });
  const quick = values.quick ?? false;
  const only = values.only?.split(',').map((id) => id.trim());
  return {
    durationSec: positiveInt('--duration', values.duration ?? env.BENCH_DURATION, quick ? 3 : 10),
    rounds: positiveInt('--rounds', values.rounds ?? env.BENCH_ROUNDS, quick ? 1 : 3),
    scale: positiveInt('--scale', values.scale ?? env.BENCH_SCALE, 10),
    quick,
    workloads: only === undefined ? WORKLOADS : only.filter((id) => id !== 'sharded').map((id) => findWorkload(id)),
    outFile: values.out ?? join(repoRoot, 'bench', 'results', quick ? 'quick.md' : 'latest.md'),
    build: !(values['skip-build'] ?? false),
    sharded: only === undefined || only.includes('sharded'),
  };
}
