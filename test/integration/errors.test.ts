// Failure paths of pgshard against a real PostgreSQL 15, mostly with a hand-written wire client:
// protocol violations, oversized frames, SSL/GSSENC negotiation, authentication failures, pool
// exhaustion, unreachable backends, the admin console's errors, and clients that vanish mid-query or
// mid-transaction (their server connection must never reach the next client dirty).
import { execFileSync } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, rmSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import tls from 'node:tls';
import pg from 'pg';
import t, { type Test } from 'tap';

type Tap = Test;
import type { TeardownTarget } from '../harness/cluster.js';
import { startProxyFixture, startProxyOn, sleep, waitUntil, USERS, type FixtureUser, type ProxyHandle } from '../helpers/proxy-fixture.js';
import {
  bind,
  execute,
  firstError,
  flush,
  frame,
  gssencRequest,
  LoginError,
  parse,
  query,
  RawClient,
  rowsOf,
  sslRequest,
  startupFrame,
  startupMessage,
  closeStatement,
  sync,
  type Message,
} from '../helpers/raw-client.js';

const fx = await startProxyFixture(t);
const primary = fx.cluster.shards[0]!.primary;
await primary.sql('CREATE TABLE ghosts (v text); GRANT ALL ON ghosts TO PUBLIC', 'appdb');

async function connect(tt: TeardownTarget, via: Pick<ProxyHandle, 'clientConfig'> = fx, user: FixtureUser = 'app', db = 'appdb'): Promise<pg.Client> {
  const c = new pg.Client({ ...via.clientConfig(user, db), query_timeout: 15_000 });
  c.on('error', () => undefined);
  await c.connect();
  tt.teardown(() => c.end().catch(() => undefined));
  return c;
}

/** Connects and expects the login to fail; resolves with the error. */
async function loginError(config: pg.ClientConfig): Promise<{ code?: string; severity?: string; message: string }> {
  const c = new pg.Client({ ...config, connectionTimeoutMillis: 10_000 });
  c.on('error', () => undefined);
  try {
    await c.connect();
  } catch (err) {
    return err as { code?: string; severity?: string; message: string };
  } finally {
    await c.end().catch(() => undefined);
  }
  throw new Error('login unexpectedly succeeded');
}

/** A raw client logged in as trustuser (no password exchange needed). */
async function rawLogin(tt: TeardownTarget, port = fx.port): Promise<RawClient> {
  const c = await RawClient.connect(port);
  tt.teardown(() => c.destroy());
  await c.login('trustuser', 'appdb');
  return c;
}

/** The proxy answered with one FATAL 08P01 and closed the connection. */
async function expectFatal(t: Tap, c: RawClient, code: string, what: string): Promise<Map<string, string> | null> {
  const msgs = await c.readUntilClosed(5000).catch((err: Error) => {
    t.fail(`${what}: connection not closed (${err.message})`);
    return [] as Message[];
  });
  const err = firstError(msgs);
  t.equal(err?.get('C'), code, `${what}: SQLSTATE ${code}`);
  t.equal(err?.get('S'), 'FATAL', `${what}: severity FATAL`);
  t.ok(c.isClosed, `${what}: the proxy closed the connection`);
  return err;
}

/** The proxy still serves ordinary clients. */
async function stillServes(t: Tap, via: Pick<ProxyHandle, 'clientConfig'> = fx): Promise<void> {
  const c = await connect(t, via);
  const res = await c.query<{ n: number }>('SELECT $1::int + 1 AS n', [41]);
  t.equal(res.rows[0]?.n, 42, 'the proxy still serves other clients');
}

async function adminRows(via: Pick<ProxyHandle, 'clientConfig'>, command: string): Promise<Record<string, string | null>[]> {
  const c = new pg.Client({ ...via.clientConfig('admin', 'pgshard'), query_timeout: 10_000 });
  c.on('error', () => undefined);
  await c.connect();
  try {
    // As text, whatever type pg parsed a column into.
    const rows = (await c.query<Record<string, unknown>>(command)).rows;
    return rows.map((r) => Object.fromEntries(Object.entries(r).map(([k, v]) => [k, v === null ? null : String(v)])));
  } finally {
    await c.end().catch(() => undefined);
  }
}

