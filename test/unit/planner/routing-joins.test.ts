import t, { type Test } from 'tap';
import { initSqlParser } from '../../../planner/sql-parser.js';
import { Planner } from '../../../planner/planner.js';
import type { BoundParams, Plan } from '../../../planner/plan.js';
import { keyOnShard, makeRules, NO_SESSION, shardOf, SHARDS, textParams } from './routing-fixtures.js';

await initSqlParser();
const planner = new Planner(makeRules(), { cacheEntriesMax: 1000 });
const plan = (sql: string, params: BoundParams | null = null): Plan => planner.plan(sql, params, NO_SESSION)[0]?.plan ?? { kind: 'unsupported', message: 'none', hint: '' };
const single = (shard: number, access: 'read' | 'write' = 'read'): Plan => ({ kind: 'single', shard, access });
const ALL = Array.from({ length: SHARDS }, (_, i) => i);
const kind = (p: Plan): string => (p.kind === 'scatter' ? `scatter:${p.shards.join(',')}` : p.kind === 'single' ? `single:${p.shard}` : p.kind);
const unsupportedMatching = (t: Test, p: Plan, re: RegExp, what: string): void => {
  t.equal(p.kind, 'unsupported', what);
  if (p.kind === 'unsupported') t.match(p.message, re, what);
};

void t.test('co-located joins route by any fixed key of the class, else scatter', async (t) => {
  t.strictSame(plan('SELECT * FROM users u JOIN orders o ON o.customer_id = u.id WHERE u.id = 5'), single(shardOf('int8', 5)));
  t.strictSame(plan('SELECT * FROM users u JOIN orders o ON o.customer_id = u.id WHERE o.customer_id = $1', textParams(8)), single(shardOf('int8', 8)));
  t.strictSame(plan('SELECT * FROM users u, orders o WHERE o.customer_id = u.id AND u.id = 5'), single(shardOf('int8', 5)), 'WHERE equality');
  t.strictSame(plan('SELECT * FROM users u JOIN sessions s USING (id) WHERE u.id = 5').kind, 'unsupported', 'USING (id): sessions is keyed by user_id');
  t.strictSame(plan('SELECT * FROM sessions s JOIN memberships m USING (user_id) WHERE s.user_id = 5'), single(shardOf('int8', 5)), 'USING on both keys');
  t.equal(kind(plan('SELECT * FROM users u JOIN orders o ON o.customer_id = u.id')), `scatter:${ALL.join(',')}`);
  t.strictSame(plan('SELECT * FROM users u LEFT JOIN orders o ON o.customer_id = u.id WHERE u.id = 5'), single(shardOf('int8', 5)));
  t.strictSame(plan('SELECT * FROM pgbench_accounts a JOIN pgbench_history h ON h.aid = a.aid WHERE a.aid = 7'), single(shardOf('int4', 7)));
  t.strictSame(plan('SELECT * FROM users u JOIN pgbench_accounts a ON a.aid = u.id WHERE u.id = 7'), single(shardOf('int8', 7)), 'int4 and int8 keys hash alike');
  t.strictSame(plan('SELECT * FROM ranged r JOIN ranged_twin w ON w.rid = r.id WHERE r.id = 150'), single(1), 'identical range pieces');
});

void t.test('joins that are not co-located are unsupported with a hint', async (t) => {
  const p = plan('SELECT * FROM orders o JOIN order_items i ON i.order_id = o.id');
  unsupportedMatching(t, p, /not all joined on equal shard keys/, 'join on a non-key column');
  if (p.kind === 'unsupported') t.match(p.hint, /co-locate/);
  unsupportedMatching(t, plan('SELECT * FROM users u JOIN accounts a ON a.email = u.email'), /not all joined/, 'different key types');
  unsupportedMatching(t, plan('SELECT * FROM users u JOIN ranged r ON r.id = u.id'), /not all joined/, 'hash vs range');
  unsupportedMatching(t, plan('SELECT * FROM users u JOIN orders o ON o.customer_id = u.id OR o.id = u.id'), /not all joined/, 'OR does not link');
  t.strictSame(plan('SELECT * FROM users u, orders o WHERE u.id = 5 AND o.customer_id = 5'), single(shardOf('int8', 5)), 'both fixed to the same shard');
  const a = keyOnShard('int8', 0);
  const b = keyOnShard('int8', 2);
  unsupportedMatching(t, plan(`SELECT * FROM users u, orders o WHERE u.id = ${a} AND o.customer_id = ${b}`), /not all joined/, 'fixed to different shards');
});

