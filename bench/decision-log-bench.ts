// Throughput of the two-phase-commit decision log: every multi-shard commit waits for one logCommit.
//   node --import tsx bench/decision-log-bench.ts [--ms 3000] [--dir DIR] [--callers 1,8,64]
// Each caller loops logCommit (a gid, 2 participants) then forget, as the coordinator does, for --ms
// milliseconds. Prints commits/s, fdatasyncs/s, commits per fdatasync and latency percentiles. The
// file goes to DIR (default ./tmp/bench-2pc, on the disk of the checkout: a tmpfs would make fsync
// free and the numbers meaningless).

import { mkdirSync, rmSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { DecisionLog, makeGid, nodeLogFs, type LogFs } from '../topology/state/decision-log.js';

function arg(name: string, fallback: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? process.argv[i + 1] ?? fallback : fallback;
}

const RUN_MS = Number(arg('ms', '3000'));
const DIR = resolve(arg('dir', 'tmp/bench-2pc'));
const CALLERS = arg('callers', '1,8,64')
  .split(',')
  .map((s) => Number(s));

/** node:fs/promises, counting fdatasyncs. */
function countingFs(counter: { datasyncs: number }): LogFs {
  return {
    ...nodeLogFs,
    async open(path, flags) {
      const file = await nodeLogFs.open(path, flags);
      return {
        write: (b, o, l, p) => file.write(b, o, l, p),
        datasync: () => {
          counter.datasyncs++;
          return file.datasync();
        },
        sync: () => file.sync(),
        truncate: (n) => file.truncate(n),
        close: () => file.close(),
      };
    },
  };
}

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? NaN;
}

async function run(callers: number): Promise<void> {
  const dir = join(DIR, `c${callers}`);
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  const counter = { datasyncs: 0 };
  const log = await DecisionLog.open(join(dir, 'pgshard-2pc.log'), { fs: countingFs(counter) });
  const latencies: number[] = [];
  const startSyncs = counter.datasyncs;
  const start = performance.now();
  const deadline = start + RUN_MS;
  let commits = 0;
  await Promise.all(
    Array.from({ length: callers }, async () => {
      while (performance.now() < deadline) {
        const gid = makeGid('bench');
        const t0 = performance.now();
        await log.logCommit(gid, [0, 1]);
        latencies.push(performance.now() - t0);
        commits++;
        log.forget(gid);
      }
    }),
  );
  const seconds = (performance.now() - start) / 1000;
  const syncs = counter.datasyncs - startSyncs;
  const stats = log.stats();
  await log.close();
  latencies.sort((a, b) => a - b);
  console.log(
    [
      `callers ${String(callers).padStart(3)}`,
      `${Math.round(commits / seconds).toString().padStart(7)} commits/s`,
      `${Math.round(syncs / seconds).toString().padStart(6)} fdatasync/s`,
      `${(commits / Math.max(1, syncs)).toFixed(1).padStart(5)} commits/fdatasync`,
      `p50 ${percentile(latencies, 50).toFixed(2)} ms`,
      `p99 ${percentile(latencies, 99).toFixed(2)} ms`,
      `compactions ${stats.compactions}`,
    ].join('  '),
  );
  rmSync(dir, { recursive: true, force: true });
}

console.log(`decision log bench: ${RUN_MS} ms per run, files in ${DIR}`);
for (const callers of CALLERS) await run(callers);