void t.test('malformed and oversized messages after login: FATAL 08P01, then the proxy goes on', async (t) => {
  const cases: { what: string; bytes: Buffer }[] = [
    { what: 'length below 4', bytes: Buffer.from([0x51, 0, 0, 0, 2]) },
    { what: 'negative length', bytes: Buffer.from([0x51, 0xff, 0xff, 0xff, 0xf0]) },
    // Larger than limits.frameBytesMax (64 MiB by default): refused from the header alone.
    { what: 'oversized Query (100 MB declared)', bytes: Buffer.concat([Buffer.from([0x51]), Buffer.from([0x06, 0x40, 0x00, 0x00])]) },
    { what: 'Query without its NUL terminator', bytes: frame('Q', Buffer.from('select 1')) },
    { what: 'Parse declaring more parameter types than it holds', bytes: Buffer.concat([frame('P', Buffer.concat([Buffer.from('s1\0select $1\0'), Buffer.from([0, 5, 0, 0, 0, 23])])), sync()]) },
    { what: 'Bind cut short', bytes: Buffer.concat([frame('B', Buffer.from('portal')), sync()]) },
  ];
  for (const { what, bytes } of cases) {
    const c = await rawLogin(t);
    c.write(bytes);
    await expectFatal(t, c, '08P01', what);
  }
  // A message the proxy forwards without decoding it fully (Execute) is judged by Postgres, which
  // answers a malformed one with a plain ERROR 08P01 and goes on: so must the session.
  const c = await rawLogin(t);
  c.write(frame('E', Buffer.from([0, 0, 0])), sync());
  const answer = await c.readUntil('Z');
  t.equal(firstError(answer)?.get('C'), '08P01', 'truncated Execute: 08P01 from Postgres');
  t.equal(firstError(answer)?.get('S'), 'ERROR');
  t.same(rowsOf(await c.simpleQuery('SELECT 1')), [['1']], 'the session goes on after it');
  await stillServes(t);
});

void t.test('an invalid message type after login: 08P01', async (t) => {
  for (const type of ['z', '!', 'p', 'A']) {
    const c = await rawLogin(t);
    c.write(frame(type, Buffer.from('abc\0')));
    const err = await expectFatal(t, c, '08P01', `message type '${type}'`);
    t.match(err?.get('M') ?? '', /invalid frontend message type|unexpected|message/i, 'the message says what was wrong');
  }
  await stillServes(t);
});

void t.test('startup packets: oversized, short, bad protocol, no user', async (t) => {
  const big = await RawClient.connect(fx.port);
  t.teardown(() => big.destroy());
  // Over 10 000 bytes: over Postgres's (and the proxy's) 10 000-byte startup limit.
  big.write(startupMessage({ user: 'trustuser', database: 'appdb', application_name: 'x'.repeat(10_000) }));
  await expectFatal(t, big, '08P01', 'startup packet > 10000 bytes');

  const declared = await RawClient.connect(fx.port);
  t.teardown(() => declared.destroy());
  declared.write(Buffer.from([0, 0x01, 0x00, 0x00])); // declares 65536 bytes, sends nothing more
  await expectFatal(t, declared, '08P01', 'startup length over the limit');

  const short = await RawClient.connect(fx.port);
  t.teardown(() => short.destroy());
  short.write(Buffer.from([0, 0, 0, 6, 0, 3]));
  await expectFatal(t, short, '08P01', 'startup packet of 6 bytes');

  const old = await RawClient.connect(fx.port);
  t.teardown(() => old.destroy());
  old.write(startupMessage({ user: 'trustuser', database: 'appdb' }, 0x00020000));
  const oldErr = firstError(await old.readUntilClosed(5000));
  t.equal(oldErr?.get('S'), 'FATAL', 'protocol 2.0 refused with a FATAL error');
  t.match(oldErr?.get('M') ?? '', /unsupported frontend protocol 2\.0/);

  const noUser = await RawClient.connect(fx.port);
  t.teardown(() => noUser.destroy());
  noUser.write(startupMessage({ database: 'appdb' }));
  await expectFatal(t, noUser, '28000', 'startup without a user');

  const garbage = await RawClient.connect(fx.port);
  t.teardown(() => garbage.destroy());
  garbage.write(startupFrame(0x00030000, Buffer.from('user\0trustuser\0database')));
  await expectFatal(t, garbage, '08P01', 'startup parameters not terminated');
  await stillServes(t);
});

