// Metrics without PostgreSQL: label sets derived from pool names and the config (names with `/`, a
// renamed shard, two pools with one label set), client states, failover shard keys, the rendered
// exposition from a fake proxy (no password in it), and the HTTP server's answers when collection
// fails or requests are odd.
import net from 'node:net';
import { once } from 'node:events';
import t from 'tap';
import type { ClientView } from '../../../proxy/admin/admin-command.js';
import type { PoolStats } from '../../../proxy/backend/node-pool.js';
import type { FailoverStatus } from '../../../proxy/failover/failover-coordinator.js';
import { silentLogger } from '../../../proxy/logger.js';
import { MetricsServer } from '../../../proxy/metrics/metrics-server.js';
import { takeSnapshot, type MetricsSource, type PoolLike } from '../../../proxy/metrics/metrics-snapshot.js';
import { ProxyMetrics } from '../../../proxy/metrics/proxy-metrics.js';
import { parseConfig } from '../../../topology/config/load-config.js';
import type { DatabaseConfig, NodeAddress } from '../../../topology/config/config-types.js';
import type { NodeView } from '../../../topology/health/node-health.js';
import { httpRequest, parseExposition } from '../../helpers/prometheus-text.js';

const SECRET = 'Zebra-Quartz-9731';

const config = parseConfig(
  {
    users: [
      { name: 'app', password: SECRET },
      { name: 'app2', password: SECRET, serverUser: 'app', serverPassword: SECRET },
      { name: 'ops', password: SECRET, admin: true },
    ],
    databases: [
      { name: 'a', shards: [{ name: 's/0', primary: { host: 'h1', port: 1 }, replicas: [{ host: 'h2', port: 2 }] }] },
      { name: 'a/b', shards: [{ primary: { host: 'h3', port: 3 } }] },
    ],
  },
  {},
);

function stats(over: Partial<PoolStats>): PoolStats {
  return {
    name: '',
    database: 'a',
    user: 'app',
    active: 0,
    idle: 0,
    connecting: 0,
    waiting: 0,
    maxWaitMs: 0,
    sizeMax: 20,
    acquired: 0,
    timeouts: 0,
    connectErrors: 0,
    busyMs: 0,
    waited: 0,
    waitedMs: 0,
    deadlocks: 0,
    ...over,
  };
}

function pool(name: string, node: NodeAddress, over: Partial<PoolStats> = {}): PoolLike & { login: { node: NodeAddress; password: string } } {
  return { name, login: { node, password: SECRET }, stats: () => stats({ name, ...over }) };
}

function client(over: Partial<ClientView>): ClientView {
  return {
    id: 1, processId: 1, user: '', database: '', applicationName: '', remote: '127.0.0.1:1', connectedAt: 0, tls: false,
    state: 'startup', txStatus: 'I', server: null, pinnedReason: null, queries: 0, waitingMs: 0, ...over,
  };
}

/** A fake proxy; setPrimary plays a failover of database `a`. */
function source(over: Partial<MetricsSource> = {}): MetricsSource & { setPrimary(a: NodeAddress): void } {
  let primary: NodeAddress = { host: 'h1', port: 1 };
  return {
    config: () => config,
    pools: () => [
      pool('a/s/0/h1:1', { host: 'h1', port: 1 }, { active: 1, idle: 2, acquired: 10, maxWaitMs: 250, waiting: 1, busyMs: 1500, waited: 3, waitedMs: 40 }),
      // app2 logs in as app: its pool has the same label set and is added in.
      pool('a/s/0/h1:1', { host: 'h1', port: 1 }, { active: 1, acquired: 5, maxWaitMs: 1500, waiting: 2, timeouts: 1, busyMs: 750, waited: 1, waitedMs: 10, deadlocks: 2 }),
      pool('a/s/0/h2:2', { host: 'h2', port: 2 }, { idle: 1, acquired: 7, connectErrors: 3 }),
      pool('a/b/shard0/h3:3', { host: 'h3', port: 3 }, { connecting: 1 }),
      // A shard renamed by RELOAD keeps its pool under the old name.
      pool('a/old/h2:2', { host: 'h2', port: 2 }, { user: 'ops' }),
    ],
    primaryOf: (db: DatabaseConfig, i: number) => (db.name === 'a' && i === 0 ? primary : db.shards[i]!.primary),
    clients: () => [
      client({ state: 'startup' }),
      client({ state: 'login', user: 'app', database: 'not-configured' }),
      client({ state: 'idle', user: 'app', database: 'a' }),
      client({ state: 'idle', user: 'app', database: 'a' }),
      client({ state: 'active', user: 'app2', database: 'a/b' }),
      client({ state: 'waiting', user: 'app', database: 'a' }),
      client({ state: 'ready', user: 'ops', database: 'pgshard' }),
      client({ state: 'closed', user: 'app', database: 'a' }),
    ],
    health: () => null,
    failover: () => null,
    version: '9.9.9',
    ...over,
    setPrimary: (a: NodeAddress) => {
      primary = a;
    },
  };
}

