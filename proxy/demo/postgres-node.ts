// One real PostgreSQL 15 server process on this machine, used by `pgshard demo`, the integration
// tests and the benchmarks. It only ever listens on 127.0.0.1 and on a unix socket directory; its
// data directory, log file and password files live under a directory the caller chose.
//
// Postgres refuses to run as root, so when this process is root every Postgres binary is run as
// the `postgres` OS user via `runuser -u postgres --`, and the directories it writes are chowned
// to that user. Passwords never appear on a command line: initdb reads a 0600 --pwfile, and
// pg_basebackup / the replica's walreceiver read a 0600 passfile.
//
// Every postmaster started here is recorded; a process 'exit' hook (installed on the first start)
// shuts down whatever is still running with an immediate shutdown, so a crashed test or demo does
// not leave servers behind. Signals are the caller's business: see stopStartedPgNodesSync() and
// local-cluster.ts.
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { appendFile, chown, mkdir, open, rm, stat, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import pg from 'pg';
import { freePort } from './free-port.js';

/** Directory holding initdb, pg_ctl, postgres, pg_basebackup. Override with PGSHARD_PG_BIN. */
export const postgresBinDir: string = process.env.PGSHARD_PG_BIN ?? '/usr/lib/postgresql/15/bin';

const LOOPBACK = '127.0.0.1';
/** Unix socket paths (dir + '/.s.PGSQL.NNNNN') must fit in sun_path (108 bytes incl. NUL). */
export const MAX_SOCKET_DIR_LENGTH = 107 - '/.s.PGSQL.65535'.length - 1;

export interface PgNodeOptions {
  /** Letters, digits, '_' and '-' only: used for file names, application_name and the slot name. */
  name: string;
  dataDir: string;
  socketDir: string;
  port: number;
  host?: '127.0.0.1';
  /** Extra postgresql.conf settings, appended after the defaults (so they win). */
  settings?: Record<string, string | number>;
}

export interface PgInitCredentials {
  superuser: string;
  superPassword: string;
}

export type PgNodeRole = 'primary' | 'replica';
export type PgStopMode = 'fast' | 'immediate' | 'smart';

// ---------------------------------------------------------------------------------------------
// Running binaries (as the postgres OS user when we are root)

/** True when Postgres binaries must be run through `runuser -u postgres`. */
export const runsAsPostgresUser: boolean = typeof process.geteuid === 'function' && process.geteuid() === 0;

let postgresIdsCache: { uid: number; gid: number } | undefined;

/** uid/gid of the `postgres` OS user (only needed when running as root). */
export function postgresUserIds(): { uid: number; gid: number } {
  if (postgresIdsCache === undefined) {
    try {
      const uid = Number(execFileSync('id', ['-u', 'postgres'], { encoding: 'utf8' }).trim());
      const gid = Number(execFileSync('id', ['-g', 'postgres'], { encoding: 'utf8' }).trim());
      postgresIdsCache = { uid, gid };
    } catch {
      throw new Error('running as root but there is no `postgres` OS user to run PostgreSQL as (install postgresql-15 or create the user)');
    }
  }
  return postgresIdsCache;
}

/** Creates `path` (recursively) and, when root, hands it to the postgres OS user. */
export async function preparePostgresDir(path: string, mode = 0o700): Promise<void> {
  await mkdir(path, { recursive: true, mode });
  await chownToPostgres(path);
}

async function chownToPostgres(path: string): Promise<void> {
  if (!runsAsPostgresUser) return;
  const { uid, gid } = postgresUserIds();
  await chown(path, uid, gid);
}

/** Writes a secret file readable only by the (postgres) owner. */
async function writeSecretFile(path: string, content: string): Promise<void> {
  await rm(path, { force: true });
  await writeFile(path, content, { mode: 0o600, flag: 'wx' });
  await chownToPostgres(path);
}

/** Helper processes (initdb, pg_ctl, pg_basebackup) currently running, killed on process exit. */
const liveHelpers = new Set<ChildProcess>();

function childEnv(extra: Record<string, string>): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  // Drop PG* variables of the caller (PGHOST, PGPASSWORD, PGDATA...) so they cannot redirect us.
  for (const [k, v] of Object.entries(process.env)) if (!k.startsWith('PG')) env[k] = v;
  env.LC_MESSAGES = 'C';
  return { ...env, ...extra };
}