void t.test('SSLRequest and GSSENCRequest without TLS: N, then a plain startup works', async (t) => {
  const ssl = await RawClient.connect(fx.port);
  t.teardown(() => ssl.destroy());
  ssl.write(sslRequest());
  t.equal(await ssl.readByte(), 'N', 'SSLRequest answered N');
  const login = await ssl.login('trustuser', 'appdb');
  t.ok(login.processId > 0, 'logged in after the refused SSLRequest');
  t.same(rowsOf(await ssl.simpleQuery('SELECT current_user')), [['trustuser']]);

  const gss = await RawClient.connect(fx.port);
  t.teardown(() => gss.destroy());
  gss.write(gssencRequest());
  t.equal(await gss.readByte(), 'N', 'GSSENCRequest answered N');
  gss.write(sslRequest());
  t.equal(await gss.readByte(), 'N', 'then SSLRequest answered N');
  await gss.login('trustuser', 'appdb');
  t.same(rowsOf(await gss.simpleQuery("SELECT 'after gssenc'")), [['after gssenc']]);

  // Bytes sent together with the SSLRequest, before its answer, could have been injected: refused.
  const eager = await RawClient.connect(fx.port);
  t.teardown(() => eager.destroy());
  eager.write(Buffer.concat([sslRequest(), startupMessage({ user: 'trustuser', database: 'appdb' })]));
  const msgs = await eager.readUntilClosed(2000).catch(() => [] as Message[]);
  t.ok(eager.isClosed, 'a startup packet pipelined after SSLRequest closes the connection');
  t.notOk(msgs.some((m) => m.type === 'Z'), 'and never logs in');
});

/** A throw-away self-signed certificate (openssl), removed when `tt` ends. */
function selfSignedCert(tt: TeardownTarget): { certFile: string; keyFile: string } {
  const dir = mkdtempSync(join(tmpdir(), 'pgshard-tls-'));
  tt.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const certFile = join(dir, 'cert.pem');
  const keyFile = join(dir, 'key.pem');
  execFileSync('openssl', [
    'req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes',
    '-keyout', keyFile, '-out', certFile, '-days', '1', '-subj', '/CN=localhost',
  ], { stdio: 'ignore' });
  return { certFile, keyFile };
}

void t.test('TLS configured: TLS logins work, plaintext injected after SSLRequest is refused', async (t) => {
  const secure = await startProxyOn(t, fx.cluster, { tls: selfSignedCert(t) });
  const c = new pg.Client({ ...secure.clientConfig('app'), ssl: { rejectUnauthorized: false }, query_timeout: 10_000 });
  c.on('error', () => undefined);
  await c.connect();
  t.teardown(() => c.end().catch(() => undefined));
  t.same((await c.query('SELECT $1::text AS v', ['over tls'])).rows, [{ v: 'over tls' }], 'queries over TLS');
  const clients = await adminRows(secure, 'SHOW CLIENTS');
  t.ok(clients.some((r) => r.user === 'app' && r.tls === 'true'), 'SHOW CLIENTS shows the TLS client');
  await stillServes(t, secure);

  // CVE-2021-23214: bytes that follow the SSLRequest in the same packet were sent before the TLS
  // handshake, so a man in the middle could have injected them. Postgres refuses them ("received
  // unencrypted data after SSL request"); a proxy that instead runs them as the startup packet hands
  // the client's TLS session a login it never asked for.
  const sock = net.connect({ host: secure.host, port: secure.port });
  t.teardown(() => sock.destroy());
  await once(sock, 'connect');
  const plain: Buffer[] = [];
  const onPlain = (d: Buffer): void => {
    plain.push(d);
  };
  sock.on('data', onPlain);
  sock.on('error', () => undefined);
  sock.write(Buffer.concat([sslRequest(), startupMessage({ user: 'trustuser', database: 'appdb', application_name: 'injected' })]));
  await sleep(300);
  sock.off('data', onPlain);
  const answer = Buffer.concat(plain);
  const decrypted: Buffer[] = [];
  let closed = sock.destroyed;
  if (answer.length === 1 && answer[0] === 0x53 /* S */) {
    // The proxy agreed to TLS: do the handshake and see what it says over TLS without us sending anything.
    const secureSock = tls.connect({ socket: sock, rejectUnauthorized: false });
    secureSock.on('error', () => undefined);
    secureSock.on('data', (d: Buffer) => decrypted.push(d));
    const ended = new Promise<void>((resolve) => secureSock.once('close', () => resolve()));
    await Promise.race([ended, sleep(1500)]);
    closed = secureSock.destroyed || sock.destroyed;
    secureSock.destroy();
  } else {
    await Promise.race([once(sock, 'close'), sleep(1500)]);
    closed = sock.destroyed;
  }
  const tlsBytes = Buffer.concat(decrypted);
  const loggedIn = tlsBytes.includes(Buffer.from([0x5a, 0, 0, 0, 5])) || answer.includes(Buffer.from([0x5a, 0, 0, 0, 5]));
  t.notOk(loggedIn, `the injected plaintext startup packet is not run (proxy answered ${JSON.stringify(answer.toString('latin1'))} then ${tlsBytes.length} bytes over TLS)`);
  t.ok(closed, 'the connection is closed');
  await stillServes(t, secure);
});

