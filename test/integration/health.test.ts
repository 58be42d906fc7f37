// The health checker against a real primary and streaming replica (PostgreSQL 15, local harness):
// both seen up with lag 0; replay paused on the replica makes lag appear (bytes and ms) and takes it
// out of read routing, resuming puts it back; waitForReplay finds the replica once it replayed a
// write's LSN (and gives up at its timeout while replay is paused); a stopped replica is down after
// failuresBeforeDown checks and up again after a restart; a promoted replica is flagged; stop()
// leaves no timer or socket behind.
import t from 'tap';
import { HealthChecker, type HealthChange } from '../../proxy/health/health-checker.js';
import { silentLogger } from '../../proxy/logger.js';
import { parseConfig } from '../../topology/config/load-config.js';
import type { NodeView } from '../../topology/health/node-health.js';
import { parseLsn } from '../../topology/lsn.js';
import pg from 'pg';
import { USERS, rawConfigFor, startProxyOn, startTestCluster, waitUntil } from '../helpers/proxy-fixture.js';

const INTERVAL_MS = 100;
const FAILURES_BEFORE_DOWN = 3;
const LAG_BYTES_MAX = 1024;

/** Handles that keep the event loop alive and that a stopped checker must not leave behind. */
function resources(): { timers: number; sockets: number } {
  const all = process.getActiveResourcesInfo();
  return { timers: all.filter((r) => r === 'Timeout').length, sockets: all.filter((r) => r === 'TCPSocketWrap').length };
}

