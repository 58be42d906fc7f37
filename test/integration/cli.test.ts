// The `pgshard` command as a user runs it: `demo` starts real Postgres shards with replicas plus the
// proxy, prints a working `ready:` URL, and leaves nothing running after SIGINT; `check-config` and
// `start` name every bad key of an invalid config and refuse to start.
import t from 'tap';
import { spawn, execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { mkdtempSync, readFileSync, rmSync, writeFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { pidAlive } from '../../proxy/demo/postgres-node.js';

const run = promisify(execFile);
const cli = ['--import', 'tsx', new URL('../../proxy/cli.ts', import.meta.url).pathname];

void t.test('demo: ready line, working connection, admin console, clean stop on SIGINT', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'pgshard-cli-demo-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const child = spawn(process.execPath, [...cli, 'demo', '--shards', '2', '--replicas', '1', '--port', '0', '--dir', dir], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  t.teardown(async () => {
    if (child.exitCode === null) {
      child.kill('SIGINT');
      await exited;
    }
  });
  const ready = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no ready line in 90 s; stderr:\n${stderr}`)), 90_000);
    child.stdout.on('data', (d: Buffer) => {
      stdout += d.toString();
      const m = /^ready: (postgres:\/\/\S+)$/m.exec(stdout);
      if (m !== null) {
        clearTimeout(timer);
        resolve(m[1]!);
      }
    });
    child.on('exit', () => reject(new Error(`demo exited early; stderr:\n${stderr}`)));
  });
  t.match(ready, /^postgres:\/\/app:[0-9a-f]+@127\.0\.0\.1:\d+\/app$/);
  const client = new pg.Client({ connectionString: ready });
  await client.connect();
  const r = await client.query('select current_database() as db, current_user as u, pg_is_in_recovery() as r');
  t.strictSame(r.rows, [{ db: 'app', u: 'app', r: true }], 'a replica of the demo answers a read (sync consistency, nothing written yet)');
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
  const pids = [...stderr.matchAll(/on 127\.0\.0\.1:(\d+)/g)].length;
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
