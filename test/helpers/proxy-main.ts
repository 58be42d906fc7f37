// Runs one pgshard ProxyServer as its own process, for tests that must watch the proxy from outside
// (its memory, or whether it survives) instead of sharing the test's process.
//   node --import tsx test/helpers/proxy-main.ts <config.json|yaml>
// Prints one JSON line {"host","port","pid"} on stdout once listening. Stops on SIGTERM/SIGINT and
// when its stdin closes (so it never outlives the test process that started it).
import { createLogger, silentLogger } from '../../proxy/logger.js';
import { ProxyServer } from '../../proxy/proxy-server.js';
import { loadConfigFile } from '../../topology/config/load-config.js';

const configPath = process.argv[2];
if (configPath === undefined) {
  console.error('usage: proxy-main.ts <config file>');
  process.exit(2);
}
const config = loadConfigFile(configPath);
const log = config.log.level === 'silent' ? silentLogger() : createLogger(config.log.level, process.stderr);
const proxy = new ProxyServer(config, { log, configPath });
const { host, port } = await proxy.start();
process.stdout.write(`${JSON.stringify({ host, port, pid: process.pid })}\n`);

let stopping = false;
function stop(): void {
  if (stopping) return;
  stopping = true;
  const force = setTimeout(() => process.exit(0), 5000);
  force.unref();
  proxy.stop().then(
    () => process.exit(0),
    (err: unknown) => {
      console.error(err);
      process.exit(1);
    },
  );
}
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
process.stdin.on('end', stop);
process.stdin.on('error', stop);
process.stdin.resume();
