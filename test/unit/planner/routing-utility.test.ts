import t, { type Test } from 'tap';
import { initSqlParser } from '../../../planner/sql-parser.js';
import { Planner } from '../../../planner/planner.js';
import type { Plan, SessionRouting } from '../../../planner/plan.js';
import { findHint, comments } from '../../../planner/routing/hints.js';
import { makeRules, NO_SESSION, shardOf, SHARDS, textParams } from './routing-fixtures.js';

await initSqlParser();
const rules = makeRules();
const planner = new Planner(rules, { cacheEntriesMax: 1000 });
const plan = (sql: string, session: SessionRouting = NO_SESSION): Plan => planner.plan(sql, textParams(5), session)[0]?.plan ?? { kind: 'unsupported', message: 'none', hint: '' };
const ALL = Array.from({ length: SHARDS }, (_, i) => i);
const ddl = (transactional = true): Plan => ({ kind: 'broadcast', reason: 'ddl', transactional, learned: [] });
const maintenance = (transactional: boolean): Plan => ({ kind: 'broadcast', reason: 'maintenance', transactional, learned: [] });
const rejected = (t: Test, p: Plan, re: RegExp): void => {
  t.equal(p.kind, 'unsupported');
  if (p.kind === 'unsupported') t.match(p.message, re);
};

void t.test('COPY FROM STDIN: options with PostgreSQL defaults', async (t) => {
  const users = rules.tables.get('users');
  t.strictSame(plan('COPY users FROM STDIN'), { kind: 'copy-in', table: users, columns: null, format: 'text', delimiter: '\t', quote: '"', escape: '\\', header: false, nullString: '\\N' });
  t.strictSame(plan('COPY users (id, name) FROM STDIN WITH (FORMAT csv, HEADER true)'), {
    kind: 'copy-in', table: users, columns: ['id', 'name'], format: 'csv', delimiter: ',', quote: '"', escape: '"', header: true, nullString: '',
  });
  t.strictSame(plan('COPY users FROM STDIN WITH CSV HEADER'), { kind: 'copy-in', table: users, columns: null, format: 'csv', delimiter: ',', quote: '"', escape: '"', header: true, nullString: '' }, 'old syntax');
  t.strictSame(plan("COPY users FROM STDIN WITH (FORMAT csv, DELIMITER ';', QUOTE '''', ESCAPE '\\', NULL 'NULL', FREEZE, HEADER match)"), {
    kind: 'copy-in', table: users, columns: null, format: 'csv', delimiter: ';', quote: "'", escape: '\\', header: true, nullString: 'NULL',
  });
  t.strictSame(plan("COPY users FROM STDIN (DELIMITER '|', NULL '')"), { kind: 'copy-in', table: users, columns: null, format: 'text', delimiter: '|', quote: '"', escape: '\\', header: false, nullString: '' });
  t.strictSame(plan("COPY countries FROM STDIN (FORMAT csv, QUOTE '!')"), { kind: 'copy-in', table: rules.tables.get('countries'), columns: null, format: 'csv', delimiter: ',', quote: '!', escape: '!', header: false, nullString: '' }, 'escape defaults to quote');
  rejected(t, plan('COPY users (name) FROM STDIN'), /must include its shard key column "id"/);
  rejected(t, plan('COPY users FROM STDIN (FORMAT binary)'), /binary/);
  rejected(t, plan("COPY users FROM '/tmp/users.csv'"), /server file/);
  rejected(t, plan("COPY users FROM PROGRAM 'cat x'"), /server file or program/);
  rejected(t, plan('COPY pending FROM STDIN'), /not known yet/);
  t.strictSame(plan('COPY widgets FROM STDIN'), { kind: 'single', shard: 0, access: 'write' }, 'unlisted: shard 0');
  t.strictSame(plan("COPY widgets FROM '/tmp/w'"), { kind: 'single', shard: 0, access: 'write' });
});