void t.test('authentication failures', async (t) => {
  for (const user of ['app', 'md5user', 'admin'] as const) {
    const err = await loginError({ ...fx.clientConfig(user), password: 'wrong password' });
    t.equal(err.code, '28P01', `${user} (${USERS[user].auth}) with a wrong password: 28P01`);
    t.equal(err.severity, 'FATAL');
    t.match(err.message, new RegExp(`password authentication failed for user "${user}"`));
  }
  const unknown = await loginError({ ...fx.clientConfig('app'), user: 'nobody_here', password: 'whatever' });
  t.equal(unknown.code, '28P01', 'unknown user: 28P01, like a wrong password');
  t.match(unknown.message, /password authentication failed for user "nobody_here"/);
  const noDb = await loginError(fx.clientConfig('app', 'no_such_db'));
  t.equal(noDb.code, '3D000', 'unknown database: 3D000');
  t.match(noDb.message, /database "no_such_db" does not exist/);
  const trustNoDb = await loginError(fx.clientConfig('trustuser', 'other_db'));
  t.equal(trustNoDb.code, '3D000', 'unknown database for a trust user: 3D000');
  // The raw exchange: a wrong SCRAM proof and a wrong md5 hash end with FATAL 28P01 and a closed socket.
  for (const user of ['app', 'md5user'] as const) {
    const c = await RawClient.connect(fx.port);
    t.teardown(() => c.destroy());
    const err = await c.login(user, 'appdb', 'not the password').then(
      () => null,
      (e: unknown) => e,
    );
    t.ok(err instanceof LoginError && err.code === '28P01', `raw ${user}: 28P01`);
    t.ok(await c.waitClosed(3000), `raw ${user}: connection closed`);
  }
  // A message other than a password response during authentication.
  const c = await RawClient.connect(fx.port);
  t.teardown(() => c.destroy());
  c.write(startupMessage({ user: 'md5user', database: 'appdb' }));
  const req = await c.readMessage();
  t.equal(req.type, 'R');
  t.equal(req.body.readInt32BE(0), 5, 'md5 requested');
  c.write(query('select 1'));
  await expectFatal(t, c, '08P01', 'a Query instead of the password');
  await stillServes(t);
});

void t.test('the debug log never contains passwords or bound parameter values', async (t) => {
  const logged = await startProxyOn(t, fx.cluster, { captureLogs: true });
  for (const user of ['app', 'md5user'] as const) {
    await loginError({ ...logged.clientConfig(user), password: 'wrong-pw-Zq81' });
  }
  await loginError({ ...logged.clientConfig('app'), user: 'ghost_user', password: 'ghost-pw-Xk27' });
  const c = await connect(t, logged);
  await c.query('SELECT $1::text AS v', ['param-secret-Wm55']);
  await t.rejects(c.query('SELECT $1::int AS v', ['param-bad-Jr90']), { code: '22P02' });
  await c.end();
  await loginError(logged.clientConfig('app', 'no_such_db'));
  await sleep(100);
  const lines = logged.logs().map((l) => JSON.stringify(l));
  t.ok(lines.length > 0, `the proxy logged ${lines.length} lines at debug level`);
  const secrets = [...Object.values(USERS).map((u) => u.password), 'wrong-pw-Zq81', 'ghost-pw-Xk27', 'param-secret-Wm55', 'param-bad-Jr90'];
  for (const secret of secrets) t.notOk(lines.some((l) => l.includes(secret)), `no log line contains ${JSON.stringify(secret)}`);
  t.ok(lines.some((l) => l.includes('no_such_db') || l.includes('3D000')), 'the failed login to an unknown database is logged');
});

