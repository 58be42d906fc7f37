// Issue #2 asks whether worker threads would lift pgshard's throughput: this runs the built proxy
// (dist/) as N event loops in one process for `npm run bench -- --only event-loops`. Each worker
// thread runs a whole ProxyServer from the same config with 1/N of the pool (`pool.sizeMax`), so the
// process never holds more server connections than the single-loop proxy; the main thread only
// accepts and hands each client's descriptor to the next worker (descriptors are process-wide).
// An experiment for measuring, not a supported mode: the admin console, failover and health checks
// run independently in every worker.
//   node --import tsx bench/multi-loop-proxy.ts start --config <yaml> --threads <n>
// Prints `ready: listening on HOST:PORT` once every worker serves.
import net from 'node:net';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { pathToFileURL } from 'node:url';
import { Worker } from 'node:worker_threads';
import { repoRoot } from './targets.js';

interface WorkerData {
  configPath: string;
  threads: number;
  /** file: URLs of the compiled modules a worker imports. */
  modules: { proxyServer: string; loadConfig: string; logger: string };
}

/**
 * The worker's code, plain JavaScript: a worker cannot load this TypeScript file (tsx's loader hooks
 * do not reach worker threads in Node 20), and it only needs the compiled build, as the single-loop
 * target runs it.
 */
const WORKER_SOURCE = `
const net = require('node:net');
const { parentPort, workerData } = require('node:worker_threads');
(async () => {
  const { ProxyServer } = await import(workerData.modules.proxyServer);
  const { loadConfigFile } = await import(workerData.modules.loadConfig);
  const { createLogger } = await import(workerData.modules.logger);
  const config = loadConfigFile(workerData.configPath);
  const perThread = {
    ...config,
    // Port 0: each worker's own listener is unused; clients arrive through the main thread.
    listen: { ...config.listen, port: 0 },
    pool: { ...config.pool, sizeMax: Math.max(1, Math.floor(config.pool.sizeMax / workerData.threads)) },
  };
  const proxy = new ProxyServer(perThread, { configPath: workerData.configPath, log: createLogger(config.log.level) });
  await proxy.start();
  parentPort.on('message', (fd) => {
    const socket = new net.Socket({ fd, readable: true, writable: true, pauseOnCreate: true });
    socket.pause();
    proxy.acceptConnection(socket);
  });
  parentPort.postMessage('ready');
})().catch((err) => {
  console.error(err);
  process.exit(1);
});
`;

async function runMain(): Promise<void> {
  const { values } = parseArgs({
    args: process.argv.slice(2),
    options: { config: { type: 'string' }, threads: { type: 'string', default: '2' } },
    // `start`, as the CLI takes it (bench/targets.ts starts either the same way).
    allowPositionals: true,
    strict: true,
  });
  if (values.config === undefined) throw new Error('--config is required');
  const threads = Number(values.threads);
  if (!Number.isInteger(threads) || threads < 1) throw new Error('--threads must be a positive integer');
  const { parse } = await import('yaml');
  const { readFileSync } = await import('node:fs');
  const raw = parse(readFileSync(values.config, 'utf8')) as { listen: { host: string; port: number } };
  const dist = (...parts: string[]): string => pathToFileURL(join(repoRoot, 'dist', ...parts)).href;
  const data: WorkerData = {
    configPath: values.config,
    threads,
    modules: { proxyServer: dist('proxy', 'proxy-server.js'), loadConfig: dist('topology', 'config', 'load-config.js'), logger: dist('proxy', 'logger.js') },
  };
  const workers = Array.from({ length: threads }, () => new Worker(WORKER_SOURCE, { eval: true, workerData: data }));
  await Promise.all(
    workers.map(
      (w) =>
        new Promise<void>((resolve, reject) => {
          w.once('message', () => resolve());
          w.once('error', reject);
        }),
    ),
  );
  // Accepted sockets stay referenced here, never read: closing this handle would close the descriptor
  // the worker now serves. They are released when the worker's side closes it (the process exits then).
  const accepted = new Set<net.Socket>();
  let next = 0;
  const server = net.createServer({ pauseOnConnect: true }, (socket) => {
    const handle = (socket as unknown as { _handle: { fd: number } | null })._handle;
    if (handle === null) return;
    accepted.add(socket);
    workers[next++ % threads]!.postMessage(handle.fd);
  });
  server.listen(raw.listen.port, raw.listen.host, () => {
    process.stdout.write(`ready: listening on ${raw.listen.host}:${raw.listen.port} (${threads} event loops)\n`);
  });
  const stop = (): void => {
    process.exit(0);
  };
  process.once('SIGTERM', stop);
  process.once('SIGINT', stop);
}

runMain().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
