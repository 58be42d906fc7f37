#!/usr/bin/env node
// The `pgshard` command: demo, start, check-config. Parses arguments (commander), builds the
// config and runs the proxy; everything else lives in the modules it calls.

import { existsSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { randomBytes } from 'node:crypto';
import { Command, InvalidArgumentError } from 'commander';
import { stringify } from 'yaml';
import { createLogger } from './logger.js';
import { ProxyServer } from './proxy-server.js';
import { formatHostPort } from './metrics/metrics-server.js';
import { createExampleSchema, EXAMPLE_QUERIES, EXAMPLE_SHARDING } from './demo/example-schema.js';
import { PGSHARD_VERSION } from './version.js';
import { checkConfigFile, ConfigError, formatProblem, loadConfigFile } from '../topology/config/load-config.js';
import { startLocalCluster, type LocalCluster } from './demo/local-cluster.js';
import { postgresBinDir } from './demo/postgres-node.js';
import { etcdBinary, haveEtcd, startEtcd, type EtcdNode } from './demo/etcd-node.js';

function intOption(min: number, max: number) {
  return (value: string): number => {
    const n = Number(value);
    if (!Number.isInteger(n) || n < min || n > max) throw new InvalidArgumentError(`expected an integer from ${min} to ${max}`);
    return n;
  };
}

/** Runs until SIGINT/SIGTERM, then stops in order: proxy first (clients told), then what it started. */
function stopOnSignal(stop: () => Promise<void>): void {
  let stopping = false;
  const handler = (signal: NodeJS.Signals): void => {
    if (stopping) return;
    stopping = true;
    process.stderr.write(`\n${signal}: stopping...\n`);
    stop().then(
      () => process.exit(0),
      (err: unknown) => {
        console.error(err);
        process.exit(1);
      },
    );
  };
  process.on('SIGINT', handler);
  process.on('SIGTERM', handler);
  process.on('SIGHUP', handler);
}

interface DemoOptions {
  shards: number;
  replicas: number;
  port: number;
  dir?: string;
  sync?: boolean;
  /** Number of proxies sharing one etcd; absent: one proxy with its local topology store. */
  etcd?: number;
}

async function runDemo(opts: DemoOptions): Promise<void> {
  if (!existsSync(join(postgresBinDir, 'initdb'))) {
    throw new Error(
      `PostgreSQL 15 server binaries not found in ${postgresBinDir}: install them (Debian/Ubuntu: ` +
        `apt-get install postgresql-15) or point PGSHARD_PG_BIN at their directory`,
    );
  }
  if (opts.sync === true && opts.replicas < 1) throw new Error('--sync needs at least one replica per shard (--replicas 1 or more)');
  const proxyCount = opts.etcd ?? 1;
  if (opts.etcd !== undefined) {
    if (!haveEtcd()) {
      throw new Error(`--etcd needs the etcd server binary, not found at ${etcdBinary}: install it (Debian/Ubuntu: apt-get install etcd-server) or point PGSHARD_ETCD_BIN at it`);
    }
    if (opts.port !== 0 && opts.port + proxyCount - 1 > 65535) throw new Error(`--etcd ${proxyCount} proxies from --port ${opts.port} would go past port 65535`);
  }
  // Without --dir the cluster makes a temp dir and removes it on stop; with --dir the data stays.
  const dir = opts.dir === undefined ? undefined : resolve(opts.dir);
  const user = 'app';
  const password = randomBytes(12).toString('hex');
  const log = createLogger('info');
  let cluster: LocalCluster | null = null;
  let etcd: EtcdNode | null = null;
  const proxies: ProxyServer[] = [];
  stopOnSignal(async () => {
    await Promise.allSettled(proxies.map((p) => p.stop()));
    // Before the cluster: etcd's data lives in the cluster's directory, removed with it.
    await etcd?.stop();
    await cluster?.stop();
  });
  process.stderr.write(`starting ${opts.shards} shard(s) with ${opts.replicas} replica(s) each${opts.sync === true ? ', synchronous replication' : ''}...\n`);
  const local = await startLocalCluster({
    shards: opts.shards,
    replicas: opts.replicas,
    ...(dir === undefined ? {} : { dir }),
    users: [{ name: user, password }],
    databases: ['app'],
    synchronous: opts.sync === true,
    log: (line) => process.stderr.write(`${line}\n`),
  });
  cluster = local;
  if (opts.etcd !== undefined) {
    etcd = await startEtcd({ dir: join(local.dir, 'etcd') });
    process.stderr.write(`etcd up on ${etcd.endpoint} (pid ${etcd.pid})\n`);
  }
  // Health checks and failover actions (pg_promote, ALTER SYSTEM, fencing) need a superuser: the
  // cluster's bootstrap superuser, which clients are not told about.
  const superuser = { name: local.superuser, password: local.superPassword, auth: 'scram-sha-256' };
  const configFor = (i: number): Record<string, unknown> => ({
    listen: { host: '127.0.0.1', port: opts.port === 0 ? 0 : opts.port + i },
    users: [{ name: user, password, auth: 'scram-sha-256', admin: true }, superuser],
    databases: [
      {
        name: 'app',
        shards: local.shards.map((s) => ({
          name: s.name,
          // Data directories on this machine: a failed old primary is rewound and rejoins as a replica.
          primary: { host: s.primary.host, port: s.primary.port, dataDir: s.primary.dataDir },
          replicas: s.replicas.map((r) => ({ host: r.host, port: r.port, dataDir: r.dataDir })),
        })),
        sharding: EXAMPLE_SHARDING,
      },
    ],
    health: { user: superuser.name },
    failover: { user: superuser.name, rejoin: true, ...(opts.sync === true ? { replication: 'sync' } : {}) },
    ...(etcd === null ? {} : { coordination: { kind: 'etcd', endpoints: [etcd.endpoint] } }),
    state: { dir: join(local.dir, proxyCount === 1 ? 'pgshard-state' : `pgshard-state-${i + 1}`) },
  });
  const started: { configPath: string; url: string; admin: string }[] = [];
  for (let i = 0; i < proxyCount; i++) {
    const configPath = join(local.dir, proxyCount === 1 ? 'pgshard.yaml' : `pgshard-${i + 1}.yaml`);
    writeFileSync(configPath, stringify(configFor(i)), { mode: 0o600 });
    const config = loadConfigFile(configPath);
    const proxy = new ProxyServer(config, { configPath, log: proxyCount === 1 ? log : log.child({ proxy: i + 1 }) });
    proxies.push(proxy);
    const addr = await proxy.start();
    const base = `${user}:${password}@${addr.host}:${addr.port}`;
    started.push({ configPath, url: `postgres://${base}/app`, admin: `postgres://${base}/pgshard` });
  }
  await createExampleSchema(started[0]!.url);
  const lines: string[] = [];
  for (const [i, p] of started.entries()) {
    const name = proxyCount === 1 ? '' : ` (proxy ${i + 1})`;
    lines.push(`config${name}: ${p.configPath}`, `admin${name}:  psql ${p.admin}  (SHOW TABLES, SHOW POOLS, SHOW CLIENTS, ...)`);
  }
  if (etcd !== null) lines.push(`coordination: etcd at ${etcd.endpoint}, ${proxyCount} proxies (SHOW FAILOVER: leader)`);
  lines.push(
    'example schema: customers (sharded by id), orders (co-located with customers by customer_id), countries (reference table)',
    `  routed to one shard:  ${EXAMPLE_QUERIES.routed}`,
    `  scatter-gather:       ${EXAMPLE_QUERIES.scatter}`,
    ...started.map((p) => `ready: ${p.url}`),
    '',
  );
  process.stdout.write(lines.join('\n'));
}

async function runStart(configPath: string): Promise<void> {
  const config = loadConfigFile(configPath);
  const log = createLogger(config.log.level);
  const proxy = new ProxyServer(config, { configPath: resolve(configPath), log });
  stopOnSignal(() => proxy.stop());
  const addr = await proxy.start();
  process.stdout.write(`ready: listening on ${addr.host}:${addr.port}\n`);
  const metrics = proxy.metricsAddress;
  if (metrics !== null) process.stdout.write(`metrics: http://${formatHostPort(metrics.host, metrics.port)}${metrics.path}\n`);
}

function runCheckConfig(path: string): void {
  const problems = checkConfigFile(path);
  if (problems.length === 0) {
    process.stdout.write(`${path}: ok\n`);
    return;
  }
  for (const p of problems) process.stdout.write(`${formatProblem(p)}\n`);
  process.exitCode = 1;
}

export function buildCli(): Command {
  const program = new Command('pgshard').version(PGSHARD_VERSION).description('PostgreSQL-compatible sharding proxy');
  program
    .command('demo')
    .description('start a local cluster of real PostgreSQL shards with replicas, plus the proxy')
    .option('--shards <n>', 'number of shards', intOption(1, 16), 2)
    .option('--replicas <n>', 'streaming replicas per shard', intOption(0, 4), 1)
    .option('--port <port>', 'proxy port on 127.0.0.1', intOption(0, 65535), 6432)
    .option('--dir <dir>', 'directory for the cluster (default: a new temp dir)')
    .option('--sync', 'synchronous replication (needs --replicas 1 or more); failover.replication: sync')
    .option('--etcd <n>', 'start one etcd and n proxies sharing it (ports from --port on)', intOption(1, 16))
    .action(runDemo);
  program
    .command('start')
    .description('run the proxy against an existing topology')
    .requiredOption('--config <file>', 'config file (YAML or JSON)')
    .action((opts: { config: string }) => runStart(opts.config));
  program
    .command('check-config')
    .description('validate a config file and print every problem with its key path')
    .argument('<file>')
    .action(runCheckConfig);
  return program;
}

buildCli()
  .parseAsync(process.argv)
  .catch((err: unknown) => {
    if (err instanceof ConfigError) {
      console.error(`invalid configuration:\n${err.problems.map(formatProblem).join('\n')}`);
    } else {
      console.error(err instanceof Error ? err.message : err);
    }
    process.exit(1);
  });
