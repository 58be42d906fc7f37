// Failover and switchover of one shard on real PostgreSQL 15 servers (1 primary, 2 streaming
// replicas): the pure machine (topology/failover) decides, FailoverActions carries its actions out,
// and the test plays the health checker by polling the nodes itself.
//
// 1. kill -9 of the primary while replica1 (first in config order) is cut off: replica2, which has
//    the most WAL, is elected and promoted; replica1 is re-pointed (primary_conninfo + reload) and
//    follows the new timeline; the old primary, restarted, is fenced (read-only: 25006) and never
//    routed to.
// 2. A planned switchover back to replica1 under a continuous write load: writes pause, the old
//    primary is fenced, replica1 catches up (with recovery_min_apply_delay making it lag), is
//    promoted, and no acknowledged write is lost.
// 3. With rejoin: the fenced old primary is rewound (pg_rewind) and streams from the new primary.

import t from 'tap';
import pg from 'pg';
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { DATABASE, USERS, sleep, startTestCluster, waitUntil } from '../helpers/proxy-fixture.js';
import { FailoverActions, query, type FailoverNode } from '../../proxy/failover/failover-actions.js';
import { FailoverRunner } from '../../proxy/failover/failover-runner.js';
import { localRejoin, type LocalServer } from '../../proxy/failover/rejoin.js';
import { writePrivateFile } from '../../proxy/failover/local-server.js';
import { formatConninfo, parseConninfo, withServer } from '../../proxy/failover/conninfo.js';
import { silentLogger } from '../../proxy/logger.js';
import { initialFailoverState } from '../../topology/failover/initial-state.js';
import { nodeIdOf, type FailoverAction, type FailoverEvent, type FailoverLimits, type NodeSample } from '../../topology/failover/failover-types.js';
import { parseLsnOrNull } from '../../topology/lsn.js';
import { postgresBinDir, runsAsPostgresUser, type PgNode } from '../../proxy/demo/postgres-node.js';

const LIMITS: FailoverLimits = {
  enabled: true,
  replication: 'async',
  failuresBeforeDown: 3,
  promoteLagBytesMax: 16 * 1024 * 1024,
  promoteTimeoutMs: 15_000,
  waitMs: 10_000,
  rejoin: false,
};

/** What the health checker reads from a node. */
const SAMPLE_SQL = `SELECT pg_is_in_recovery(),
  CASE WHEN pg_is_in_recovery() THEN NULL ELSE pg_current_wal_lsn() END,
  pg_last_wal_receive_lsn(), pg_last_wal_replay_lsn(),
  (SELECT status FROM pg_stat_wal_receiver),
  (SELECT sender_host || ':' || sender_port FROM pg_stat_wal_receiver)`;

const lsn = (v: string | null | undefined): bigint | null => parseLsnOrNull(v ?? null);

/** Runs a PostgreSQL binary as the server's OS user (rejoin's pg_rewind). */
function runBinary(bin: string, args: readonly string[], env: Record<string, string>): Promise<string> {
  const path = join(postgresBinDir, bin);
  const [file, argv] = runsAsPostgresUser ? ['runuser', ['-u', 'postgres', '--', 'env', ...Object.entries(env).map(([k, v]) => `${k}=${v}`), path, ...args]] : [path, [...args]];
  return new Promise((resolve, reject) => {
    execFile(file, argv, { env: { ...process.env, ...env, LC_MESSAGES: 'C' } }, (err, stdout, stderr) => {
      if (err) reject(new Error(`${bin}: ${stderr || err.message}`));
      else resolve(stdout);
    });
  });
}

function localServer(node: PgNode): LocalServer {
  return {
    dataDir: node.dataDir,
    stop: (mode) => node.stop(mode),
    start: () => node.start(),
    runBinary,
    writePrivateFile,
  };
}

