// The stock PostgreSQL 15 command line tools through pgshard: psql (multi-statement -c, \copy in and
// out, errors with their SQLSTATE and exit codes) and pgbench (initialisation, then select-only with
// prepared statements and the default TPC-B-like script, 8 clients each, with no failed transaction;
// then 24 clients through a pool of 3 server connections, where nearly every transaction waits).
import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { startProxyFixture, startProxyOn, USERS, type FixtureUser } from '../helpers/proxy-fixture.js';
import { libpqEnv, runCommand, type RunResult } from '../helpers/run-command.js';

const fx = await startProxyFixture(t);
const work = mkdtempSync(join(tmpdir(), 'pgshard-psql-'));
t.teardown(() => rmSync(work, { recursive: true, force: true }));

/** The environment libpq needs to reach the proxy as `user`, and nothing of the caller's PG* variables. */
function pgEnv(user: FixtureUser = 'app', db = 'appdb'): NodeJS.ProcessEnv {
  return libpqEnv({ host: fx.host, port: fx.port, user, password: USERS[user].password, database: db });
}

function run(cmd: string, args: string[], opts: { env?: NodeJS.ProcessEnv; timeoutMs?: number; cwd?: string } = {}): Promise<RunResult> {
  return runCommand(cmd, args, { env: opts.env ?? pgEnv(), cwd: opts.cwd ?? work, ...(opts.timeoutMs === undefined ? {} : { timeoutMs: opts.timeoutMs }) });
}

/** An assertion message that carries the tool's stderr only when the exit code is not 0. */
function failureOutput(what: string, r: RunResult): string {
  return r.code === 0 ? what : `${what}; stderr:\n${r.stderr}`;
}

/** psql without psqlrc, unaligned, tuples only, quiet. */
const psql = (args: string[], env?: NodeJS.ProcessEnv): Promise<RunResult> => run('psql', ['-X', '-q', '-A', '-t', ...args], { env });

const sha256 = (s: string | Buffer): string => createHash('sha256').update(s).digest('hex');

void t.test('psql: multi-statement -c and several -c', async (t) => {
  const multi = await psql(['-c', 'select 1; select 2']);
  t.equal(multi.code, 0, failureOutput('exit code 0', multi));
  t.equal(multi.stdout, '1\n2\n', 'psql 15 prints the result of every statement in one -c');
  const several = await psql(['-c', "select 'a' as x", '-c', 'select 40 + 2', '-c', 'select current_user, current_database()']);
  t.equal(several.code, 0, failureOutput('exit code 0', several));
  t.equal(several.stdout, 'a\n42\napp|appdb\n');
  // With the URL form (password in the URL) and the other users.
  const e = encodeURIComponent;
  for (const user of ['md5user', 'trustuser'] as const) {
    const url = `postgresql://${e(user)}:${e(USERS[user].password)}@${fx.host}:${fx.port}/appdb`;
    const env = pgEnv();
    delete env.PGPASSWORD;
    const viaUrl = await run('psql', ['-X', '-q', '-A', '-t', url, '-c', 'select current_user'], { env });
    t.equal(viaUrl.code, 0, failureOutput('exit code 0', viaUrl));
    t.equal(viaUrl.stdout, `${user}\n`, `${user} logs in with a URL`);
  }
  // A script with a transaction and a SET carried across statements (transaction pooling).
  const script = join(work, 'script.sql');
  writeFileSync(
    script,
    [
      "SET application_name = 'from_psql';",
      'CREATE TABLE IF NOT EXISTS psql_t (id int PRIMARY KEY, v text);',
      'BEGIN;',
      "INSERT INTO psql_t VALUES (1, 'one');",
      "INSERT INTO psql_t VALUES (2, 'two');",
      'COMMIT;',
      "SELECT current_setting('application_name');",
      'SELECT count(*) FROM psql_t;',
      '',
    ].join('\n'),
  );
  const scripted = await psql(['-v', 'ON_ERROR_STOP=1', '-f', script]);
  t.equal(scripted.code, 0, failureOutput('exit code 0', scripted));
  t.equal(scripted.stdout, 'from_psql\n2\n');
});