void t.test('pool exhausted: 53300 after the acquire timeout, then the client goes on', async (t) => {
  const tiny = await startProxyOn(t, fx.cluster, { pool: { sizeMax: 1, acquireTimeoutMs: 300 } });
  // Log both in first: login itself borrows the (only) server connection for a moment.
  const holder = await connect(t, tiny);
  const waiter = await connect(t, tiny);
  await holder.query('BEGIN');
  await holder.query('SELECT 1');
  let started = Date.now();
  await t.rejects(waiter.query('SELECT 1'), { code: '53300' }, 'simple query: 53300');
  const waited = Date.now() - started;
  t.ok(waited >= 250 && waited < 3000, `answered after the acquire timeout (${waited} ms)`);
  started = Date.now();
  await t.rejects(waiter.query('SELECT $1::int', [1]), { code: '53300' }, 'extended query: 53300');
  t.ok(Date.now() - started >= 250, 'also after the acquire timeout');
  const pools = await adminRows(tiny, 'SHOW POOLS');
  const pool = pools.find((p) => p.user === 'app');
  t.ok(Number(pool?.timeouts) >= 2, `SHOW POOLS counts the timeouts (${pool?.timeouts})`);
  t.equal(pool?.server_active, '1', 'the holder keeps the only connection');
  await holder.query('COMMIT');
  t.same((await waiter.query('SELECT 2 AS two')).rows, [{ two: 2 }], 'the waiting client works once the connection is free');
  t.same((await waiter.query('SELECT $1::int AS v', [3])).rows, [{ v: 3 }]);
  // Both keep working in turn.
  for (let i = 0; i < 3; i++) {
    t.same((await holder.query('SELECT $1::int AS v', [i])).rows, [{ v: i }]);
    t.same((await waiter.query('SELECT $1::int AS v', [i])).rows, [{ v: i }]);
  }
  // A wait that ends with a connection is counted with its length; the holder's transaction in busy_ms.
  const before = (await adminRows(tiny, 'SHOW POOLS')).find((p) => p.user === 'app');
  await holder.query('BEGIN');
  await holder.query('SELECT 1');
  const served = waiter.query('SELECT 4 AS v');
  await sleep(200);
  await holder.query('COMMIT');
  t.same((await served).rows, [{ v: 4 }]);
  const after = (await adminRows(tiny, 'SHOW POOLS')).find((p) => p.user === 'app');
  t.equal(Number(after?.waits) - Number(before?.waits), 1, 'one more checkout waited');
  const waitMs = Number(after?.wait_ms) - Number(before?.wait_ms);
  t.ok(waitMs >= 150 && waitMs < 3000, `its wait is counted (${waitMs} ms)`);
  t.ok(Number(after?.busy_ms) >= 600 + 200, `busy_ms holds the holder's transactions (${after?.busy_ms} ms)`);
});

void t.test('backend unreachable: 08006 at login', async (t) => {
  // Port 1: nothing listens there, and no other test's server can take it (a port that is merely free
  // now may be taken by a server another test starts meanwhile).
  const deadPort = 1;
  const dead = await startProxyOn(t, fx.cluster, { primary: { host: '127.0.0.1', port: deadPort }, pool: { connectTimeoutMs: 2000, acquireTimeoutMs: 3000 } });
  const started = Date.now();
  const err = await loginError(dead.clientConfig('app'));
  t.equal(err.code, '08006', 'login fails with 08006');
  t.match(err.message, /could not connect to server/);
  t.ok(Date.now() - started < 5000, 'promptly');
  const raw = await RawClient.connect(dead.port);
  t.teardown(() => raw.destroy());
  const rawErr = await raw.login('trustuser', 'appdb').then(
    () => null,
    (e: unknown) => e,
  );
  t.ok(rawErr instanceof LoginError && rawErr.code === '08006', `raw client: 08006 (got ${String(rawErr)})`);
  t.equal(rawErr instanceof LoginError ? rawErr.fields.get('S') : undefined, 'FATAL');
  // The admin console of that proxy still works and shows the failures.
  const pools = await adminRows(dead, 'SHOW POOLS');
  t.ok(Number(pools[0]?.connect_errors) >= 1, `SHOW POOLS counts connect errors (${pools[0]?.connect_errors})`);
});