void t.test('health checks of a primary and a replica', async (t) => {
  const cluster = await startTestCluster(t, { shards: 1, replicas: 1 });
  const shard = cluster.shards[0]!;
  const primary = shard.primary;
  const replica = shard.replicas[0]!;
  const config = parseConfig({
    ...rawConfigFor(cluster),
    health: { intervalMs: INTERVAL_MS, timeoutMs: 1000, failuresBeforeDown: FAILURES_BEFORE_DOWN, replicaLagBytesMax: LAG_BYTES_MAX, replicaLagMsMax: 60_000 },
  });
  await primary.sql('CREATE TABLE items (id int, pad text)', 'appdb');

  const before = resources();
  const checker = new HealthChecker(config, silentLogger());
  const changes: HealthChange[] = [];
  checker.on('change', (c) => changes.push(c));
  let checks = 0;
  checker.on('check', () => checks++);
  t.teardown(() => checker.stop());
  const started = Date.now();
  checker.start();

  const views = (): { p: NodeView; r: NodeView } => {
    const [p, r] = checker.snapshot();
    return { p: p!, r: r! };
  };
  const changesOf = (node: NodeView, kind: HealthChange['kind']) => changes.filter((c) => c.node.key === node.key && c.kind === kind).length;

  await t.test('primary and replica up, lag 0', async (t) => {
    await waitUntil('both nodes up and the replica caught up', () => {
      const { p, r } = views();
      return p.up && r.up && r.lagBytes === 0n && r.routable;
    }, 10_000);
    t.comment(`first healthy snapshot after ${Date.now() - started} ms`);
    const { p, r } = views();
    t.match(p, { key: `appdb/shard0/127.0.0.1:${primary.port}`, database: 'appdb', shard: 'shard0', configuredRole: 'primary', observedRole: 'primary', state: 'up', routable: false, failures: 0, lastError: null, promoted: false });
    t.type(p.currentLsn, 'bigint');
    t.match(r, { key: `appdb/shard0/127.0.0.1:${replica.port}`, configuredRole: 'replica', observedRole: 'replica', state: 'up', lagMs: 0, promoted: false });
    t.ok(r.replayLsn !== null && r.replayLsn >= p.currentLsn!, 'replayed what the primary had written');
    t.equal(r.receiving, null, 'the app user (no pg_monitor) cannot see the WAL receiver status');
    t.equal(checker.shardSnapshot('appdb/shard0')?.length, 2);
    t.equal(checker.shardSnapshot('nope/shard0'), null);

    await primary.sql(`GRANT pg_monitor TO app`);
    await waitUntil('the receiver status to become visible', () => views().r.receiving === true, 5_000);
    t.equal(views().r.upstream, `127.0.0.1:${primary.port}`, 'streaming from the primary');
    t.ok(changesOf(p, 'up') === 1 && changesOf(r, 'up') === 1 && changesOf(r, 'routable') === 1, 'up and routable announced once');
  });

  await t.test('lag appears while replay is paused and disappears after', async (t) => {
    // A replayed commit first, so pg_last_xact_replay_timestamp() is set on the replica.
    await primary.sql(`INSERT INTO items VALUES (0, 'first')`, 'appdb');
    await waitUntil('the first commit replayed', () => views().r.lagBytes === 0n, 5_000);
    await replica.sql('SELECT pg_wal_replay_pause()');
    await primary.sql(`INSERT INTO items SELECT g, repeat('x', 100) FROM generate_series(1, 300) g`, 'appdb');
    await waitUntil('lag to show', () => {
      const { r } = views();
      return r.lagBytes !== null && r.lagBytes > BigInt(LAG_BYTES_MAX) && r.lagMs !== null && r.lagMs > 0;
    }, 5_000);
    const { r } = views();
    t.equal(r.routable, false, `${r.lagBytes} bytes behind (max ${LAG_BYTES_MAX}): out of read routing`);
    t.equal(r.up, true, 'lagging is not down');
    t.equal(changesOf(r, 'unroutable'), 1, 'taken out of routing, announced');
    const lagMs = r.lagMs!;
    await waitUntil('lag ms to grow while paused', () => (views().r.lagMs ?? 0) > lagMs + INTERVAL_MS, 5_000);

    await replica.sql('SELECT pg_wal_replay_resume()');
    await waitUntil('lag back to 0', () => {
      const v = views().r;
      return v.lagBytes === 0n && v.lagMs === 0 && v.routable;
    }, 10_000);
    t.equal(changesOf(r, 'routable'), 2, 'back in routing, announced');
  });

  await t.test('waitForReplay', async (t) => {
    const { r } = views();
    // Two round trips: statements of one simple query share a transaction, and the LSN must be read
    // after the commit record was written.
    const lsnAfterWrite = async (): Promise<bigint> => {
      await primary.sql(`INSERT INTO items VALUES (1, 'w')`, 'appdb');
      const rows = await primary.sql('SELECT pg_current_wal_insert_lsn()::text AS lsn');
      return parseLsn(String(rows[0]!.lsn));
    };
    // Already replayed: answered from the last check, at once.
    const old = views().r.replayLsn!;
    t.equal((await checker.waitForReplay('appdb/shard0', old, 0))?.key, r.key, 'an LSN already replayed: the replica, even with timeout 0');

    const lsn = await lsnAfterWrite();
    const t0 = Date.now();
    const got = await checker.waitForReplay('appdb/shard0', lsn, 5_000);
    t.comment(`waitForReplay resolved after ${Date.now() - t0} ms`);
    t.equal(got?.key, r.key, 'the replica, once it replayed the write');
    t.ok(got !== null && got.replayLsn !== null && got.replayLsn >= lsn, 'with a replay LSN at or past the write');

    await replica.sql('SELECT pg_wal_replay_pause()');
    try {
      const paused = await lsnAfterWrite();
      const t1 = Date.now();
      t.equal(await checker.waitForReplay('appdb/shard0', paused, 300), null, 'replay paused: null at the timeout');
      t.ok(Date.now() - t1 >= 290, 'after waiting the timeout');
    } finally {
      await replica.sql('SELECT pg_wal_replay_resume()');
    }
    await t.rejects(checker.waitForReplay('nope/shard9', 0n, 10), /unknown shard/);
  });

  await t.test('a stopped replica goes down after failuresBeforeDown checks and comes back', async (t) => {
    const { p, r } = views();
    const stopAt = Date.now();
    await replica.stop('fast');
    await waitUntil('the replica down', () => views().r.state === 'down', 10_000);
    const tookMs = Date.now() - stopAt;
    t.comment(`down after ${tookMs} ms`);
    const down = views().r;
    t.ok(tookMs >= (FAILURES_BEFORE_DOWN - 1) * INTERVAL_MS * 0.9, `not before ${FAILURES_BEFORE_DOWN} checks (${tookMs} ms)`);
    t.equal(down.failures, FAILURES_BEFORE_DOWN);
    t.equal(down.routable, false);
    t.equal(down.observedRole, 'replica', 'the last known role stays');
    t.type(down.lastError, 'string');
    for (const secret of Object.values(USERS).map((u) => u.password)) t.notOk(down.lastError?.includes(secret), 'no password in the error');
    t.equal(changesOf(r, 'down'), 1, 'down announced once');
    t.equal(views().p.up, true, 'the primary is unaffected');

    await replica.start();
    await waitUntil('the replica up and routable again', () => views().r.up && views().r.routable, 15_000);
    t.equal(changesOf(r, 'up'), 2, 'up announced again');
    t.equal(views().r.failures, 0);
    t.equal(views().r.lastError, null);
    t.equal(changesOf(p, 'down'), 0);
  });

  await t.test('a promoted replica is flagged', async (t) => {
    const { r } = views();
    await replica.promote();
    await waitUntil('the promotion to show', () => views().r.promoted, 10_000);
    t.match(views().r, { observedRole: 'primary', promoted: true, routable: false, lagBytes: null });
    t.equal(changesOf(r, 'promoted'), 1);
    t.equal(changesOf(r, 'role'), 1);
  });

  await t.test('stop() leaves no timer or socket', async (t) => {
    t.ok(checks > 10, `${checks} checks ran`);
    await checker.stop();
    const after = resources();
    t.ok(after.sockets <= before.sockets, `sockets: ${before.sockets} before start, ${after.sockets} after stop`);
    t.ok(after.timers <= before.timers, `timers: ${before.timers} before start, ${after.timers} after stop`);
    const n = checks;
    await new Promise((resolve) => setTimeout(resolve, INTERVAL_MS * 3));
    t.equal(checks, n, 'no check after stop');
    t.equal(await checker.waitForReplay('appdb/shard0', 2n ** 63n, 1000), null, 'waitForReplay after stop: null at once');
    t.equal(checker.snapshot().length, 2, 'the last snapshot stays readable');
    await checker.stop();
    t.pass('stop() twice is fine');
  });
});

