// The differential suite's writes, in the order they run (the same order on both sides keeps them
// identical), the whole-table checks after them, and the statements the proxy must refuse with 0A000
// because no routing rule can run them correctly.
import { evenBucketMap, placementOf } from '../../../planner/hash/bucket-map.js';
import type { Dataset } from './data.js';
import { MODULUS, SHARD_COUNT, busiestCustomer, cell, q, type QueryCase, type UnsupportedCase } from './queries.js';

/** Writes, run in this order on both sides; command tags, RETURNING rows, then whole tables compared. */
export function writeSteps(d: Dataset): QueryCase[] {
  const busy = busiestCustomer(d);
  const uuidToDelete = cell(d, 'sessions', 5, 0);
  const customerCols = 'id, name, email, country, balance, score, vip, signup, last_seen, visits, points';
  const orderCols = 'customer_id, id, status, amount, qty, weight, placed_at, note';
  return [
    q('insert one customer', `INSERT INTO customers (${customerCols}) VALUES (1001, 'Neu Kunde ☕', NULL, 'DE', 10.50, 1.5, true, '2024-05-05', '2024-05-05 10:00:00+00', 3, 4)`, false),
    q(
      'insert customers across shards RETURNING',
      "INSERT INTO customers (id, name, country, balance, visits, points) VALUES (1002, 'a', 'FR', 1.00, 1, 1), (1003, 'ß', NULL, NULL, 2, 2), (1004, '😀', 'JP', -3.25, 3, 3), (1005, '', 'XX', 0.00, 4, 4), (-1006, 'neg', 'US', 5, 5, 5) RETURNING id, name, balance",
      false,
    ),
    q(
      'insert orders with $n RETURNING',
      `INSERT INTO orders (${orderCols}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8), ($9, $10, $11, $12, $13, $14, $15, $16), ($17, $18, $19, $20, $21, $22, $23, $24) RETURNING customer_id, id, amount`,
      false,
      [
        '1001', '5001', 'new', '12.34', '1', null, '2024-06-01 12:00:00+00', 'first ✓',
        '1002', '5002', 'paid', '0.99', '2', '2.5', '2024-06-02 12:00:00+00', null,
        '-1006', '5003', 'new', '100.00', '3', null, '2024-06-03 12:00:00+00', 'négatif',
      ],
    ),
    q('insert product RETURNING *', "INSERT INTO products (sku, title, category, price, stock, tags) VALUES ('neu-日本', 'Neu', 'food', 1.00, 5, NULL) RETURNING *", false),
    q(
      'upsert on the key',
      "INSERT INTO products (sku, title, category, price, stock) VALUES ('café', 'Café au lait', 'food', 3.50, 10) ON CONFLICT (sku) DO UPDATE SET stock = products.stock + EXCLUDED.stock RETURNING sku, stock",
      false,
    ),
    q('insert session RETURNING id', "INSERT INTO sessions (id, customer_id, started_at, duration_s, device) VALUES ('0b3e7d2a-1c4f-4e8a-9d6b-5a2c8f1e3d70', 1001, '2024-01-01 00:00:00+00', 60, 'web') RETURNING id", false),
    q(
      'insert list rows across shards and default',
      "INSERT INTO regions_events (region, id, kind, amount, at) VALUES ('eu', 1001, 'buy', 5, '2024-01-01'), ('us', 1002, 'buy', 6, '2024-01-02'), ('jp', 1003, 'view', 7, '2024-01-03'), ('zz', 1004, 'click', 8, '2024-01-04'), ('uk', 1005, 'buy', 9, '2024-01-05') RETURNING region, id",
      false,
    ),
    q(
      'insert range rows on the boundaries',
      "INSERT INTO readings (sensor, seq, value, temp, taken_at) VALUES (999, 1000, 1.5, NULL, '2024-01-01 00:00:00+00'), (1000, 1000, 2.5, 1, '2024-01-01 00:00:00+00'), (5000, 1000, 3.5, 2, '2024-01-01 00:00:00+00'), (-1, 1000, 4.5, NULL, '2024-01-01 00:00:00+00'), (4999, 1000, 5.5, 3, '2024-01-01 00:00:00+00') RETURNING sensor, seq, value",
      false,
    ),
    q('update by key', 'UPDATE customers SET balance = balance + 10 WHERE id = 42', false),
    q('update by $1 key RETURNING', 'UPDATE customers SET visits = visits + 1 WHERE id = $1 RETURNING id, visits', false, ['-9223372036854775808']),
    q('update without key', "UPDATE customers SET vip = true WHERE country = 'DE'", false),
    q('update keys IN RETURNING', 'UPDATE customers SET email = lower(email) WHERE id IN (1, 2, 3, 4, 5, 6, 7, 8) RETURNING id, email', false),
    q('update co-located by $1', "UPDATE orders SET status = 'shipped' WHERE customer_id = $1 AND status <> 'shipped'", false, [busy]),
    q('update without key RETURNING', "UPDATE orders SET note = 'bulk ✓' WHERE amount > 990 RETURNING customer_id, id, note", false),
    q('update text key with a tab', "UPDATE products SET stock = stock - 1 WHERE sku = E'tab\\tkey' RETURNING sku, stock", false),
    q('update list key', "UPDATE regions_events SET amount = amount * 2 WHERE region = 'us'", false),
    q('update range across a boundary', 'UPDATE readings SET value = value + 1 WHERE sensor BETWEEN 990 AND 1010', false),
    q('update reference row', "UPDATE countries SET name = 'Bundesrepublik Deutschland' WHERE code = 'DE'", false),
    q('insert reference row', "INSERT INTO countries (code, name, continent, eu) VALUES ('XX', 'Nowhere', 'None', false)", false),
    q('update nothing', 'UPDATE customers SET score = NULL WHERE id = 99999', false),
    q('delete by key', 'DELETE FROM orders WHERE customer_id = 7', false),
    q('delete without key RETURNING', 'DELETE FROM orders WHERE amount < 5 RETURNING customer_id, id, amount', false),
    q('delete by key RETURNING *', 'DELETE FROM customers WHERE id = 1005 RETURNING *', false),
    q('delete by uuid $1', 'DELETE FROM sessions WHERE id = $1', false, [uuidToDelete]),
    q('delete nothing', 'DELETE FROM customers WHERE id = 99999', false),
    q('delete list keys on the default shard', "DELETE FROM regions_events WHERE region IN ('jp', 'br') AND amount < 0", false),
    q('delete range row', 'DELETE FROM readings WHERE sensor = 5000 AND seq = 1', false),
    q('delete without key', 'DELETE FROM products WHERE stock < 0', false),
    q('update NULLs without key', "UPDATE customers SET last_seen = '2025-01-01 00:00:00+00' WHERE last_seen IS NULL", false),
    q('delete reference row', "DELETE FROM countries WHERE code = 'XX'", false),
    ...positionalInserts(),
  ];
}