void t.test('COPY TO STDOUT', async (t) => {
  t.strictSame(plan('COPY users TO STDOUT'), { kind: 'copy-out', shards: ALL });
  t.strictSame(plan('COPY users (id) TO STDOUT WITH (FORMAT csv)'), { kind: 'copy-out', shards: ALL });
  t.strictSame(plan('COPY (SELECT id, email FROM users WHERE created > now()) TO STDOUT'), { kind: 'copy-out', shards: ALL });
  t.strictSame(plan('COPY (SELECT * FROM users WHERE id = 1) TO STDOUT'), { kind: 'single', shard: shardOf('int8', 1), access: 'read' });
  t.strictSame(plan('COPY (SELECT * FROM users WHERE id IN (1, 2)) TO STDOUT'), { kind: 'copy-out', shards: [...new Set([shardOf('int8', 1), shardOf('int8', 2)])].sort() });
  rejected(t, plan('COPY (SELECT * FROM users ORDER BY id) TO STDOUT'), /cannot sort/);
  rejected(t, plan('COPY (SELECT count(*) FROM users) TO STDOUT'), /aggregate/);
  rejected(t, plan('COPY (SELECT * FROM users LIMIT 3) TO STDOUT'), /limit/);
  rejected(t, plan('COPY users TO STDOUT (FORMAT binary)'), /binary/);
  rejected(t, plan("COPY users TO '/tmp/out'"), /server file/);
  t.strictSame(plan('COPY countries TO STDOUT'), { kind: 'any', access: 'read', reason: 'reference-read' });
  t.strictSame(plan('COPY widgets TO STDOUT'), { kind: 'single', shard: 0, access: 'read' });
  t.strictSame(plan('COPY (SELECT 1) TO STDOUT'), { kind: 'any', access: 'read', reason: 'no-table' });
});

void t.test('DDL broadcasts; non-transactional forms are flagged', async (t) => {
  t.strictSame(plan('CREATE TABLE widgets (id int)'), ddl());
  t.strictSame(plan('ALTER TABLE users ADD COLUMN x int'), ddl());
  t.strictSame(plan('DROP TABLE users'), ddl());
  t.strictSame(plan('CREATE INDEX i ON users (name)'), ddl());
  t.strictSame(plan('CREATE INDEX CONCURRENTLY i ON users (name)'), ddl(false));
  t.strictSame(plan('DROP INDEX CONCURRENTLY i'), ddl(false));
  t.strictSame(plan('TRUNCATE users, orders'), ddl());
  for (const sql of [
    'CREATE VIEW v AS SELECT 1', 'CREATE SEQUENCE s', 'CREATE FUNCTION f() RETURNS int LANGUAGE sql AS $$ SELECT 1 $$', "CREATE TYPE mood AS ENUM ('a')",
    'CREATE SCHEMA s', 'CREATE EXTENSION IF NOT EXISTS pgcrypto', "COMMENT ON TABLE users IS 'x'", 'GRANT SELECT ON users TO bob', 'REVOKE ALL ON users FROM bob',
    'ALTER SEQUENCE s RESTART', 'DROP SCHEMA s CASCADE', 'CREATE ROLE bob', 'ALTER TABLE users RENAME TO people',
  ]) {
    t.strictSame(plan(sql), ddl(), sql);
  }
  for (const sql of ['CREATE DATABASE d', 'DROP DATABASE d', "ALTER SYSTEM SET work_mem = '1MB'", "CREATE TABLESPACE ts LOCATION '/x'"]) {
    t.strictSame(plan(sql), ddl(false), sql);
  }
  t.strictSame(plan('DO $$ BEGIN PERFORM 1; END $$'), ddl(), 'DO blocks run on every shard');
  t.strictSame(plan('LOCK TABLE users IN SHARE MODE'), ddl(), 'LOCK of a sharded table: every shard');
  t.strictSame(plan('LOCK TABLE widgets'), { kind: 'single', shard: 0, access: 'write' });
  t.strictSame(plan('CREATE MATERIALIZED VIEW mv AS SELECT count(*) FROM users WITH NO DATA'), ddl());
  rejected(t, plan('CREATE TABLE copy AS SELECT * FROM users'), /different data on each shard/);
  rejected(t, plan('SELECT * INTO copy FROM users'), /different data on each shard/);
  t.strictSame(plan('CREATE TABLE t2 AS SELECT * FROM countries'), ddl());
});

