// pgbench through the proxy in front of 2 shards: `pgbench -i -s 4` (DDL broadcast, COPY split by key,
// VACUUM, primary keys), a check on each shard directly that it holds only its own keys, then the
// default TPC-B-like script with 8 clients (multi-shard transactions: account, teller and branch of one
// transaction usually live on different shards) with no failed transaction, and the TPC-B invariant
// across shards: sum(abalance) = sum(bbalance) = sum(tbalance) = sum(delta), computed through the proxy
// (scatter-gather aggregates) and by adding up each shard's own sums.
//
// PGSHARD_PGBENCH_SECONDS sets the run's length (default 20, what CI uses).
import { join } from 'node:path';
import pg from 'pg';
import t, { type Test } from 'tap';
import { postgresBinDir } from '../harness/cluster.js';
import { DATABASE, USERS, startProxyOn, startTestCluster } from '../helpers/proxy-fixture.js';
import { FAST_SETTINGS, bucketSql, clientConfig, evenShardSql, primaryOf, type Endpoint } from './differential/shard-helpers.js';
import { libpqEnv, runCommand, type RunResult } from '../helpers/run-command.js';

const SECONDS = Number(process.env['PGSHARD_PGBENCH_SECONDS'] ?? '20');
const SCALE = 4;
const SHARDS = 2;
const MODULUS = 1024;
const CLIENTS = 8;

/** The pgbench tables and their shard keys (all int4). */
const TABLES = [
  { name: 'pgbench_accounts', column: 'aid', rows: 100_000 * SCALE },
  { name: 'pgbench_tellers', column: 'tid', rows: 10 * SCALE },
  { name: 'pgbench_branches', column: 'bid', rows: SCALE },
  { name: 'pgbench_history', column: 'aid', rows: 0 },
] as const;

const cluster = await startTestCluster(t, { shards: SHARDS, settings: FAST_SETTINGS });
const proxy = await startProxyOn(t, cluster, {
  sharding: {
    modulus: MODULUS,
    tables: TABLES.map((tb) => ({ name: tb.name, column: tb.column, type: 'int4' })),
  },
  limits: { shutdownTimeoutMs: 500 },
});

/** libpq environment for the proxy, without the caller's PG* and locale variables. */
function pgEnv(): NodeJS.ProcessEnv {
  return libpqEnv({ host: proxy.host, port: proxy.port, user: 'app', password: USERS.app.password, database: DATABASE });
}

/** Runs pgbench asynchronously (the proxy runs in this process: a synchronous child would block it). */
function pgbench(args: string[], timeoutMs: number): Promise<RunResult> {
  return runCommand(join(postgresBinDir, 'pgbench'), args, { env: pgEnv(), timeoutMs });
}

const withStderr = (what: string, r: RunResult): string => (r.code === 0 ? what : `${what}; exit ${r.code}; stderr:\n${r.stderr}`);

/** The numbers pgbench 15 prints at the end of a run. */
function summary(out: string): { scale: number; processed: number; failed: number; tps: number } {
  const scale = /scaling factor: (\d+)/.exec(out);
  const processed = /number of transactions actually processed: (\d+)/.exec(out);
  const failed = /number of failed transactions: (\d+)/.exec(out);
  const tps = /tps = ([\d.]+) \(without initial connection time\)/.exec(out);
  if (scale === null || processed === null || failed === null || tps === null) throw new Error(`unexpected pgbench output:\n${out}`);
  return { scale: Number(scale[1]), processed: Number(processed[1]), failed: Number(failed[1]), tps: Number(tps[1]) };
}

/** Runs `fn` with a client connected to `endpoint`, closing it afterwards. */
async function withClient<T>(endpoint: Endpoint, fn: (c: pg.Client) => Promise<T>): Promise<T> {
  const c = new pg.Client({ ...clientConfig(endpoint), query_timeout: 30_000 });
  await c.connect();
  try {
    return await fn(c);
  } finally {
    await c.end().catch(() => undefined);
  }
}

/** One row of text values (bigint sums stay exact as strings). */
async function row(c: pg.Client, sql: string): Promise<(string | null)[]> {
  const r = await c.query<(string | null)[]>({ text: sql, rowMode: 'array', types: { getTypeParser: () => (v: string) => v } });
  const first = r.rows[0];
  if (first === undefined) throw new Error(`no row from ${sql}`);
  return first;
}

const shardEndpoints = cluster.shards.map((_, i) => primaryOf(cluster, i));