export interface RunOptions {
  cwd: string;
  env?: Record<string, string>;
  timeoutMs?: number;
}

/** Runs a Postgres binary to completion (as the postgres OS user when root); rejects with its output on a non-zero exit. */
export function runPgBinary(bin: string, args: string[], opts: RunOptions): Promise<string> {
  const binPath = join(postgresBinDir, bin);
  const [file, argv] = runsAsPostgresUser ? ['runuser', ['-u', 'postgres', '--', binPath, ...args]] : [binPath, args];
  return new Promise((resolve, reject) => {
    const child = spawn(file, argv, { cwd: opts.cwd, env: childEnv(opts.env ?? {}), stdio: ['ignore', 'pipe', 'pipe'] });
    liveHelpers.add(child);
    if (child.pid !== undefined) trackForCleanup('pid', String(child.pid));
    const forget = (): void => {
      liveHelpers.delete(child);
      if (child.pid !== undefined) untrackForCleanup('pid', String(child.pid));
    };
    let out = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (out += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (out += d));
    const timer = setTimeout(() => {
      child.kill('SIGTERM');
    }, opts.timeoutMs ?? 120_000);
    child.once('error', (err) => {
      clearTimeout(timer);
      forget();
      reject(new Error(`${bin}: ${err.message}`));
    });
    child.once('close', (code, signal) => {
      clearTimeout(timer);
      forget();
      if (code === 0) resolve(out);
      else reject(new Error(`${bin} ${args.join(' ')} failed (${signal ?? `exit code ${code}`}): ${out.trim()}`));
    });
  });
}

let localeCache: string | undefined;

/** C.UTF-8 when the system has it, else C. */
function initdbLocale(): string {
  if (localeCache === undefined) {
    localeCache = 'C';
    try {
      const all = execFileSync('locale', ['-a'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] });
      if (all.split('\n').some((l) => /^c\.utf-?8$/i.test(l.trim()))) localeCache = 'C.UTF-8';
    } catch {
      // no `locale` binary: keep C
    }
  }
  return localeCache;
}

// ---------------------------------------------------------------------------------------------
// Process inspection (Linux /proc; degrades to kill(pid, 0) elsewhere)

function procStat(pid: number): { state: string; ppid: number; comm: string } | undefined {
  try {
    const raw = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const open = raw.indexOf('(');
    const close = raw.lastIndexOf(')');
    const rest = raw.slice(close + 2).split(' ');
    return { comm: raw.slice(open + 1, close), state: rest[0] ?? '?', ppid: Number(rest[1]) };
  } catch {
    return undefined;
  }
}

/** True while `pid` exists and is not a zombie. */
export function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EPERM') return false;
  }
  const st = procStat(pid);
  if (st === undefined) return !existsSync('/proc/self/stat'); // no /proc: trust kill(0)
  return st.state !== 'Z' && st.state !== 'X';
}

/** Direct children of `pid` (Linux only; empty elsewhere). */
export function childPids(pid: number): number[] {
  let entries: string[];
  try {
    entries = readdirSync('/proc');
  } catch {
    return [];
  }
  const out: number[] = [];
  for (const e of entries) {
    if (!/^\d+$/.test(e)) continue;
    const st = procStat(Number(e));
    if (st !== undefined && st.ppid === pid) out.push(Number(e));
  }
  return out;
}

function sleepSync(ms: number): void {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

async function waitFor(what: string, timeoutMs: number, check: () => boolean | Promise<boolean>, intervalMs = 50): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await check()) return;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(intervalMs);
  }
}

// ---------------------------------------------------------------------------------------------
// Watchdog: if this process is SIGKILLed (tap escalates a timeout to SIGKILL after ~1 s, the OOM
// killer, kill -9), neither 'exit' hooks nor signal handlers run. A tiny detached Node process
// holds the read end of a pipe from us; when the pipe closes (we died, however) it does the
// cleanup: SIGTERM to live helper processes, immediate shutdown (SIGQUIT, then SIGKILL) of the
// tracked postmasters still running, then removal of the tracked temp dirs. It only ever acts on
// what we told it about, and after a clean exit it finds nothing left to do.