void t.test('pool labels come from the config, not from splitting names', async (t) => {
  const s = takeSnapshot(source());
  t.strictSame(
    s.pools.map((p) => [p.labels, p.active, p.idle, p.connecting, p.waiting, p.maxWaitSeconds, p.sizeMax, p.acquired, p.timeouts, p.connectErrors]),
    [
      [{ database: 'a', shard: 's/0', node: 'h1:1', role: 'primary', user: 'app' }, 2, 2, 0, 3, 1.5, 40, 15, 1, 0],
      [{ database: 'a', shard: 's/0', node: 'h2:2', role: 'replica', user: 'app' }, 0, 1, 0, 0, 0, 20, 7, 0, 3],
      [{ database: 'a/b', shard: 'shard0', node: 'h3:3', role: 'primary', user: 'app' }, 0, 0, 1, 0, 0, 20, 0, 0, 0],
      [{ database: 'a', shard: 'old', node: 'h2:2', role: 'replica', user: 'ops' }, 0, 0, 0, 0, 0, 20, 0, 0, 0],
    ],
  );
  const moved = source();
  moved.setPrimary({ host: 'h2', port: 2 });
  t.strictSame(
    takeSnapshot(moved).pools.slice(0, 2).map((p) => [p.labels.node, p.labels.role]),
    [['h1:1', 'replica'], ['h2:2', 'primary']],
    'the role follows the routed primary after a failover',
  );
});

void t.test('clients: configured names only, states folded', async (t) => {
  const s = takeSnapshot(source());
  t.equal(s.clientsConnected, 8);
  t.equal(s.clientsMax, 1000);
  t.strictSame(
    s.clients.map((c) => [c.labels.database, c.labels.user, c.labels.state, c.count]),
    [
      ['', '', 'login', 1],
      ['', 'app', 'login', 1],
      ['a', 'app', 'idle', 2],
      ['a/b', 'app2', 'active', 1],
      ['a', 'app', 'waiting', 1],
      ['pgshard', 'ops', 'idle', 1],
      ['a', 'app', 'closing', 1],
    ],
  );
});

void t.test('nodes and shards', async (t) => {
  const node = (over: Partial<NodeView>): NodeView => ({
    key: '', database: 'a', shard: 's/0', address: 'h1:1', configuredRole: 'primary', observedRole: 'primary', state: 'up', up: true,
    failures: 0, promoted: false, receiving: null, upstream: null, currentLsn: null, receiveLsn: null, replayLsn: null, lagBytes: null,
    lagMs: null, lagAtMs: null, routable: false, lastCheckAtMs: null, sampledAtMs: null, lastError: null, ...over,
  });
  const status = (shard: string, over: Partial<FailoverStatus> = {}): FailoverStatus => ({
    shard, term: 3, phase: 'promoting', primary: null, reason: '', fenced: ['h1:1'], leader: false, lastChange: null,
    failovers: 2, switchovers: 1, promoteFailures: 4, ...over,
  });
  const s = takeSnapshot(
    source({
      health: () => ({
        snapshot: () => [
          node({}),
          node({ address: 'h2:2', configuredRole: 'replica', observedRole: 'unknown', state: 'down', up: false, failures: 5, lagBytes: 4096n, lagMs: 1500 }),
        ],
      }),
      failover: () => ({ status: () => [status('a/s/0'), status('a/b/shard0', { phase: 'normal', primary: 'h3:3', fenced: [], leader: true })] }),
    }),
  );
  t.strictSame(s.nodes, [
    { labels: { database: 'a', shard: 's/0', node: 'h1:1' }, up: true, role: 'primary', routable: false, lagSeconds: null, lagBytes: null, failures: 0 },
    { labels: { database: 'a', shard: 's/0', node: 'h2:2' }, up: false, role: 'unknown', routable: false, lagSeconds: 1.5, lagBytes: 4096, failures: 5 },
  ]);
  t.strictSame(s.shards, [
    { labels: { database: 'a', shard: 's/0' }, term: 3, phase: 'promoting', primary: null, fenced: 1, failovers: 2, switchovers: 1, promoteFailures: 4 },
    { labels: { database: 'a/b', shard: 'shard0' }, term: 3, phase: 'normal', primary: 'h3:3', fenced: 0, failovers: 2, switchovers: 1, promoteFailures: 4 },
  ]);
  t.equal(s.leader, true);
  t.equal(takeSnapshot(source()).leader, null, 'unknown before failover runs');
});