void t.test('maintenance', async (t) => {
  t.strictSame(plan('VACUUM users'), maintenance(false));
  t.strictSame(plan('VACUUM (VERBOSE, ANALYZE) orders'), maintenance(false));
  t.strictSame(plan('ANALYZE users'), maintenance(true));
  t.strictSame(plan('CLUSTER users USING users_pkey'), maintenance(true));
  t.strictSame(plan('CLUSTER'), maintenance(false));
  t.strictSame(plan('REINDEX TABLE users'), maintenance(true));
  t.strictSame(plan('REINDEX TABLE CONCURRENTLY users'), maintenance(false));
  t.strictSame(plan('REINDEX DATABASE d'), maintenance(false));
  t.strictSame(plan('REFRESH MATERIALIZED VIEW CONCURRENTLY mv'), maintenance(true));
  t.strictSame(plan('CHECKPOINT'), maintenance(true));
});

void t.test('CREATE TABLE learns an unknown key type, checks the key column', async (t) => {
  const learned = (keyType: string): Plan => ({ kind: 'broadcast', reason: 'ddl', transactional: true, learned: [{ table: 'pending', keyType: keyType as 'int8' }] });
  t.strictSame(plan('CREATE TABLE pending (id bigint PRIMARY KEY, v text)'), learned('int8'));
  t.strictSame(plan('CREATE TABLE pending (id serial)'), learned('int4'));
  t.strictSame(plan('CREATE TABLE pending (id bigserial)'), learned('int8'));
  t.strictSame(plan('CREATE TABLE pending (id integer)'), learned('int4'));
  t.strictSame(plan('CREATE TABLE pending (id smallint)'), learned('int2'));
  t.strictSame(plan('CREATE TABLE IF NOT EXISTS pending (id character varying(40))'), learned('varchar'));
  t.strictSame(plan('CREATE TABLE pending (id text)'), learned('text'));
  t.strictSame(plan('CREATE TABLE pending (id uuid DEFAULT gen_random_uuid())'), learned('uuid'));
  rejected(t, plan('CREATE TABLE pending (x int)'), /has no column "id"/);
  rejected(t, plan('CREATE TABLE pending (id numeric)'), /cannot shard by/);
  rejected(t, plan('CREATE TABLE pending (id int[])'), /cannot shard by/);
  t.strictSame(plan('CREATE TABLE users (id bigint, name text)'), ddl(), 'declared type: nothing to learn');
  t.strictSame(plan('CREATE TABLE users (id int)'), ddl(), 'int4 vs int8 hash alike');
  rejected(t, plan('CREATE TABLE users (id text)'), /declared int8/);
  t.strictSame(plan('CREATE TABLE pending (LIKE other INCLUDING ALL)'), ddl(), 'LIKE: columns not visible here');
});

void t.test('transaction control', async (t) => {
  const tx = (action: unknown): unknown => ({ kind: 'transaction', action });
  t.strictSame(plan('BEGIN'), tx({ kind: 'begin' }));
  t.strictSame(plan('BEGIN ISOLATION LEVEL SERIALIZABLE'), tx({ kind: 'begin' }));
  t.strictSame(plan('START TRANSACTION READ ONLY'), tx({ kind: 'begin' }));
  t.strictSame(plan('COMMIT'), tx({ kind: 'commit' }));
  t.strictSame(plan('END'), tx({ kind: 'commit' }));
  t.strictSame(plan('ROLLBACK'), tx({ kind: 'rollback' }));
  t.strictSame(plan('ABORT'), tx({ kind: 'rollback' }));
  t.strictSame(plan('SAVEPOINT "s1"'), tx({ kind: 'savepoint', name: 's1' }));
  t.strictSame(plan('RELEASE SAVEPOINT s1'), tx({ kind: 'release', name: 's1' }));
  t.strictSame(plan('ROLLBACK TO SAVEPOINT sp1'), tx({ kind: 'rollback-to', name: 'sp1' }));
  t.strictSame(plan("PREPARE TRANSACTION 'g1'"), tx({ kind: 'two-phase', command: 'prepare', gid: 'g1' }));
  t.strictSame(plan("COMMIT PREPARED 'g1'"), tx({ kind: 'two-phase', command: 'commit-prepared', gid: 'g1' }));
  t.strictSame(plan("ROLLBACK PREPARED 'g1'"), tx({ kind: 'two-phase', command: 'rollback-prepared', gid: 'g1' }));
  rejected(t, plan('COMMIT AND CHAIN'), /AND CHAIN/);
});

