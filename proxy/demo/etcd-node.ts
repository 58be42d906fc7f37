// One real etcd server process (a single-member cluster) for the integration tests of multi-proxy
// coordination. It only listens on 127.0.0.1 (client and peer ports picked free), keeps its data
// under a directory the caller chose, and writes its log next to it.
//
// Cleanup mirrors postgres-node.ts: every etcd started here is registered with the watchdog
// (trackForCleanup), so that it is terminated even when this process is SIGKILLed; a process 'exit'
// hook stops what is still running synchronously; signals are the caller's business
// (stopStartedEtcdSync(), or opt in with stopEtcdOnSignals()).
import { spawn, type ChildProcess } from 'node:child_process';
import { accessSync, closeSync, constants, openSync, readFileSync, statSync } from 'node:fs';
import { mkdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { freePort } from './free-port.js';
import { pidAlive, trackForCleanup, untrackForCleanup } from './postgres-node.js';
import { signalStopper } from './signal-stop.js';

/** The etcd server binary (Debian package etcd-server). Override with PGSHARD_ETCD_BIN. */
export const etcdBinary: string = process.env.PGSHARD_ETCD_BIN ?? '/usr/bin/etcd';

const LOOPBACK = '127.0.0.1';
const START_ATTEMPTS = 5;
const DEFAULT_START_TIMEOUT_MS = 20_000;
const STOP_TIMEOUT_MS = 10_000;
const PORT_CLASH = /address already in use/i;

export interface StartEtcdOptions {
  /** Receives `etcd/` (the data directory of a new member) and `etcd.log`; created if missing. */
  dir: string;
  /** Member name; default n1. */
  name?: string;
  /** How long to wait for /health to answer; default 20 s. */
  startTimeoutMs?: number;
}

export interface EtcdNode {
  /** Client URL, http://127.0.0.1:PORT. */
  readonly endpoint: string;
  readonly pid: number;
  readonly dataDir: string;
  readonly logFile: string;
  /** SIGTERM, then SIGKILL after 10 s; resolves once the process is gone. Idempotent. */
  stop(): Promise<void>;
  /** SIGKILL (a crash); resolves once the process is gone. Idempotent. */
  kill(): Promise<void>;
}

/** True when the etcd binary is installed and executable. */
export function haveEtcd(): boolean {
  try {
    accessSync(etcdBinary, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

// ---------------------------------------------------------------------------------------------
// Safety net

const started = new Set<ChildProcess>();
let exitHookInstalled = false;

function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  process.on('exit', () => stopStartedEtcdSync());
}

function sleepSync(ms: number): void {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
}

/**
 * Synchronously terminates every etcd started by this process that still runs (SIGTERM, SIGKILL
 * after 3 s). Safe to call from a process 'exit' or signal handler, and repeatedly.
 */
export function stopStartedEtcdSync(): void {
  const pids: number[] = [];
  for (const child of started) {
    if (child.pid !== undefined && child.exitCode === null && child.signalCode === null) {
      try {
        process.kill(child.pid, 'SIGTERM');
        pids.push(child.pid);
      } catch {
        // already gone
      }
    }
  }
  started.clear();
  const deadline = Date.now() + 3_000;
  while (pids.some(pidAlive) && Date.now() < deadline) sleepSync(20);
  for (const pid of pids.filter(pidAlive)) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // gone
    }
  }
}

/**
 * Opt-in, like local-cluster.ts stopAllOnSignals(): on the first of `signals`, stop every etcd
 * synchronously, then re-raise the signal so the process ends the way it would have.
 */
export const stopEtcdOnSignals: (signals?: NodeJS.Signals[]) => () => void = signalStopper(() => stopStartedEtcdSync());

// ---------------------------------------------------------------------------------------------

function childEnv(): NodeJS.ProcessEnv {
  // etcd reads ETCD_* variables as flags: the caller's must not reconfigure (or conflict with) ours.
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) if (!k.startsWith('ETCD')) env[k] = v;
  return env;
}

/** The last lines `file` got after byte `offset` (this attempt's output only). */
function tailOf(file: string, offset: number, lines = 20): string {
  try {
    return readFileSync(file).subarray(offset).toString('utf8').trimEnd().split('\n').slice(-lines).join('\n');
  } catch {
    return '';
  }
}

function sizeOf(file: string): number {
  try {
    return statSync(file).size;
  } catch {
    return 0;
  }
}

function exited(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => child.once('exit', () => resolve()));
}

