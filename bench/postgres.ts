// The PostgreSQL 15 server the benchmarks run against: one primary (no replica) started with the
// local-cluster harness, a `bench` role with a random scram password, and a `bench` database.
import { randomBytes } from 'node:crypto';
import { startLocalCluster, type LocalCluster } from '../proxy/demo/local-cluster.js';
import type { PgNode } from '../proxy/demo/postgres-node.js';

export const BENCH_USER = 'bench';
export const BENCH_DATABASE = 'bench';

/** Settings added to the harness defaults. synchronous_commit=off keeps tpcb-like off the disk's fsync latency. */
export const BENCH_PG_SETTINGS: Record<string, string | number> = {
  max_connections: 200,
  synchronous_commit: 'off',
};

/** Settings reported with the results (as the server shows them). */
const REPORTED_SETTINGS = ['max_connections', 'shared_buffers', 'synchronous_commit', 'fsync', 'full_page_writes', 'wal_level'];

export interface BenchPostgres {
  cluster: LocalCluster;
  primary: PgNode;
  host: string;
  port: number;
  user: string;
  password: string;
  database: string;
  /** `SELECT version()`. */
  version: string;
  /** name → value, from SHOW. */
  settings: Record<string, string>;
}

/** `shards` primaries (default 1); the returned endpoint is the first one's. */
export async function startBenchPostgres(log: (line: string) => void, shards = 1): Promise<BenchPostgres> {
  const password = randomBytes(16).toString('hex');
  const cluster = await startLocalCluster({
    shards,
    replicas: 0,
    users: [{ name: BENCH_USER, password }],
    databases: [BENCH_DATABASE],
    settings: BENCH_PG_SETTINGS,
    log,
  });
  const primary = cluster.shards[0]?.primary;
  if (primary === undefined) throw new Error('local cluster started without a primary');
  const version = String((await primary.sql('SELECT version() AS v'))[0]?.v ?? '?');
  const settings: Record<string, string> = {};
  for (const name of REPORTED_SETTINGS) {
    const rows = await primary.sql(`SHOW ${name}`);
    settings[name] = String(rows[0]?.[name] ?? '?');
  }
  return { cluster, primary, host: primary.host, port: primary.port, user: BENCH_USER, password, database: BENCH_DATABASE, version, settings };
}