void t.test('SET / RESET / SHOW and other utility statements', async (t) => {
  t.strictSame(plan('SET pgshard.shard = 2'), { kind: 'pgshard-setting', command: 'set', name: 'pgshard.shard', value: '2' });
  t.strictSame(plan("SET pgshard.consistency TO 'strong'"), { kind: 'pgshard-setting', command: 'set', name: 'pgshard.consistency', value: 'strong' });
  t.strictSame(plan('SET pgshard.shard TO DEFAULT'), { kind: 'pgshard-setting', command: 'reset', name: 'pgshard.shard', value: null });
  t.strictSame(plan('RESET pgshard.shard'), { kind: 'pgshard-setting', command: 'reset', name: 'pgshard.shard', value: null });
  t.strictSame(plan('SHOW pgshard.shard'), { kind: 'pgshard-setting', command: 'show', name: 'pgshard.shard', value: null });
  rejected(t, plan('SET LOCAL pgshard.shard = 1'), /SET LOCAL/);
  const utility = { kind: 'any', access: 'read', reason: 'utility' };
  for (const sql of ["SET TIME ZONE 'UTC'", 'SET search_path TO a, b', 'RESET ALL', 'SHOW transaction_isolation', 'SHOW ALL', 'DISCARD ALL', 'DEALLOCATE ALL', 'LISTEN c', 'UNLISTEN *', 'SET CONSTRAINTS ALL IMMEDIATE', 'SET LOCAL app.tenant = 1']) {
    t.strictSame(plan(sql), utility, sql);
  }
  t.strictSame(plan("NOTIFY c, 'x'"), { kind: 'any', access: 'write', reason: 'utility' });
  t.strictSame(plan('SELECT 1'), { kind: 'any', access: 'read', reason: 'no-table' });
  t.strictSame(plan('VALUES (1, 2)'), { kind: 'any', access: 'read', reason: 'no-table' });
  t.strictSame(plan('SELECT now()'), { kind: 'any', access: 'read', reason: 'catalog' }, 'functions only: catalog');
  t.strictSame(plan("SELECT nextval('s')"), { kind: 'any', access: 'write', reason: 'catalog' }, 'functions with effects go to a primary');
  t.strictSame(plan('SELECT * FROM current_schema()'), { kind: 'any', access: 'read', reason: 'catalog' });
  t.strictSame(plan('SELECT * FROM information_schema.tables'), { kind: 'any', access: 'read', reason: 'catalog' });
  t.strictSame(plan('SELECT * FROM pg_class'), { kind: 'any', access: 'read', reason: 'catalog' });
  t.strictSame(plan('EXPLAIN SELECT * FROM users WHERE id = 3'), { kind: 'single', shard: shardOf('int8', 3), access: 'read' });
  t.strictSame(plan('EXPLAIN SELECT * FROM users'), { kind: 'single', shard: 0, access: 'read' }, 'EXPLAIN of a scatter: the first shard');
  t.strictSame(plan('EXPLAIN ANALYZE SELECT * FROM users'), { kind: 'single', shard: 0, access: 'read' });
  rejected(t, plan('EXPLAIN ANALYZE DELETE FROM users'), /EXPLAIN ANALYZE/);
  t.strictSame(plan('EXPLAIN DELETE FROM users'), { kind: 'single', shard: 0, access: 'write' });
  rejected(t, plan('PREPARE q (bigint) AS SELECT * FROM users WHERE id = $1'), /PREPARE/);
  t.strictSame(plan('PREPARE q AS SELECT 1'), { kind: 'any', access: 'write', reason: 'utility' });
  t.strictSame(plan('DECLARE c CURSOR FOR SELECT * FROM users WHERE id = 3'), { kind: 'single', shard: shardOf('int8', 3), access: 'read' });
  rejected(t, plan('DECLARE c CURSOR FOR SELECT * FROM users'), /cursor/);
  t.strictSame(plan('CALL p(1)'), { kind: 'single', shard: 0, access: 'write' });
});

void t.test('statements the parser rejects reach Postgres for its own error', async (t) => {
  t.strictSame(planner.plan('selec 1', null, NO_SESSION), [{ text: 'selec 1', plan: { kind: 'any', access: 'write', reason: 'utility' } }]);
  t.strictSame(planner.plan('', null, NO_SESSION), [], 'empty');
  t.strictSame(planner.plan('  -- only a comment\n', null, NO_SESSION), [], 'comment only');
  t.strictSame(planner.plan('selec 1 /* pgshard: shard=2 */', null, NO_SESSION)[0]?.plan, { kind: 'single', shard: 2, access: 'write' }, 'hints still apply');
});