async function healthy(endpoint: string): Promise<boolean> {
  try {
    const res = await fetch(`${endpoint}/health`, { signal: AbortSignal.timeout(1_000) });
    const body = (await res.json()) as { health?: unknown };
    return res.ok && body.health === 'true';
  } catch {
    return false;
  }
}

/** Starts etcd and waits until it serves requests; retries with other ports when one was taken. */
export async function startEtcd(opts: StartEtcdOptions): Promise<EtcdNode> {
  if (!haveEtcd()) {
    throw new Error(`etcd binary not found (or not executable) at ${etcdBinary}: install the Debian package etcd-server (apt-get install etcd-server) or set PGSHARD_ETCD_BIN`);
  }
  const name = opts.name ?? 'n1';
  if (!/^[A-Za-z0-9_-]{1,32}$/.test(name)) throw new Error(`invalid etcd member name ${JSON.stringify(name)}`);
  await mkdir(opts.dir, { recursive: true, mode: 0o700 });
  const dataDir = join(opts.dir, 'etcd');
  const logFile = join(opts.dir, 'etcd.log');
  const timeoutMs = opts.startTimeoutMs ?? DEFAULT_START_TIMEOUT_MS;
  installExitHook();
  for (let attempt = 1; ; attempt++) {
    // A member remembers its peer URL in its data dir: a retry on other ports starts from scratch.
    if (attempt > 1) await rm(dataDir, { recursive: true, force: true });
    const clientPort = await freePort();
    const peerPort = await freePort();
    const endpoint = `http://${LOOPBACK}:${clientPort}`;
    const peer = `http://${LOOPBACK}:${peerPort}`;
    const args = [
      '--name', name,
      '--data-dir', dataDir,
      '--listen-client-urls', endpoint,
      '--advertise-client-urls', endpoint,
      '--listen-peer-urls', peer,
      '--initial-advertise-peer-urls', peer,
      '--initial-cluster', `${name}=${peer}`,
      '--initial-cluster-state', 'new',
      '--initial-cluster-token', `pgshard-${name}`,
      // A single member elects itself at once with these; they also lower etcd's minimum lease TTL
      // (1.5 election timeouts, rounded up to a second) so that tests can use 1 s leases.
      '--heartbeat-interval', '10',
      '--election-timeout', '100',
      '--logger', 'zap',
      '--log-level', 'warn',
    ];
    const logOffset = sizeOf(logFile);
    const logFd = openSync(logFile, 'a');
    let child: ChildProcess;
    try {
      child = spawn(etcdBinary, args, { cwd: opts.dir, env: childEnv(), stdio: ['ignore', logFd, logFd] });
    } finally {
      closeSync(logFd);
    }
    const spawnError = new Promise<Error>((resolve) => child.once('error', resolve));
    child.once('error', () => undefined);
    const pid = child.pid;
    if (pid === undefined) throw new Error(`could not start ${etcdBinary}: ${(await spawnError).message}`);
    started.add(child);
    trackForCleanup('pid', String(pid));
    const forget = (): void => {
      started.delete(child);
      untrackForCleanup('pid', String(pid));
    };
    child.once('exit', forget);

    const stopWith = async (signal: NodeJS.Signals): Promise<void> => {
      if (child.exitCode === null && child.signalCode === null) {
        child.kill(signal);
        const timer = setTimeout(() => child.kill('SIGKILL'), STOP_TIMEOUT_MS);
        await exited(child);
        clearTimeout(timer);
      }
      forget();
    };

    const deadline = Date.now() + timeoutMs;
    let up = false;
    while (Date.now() < deadline && child.exitCode === null && child.signalCode === null) {
      if (await healthy(endpoint)) {
        up = true;
        break;
      }
      await new Promise((r) => setTimeout(r, 50));
    }
    if (up) {
      return { endpoint, pid, dataDir, logFile, stop: () => stopWith('SIGTERM'), kill: () => stopWith('SIGKILL') };
    }
    const running = child.exitCode === null && child.signalCode === null;
    await stopWith('SIGKILL');
    const log = tailOf(logFile, logOffset);
    if (!running && attempt < START_ATTEMPTS && PORT_CLASH.test(log)) continue;
    throw new Error(
      `etcd did not become healthy ${running ? `within ${timeoutMs} ms` : `(it exited with ${child.signalCode ?? `code ${child.exitCode}`})`} at ${endpoint}` +
        `\n--- ${logFile} (tail) ---\n${log}`,
    );
  }
}
