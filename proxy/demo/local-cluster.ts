// A throw-away sharded PostgreSQL 15 deployment on this machine: N shard primaries, each with R
// streaming replicas, all on 127.0.0.1 with free ports, everything under one directory.
// Used by `pgshard demo`, the integration tests (test/harness/cluster.ts) and the benchmarks.
//
// Cleanup guarantees: stop() is idempotent and stops replicas, then primaries, then removes the
// directory if startLocalCluster created it. If startLocalCluster itself fails, it stops what it had
// started before rethrowing. On process exit, stopAllStartedNodesSync() runs automatically; on
// signals the caller decides (call stopAllStartedNodesSync() from its handler, or opt in with
// stopAllOnSignals()).
import { randomBytes } from 'node:crypto';
import { rmSync } from 'node:fs';
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { availableParallelism, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { execFileSync } from 'node:child_process';
import { freePort } from './free-port.js';
import { signalStopper } from './signal-stop.js';
import {
  MAX_SOCKET_DIR_LENGTH,
  PgNode,
  preparePostgresDir,
  runsAsPostgresUser,
  stopStartedPgNodesSync,
  trackForCleanup,
  untrackForCleanup,
  type PgInitCredentials,
} from './postgres-node.js';

export interface LocalClusterUser {
  name: string;
  password: string;
  superuser?: boolean;
}

export interface LocalClusterOptions {
  shards: number;
  replicas: number;
  /** Parent of all data dirs, logs and (if short enough) sockets. Default: mkdtemp in os.tmpdir(). */
  dir?: string;
  /** Default 'postgres'. */
  superuser?: string;
  /** Default: random. */
  superPassword?: string;
  /** Roles created on every primary (LOGIN, scram password, SUPERUSER if asked). */
  users: { name: string; password: string; superuser?: boolean }[];
  /** Databases created on every primary, owned by the first user (the superuser if no users). */
  databases: string[];
  /** postgresql.conf settings for every node, appended after the defaults. */
  settings?: Record<string, string | number>;
  /** When replicas > 0: synchronous_standby_names = 'ANY 1 (<replica names>)' on each primary. */
  synchronous?: boolean;
  /** Progress lines (one per step, with timings). */
  log?: (line: string) => void;
}

export interface LocalShard {
  /** 'shard0', 'shard1', ... */
  name: string;
  /** Node name '<shard>-primary'. */
  primary: PgNode;
  /** Node names '<shard>-replica1', ... (also their application_name and, with '_', slot name). */
  replicas: PgNode[];
}

export interface LocalCluster {
  dir: string;
  /** Unix socket directory shared by all nodes. */
  socketDir: string;
  superuser: string;
  superPassword: string;
  shards: LocalShard[];
  /** Idempotent: stops replicas, then primaries, then removes `dir` if it was created by mkdtemp. */
  stop(): Promise<void>;
}

// ---------------------------------------------------------------------------------------------
// Safety net

const ownedDirs = new Set<string>();
let exitHookInstalled = false;

function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  process.on('exit', () => stopAllStartedNodesSync());
}

/**
 * Synchronously stops every Postgres server started by this process (immediate shutdown, then
 * SIGKILL) and removes the temporary directories created by startLocalCluster. Installed on
 * process 'exit' automatically; call it from your own SIGINT/SIGTERM handlers.
 */
export function stopAllStartedNodesSync(): void {
  stopStartedPgNodesSync();
  for (const dir of ownedDirs) {
    try {
      rmSync(dir, { recursive: true, force: true });
    } catch {
      // best effort on the way out
    }
  }
  ownedDirs.clear();
}

/**
 * Opt-in: on the first of `signals`, stop everything synchronously, then re-raise the signal so the
 * process ends the way it would have (other listeners, e.g. tap's signal-exit, still run).
 * Returns a function removing the handlers.
 */
export const stopAllOnSignals: (signals?: NodeJS.Signals[]) => () => void = signalStopper(() => stopAllStartedNodesSync());

// ---------------------------------------------------------------------------------------------

const quoteIdent = (s: string): string => `"${s.replace(/"/g, '""')}"`;
const quoteLiteral = (s: string): string => `'${s.replace(/'/g, "''")}'`;