/** Each shard directly: no row of another shard's buckets; the shards' rows add up to `expected`. */
async function checkPlacement(t: Test, expectedRows: (table: string) => number | null): Promise<void> {
  const totals = new Map<string, number>();
  for (const [i, endpoint] of shardEndpoints.entries()) {
    await withClient(endpoint, async (c) => {
      for (const tb of TABLES) {
        const shardOf = evenShardSql(bucketSql('int4', tb.column, MODULUS), SHARDS, MODULUS);
        const [misplaced, total] = await row(c, `SELECT count(*) FILTER (WHERE ${shardOf} <> ${i}), count(*) FROM ${tb.name}`);
        t.equal(misplaced, '0', `shard ${i}: every one of its ${total} ${tb.name} rows has a key of its own buckets`);
        totals.set(tb.name, (totals.get(tb.name) ?? 0) + Number(total));
      }
    });
  }
  for (const tb of TABLES) {
    const expected = expectedRows(tb.name);
    if (expected !== null) t.equal(totals.get(tb.name), expected, `${tb.name}: ${expected} rows over all shards`);
  }
}

let processed = -1;

void t.test(`pgbench -i -s ${SCALE} through the proxy`, async (t) => {
  const init = await pgbench(['-i', '-s', String(SCALE), '-q'], 120_000);
  t.equal(init.code, 0, withStderr('pgbench -i exits 0', init));
  t.match(init.stderr, /done in [\d.]+ s/, 'initialisation finished');
  await checkPlacement(t, (name) => TABLES.find((tb) => tb.name === name)?.rows ?? null);
  await withClient(shardEndpoints[0]!, async (c) => {
    const [accounts] = await row(c, 'SELECT count(*) FROM pgbench_accounts');
    t.ok(Number(accounts) > 0 && Number(accounts) < 100_000 * SCALE, `shard 0 holds part of the accounts (${accounts})`);
  });
  await withClient(proxy, async (c) => {
    t.same(await row(c, 'SELECT count(*), sum(aid) FROM pgbench_accounts'), [String(100_000 * SCALE), String(((100_000 * SCALE) * (100_000 * SCALE + 1)) / 2)], 'the proxy counts and sums every account');
    t.same(await row(c, 'SELECT count(*) FROM pgbench_branches'), [String(SCALE)], 'scatter count of branches (pgbench reads its scale from it)');
  });
});

void t.test(`pgbench TPC-B-like, ${CLIENTS} clients, ${SECONDS} s`, async (t) => {
  const run = await pgbench(['-c', String(CLIENTS), '-j', '2', '-T', String(SECONDS), '-n'], (SECONDS + 60) * 1000);
  t.equal(run.code, 0, withStderr('pgbench exits 0', run));
  const s = summary(run.stdout);
  t.equal(s.scale, SCALE, 'pgbench found the scale through the proxy');
  t.equal(s.failed, 0, 'no failed transaction');
  t.ok(s.processed > 0 && s.tps > 0, `${s.processed} transactions, ${s.tps} tps`);
  t.notMatch(run.stderr, /error|abort/i, 'no client aborted');
  processed = s.processed;
});

void t.test('TPC-B invariant across shards, through the proxy and shard by shard', async (t) => {
  const SUMS = [
    ['accounts', 'SELECT sum(abalance) FROM pgbench_accounts'],
    ['branches', 'SELECT sum(bbalance) FROM pgbench_branches'],
    ['tellers', 'SELECT sum(tbalance) FROM pgbench_tellers'],
    ['history', 'SELECT sum(delta) FROM pgbench_history'],
  ] as const;
  const viaProxy = new Map<string, string | null>();
  await withClient(proxy, async (c) => {
    for (const [what, sql] of SUMS) viaProxy.set(what, (await row(c, sql))[0] ?? null);
    const [historyRows] = await row(c, 'SELECT count(*) FROM pgbench_history');
    t.equal(historyRows, String(processed), 'one history row per processed transaction (through the proxy)');
  });
  const direct = new Map<string, bigint>(SUMS.map(([what]) => [what, 0n]));
  let historyRows = 0n;
  for (const endpoint of shardEndpoints) {
    await withClient(endpoint, async (c) => {
      for (const [what, sql] of SUMS) direct.set(what, direct.get(what)! + BigInt((await row(c, sql))[0] ?? '0'));
      historyRows += BigInt((await row(c, 'SELECT count(*) FROM pgbench_history'))[0] ?? '0');
    });
  }
  t.equal(historyRows, BigInt(processed), 'one history row per processed transaction (shards added up)');
  const accounts = viaProxy.get('accounts');
  t.ok(accounts !== null && accounts !== undefined, `sum(abalance) through the proxy: ${accounts}`);
  for (const [what] of SUMS) {
    t.equal(viaProxy.get(what), accounts, `through the proxy: sum over ${what} = sum(abalance)`);
    t.equal(String(direct.get(what)), accounts, `shards added up: sum over ${what} = sum(abalance) through the proxy`);
  }
  // Rows written by the run (history inserts, updates) stayed on their shards.
  await checkPlacement(t, (name) => (name === 'pgbench_history' ? processed : (TABLES.find((tb) => tb.name === name)?.rows ?? null)));
});
