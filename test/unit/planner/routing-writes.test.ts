import t, { type Test } from 'tap';
import { initSqlParser } from '../../../planner/sql-parser.js';
import { Planner } from '../../../planner/planner.js';
import type { BoundParams, Plan } from '../../../planner/plan.js';
import { int8Binary, keyOnShard, makeRules, NO_SESSION, shardOf, textParams } from './routing-fixtures.js';

await initSqlParser();
const planner = new Planner(makeRules(), { cacheEntriesMax: 1000 });
const plan = (sql: string, params: BoundParams | null = null): Plan => planner.plan(sql, params, NO_SESSION)[0]?.plan ?? { kind: 'unsupported', message: 'none', hint: '' };
const write = (shard: number): Plan => ({ kind: 'single', shard, access: 'write' });
const REFERENCE_WRITE: Plan = { kind: 'broadcast', reason: 'reference-write', transactional: true, learned: [] };

function rejected(t: Test, p: Plan, re: RegExp, hint?: RegExp): void {
  t.equal(p.kind, 'unsupported');
  if (p.kind !== 'unsupported') return;
  t.match(p.message, re);
  if (hint !== undefined) t.match(p.hint, hint);
}

void t.test('single-row INSERT routes by the key in VALUES', async (t) => {
  t.strictSame(plan('INSERT INTO pgbench_history (tid, bid, aid, delta, mtime) VALUES (37, 6, 523817, -2374, CURRENT_TIMESTAMP)'), write(shardOf('int4', 523817)));
  t.strictSame(plan('INSERT INTO pgbench_history (tid, bid, aid, delta, mtime) VALUES ($1, $2, $3, $4, CURRENT_TIMESTAMP)', textParams(1, 2, 99, 4)), write(shardOf('int4', 99)));
  t.strictSame(
    plan('INSERT INTO users (id, name) VALUES ($1, $2)', { values: [int8Binary(77n), new TextEncoder().encode('x')], formats: [1, 0], types: [20, 25] }),
    write(shardOf('int8', 77)),
    'binary key parameter',
  );
  t.strictSame(plan("INSERT INTO users (id, name) VALUES ('5'::bigint, 'x') RETURNING id"), write(shardOf('int8', 5)));
  t.strictSame(plan('INSERT INTO users (id) VALUES (NULL)'), write(shardOf('int8', null)), 'NULL key: bucket 0 like PostgreSQL');
  t.strictSame(plan('INSERT INTO users (id) VALUES ($1)', { values: [null], formats: [0], types: [0] }), write(shardOf('int8', null)));
  t.strictSame(plan("INSERT INTO users (id) VALUES ('oops')"), write(0), 'invalid key: PostgreSQL rejects it on any shard');
  t.strictSame(plan('INSERT INTO users (id) VALUES ($1)', null), write(0), 'unbound parameter: PostgreSQL reports it');
  t.strictSame(plan('INSERT INTO users (id, name) VALUES ($1, $2) ON CONFLICT (id) DO UPDATE SET name = excluded.name', textParams(8, 'n')), write(shardOf('int8', 8)));
  t.strictSame(plan('INSERT INTO users (id) VALUES (8) ON CONFLICT DO NOTHING'), write(shardOf('int8', 8)));
  t.strictSame(plan("INSERT INTO ranged (id) VALUES (250)"), write(2));
  rejected(t, plan('INSERT INTO ranged (id) VALUES (300)'), /outside every range piece/, /piece/);
  rejected(t, plan('INSERT INTO ranged (id) VALUES ($1)', textParams(-5 + 1000)), /outside every range piece/);
  rejected(t, plan('INSERT INTO ranged (id) VALUES (NULL)'), /NULL key/);
  t.strictSame(plan("INSERT INTO listed (region) VALUES ('eu')"), write(1));
});

