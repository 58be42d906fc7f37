import t from 'tap';
import { initSqlParser } from '../../../planner/sql-parser.js';
import { Planner } from '../../../planner/planner.js';
import type { BoundParams, Plan } from '../../../planner/plan.js';
import { int4Binary, int8Binary, keyOnShard, makeRules, NO_SESSION, shardOf, SHARDS, textParams } from './routing-fixtures.js';

await initSqlParser();
const planner = new Planner(makeRules(), { cacheEntriesMax: 1000 });
const plan = (sql: string, params: BoundParams | null = null): Plan => {
  const plans = planner.plan(sql, params, NO_SESSION);
  if (plans.length !== 1 || plans[0] === undefined) throw new Error(`expected one plan for ${sql}`);
  return plans[0].plan;
};
const single = (shard: number, access: 'read' | 'write' = 'read'): Plan => ({ kind: 'single', shard, access });
const shardsOf = (p: Plan): readonly number[] | string => (p.kind === 'scatter' ? p.shards : p.kind);
const sorted = (xs: number[]): number[] => [...new Set(xs)].sort((a, b) => a - b);
const ALL = Array.from({ length: SHARDS }, (_, i) => i);

void t.test('key = literal / literal = key / key = $n route to the key shard', async (t) => {
  t.strictSame(plan('SELECT abalance FROM pgbench_accounts WHERE aid = 523817'), single(shardOf('int4', 523817)));
  t.strictSame(plan('SELECT abalance FROM pgbench_accounts WHERE 523817 = aid'), single(shardOf('int4', 523817)));
  t.strictSame(plan('SELECT abalance FROM pgbench_accounts WHERE aid = $1', textParams(77)), single(shardOf('int4', 77)));
  t.strictSame(plan('SELECT abalance FROM pgbench_accounts WHERE aid = $1', textParams(78)), single(shardOf('int4', 78)), 'cache hit, new value');
  t.strictSame(plan('SELECT * FROM pgbench_accounts a WHERE a.aid = $1 AND a.bid = 3', textParams(5)), single(shardOf('int4', 5)));
  t.strictSame(plan('SELECT * FROM users WHERE id = $1::int8', textParams('9000000000')), single(shardOf('int8', 9000000000n)));
  t.strictSame(plan("SELECT * FROM users WHERE id = '42'::bigint"), single(shardOf('int8', 42)));
  t.strictSame(plan("SELECT * FROM users WHERE id = '42'"), single(shardOf('int8', 42)), 'untyped literal takes the key type');
  t.strictSame(plan('SELECT * FROM users WHERE id = 4240149016498447335'), single(shardOf('int8', 4240149016498447335n)), 'int8 beyond int32');
  t.strictSame(plan('SELECT * FROM users WHERE id = -7'), single(shardOf('int8', -7)));
  t.strictSame(plan('SELECT * FROM users WHERE id = 2.0'), single(shardOf('int8', 2)), 'numeric 2.0 equals 2');
  t.strictSame(plan('SELECT * FROM users WHERE id = 0'), single(shardOf('int8', 0)), 'zero (ival {} in the AST)');
  t.strictSame(plan('UPDATE pgbench_accounts SET abalance = abalance + $1 WHERE aid = $2', textParams(-5, 99)), single(shardOf('int4', 99), 'write'));
  t.strictSame(plan('DELETE FROM users WHERE id = $1', textParams(3)), single(shardOf('int8', 3), 'write'));
});

void t.test('text, varchar and uuid keys', async (t) => {
  t.strictSame(plan("SELECT * FROM accounts WHERE email = 'a@b.c'"), single(shardOf('text', 'a@b.c')));
  t.strictSame(plan('SELECT * FROM accounts WHERE email = $1', textParams('x@y.z')), single(shardOf('text', 'x@y.z')));
  t.strictSame(plan("SELECT * FROM accounts WHERE email = 'a@b.c'::text"), single(shardOf('text', 'a@b.c')));
  t.strictSame(plan("SELECT * FROM tenants_text WHERE name = 'acme'::varchar"), single(shardOf('varchar', 'acme')));
  const u = '1b4e28ba-2fa1-11d2-883f-0016d3cca427';
  t.strictSame(plan(`SELECT * FROM documents WHERE id = '${u}'`), single(shardOf('uuid', u)));
  t.strictSame(plan(`SELECT * FROM documents WHERE id = '${u.toUpperCase()}'::uuid`), single(shardOf('uuid', u)));
  t.strictSame(plan('SELECT * FROM documents WHERE id = $1', textParams(u)), single(shardOf('uuid', u)));
  t.strictSame(plan("SELECT * FROM documents WHERE id = 'not-a-uuid'"), single(0), 'invalid uuid: Postgres rejects it on any shard');
  t.strictSame(plan('SELECT * FROM accounts WHERE email = 42'), { kind: 'scatter', shards: ALL, access: 'read', sql: 'SELECT * FROM accounts WHERE email = 42', merge: { hiddenColumns: 0, aggregate: null, distinct: false, orderBy: [], limit: null, offset: null } }, 'text key vs integer: not modelled, scatter');
});

