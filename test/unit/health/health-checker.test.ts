// The health checker's I/O without PostgreSQL: reading the check row, and the loop against fake
// servers speaking just enough of the protocol (login with AuthenticationOk, a canned answer to the
// check query, or silence). Proves: a check that times out fails and destroys its connection (the
// next check reconnects), down after failuresBeforeDown failures and up after one success, an
// unreachable node, a refused login without secrets in the error, a throwing listener does not stop
// the loop, and stop() leaves no timer or socket.
import t from 'tap';
import net from 'node:net';
import { CHECK_SQL, parseCheckRow } from '../../../proxy/health/check-query.js';
import { HealthChecker, type HealthChange } from '../../../proxy/health/health-checker.js';
import { silentLogger } from '../../../proxy/logger.js';
import { parseConfig } from '../../../topology/config/load-config.js';
import type { NodeView } from '../../../topology/health/node-health.js';
import { cstr, i16, i32, typed } from '../../helpers/wire-bytes.js';

const PRIMARY_ROW = ['f', '16/B374D848', null, null, null, '1700000000000', 'f', null, null, null];
const REPLICA_ROW = ['t', null, '16/B374D848', '16/B374D800', '1699999999900', '1700000000000', 't', 'streaming', '10.0.0.1', '5432'];

void t.test('parseCheckRow', async (t) => {
  t.match(CHECK_SQL, /pg_catalog\.pg_is_in_recovery\(\)/);
  t.strictSame(parseCheckRow(PRIMARY_ROW), {
    role: 'primary',
    currentLsn: 0x16b374d848n,
    receiveLsn: null,
    replayLsn: null,
    replayTimestampMs: null,
    serverNowMs: 1_700_000_000_000,
    receiving: false,
    upstream: null,
  });
  t.strictSame(parseCheckRow(REPLICA_ROW), {
    role: 'replica',
    currentLsn: null,
    receiveLsn: 0x16b374d848n,
    replayLsn: 0x16b374d800n,
    replayTimestampMs: 1_699_999_999_900,
    serverNowMs: 1_700_000_000_000,
    receiving: true,
    upstream: '10.0.0.1:5432',
  });
  const hidden = parseCheckRow(['t', null, '0/10', '0/10', null, '5', 't', null, null, null]);
  t.equal(hidden.receiving, null, 'a receiver whose status this role may not see: unknown');
  t.equal(hidden.upstream, null);
  t.equal(parseCheckRow(['t', null, '0/10', '0/10', null, '5', 't', 'waiting', null, null]).receiving, false, 'waiting is not streaming');
  t.equal(parseCheckRow(['t', null, null, '0/10', null, '5', 'f', null, null, null]).receiving, false, 'no receiver at all');
  t.equal(parseCheckRow(['f', '0/1', '0/10', '0/10', null, '5', 'f', null, null, null]).receiveLsn, 16n, 'a promoted node keeps its last receive LSN');
  t.throws(() => parseCheckRow(undefined), /no row/);
  t.throws(() => parseCheckRow(PRIMARY_ROW.slice(1)), /9 columns/);
  t.throws(() => parseCheckRow(['x', ...PRIMARY_ROW.slice(1)]), /pg_is_in_recovery/);
  t.throws(() => parseCheckRow(['f', 'junk', ...PRIMARY_ROW.slice(2)]), /pg_lsn/);
  t.throws(() => parseCheckRow([...PRIMARY_ROW.slice(0, 5), null, ...PRIMARY_ROW.slice(6)]), /now\(\)/);
  t.throws(() => parseCheckRow([...REPLICA_ROW.slice(0, 4), 'abc', ...REPLICA_ROW.slice(5)]), /replay_timestamp/);
});

type Mode = 'answer' | 'silent' | 'refuse-login';