void t.test('INSERT without a usable key is unsupported with "supply the key"', async (t) => {
  rejected(t, plan("INSERT INTO users (name) VALUES ('a')"), /does not set shard key "id"/, /supply the shard key/);
  rejected(t, plan("INSERT INTO users (id, name) VALUES (DEFAULT, 'a')"), /constant or parameter/, /supply the shard key/);
  rejected(t, plan("INSERT INTO users (id, name) VALUES (nextval('s'), 'a')"), /constant or parameter/, /supply the shard key/);
  rejected(t, plan('INSERT INTO users DEFAULT VALUES'), /DEFAULT VALUES/, /supply the shard key/);
  rejected(t, plan('INSERT INTO users VALUES (1)'), /without a column list/, /name the columns/);
  rejected(t, plan('INSERT INTO users (id) VALUES ($1)', { values: [new Uint8Array(8)], formats: [1], types: [1700] }), /cannot tell which shard/);
  rejected(t, plan('INSERT INTO users (id) VALUES (1) ON CONFLICT (id) DO UPDATE SET id = 2'), /would move the row/);
});

void t.test('multi-row VALUES: one shard → single, several → split-insert with renumbered parameters', async (t) => {
  const a = keyOnShard('int8', 0);
  const a2 = keyOnShard('int8', 0, [a]);
  const b = keyOnShard('int8', 2);
  t.strictSame(plan(`INSERT INTO users (id, name) VALUES (${a}, 'x'), (${a2}, 'y')`), write(0), 'all rows on one shard');
  t.strictSame(plan(`INSERT INTO users (id, name) VALUES (${a}, 'x'), (${b}, 'y') RETURNING id`), {
    kind: 'split-insert',
    parts: [
      { shard: 0, sql: `INSERT INTO users (id, name) VALUES (${a}, 'x') RETURNING id`, params: [] },
      { shard: 2, sql: `INSERT INTO users (id, name) VALUES (${b}, 'y') RETURNING id`, params: [] },
    ],
  });
  const sql = 'INSERT INTO users (id, name) VALUES ($1, $2), ($3, $4), ($5, $6) ON CONFLICT (id) DO UPDATE SET name = $7';
  t.strictSame(plan(sql, textParams(b, 'p', a, 'q', a2, 'r', 'z')), {
    kind: 'split-insert',
    parts: [
      { shard: 0, sql: 'INSERT INTO users (id, name) VALUES ($1, $2), ($3, $4) ON CONFLICT (id) DO UPDATE SET name = $5', params: [2, 3, 4, 5, 6] },
      { shard: 2, sql: 'INSERT INTO users (id, name) VALUES ($1, $2) ON CONFLICT (id) DO UPDATE SET name = $3', params: [0, 1, 6] },
    ],
  });
  t.strictSame(plan(sql, textParams(a, 'p', a2, 'q', a, 'r', 'z')), write(0), 'same text, keys on one shard now');
  const again = plan(sql, textParams(b, 'p', a, 'q', a2, 'r', 'z'));
  t.equal(again.kind === 'split-insert' ? again.parts.length : 0, 2, 'grouping cached per template');
  const mixed = plan(`INSERT INTO users (id, name) VALUES (${a}, $1), ($2, 'y')`, textParams('n', b));
  t.strictSame(mixed, {
    kind: 'split-insert',
    parts: [
      { shard: 0, sql: `INSERT INTO users (id, name) VALUES (${a}, $1)`, params: [0] },
      { shard: 2, sql: "INSERT INTO users (id, name) VALUES ($1, 'y')", params: [1] },
    ],
  });
});

void t.test('INSERT ... SELECT only when provably one shard', async (t) => {
  t.strictSame(plan('INSERT INTO order_items (order_id, product_id, qty) SELECT $1, p, q FROM unnest($2::bigint[], $3::int[]) AS t(p, q)', textParams(11, '{1}', '{2}')), write(shardOf('int8', 11)));
  t.strictSame(plan('INSERT INTO users (id, name) SELECT id, name FROM customers WHERE id = 5'), write(shardOf('int8', 5)), 'co-located source fixed to one key');
  rejected(t, plan('INSERT INTO users (id, name) SELECT id, name FROM customers'), /may belong to several shards/);
  rejected(t, plan('INSERT INTO users (id, name) SELECT customer_id, name FROM orders WHERE id = 5'), /may belong to several shards/, /constant or parameter/);
  rejected(t, plan('INSERT INTO users (id, name) SELECT 5, name FROM widgets'), /on shard 0 only/, /reference table/);
  t.strictSame(plan(`INSERT INTO users (id, name) SELECT ${keyOnShard('int8', 0)}, name FROM widgets`), write(0), 'unlisted source, key on shard 0');
  t.strictSame(plan('INSERT INTO users (id, name) SELECT 5, name FROM countries'), write(shardOf('int8', 5)), 'reference source');
  t.strictSame(plan('INSERT INTO users (id, name) VALUES (5, (SELECT name FROM countries LIMIT 1))'), write(shardOf('int8', 5)));
});

