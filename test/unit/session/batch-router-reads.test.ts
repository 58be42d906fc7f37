// Which batches a replica may serve: the `read` flag routeBatch puts on its routes. Only statements
// that read data qualify; session utilities, writes, locking reads, transaction control and calls of
// writing functions keep the batch on the primary (docs/replicas.md).

import t from 'tap';
import { initSqlParser } from '../../../planner/sql-parser.js';
import { Planner } from '../../../planner/planner.js';
import { makeRules } from '../planner/routing-fixtures.js';
import { routeBatch, type BatchRoute } from '../../../proxy/session/batch-router.js';
import { buildBind, buildExecute, buildParse, buildQuery } from '../../../proxy/protocol/rewrite.js';
import { T_BIND, T_EXECUTE, T_PARSE, T_QUERY, T_SYNC } from '../../../proxy/protocol/frontend-types.js';

await initSqlParser();
const planner = new Planner(makeRules(), { cacheEntriesMax: 100 });
const SYNC = Buffer.from([T_SYNC, 0, 0, 0, 4]);
const noStatements = { statement: () => undefined };

function route(frames: { type: number; buf: Buffer }[]): BatchRoute {
  return routeBatch(
    planner,
    { shard: null },
    noStatements,
    null,
    frames.map((f) => f.type),
    frames.map((f) => f.buf),
    frames.map(() => 0),
    frames.map((f) => f.buf.length),
    0,
    frames.length,
  );
}

const simple = (sql: string): BatchRoute => route([{ type: T_QUERY, buf: buildQuery(sql) }]);

function extended(sql: string, params: string[]): BatchRoute {
  return route([
    { type: T_PARSE, buf: buildParse('', sql, []) },
    { type: T_BIND, buf: buildBind('', '', [0], params.map((p) => Buffer.from(p)), []) },
    { type: T_EXECUTE, buf: buildExecute('', 0) },
    { type: T_SYNC, buf: SYNC },
  ]);
}

void t.test('reads of data may go to a replica', async (t) => {
  t.match(simple('SELECT * FROM users WHERE id = 7'), { kind: 'shard', read: true });
  t.match(extended('SELECT * FROM users WHERE id = $1', ['7']), { kind: 'shard', read: true }, 'over the extended protocol');
  t.match(simple('SELECT count(*) FROM users'), { kind: 'distributed', read: true }, 'a scatter read');
  t.match(simple('SELECT 1'), { kind: 'shard', shard: null, read: true }, 'no table');
  t.match(simple('SELECT relname FROM pg_class'), { kind: 'shard', read: true }, 'catalog');
});

void t.test('everything else stays on the primary', async (t) => {
  for (const sql of [
    "INSERT INTO users (id, name) VALUES (1, 'a')",
    'UPDATE users SET name = null WHERE id = 1',
    'SELECT * FROM users WHERE id = 1 FOR UPDATE',
    "SELECT nextval('s')",
    'SET work_mem = 65536',
    'SHOW work_mem',
    'LISTEN chan',
    'BEGIN; SELECT 1',
    'SELECT 1; INSERT INTO users (id) VALUES (1)',
    'CREATE TABLE x (a int)',
  ]) {
    t.match(simple(sql), { read: false }, sql);
  }
  t.match(simple('BEGIN READ ONLY'), { kind: 'begin', text: 'BEGIN READ ONLY' }, 'a lone BEGIN is answered by the proxy (its text decides later)');
  t.match(extended('UPDATE users SET name = $2 WHERE id = $1', ['1', 'x']), { read: false }, 'a write over the extended protocol');
  t.match(route([{ type: T_BIND, buf: buildBind('', 'unknown', [], [], []) }, { type: T_SYNC, buf: SYNC }]), { read: false }, 'an unknown statement');
});

void t.test('a consistency hint travels with the batch; a bad one is refused', async (t) => {
  t.match(simple('SELECT * FROM users WHERE id = 7 /* pgshard: consistency=strong */'), { kind: 'shard', read: true, consistency: 'strong' });
  t.match(simple("/* pgshard: consistency='async' */ SELECT 1"), { kind: 'shard', shard: null, read: true, consistency: 'async' });
  t.match(simple('/* pgshard: shard=1 */ /* pgshard: consistency=sync */ SELECT 1'), { kind: 'shard', shard: 1, consistency: 'sync' }, 'with a shard hint');
  t.notOk('consistency' in simple('SELECT 1'), 'no hint: the session decides');
  const bad = planner.plan('SELECT 1 /* pgshard: consistency=eventual */', null, { shard: null })[0]!;
  t.match(bad.plan, { kind: 'unsupported', message: /malformed pgshard consistency hint/ });
  t.notOk('consistency' in simple("SELECT '/* pgshard: consistency=strong */'"), 'inside a string literal it is not a hint');
});
