// Two-phase commit survives a proxy crash at every step: the proxy process is killed (SIGKILL, via a
// control point) after PREPARE on both shards, after the decision is logged, and after the first
// COMMIT PREPARED. A restarted proxy (same state directory) resolves the in-doubt transaction before
// it accepts clients: rolled back when no decision was logged, committed otherwise — never half.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import t from 'tap';
import { evenBucketMap, placementOf } from '../../planner/hash/bucket-map.js';
import { startProxyProcess } from '../helpers/proxy-process.js';
import { startTestCluster } from '../helpers/proxy-fixture.js';

const cluster = await startTestCluster(t, { shards: 2 });
const sharding = { tables: [{ name: 'acct', column: 'id', type: 'int8' }] };
const buckets = evenBucketMap(1024, 2);
const ids = Array.from({ length: 50 }, (_, i) => i + 1);
const a = ids.find((id) => placementOf('int8', BigInt(id), buckets).shard === 0)!;
const b = ids.find((id) => placementOf('int8', BigInt(id), buckets).shard === 1)!;

for (const shard of cluster.shards) {
  await shard.primary.sql(`CREATE TABLE acct (id bigint PRIMARY KEY, v int NOT NULL); GRANT ALL ON acct TO PUBLIC`, 'appdb');
}
await cluster.shards[0]!.primary.sql(`INSERT INTO acct VALUES (${a}, 0)`, 'appdb');
await cluster.shards[1]!.primary.sql(`INSERT INTO acct VALUES (${b}, 0)`, 'appdb');

async function valueOn(shard: number, id: number): Promise<number> {
  const rows = await cluster.shards[shard]!.primary.sql(`SELECT v FROM acct WHERE id = ${id}`, 'appdb');
  return Number(rows[0]?.['v']);
}

async function preparedOn(shard: number): Promise<number> {
  const rows = await cluster.shards[shard]!.primary.sql('SELECT count(*)::int AS n FROM pg_prepared_xacts', 'appdb');
  return Number(rows[0]?.['n']);
}

const cases = [
  { point: '2pc-after-prepare', committed: false },
  { point: '2pc-after-decision', committed: true },
  { point: '2pc-after-commit-prepared', committed: true },
] as const;

let expected = 0;
for (const c of cases) {
  void t.test(`a crash at ${c.point} leaves the transaction ${c.committed ? 'committed' : 'rolled back'} on both shards`, async (t) => {
    const stateDir = mkdtempSync(join(tmpdir(), 'pgshard-2pc-'));
    t.teardown(() => rmSync(stateDir, { recursive: true, force: true }));
    const crashing = await startProxyProcess(t, cluster, { sharding, stateDir }, { PGSHARD_CONTROL_POINTS: c.point });
    const client = new pg.Client({ ...crashing.clientConfig('app'), query_timeout: 15_000 });
    client.on('error', () => undefined);
    await client.connect();
    await client.query('BEGIN');
    await client.query(`UPDATE acct SET v = v + 1 WHERE id = ${a}`);
    await client.query(`UPDATE acct SET v = v + 1 WHERE id = ${b}`);
    await t.rejects(client.query('COMMIT'), 'the client loses its connection at the crash');
    await client.end().catch(() => undefined);
    const exit = await crashing.exited;
    t.equal(exit.signal, 'SIGKILL', 'the proxy died at the control point');
    t.ok((await preparedOn(0)) + (await preparedOn(1)) >= 1, 'a prepared transaction is left in doubt');

    // Restarted on the same state directory: recovery runs before the proxy listens.
    const restarted = await startProxyProcess(t, cluster, { sharding, stateDir });
    t.equal(await preparedOn(0), 0, 'nothing prepared is left on shard 0');
    t.equal(await preparedOn(1), 0, 'nothing prepared is left on shard 1');
    if (c.committed) expected++;
    t.equal(await valueOn(0, a), expected, 'shard 0 has the outcome');
    t.equal(await valueOn(1, b), expected, 'shard 1 has the same outcome');
    const through = new pg.Client({ ...restarted.clientConfig('app'), query_timeout: 15_000 });
    through.on('error', () => undefined);
    await through.connect();
    const res = await through.query(`SELECT id, v FROM acct WHERE id IN (${a}, ${b}) ORDER BY v`);
    t.strictSame(res.rows.map((r: { v: number }) => r.v), [expected, expected], 'through the proxy both rows agree');
    await through.end();
    await restarted.stop();
  });
}
