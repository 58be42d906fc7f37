// Proves the local PostgreSQL harness works against real PostgreSQL 15: replication, crash and
// restart, settings, TCP scram login, and that stop() leaves no process behind.
import { existsSync } from 'node:fs';
import pg from 'pg';
import t from 'tap';
import { childPids, pidAlive, type PgNode } from '../../proxy/demo/postgres-node.js';
import { withCluster } from '../harness/cluster.js';


function must<T>(v: T | undefined, what: string): T {
  if (v === undefined) throw new Error(`missing ${what}`);
  return v;
}

async function one(node: PgNode, query: string, db = 'postgres'): Promise<Record<string, unknown>> {
  return must((await node.sql(query, db))[0], `row of ${query}`);
}

/** The postmaster and its children: the processes that must be gone after stop(). */
function processesOf(node: PgNode): number[] {
  const pid = node.postmasterPid();
  return pid === null ? [] : [pid, ...childPids(pid)];
}

void t.test('1 shard + 1 replica', async (t) => {
  const started = Date.now();
  const cluster = await withCluster(t, {
    shards: 1,
    replicas: 1,
    users: [{ name: 'app', password: 'app secret:1' }],
    databases: ['appdb'],
  });
  t.comment(`cluster started in ${Date.now() - started} ms`);
  const shard = must(cluster.shards[0], 'shard 0');
  const { primary } = shard;
  const replica = must(shard.replicas[0], 'replica 1');
  t.equal(primary.name, 'shard0-primary');
  t.equal(replica.name, 'shard0-replica1');
  t.not(primary.port, replica.port);

  // Replication of a write.
  await primary.sql('CREATE TABLE items (id int PRIMARY KEY, label text); INSERT INTO items VALUES (1, $$one$$)', 'appdb');
  const lsn = String((await one(primary, 'SELECT pg_current_wal_lsn()::text AS lsn')).lsn);
  await replica.waitForReplayLsn(lsn, 15_000);
  t.same(await replica.sql('SELECT id, label FROM items', 'appdb'), [{ id: 1, label: 'one' }], 'replica has the row');
  t.equal(await replica.isInRecovery(), true, 'replica is in recovery');
  t.equal(await primary.isInRecovery(), false, 'primary is not in recovery');
  t.equal(replica.role, 'replica');
  t.equal(primary.role, 'primary');

  const repl = await primary.sql('SELECT application_name, state FROM pg_stat_replication');
  t.same(repl, [{ application_name: 'shard0-replica1', state: 'streaming' }], 'pg_stat_replication shows the replica streaming');

  // Crash the replica, restart it, it streams and catches up again.
  const crashed = processesOf(replica);
  t.ok(crashed.length > 1, 'replica has a postmaster and children');
  await replica.kill9();
  t.equal(replica.isRunning(), false, 'replica down after kill9');
  t.same(crashed.filter(pidAlive), [], 'all replica processes gone after kill9');
  await primary.sql('INSERT INTO items VALUES (2, $$two$$)', 'appdb');
  await replica.start();
  await primary.waitForStreaming(replica.name, 20_000);
  const lsn2 = String((await one(primary, 'SELECT pg_current_wal_lsn()::text AS lsn')).lsn);
  await replica.waitForReplayLsn(lsn2, 15_000);
  t.same(await replica.sql('SELECT count(*)::int AS n FROM items', 'appdb'), [{ n: 2 }], 'replica caught up after restart');

  // Settings.
  t.ok(Number((await one(primary, 'SHOW max_prepared_transactions')).max_prepared_transactions) > 0, 'max_prepared_transactions > 0');
  t.equal((await one(primary, 'SHOW wal_level')).wal_level, 'logical');
  t.equal((await one(primary, 'SHOW listen_addresses')).listen_addresses, '127.0.0.1');

  // TCP login with scram as the configured user; a wrong password is 28P01.
  const ok = new pg.Client({ host: '127.0.0.1', port: primary.port, user: 'app', password: 'app secret:1', database: 'appdb' });
  await ok.connect();
  try {
    const res = await ok.query<{ u: string; db: string }>('SELECT current_user AS u, current_database() AS db');
    t.same(res.rows, [{ u: 'app', db: 'appdb' }], 'user logs in over TCP');
  } finally {
    await ok.end();
  }
  const viaUrl = new pg.Client({ connectionString: replica.connectionString('app', 'app secret:1', 'appdb') });
  await viaUrl.connect();
  await viaUrl.end();
  t.pass('connectionString() works against the replica');
  const bad = new pg.Client({ host: '127.0.0.1', port: primary.port, user: 'app', password: 'wrong', database: 'appdb' });
  await t.rejects(bad.connect(), { code: '28P01' }, 'wrong password is rejected with 28P01');
  await bad.end().catch(() => undefined);

  // stop(): nothing from this cluster remains; the temp dir is removed; stop() again is a no-op.
  const pids = [...processesOf(primary), ...processesOf(replica)];
  t.ok(pids.length >= 4, `collected ${pids.length} server pids`);
  await cluster.stop();
  t.same(pids.filter(pidAlive), [], 'no server process left after stop()');
  t.equal(primary.isRunning(), false);
  t.equal(replica.isRunning(), false);
  t.equal(existsSync(cluster.dir), false, 'temp dir removed');
  await cluster.stop();
  await replica.stop();
  t.pass('stop() is idempotent');
});

void t.test('synchronous replication', async (t) => {
  const cluster = await withCluster(t, { shards: 1, replicas: 1, users: [], databases: [], synchronous: true });
  const shard = must(cluster.shards[0], 'shard 0');
  t.equal((await one(shard.primary, 'SHOW synchronous_standby_names')).synchronous_standby_names, 'ANY 1 ("shard0-replica1")');
  t.same(await shard.primary.sql('SELECT application_name, sync_state FROM pg_stat_replication'), [
    { application_name: 'shard0-replica1', sync_state: 'quorum' },
  ]);
  await shard.primary.sql('CREATE TABLE s (x int); INSERT INTO s VALUES (1)');
  t.pass('synchronous commit completes');
});
