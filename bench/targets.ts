// The three things pgbench is pointed at: PostgreSQL itself, pgbouncer (transaction pooling) and
// the built pgshard proxy. pgbouncer and pgshard run as child processes with generated configs in
// their own temp directories; their pid is what the CPU accounting reads.
import { execFileSync, type ChildProcess } from 'node:child_process';
import { createWriteStream, existsSync } from 'node:fs';
import { chmod, chown, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { stringify } from 'yaml';
import { freePort } from '../proxy/demo/free-port.js';
import { postgresUserIds, runsAsPostgresUser } from '../proxy/demo/postgres-node.js';
import type { Endpoint } from './pgbench.js';
import type { BenchPostgres } from './postgres.js';
import { exited, sleep, spawnTracked, stopChild } from './processes.js';

export type TargetName = 'direct' | 'pgbouncer' | 'pgshard';
export const TARGET_NAMES: readonly TargetName[] = ['direct', 'pgbouncer', 'pgshard'];

/** Same server-connection limit for both poolers. */
export const POOL_SIZE = 20;
export const MAX_CLIENTS = 200;

export interface Target {
  readonly name: TargetName;
  readonly endpoint: Endpoint;
  /** The process whose CPU time is measured; null for direct. */
  readonly pid: number | null;
  /** Its log file (pgbouncer's log, pgshard's stderr), if any. */
  readonly logFile: string | null;
  /** False once the proxy process has exited. */
  alive(): boolean;
  stop(): Promise<void>;
}

const running = (child: ChildProcess): boolean => child.exitCode === null && child.signalCode === null;

export const repoRoot: string = fileURLToPath(new URL('..', import.meta.url));

function endpointOf(pg: BenchPostgres, port: number): Endpoint {
  return { host: '127.0.0.1', port, user: pg.user, password: pg.password, database: pg.database };
}

export function directTarget(pg: BenchPostgres): Target {
  return { name: 'direct', endpoint: endpointOf(pg, pg.port), pid: null, logFile: null, alive: () => true, stop: async () => undefined };
}

async function tail(path: string, lines = 20): Promise<string> {
  const text = await readFile(path, 'utf8').catch(() => '');
  return text.trimEnd().split('\n').slice(-lines).join('\n');
}

/** Polls until 127.0.0.1:port accepts a TCP connection; fails early if `child` exits. */
async function waitForPort(port: number, child: ChildProcess, what: string, timeoutMs = 15_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (!running(child)) throw new Error(`${what} exited (${child.exitCode ?? child.signalCode}) before listening`);
    const ok = await new Promise<boolean>((resolve) => {
      const s = net.connect({ host: '127.0.0.1', port }, () => {
        s.destroy();
        resolve(true);
      });
      s.once('error', () => resolve(false));
    });
    if (ok) return;
    if (Date.now() > deadline) throw new Error(`${what} is not listening on port ${port} after ${timeoutMs} ms`);
    await sleep(100);
  }
}

/** A private temp dir; when root, owned by the postgres OS user (pgbouncer drops to it). */
async function privateDir(prefix: string, forPostgresUser: boolean): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), prefix));
  if (forPostgresUser && runsAsPostgresUser) {
    const { uid, gid } = postgresUserIds();
    await chown(dir, uid, gid);
  }
  return dir;
}

// ---------------------------------------------------------------------------------------------
// pgbouncer

const PGBOUNCER_CANDIDATES = ['/usr/sbin/pgbouncer', '/usr/bin/pgbouncer'];

const findPgbouncer = (): string | undefined => PGBOUNCER_CANDIDATES.find((p) => existsSync(p));