void t.test('reference and catalog tables join freely', async (t) => {
  t.strictSame(plan('SELECT * FROM users u JOIN countries c ON c.code = u.country WHERE u.id = 3'), single(shardOf('int8', 3)));
  t.equal(plan('SELECT * FROM users u JOIN countries c ON c.code = u.country').kind, 'scatter');
  t.equal(plan('SELECT * FROM users u LEFT JOIN countries c ON c.code = u.country').kind, 'scatter', 'sharded side preserved');
  unsupportedMatching(t, plan('SELECT * FROM countries c LEFT JOIN users u ON c.code = u.country'), /LEFT JOIN keeps rows/, 'reference preserved, sharded null-extended');
  t.strictSame(plan('SELECT * FROM countries'), { kind: 'any', access: 'read', reason: 'reference-read' });
  t.strictSame(plan('SELECT u.*, t.typname FROM users u JOIN pg_type t ON t.oid = u.kind WHERE u.id = 1'), single(shardOf('int8', 1)), 'catalog + sharded: by the sharded table');
  t.strictSame(plan('SELECT * FROM pg_catalog.pg_class c JOIN countries r ON true'), { kind: 'any', access: 'read', reason: 'reference-read' });
});

void t.test('unlisted tables live on shard 0', async (t) => {
  t.strictSame(plan('SELECT * FROM widgets'), single(0));
  t.strictSame(plan('UPDATE widgets SET a = 1'), single(0, 'write'));
  const k0 = keyOnShard('int8', 0);
  const k2 = keyOnShard('int8', 2);
  t.strictSame(plan(`SELECT * FROM widgets w JOIN users u ON u.id = w.user_id WHERE u.id = ${k0}`), single(0), 'key fixes shard 0');
  unsupportedMatching(t, plan(`SELECT * FROM widgets w JOIN users u ON u.id = w.user_id WHERE u.id = ${k2}`), /on shard 0 only/, 'key on another shard');
  unsupportedMatching(t, plan('SELECT * FROM widgets w JOIN users u ON u.id = w.user_id'), /on shard 0 only/, 'no key');
  t.strictSame(plan('SELECT * FROM widgets w JOIN users u ON u.id = w.user_id WHERE u.id = $1', textParams(k0)), single(0), 'param on shard 0');
  t.equal(plan('SELECT * FROM widgets w JOIN users u ON u.id = w.user_id WHERE u.id = $1', textParams(k2)).kind, 'unsupported', 'param elsewhere');
});