const WATCHDOG_SOURCE = String.raw`
const fs = require('fs');
const sets = { node: new Set(), dir: new Set(), pid: new Set() };
let buf = '';
process.stdin.setEncoding('utf8');
process.stdin.on('data', (d) => {
  buf += d;
  for (let i = buf.indexOf('\n'); i >= 0; i = buf.indexOf('\n')) {
    const line = buf.slice(0, i);
    buf = buf.slice(i + 1);
    try {
      const [op, v] = JSON.parse(line);
      if (op in sets) sets[op].add(v);
      else if (op.startsWith('un') && op.slice(2) in sets) sets[op.slice(2)].delete(v);
    } catch {}
  }
});
const stat = (pid) => {
  try {
    const s = fs.readFileSync('/proc/' + pid + '/stat', 'utf8');
    const c = s.lastIndexOf(')');
    return { comm: s.slice(s.indexOf('(') + 1, c), state: s.charAt(c + 2) };
  } catch { return null; }
};
const alive = (pid) => {
  try { process.kill(pid, 0); } catch (e) { if (e.code !== 'EPERM') return false; }
  const st = stat(pid);
  return !st || (st.state !== 'Z' && st.state !== 'X');
};
let done = false;
const cleanup = () => {
  if (done) return;
  done = true;
  for (const p of sets.pid) { try { process.kill(Number(p), 'SIGTERM'); } catch {} }
  const pids = [];
  for (const d of sets.node) {
    try {
      const pid = Number(fs.readFileSync(d + '/postmaster.pid', 'utf8').split('\n')[0]);
      const st = stat(pid);
      if (pid > 0 && alive(pid) && (!st || /^(postgres|postmaster)/.test(st.comm))) { process.kill(pid, 'SIGQUIT'); pids.push(pid); }
    } catch {}
  }
  const deadline = Date.now() + 10000;
  const finish = () => {
    if (pids.some(alive) && Date.now() < deadline) { setTimeout(finish, 50); return; }
    for (const p of pids) { if (alive(p)) { try { process.kill(p, 'SIGKILL'); } catch {} } }
    setTimeout(() => {
      for (const d of sets.dir) { try { fs.rmSync(d, { recursive: true, force: true }); } catch {} }
      process.exit(0);
    }, sets.pid.size + pids.length > 0 ? 300 : 0);
  };
  finish();
};
process.stdin.on('end', cleanup);
process.stdin.on('error', cleanup);
`;

type CleanupKind = 'node' | 'dir' | 'pid';
let watchdog: ChildProcess | null | undefined;

function watchdogSend(op: string, value: string): void {
  if (watchdog === undefined) {
    watchdog = null;
    try {
      const child = spawn(process.execPath, ['-e', WATCHDOG_SOURCE], {
        detached: true,
        stdio: ['pipe', 'ignore', 'ignore'],
        env: { PATH: process.env.PATH ?? '/usr/bin:/bin' }, // no NODE_OPTIONS (tap/tsx loaders)
      });
      child.once('error', () => {
        watchdog = null;
      });
      child.stdin?.on('error', () => undefined);
      child.unref();
      (child.stdin as unknown as { unref?: () => void } | null)?.unref?.();
      watchdog = child;
    } catch {
      // no watchdog: the in-process hooks still work
    }
  }
  if (watchdog?.stdin?.writable) watchdog.stdin.write(`${JSON.stringify([op, value])}\n`);
}

/** Tells the watchdog to clean `value` up if this process dies without doing it itself. */
export function trackForCleanup(kind: CleanupKind, value: string): void {
  watchdogSend(kind, value);
}

/** The opposite of trackForCleanup, once `value` has been cleaned up normally. */
export function untrackForCleanup(kind: CleanupKind, value: string): void {
  if (watchdog) watchdogSend(`un${kind}`, value);
}

// ---------------------------------------------------------------------------------------------
// Safety net

const startedNodes = new Set<PgNode>();
let exitHookInstalled = false;

