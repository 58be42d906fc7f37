// Turns the individual runs of `npm run bench` into the results: medians per (workload, target),
// the comparison table with its pass/fail marks, the per-run log and the error excerpts.
import type { PgbenchResult } from './pgbench.js';
import { totalSeconds, type CpuTimes } from './proc-cpu.js';
import type { TargetName } from './targets.js';
import type { Workload } from './workloads.js';

export interface RunRecord {
  round: number;
  workload: Workload;
  target: TargetName;
  result: PgbenchResult;
  /** CPU time the proxy process used during the run; null for direct. */
  cpu: CpuTimes | null;
  /** 1-minute load average just before the run. */
  load1: number;
  /** What the proxy logged during the run, when it was not empty. */
  proxyLog: string;
  /** Set when the proxy process died during the run (it is restarted for the next one). */
  crashed: boolean;
}

/** Medians over the successful rounds of one (workload, target). */
export interface Summary {
  runs: number;
  failedRuns: number;
  tps: number | null;
  latencyMs: number | null;
  cpuMsPer1kTx: number | null;
}

// Thresholds of the table's marks.
export const PGSHARD_VS_PGBOUNCER_TPS_MIN = 0.8;
export const PGSHARD_VS_PGBOUNCER_CPU_MAX = 1.5;
export const PGSHARD_PREPARED_VS_DIRECT_TPS_MIN = 0.6;

export function median(values: number[]): number | null {
  if (values.length === 0) return null;
  const s = [...values].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  return s.length % 2 === 1 ? (s[mid] as number) : ((s[mid - 1] as number) + (s[mid] as number)) / 2;
}

/** CPU milliseconds per 1,000 transactions processed, or null. */
export function cpuMsPer1kTx(r: RunRecord): number | null {
  if (r.cpu === null || r.result.processed === null || r.result.processed === 0) return null;
  return (totalSeconds(r.cpu) * 1000) / (r.result.processed / 1000);
}

export function summarize(records: RunRecord[]): Summary {
  const ok = records.filter((r) => !r.result.errored && r.result.tps !== null);
  const nums = (f: (r: RunRecord) => number | null): number[] => ok.map(f).filter((v): v is number => v !== null);
  return {
    runs: records.length,
    failedRuns: records.length - ok.length,
    tps: median(nums((r) => r.result.tps)),
    latencyMs: median(nums((r) => r.result.latencyMs)),
    cpuMsPer1kTx: median(nums(cpuMsPer1kTx)),
  };
}

const int = (n: number): string => Math.round(n).toLocaleString('en-US');
const fixed = (n: number, digits: number): string => n.toFixed(digits);
const mark = (ok: boolean): string => (ok ? '✓' : '✗');

function failNote(s: Summary): string {
  return s.failedRuns === 0 ? '' : ` (${s.failedRuns}/${s.runs} failed)`;
}

function cell(s: Summary | undefined, value: number | null, format: (n: number) => string): string {
  if (s === undefined) return '–';
  if (s.failedRuns === s.runs) return 'fails';
  if (value === null) return 'n/a';
  return `${format(value)}${failNote(s)}`;
}

function ratio(a: number | null, b: number | null): number | null {
  return a === null || b === null || b === 0 ? null : a / b;
}

function ratioCell(r: number | null, check: ((r: number) => boolean) | null): string {
  if (r === null) return 'n/a';
  return check === null ? fixed(r, 2) : `${fixed(r, 2)} ${mark(check(r))}`;
}

export interface TableRow {
  workload: Workload;
  summaries: Partial<Record<TargetName, Summary>>;
}

export function tableRows(workloads: readonly Workload[], records: RunRecord[]): TableRow[] {
  return workloads.map((workload) => {
    const summaries: Partial<Record<TargetName, Summary>> = {};
    for (const target of ['direct', 'pgbouncer', 'pgshard'] as const) {
      const mine = records.filter((r) => r.workload.id === workload.id && r.target === target);
      if (mine.length > 0) summaries[target] = summarize(mine);
    }
    return { workload, summaries };
  });
}