void t.test('sub-queries, derived tables and CTEs', async (t) => {
  t.strictSame(plan('SELECT * FROM users u WHERE EXISTS (SELECT 1 FROM sessions s WHERE s.user_id = u.id) AND u.id = 4'), single(shardOf('int8', 4)));
  t.equal(plan('SELECT * FROM users u WHERE NOT EXISTS (SELECT 1 FROM sessions s WHERE s.user_id = u.id)').kind, 'scatter', 'correlated on keys');
  t.equal(plan('SELECT * FROM users WHERE id IN (SELECT user_id FROM sessions WHERE expires > now())').kind, 'scatter', 'IN (sub-select) on keys');
  t.strictSame(plan('SELECT * FROM users WHERE id IN (SELECT user_id FROM sessions WHERE user_id = 9)'), single(shardOf('int8', 9)), 'the key fixed inside IN');
  unsupportedMatching(t, plan('SELECT * FROM users WHERE name IN (SELECT name FROM sessions)'), /not all joined/, 'IN on non-keys');
  unsupportedMatching(t, plan('SELECT * FROM users u WHERE u.score > (SELECT avg(score) FROM users)'), /not all joined|aggregate/, 'uncorrelated aggregate over a sharded table');
  t.equal(plan('SELECT u.id, (SELECT count(*) FROM sessions s WHERE s.user_id = u.id) AS n FROM users u').kind, 'scatter', 'correlated aggregate is per row, per shard');
  t.equal(plan('SELECT c.id, o.total FROM customers c CROSS JOIN LATERAL (SELECT total FROM orders WHERE orders.customer_id = c.id ORDER BY created DESC LIMIT 3) o').kind, 'scatter', 'LATERAL top-n per row');
  t.strictSame(plan('SELECT * FROM (SELECT id, name FROM users) s WHERE s.id = 12'), single(shardOf('int8', 12)), 'a derived column keeps the key');
  t.strictSame(plan('SELECT * FROM (SELECT id AS uid FROM users) s(x) WHERE s.x = 12'), single(shardOf('int8', 12)), 'column aliases');
  t.equal(plan('SELECT * FROM (SELECT id FROM users LIMIT 10) s WHERE s.id = 12').kind, 'unsupported', 'LIMIT in a derived table: key filter does not apply, and per-shard LIMIT is wrong');
  t.equal(plan('SELECT * FROM (SELECT id FROM users LIMIT 10) s WHERE s.id = 12 /* pgshard: shard=1 */').kind, 'single', 'a hint takes it anyway');
  unsupportedMatching(t, plan('SELECT count(*) FROM (SELECT DISTINCT name FROM users) d'), /DISTINCT/, 'DISTINCT below the top');
  unsupportedMatching(t, plan('SELECT max(c) FROM (SELECT count(*) AS c FROM users GROUP BY name) g'), /aggregate, GROUP BY/, 'GROUP BY below the top');
  t.equal(plan('SELECT max(c) FROM (SELECT id, count(*) AS c FROM sessions JOIN users ON users.id = sessions.user_id GROUP BY users.id) g').kind, 'scatter', 'GROUP BY the shard key below the top is per shard');
  t.equal(plan('WITH r AS (SELECT customer_id, total FROM orders) SELECT customer_id, sum(total) FROM r GROUP BY customer_id').kind, 'scatter');
  t.strictSame(plan('WITH r AS (SELECT * FROM orders WHERE customer_id = 3) SELECT * FROM r'), single(shardOf('int8', 3)));
  unsupportedMatching(t, plan('WITH RECURSIVE t AS (SELECT id, parent FROM users UNION ALL SELECT u.id, u.parent FROM users u JOIN t ON u.parent = t.id) SELECT * FROM t'), /recursive WITH/, 'recursive CTE');
  t.strictSame(plan('WITH RECURSIVE t AS (SELECT id FROM users WHERE id = 5 UNION ALL SELECT id FROM t) SELECT * FROM t /* pgshard: key=5 */'), single(shardOf('int8', 5)), 'single shard passes whatever it contains (with a hint)');
  unsupportedMatching(t, plan('SELECT * FROM countries c WHERE EXISTS (SELECT 1 FROM users u WHERE u.country = c.code)'), /same on every shard/, 'rows from a reference table filtered by sharded rows');
  t.equal(plan('WITH m AS (DELETE FROM sessions WHERE user_id = 3 RETURNING *) SELECT * FROM m').kind, 'single', 'data-modifying WITH on one shard');
  t.equal(plan('WITH m AS (DELETE FROM sessions RETURNING *) SELECT * FROM m').kind, 'unsupported', 'data-modifying WITH on several shards');
});

void t.test('set operations', async (t) => {
  t.equal(plan('SELECT id FROM users UNION ALL SELECT customer_id FROM orders').kind, 'scatter', 'UNION ALL of partitioned arms');
  const u = plan('SELECT id FROM users WHERE id = 1 UNION SELECT id FROM users WHERE id = 1');
  t.strictSame(u, single(shardOf('int8', 1)), 'UNION on one shard passes through');
  unsupportedMatching(t, plan('SELECT id FROM users UNION SELECT customer_id FROM orders'), /UNION/, 'UNION (dedupe) across shards');
  unsupportedMatching(t, plan('SELECT id FROM users INTERSECT SELECT id FROM users'), /INTERSECT|not all joined/, 'INTERSECT');
  unsupportedMatching(t, plan('SELECT id FROM users UNION ALL SELECT id FROM countries'), /same on every shard/, 'a reference arm would repeat per shard');
  unsupportedMatching(t, plan('SELECT count(*) FROM users UNION ALL SELECT count(*) FROM orders'), /aggregate/, 'aggregating arms');
});

void t.test('windows and DISTINCT ON by the shard key are per shard', async (t) => {
  t.equal(plan('SELECT customer_id, row_number() OVER (PARTITION BY customer_id ORDER BY created) FROM shop_order').kind, 'scatter');
  t.equal(plan('SELECT id, rank() OVER w FROM users WINDOW w AS (PARTITION BY id)').kind, 'scatter', 'named window');
  unsupportedMatching(t, plan('SELECT id, row_number() OVER (ORDER BY id) FROM users'), /window function/, 'global window');
  t.equal(plan('SELECT DISTINCT ON (id) id, name FROM users ORDER BY id, name').kind, 'scatter');
  unsupportedMatching(t, plan('SELECT DISTINCT ON (name) id, name FROM users'), /DISTINCT ON/, 'DISTINCT ON another column');
  t.strictSame(plan('SELECT id, row_number() OVER (ORDER BY id) FROM users WHERE id = 4'), single(shardOf('int8', 4)), 'single shard: anything goes');
});