void t.test('admin console errors', async (t) => {
  const admin = await connect(t, fx, 'admin', 'pgshard');
  await t.rejects(admin.query('FROBNICATE'), { code: '42601' }, 'unknown admin command: 42601');
  await t.rejects(admin.query('SHOW NOTHING'), { code: '42601' }, 'unknown SHOW target: 42601');
  await t.rejects(admin.query('SELECT 1'), { code: '42601' }, 'SQL is not an admin command: 42601');
  await t.rejects(admin.query({ name: 'adm', text: 'SHOW VERSION' }), { code: '0A000' }, 'extended protocol: 0A000');
  await t.rejects(admin.query('SHOW VERSION', ['x']), { code: '0A000' }, 'extended protocol with parameters: 0A000');
  const version = await admin.query<{ version: string }>('SHOW VERSION');
  t.match(version.rows[0]?.version ?? '', /^pgshard /, 'simple queries still work after the errors');
  const config = await admin.query<{ key: string; value: string }>('SHOW CONFIG');
  const text = JSON.stringify(config.rows);
  for (const [name, u] of Object.entries(USERS)) t.notOk(text.includes(u.password), `SHOW CONFIG does not reveal the password of ${name}`);
  t.ok(config.rows.some((r) => r.key === 'pool.sizeMax'), 'SHOW CONFIG lists settings');
  for (const cmd of ['SHOW POOLS', 'SHOW CLIENTS', 'SHOW SERVERS']) {
    const res = await admin.query(cmd);
    t.ok(res.fields.length > 0, `${cmd} returns columns`);
  }

  for (const user of ['app', 'md5user', 'trustuser'] as const) {
    const err = await loginError(fx.clientConfig(user, 'pgshard'));
    t.equal(err.code, '28000', `${user} is not an admin: 28000`);
  }
  const wrongPw = await loginError({ ...fx.clientConfig('admin', 'pgshard'), password: 'nope' });
  t.equal(wrongPw.code, '28P01', 'admin with a wrong password: 28P01');

  // Raw: a Parse to the admin console gets 0A000 once, Sync gets ReadyForQuery, the session goes on.
  const raw = await RawClient.connect(fx.port);
  t.teardown(() => raw.destroy());
  await raw.login('admin', 'pgshard', USERS.admin.password);
  raw.write(parse('', 'SHOW POOLS'), bind('', ''), execute(), sync());
  const answer = await raw.readUntil('Z');
  t.same(answer.map((m) => m.type), ['E', 'Z'], 'one ErrorResponse then ReadyForQuery');
  t.equal(firstError(answer)?.get('C'), '0A000');
  t.same(rowsOf(await raw.simpleQuery('SHOW VERSION')).length, 1, 'simple query afterwards');
});

void t.test('a client that disconnects mid-query never leaves a dirty server connection', async (t) => {
  const one = await startProxyOn(t, fx.cluster, { pool: { sizeMax: 1, acquireTimeoutMs: 5000 } });
  for (const variant of ['in a transaction', 'outside a transaction'] as const) {
    const doomed = await RawClient.connect(one.port);
    t.teardown(() => doomed.destroy());
    await doomed.login('trustuser', 'appdb');
    if (variant === 'in a transaction') {
      const msgs = await doomed.simpleQuery("BEGIN; INSERT INTO ghosts VALUES ('ghost')");
      t.equal(firstError(msgs), null);
    }
    doomed.write(query('SELECT pg_sleep(3)'));
    await sleep(300);
    doomed.destroy();
    // The pool must not lend that connection again: it is still running pg_sleep (and holds the
    // transaction). With sizeMax 1 the next client would get it.
    await waitUntil('the pool to settle', async () => {
      const pools = await adminRows(one, 'SHOW POOLS');
      const p = pools.find((r) => r.user === 'trustuser');
      return p !== undefined && p.server_active === '0' && p.client_waiting === '0';
    });
    const servers = (await adminRows(one, 'SHOW SERVERS')).filter((s) => s.user === 'trustuser');
    t.ok(servers.every((s) => s.state === 'idle' && s.tx_status === 'I'), `${variant}: SHOW SERVERS shows only idle connections outside transactions`);
    const next = await connect(t, one, 'trustuser');
    const notices: string[] = [];
    next.on('notice', (n) => notices.push(n.message ?? ''));
    const started = Date.now();
    const res = await next.query<{ n: number }>("SELECT count(*)::int AS n FROM ghosts WHERE v = 'ghost'");
    t.ok(Date.now() - started < 2000, `${variant}: the next client is not stuck behind the old pg_sleep`);
    t.equal(res.rows[0]?.n, 0, `${variant}: the next client does not see the old transaction's row`);
    await next.query('BEGIN');
    await next.query('COMMIT');
    t.same(notices, [], `${variant}: BEGIN warns of no transaction already in progress`);
    await next.end();
  }
  const leftover = await primary.sql("SELECT count(*)::int AS n FROM ghosts WHERE v = 'ghost'", 'appdb');
  t.same(leftover, [{ n: 0 }], 'the abandoned transaction never committed');
});

