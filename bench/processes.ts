// Child processes of a benchmark run (pgbouncer, the pgshard proxy, pgbench) and cleanup.
// Every child spawned through spawnTracked() is remembered so that a SIGINT/SIGTERM (or a crash)
// can stop it by its pid, together with the PostgreSQL servers started by the local-cluster
// harness. Nothing here kills processes by name.
import { spawn, type ChildProcess, type SpawnOptions } from 'node:child_process';
import { stopAllStartedNodesSync } from '../proxy/demo/local-cluster.js';

const live = new Set<ChildProcess>();

/** spawn(), remembering the child until it exits. */
export function spawnTracked(file: string, args: readonly string[], options: SpawnOptions): ChildProcess {
  const child = spawn(file, args, options);
  live.add(child);
  child.once('exit', () => live.delete(child));
  child.once('error', () => live.delete(child));
  return child;
}

/** Resolves when `child` has exited (immediately if it already has). */
export function exited(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => child.once('exit', () => resolve()));
}

/** Sends `signal`, then SIGKILL if the child is still there after `graceMs`. */
export async function stopChild(child: ChildProcess, signal: NodeJS.Signals = 'SIGTERM', graceMs = 10_000): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  child.kill(signal);
  const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
  await exited(child);
  clearTimeout(timer);
}

/** SIGKILLs every tracked child and stops the harness's PostgreSQL servers (synchronous). */
export function killEverythingSync(): void {
  for (const child of live) {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  }
  live.clear();
  stopAllStartedNodesSync();
}

/** On SIGINT/SIGTERM/SIGHUP: stop everything, then exit with 128 + signal number. */
export function exitCleanlyOnSignals(): void {
  const codes: Partial<Record<NodeJS.Signals, number>> = { SIGHUP: 1, SIGINT: 2, SIGTERM: 15 };
  for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
    process.once(sig, () => {
      process.stderr.write(`\n${sig}: stopping pgbench, pgbouncer, pgshard and PostgreSQL...\n`);
      killEverythingSync();
      process.exit(128 + (codes[sig] ?? 0));
    });
  }
}

/** Waits `ms` milliseconds. */
export const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));
