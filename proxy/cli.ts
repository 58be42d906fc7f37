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
import { createExampleSchema, EXAMPLE_QUERIES, EXAMPLE_SHARDING } from './demo/example-schema.js';
import { PGSHARD_VERSION } from './version.js';
import { checkConfigFile, ConfigError, formatProblem, loadConfigFile } from '../topology/config/load-config.js';
import { startLocalCluster, type LocalCluster } from './demo/local-cluster.js';
import { postgresBinDir } from './demo/postgres-node.js';

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

async function runDemo(opts: { shards: number; replicas: number; port: number; dir?: string }): Promise<void> {
  if (!existsSync(join(postgresBinDir, 'initdb'))) {
    throw new Error(
      `PostgreSQL 15 server binaries not found in ${postgresBinDir}: install them (Debian/Ubuntu: ` +
        `apt-get install postgresql-15) or point PGSHARD_PG_BIN at their directory`,
    );
  }
  // Without --dir the cluster makes a temp dir and removes it on stop; with --dir the data stays.
  const dir = opts.dir === undefined ? undefined : resolve(opts.dir);
  const user = 'app';
  const password = randomBytes(12).toString('hex');
  const log = createLogger('info');
  let cluster: LocalCluster | null = null;
  let proxy: ProxyServer | null = null;
  stopOnSignal(async () => {
    await proxy?.stop();
    await cluster?.stop();
  });
  process.stderr.write(`starting ${opts.shards} shard(s) with ${opts.replicas} replica(s) each...\n`);
  cluster = await startLocalCluster({
    shards: opts.shards,
    replicas: opts.replicas,
    ...(dir === undefined ? {} : { dir }),
    users: [{ name: user, password }],
    databases: ['app'],
    log: (line) => process.stderr.write(`${line}\n`),
  });
  const rawConfig = {
    listen: { host: '127.0.0.1', port: opts.port },
    users: [{ name: user, password, auth: 'scram-sha-256', admin: true }],
    databases: [
      {
        name: 'app',
        shards: cluster.shards.map((s) => ({
          name: s.name,
          primary: { host: s.primary.host, port: s.primary.port },
          replicas: s.replicas.map((r) => ({ host: r.host, port: r.port })),
        })),
        sharding: EXAMPLE_SHARDING,
      },
    ],
    state: { dir: join(cluster.dir, 'pgshard-state') },
  };
  const configPath = join(cluster.dir, 'pgshard.yaml');
  writeFileSync(configPath, stringify(rawConfig), { mode: 0o600 });
  const config = loadConfigFile(configPath);
  proxy = new ProxyServer(config, { configPath, log });
  const addr = await proxy.start();
  const url = `postgres://${user}:${password}@${addr.host}:${addr.port}/app`;
  await createExampleSchema(url);
  process.stdout.write(
    [
      `config: ${configPath}`,
      `admin:  psql postgres://${user}:${password}@${addr.host}:${addr.port}/pgshard  (SHOW TABLES, SHOW POOLS, SHOW CLIENTS, ...)`,
      'example schema: customers (sharded by id), orders (co-located with customers by customer_id), countries (reference table)',
      `  routed to one shard:  ${EXAMPLE_QUERIES.routed}`,
      `  scatter-gather:       ${EXAMPLE_QUERIES.scatter}`,
      `ready: ${url}`,
      '',
    ].join('\n'),
  );
}

async function runStart(configPath: string): Promise<void> {
  const config = loadConfigFile(configPath);
  const log = createLogger(config.log.level);
  const proxy = new ProxyServer(config, { configPath: resolve(configPath), log });
  stopOnSignal(() => proxy.stop());
  const addr = await proxy.start();
  process.stdout.write(`ready: listening on ${addr.host}:${addr.port}\n`);
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