void t.test('UPDATE / DELETE', async (t) => {
  t.strictSame(plan('UPDATE pgbench_accounts SET abalance = abalance + -2374 WHERE aid = 523817'), write(shardOf('int4', 523817)));
  t.strictSame(plan('UPDATE users SET name = $1 WHERE id = $2 RETURNING *', textParams('x', 12)), write(shardOf('int8', 12)));
  t.strictSame(plan('DELETE FROM sessions s USING users u WHERE s.user_id = u.id AND u.id = 4'), write(shardOf('int8', 4)));
  t.equal(plan('DELETE FROM sessions s USING users u WHERE s.user_id = u.id').kind, 'scatter');
  rejected(t, plan('DELETE FROM sessions s USING orders o WHERE s.user_id = o.id'), /not all joined/);
  rejected(t, plan('UPDATE users SET id = 3 WHERE id = 1'), /would move the row/, /DELETE the row and INSERT/);
  rejected(t, plan('UPDATE users SET (name, id) = (1, 2) WHERE id = 1'), /would move the row/);
  t.strictSame(plan('UPDATE users SET name = c.name FROM countries c WHERE users.country = c.code AND users.id = 3'), write(shardOf('int8', 3)), 'sharded target, reference source');
  rejected(t, plan('UPDATE users SET name = $1 WHERE CURRENT OF c'), /CURRENT OF/);
});

void t.test('reference-table writes broadcast', async (t) => {
  t.strictSame(plan("INSERT INTO countries (code) VALUES ('x'), ('y')"), REFERENCE_WRITE);
  t.strictSame(plan("UPDATE countries SET name = 'x' WHERE code = 'y'"), REFERENCE_WRITE);
  t.strictSame(plan('DELETE FROM countries'), REFERENCE_WRITE);
  t.strictSame(plan("INSERT INTO countries (code) SELECT code FROM vip_list"), REFERENCE_WRITE, 'from another reference table');
  rejected(t, plan('UPDATE countries SET name = u.name FROM users u WHERE u.id = 1'), /each shard's copy different data/);
  rejected(t, plan('INSERT INTO countries (code) SELECT country FROM users'), /each shard's copy different data/);
  rejected(t, plan('INSERT INTO countries (code) SELECT w FROM widgets'), /each shard's copy different data/);
});

void t.test('data-modifying WITH', async (t) => {
  rejected(t, plan("WITH x AS (UPDATE countries SET name = 'y' RETURNING *) SELECT * FROM x"), /reference table "countries"/, /statement of its own/);
  rejected(t, plan("WITH x AS (INSERT INTO countries (code) VALUES ('z') RETURNING *) SELECT * FROM x"), /reference table "countries"/);
  rejected(t, plan("WITH x AS (DELETE FROM countries RETURNING *) INSERT INTO widgets SELECT * FROM x"), /reference table "countries"/);
  t.strictSame(plan('WITH x AS (DELETE FROM widgets RETURNING *) INSERT INTO archive SELECT * FROM x'), write(0), 'unlisted tables');
  t.strictSame(plan('WITH x AS (UPDATE users SET n = 1 WHERE id = 6 RETURNING *) SELECT * FROM x'), write(shardOf('int8', 6)), 'one shard');
});

void t.test('reads that call writing functions go to primaries', async (t) => {
  t.strictSame(plan("SELECT nextval('s'), name FROM users WHERE id = 1"), write(shardOf('int8', 1)));
  t.strictSame(plan('SELECT pg_advisory_xact_lock(id) FROM users WHERE id = 1'), write(shardOf('int8', 1)));
  t.strictSame(plan('SELECT lower(name) FROM users WHERE id = 1'), { kind: 'single', shard: shardOf('int8', 1), access: 'read' });
});

void t.test('MERGE', async (t) => {
  t.strictSame(plan('MERGE INTO stock s USING incoming i ON s.sku = i.sku WHEN MATCHED THEN DO NOTHING'), write(0), 'unlisted tables');
  rejected(t, plan('MERGE INTO users u USING incoming i ON u.id = i.id WHEN MATCHED THEN DO NOTHING'), /MERGE/);
});