/** The pgbouncer binary, installing Debian's package (apt-get) if it is missing. */
export function ensurePgbouncer(log: (line: string) => void): string {
  let bin = findPgbouncer();
  if (bin !== undefined) return bin;
  log('pgbouncer not found: apt-get install -y pgbouncer');
  const install = (): void => {
    execFileSync('apt-get', ['install', '-y', 'pgbouncer'], { stdio: ['ignore', 'ignore', 'pipe'], env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' } });
  };
  try {
    install();
  } catch {
    log('install failed; apt-get update, then retrying');
    execFileSync('apt-get', ['update'], { stdio: 'ignore' });
    install();
  }
  bin = findPgbouncer();
  if (bin === undefined) throw new Error('pgbouncer is still missing after apt-get install');
  return bin;
}

export function pgbouncerVersion(bin: string): string {
  return execFileSync(bin, ['--version'], { encoding: 'utf8' }).split('\n')[0]?.trim() ?? '?';
}

/** pgbouncer in transaction mode in front of `pg`, authenticating clients with scram-sha-256. */
export async function startPgbouncer(pg: BenchPostgres, bin: string): Promise<Target> {
  const dir = await privateDir('pgshard-bench-pgbouncer-', true);
  const port = await freePort();
  const ini = join(dir, 'pgbouncer.ini');
  const authFile = join(dir, 'userlist.txt');
  const logFile = join(dir, 'pgbouncer.log');
  // Plaintext secret: pgbouncer can then do SCRAM both with the client and with the server.
  await writeFile(authFile, `"${pg.user}" "${pg.password}"\n`, { mode: 0o600 });
  await writeFile(
    ini,
    [
      '[databases]',
      `${pg.database} = host=${pg.host} port=${pg.port} dbname=${pg.database}`,
      '',
      '[pgbouncer]',
      'listen_addr = 127.0.0.1',
      `listen_port = ${port}`,
      'unix_socket_dir =',
      'auth_type = scram-sha-256',
      `auth_file = ${authFile}`,
      'pool_mode = transaction',
      `default_pool_size = ${POOL_SIZE}`,
      `max_client_conn = ${MAX_CLIENTS}`,
      `logfile = ${logFile}`,
      'log_connections = 0',
      'log_disconnections = 0',
      'log_stats = 0',
      'ignore_startup_parameters = extra_float_digits',
      '',
    ].join('\n'),
    { mode: 0o600 },
  );
  if (runsAsPostgresUser) {
    const { uid, gid } = postgresUserIds();
    for (const f of [ini, authFile]) await chown(f, uid, gid);
  }
  // pgbouncer refuses to run as root; -u switches to the postgres user in the same process.
  const args = runsAsPostgresUser ? ['-u', 'postgres', ini] : [ini];
  const child = spawnTracked(bin, args, { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr?.setEncoding('utf8').on('data', (d: string) => (stderr += d));
  try {
    await waitForPort(port, child, 'pgbouncer');
  } catch (err) {
    await stopChild(child, 'SIGKILL');
    throw new Error(`${(err as Error).message}\n${stderr}${await tail(logFile)}`);
  }
  if (child.pid === undefined) throw new Error('pgbouncer has no pid');
  return {
    name: 'pgbouncer',
    endpoint: endpointOf(pg, port),
    pid: child.pid,
    logFile,
    alive: () => running(child),
    stop: async () => {
      await stopChild(child, 'SIGTERM'); // SIGTERM: immediate shutdown
      await rm(dir, { recursive: true, force: true });
    },
  };
}

// ---------------------------------------------------------------------------------------------
// pgshard

/** `tsc -p tsconfig.build.json`: dist/ must match the sources being measured. */
export function buildProxy(): void {
  const tsc = join(repoRoot, 'node_modules', 'typescript', 'bin', 'tsc');
  try {
    execFileSync(process.execPath, [tsc, '-p', 'tsconfig.build.json'], { cwd: repoRoot, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  } catch (err) {
    const e = err as { stdout?: string; stderr?: string; message: string };
    throw new Error(`build failed (tsc -p tsconfig.build.json):\n${e.stdout ?? ''}${e.stderr ?? e.message}`);
  }
}

export interface PgshardOptions {
  /** Extra node options, e.g. ['--cpu-prof', '--cpu-prof-dir=…']. */
  nodeArgs?: string[];
  logLevel?: string;
  /** The shards' primaries (default: `pg`'s primary as the only shard). */
  shards?: readonly { host: string; port: number }[];
  /** The database's `sharding:` config section. */
  sharding?: Record<string, unknown>;
  /** The proxy's entry point (default: this checkout's dist/proxy/cli.js); another build for A/B runs. */
  cli?: string;
  /** Arguments after `start --config <file>` (bench/multi-loop-proxy.ts takes `--threads n`). */
  extraArgs?: string[];
}

/** The built proxy (dist/proxy/cli.js start) with one database: by default one shard, `pg`'s primary. */
export async function startPgshard(pg: BenchPostgres, opts: PgshardOptions = {}): Promise<Target> {
  const dir = await privateDir('pgshard-bench-proxy-', false);
  const port = await freePort();
  const configFile = join(dir, 'pgshard.yaml');
  const logFile = join(dir, 'pgshard.log');
  const config = {
    listen: { host: '127.0.0.1', port },
    users: [{ name: pg.user, password: pg.password, auth: 'scram-sha-256' }],
    databases: [
      {
        name: pg.database,
        shards: (opts.shards ?? [{ host: pg.host, port: pg.port }]).map((primary, i) => ({ name: `shard${i}`, primary })),
        ...(opts.sharding === undefined ? {} : { sharding: opts.sharding }),
      },
    ],
    pool: { mode: 'transaction', sizeMax: POOL_SIZE },
    limits: { clientsMax: MAX_CLIENTS },
    log: { level: opts.logLevel ?? 'warn' },
  };
  await writeFile(configFile, stringify(config), { mode: 0o600 });
  await chmod(configFile, 0o600);
  const cli = opts.cli ?? join(repoRoot, 'dist', 'proxy', 'cli.js');
  const child = spawnTracked(process.execPath, [...(opts.nodeArgs ?? []), cli, 'start', '--config', configFile, ...(opts.extraArgs ?? [])], {
    cwd: dir,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const logStream = createWriteStream(logFile);
  child.stderr?.pipe(logStream);
  let ready = false;
  const readyLine = new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('pgshard did not print ready: within 30 s')), 30_000);
    let buf = '';
    child.stdout?.setEncoding('utf8').on('data', (d: string) => {
      logStream.write(d);
      if (ready) return;
      buf += d;
      if (/^ready:/m.test(buf)) {
        ready = true;
        clearTimeout(timer);
        resolve();
      }
    });
    child.once('exit', (code, signal) => {
      clearTimeout(timer);
      if (!ready) reject(new Error(`pgshard exited (${code ?? signal}) before printing ready:`));
    });
  });
  try {
    await readyLine;
  } catch (err) {
    await stopChild(child, 'SIGKILL');
    throw new Error(`${(err as Error).message}\n${await tail(logFile)}`);
  }
  if (child.pid === undefined) throw new Error('pgshard has no pid');
  return {
    name: 'pgshard',
    endpoint: endpointOf(pg, port),
    pid: child.pid,
    logFile,
    alive: () => running(child),
    stop: async () => {
      await stopChild(child, 'SIGTERM'); // graceful: lets --cpu-prof write its profile
      await exited(child);
      logStream.end();
      await rm(dir, { recursive: true, force: true });
    },
  };
}

// ---------------------------------------------------------------------------------------------
// Log excerpts (what a target logged during one run)

/** Current size of a target's log file (0 if none). */
export async function logSize(target: Target): Promise<number> {
  if (target.logFile === null) return 0;
  return (await readFile(target.logFile).catch(() => Buffer.alloc(0))).length;
}

/** What the target logged since `offset` (last `maxLines` lines). */
export async function logSince(target: Target, offset: number, maxLines = 15): Promise<string> {
  if (target.logFile === null) return '';
  const buf = await readFile(target.logFile).catch(() => Buffer.alloc(0));
  return buf.subarray(offset).toString('utf8').trimEnd().split('\n').slice(-maxLines).join('\n');
}