function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  process.on('exit', () => stopStartedPgNodesSync());
}

/**
 * Synchronously shuts down every postmaster started by this process that is still running
 * (immediate shutdown = SIGQUIT, escalating to SIGKILL after 5 s) and terminates helper processes
 * (initdb, pg_basebackup...). Safe to call from a process 'exit' or signal handler, and repeatedly.
 */
export function stopStartedPgNodesSync(): void {
  for (const child of liveHelpers) {
    try {
      child.kill('SIGTERM');
    } catch {
      // already gone
    }
  }
  const pids: number[] = [];
  for (const node of startedNodes) {
    const pid = node.postmasterPid();
    if (pid === null) continue;
    try {
      process.kill(pid, 'SIGQUIT');
      pids.push(pid);
    } catch {
      // already gone
    }
  }
  const deadline = Date.now() + 5000;
  while (pids.some(pidAlive) && Date.now() < deadline) sleepSync(20);
  for (const pid of pids.filter(pidAlive)) {
    for (const child of childPids(pid)) {
      try {
        process.kill(child, 'SIGKILL');
      } catch {
        // gone
      }
    }
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // gone
    }
  }
}

// ---------------------------------------------------------------------------------------------
// postgresql.conf helpers

function confValue(value: string | number): string {
  if (typeof value === 'number') return String(value);
  return `'${value.replace(/\\/g, '\\\\').replace(/'/g, "''")}'`;
}

function confBlock(title: string, settings: Record<string, string | number>): string {
  const lines = Object.entries(settings).map(([k, v]) => {
    if (!/^[A-Za-z_][A-Za-z0-9_.]*$/.test(k)) throw new Error(`invalid postgresql.conf setting name: ${k}`);
    return `${k} = ${confValue(v)}`;
  });
  return `\n# --- ${title} (pgshard) ---\n${lines.join('\n')}\n`;
}

/** A value inside a libpq conninfo string. */
function conninfoValue(v: string): string {
  return `'${v.replace(/\\/g, '\\\\').replace(/'/g, "\\'")}'`;
}

/** A field of a .pgpass line. */
function pgpassField(v: string): string {
  return v.replace(/\\/g, '\\\\').replace(/:/g, '\\:');
}

function checkName(name: string): void {
  if (!/^[A-Za-z0-9_-]{1,48}$/.test(name)) throw new Error(`invalid node name ${JSON.stringify(name)}: use 1-48 letters, digits, '_' or '-'`);
}

function checkSecret(what: string, v: string): void {
  if (v.length === 0 || /[\r\n\0]/.test(v)) throw new Error(`${what} must be non-empty and must not contain newlines or NUL`);
}

const HBA = [
  '# pgshard local cluster: loopback only',
  '# TYPE  DATABASE     USER  ADDRESS        METHOD',
  'local   all          all                  trust',
  'host    all          all   127.0.0.1/32   scram-sha-256',
  'host    replication  all   127.0.0.1/32   scram-sha-256',
  '',
].join('\n');

async function fileSize(path: string): Promise<number> {
  try {
    return (await stat(path)).size;
  } catch {
    return 0;
  }
}

async function readFrom(path: string, offset: number): Promise<string> {
  try {
    const fh = await open(path, 'r');
    try {
      const size = (await fh.stat()).size;
      const buf = Buffer.alloc(Math.max(0, size - offset));
      await fh.read(buf, 0, buf.length, offset);
      return buf.toString('utf8');
    } finally {
      await fh.close();
    }
  } catch {
    return '';
  }
}

function tail(text: string, lines = 30): string {
  return text.trimEnd().split('\n').slice(-lines).join('\n');
}

const PORT_CLASH = /could not bind IPv4 address|Address already in use|could not create lock file ".*\.s\.PGSQL\.\d+\.lock"/;

// ---------------------------------------------------------------------------------------------

export class PgNode {
  readonly name: string;
  readonly host = LOOPBACK;
  readonly dataDir: string;
  readonly socketDir: string;
  /** The role used by sql(): connects over the unix socket, trusted. */
  readonly superuser: string;
  /** `<dataDir>/../<name>.log`, written by pg_ctl -l. */
  readonly logFile: string;
  role: PgNodeRole;
  #port: number;
  #startedOnce = false;

