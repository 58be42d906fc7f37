// Command-line and environment options of `npm run bench` (bench/run.ts).
//   --duration <s>   seconds per pgbench run (env BENCH_DURATION, default 10)
//   --rounds <n>     rounds; every workload runs once per target per round (env BENCH_ROUNDS, default 3)
//   --scale <n>      pgbench -i scale factor (env BENCH_SCALE, default 10)
//   --quick          smoke run: 3 s, 1 round (results go to bench/results/quick.md unless --out)
//   --only <ids>     comma-separated workload ids (see workloads.ts); `sharded` is the 2-shard section,
//                    `failover` the kill -9 timing (bench/failover.ts), `replica-reads` the read
//                    consistency benchmark (bench/replica-reads.ts)
//   --trials <n>     failover: trials, each on a new cluster and proxy (default 20, 3 with --quick)
//   --interval-ms <n> failover: health.intervalMs of the proxy (default 1000, the config default)
//   --pairs <n>      replica-reads: write→read pairs per session (default 20000, 2000 with --quick)
//   --threads <n>    event-loops: worker threads of the multi-loop proxy (default 2); the section
//                    (bench/event-loops.ts) runs only when --only lists `event-loops`
//   --out <file>     markdown results file (default bench/results/latest.md; with only failover and/or
//                    replica-reads selected, bench/results/<ids joined by +>.md)
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
  /** Run the failover benchmark (bench/failover.ts): as `sharded`. */
  failover: boolean;
  /** Run the replica-reads benchmark (bench/replica-reads.ts): as `sharded`. */
  replicaReads: boolean;
  trials: number;
  intervalMs: number;
  pairs: number;
  /** Run the event-loops experiment (bench/event-loops.ts): only when --only lists it. */
  eventLoops: boolean;
  threads: number;
}

/** --only ids that name a section rather than a pgbench workload. */
export const SECTION_IDS = ['sharded', 'failover', 'replica-reads', 'event-loops'] as const;

export function positiveInt(name: string, raw: string | undefined, fallback: number): number {
  if (raw === undefined || raw === '') return fallback;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 1) throw new Error(`${name} must be a positive integer, got ${JSON.stringify(raw)}`);
  return n;
}

/** Only sections that start their own servers selected: their own file, so that latest.md keeps the full run. */
function defaultOutName(only: string[] | undefined, quick: boolean): string {
  const standalone = only !== undefined && only.length > 0 && only.every((id) => id === 'failover' || id === 'replica-reads' || id === 'event-loops');
  if (standalone) return `${[...new Set(only)].join('+')}${quick ? '-quick' : ''}.md`;
  return quick ? 'quick.md' : 'latest.md';
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
      trials: { type: 'string' },
      'interval-ms': { type: 'string' },
      pairs: { type: 'string' },
      threads: { type: 'string' },
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
    workloads: only === undefined ? WORKLOADS : only.filter((id) => !(SECTION_IDS as readonly string[]).includes(id)).map((id) => findWorkload(id)),
    outFile: values.out ?? join(repoRoot, 'bench', 'results', defaultOutName(only, quick)),
    build: !(values['skip-build'] ?? false),
    sharded: only === undefined || only.includes('sharded'),
    failover: only === undefined || only.includes('failover'),
    replicaReads: only === undefined || only.includes('replica-reads'),
    trials: positiveInt('--trials', values.trials, quick ? 3 : 20),
    intervalMs: positiveInt('--interval-ms', values['interval-ms'], 1000),
    pairs: positiveInt('--pairs', values.pairs, quick ? 2000 : 20_000),
    eventLoops: only !== undefined && only.includes('event-loops'),
    threads: positiveInt('--threads', values.threads, 2),
  };
}