/** A fake node: logs anyone in (or refuses), then answers every query with `row`, or stays silent. */
class FakeNode {
  readonly server: net.Server;
  mode: Mode = 'answer';
  row: (string | null)[] = REPLICA_ROW;
  /** The answer to a replay poll (SELECT pg_last_wal_replay_lsn()). */
  replayLsn = '16/B374D800';
  replayPolls = 0;
  connections = 0;
  closed = 0;
  queries = 0;
  private readonly sockets = new Set<net.Socket>();

  constructor() {
    this.server = net.createServer((socket) => this.accept(socket));
  }

  async listen(): Promise<number> {
    await new Promise<void>((resolve) => this.server.listen(0, '127.0.0.1', resolve));
    return (this.server.address() as net.AddressInfo).port;
  }

  async close(): Promise<void> {
    for (const s of this.sockets) s.destroy();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  private accept(socket: net.Socket): void {
    this.connections++;
    this.sockets.add(socket);
    socket.on('close', () => {
      this.closed++;
      this.sockets.delete(socket);
    });
    socket.on('error', () => undefined);
    let buf = Buffer.alloc(0);
    let loggedIn = false;
    socket.on('data', (chunk: Buffer) => {
      buf = Buffer.concat([buf, chunk]);
      for (;;) {
        if (!loggedIn) {
          if (buf.length < 4) return;
          const len = buf.readInt32BE(0);
          if (buf.length < len) return;
          buf = buf.subarray(len);
          loggedIn = true;
          if (this.mode === 'refuse-login') {
            socket.write(typed('E', cstr('SFATAL'), cstr('C28P01'), cstr('Mpassword authentication failed for user "app"'), Buffer.from([0])));
            socket.end();
            return;
          }
          socket.write(Buffer.concat([typed('R', i32(0)), typed('Z', Buffer.from('I'))]));
          continue;
        }
        if (buf.length < 5) return;
        const type = String.fromCharCode(buf[0]!);
        const len = buf.readInt32BE(1);
        if (buf.length < len + 1) return;
        const sql = buf.toString('utf8', 5, len);
        buf = buf.subarray(len + 1);
        if (type === 'X') return;
        if (type !== 'Q') continue;
        this.queries++;
        if (this.mode !== 'answer') continue;
        const replayPoll = !sql.includes('pg_is_in_recovery');
        if (replayPoll) this.replayPolls++;
        const cells = (replayPoll ? [this.replayLsn] : this.row).map((v) => (v === null ? i32(-1) : Buffer.concat([i32(Buffer.byteLength(v)), Buffer.from(v)])));
        socket.write(Buffer.concat([typed('D', i16(cells.length), ...cells), typed('C', cstr('SELECT 1')), typed('Z', Buffer.from('I'))]));
      }
    });
  }
}

function configFor(primaryPort: number, replicaPort: number, health: Record<string, unknown> = {}) {
  return parseConfig({
    users: [{ name: 'app', password: 'very secret pw' }],
    databases: [{ name: 'appdb', shards: [{ name: 'shard0', primary: { host: '127.0.0.1', port: primaryPort }, replicas: [{ host: '127.0.0.1', port: replicaPort }] }] }],
    health: { intervalMs: 50, timeoutMs: 250, failuresBeforeDown: 2, replicaLagBytesMax: 1000, replicaLagMsMax: 1000, ...health },
  });
}

async function waitFor(what: string, check: () => boolean, timeoutMs = 5_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

function resources(): { timers: number; sockets: number } {
  const all = process.getActiveResourcesInfo();
  return { timers: all.filter((r) => r === 'Timeout').length, sockets: all.filter((r) => r === 'TCPSocketWrap').length };
}

void t.test('check loop against fake nodes', async (t) => {
  const primary = new FakeNode();
  primary.row = ['f', '16/B374D848', null, null, null, '1700000000000', 'f', null, null, null];
  const replica = new FakeNode();
  const config = configFor(await primary.listen(), await replica.listen());
  t.teardown(() => Promise.all([primary.close(), replica.close()]));
  const before = resources();
  const checker = new HealthChecker(config, silentLogger());
  t.teardown(() => checker.stop());
  const changes: HealthChange[] = [];
  checker.on('change', () => {
    throw new Error('a broken listener');
  });
  checker.on('change', (c) => changes.push(c));
  checker.start();
  checker.start();
  const view = (): { p: NodeView; r: NodeView } => {
    const [p, r] = checker.snapshot();
    return { p: p!, r: r! };
  };

  await waitFor('both up', () => view().p.up && view().r.up);
  t.match(view().r, { routable: true, lagBytes: 0x48n, lagMs: 100, receiving: true, upstream: '10.0.0.1:5432', replayLsn: 0x16b374d800n });
  t.match(view().p, { observedRole: 'primary', currentLsn: 0x16b374d848n, routable: false });
  t.strictSame(changes.map((c) => `${c.kind}:${c.node.configuredRole}`).sort(), ['routable:replica', 'up:primary', 'up:replica'], 'a throwing listener does not stop the others');
  const queries = replica.queries;
  await waitFor('more checks', () => replica.queries >= queries + 3);
  t.equal(replica.connections, 1, 'one persistent connection per node');

  // The replica stops answering: each check times out, its connection is destroyed, the next reconnects.
  replica.mode = 'silent';
  await waitFor('replica down', () => view().r.state === 'down', 5_000);
  t.equal(view().r.routable, false);
  t.match(view().r.lastError, /no answer within 250 ms \(health\.timeoutMs\)/);
  await waitFor('the timed out connections closed', () => replica.closed >= 2);
  t.ok(replica.connections >= 2, `a new connection after a timeout (${replica.connections} so far)`);
  t.equal(view().p.up, true, 'the primary keeps its own loop');

  // Back: one successful check is enough.
  replica.mode = 'answer';
  await waitFor('replica up', () => view().r.up && view().r.routable, 5_000);
  t.equal(changes.filter((c) => c.kind === 'down').length, 1);
  t.equal(changes.filter((c) => c.kind === 'up' && c.node.configuredRole === 'replica').length, 2);

  // The replica reports it is a primary.
  replica.row = ['f', '17/0', '16/B374D848', '16/B374D848', null, '1700000000000', 'f', null, null, null];
  await waitFor('promotion seen', () => view().r.promoted);
  t.match(view().r, { observedRole: 'primary', routable: false, promoted: true });
  t.ok(changes.some((c) => c.kind === 'promoted'));

  await checker.stop();
  const after = resources();
  t.ok(after.timers <= before.timers, `timers ${before.timers} → ${after.timers}`);
  // Only the fake servers' own accepted sockets may remain until they see the close.
  await waitFor('the servers to see every client socket closed', () => replica.closed === replica.connections && primary.closed === primary.connections);
});

void t.test('unreachable node and refused login', async (t) => {
  const refusing = new FakeNode();
  refusing.mode = 'refuse-login';
  const refusingPort = await refusing.listen();
  t.teardown(() => refusing.close());
  // A port nobody listens on: bind one, then release it.
  const probe = net.createServer();
  await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve));
  const deadPort = (probe.address() as net.AddressInfo).port;
  await new Promise<void>((resolve) => probe.close(() => resolve()));

  const checker = new HealthChecker(configFor(deadPort, refusingPort), silentLogger());
  t.teardown(() => checker.stop());
  checker.start();
  await waitFor('both down', () => checker.snapshot().every((n) => n.state === 'down'));
  const [p, r] = checker.snapshot();
  t.match(p!.lastError, /ECONNREFUSED/);
  t.match(r!.lastError, /28P01: password authentication failed/);
  t.notMatch(r!.lastError, /very secret pw/, 'no password in the error');
  t.equal(p!.observedRole, 'unknown', 'never answered');
  await checker.stop();
});

