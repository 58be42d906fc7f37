// The Prometheus endpoint against a real PostgreSQL 15 primary and streaming replica: values that move
// with real traffic (checkouts, open clients, a client waiting for the pool and timing out), node
// health and the failover state, agreement with SHOW POOLS, 404/405 and malformed or reset requests,
// a private registry per proxy, a metrics port in use failing start, and stop() freeing the port.
import net from 'node:net';
import { once } from 'node:events';
import pg from 'pg';
import t, { type Test } from 'tap';
import { PGSHARD_VERSION } from '../../proxy/version.js';
import { DATABASE, USERS, startProxyFixture, startProxyOn, waitUntil, type FixtureUser, type ProxyHandle } from '../helpers/proxy-fixture.js';
import { httpRequest, parseExposition, type Exposition } from '../helpers/prometheus-text.js';

const ACQUIRE_TIMEOUT_MS = 1500;

const fx = await startProxyFixture(t, {
  replicas: 1,
  metrics: { enabled: true, port: 0 },
  pool: { sizeMax: 1, acquireTimeoutMs: ACQUIRE_TIMEOUT_MS },
  health: { intervalMs: 100 },
});
const primary = fx.cluster.shards[0]!.primary;
const replica = fx.cluster.shards[0]!.replicas[0]!;
const primaryNode = `127.0.0.1:${primary.port}`;
const replicaNode = `127.0.0.1:${replica.port}`;
await primary.sql('CREATE TABLE metered (id int); GRANT ALL ON metered TO PUBLIC', DATABASE);

const address = fx.proxy.metricsAddress;
if (address === null) throw new Error('metrics enabled but no metrics address');
const metricsPort = address.port;

async function scrape(port = metricsPort): Promise<Exposition> {
  const reply = await httpRequest(port, '/metrics');
  if (reply.status !== 200) throw new Error(`scrape: HTTP ${reply.status}: ${reply.body}`);
  return parseExposition(reply.body);
}

async function connect(tt: Test, user: FixtureUser = 'app', db = DATABASE, via: ProxyHandle = fx): Promise<pg.Client> {
  const c = new pg.Client({ ...via.clientConfig(user, db), query_timeout: 15_000 });
  c.on('error', () => undefined);
  await c.connect();
  tt.teardown(() => c.end().catch(() => undefined));
  return c;
}

void t.test('the endpoint: bound address, content type, info and process metrics', async (t) => {
  t.match(address, { host: '127.0.0.1', path: '/metrics' });
  t.ok(metricsPort > 0, 'port 0 became a real port');
  const reply = await httpRequest(metricsPort, '/metrics');
  t.equal(reply.status, 200);
  t.match(reply.headers['content-type'], /^text\/plain; version=0\.0\.4/);
  const m = parseExposition(reply.body);
  t.equal(m.value('pgshard_info', { version: PGSHARD_VERSION }), 1);
  t.ok(m.value('pgshard_process_cpu_user_seconds_total') > 0, 'process metrics carry the pgshard_ prefix');
  t.ok(m.select('pgshard_nodejs_eventloop_lag_seconds').length === 1);
  t.ok(m.value('pgshard_process_resident_memory_bytes') > 0);
  t.equal(m.types.get('pgshard_pool_acquired_total'), 'counter');
  t.equal(m.types.get('pgshard_pool_server_connections'), 'gauge');
  t.equal(m.value('pgshard_clients_max'), 1000);
  t.notOk(reply.body.includes(USERS.app.password) || reply.body.includes('secret'), 'no password anywhere');
});

void t.test('node health and failover state', async (t) => {
  let m = await scrape();
  await waitUntil('both nodes up with the replica caught up', async () => {
    m = await scrape();
    return (
      m.select('pgshard_node_up', { node: primaryNode, shard: 'shard0' })[0]?.value === 1 &&
      m.select('pgshard_node_up', { node: replicaNode })[0]?.value === 1 &&
      m.select('pgshard_node_replication_lag_bytes', { node: replicaNode })[0]?.value === 0
    );
  }, 15_000);
  const labels = { database: DATABASE, shard: 'shard0' };
  t.equal(m.value('pgshard_node_role', { node: primaryNode, role: 'primary' }), 1);
  t.equal(m.value('pgshard_node_role', { node: primaryNode, role: 'replica' }), 0);
  t.equal(m.value('pgshard_node_role', { node: replicaNode, role: 'replica' }), 1);
  t.equal(m.value('pgshard_node_routable', { node: replicaNode }), 1, 'a caught-up replica takes reads');
  t.equal(m.value('pgshard_node_replication_lag_seconds', { node: replicaNode }), 0);
  t.equal(m.select('pgshard_node_replication_lag_seconds', { node: primaryNode }).length, 0, 'no lag series for a primary');
  t.equal(m.value('pgshard_node_check_failures', { node: primaryNode }), 0);
  t.equal(m.value('pgshard_failover_term', labels), 1);
  t.equal(m.value('pgshard_failover_phase', { ...labels, phase: 'normal' }), 1);
  t.equal(m.sum('pgshard_failover_phase', labels), 1, 'exactly one phase is current');
  t.equal(m.select('pgshard_failover_phase', labels).length, 7, 'every phase has a series');
  t.equal(m.value('pgshard_failovers_total', labels), 0);
  t.equal(m.value('pgshard_switchovers_total', labels), 0);
  t.equal(m.value('pgshard_failover_promote_failures_total', labels), 0);
  t.equal(m.value('pgshard_failover_fenced_nodes', labels), 0);
  t.equal(m.value('pgshard_shard_primary', { ...labels, node: primaryNode }), 1);
  t.equal(m.value('pgshard_failover_leader'), 1, 'a single local proxy runs its failovers');
});

