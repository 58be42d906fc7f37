// Rejoining a fenced old primary as a replica of the new one, when its data directory is on this
// machine: stop it, pg_rewind it from the new primary, make it a standby, start it. The interface is
// what failover-actions.ts needs; localRejoin() implements it with the PostgreSQL binaries.
//
// pg_rewind copies the source's configuration files too, so the node's own postgresql.conf,
// postgresql.auto.conf, pg_hba.conf and pg_ident.conf are saved before and put back after. Passwords
// reach pg_rewind through a 0600 passfile, never its command line, and are never logged.

import { randomBytes } from 'node:crypto';
import { appendFile, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';

export interface RejoinRequest {
  /** libpq keyword/value string of the new primary for pg_rewind (no password in it). */
  readonly sourceConninfo: string;
  readonly sourcePassword: string | null;
  /** primary_conninfo the node streams with afterwards (may hold a password: never logged). */
  readonly primaryConninfo: string;
}

export interface RejoinControl {
  rejoin(request: RejoinRequest): Promise<void>;
}

/** The few operations on a local server rejoin needs (the demo's PgNode provides them). */
export interface LocalServer {
  readonly dataDir: string;
  stop(mode: 'fast' | 'immediate'): Promise<void>;
  start(): Promise<void>;
  /** Runs a PostgreSQL binary (as the server's OS user) with extra environment variables. */
  runBinary(bin: string, args: readonly string[], env: Record<string, string>): Promise<string>;
  /** Writes a file readable only by the server's OS user. */
  writePrivateFile(path: string, content: string): Promise<void>;
}

const OWN_CONFIG = ['postgresql.conf', 'postgresql.auto.conf', 'pg_hba.conf', 'pg_ident.conf'];

/** A pgpass field: `:` and `\` escaped. */
const pgpassField = (v: string): string => v.replace(/\\/g, '\\\\').replace(/:/g, '\\:');

export function localRejoin(server: LocalServer): RejoinControl {
  return {
    async rejoin(req: RejoinRequest): Promise<void> {
      await server.stop('fast');
      const saved = new Map<string, string>();
      for (const f of OWN_CONFIG) {
        try {
          saved.set(f, await readFile(join(server.dataDir, f), 'utf8'));
        } catch {
          // absent (pg_ident.conf may be): nothing to restore
        }
      }
      const passfile = join(server.dataDir, '..', `.rejoin-${randomBytes(6).toString('hex')}.pgpass`);
      const env: Record<string, string> = {};
      if (req.sourcePassword !== null) {
        await server.writePrivateFile(passfile, `*:*:*:*:${pgpassField(req.sourcePassword)}\n`);
        env.PGPASSFILE = passfile;
      }
      try {
        await server.runBinary('pg_rewind', ['--target-pgdata', server.dataDir, '--source-server', req.sourceConninfo], env);
      } finally {
        await rm(passfile, { force: true });
      }
      for (const [f, text] of saved) await writeFile(join(server.dataDir, f), text);
      await server.writePrivateFile(join(server.dataDir, 'standby.signal'), '');
      const conninfo = req.primaryConninfo.replace(/\\/g, '\\\\').replace(/'/g, "''");
      await appendFile(join(server.dataDir, 'postgresql.auto.conf'), `\n# rejoined by pgshard\nprimary_conninfo = '${conninfo}'\n`);
      await server.start();
    },
  };
}