void t.test('stop before start, and waitForReplay on an unknown shard', async (t) => {
  const checker = new HealthChecker(configFor(1, 2), silentLogger());
  await checker.stop();
  checker.start();
  t.equal(checker.snapshot().every((n) => n.state === 'unknown'), true, 'start after stop does nothing');
  await t.rejects(checker.waitForReplay('appdb/nope', 0n, 10), /unknown shard appdb\/nope/);
  t.equal(await checker.waitForReplay('appdb/shard0', 0n, 10), null, 'nothing routable');
  t.equal(checker.setPrimary('appdb/shard0', '127.0.0.1:2'), true);
  t.equal(checker.setPrimary('appdb/shard0', '127.0.0.1:3'), false);
  t.equal(checker.setPrimary('appdb/shard9', '127.0.0.1:2'), false);
});

void t.test('waitForReplay polls the replicas between checks', async (t) => {
  const primary = new FakeNode();
  primary.row = PRIMARY_ROW;
  const replica = new FakeNode();
  const replica2 = new FakeNode();
  replica2.mode = 'silent';
  const [pPort, rPort, r2Port] = [await primary.listen(), await replica.listen(), await replica2.listen()];
  t.teardown(() => Promise.all([primary.close(), replica.close(), replica2.close()]));
  const config = parseConfig({
    users: [{ name: 'app', password: 'pw' }],
    databases: [{ name: 'appdb', shards: [{ name: 'shard0', primary: { host: '127.0.0.1', port: pPort }, replicas: [{ host: '127.0.0.1', port: rPort }, { host: '127.0.0.1', port: r2Port }] }] }],
    // Checks so rare that only polls can make progress within the test.
    health: { intervalMs: 60_000, timeoutMs: 200, failuresBeforeDown: 1, replicaLagBytesMax: 1000, replicaLagMsMax: 1000 },
  });
  // The first checks run within 10% of the interval: make it immediate with random() = 0.
  const checker = new HealthChecker(config, silentLogger(), { random: () => 0 });
  t.teardown(() => checker.stop());
  checker.start();
  await waitFor('first checks', () => checker.snapshot().every((n) => n.state !== 'unknown'));
  const [, r, r2] = checker.snapshot();
  t.equal(r!.routable, true);
  t.equal(r2!.state, 'down', 'the silent replica timed out');
  const target = 0x16b374d848n;
  t.equal(r!.replayLsn, 0x16b374d800n, 'the check saw an older replay position');

  // Not replayed yet: polls answer the same position until the timeout.
  const t0 = Date.now();
  t.equal(await checker.waitForReplay('appdb/shard0', target, 100), null, 'null at the timeout');
  t.ok(Date.now() - t0 >= 95, 'after the timeout');
  t.ok(replica.replayPolls >= 3, `polled meanwhile (${replica.replayPolls} polls)`);
  t.equal(replica2.replayPolls, 0, 'an unroutable replica is not polled');

  // Replayed between checks: a poll finds it.
  const polls = replica.replayPolls;
  const waiting = checker.waitForReplay('appdb/shard0', target, 5_000);
  const waiting2 = checker.waitForReplay('appdb/shard0', target - 1n, 5_000);
  await new Promise((r) => setTimeout(r, 30));
  replica.replayLsn = '16/B374D848';
  const [got, got2] = await Promise.all([waiting, waiting2]);
  t.equal(got?.key, r!.key, 'the replica, once a poll saw the position');
  t.equal(got?.replayLsn, target);
  t.equal(got2?.key, r!.key, 'every waiter is answered');
  t.equal(checker.snapshot()[1]!.replayLsn, target, 'the poll advanced the view');
  t.equal(checker.snapshot()[1]!.lagBytes, 0n);
  const after = replica.replayPolls;
  t.ok(after > polls, 'polled');
  await new Promise((r) => setTimeout(r, 50));
  t.equal(replica.replayPolls, after, 'polling stops when nobody waits');
  t.equal((await checker.waitForReplay('appdb/shard0', target, 0))?.key, r!.key, 'now answered from the view, without waiting');

  // stop() answers pending waiters with null.
  const pending = checker.waitForReplay('appdb/shard0', target + 1n, 60_000);
  await checker.stop();
  t.equal(await pending, null, 'a waiter pending at stop gets null');
});