void t.test('psql: errors carry the SQLSTATE and set the exit code', async (t) => {
  const err = await psql(['-v', 'ON_ERROR_STOP=1', '-c', '\\set VERBOSITY verbose', '-c', 'select 1/0']);
  t.equal(err.code, 1, 'exit code 1 for a failed statement with ON_ERROR_STOP');
  t.match(err.stderr, /ERROR:\s+22012: division by zero/, 'the SQLSTATE is shown with VERBOSITY verbose');
  const syntax = await psql(['-v', 'ON_ERROR_STOP=1', '-c', '\\set VERBOSITY verbose', '-c', 'selec 1']);
  t.equal(syntax.code, 1);
  t.match(syntax.stderr, /ERROR:\s+42601: syntax error at or near "selec"/);
  const missing = await psql(['-v', 'ON_ERROR_STOP=1', '-c', '\\set VERBOSITY verbose', '-c', 'select * from no_such_table']);
  t.equal(missing.code, 1);
  t.match(missing.stderr, /ERROR:\s+42P01: relation "no_such_table" does not exist/);
  // Without ON_ERROR_STOP psql goes on: the statements before and after the error still run.
  const goesOn = await psql(['-c', 'select 1', '-c', 'select 1/0', '-c', 'select 3']);
  t.equal(goesOn.stdout, '1\n3\n', 'statements around the error ran');
  t.match(goesOn.stderr, /division by zero/);
  // Errors at login: exit code 2.
  const badDb = await psql(['-c', 'select 1'], pgEnv('app', 'no_such_db'));
  t.equal(badDb.code, 2, 'exit code 2 when the connection fails');
  t.match(badDb.stderr, /database "no_such_db" does not exist/);
  const badPw = await psql(['-c', 'select 1'], { ...pgEnv('app'), PGPASSWORD: 'wrong' });
  t.equal(badPw.code, 2);
  t.match(badPw.stderr, /password authentication failed for user "app"/);
  // An admin-console error has its SQLSTATE too.
  const admin = await psql(['-c', '\\set VERBOSITY verbose', '-c', 'SHOW NOTHING_HERE'], pgEnv('admin', 'pgshard'));
  t.match(admin.stderr, /ERROR:\s+42601: unrecognized SHOW target/);
  const pools = await psql(['-c', 'SHOW POOLS'], pgEnv('admin', 'pgshard'));
  t.equal(pools.code, 0, failureOutput('exit code 0', pools));
  t.match(pools.stdout, /appdb\/shard0\/127\.0\.0\.1:\d+\|appdb\|app\|/, 'SHOW POOLS lists the pool psql used (named database/shard/node)');
});

void t.test('psql: \\copy in and out', async (t) => {
  const input = join(work, 'in.tsv');
  const output = join(work, 'out.tsv');
  const rows: string[] = [];
  for (let i = 1; i <= 5000; i++) rows.push(`${i}\tline ${i} ${'é✓'.repeat(i % 7)}\t${i % 3 === 0 ? '\\N' : String(i * 1.5)}`);
  const text = `${rows.join('\n')}\n`;
  writeFileSync(input, text);
  const load = await psql([
    '-v', 'ON_ERROR_STOP=1',
    '-c', 'CREATE TABLE copy_psql (id int PRIMARY KEY, label text, x numeric)',
    '-c', `\\copy copy_psql from '${input}'`,
    '-c', 'select count(*), count(x), sum(id) from copy_psql',
  ]);
  t.equal(load.code, 0, failureOutput('exit code 0', load));
  t.equal(load.stdout, `5000|${5000 - Math.floor(5000 / 3)}|${(5000 * 5001) / 2}\n`, '\\copy from loaded every row');
  const dump = await psql(['-v', 'ON_ERROR_STOP=1', '-c', `\\copy (select id, label, x from copy_psql order by id) to '${output}'`]);
  t.equal(dump.code, 0, failureOutput('exit code 0', dump));
  const back = readFileSync(output, 'utf8');
  t.equal(back.split('\n').length, 5001);
  t.equal(sha256(back), sha256(text), '\\copy to wrote back exactly the file that was loaded');
  // A \copy with bad data fails with the SQLSTATE, loads nothing, and the session goes on.
  writeFileSync(join(work, 'bad.tsv'), '9001\tok\t1\nnot-a-number\tbad\t2\n');
  const bad = await psql([
    '-c', '\\set VERBOSITY verbose',
    '-c', `\\copy copy_psql from '${join(work, 'bad.tsv')}'`,
    '-c', 'select count(*) from copy_psql',
  ]);
  t.match(bad.stderr, /ERROR:\s+22P02: invalid input syntax for type integer/);
  t.equal(bad.stdout, '5000\n', 'the failed \\copy loaded nothing and psql went on');
});

/** The numbers pgbench 15 prints at the end of a run. */
function pgbenchSummary(out: string): { processed: number; failed: number; tps: number } {
  const processed = /number of transactions actually processed: (\d+)/.exec(out);
  const failed = /number of failed transactions: (\d+)/.exec(out);
  const tps = /tps = ([\d.]+) \(without initial connection time\)/.exec(out);
  if (processed === null || failed === null || tps === null) throw new Error(`unexpected pgbench output:\n${out}`);
  return { processed: Number(processed[1]), failed: Number(failed[1]), tps: Number(tps[1]) };
}

