// Starts pgshard in a child process (test/helpers/proxy-main.ts) in front of a test cluster. Used where
// the test must observe the proxy process itself: its resident memory, or a crash (which would
// otherwise take the test process down with it and hide every later result).
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { LocalCluster, TeardownTarget } from '../harness/cluster.js';
import { DATABASE, rawConfigFor, USERS, type FixtureUser, type ProxyOptions } from './proxy-fixture.js';

const here = dirname(fileURLToPath(import.meta.url));
const repoRoot = resolve(here, '..', '..');
const mainScript = join(here, 'proxy-main.ts');

export interface ProxyProcess {
  readonly pid: number;
  readonly host: string;
  readonly port: number;
  readonly configPath: string;
  url(user?: FixtureUser, db?: string): string;
  clientConfig(user?: FixtureUser, db?: string): { host: string; port: number; user: string; password: string; database: string };
  /** True until the process has exited. */
  alive(): boolean;
  /** Resolves when the process exits. */
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /** Everything the process wrote to stderr so far (crash traces, logs). */
  stderr(): string;
  /** Resident set size in bytes from /proc/<pid>/status (VmRSS), or null when the process is gone. */
  rssBytes(): number | null;
  /** SIGTERM, then SIGKILL after 5 s; resolves once it has exited. */
  stop(): Promise<void>;
  /** Calls `fn` with a description (exit status and stderr) if the process exits before stop(). */
  onCrash(fn: (description: string) => void): void;
}

export function rssOf(pid: number): number | null {
  try {
    const m = /^VmRSS:\s+(\d+)\s+kB/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m === null ? null : Number(m[1]) * 1024;
  } catch {
    return null;
  }
}

export async function startProxyProcess(
  t: TeardownTarget,
  cluster: LocalCluster,
  opts: ProxyOptions = {},
  env: Record<string, string> = {},
): Promise<ProxyProcess> {
  const dir = mkdtempSync(join(tmpdir(), 'pgshard-proxy-'));
  const configPath = join(dir, 'pgshard.json');
  writeFileSync(configPath, JSON.stringify(rawConfigFor(cluster, opts), null, 2), { mode: 0o600 });
  const child = spawn(process.execPath, ['--import', 'tsx', mainScript, configPath], {
    cwd: repoRoot,
    env: { ...process.env, ...env },
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  let stderr = '';
  let stdout = '';
  let done = false;
  child.stderr.setEncoding('utf8').on('data', (d: string) => {
    stderr += d;
  });
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolveExit) => {
    child.once('exit', (code, signal) => {
      done = true;
      resolveExit({ code, signal });
    });
  });
  let stopRequested = false;
  const stop = async (): Promise<void> => {
    stopRequested = true;
    if (!done) {
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
      await exited;
      clearTimeout(timer);
    }
    rmSync(dir, { recursive: true, force: true });
  };
  t.teardown(stop);

  const ready = await new Promise<{ host: string; port: number }>((resolveReady, reject) => {
    const timer = setTimeout(() => reject(new Error(`proxy process did not start within 30 s:\n${stderr}`)), 30_000);
    child.stdout.setEncoding('utf8').on('data', (d: string) => {
      stdout += d;
      const nl = stdout.indexOf('\n');
      if (nl >= 0) {
        clearTimeout(timer);
        resolveReady(JSON.parse(stdout.slice(0, nl)) as { host: string; port: number });
      }
    });
    void exited.then(({ code, signal }) => {
      clearTimeout(timer);
      reject(new Error(`proxy process exited (${signal ?? code}) before listening:\n${stderr}`));
    });
  });
  const { host, port } = ready;
  const pid = child.pid!;
  return {
    pid,
    host,
    port,
    configPath,
    url: (user = 'app', db = DATABASE) => {
      const e = encodeURIComponent;
      return `postgresql://${e(user)}:${e(USERS[user].password)}@${host}:${port}/${e(db)}`;
    },
    clientConfig: (user = 'app', db = DATABASE) => ({ host, port, user, password: USERS[user].password, database: db }),
    alive: () => !done,
    exited,
    stderr: () => stderr,
    rssBytes: () => (done ? null : rssOf(pid)),
    stop,
    onCrash: (fn) => {
      void exited.then(({ code, signal }) => {
        if (!stopRequested) fn(`the proxy process exited (${signal ?? `code ${code}`}) while the test was running; its stderr:\n${stderr}`);
      });
    },
  };
}