/**
 * INSERTs without a column list into positional (key pid, not the first column), while DDL through
 * the proxy moves the key: the proxy must learn the columns again after each change, see the
 * uncommitted layout inside the transaction that changed it, and the old one after a ROLLBACK.
 */
function positionalInserts(): QueryCase[] {
  return [
    q('positional: rows across shards RETURNING', "INSERT INTO positional VALUES ('a', 'x', 1, 10), ('b', NULL, 2, 20), ('c', 'z', 3, 30), ('d', 'w', -4, 40), ('e', 'v', 9223372036854775807, 50), ('f', 'u', -9223372036854775808, 60) RETURNING pid, label, qty", false),
    q('positional: fewer values than columns (default)', "INSERT INTO positional VALUES ('g', 't', 5)", false),
    q('positional: $n parameters', 'INSERT INTO positional VALUES ($1, $2, $3, $4), ($5, $6, $7, $8) RETURNING *', false, ['h', null, '6', '60', 'i', 'n', '7', '70']),
    q('positional: schema-qualified', "INSERT INTO public.positional VALUES ('j', 'q', 8, 80), ('k', 'q', 9007199254740993, 80)", false),
    q('positional: add a column', 'ALTER TABLE positional ADD COLUMN extra text', false),
    q('positional: a value for the new column', "INSERT INTO positional VALUES ('l', 'p', 9, 90, 'extra ✓'), ('m', 'p', 10, 100, NULL) RETURNING *", false),
    q('positional: drop a column before the key', 'ALTER TABLE positional DROP COLUMN label', false),
    q('positional: key now second', "INSERT INTO positional VALUES ('o', 11, 110, 'e'), (NULL, 12, 120, NULL), ('r', -13, 130, 'neg') RETURNING *", false),
    q('positional: BEGIN', 'BEGIN', false),
    q('positional: drop the first column in the transaction', 'ALTER TABLE positional DROP COLUMN note', false),
    q('positional: key first inside the transaction', "INSERT INTO positional VALUES (14, 140, 'in tx'), (15, 150, 'in tx') RETURNING *", false),
    q('positional: COMMIT', 'COMMIT', false),
    q('positional: key first after the commit', "INSERT INTO positional VALUES (16, 160, 'committed'), (-17, 170, NULL)", false),
    q('positional: BEGIN again', 'BEGIN', false),
    q('positional: drop qty in the transaction', 'ALTER TABLE positional DROP COLUMN qty', false),
    q('positional: inside the transaction to roll back', "INSERT INTO positional VALUES (18, 'rolled back'), (19, 'rolled back')", false),
    q('positional: ROLLBACK', 'ROLLBACK', false),
    q('positional: the old columns again after the rollback', "INSERT INTO positional VALUES (20, 200, 'after rollback'), (21, 210, NULL) RETURNING *", false),
  ];
}