void t.test('SHOW NODES in the admin console of a running proxy', async (t) => {
  const cluster = await startTestCluster(t, { shards: 1, replicas: 1 });
  const proxy = await startProxyOn(t, cluster, { health: { intervalMs: INTERVAL_MS } });
  const admin = new pg.Client({ ...proxy.clientConfig('admin', 'pgshard'), query_timeout: 10_000 });
  admin.on('error', () => undefined);
  await admin.connect();
  t.teardown(() => admin.end().catch(() => undefined));
  const replica = cluster.shards[0]!.replicas[0]!;
  let rows: Record<string, unknown>[] = [];
  // Routable needs the lag, i.e. a sample of both nodes: the replica may be checked first.
  await waitUntil('both nodes checked and up, the replica routable', async () => {
    rows = (await admin.query('SHOW NODES')).rows as Record<string, unknown>[];
    return rows.length === 2 && rows.every((r) => r['state'] === 'up') && rows.some((r) => r['observed_role'] === 'replica' && r['routable'] === true);
  }, 10_000);
  const byRole = new Map(rows.map((r) => [String(r['observed_role']), r]));
  t.equal(byRole.get('primary')?.['shard'], 'shard0');
  t.equal(byRole.get('replica')?.['node'], `${replica.host}:${replica.port}`, 'the replica is listed with its address');
  t.equal(String(byRole.get('replica')?.['routable']), 'true');
});