void t.test('pgbench: init, select-only prepared, TPC-B-like', async (t) => {
  const init = await run('pgbench', ['-i', '-s', '1', '-q'], { timeoutMs: 120_000 });
  t.equal(init.code, 0, failureOutput('pgbench -i exits 0', init));
  t.match(init.stderr, /done in [\d.]+ s/, 'initialisation finished');
  const counted = await psql(['-c', 'select count(*) from pgbench_accounts', '-c', 'select count(*) from pgbench_branches']);
  t.equal(counted.stdout, '100000\n1\n', 'scale 1: 100000 accounts, 1 branch');

  const selectOnly = await run('pgbench', ['-S', '-M', 'prepared', '-T', '10', '-c', '8', '-j', '2', '-n'], { timeoutMs: 60_000 });
  t.equal(selectOnly.code, 0, failureOutput('pgbench -S -M prepared exits 0', selectOnly));
  const s = pgbenchSummary(selectOnly.stdout);
  t.equal(s.failed, 0, 'no failed transaction (select-only, prepared)');
  t.ok(s.processed > 0 && s.tps > 0, `select-only prepared: ${s.processed} transactions, ${s.tps} tps`);
  t.notMatch(selectOnly.stderr, /error|abort/i, 'no client aborted');

  const tpcb = await run('pgbench', ['-T', '10', '-c', '8', '-j', '2', '-n'], { timeoutMs: 60_000 });
  t.equal(tpcb.code, 0, failureOutput('pgbench (tpcb-like) exits 0', tpcb));
  const b = pgbenchSummary(tpcb.stdout);
  t.equal(b.failed, 0, 'no failed transaction (tpcb-like)');
  t.ok(b.processed > 0 && b.tps > 0, `tpcb-like: ${b.processed} transactions, ${b.tps} tps`);
  t.notMatch(tpcb.stderr, /error|abort/i, 'no client aborted');
  // Every TPC-B transaction inserted one history row and moved the balances consistently.
  const check = await psql([
    '-c', 'select count(*) from pgbench_history',
    '-c', 'select (select sum(abalance) from pgbench_accounts) = (select sum(bbalance) from pgbench_branches)',
  ]);
  t.equal(check.stdout, `${b.processed}\nt\n`, 'one history row per transaction; account and branch balances agree');
});

void t.test('pgbench: 24 clients through 3 server connections (every transaction queues for one)', async (t) => {
  // After the test above: the pgbench tables exist. A second proxy on the same cluster with a tiny pool
  // makes clients wait for connections that other clients' answers hand over.
  const small = await startProxyOn(t, fx.cluster, { pool: { sizeMax: 3, acquireTimeoutMs: 20_000 } });
  const env = libpqEnv({ host: small.host, port: small.port, user: 'app', password: USERS.app.password, database: 'appdb' });
  const before = await psql(['-c', 'select count(*) from pgbench_history']);
  let processed = 0;
  // TPC-B-like with -M prepared is left out: pgbench 15 prepares each statement with a blocking
  // PQprepare on first use, so a pgbench thread waiting for one client's Parse stops serving its
  // other clients, who may hold every pooled connection inside their transactions. Through any
  // transaction pooler with fewer connections than clients that deadlocks until the acquire timeout.
  // Select-only -M prepared (one round trip per transaction) runs instead.
  for (const [script, mode] of [['tpcb-like', 'extended'], ['tpcb-like', 'simple'], ['select-only', 'prepared']] as const) {
    const args = [...(script === 'select-only' ? ['-S'] : []), '-M', mode, '-T', '4', '-c', '24', '-j', '2', '-n'];
    const r = await run('pgbench', args, { env, timeoutMs: 60_000 });
    t.equal(r.code, 0, failureOutput(`pgbench ${script} -M ${mode} -c 24 exits 0`, r));
    const b = pgbenchSummary(r.stdout);
    t.equal(b.failed, 0, `${script} -M ${mode}: no failed transaction (${b.processed} processed)`);
    t.notMatch(r.stderr, /error|abort/i, `${script} -M ${mode}: no client aborted`);
    t.ok(b.processed > 0, `${script} -M ${mode}: transactions went through`);
    if (script === 'tpcb-like') processed += b.processed;
  }
  const check = await psql([
    '-c', 'select count(*) from pgbench_history',
    '-c', 'select (select sum(abalance) from pgbench_accounts) = (select sum(bbalance) from pgbench_branches) and (select sum(tbalance) from pgbench_tellers) = (select sum(bbalance) from pgbench_branches)',
  ]);
  const [history, consistent] = check.stdout.trim().split('\n');
  t.equal(Number(history), Number(before.stdout.trim()) + processed, 'one history row per transaction');
  t.equal(consistent, 't', 'account, teller and branch balances agree');
});