void t.test('checkouts and connected clients follow real traffic', async (t) => {
  t.equal((await scrape()).value('pgshard_clients_connected'), 0);
  const clients = [await connect(t), await connect(t), await connect(t)];
  // Counted from here: logging in may check a connection out too.
  const acquired0 = (await scrape()).sum('pgshard_pool_acquired_total', { database: DATABASE });
  let queries = 0;
  for (const c of clients) {
    for (let i = 0; i < 4; i++) {
      await c.query('SELECT 1');
      queries++;
    }
  }
  const after = await scrape();
  t.equal(after.value('pgshard_clients_connected'), 3, 'every open client');
  t.equal(after.value('pgshard_clients', { database: DATABASE, user: 'app', state: 'idle' }), 3);
  t.equal(after.sum('pgshard_pool_acquired_total', { database: DATABASE }) - acquired0, queries, 'one checkout per statement');
  t.equal(after.sum('pgshard_pool_server_connections', { state: 'active' }), 0, 'nothing lent between statements');
  t.ok(after.sum('pgshard_pool_server_connections', { state: 'idle' }) >= 1, 'the connections went back idle');
  t.comment(
    after
      .select('pgshard_pool_acquired_total')
      .map((s) => `${s.labels['role']} ${s.labels['node']}: ${s.value}`)
      .join(', '),
  );
  for (const s of after.select('pgshard_pool_size_max')) t.equal(s.value, 1, `size max of ${s.labels['node']}`);
  const pools = after.select('pgshard_pool_size_max');
  t.ok(pools.length >= 1);
  for (const p of pools) {
    t.equal(p.labels['database'], DATABASE);
    t.equal(p.labels['shard'], 'shard0');
    t.equal(p.labels['user'], 'app');
    t.equal(p.labels['role'], p.labels['node'] === primaryNode ? 'primary' : 'replica');
  }

  await clients[2]!.end();
  await waitUntil('the closed client to leave', async () => (await scrape()).value('pgshard_clients_connected') === 2);

  // The same numbers as the admin console's.
  const admin = await connect(t, 'admin', 'pgshard');
  const show = await admin.query<{ pool: string; user: string; acquired: string; server_idle: string }>('SHOW POOLS');
  const m = await scrape();
  const metricAcquired = m.sum('pgshard_pool_acquired_total', { database: DATABASE });
  t.equal(show.rows.reduce((a, r) => a + Number(r.acquired), 0), metricAcquired, 'acquired agrees with SHOW POOLS');
  t.equal(m.value('pgshard_clients', { database: 'pgshard', user: 'admin', state: 'idle' }), 1, 'the admin console session');
  t.equal(m.value('pgshard_clients_connected'), 3);
});

void t.test('a client waiting for the pool, then timing out', async (t) => {
  const holder = await connect(t);
  const waiter = await connect(t);
  await holder.query('BEGIN');
  await holder.query('INSERT INTO metered VALUES (1)');
  const primaryPool = { database: DATABASE, node: primaryNode, role: 'primary' };
  const timeouts0 = (await scrape()).value('pgshard_pool_acquire_timeouts_total', primaryPool);

  const started = Date.now();
  const blocked = waiter.query('INSERT INTO metered VALUES (2)').then(
    () => null,
    (err: { code?: string }) => err,
  );
  let m = await scrape();
  await waitUntil('the waiter to show', async () => {
    m = await scrape();
    return m.value('pgshard_pool_clients_waiting', primaryPool) === 1 && m.value('pgshard_pool_max_wait_seconds', primaryPool) > 0.1;
  });
  t.equal(m.value('pgshard_pool_server_connections', { ...primaryPool, state: 'active' }), 1, 'the holder has the only connection');
  t.equal(m.value('pgshard_clients', { database: DATABASE, user: 'app', state: 'active' }), 1);
  t.equal(m.value('pgshard_clients', { database: DATABASE, user: 'app', state: 'waiting' }), 1);
  const wait = m.value('pgshard_pool_max_wait_seconds', primaryPool);
  t.ok(wait <= (Date.now() - started) / 1000 + 0.05, `max wait ${wait}s is in seconds`);

  const err = await blocked;
  t.equal(err?.code, '53300', 'the waiter timed out');
  m = await scrape();
  t.equal(m.value('pgshard_pool_acquire_timeouts_total', primaryPool), timeouts0 + 1);
  t.equal(m.value('pgshard_pool_clients_waiting', primaryPool), 0);
  t.equal(m.value('pgshard_pool_max_wait_seconds', primaryPool), 0);
  await holder.query('COMMIT');
});