void t.test('a client that leaves inside a transaction with a SET and a temp table: the next one sees neither', async (t) => {
  const one = await startProxyOn(t, fx.cluster, { pool: { sizeMax: 1, acquireTimeoutMs: 5000 } });
  for (const how of ['Terminate', 'socket closed'] as const) {
    const first = await connect(t, one, 'trustuser');
    const firstPid = (await first.query<{ pid: number }>('SELECT pg_backend_pid() AS pid')).rows[0]?.pid;
    // Session-level state made outside the transaction, then more inside it.
    await first.query("SET work_mem = '13MB'");
    await first.query('CREATE TEMP TABLE tmp_session (a int)');
    await first.query('BEGIN');
    await first.query("SET application_name = 'leaver'");
    await first.query('CREATE TEMP TABLE tmp_tx (a int)');
    await first.query('INSERT INTO tmp_session VALUES (1)');
    t.equal((await first.query('SHOW work_mem')).rows[0]?.work_mem, '13MB');
    if (how === 'Terminate') await first.end();
    else (first as unknown as { connection: { stream: { destroy(): void } } }).connection.stream.destroy();

    const next = await connect(t, one, 'trustuser');
    const row = (
      await next.query<{ pid: number; wm: string; app: string; s: string | null; x: string | null; tx: string | null }>(
        "SELECT pg_backend_pid() AS pid, current_setting('work_mem') AS wm, current_setting('application_name') AS app, " +
          "to_regclass('pg_temp.tmp_session')::text AS s, to_regclass('pg_temp.tmp_tx')::text AS x, pg_current_xact_id_if_assigned()::text AS tx",
      )
    ).rows[0];
    t.comment(`${how}: the next client ${row?.pid === firstPid ? 'reused' : 'did not reuse'} the server connection (pid ${firstPid} -> ${row?.pid})`);
    t.equal(row?.wm, '4MB', `${how}: the SET is gone`);
    t.equal(row?.app, '', `${how}: the SET inside the transaction is gone`);
    t.equal(row?.s, null, `${how}: the session temp table is gone`);
    t.equal(row?.x, null, `${how}: the transaction's temp table is gone`);
    t.equal(row?.tx, null, `${how}: not inside the old transaction`);
    await next.query('CREATE TEMP TABLE tmp_session (b text)');
    t.pass(`${how}: the next client can create a temp table of the same name`);
    await next.end();
  }
  // The last client's connection is reset (DISCARD ALL) asynchronously after it left.
  const settled = await waitUntil('the pool to settle', async () => (await adminRows(one, 'SHOW POOLS')).every((p) => p.server_active === '0'), 3000).then(
    () => true,
    () => false,
  );
  t.ok(settled, 'no server connection left lent out');
  const servers = await adminRows(one, 'SHOW SERVERS');
  t.ok(servers.every((s) => s.state === 'idle' && s.tx_status === 'I'), 'every server connection idle, outside a transaction');
});