void t.test('multi-statement strings plan each statement', async (t) => {
  const plans = planner.plan("BEGIN; UPDATE users SET a = 1 WHERE id = 7; SELECT ';'; COMMIT", null, NO_SESSION);
  t.strictSame(plans.map((p) => p.text), ['BEGIN', 'UPDATE users SET a = 1 WHERE id = 7', "SELECT ';'", 'COMMIT']);
  t.strictSame(plans.map((p) => p.plan.kind), ['transaction', 'single', 'any', 'transaction']);
});

void t.test('hints', async (t) => {
  t.strictSame(plan('SELECT * FROM users /* pgshard: shard=3 */'), { kind: 'single', shard: 3, access: 'read' });
  t.strictSame(plan('/*pgshard:shard=1*/ UPDATE users SET a = 1'), { kind: 'single', shard: 1, access: 'write' });
  t.strictSame(plan('-- pgshard: shard=2\nDELETE FROM users'), { kind: 'single', shard: 2, access: 'write' });
  t.strictSame(plan('SELECT * FROM users /* pgshard: key=42 */'), { kind: 'single', shard: shardOf('int8', 42), access: 'read' });
  t.strictSame(plan("SELECT * FROM accounts /* pgshard: key='a b' */"), { kind: 'single', shard: shardOf('text', 'a b'), access: 'read' });
  t.strictSame(plan('SELECT * FROM users u JOIN orders o ON o.customer_id = u.id /* pgshard: key=9 */'), { kind: 'single', shard: shardOf('int8', 9), access: 'read' }, 'co-located tables: one key');
  rejected(t, plan('SELECT * FROM users, accounts /* pgshard: key=9 */'), /ambiguous/);
  rejected(t, plan('SELECT 1 /* pgshard: key=9 */'), /without a sharded table/);
  rejected(t, plan('SELECT * FROM users /* pgshard: key=abc */'), /not a valid int8/);
  rejected(t, plan('SELECT * FROM users /* pgshard: shard=9 */'), /shard 9/);
  rejected(t, plan('SELECT * FROM users /* pgshard: shard=x */'), /malformed/);
  t.strictSame(plan("SELECT '/* pgshard: shard=1 */' FROM users WHERE id = 3"), { kind: 'single', shard: shardOf('int8', 3), access: 'read' }, 'inside a string: not a hint');
  t.strictSame(plan('SELECT $x$ /* pgshard: shard=1 */ $x$ FROM users WHERE id = 3'), { kind: 'single', shard: shardOf('int8', 3), access: 'read' }, 'inside dollar quotes');
  t.strictSame(plan('BEGIN /* pgshard: shard=1 */'), { kind: 'transaction', action: { kind: 'begin' } }, 'transaction control is never redirected');
  t.strictSame(plan('CREATE TABLE x (a int) /* pgshard: shard=1 */'), { kind: 'single', shard: 1, access: 'write' });
  t.strictSame(comments("a /* x /* nested */ y */ b -- tail"), [' x /* nested */ y ', ' tail']);
  t.strictSame(findHint('SELECT 1'), null);
  t.strictSame(findHint("SELECT E'\\' /* pgshard: shard=1 */'"), null, 'escaped quote inside E string');
});

void t.test('SET pgshard.shard forces one shard except for transaction control and settings', async (t) => {
  const pinned: SessionRouting = { shard: 2 };
  t.strictSame(plan('SELECT * FROM users', pinned), { kind: 'single', shard: 2, access: 'read' });
  t.strictSame(plan('DELETE FROM users', pinned), { kind: 'single', shard: 2, access: 'write' });
  t.strictSame(plan('CREATE TABLE y (a int)', pinned), { kind: 'single', shard: 2, access: 'write' });
  t.strictSame(plan('SELECT 1', pinned), { kind: 'single', shard: 2, access: 'read' });
  t.strictSame(plan('COMMIT', pinned), { kind: 'transaction', action: { kind: 'commit' } });
  t.strictSame(plan('RESET pgshard.shard', pinned), { kind: 'pgshard-setting', command: 'reset', name: 'pgshard.shard', value: null });
  t.strictSame(plan('SELECT * FROM users /* pgshard: shard=1 */', pinned), { kind: 'single', shard: 1, access: 'read' }, 'a statement hint wins');
  rejected(t, plan('SELECT 1', { shard: 7 }), /shard 7/);
});