void t.test('other paths, other methods, bad and reset requests', async (t) => {
  t.equal((await httpRequest(metricsPort, '/nope')).status, 404);
  t.equal((await httpRequest(metricsPort, '/')).status, 404);
  t.equal((await httpRequest(metricsPort, '/metrics/')).status, 404);
  t.equal((await httpRequest(metricsPort, '/nope', 'POST', 'x')).status, 404, 'an unknown path is 404 whatever the method');
  const post = await httpRequest(metricsPort, '/metrics', 'POST', 'x'.repeat(100_000));
  t.equal(post.status, 405);
  t.equal(post.headers['allow'], 'GET, HEAD');
  t.equal((await httpRequest(metricsPort, '/metrics', 'DELETE')).status, 405);
  const head = await httpRequest(metricsPort, '/metrics', 'HEAD');
  t.equal(head.status, 200);
  t.equal(head.body, '');
  t.equal((await httpRequest(metricsPort, '/metrics?name[]=x')).status, 200, 'a query string is ignored');

  // Malformed HTTP gets a 400 and the connection closed.
  const bad = net.connect(metricsPort, '127.0.0.1');
  bad.write('HELLO THERE\r\n\r\n');
  const chunks: Buffer[] = [];
  bad.on('data', (c: Buffer) => chunks.push(c));
  await once(bad, 'close');
  t.match(Buffer.concat(chunks).toString(), /^HTTP\/1\.1 400 /);

  // Clients that reset: mid-headers, and right after a full request (while the metrics are collected).
  for (const request of ['GET /metrics HTTP/1.1\r\nHost: x', 'GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n']) {
    const s = net.connect(metricsPort, '127.0.0.1');
    await once(s, 'connect');
    s.write(request);
    s.resetAndDestroy();
    await once(s, 'close');
  }
  // A client that asks and leaves without reading, many times over.
  await Promise.all(
    Array.from({ length: 20 }, async () => {
      const s = net.connect(metricsPort, '127.0.0.1');
      s.on('error', () => undefined);
      await once(s, 'connect');
      s.end('GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n');
      s.destroy();
    }),
  );
  const m = await scrape();
  t.equal(m.value('pgshard_info', { version: PGSHARD_VERSION }), 1, 'still serving');
  const c = await connect(t);
  t.equal((await c.query('SELECT 1 AS one')).rows[0]?.one, 1, 'and the proxy still serves clients');
});

void t.test('each proxy has its own registry; a metrics port in use fails start; stop() frees the port', async (t) => {
  const second = await startProxyOn(t, fx.cluster, { metrics: { enabled: true, port: 0, path: '/internal/metrics' } });
  const secondAddress = second.proxy.metricsAddress;
  t.equal(secondAddress?.path, '/internal/metrics');
  const port = secondAddress?.port ?? 0;
  t.not(port, metricsPort);
  t.equal((await httpRequest(port, '/metrics')).status, 404, 'only the configured path');
  const own = parseExposition((await httpRequest(port, '/internal/metrics')).body);
  const c = await connect(t, 'app', DATABASE, second);
  await c.query('SELECT 1');
  const secondClients = parseExposition((await httpRequest(port, '/internal/metrics')).body).value('pgshard_clients_connected');
  t.equal(secondClients, 1, 'the second proxy counts its own client');
  t.equal(own.value('pgshard_clients_connected'), 0, 'nothing leaks between registries');

  const noMetrics = await startProxyOn(t, fx.cluster);
  t.equal(noMetrics.proxy.metricsAddress, null, 'off by default');

  await t.rejects(
    startProxyOn(t, fx.cluster, { metrics: { enabled: true, port: metricsPort } }),
    { name: 'MetricsListenError', message: new RegExp(`^metrics\\.port: cannot listen on 127\\.0\\.0\\.1:${metricsPort} .*already in use`) },
    'a port in use is named',
  );

  // A scraper keeping its connection alive must not hold stop() up.
  const idle = net.connect(port, '127.0.0.1');
  idle.on('error', () => undefined);
  await once(idle, 'connect');
  idle.write('GET /internal/metrics HTTP/1.1\r\nHost: x\r\nConnection: keep-alive\r\n\r\n');
  await once(idle, 'data');
  await c.end();
  const stopStarted = Date.now();
  await second.proxy.stop();
  t.ok(Date.now() - stopStarted < 5000, 'stop() did not wait for the kept-alive scrape connection');
  t.equal(second.proxy.metricsAddress, null);
  const refused = await new Promise<string>((resolve) => {
    const s = net.connect(port, '127.0.0.1');
    s.on('connect', () => {
      s.destroy();
      resolve('connected');
    });
    s.on('error', (err: NodeJS.ErrnoException) => resolve(err.code ?? err.message));
  });
  t.equal(refused, 'ECONNREFUSED', 'the port is closed');
  idle.destroy();
});