/** Stands in for the proxy's router: one writer that only writes to the routed primary. */
class Writer {
  routed: PgNode;
  paused = false;
  stopped = false;
  inflight: Promise<void> | null = null;
  readonly acked: number[] = [];
  failed = 0;
  private next = 100_000;
  private readonly clients = new Map<PgNode, pg.Client>();
  private loop: Promise<void> | null = null;

  constructor(primary: PgNode) {
    this.routed = primary;
  }

  private async client(node: PgNode): Promise<pg.Client> {
    let c = this.clients.get(node);
    if (c === undefined) {
      c = new pg.Client({ connectionString: node.connectionString('app', USERS.app.password, DATABASE) });
      c.on('error', () => undefined);
      this.clients.set(node, c);
      await c.connect();
    }
    return c;
  }

  start(): void {
    this.loop = (async () => {
      while (!this.stopped) {
        if (this.paused) {
          await sleep(5);
          continue;
        }
        const id = this.next++;
        const node = this.routed;
        this.inflight = (async () => {
          try {
            const c = await this.client(node);
            await c.query('INSERT INTO t (id, note) VALUES ($1, $2)', [id, 'writer']);
            this.acked.push(id);
          } catch {
            this.failed++;
            const c = this.clients.get(node);
            this.clients.delete(node);
            await c?.end().catch(() => undefined);
            await sleep(10);
          }
        })();
        await this.inflight;
        this.inflight = null;
      }
    })();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    await this.loop;
    for (const c of this.clients.values()) await c.end().catch(() => undefined);
  }
}

async function count(node: PgNode, where = 'true'): Promise<number> {
  const rows = await node.sql(`SELECT count(*)::int AS n FROM t WHERE ${where}`, DATABASE);
  return rows[0]?.n as number;
}