void t.test('the rendered exposition', async (t) => {
  const metrics = new ProxyMetrics(source());
  t.match(metrics.contentType, /^text\/plain; version=0\.0\.4/);
  const text = await metrics.render();
  t.notOk(text.includes(SECRET), 'no password, though every fake pool carries one');
  const m = parseExposition(text);
  t.equal(m.value('pgshard_info', { version: '9.9.9' }), 1);
  const primary = { database: 'a', shard: 's/0', node: 'h1:1', role: 'primary', user: 'app' };
  t.equal(m.value('pgshard_pool_server_connections', { ...primary, state: 'active' }), 2);
  t.equal(m.value('pgshard_pool_max_wait_seconds', primary), 1.5);
  t.equal(m.value('pgshard_pool_acquired_total', primary), 15);
  t.equal(m.types.get('pgshard_pool_acquired_total'), 'counter');
  t.equal(m.value('pgshard_pool_server_busy_seconds_total', primary), 2.25, 'two pools with one label set are added up');
  t.equal(m.value('pgshard_pool_waits_total', primary), 4);
  t.equal(m.value('pgshard_pool_wait_seconds_total', primary), 0.05);
  t.equal(m.types.get('pgshard_pool_wait_seconds_total'), 'counter');
  t.equal(m.value('pgshard_pool_deadlocks_total', primary), 2);
  t.equal(m.value('pgshard_clients_connected'), 8);
  t.equal(m.value('pgshard_clients', { database: 'a', user: 'app', state: 'idle' }), 2);
  t.equal(m.select('pgshard_node_up').length, 0, 'no node series before health checks run');
  t.equal(m.value('pgshard_failover_leader'), 0, 'not leading before failover runs');
  t.ok(m.select('pgshard_process_cpu_user_seconds_total').length === 1, 'process metrics, prefixed');
  for (const s of m.samples) t.ok(s.name.startsWith('pgshard_'), `${s.name} is prefixed`);
  // A second proxy in the same process: its own registry, its own values.
  const other = parseExposition(await new ProxyMetrics(source({ clients: () => [], version: '1.0.0' })).render());
  t.equal(other.value('pgshard_clients_connected'), 0);
  t.equal(other.select('pgshard_info', { version: '9.9.9' }).length, 0);
  t.equal(parseExposition(await metrics.render()).value('pgshard_clients_connected'), 8, 'and the first is unchanged');
});

void t.test('the HTTP server: failures, odd requests, stop', async (t) => {
  let fail = false;
  const renderer = {
    contentType: 'text/plain; version=0.0.4; charset=utf-8',
    render: async () => {
      if (fail) throw new Error('boom');
      return 'x_total 1\n';
    },
  };
  const server = new MetricsServer({ host: '127.0.0.1', port: 0, path: '/m' }, renderer, silentLogger());
  t.teardown(() => server.stop());
  const { port } = await server.start();
  t.equal(server.address?.port, port);
  await t.rejects(server.start(), /already started/);
  const ok = await httpRequest(port, '/m');
  t.strictSame([ok.status, ok.body, ok.headers['content-type']], [200, 'x_total 1\n', renderer.contentType]);
  fail = true;
  const failed = await httpRequest(port, '/m');
  t.strictSame([failed.status, failed.body], [500, 'metrics collection failed\n']);
  fail = false;
  t.equal((await httpRequest(port, '/m?x')).status, 200);
  t.equal((await httpRequest(port, '/M')).status, 404, 'paths are case-sensitive');
  t.equal((await httpRequest(port, '/m', 'PUT', 'body')).status, 405);

  // A request line longer than Node accepts, and a header block that never ends, are answered or dropped.
  const raw = async (text: string): Promise<string> => {
    const s = net.connect(port, '127.0.0.1');
    const chunks: Buffer[] = [];
    s.on('data', (c: Buffer) => chunks.push(c));
    s.on('error', () => undefined);
    s.end(text);
    await once(s, 'close');
    return Buffer.concat(chunks).toString();
  };
  t.match(await raw(`GET /${'x'.repeat(100_000)} HTTP/1.1\r\n\r\n`), /^HTTP\/1\.1 4\d\d /);
  t.match(await raw('\x00\x01\x02 not http\r\n\r\n'), /^HTTP\/1\.1 400 /);
  t.equal((await httpRequest(port, '/m')).status, 200, 'still serving');

  // Two servers on one port: the second names metrics.port.
  const clash = new MetricsServer({ host: '127.0.0.1', port, path: '/m' }, renderer, silentLogger());
  await t.rejects(clash.start(), { name: 'MetricsListenError', code: 'EADDRINUSE', message: `metrics.port: cannot listen on 127.0.0.1:${port} for the metrics endpoint: the port is already in use (choose another metrics.port or metrics.host, or set metrics.enabled: false)` });
  await clash.stop();

  await server.stop();
  await server.stop();
  t.equal(server.address, null);
  await t.rejects(httpRequest(port, '/m'), { code: 'ECONNREFUSED' });
});
