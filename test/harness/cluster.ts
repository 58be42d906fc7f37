// Tap helpers for integration tests that need real PostgreSQL 15 servers.
// withCluster() starts a LocalCluster and registers its stop() as a teardown of the test, so the
// servers are stopped whether the test passes, fails or throws. If the test process dies instead
// (uncaught error, process.exit, tap's timeout SIGALRM, Ctrl-C), the process-wide safety net in
// proxy/demo/local-cluster.ts shuts them down synchronously.
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { startLocalCluster, stopAllOnSignals, type LocalCluster, type LocalClusterOptions } from '../../proxy/demo/local-cluster.js';
import { postgresBinDir, runsAsPostgresUser } from '../../proxy/demo/postgres-node.js';

export { postgresBinDir };
export type { LocalCluster, LocalClusterOptions };

/** The part of a tap Test that withCluster needs. */
export interface TeardownTarget {
  teardown(fn: () => unknown): void;
}

/** True when the PostgreSQL 15 binaries are installed (and, as root, the postgres OS user exists). */
export function havePostgres(): boolean {
  for (const bin of ['initdb', 'pg_ctl', 'postgres', 'pg_basebackup']) {
    if (!existsSync(join(postgresBinDir, bin))) return false;
  }
  if (runsAsPostgresUser) {
    try {
      execFileSync('id', ['-u', 'postgres'], { stdio: 'ignore' });
    } catch {
      return false;
    }
  }
  return true;
}

/**
 * Starts a local cluster for test `t` and stops it (removing its temp dir) when `t` ends.
 * Also stops everything on SIGINT/SIGTERM/SIGHUP and tap's timeout signal (SIGALRM).
 */
export async function withCluster(t: TeardownTarget, opts: LocalClusterOptions): Promise<LocalCluster> {
  stopAllOnSignals(['SIGINT', 'SIGTERM', 'SIGHUP', 'SIGALRM']);
  const cluster = await startLocalCluster(opts);
  t.teardown(() => cluster.stop());
  return cluster;
}