async function mapLimit<T, R>(items: T[], limit: number, fn: (item: T, index: number) => Promise<R>): Promise<R[]> {
  const results: R[] = new Array<R>(items.length);
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < items.length) {
      const i = next++;
      results[i] = await fn(items[i] as T, i);
    }
  };
  const settled = await Promise.allSettled(Array.from({ length: Math.max(1, Math.min(limit, items.length)) }, worker));
  const failed = settled.find((s): s is PromiseRejectedResult => s.status === 'rejected');
  if (failed) throw failed.reason;
  return results;
}

/** When root, the postgres OS user must be able to reach and write `dir`. */
function checkPostgresCanWrite(dir: string): void {
  if (!runsAsPostgresUser) return;
  try {
    execFileSync('runuser', ['-u', 'postgres', '--', 'test', '-w', dir, '-a', '-x', dir], { stdio: 'ignore' });
  } catch {
    throw new Error(`the postgres OS user cannot write ${dir}: every parent directory must be traversable (o+x) by it`);
  }
}

async function createRolesAndDatabases(primary: PgNode, opts: LocalClusterOptions, superuser: string): Promise<void> {
  for (const u of opts.users) {
    const exists = (await primary.sql(`SELECT 1 FROM pg_roles WHERE rolname = ${quoteLiteral(u.name)}`)).length > 0;
    const attrs = `LOGIN PASSWORD ${quoteLiteral(u.password)}${u.superuser ? ' SUPERUSER' : ''}`;
    await primary.sql(`${exists ? 'ALTER' : 'CREATE'} ROLE ${quoteIdent(u.name)} WITH ${attrs}`);
  }
  const owner = opts.users[0]?.name ?? superuser;
  for (const db of opts.databases) {
    const exists = (await primary.sql(`SELECT 1 FROM pg_database WHERE datname = ${quoteLiteral(db)}`)).length > 0;
    if (exists) await primary.sql(`ALTER DATABASE ${quoteIdent(db)} OWNER TO ${quoteIdent(owner)}`);
    else await primary.sql(`CREATE DATABASE ${quoteIdent(db)} OWNER ${quoteIdent(owner)}`);
  }
}

