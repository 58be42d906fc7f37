// A shard primary addressed by its Unix-socket directory (`host: /dir`, as in libpq) instead of TCP:
// the proxy's server connections, its health checks and its cancel requests all reach the node
// through `<dir>/.s.PGSQL.<port>`.
import { createHash } from 'node:crypto';
import net from 'node:net';
import pg from 'pg';
import t from 'tap';
import { startProxyOn, startTestCluster, waitUntil } from '../helpers/proxy-fixture.js';
import { cancelRequest } from '../helpers/raw-client.js';

const cluster = await startTestCluster(t);
const primary = cluster.shards[0]!.primary;
const proxy = await startProxyOn(t, cluster, { primary: { host: primary.socketDir, port: primary.port }, health: { intervalMs: 100 } });

void t.test('queries, a large result and prepared statements go through the socket', async (t) => {
  const c = new pg.Client(proxy.clientConfig());
  await c.connect();
  t.teardown(() => c.end());
  // The server sees a Unix-socket client: no client address.
  const who = await c.query('SELECT inet_client_addr() IS NULL AS unix_socket, current_user AS u');
  t.same(who.rows, [{ unix_socket: true, u: 'app' }]);
  const big = await c.query('SELECT i, md5(i::text) AS h FROM generate_series(1, 20000) i');
  t.equal(big.rows.length, 20000);
  t.same(big.rows[19999], { i: 20000, h: createHash('md5').update('20000').digest('hex') });
  const prepared = await c.query({ name: 'sock_q', text: 'SELECT $1::int * 2 AS v', values: [21] });
  t.same(prepared.rows, [{ v: 42 }]);
});

void t.test('a cancel request reaches the node through its socket', async (t) => {
  const c = new pg.Client(proxy.clientConfig());
  await c.connect();
  t.teardown(() => c.end());
  const started = Date.now();
  const sleeping = c.query('SELECT pg_sleep(30)').then(
    () => null,
    (e: { code?: string }) => e.code,
  );
  await new Promise((resolve) => setTimeout(resolve, 300));
  // The key the proxy issued to this client (BackendKeyData), sent as a CancelRequest on a new connection.
  const { processID, secretKey } = c as unknown as { processID: number; secretKey: number };
  await new Promise<void>((resolve) => {
    const s = net.connect({ host: proxy.host, port: proxy.port }, () => s.end(cancelRequest(processID, secretKey)));
    s.on('close', () => resolve());
    s.on('error', () => resolve());
  });
  t.equal(await sleeping, '57014', 'the sleeping query was canceled on the server');
  t.ok(Date.now() - started < 10_000, 'well before the sleep would end');
});

void t.test('health checks reach the node through its socket', async (t) => {
  const health = proxy.proxy.context.health;
  t.ok(health !== null, 'health checks run');
  const mine = () => (health?.snapshot() ?? []).find((n) => n.key.endsWith(`${primary.socketDir}:${primary.port}`));
  await waitUntil('the primary to be checked up', () => mine()?.state === 'up', 5000);
  t.equal(mine()?.failures, 0);
});