  private constructor(opts: PgNodeOptions, superuser: string, role: PgNodeRole) {
    checkName(opts.name);
    if (opts.host !== undefined && opts.host !== LOOPBACK) throw new Error('PgNode only listens on 127.0.0.1');
    if (opts.socketDir.length > MAX_SOCKET_DIR_LENGTH) {
      throw new Error(`socket dir ${opts.socketDir} is too long for a unix socket path (max ${MAX_SOCKET_DIR_LENGTH} bytes)`);
    }
    this.name = opts.name;
    this.dataDir = opts.dataDir;
    this.socketDir = opts.socketDir;
    this.superuser = superuser;
    this.logFile = join(dirname(opts.dataDir), `${opts.name}.log`);
    this.role = role;
    this.#port = opts.port;
  }

  /** The TCP port on 127.0.0.1. Fixed after the first successful start (which may move it on a clash). */
  get port(): number {
    return this.#port;
  }

  /** Physical replication slot used by a replica of this name. */
  static slotName(replicaName: string): string {
    return replicaName.toLowerCase().replace(/[^a-z0-9_]/g, '_');
  }

  /**
   * initdb + configuration of a primary. Does not start it: call start().
   * The parent of dataDir (which receives the log file) is created and, when root, chowned.
   */
  static async initPrimary(opts: PgNodeOptions, init: PgInitCredentials): Promise<PgNode> {
    checkName(opts.name);
    checkSecret('superPassword', init.superPassword);
    const parent = dirname(opts.dataDir);
    await preparePostgresDir(parent);
    await preparePostgresDir(opts.socketDir);
    const pwfile = join(parent, `.${opts.name}.initpw`);
    await writeSecretFile(pwfile, `${init.superPassword}\n`);
    try {
      await runPgBinary(
        'initdb',
        [
          '-D', opts.dataDir,
          '-U', init.superuser,
          `--pwfile=${pwfile}`,
          '--auth-local=trust',
          '--auth-host=scram-sha-256',
          '--encoding=UTF8',
          `--locale=${initdbLocale()}`,
        ],
        { cwd: parent },
      );
    } finally {
      await rm(pwfile, { force: true });
    }
    const node = new PgNode(opts, init.superuser, 'primary');
    await appendFile(
      join(opts.dataDir, 'postgresql.conf'),
      confBlock('base settings', {
        listen_addresses: LOOPBACK,
        port: opts.port,
        unix_socket_directories: opts.socketDir,
        wal_level: 'logical',
        max_wal_senders: 10,
        max_replication_slots: 10,
        max_prepared_transactions: 100,
        wal_log_hints: 'on',
        hot_standby: 'on',
        hot_standby_feedback: 'on',
        max_connections: 200,
        shared_buffers: '64MB',
        logging_collector: 'off',
        password_encryption: 'scram-sha-256',
      }) + (opts.settings ? confBlock('caller settings', opts.settings) : ''),
    );
    await writeFile(join(opts.dataDir, 'pg_hba.conf'), HBA);
    return node;
  }