/** After the writes: each table in full (multiset) and a few aggregates over the new state. */
export function stateChecks(d: Dataset): QueryCase[] {
  const whole = d.all.map((t) => q(`table ${t.name}`, `SELECT * FROM ${t.name}`, false));
  return [
    ...whole,
    q('table positional', 'SELECT * FROM positional', false),
    q('customers count and sums', 'SELECT count(*), sum(balance), sum(visits), avg(balance) FROM customers', false),
    q('orders per status', 'SELECT status, count(*), sum(amount) FROM orders GROUP BY status ORDER BY status', true),
    q('customer 42 after writes', 'SELECT * FROM customers WHERE id = 42', false),
    q('new customers by key', 'SELECT * FROM customers WHERE id IN (1001, 1002, 1003, 1004, 1005, -1006) ORDER BY id', true),
  ];
}

/** A key of `customers` on another shard than `id` (for the key-changing UPDATE). */
function keyOnAnotherShard(id: bigint): bigint {
  const map = evenBucketMap(MODULUS, SHARD_COUNT);
  const home = placementOf('int8', id, map).shard;
  for (let k = 1_000_000n; ; k++) if (placementOf('int8', k, map).shard !== home) return k;
}

/** Statements no routing rule can run correctly: the proxy must refuse them with 0A000 and a hint. */
export function unsupportedCases(): UnsupportedCase[] {
  return [
    {
      name: 'join on a non-key column of the other table',
      sql: 'SELECT c.id, s.id FROM customers c JOIN sessions s ON s.customer_id = c.id',
      why: 'sessions is sharded by its uuid id, not by customer_id: matching rows live on different shards',
    },
    {
      name: 'co-located tables joined off the key',
      sql: 'SELECT o.customer_id, o.id, c.name FROM orders o JOIN customers c ON c.id = o.id',
      why: 'orders is placed by customer_id; o.id = c.id pairs rows on different shards',
    },
    {
      name: 'hash table joined to a range table',
      sql: 'SELECT r.sensor, c.name FROM readings r JOIN customers c ON c.id = r.sensor',
      why: 'range placement and hash placement put equal keys on different shards',
    },
    {
      name: 'text hash table joined to a list table',
      sql: 'SELECT p.sku, e.id FROM products p JOIN regions_events e ON e.region = p.sku',
      why: 'hash placement and list placement put equal keys on different shards',
    },
    {
      name: 'semi-join into a table sharded otherwise',
      sql: 'SELECT count(*) FROM customers WHERE id IN (SELECT customer_id FROM sessions)',
      why: 'the subquery needs rows of every shard on every shard',
    },
    {
      name: 'count(DISTINCT non-key) across shards',
      sql: 'SELECT count(DISTINCT country) FROM customers',
      why: 'per-shard distinct counts cannot be added: a country appears on several shards',
    },
    {
      name: 'window function across shards',
      sql: 'SELECT id, row_number() OVER (ORDER BY id) FROM customers',
      why: 'the numbering needs every shard\'s rows in one sorted stream',
    },
    {
      name: 'INSERT ... SELECT without a column list',
      sql: 'INSERT INTO positional SELECT label, note, pid + 1000, qty FROM positional',
      why: 'the selected rows may belong to several shards',
    },
    {
      name: 'ORDER BY a nondeterministic collation',
      sql: 'SELECT name FROM customers ORDER BY name COLLATE my_ci LIMIT 5',
      why: 'the merge cannot reproduce a custom collation (nor its equal-but-different strings)',
    },
    {
      name: 'COLLATE inside an ORDER BY expression',
      sql: 'SELECT id FROM customers ORDER BY lower(name COLLATE "C") LIMIT 5',
      why: 'the collation of the expression is derived from inside it; the merge only sees a top-level COLLATE',
    },
    {
      name: 'an operator the proxy does not compute over aggregates',
      sql: 'SELECT max(balance) ^ 2 FROM customers',
      why: 'only + - * / % are computed over merged aggregates',
    },
    {
      name: 'a text comparison over aggregates in a CASE',
      sql: "SELECT CASE WHEN max(name) > 'M' THEN count(*) END FROM customers",
      why: 'text order depends on a collation the merge cannot know (refused when the shards describe the result)',
    },
    {
      name: 'greatest() of text over aggregates',
      sql: 'SELECT greatest(max(name), min(email)) FROM customers',
      why: 'text order depends on a collation the merge cannot know (refused when the shards describe the result)',
    },
    {
      name: 'IN over text aggregates in a CASE',
      sql: "SELECT CASE WHEN max(name) IN ('Zoe', 'Adam') THEN 1 END FROM customers",
      why: 'pgshard compares numbers only; text comparisons depend on a collation',
    },
    {
      name: 'a parameter over aggregates that the statement uses twice',
      sql: 'SELECT sum(visits) * $1 FROM customers WHERE visits > $1',
      params: ['2'],
      why: 'PostgreSQL types an untyped parameter where it meets it first, which the proxy cannot see',
    },
    {
      name: 'UPDATE that moves a row to another shard',
      // Customer 588 is in no other statement, so if the proxy ran this anyway only its row differs later.
      sql: `UPDATE customers SET id = ${keyOnAnotherShard(588n)} WHERE id = 588`,
      why: 'changing the shard key would leave the row on a shard that does not own its new key',
    },
  ];
}