void t.test('binary parameters decode by length / declared type', async (t) => {
  const bin = (values: (Uint8Array | null)[], types: number[]): BoundParams => ({ values, formats: values.map(() => 1), types });
  t.strictSame(plan('SELECT * FROM pgbench_accounts WHERE aid = $1', bin([int4Binary(123456)], [23])), single(shardOf('int4', 123456)));
  t.strictSame(plan('SELECT * FROM pgbench_accounts WHERE aid = $1', bin([int8Binary(123456n)], [20])), single(shardOf('int4', 123456)), 'int8 param vs int4 key');
  t.strictSame(plan('SELECT * FROM users WHERE id = $1', bin([int8Binary(-9n)], [0])), single(shardOf('int8', -9)));
  const two = new Uint8Array([0x01, 0x02]);
  t.strictSame(plan('SELECT * FROM users WHERE id = $1', bin([two], [21])), single(shardOf('int8', 258)), 'int2');
  t.strictSame(plan('SELECT * FROM accounts WHERE email = $1', bin([new TextEncoder().encode('zoë')], [25])), single(shardOf('text', 'zoë')));
  const uuid = new Uint8Array([0x1b, 0x4e, 0x28, 0xba, 0x2f, 0xa1, 0x11, 0xd2, 0x88, 0x3f, 0x00, 0x16, 0xd3, 0xcc, 0xa4, 0x27]);
  t.strictSame(plan('SELECT * FROM documents WHERE id = $1', bin([uuid], [2950])), single(shardOf('uuid', uuid)));
  const numeric = plan('SELECT * FROM users WHERE id = $1', bin([new Uint8Array(8)], [1700]));
  t.strictSame(shardsOf(numeric), ALL, 'a numeric parameter is not decoded: all shards');
  t.strictSame(shardsOf(plan('SELECT * FROM users WHERE id = $1', { values: [new TextEncoder().encode('2.0')], formats: [0], types: [1700] })), ALL, 'numeric text param: all shards');
  t.strictSame(plan('SELECT * FROM users WHERE id = $1', { values: [new TextEncoder().encode(' 42 ')], formats: [0], types: [20] }), single(shardOf('int8', 42)), 'int8in accepts spaces');
});

void t.test('IN lists, OR branches and = ANY give the union of shards', async (t) => {
  const keys = [1, 2, 3, 10, 20];
  const expect = sorted(keys.map((k) => shardOf('int4', k)));
  const p = plan(`SELECT * FROM pgbench_accounts WHERE aid IN (${keys.join(', ')})`);
  t.strictSame(expect.length > 1 ? shardsOf(p) : p, expect.length > 1 ? expect : single(expect[0] ?? 0));
  const a = keyOnShard('int8', 1);
  const b = keyOnShard('int8', 3);
  t.strictSame(shardsOf(plan(`SELECT * FROM users WHERE id = ${a} OR id = ${b}`)), [1, 3]);
  t.strictSame(shardsOf(plan('SELECT * FROM users WHERE (id = $1 AND x = 1) OR (id = $2 AND y = 2)', textParams(a, b))), [1, 3]);
  t.strictSame(shardsOf(plan(`SELECT * FROM users WHERE id = ${a} OR name = 'x'`)), ALL, 'a branch without the key: all shards');
  t.strictSame(shardsOf(plan(`SELECT * FROM users WHERE id IN ($1, $2)`, textParams(a, b))), [1, 3]);
  t.strictSame(shardsOf(plan(`SELECT * FROM users WHERE id = ANY(ARRAY[${a}, ${b}])`)), [1, 3]);
  t.strictSame(shardsOf(plan('SELECT * FROM users WHERE id = ANY($1)', textParams(`{${a},${b}}`))), [1, 3], 'text array parameter');
  t.strictSame(plan('SELECT * FROM users WHERE id = ANY($1::bigint[])', textParams(`{${a}, NULL}`)), single(1), 'NULL elements match nothing');
  const arr = new Uint8Array(20 + 2 * 12);
  const v = new DataView(arr.buffer);
  v.setInt32(0, 1);
  v.setInt32(4, 0);
  v.setUint32(8, 20);
  v.setInt32(12, 2);
  v.setInt32(16, 1);
  v.setInt32(20, 8);
  v.setBigInt64(24, BigInt(a));
  v.setInt32(32, 8);
  v.setBigInt64(36, BigInt(b));
  t.strictSame(shardsOf(plan('SELECT * FROM users WHERE id = ANY($1)', { values: [arr], formats: [1], types: [1016] })), [1, 3], 'binary int8[]');
  t.strictSame(plan(`SELECT * FROM users WHERE id IN (${a}, ${keyOnShard('int8', 1, [a])})`), single(1), 'IN values on one shard: single');
  t.strictSame(plan(`SELECT * FROM users WHERE id = ${a} AND id = ${b}`), single(0), 'contradictory keys: no rows anywhere');
});