  /**
   * pg_basebackup of a running primary into a new replica (with its own physical slot created on
   * the primary, and primary_conninfo carrying application_name=<name>). Does not start it.
   */
  static async initReplica(primary: PgNode, opts: PgNodeOptions, init: PgInitCredentials): Promise<PgNode> {
    checkName(opts.name);
    checkSecret('superPassword', init.superPassword);
    if (!primary.isRunning()) throw new Error(`initReplica(${opts.name}): primary ${primary.name} is not running`);
    const parent = dirname(opts.dataDir);
    await preparePostgresDir(parent);
    await preparePostgresDir(opts.socketDir);
    const passfile = join(parent, `.${opts.name}.pgpass`);
    await writeSecretFile(passfile, `${LOOPBACK}:*:*:${pgpassField(init.superuser)}:${pgpassField(init.superPassword)}\n`);
    const slot = PgNode.slotName(opts.name);
    await runPgBinary(
      'pg_basebackup',
      ['-h', LOOPBACK, '-p', String(primary.port), '-U', init.superuser, '-w', '-D', opts.dataDir, '-R', '-X', 'stream', '-c', 'fast', '-C', '-S', slot],
      { cwd: parent, env: { PGPASSFILE: passfile, PGAPPNAME: opts.name } },
    );
    const node = new PgNode(opts, init.superuser, 'replica');
    await appendFile(
      join(opts.dataDir, 'postgresql.conf'),
      confBlock(`replica ${opts.name}`, {
        listen_addresses: LOOPBACK,
        port: opts.port,
        unix_socket_directories: opts.socketDir,
      }) + (opts.settings ? confBlock('caller settings', opts.settings) : ''),
    );
    const conninfo = [
      `host=${LOOPBACK}`,
      `port=${primary.port}`,
      `user=${conninfoValue(init.superuser)}`,
      `passfile=${conninfoValue(passfile)}`,
      `application_name=${conninfoValue(opts.name)}`,
    ].join(' ');
    // -R already wrote a primary_conninfo; the later line wins.
    await appendFile(
      join(opts.dataDir, 'postgresql.auto.conf'),
      confBlock(`replication of ${opts.name}`, { primary_conninfo: conninfo, primary_slot_name: slot }),
    );
    return node;
  }

  /** PID of the running postmaster, or null when the server is not running. */
  postmasterPid(): number | null {
    let raw: string;
    try {
      raw = readFileSync(join(this.dataDir, 'postmaster.pid'), 'utf8');
    } catch {
      return null;
    }
    const pid = Number(raw.split('\n')[0]);
    if (!Number.isInteger(pid) || pid <= 0 || !pidAlive(pid)) return null;
    const st = procStat(pid);
    if (st !== undefined && !/^(postgres|postmaster)/.test(st.comm)) return null; // stale file, pid reused
    return pid;
  }

  isRunning(): boolean {
    return this.postmasterPid() !== null;
  }