/** The comparison table (markdown). */
export function resultsTable(rows: TableRow[]): string {
  const head = [
    'workload',
    'clients',
    'direct tps',
    'pgbouncer tps',
    'pgshard tps',
    'pgshard/direct',
    'pgshard/pgbouncer',
    'pgbouncer CPU ms/1k tx',
    'pgshard CPU ms/1k tx',
    'CPU ratio pgshard/pgbouncer',
    'pgshard avg latency ms',
  ];
  const lines = [`| ${head.join(' | ')} |`, `|${head.map((_, i) => (i < 1 ? ' --- ' : ' ---: ')).join('|')}|`];
  for (const { workload: w, summaries: s } of rows) {
    const { direct, pgbouncer, pgshard } = s;
    const ok = (x: Summary | undefined): x is Summary => x !== undefined && x.failedRuns < x.runs;
    const tpsOf = (x: Summary | undefined): number | null => (ok(x) ? x.tps : null);
    const cpuOf = (x: Summary | undefined): number | null => (ok(x) ? x.cpuMsPer1kTx : null);
    const vsBouncer = w.check === 'vs-pgbouncer';
    const vsDirect = w.check === 'vs-direct';
    lines.push(
      `| ${[
        w.label,
        String(w.clients),
        cell(direct, direct?.tps ?? null, int),
        cell(pgbouncer, pgbouncer?.tps ?? null, int),
        cell(pgshard, pgshard?.tps ?? null, int),
        ratioCell(ratio(tpsOf(pgshard), tpsOf(direct)), vsDirect ? (r) => r >= PGSHARD_PREPARED_VS_DIRECT_TPS_MIN : null),
        ratioCell(ratio(tpsOf(pgshard), tpsOf(pgbouncer)), vsBouncer ? (r) => r >= PGSHARD_VS_PGBOUNCER_TPS_MIN : null),
        cell(pgbouncer, pgbouncer?.cpuMsPer1kTx ?? null, (n) => fixed(n, 1)),
        cell(pgshard, pgshard?.cpuMsPer1kTx ?? null, (n) => fixed(n, 1)),
        ratioCell(ratio(cpuOf(pgshard), cpuOf(pgbouncer)), vsBouncer ? (r) => r <= PGSHARD_VS_PGBOUNCER_CPU_MAX : null),
        cell(pgshard, pgshard?.latencyMs ?? null, (n) => fixed(n, 2)),
      ].join(' | ')} |`,
    );
  }
  return lines.join('\n');
}

/** Every run, in the order it ran. */
export function runsTable(records: RunRecord[]): string {
  const lines = [
    '| round | workload | clients | target | tps | avg latency ms | tx processed | failed tx | proxy CPU s user + sys | CPU ms/1k tx | load1 before | status |',
    '| ---: | --- | ---: | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- |',
  ];
  for (const r of records) {
    const res = r.result;
    const status = r.crashed ? 'proxy crashed' : res.timedOut ? 'timed out' : res.errored ? `error (exit ${res.exitCode})` : 'ok';
    const cpu = cpuMsPer1kTx(r);
    lines.push(
      `| ${[
        r.round,
        r.workload.label,
        r.workload.clients,
        r.target,
        res.tps === null ? '–' : int(res.tps),
        res.latencyMs === null ? '–' : fixed(res.latencyMs, 3),
        res.processed ?? '–',
        res.failed ?? '–',
        r.cpu === null ? 'n/a' : `${fixed(r.cpu.user, 2)} + ${fixed(r.cpu.system, 2)}`,
        cpu === null ? 'n/a' : fixed(cpu, 1),
        fixed(r.load1, 2),
        status,
      ].join(' | ')} |`,
    );
  }
  return lines.join('\n');
}

/** pgbench's error output (and the proxy's log) for every run that did not succeed. */
export function errorsSection(records: RunRecord[]): string {
  const bad = records.filter((r) => r.result.errored || r.crashed || r.proxyLog !== '');
  if (bad.length === 0) return 'No pgbench errors, no proxy log output at level warn or above.';
  const out: string[] = [];
  for (const r of bad) {
    out.push(`- round ${r.round}, ${r.workload.label}, ${r.workload.clients} clients, ${r.target}: exit ${r.result.exitCode}${r.crashed ? ', proxy process died' : ''}`);
    const text = [...r.result.errors, ...(r.proxyLog === '' ? [] : ['--- proxy log ---', r.proxyLog])].join('\n');
    if (text !== '') out.push(`\n  \`\`\`\n${text.split('\n').map((l) => `  ${l}`).join('\n')}\n  \`\`\``);
  }
  return out.join('\n');
}