void t.test('NULL keys', async (t) => {
  t.strictSame(plan('SELECT * FROM users WHERE id = NULL'), single(0), '= NULL is never true: any shard');
  t.strictSame(plan('SELECT * FROM users WHERE id IS NULL'), single(shardOf('int8', null)), 'IS NULL: bucket 0, as PostgreSQL places it');
  t.strictSame(plan('SELECT * FROM users WHERE id = $1', { values: [null], formats: [0], types: [0] }), single(0), 'NULL parameter matches nothing');
  t.strictSame(plan('SELECT * FROM ranged WHERE id IS NULL'), single(0), 'range rules hold no NULL keys');
});

void t.test('missing parameters scatter; out-of-range values match nothing', async (t) => {
  t.strictSame(shardsOf(plan('SELECT * FROM users WHERE id = $1', null)), ALL, 'planned before Bind');
  t.strictSame(shardsOf(plan('UPDATE users SET name = $2 WHERE id = $1', null)), ALL, 'a write without its key scatters');
  t.strictSame(plan('SELECT * FROM pgbench_accounts WHERE aid = 5000000000'), single(0), 'beyond int4: matches nothing');
  t.strictSame(plan('SELECT * FROM users WHERE id = 2.5'), single(0));
  t.strictSame(plan('SELECT * FROM users WHERE id = $1', textParams('12abc')), single(0), 'invalid text: Postgres errors on any shard');
  t.strictSame(shardsOf(plan('SELECT * FROM users WHERE id = 42::numeric')), ALL, 'cast to an unmodelled type');
});

void t.test('range and list rules', async (t) => {
  t.strictSame(plan('SELECT * FROM ranged WHERE id = 150'), single(1));
  t.strictSame(plan('SELECT * FROM ranged WHERE id = 99'), single(0));
  t.strictSame(plan('SELECT * FROM ranged WHERE id = -1000000'), single(0), 'unbounded lower piece');
  t.strictSame(plan('SELECT * FROM ranged WHERE id = $1', textParams(250)), single(2));
  t.strictSame(shardsOf(plan('SELECT * FROM ranged WHERE id IN (1, 150, 250)')), [0, 1, 2]);
  const out = plan('SELECT * FROM ranged WHERE id = 300');
  t.equal(out.kind, 'unsupported', 'outside every piece');
  if (out.kind === 'unsupported') t.match(out.message, /outside every range piece/);
  const outParam = plan('SELECT * FROM ranged WHERE id = $1', textParams(1000));
  t.equal(outParam.kind, 'unsupported', 'outside every piece at bind time');
  t.strictSame(plan("SELECT * FROM listed WHERE region = 'us'"), single(2));
  t.strictSame(plan("SELECT * FROM listed WHERE region = 'uk'"), single(1));
  t.equal(plan("SELECT * FROM listed WHERE region = 'fr'").kind, 'unsupported', 'list value without a default');
  t.strictSame(plan("SELECT * FROM words WHERE w = 'apple'"), single(0));
  t.strictSame(plan("SELECT * FROM words WHERE w = 'melon'"), single(3), 'text ranges compare bytewise');
  t.strictSame(plan("SELECT * FROM words WHERE w = 'Zebra'"), single(0), "uppercase sorts before 'm' in byte order");
});

void t.test('unknown key type', async (t) => {
  const p = plan('SELECT * FROM pending WHERE id = 1');
  t.equal(p.kind, 'unsupported');
  if (p.kind === 'unsupported') {
    t.match(p.message, /type of shard key "id" of table "pending" is not known/);
    t.match(p.hint, /declare the key's type/);
  }
  t.equal(plan('SELECT count(*) FROM pending').kind, 'scatter', 'no key needed: a scatter is fine');
  t.equal(plan('INSERT INTO pending (id) VALUES (1)').kind, 'unsupported');
});

void t.test('quoted identifiers keep their case; schemas must match', async (t) => {
  t.strictSame(plan('SELECT * FROM "public"."User" WHERE "public"."User"."id" = 5'), single(shardOf('int4', 5)));
  t.strictSame(plan('SELECT * FROM "User" u WHERE u.id = 5'), single(shardOf('int4', 5)));
  t.strictSame(plan('SELECT * FROM other."User" WHERE id = 5'), single(0), 'another schema: unlisted');
  t.strictSame(plan('SELECT * FROM "user" WHERE id = 5'), single(0), '"user" is not "User"');
  t.strictSame(plan('SELECT * FROM "Post" WHERE "authorId" = 9'), single(shardOf('int4', 9)));
  t.strictSame(plan('SELECT * FROM "Post" WHERE authorid = 9').kind, 'scatter', 'unquoted authorid folds to lower case: not the key');
});