  /**
   * pg_ctl start -w. On the very first start, an "address in use" failure moves the node to a new
   * free port and retries (up to 5 times); later starts keep the port (replicas and clients know it).
   */
  async start(): Promise<void> {
    if (this.isRunning()) return;
    installExitHook();
    startedNodes.add(this);
    trackForCleanup('node', this.dataDir);
    const attempts = this.#startedOnce ? 1 : 5;
    for (let attempt = 1; ; attempt++) {
      const logOffset = await fileSize(this.logFile);
      try {
        await this.#pgCtl(['start', '-w', '-t', '60', '-l', this.logFile], 90_000);
        this.#startedOnce = true;
        return;
      } catch (err) {
        const log = await readFrom(this.logFile, logOffset);
        if (attempt < attempts && PORT_CLASH.test(log) && !this.isRunning()) {
          this.#port = await freePort();
          await appendFile(join(this.dataDir, 'postgresql.conf'), confBlock('port after a clash', { port: this.#port }));
          continue;
        }
        throw new Error(`${this.name}: ${(err as Error).message}\n--- ${this.logFile} (tail) ---\n${tail(log)}`);
      }
    }
  }

  /** pg_ctl stop -w. A no-op when the server is not running; escalates to immediate, then SIGKILL. */
  async stop(mode: PgStopMode = 'fast'): Promise<void> {
    if (this.isRunning()) {
      try {
        await this.#pgCtl(['stop', '-w', '-t', '60', '-m', mode], 90_000);
      } catch (err) {
        // Unless someone else stopped it meanwhile, escalate: immediate, then SIGKILL.
        if (this.isRunning()) {
          if (mode !== 'immediate') await this.stop('immediate');
          else await this.kill9();
          if (this.isRunning()) throw err;
        }
      }
    }
    this.#forget();
  }

  /** Not running any more: drop it from the exit hook and the watchdog. */
  #forget(): void {
    if (startedNodes.delete(this)) untrackForCleanup('node', this.dataDir);
  }

  /**
   * SIGKILL the postmaster (a crash). Its children notice and exit on their own; this waits for
   * them (SIGKILLing stragglers after 10 s) and removes the stale lock files, so start() works.
   */
  async kill9(): Promise<void> {
    const pid = this.postmasterPid();
    if (pid === null) return;
    const children = childPids(pid);
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // already gone
    }
    try {
      await waitFor(`${this.name} processes to exit after SIGKILL`, 10_000, () => !pidAlive(pid) && !children.some(pidAlive));
    } catch {
      for (const c of children.filter(pidAlive)) process.kill(c, 'SIGKILL');
      await waitFor(`${this.name} processes to exit`, 5_000, () => !children.some(pidAlive));
    }
    // Everything that used the data directory is gone: the lock files are stale. Removing them
    // matters when the dead postmaster lingers as a zombie (no reaping init in some containers).
    rmSync(join(this.dataDir, 'postmaster.pid'), { force: true });
    rmSync(join(this.socketDir, `.s.PGSQL.${this.#port}.lock`), { force: true });
    rmSync(join(this.socketDir, `.s.PGSQL.${this.#port}`), { force: true });
    this.#forget();
  }

  async restart(): Promise<void> {
    await this.stop('fast');
    await this.start();
  }

  /** pg_ctl promote -w: the replica leaves recovery and becomes a primary. */
  async promote(): Promise<void> {
    await this.#pgCtl(['promote', '-w', '-t', '60'], 90_000);
    this.role = 'primary';
  }

  async isInRecovery(): Promise<boolean> {
    const rows = await this.sql('SELECT pg_is_in_recovery() AS r');
    return rows[0]?.r === true;
  }

  /** Polls pg_last_wal_replay_lsn() until it reaches `lsn` (e.g. a primary's pg_current_wal_lsn()). */
  async waitForReplayLsn(lsn: string, timeoutMs = 30_000): Promise<void> {
    if (!/^[0-9A-Fa-f]{1,8}\/[0-9A-Fa-f]{1,8}$/.test(lsn)) throw new Error(`not an LSN: ${lsn}`);
    await waitFor(`${this.name} to replay up to ${lsn}`, timeoutMs, async () => {
      const rows = await this.sql(`SELECT coalesce(pg_last_wal_replay_lsn() >= '${lsn}'::pg_lsn, false) AS ok`);
      return rows[0]?.ok === true;
    });
  }

  /** On a primary: waits until pg_stat_replication shows `replicaName` in state 'streaming'. */
  async waitForStreaming(replicaName: string, timeoutMs = 30_000): Promise<void> {
    checkName(replicaName);
    await waitFor(`${replicaName} to stream from ${this.name}`, timeoutMs, async () => {
      const rows = await this.sql(`SELECT 1 FROM pg_stat_replication WHERE application_name = '${replicaName}' AND state = 'streaming'`);
      return rows.length > 0;
    }, 100);
  }

  /**
   * Runs `query` as the superuser over the unix socket with a fresh connection (closed after).
   * With several statements, the rows of all of them are concatenated.
   */
  async sql(query: string, database = 'postgres'): Promise<Record<string, unknown>[]> {
    const client = new pg.Client({
      host: this.socketDir,
      port: this.#port,
      user: this.superuser,
      database,
      connectionTimeoutMillis: 10_000,
    });
    client.on('error', () => {
      // a server going away under an idle client must not crash the process; query() rejects
    });
    await client.connect();
    try {
      const res: unknown = await client.query(query);
      const results = (Array.isArray(res) ? res : [res]) as pg.QueryResult<Record<string, unknown>>[];
      return results.flatMap((r) => r.rows ?? []);
    } finally {
      await client.end().catch(() => undefined);
    }
  }

  /** postgresql://user:password@127.0.0.1:port/database (TCP, scram). */
  connectionString(user: string, password: string, database: string): string {
    const e = encodeURIComponent;
    return `postgresql://${e(user)}:${e(password)}@${LOOPBACK}:${this.#port}/${e(database)}`;
  }

  #pgCtl(args: string[], timeoutMs: number): Promise<string> {
    return runPgBinary('pg_ctl', [...args, '-D', this.dataDir, '-s'], { cwd: dirname(this.dataDir), timeoutMs });
  }
}

/** A free port on 127.0.0.1 (re-exported for callers building PgNodeOptions). */
export { freePort };
