// Running pgbench and parsing what it prints.
// The password is passed in PGPASSWORD (never on the command line); the caller's other PG*
// variables are dropped so they cannot redirect a run.
import { existsSync } from 'node:fs';
import { spawnTracked } from './processes.js';

/** Where pgbench is: PostgreSQL 15's bin directory first, then /usr/bin. */
export const pgbenchPath: string = ['/usr/lib/postgresql/15/bin/pgbench', '/usr/bin/pgbench'].find((p) => existsSync(p)) ?? 'pgbench';

export interface Endpoint {
  host: string;
  port: number;
  user: string;
  password: string;
  database: string;
}

export interface PgbenchResult {
  /** "tps = … (without initial connection time)"; null when pgbench printed none. */
  tps: number | null;
  /** "latency average = … ms". */
  latencyMs: number | null;
  /** "number of transactions actually processed: N". */
  processed: number | null;
  /** "number of failed transactions: N". */
  failed: number | null;
  exitCode: number | null;
  /** True when pgbench exited non-zero, a client aborted, or the run timed out. */
  errored: boolean;
  timedOut: boolean;
  /** pgbench's error lines, deduplicated, in order (at most 10). */
  errors: string[];
  stdout: string;
  stderr: string;
}

export interface PgbenchRun {
  endpoint: Endpoint;
  /** Everything but the connection options and the database name. */
  args: readonly string[];
  /** Kill pgbench if it has not finished after this long. */
  timeoutMs: number;
}

function env(password: string): NodeJS.ProcessEnv {
  const out: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) if (!k.startsWith('PG')) out[k] = v;
  return { ...out, PGPASSWORD: password, PGSSLMODE: 'disable', LC_ALL: 'C' };
}

function num(text: string, re: RegExp): number | null {
  const m = re.exec(text);
  return m?.[1] === undefined ? null : Number(m[1]);
}

/** Extracts pgbench 15's summary numbers and error lines. */
export function parsePgbenchOutput(stdout: string, stderr: string): Pick<PgbenchResult, 'tps' | 'latencyMs' | 'processed' | 'failed' | 'errors'> {
  const all = `${stdout}\n${stderr}`;
  const errors: string[] = [];
  for (const line of stderr.split('\n')) {
    const l = line.trim();
    // Client numbers differ between otherwise identical errors: keep one of each kind.
    if (/error|abort|fatal/i.test(l) && !errors.some((e) => e.replace(/client \d+/, '') === l.replace(/client \d+/, ''))) errors.push(l);
  }
  return {
    tps: num(all, /^tps = ([\d.]+) \(without initial connection time\)/m),
    latencyMs: num(all, /^latency average = ([\d.]+) ms/m),
    processed: num(all, /^number of transactions actually processed: (\d+)/m),
    failed: num(all, /^number of failed transactions: (\d+)/m),
    errors: errors.slice(0, 10),
  };
}

/** Runs pgbench to completion (never rejects on a pgbench failure: see `errored`). */
export function runPgbench(run: PgbenchRun): Promise<PgbenchResult> {
  const { host, port, user, password, database } = run.endpoint;
  const args = ['-h', host, '-p', String(port), '-U', user, ...run.args, database];
  return new Promise((resolve, reject) => {
    const child = spawnTracked(pgbenchPath, args, { env: env(password), stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    let timedOut = false;
    child.stdout?.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.stderr?.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    const timer = setTimeout(() => {
      timedOut = true;
      child.kill('SIGKILL');
    }, run.timeoutMs);
    child.once('error', (err) => {
      clearTimeout(timer);
      reject(new Error(`cannot run ${pgbenchPath}: ${err.message}`));
    });
    child.once('close', (code) => {
      clearTimeout(timer);
      const parsed = parsePgbenchOutput(stdout, stderr);
      const aborted = /aborted/i.test(stderr);
      resolve({ ...parsed, exitCode: code, errored: timedOut || code !== 0 || aborted, timedOut, stdout, stderr });
    });
  });
}

/** `pgbench -i -s <scale>` (quiet), straight against PostgreSQL; throws on failure. */
export async function initPgbench(endpoint: Endpoint, scale: number): Promise<void> {
  const res = await runPgbench({ endpoint, args: ['-i', '-q', '-s', String(scale)], timeoutMs: 15 * 60_000 });
  if (res.errored) throw new Error(`pgbench -i failed (exit ${res.exitCode}):\n${res.stderr.trim()}`);
}