async function makeSynchronous(shard: LocalShard): Promise<void> {
  const value = `ANY 1 (${shard.replicas.map((r) => `"${r.name}"`).join(', ')})`;
  await shard.primary.sql(`ALTER SYSTEM SET synchronous_standby_names = ${quoteLiteral(value)}`);
  await shard.primary.sql('SELECT pg_reload_conf()');
  const deadline = Date.now() + 30_000;
  for (;;) {
    const shown = await shard.primary.sql('SHOW synchronous_standby_names');
    const states = await shard.primary.sql(`SELECT 1 FROM pg_stat_replication WHERE sync_state IN ('quorum', 'sync')`);
    if (shown[0]?.synchronous_standby_names === value && states.length > 0) return;
    if (Date.now() > deadline) throw new Error(`${shard.name}: synchronous replication did not become active`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

export async function startLocalCluster(opts: LocalClusterOptions): Promise<LocalCluster> {
  if (!Number.isInteger(opts.shards) || opts.shards < 1) throw new Error('startLocalCluster: shards must be an integer >= 1');
  if (!Number.isInteger(opts.replicas) || opts.replicas < 0) throw new Error('startLocalCluster: replicas must be an integer >= 0');
  const log = opts.log ?? ((): void => undefined);
  const superuser = opts.superuser ?? 'postgres';
  const superPassword = opts.superPassword ?? randomBytes(18).toString('base64url');
  const creds: PgInitCredentials = { superuser, superPassword };
  const t0 = Date.now();
  const elapsed = (): string => `${((Date.now() - t0) / 1000).toFixed(1)}s`;

  installExitHook();
  let dir: string;
  let ownsDir: boolean;
  if (opts.dir !== undefined) {
    dir = resolve(opts.dir);
    await mkdir(dir, { recursive: true, mode: 0o755 }); // created parents must stay traversable
    ownsDir = false;
  } else {
    dir = await mkdtemp(join(tmpdir(), 'pgshard-'));
    ownsDir = true;
    ownedDirs.add(dir);
    trackForCleanup('dir', dir);
  }

  const primaries: PgNode[] = [];
  const replicas: PgNode[] = [];
  const shards: LocalShard[] = [];
  let socketDir = join(dir, 'sock');
  let ownsSocketDir = false;
  let stopping: Promise<void> | undefined;

  const doStop = async (): Promise<void> => {
    const all = [...replicas, ...primaries];
    const errors: unknown[] = [];
    const stopGroup = async (nodes: PgNode[]): Promise<void> => {
      for (const r of await Promise.allSettled(nodes.map((n) => n.stop('fast')))) if (r.status === 'rejected') errors.push(r.reason);
    };
    // Current roles (a test may have promoted a replica): standbys first, then primaries.
    await stopGroup(all.filter((n) => n.role === 'replica'));
    await stopGroup(all.filter((n) => n.role === 'primary'));
    const stillRunning = all.filter((n) => n.isRunning()).map((n) => n.name);
    if (stillRunning.length > 0) {
      throw new AggregateError(errors, `local cluster: could not stop ${stillRunning.join(', ')} (data kept in ${dir})`);
    }
    for (const [owned, path] of [[ownsSocketDir, socketDir], [ownsDir, dir]] as const) {
      if (!owned) continue;
      await rm(path, { recursive: true, force: true });
      ownedDirs.delete(path);
      untrackForCleanup('dir', path);
    }
    log(`local cluster stopped (${dir})`);
  };

  const cluster: LocalCluster = {
    dir,
    socketDir,
    superuser,
    superPassword,
    shards,
    stop: () => (stopping ??= doStop()),
  };

  try {
    await preparePostgresDir(dir);
    checkPostgresCanWrite(dir);
    if (socketDir.length > MAX_SOCKET_DIR_LENGTH) {
      // Long `dir`: keep sockets in a short private directory instead.
      socketDir = await mkdtemp('/tmp/pgshard-s-');
      ownsSocketDir = true;
      ownedDirs.add(socketDir);
      trackForCleanup('dir', socketDir);
      cluster.socketDir = socketDir;
    }
    await preparePostgresDir(socketDir);
    log(`local cluster in ${dir}: ${opts.shards} shard(s) x (1 primary + ${opts.replicas} replica(s))`);

    const concurrency = Math.max(2, availableParallelism());
    const indexes = Array.from({ length: opts.shards }, (_, i) => i);
    await mapLimit(indexes, concurrency, async (i) => {
      const name = `shard${i}-primary`;
      const primary = await PgNode.initPrimary({ name, dataDir: join(dir, name), socketDir, port: await freePort(), settings: opts.settings }, creds);
      primaries[i] = primary;
      await primary.start();
      log(`${name} up on 127.0.0.1:${primary.port} (${elapsed()})`);
      await createRolesAndDatabases(primary, opts, superuser);
      shards[i] = { name: `shard${i}`, primary, replicas: [] };
    });

    // Replicas: base backups taken after roles/databases exist, so standbys have them too.
    await mapLimit(
      indexes.flatMap((i) => Array.from({ length: opts.replicas }, (_, j) => ({ i, j }))),
      concurrency,
      async ({ i, j }) => {
        const shard = shards[i] as LocalShard;
        const name = `${shard.name}-replica${j + 1}`;
        const replica = await PgNode.initReplica(shard.primary, { name, dataDir: join(dir, name), socketDir, port: await freePort(), settings: opts.settings }, creds);
        replicas.push(replica);
        shard.replicas[j] = replica;
        await replica.start();
        await shard.primary.waitForStreaming(name, 60_000);
        log(`${name} streaming on 127.0.0.1:${replica.port} (${elapsed()})`);
      },
    );

    if (opts.synchronous && opts.replicas > 0) {
      await Promise.all(shards.map((s) => makeSynchronous(s)));
      log(`synchronous replication on (${elapsed()})`);
    }
    log(`local cluster ready in ${elapsed()}`);
    return cluster;
  } catch (err) {
    try {
      await cluster.stop();
    } catch (stopErr) {
      log(`cleanup after a failed start also failed: ${(stopErr as Error).message}`);
    }
    throw err;
  }
}

