// TLS on the client side: SSLRequest is answered 'S' when listen.tls is configured, and real clients
// (psql with sslmode=require, node-postgres) complete the handshake and run queries over it.
import t from 'tap';
import { execFile, execFileSync } from 'node:child_process';
import { promisify } from 'node:util';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { withCluster } from '../harness/cluster.js';
import { ProxyServer } from '../../proxy/proxy-server.js';
import { silentLogger } from '../../proxy/logger.js';
import { parseConfig } from '../../topology/config/load-config.js';

const dir = mkdtempSync(join(tmpdir(), 'pgshard-tls-'));
t.teardown(() => rmSync(dir, { recursive: true, force: true }));
const certFile = join(dir, 'cert.pem');
const keyFile = join(dir, 'key.pem');
execFileSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '1', '-subj', '/CN=127.0.0.1',
  '-keyout', keyFile, '-out', certFile], { stdio: 'ignore' });

const cluster = await withCluster(t, { shards: 1, replicas: 0, users: [{ name: 'tlsuser', password: 'tls-pass' }], databases: ['tlsdb'] });
const shard = cluster.shards[0]!;
const config = parseConfig({
  listen: { host: '127.0.0.1', port: 0, tls: { certFile, keyFile } },
  users: [{ name: 'tlsuser', password: 'tls-pass' }],
  databases: [{ name: 'tlsdb', shards: [{ primary: { host: shard.primary.host, port: shard.primary.port } }] }],
});
// The proxy runs in this process: clients must be run asynchronously, never with execFileSync.
const run = promisify(execFile);
const proxy = new ProxyServer(config, { log: silentLogger() });
const { port } = await proxy.start();
t.teardown(() => proxy.stop());

void t.test('node-postgres over TLS', async (t) => {
  const client = new pg.Client({ host: '127.0.0.1', port, user: 'tlsuser', password: 'tls-pass', database: 'tlsdb', ssl: { rejectUnauthorized: false } });
  await client.connect();
  const r = await client.query('select $1::int + 1 as v, current_user as u', [41]);
  t.strictSame(r.rows, [{ v: 42, u: 'tlsuser' }]);
  const socket = (client as unknown as { connection: { stream: { encrypted?: boolean; getProtocol?: () => string } } }).connection.stream;
  t.equal(socket.encrypted, true, 'the socket is a TLS socket');
  t.match(socket.getProtocol?.() ?? '', /^TLSv1\.[23]$/);
  await client.end();
});

void t.test('psql with sslmode=require, and the admin view reports tls', async (t) => {
  const { stdout } = await run('psql', ['-Atc', 'select 7*6', `postgresql://tlsuser:tls-pass@127.0.0.1:${port}/tlsdb?sslmode=require`]);
  t.equal(stdout.trim(), '42');
  const client = new pg.Client({ host: '127.0.0.1', port, user: 'tlsuser', password: 'tls-pass', database: 'tlsdb', ssl: { rejectUnauthorized: false } });
  await client.connect();
  const clients = proxy.context.admin.clients();
  t.ok(clients.some((c) => c.tls && c.user === 'tlsuser'), 'SHOW CLIENTS sees a TLS client');
  await client.end();
});

void t.test('a client that does not ask for TLS still gets in when TLS is optional', async (t) => {
  const { stdout } = await run('psql', ['-Atc', 'select 1', `postgresql://tlsuser:tls-pass@127.0.0.1:${port}/tlsdb?sslmode=disable`]);
  t.equal(stdout.trim(), '1');
});