void t.test('frames split byte by byte and pipelined batches', async (t) => {
  const c = await rawLogin(t);
  const bytes = Buffer.concat([query("SELECT 'split' AS s"), parse('', 'SELECT $1::int + 1'), bind('', '', ['41']), execute(), sync()]);
  for (let i = 0; i < bytes.length; i++) {
    c.write(bytes.subarray(i, i + 1));
    if (i % 7 === 0) await sleep(1);
  }
  const first = await c.readUntil('Z');
  t.same(rowsOf(first), [['split']], 'a Query sent one byte at a time');
  const second = await c.readUntil('Z');
  t.same(rowsOf(second), [['42']], 'an extended batch sent one byte at a time');
  // Three batches in one write, the second failing: each gets its own answer.
  c.write(
    parse('', 'SELECT 1'), bind('', ''), execute(), sync(),
    parse('', 'SELECT 1/0'), bind('', ''), execute(), sync(),
    query('SELECT 3'),
  );
  const a = await c.readUntil('Z');
  const b = await c.readUntil('Z');
  const d = await c.readUntil('Z');
  t.same(rowsOf(a), [['1']]);
  t.equal(firstError(b)?.get('C'), '22012');
  t.equal(b.at(-1)?.body.toString(), 'I', 'ReadyForQuery idle after the failed batch');
  t.same(rowsOf(d), [['3']]);
});

/** Reads up to `n` messages, waiting at most timeoutMs in all; returns their types. */
async function typesOf(c: RawClient, n: number, timeoutMs = 2000): Promise<string[]> {
  const out: string[] = [];
  const deadline = Date.now() + timeoutMs;
  while (out.length < n && Date.now() < deadline) {
    try {
      out.push((await c.readMessage(Math.max(1, deadline - Date.now()))).type);
    } catch {
      break;
    }
  }
  return out;
}

void t.test('answers the proxy makes itself: sent at once, and the server connection is released after them', async (t) => {
  // Postgres sends everything pending on Flush, and answers DISCARD ALL at once; a client that waits
  // for those answers before it sends more must not hang. The expected sequences are Postgres's own.
  // sizeMax 1: every client here shares one server connection. Each case uses its own client, closed
  // at its end, so that one stuck case does not hold the connection for the next.
  const one = await startProxyOn(t, fx.cluster, { pool: { sizeMax: 1, acquireTimeoutMs: 1000 } });
  const client = async (): Promise<RawClient> => {
    const c = await RawClient.connect(one.port);
    t.teardown(() => c.destroy());
    await c.login('app', 'appdb', USERS.app.password);
    return c;
  };

  let c = await client();
  c.write(parse('flush_s1', 'SELECT 1'), sync());
  t.same(await typesOf(c, 2), ['1', 'Z'], 'Parse + Sync');
  c.write(closeStatement('flush_s1'), flush());
  t.same(await typesOf(c, 1), ['3'], 'Close statement + Flush: CloseComplete');
  c.destroy();

  c = await client();
  c.write(parse('flush_s2', 'SELECT 2'), flush());
  t.same(await typesOf(c, 1), ['1'], 'Parse + Flush: ParseComplete');
  c.write(bind('', 'flush_s2'), execute(), flush());
  t.same(await typesOf(c, 3), ['2', 'D', 'C'], 'Bind + Execute + Flush');
  c.write(sync());
  t.same(await typesOf(c, 1), ['Z'], 'Sync');
  // Keep flush_s2 prepared on the server connection for the next client.
  const keeper = c;

  c = await client();
  c.write(parse('flush_s2', 'SELECT 2'), flush());
  t.same(await typesOf(c, 1), ['1'], 'Parse of a statement the server connection already has + Flush: ParseComplete');
  c.destroy();
  keeper.destroy();

  for (const sql of ['DISCARD ALL', 'DEALLOCATE ALL']) {
    c = await client();
    c.write(query(sql));
    t.same(await typesOf(c, 2), ['C', 'Z'], `${sql}: CommandComplete and ReadyForQuery`);
    c.destroy();
  }

  // The proxy answers DISCARD ALL / DEALLOCATE ALL of an idle client itself; afterwards that client is
  // idle and must not keep the (only) server connection from the others.
  for (const sql of ['DISCARD ALL', 'DEALLOCATE ALL']) {
    const a = await client();
    const b = await client();
    a.write(query(sql));
    t.same(await typesOf(a, 2), ['C', 'Z'], `${sql} answered`);
    const started = Date.now();
    const answer = await b.simpleQuery('SELECT 1');
    t.equal(firstError(answer)?.get('C') ?? null, null, `${sql}: another client gets the server connection (no error)`);
    t.same(rowsOf(answer), [['1']], `${sql}: another client is served while the first one idles (${Date.now() - started} ms)`);
    a.destroy();
    b.destroy();
  }
});