void t.test('failover after kill -9, then a planned switchover, then rejoin — on real PostgreSQL', async (t) => {
  const cluster = await startTestCluster(t, { replicas: 2, settings: { wal_retrieve_retry_interval: '200ms', wal_keep_size: '256MB' } });
  const shard = cluster.shards[0]!;
  const [oldPrimary, replica1, replica2] = [shard.primary, shard.replicas[0]!, shard.replicas[1]!];
  const pgNodes = [oldPrimary, replica1, replica2];
  const byId = new Map(pgNodes.map((n) => [nodeIdOf(n), n]));
  const nodes: FailoverNode[] = pgNodes.map((n) => ({ id: nodeIdOf(n), name: n.name, address: { host: n.host, port: n.port } }));
  const [P, R1, R2] = nodes.map((n) => n.id) as [string, string, string];

  const routes: { primary: string; term: number }[] = [];
  const hookLog: string[] = [];
  let writer: Writer | null = null;
  let rejoinEnabled = false;
  const actions = new FailoverActions({
    shard: shard.name,
    nodes,
    login: { user: cluster.superuser, password: cluster.superPassword, database: 'postgres' },
    stepTimeoutMs: 2000,
    checkpointTimeoutMs: LIMITS.promoteTimeoutMs,
    frameBytesMax: 1 << 20,
    log: silentLogger(),
    rejoin: (n) => (rejoinEnabled ? localRejoin(localServer(byId.get(n.id)!)) : null),
    hooks: {
      route(primary, term) {
        routes.push({ primary, term });
        hookLog.push(`route ${byId.get(primary)!.name}`);
        if (writer !== null) writer.routed = byId.get(primary)!;
      },
      async pauseWrites() {
        hookLog.push('pause');
        if (writer !== null) {
          writer.paused = true;
          await writer.inflight;
        }
      },
      resumeWrites() {
        hookLog.push('resume');
        if (writer !== null) writer.paused = false;
      },
    },
  });
  const events: (FailoverEvent | FailoverAction)[] = [];
  const runner = new FailoverRunner({
    initial: initialFailoverState({ shard: shard.name, primary: P, replicas: [R1, R2], limits: LIMITS, nowMs: Date.now() }),
    actions,
    log: silentLogger(),
    onTransition: (event, result) => {
      if (event.kind !== 'sample' && event.kind !== 'check-failed') events.push(event);
      events.push(...result.actions);
    },
  });
  t.teardown(() => runner.stop());

  async function sampleNode(n: FailoverNode): Promise<NodeSample> {
    const conn = await actions.connect(n, 1000);
    try {
      const [r] = await query(conn, SAMPLE_SQL, 1000);
      const [inRecovery, current, received, replayed, status, sender] = r ?? [];
      if (inRecovery !== 't') return { role: 'primary', currentLsn: lsn(current), receiveLsn: null, replayLsn: null, receiving: false };
      return { role: 'replica', currentLsn: null, receiveLsn: lsn(received), replayLsn: lsn(replayed), receiving: status === 'streaming', upstream: sender ?? null };
    } finally {
      conn.destroy();
    }
  }

  /** One round of health checks, as the checker would feed them. */
  async function checkAll(): Promise<void> {
    await Promise.all(
      nodes.map(async (n) => {
        try {
          runner.dispatch({ kind: 'sample', node: n.id, sample: await sampleNode(n) });
        } catch (err) {
          runner.dispatch({ kind: 'check-failed', node: n.id, error: (err as Error).message });
        }
      }),
    );
  }

  async function checkUntil(what: string, done: () => boolean, timeoutMs = 20_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!done()) {
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${what} (phase ${runner.state.phase}: ${runner.state.reason})`);
      await checkAll();
      await sleep(100);
    }
    await runner.idle();
  }

  async function expectReadOnly(node: PgNode, label: string): Promise<void> {
    const c = new pg.Client({ connectionString: node.connectionString('app', USERS.app.password, DATABASE) });
    await c.connect();
    try {
      await c.query('INSERT INTO t (id, note) VALUES (-1, $1)', ['bypassing the proxy']);
      t.fail(`${label}: an INSERT straight to it succeeded`);
    } catch (err) {
      t.equal((err as { code?: string }).code, '25006', `${label}: an INSERT straight to it fails with 25006 (read-only transaction)`);
    } finally {
      await c.end();
    }
  }

  // --- setup: rows everywhere, then replica1 cut off while replica2 receives 100 more rows --------
  await oldPrimary.sql('CREATE TABLE t (id int PRIMARY KEY, note text); GRANT ALL ON t TO app', DATABASE);
  await oldPrimary.sql("INSERT INTO t SELECT g, 'before' FROM generate_series(1, 100) g", DATABASE);
  const lsn1 = (await oldPrimary.sql('SELECT pg_current_wal_lsn()::text AS l'))[0]!.l as string;
  await replica1.waitForReplayLsn(lsn1);
  await replica2.waitForReplayLsn(lsn1);
  await checkAll();
  t.equal(runner.state.phase, 'normal');

  const r1info = (await replica1.sql('SHOW primary_conninfo'))[0]!.primary_conninfo as string;
  const nowhere = formatConninfo(withServer(parseConninfo(r1info), '127.0.0.1', 1));
  await replica1.sql(`ALTER SYSTEM SET primary_conninfo = '${nowhere.replace(/'/g, "''")}'`);
  await replica1.sql('SELECT pg_reload_conf()');
  await waitUntil('replica1 to stop streaming', async () => (await replica1.sql("SELECT 1 FROM pg_stat_wal_receiver WHERE status = 'streaming'")).length === 0, 10_000);
  await oldPrimary.sql("INSERT INTO t SELECT g, 'only replica2' FROM generate_series(101, 200) g", DATABASE);
  const lsn2 = (await oldPrimary.sql('SELECT pg_current_wal_lsn()::text AS l'))[0]!.l as string;
  await replica2.waitForReplayLsn(lsn2);
  await checkAll();

  // --- 1. kill -9 -----------------------------------------------------------------------------------
  const killedAt = Date.now();
  await oldPrimary.kill9();
  await checkUntil('the failover', () => runner.state.phase === 'done' || runner.state.phase === 'repointing');
  await checkUntil('the repoints', () => runner.state.phase === 'done');
  t.comment(`kill -9 → new primary routed and replicas re-pointed in ${Date.now() - killedAt} ms (checks every ~100 ms)`);
  t.strictSame(routes, [{ primary: R2, term: 2 }], 'replica2 (most WAL, second in config order) is routed in term 2');
  t.equal(runner.state.primary, R2);
  t.match(runner.state.lastChange, { kind: 'failover', from: P, to: R2, term: 2 });
  replica2.role = 'primary';
  t.equal(await replica2.isInRecovery(), false, 'replica2 is a primary: pg_is_in_recovery() = false');
  t.equal(await count(replica2), 200, 'it has every row, including the 100 replica1 never received');
  const order = events.filter((e) => 'kind' in e && ['pause-writes', 'fence', 'promote', 'route', 'resume-writes', 'repoint'].includes(e.kind)).map((e) => e.kind);
  t.strictSame(order.slice(0, 6), ['pause-writes', 'fence', 'promote', 'route', 'resume-writes', 'repoint'], 'fence before promote, route before repoint');
  t.match(runner.state.fenced, [{ node: P, applied: false }], 'the dead primary is fenced by memory only');

  await waitUntil(
    'replica1 to stream from replica2',
    async () => (await replica1.sql(`SELECT 1 FROM pg_stat_wal_receiver WHERE status = 'streaming' AND sender_port = ${replica2.port}`)).length === 1,
    15_000,
  );
  // It streams the old timeline up to the fork first, then timeline 2.
  await waitUntil(
    'replica1 to receive timeline 2',
    async () => (await replica1.sql('SELECT received_tli FROM pg_stat_wal_receiver'))[0]?.received_tli === 2,
    15_000,
  );
  t.pass('replica1 follows the new timeline (recovery_target_timeline = latest)');
  const slot = (await replica2.sql("SELECT active FROM pg_replication_slots WHERE slot_name = 'shard0_replica1'"))[0];
  t.equal(slot?.active, true, "replica1's replication slot was created on the new primary and is in use");
  await replica2.sql("INSERT INTO t VALUES (201, 'on the new primary')", DATABASE);
  await replica1.waitForReplayLsn((await replica2.sql('SELECT pg_current_wal_lsn()::text AS l'))[0]!.l as string);
  t.equal(await count(replica1), 201, 'a row written on the new primary reaches replica1, which also got the 100 it missed');

  // The old primary comes back: it is fenced for real when it answers, and never routed to.
  await oldPrimary.start();
  await checkUntil('the old primary to be fenced', () => runner.state.fenced.some((f) => f.node === P && f.applied));
  t.equal((await oldPrimary.sql('SHOW default_transaction_read_only'))[0]!.default_transaction_read_only, 'on');
  await expectReadOnly(oldPrimary, 'restarted old primary');
  await oldPrimary.restart();
  await expectReadOnly(oldPrimary, 'old primary after another restart (ALTER SYSTEM persists)');
  for (let i = 0; i < 3; i++) await checkAll();
  await runner.idle();
  t.notOk(routes.some((r) => r.primary === P), 'the old primary is never routed to');

  // --- 2. planned switchover back to replica1 under a write load -----------------------------------
  await replica1.sql("ALTER SYSTEM SET recovery_min_apply_delay = '300ms'");
  await replica1.sql('SELECT pg_reload_conf()');
  writer = new Writer(replica2);
  t.teardown(() => writer?.stop());
  writer.start();
  await waitUntil('the writer to write', () => (writer?.acked.length ?? 0) >= 20, 10_000);
  await checkAll();
  hookLog.length = 0;
  const switchStarted = Date.now();
  const res = runner.dispatch({ kind: 'switchover', target: R1 });
  t.equal(res.rejection, null, 'the switchover is accepted');
  await checkUntil('the switchover', () => runner.state.phase === 'done' || runner.state.phase === 'repointing', 15_000);
  const switchMs = Date.now() - switchStarted;
  await waitUntil('writes on the new primary', () => writer!.acked.length > 0 && writer!.routed === replica1 && !writer!.paused, 5000);
  const before = writer.acked.length;
  await waitUntil('more writes', () => writer!.acked.length >= before + 20, 10_000);
  await writer.stop();
  replica1.role = 'primary';
  t.comment(`switchover took ${switchMs} ms (writes paused meanwhile); ${writer.acked.length} writes acknowledged, ${writer.failed} failed`);
  t.strictSame(hookLog, ['pause', `route ${replica1.name}`, 'resume'], 'writes paused, then routed to replica1, then resumed');
  const seq = events.slice(events.findIndex((e) => e.kind === 'switchover')).map((e) => e.kind);
  t.ok(seq.indexOf('caught-up') > 0 && seq.indexOf('caught-up') < seq.indexOf('promote'), 'promoted only after caught-up');
  t.equal(await replica1.isInRecovery(), false, 'replica1 is the primary');
  const acked = writer.acked;
  const present = await replica1.sql(`SELECT count(*)::int AS n FROM t WHERE id = ANY('{${acked.join(',')}}'::int[])`, DATABASE);
  t.equal(present[0]!.n, acked.length, `all ${acked.length} acknowledged writes are on the new primary (zero loss)`);
  t.equal(await count(replica1, 'id <= 201'), 201);
  await expectReadOnly(replica2, 'the switched-over old primary');
  await replica1.sql('ALTER SYSTEM RESET recovery_min_apply_delay');
  await replica1.sql('SELECT pg_reload_conf()');
  t.strictSame(
    routes.map((r) => [byId.get(r.primary)!.name, r.term]),
    [
      [replica2.name, 2],
      [replica1.name, 3],
    ],
    'one primary per term, terms growing',
  );

  // --- 3. rejoin: the fenced nodes are rewound and stream from the current primary ------------------
  const res2 = runner.dispatch({ kind: 'switchover', target: R1 });
  t.match(res2.rejection, { sqlstate: '55000' }, 'a switchover to the current primary is refused');
  rejoinEnabled = true;
  const rejoinStarted = Date.now();
  runner.dispatch({ kind: 'configure', limits: { ...LIMITS, rejoin: true } });
  t.strictSame(runner.state.rejoins.map((r) => r.node).sort(), [P, R2].sort(), 'both fenced nodes are to rejoin');
  await checkUntil('the rejoins', () => runner.state.rejoins.length === 0 && runner.state.fenced.length === 0, 30_000).catch((err: Error) => {
    throw new Error(`${err.message}; events: ${JSON.stringify(events.filter((e) => e.kind.startsWith('rejoin') || e.kind.startsWith('fence')), (_k, v: unknown) => (typeof v === 'bigint' ? String(v) : v))}`);
  });
  t.comment(`two rejoins (pg_rewind) took ${Date.now() - rejoinStarted} ms`);
  oldPrimary.role = 'replica';
  replica2.role = 'replica';
  await replica1.sql("INSERT INTO t VALUES (202, 'after the rejoins')", DATABASE);
  const lsn3 = (await replica1.sql('SELECT pg_current_wal_lsn()::text AS l'))[0]!.l as string;
  for (const n of [oldPrimary, replica2]) {
    t.equal(await n.isInRecovery(), true, `${n.name} is a replica again`);
    await n.waitForReplayLsn(lsn3);
    const rx = (await n.sql('SELECT status, sender_port FROM pg_stat_wal_receiver'))[0];
    t.match(rx, { status: 'streaming', sender_port: replica1.port }, `${n.name} streams from the current primary`);
    t.equal(await count(n, 'id = 202'), 1, `${n.name} has the row written after its rejoin`);
    t.equal((await n.sql("SELECT setting FROM pg_settings WHERE name = 'default_transaction_read_only'"))[0]!.setting, 'off', `${n.name} is no longer fenced`);
  }
  t.notOk(runner.state.rejoins.some((r) => r.status === 'failed'));
  t.notOk(routes.some((r) => r.primary === P), 'the old primary was never routed to');
});
