// A PostgreSQL server whose data directory is on the proxy's machine, driven with pg_ctl: what a
// rejoin needs (proxy/failover/rejoin.ts) to stop a fenced old primary, rewind it and start it as a
// replica. The binaries are PostgreSQL 15's (PGSHARD_PG_BIN overrides); as root they run as the
// `postgres` OS user, who owns the data directory. The server log goes beside the data directory.

import { chown, rm, writeFile } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { postgresUserIds, runPgBinary, runsAsPostgresUser } from '../demo/postgres-node.js';
import type { LocalServer } from './rejoin.js';

/** pg_ctl waits this long for a start or stop. */
const PG_CTL_WAIT_S = 60;

/**
 * Starts a crashed old primary so that it can be rewound (a rejoin needs it to answer first): read-only
 * from its first moment (`default_transaction_read_only`), before the fence makes that permanent.
 */
export async function startFenced(dataDir: string): Promise<void> {
  const cwd = dirname(dataDir);
  await runPgBinary(
    'pg_ctl',
    ['-D', dataDir, 'start', '-w', '-t', String(PG_CTL_WAIT_S), '-o', '-c default_transaction_read_only=on', '-l', join(cwd, `${basename(dataDir)}.rejoin.log`)],
    { cwd, timeoutMs: (PG_CTL_WAIT_S + 30) * 1000 },
  );
}

export function localServerFor(dataDir: string): LocalServer {
  const cwd = dirname(dataDir);
  const pgCtl = (args: string[]): Promise<string> => runPgBinary('pg_ctl', ['-D', dataDir, ...args], { cwd, timeoutMs: (PG_CTL_WAIT_S + 30) * 1000 });
  const running = async (): Promise<boolean> => {
    try {
      await pgCtl(['status']);
      return true;
    } catch {
      // exit code 3: not running (a crashed server's stale postmaster.pid included)
      return false;
    }
  };
  return {
    dataDir,
    async stop(mode) {
      if (await running()) await pgCtl(['stop', '-w', '-t', String(PG_CTL_WAIT_S), '-m', mode]);
    },
    async start() {
      await pgCtl(['start', '-w', '-t', String(PG_CTL_WAIT_S), '-l', join(cwd, `${basename(dataDir)}.rejoin.log`)]);
    },
    runBinary: (bin, args, env) => runPgBinary(bin, [...args], { cwd, env }),
    writePrivateFile,
  };
}

/** Writes a file only the server's OS user may read (0600, owned by `postgres` when run as root). */
export async function writePrivateFile(path: string, content: string): Promise<void> {
  await rm(path, { force: true });
  await writeFile(path, content, { mode: 0o600 });
  if (runsAsPostgresUser) {
    const { uid, gid } = postgresUserIds();
    await chown(path, uid, gid);
  }
}
