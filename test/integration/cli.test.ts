// The `pgshard` command as a user runs it: `demo` starts real Postgres shards with replicas plus the
// proxy, prints a working `ready:` URL, and leaves nothing running after SIGINT; `demo --etcd 2 --sync`
// runs two proxies sharing one etcd over synchronous replication, one of them leading, and leaves
// nothing running after SIGTERM; `check-config` and `start` name every bad key of an invalid config
// and refuse to start; `start` with metrics prints and serves the endpoint, and refuses a port in use.
import t from 'tap';
import { spawn, execFile, type ChildProcess } from 'node:child_process';
import { promisify } from 'node:util';
import { mkdtempSync, readFileSync, rmSync, writeFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { pidAlive } from '../../proxy/demo/postgres-node.js';
import type { TeardownTarget } from '../harness/cluster.js';
import { httpRequest } from '../helpers/prometheus-text.js';

const run = promisify(execFile);
const cli = ['--import', 'tsx', new URL('../../proxy/cli.ts', import.meta.url).pathname];

interface Demo {
  readonly child: ChildProcess;
  readonly exited: Promise<number | null>;
  readonly dir: string;
  /** The `ready:` URLs, in the order printed. */
  readonly ready: string[];
  stdout(): string;
  stderr(): string;
}

/**
 * Runs `pgshard demo --port 0 --dir <temp> ...args` until it printed `readyLines` ready lines; the test's
 * teardown stops it with `signal` (if still running) and removes its directory.
 */
async function startDemo(t: TeardownTarget, prefix: string, args: string[], signal: NodeJS.Signals, readyLines: number): Promise<Demo> {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const child = spawn(process.execPath, [...cli, 'demo', ...args, '--port', '0', '--dir', dir], { stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  t.teardown(async () => {
    if (child.exitCode === null) {
      child.kill(signal);
      await exited;
    }
  });
  const ready = await new Promise<string[]>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no ${readyLines} ready line(s) in 90 s; stderr:\n${stderr}`)), 90_000);
    child.stdout.on('data', (d: Buffer) => {
      stdout += d.toString();
      const urls = [...stdout.matchAll(/^ready: (postgres:\/\/\S+)$/gm)].map((m) => m[1]!);
      if (urls.length === readyLines) {
        clearTimeout(timer);
        resolve(urls);
      }
    });
    child.on('exit', () => reject(new Error(`demo exited early; stderr:\n${stderr}`)));
  });
  return { child, exited, dir, ready, stdout: () => stdout, stderr: () => stderr };
}

void t.test('demo: ready line, working connection, admin console, clean stop on SIGINT', async (t) => {
  const demo = await startDemo(t, 'pgshard-cli-demo-', ['--shards', '2', '--replicas', '1'], 'SIGINT', 1);
  const { child, exited, dir } = demo;
  const stdout = demo.stdout();
  const ready = demo.ready[0]!;
  t.match(ready, /^postgres:\/\/app:[0-9a-f]+@127\.0\.0\.1:\d+\/app$/);
  const client = new pg.Client({ connectionString: ready });
  await client.connect();
  const r = await client.query('select current_database() as db, current_user as u');
  t.strictSame(r.rows, [{ db: 'app', u: 'app' }], 'the demo answers');
  // Reads go to a replica once the health checks found it caught up (within a check interval or two).
  let onReplica = false;
  for (const deadline = Date.now() + 10_000; !onReplica && Date.now() < deadline; ) {
    onReplica = (await client.query<{ r: boolean }>('select pg_is_in_recovery() as r')).rows[0]?.r === true;
    if (!onReplica) await new Promise((resolve) => setTimeout(resolve, 100));
  }
  t.ok(onReplica, 'a replica of the demo answers a read (sync consistency, nothing written yet)');
  const strong = await client.query('select pg_is_in_recovery() as r /* pgshard: consistency=strong */');
  t.strictSame(strong.rows, [{ r: false }], 'a primary answers a read hinted strong');
  // The example schema and both printed queries work: one routed, one scatter-gather.
  const routed = /routed to one shard: +(.+)$/m.exec(stdout)?.[1];
  const scatter = /scatter-gather: +(.+)$/m.exec(stdout)?.[1];
  t.ok(routed !== undefined && scatter !== undefined, 'two example queries are printed');
  const orders = await client.query(routed!);
  t.equal(orders.rowCount, 42 % 4, 'the routed example returns customer 42\'s orders');
  const byCountry = await client.query(scatter!);
  t.equal(byCountry.rowCount, 4, 'the scatter-gather example groups across shards');
  t.equal(byCountry.rows.reduce((n: number, row: { customers: string }) => n + Number(row.customers), 0), 100, 'every customer counted once');
  await client.end();
  const admin = new pg.Client({ connectionString: ready.replace(/\/app$/, '/pgshard') });
  await admin.connect();
  const pools = await admin.query({ text: 'SHOW POOLS', rowMode: 'array' } as pg.QueryConfig);
  t.ok(pools.rows.length >= 1, 'SHOW POOLS lists the pool the first client used');
  await admin.end();
  const pids = [...demo.stderr().matchAll(/on 127\.0\.0\.1:(\d+)/g)].length;
  t.ok(pids >= 4, 'two primaries and two replicas were started');
  const postmasters = ['shard0-primary', 'shard0-replica1', 'shard1-primary', 'shard1-replica1']
    .map((n) => join(dir, n, 'postmaster.pid'))
    .filter((f) => existsSync(f))
    .map((f) => Number(readFileSync(f, 'utf8').split('\n')[0]));
  t.equal(postmasters.length, 4, 'four postmasters are running');
  child.kill('SIGINT');
  t.equal(await exited, 0, 'the demo exits 0 on SIGINT');
  for (const pid of postmasters) t.notOk(pidAlive(pid), `postmaster ${pid} is gone`);
});

void t.test('demo --etcd 2 --sync: two proxies share one etcd and one of them leads; SIGTERM stops everything', async (t) => {
  const demo = await startDemo(t, 'pgshard-cli-etcd-', ['--shards', '1', '--replicas', '1', '--etcd', '2', '--sync'], 'SIGTERM', 2);
  const { child, exited, dir } = demo;
  const ready = demo.ready;
  for (const url of ready) t.match(url, /^postgres:\/\/app:[0-9a-f]+@127\.0\.0\.1:\d+\/app$/);
  t.not(ready[0], ready[1], 'each proxy has its own address');
  const leaders: string[] = [];
  for (const url of ready) {
    const client = new pg.Client({ connectionString: url });
    await client.connect();
    const r = await client.query('SELECT count(*)::int AS n FROM customers');
    t.strictSame(r.rows, [{ n: 100 }], `${url.replace(/:[0-9a-f]+@/, ':***@')} answers with the example schema`);
    await client.end();
    const admin = new pg.Client({ connectionString: url.replace(/\/app$/, '/pgshard') });
    await admin.connect();
    const failover = await admin.query('SHOW FAILOVER');
    await admin.end();
    t.equal(failover.rows.length, 1, 'one shard in SHOW FAILOVER');
    leaders.push(String((failover.rows[0] as Record<string, unknown>)['leader']));
  }
  t.same(leaders.filter((l) => l === 'true').length, 1, `exactly one proxy leads (${leaders.join(', ')})`);
  t.same(leaders.filter((l) => l === 'false').length, 1, 'the other follows');
  for (const i of [1, 2]) {
    const config = readFileSync(join(dir, `pgshard-${i}.yaml`), 'utf8');
    t.match(config, /replication: sync/, `proxy ${i}'s config asks for synchronous failover`);
    t.match(config, /kind: etcd/, `proxy ${i} coordinates through etcd`);
  }
  const stderr = demo.stderr();
  const primaryPort = Number(/shard0-primary up on 127\.0\.0\.1:(\d+)/.exec(stderr)?.[1]);
  // Straight to the primary over its unix socket (trust): the demo made replication synchronous.
  const direct = new pg.Client({ host: join(dir, 'sock'), port: primaryPort, user: 'postgres', database: 'postgres' });
  await direct.connect();
  const sync = await direct.query('SHOW synchronous_standby_names');
  await direct.end();
  t.match(String((sync.rows[0] as Record<string, unknown>)['synchronous_standby_names']), /^ANY 1 \(/, 'synchronous_standby_names is set on the primary');
  const etcdPid = Number(/etcd up on http:\/\/127\.0\.0\.1:\d+ \(pid (\d+)\)/.exec(stderr)?.[1]);
  t.ok(etcdPid > 0 && pidAlive(etcdPid), `etcd runs (pid ${etcdPid})`);
  const postmasters = ['shard0-primary', 'shard0-replica1']
    .map((n) => join(dir, n, 'postmaster.pid'))
    .filter((f) => existsSync(f))
    .map((f) => Number(readFileSync(f, 'utf8').split('\n')[0]));
  t.equal(postmasters.length, 2, 'two postmasters are running');
  child.kill('SIGTERM');
  t.equal(await exited, 0, 'the demo exits 0 on SIGTERM');
  t.notOk(pidAlive(etcdPid), `etcd ${etcdPid} is gone`);
  for (const pid of postmasters) t.notOk(pidAlive(pid), `postmaster ${pid} is gone`);
});

void t.test('check-config and start name every bad key and refuse to run', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'pgshard-cli-config-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const bad = join(dir, 'bad.yaml');
  writeFileSync(bad, [
    'listen: { port: 70000 }',
    'users:',
    '  - name: app',
    '    auth: md5',
    '    password: very-secret-value',
    'databases:',
    '  - name: pgshard',
    '    shards: []',
    'pool: { sizeMx: 3 }',
  ].join('\n'));
  const check = await run(process.execPath, [...cli, 'check-config', bad]).then(
    () => null,
    (e: { code: number; stdout: string }) => e,
  );
  t.ok(check !== null, 'check-config exits non-zero');
  t.equal(check?.code, 1);
  t.match(check?.stdout ?? '', /listen\.port: /);
  t.match(check?.stdout ?? '', /databases\[0\]\.name: /);
  t.match(check?.stdout ?? '', /databases\[0\]\.shards: /);
  t.match(check?.stdout ?? '', /pool\.sizeMx: unknown key \(did you mean "sizeMax"\?\)/);
  t.notMatch(check?.stdout ?? '', /very-secret-value/, 'no password in the report');
  const start = await run(process.execPath, [...cli, 'start', '--config', bad]).then(
    () => null,
    (e: { code: number; stderr: string }) => e,
  );
  t.equal(start?.code, 1, 'start refuses an invalid config');
  t.match(start?.stderr ?? '', /invalid configuration:[\s\S]*pool\.sizeMx/);
  const good = join(dir, 'good.yaml');
  writeFileSync(good, 'users: [{ name: app, password: x }]\ndatabases: [{ name: app, shards: [{ primary: { host: 127.0.0.1, port: 5432 } }] }]\n');
  const ok = await run(process.execPath, [...cli, 'check-config', good]);
  t.equal(ok.stdout.trim(), `${good}: ok`);
});

void t.test('start with metrics: prints and serves the endpoint; a metrics port in use stops start, named', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'pgshard-cli-metrics-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  // No PostgreSQL behind it: the proxy starts anyway and reports the node down.
  const config = (metricsPort: number) =>
    [
      'listen: { port: 0 }',
      'users: [{ name: app, password: x }]',
      'databases: [{ name: app, shards: [{ primary: { host: 127.0.0.1, port: 1 } }] }]',
      `metrics: { enabled: true, port: ${metricsPort} }`,
      'log: { level: silent }',
    ].join('\n');
  const first = join(dir, 'first.yaml');
  writeFileSync(first, config(0));
  const child = spawn(process.execPath, [...cli, 'start', '--config', first], { stdio: ['ignore', 'pipe', 'pipe'] });
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  t.teardown(async () => {
    if (child.exitCode === null) {
      child.kill('SIGTERM');
      await exited;
    }
  });
  let stdout = '';
  const url = await new Promise<URL>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no metrics line in 30 s; stdout:\n${stdout}`)), 30_000);
    child.stdout.on('data', (d: Buffer) => {
      stdout += d.toString();
      const m = /^metrics: (http:\/\/\S+)$/m.exec(stdout);
      if (m !== null) {
        clearTimeout(timer);
        resolve(new URL(m[1]!));
      }
    });
  });
  t.match(stdout, /^ready: listening on 127\.0\.0\.1:\d+$/m);
  t.equal(url.hostname, '127.0.0.1');
  t.equal(url.pathname, '/metrics');
  const port = Number(url.port);
  const reply = await httpRequest(port, '/metrics');
  t.equal(reply.status, 200);
  t.match(reply.body, /^pgshard_info\{version="[^"]+"\} 1$/m);

  const second = join(dir, 'second.yaml');
  writeFileSync(second, config(port));
  const refused = await run(process.execPath, [...cli, 'start', '--config', second]).then(
    () => null,
    (e: { code: number; stderr: string }) => e,
  );
  t.equal(refused?.code, 1, 'start fails');
  t.match(refused?.stderr ?? '', new RegExp(`metrics\\.port: cannot listen on 127\\.0\\.0\\.1:${port} for the metrics endpoint: the port is already in use`));

  child.kill('SIGTERM');
  t.equal(await exited, 0, 'exits 0 on SIGTERM');
  await t.rejects(httpRequest(port, '/metrics'), { code: 'ECONNREFUSED' }, 'the metrics port is closed');
});
