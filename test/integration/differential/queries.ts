// The differential suite's sharding rules and its reads, by category (writes and the statements the
// proxy must refuse are in writes.ts). Every read with LIMIT/OFFSET or `ordered: true` has an ORDER BY
// that fixes the order completely (a unique key last), so the oracle's answer is the only right one.
import type { Cell, Dataset } from './data.js';

export interface QueryCase {
  readonly name: string;
  readonly sql: string;
  /** Bound with the extended protocol when given. */
  readonly params?: readonly Cell[];
  /** Compare rows in order (the query has a total ORDER BY); otherwise as multisets. */
  readonly ordered: boolean;
  /** PostgreSQL fails it: both sides must fail with the same SQLSTATE and message. */
  readonly fails?: boolean;
}

export interface UnsupportedCase {
  readonly name: string;
  readonly sql: string;
  readonly params?: readonly Cell[];
  /** Why no routing rule can run it correctly. */
  readonly why: string;
}

/** The shard count and rules of the sharded side (differential.test.ts builds its config from these). */
export const SHARD_COUNT = 3;
export const MODULUS = 1024;

export const SHARDING = {
  modulus: MODULUS,
  tables: [
    { name: 'customers', column: 'id', type: 'int8' },
    { name: 'orders', column: 'customer_id', type: 'int8' },
    { name: 'products', column: 'sku', type: 'text' },
    { name: 'sessions', column: 'id', type: 'uuid' },
    {
      name: 'regions_events',
      column: 'region',
      type: 'text',
      method: 'list',
      lists: [
        { values: ['eu', 'uk'], shard: 0 },
        { values: ['us'], shard: 1 },
      ],
      default: 2,
    },
    {
      name: 'readings',
      column: 'sensor',
      type: 'int4',
      method: 'range',
      ranges: [
        { from: null, to: 1000, shard: 0 },
        { from: 1000, to: 5000, shard: 1 },
        { from: 5000, to: null, shard: 2 },
      ],
    },
    { name: 'positional', column: 'pid', type: 'int8' },
  ],
  referenceTables: ['countries'],
};

export const cell = (d: Dataset, table: keyof Omit<Dataset, 'all'>, row: number, col: number): string => {
  const v = d[table].rows[row]?.[col];
  if (v === undefined || v === null) throw new Error(`no value at ${table}[${row}][${col}]`);
  return v;
};

/** The customer with the most orders (the first such in load order): its lookups return several rows. */
export function busiestCustomer(d: Dataset): string {
  const counts = new Map<string, number>();
  for (const row of d.orders.rows) counts.set(row[0]!, (counts.get(row[0]!) ?? 0) + 1);
  let best = '';
  let most = 0;
  for (const row of d.customers.rows) {
    const n = counts.get(row[0]!) ?? 0;
    if (n > most) [best, most] = [row[0]!, n];
  }
  return best;
}

/** The first customer (after `skip` of them) whose country is in the reference table. */
function customerInACountry(d: Dataset, skip = 0): { id: string; country: string } {
  const codes = new Set(d.countries.rows.map((r) => r[0]));
  const found = d.customers.rows.filter((r) => r[3] !== null && codes.has(r[3]!))[skip];
  if (found === undefined) throw new Error('no customer with a known country');
  return { id: found[0]!, country: found[3]! };
}

type Category = readonly QueryCase[];
export const q = (name: string, sql: string, ordered: boolean, params?: readonly Cell[]): QueryCase =>
  params === undefined ? { name, sql, ordered } : { name, sql, ordered, params };

/** A statement PostgreSQL fails (overflow, division by zero...): the proxy must fail it the same way. */
const fails = (name: string, sql: string, params?: readonly Cell[]): QueryCase => ({ name, sql, ordered: false, fails: true, ...(params === undefined ? {} : { params }) });

/** Point lookups by key, with literals. */
function pointLiteral(d: Dataset): Category {
  const busy = busiestCustomer(d);
  const uuid0 = cell(d, 'sessions', 0, 0);
  const uuid1 = cell(d, 'sessions', 1, 0);
  return [
    q('customer by id', 'SELECT * FROM customers WHERE id = 42', false),
    q('customer id 0', 'SELECT id, name, balance FROM customers WHERE id = 0', false),
    q('customer negative id', 'SELECT id, name, email FROM customers WHERE id = -7', false),
    q('customer id 2^53+1', 'SELECT id, points FROM customers WHERE id = 9007199254740993', false),
    q('customer int8 max', 'SELECT * FROM customers WHERE id = 9223372036854775807', false),
    q('customer int8 min', 'SELECT * FROM customers WHERE id = -9223372036854775808', false),
    q('customer id 2^31', 'SELECT id, name FROM customers WHERE id = 2147483648', false),
    q('customer absent', 'SELECT * FROM customers WHERE id = 999999', false),
    q('key on the right', 'SELECT id, visits FROM customers WHERE 77 = id', false),
    q('key with cast', 'SELECT id, visits FROM customers WHERE id = 78::int8', false),
    q('key as quoted literal', "SELECT id, visits FROM customers WHERE id = '79'", false),
    q('key and another predicate', 'SELECT id FROM customers WHERE id = 80 AND visits >= 0', false),
    q('aliased table', 'SELECT c.name, c.country FROM customers AS c WHERE c.id = 5', false),
    q('schema-qualified', 'SELECT name FROM public.customers WHERE id = 6', false),
    q('orders of a customer', `SELECT * FROM orders WHERE customer_id = ${busy} ORDER BY id`, true),
    q('orders of customer 2^53+1', 'SELECT id, amount FROM orders WHERE customer_id = 9007199254740993 ORDER BY id', true),
    q('product non-ASCII sku', "SELECT * FROM products WHERE sku = 'café'", false),
    q('product empty sku', "SELECT * FROM products WHERE sku = ''", false),
    q('product sku with a tab', "SELECT sku, title FROM products WHERE sku = E'tab\\tkey'", false),
    q('product sku with a backslash', "SELECT sku, title FROM products WHERE sku = 'back\\slash'", false),
    q('product sku with a newline', "SELECT sku, price FROM products WHERE sku = E'line\\nbreak'", false),
    q('product emoji sku', "SELECT * FROM products WHERE sku = '🍣-roll'", false),
    q('product sku backslash-N', "SELECT * FROM products WHERE sku = '\\N'", false),
    q('product sku with a quote', "SELECT * FROM products WHERE sku = 'O''Neil'", false),
    q('session by uuid', `SELECT * FROM sessions WHERE id = '${uuid0}'`, false),
    q('session by upper-case uuid', `SELECT id, device FROM sessions WHERE id = '${uuid1.toUpperCase()}'`, false),
    q('session by uuid cast', `SELECT id FROM sessions WHERE id = '${uuid1}'::uuid`, false),
    q('list table: us', "SELECT * FROM regions_events WHERE region = 'us' ORDER BY id", true),
    q('list table: default shard', "SELECT * FROM regions_events WHERE region = 'jp' ORDER BY id", true),
    q('list table: case matters', "SELECT id, kind FROM regions_events WHERE region = 'EU' ORDER BY id", true),
    q('range table: 999', 'SELECT * FROM readings WHERE sensor = 999 ORDER BY seq', true),
    q('range table: 1000', 'SELECT * FROM readings WHERE sensor = 1000 ORDER BY seq', true),
    q('range table: 5000', 'SELECT * FROM readings WHERE sensor = 5000 ORDER BY seq', true),
    q('range table: -50', 'SELECT sensor, seq, value FROM readings WHERE sensor = -50 ORDER BY seq', true),
    q('reference row', "SELECT * FROM countries WHERE code = 'JP'", false),
  ];
}

/** Point lookups with $n parameters (extended protocol). */
function pointParams(d: Dataset): Category {
  const uuid2 = cell(d, 'sessions', 2, 0);
  const busy = busiestCustomer(d);
  const located = customerInACountry(d);
  return [
    q('customer $1', 'SELECT * FROM customers WHERE id = $1', false, ['42']),
    q('customer $1 int8 min', 'SELECT * FROM customers WHERE id = $1', false, ['-9223372036854775808']),
    q('customer $1 2^53+1', 'SELECT id, name FROM customers WHERE id = $1', false, ['9007199254740993']),
    q('customer $1::int8', 'SELECT id, name, vip FROM customers WHERE id = $1::int8', false, ['17']),
    q('customer $1 absent', 'SELECT * FROM customers WHERE id = $1', false, ['123123123']),
    q('customer $1 NULL', 'SELECT * FROM customers WHERE id = $1', false, [null]),
    q('key and $2', 'SELECT id, name FROM customers WHERE id = $1 AND visits > $2', false, ['5', '-1']),
    q('key is $2', 'SELECT id FROM customers WHERE country = $1 AND id = $2', false, [located.country, located.id]),
    q('orders $1 with LIMIT $2', 'SELECT id, amount FROM orders WHERE customer_id = $1 ORDER BY id LIMIT $2', true, [busy, '3']),
    q('product $1 non-ASCII', 'SELECT * FROM products WHERE sku = $1', false, ['日本茶']),
    q('product $1 newline', 'SELECT sku, stock FROM products WHERE sku = $1', false, ['line\nbreak']),
    q('product $1 empty', 'SELECT * FROM products WHERE sku = $1', false, ['']),
    q('product $1 trailing space', 'SELECT sku FROM products WHERE sku = $1', false, ['trail space ']),
    q('session $1', 'SELECT * FROM sessions WHERE id = $1', false, [uuid2]),
    q('list table $1', 'SELECT * FROM regions_events WHERE region = $1 ORDER BY id', true, ['uk']),
    q('range table $1', 'SELECT * FROM readings WHERE sensor = $1 ORDER BY seq', true, ['4999']),
    q('scatter with $1', 'SELECT count(*) FROM orders WHERE amount > $1', false, ['500']),
    q('scatter range $1 $2', 'SELECT id FROM customers WHERE visits BETWEEN $1 AND $2 ORDER BY id', true, ['100', '110']),
  ];
}

/** IN lists, OR of keys, ANY, ranges over range-ruled keys. */
function inLists(d: Dataset): Category {
  const u = [0, 1, 2].map((i) => cell(d, 'sessions', i, 0));
  return [
    q('IN ids', 'SELECT id, name FROM customers WHERE id IN (1, 2, 3, 250, 599)', false),
    q('IN extreme ids ordered', 'SELECT id FROM customers WHERE id IN (0, -7, 9223372036854775807, -9223372036854775808) ORDER BY id', true),
    q('OR of keys', 'SELECT id, balance FROM customers WHERE id = 5 OR id = 77', false),
    q('OR of keys AND filter', 'SELECT id FROM customers WHERE (id = 5 OR id = 6) AND visits >= 0', false),
    q('IN params', 'SELECT id, country FROM customers WHERE id IN ($1, $2, $3)', false, ['10', '20', '30']),
    q('= ANY($1)', 'SELECT id FROM customers WHERE id = ANY($1::int8[]) ORDER BY id', true, ['{11,12,13,14}']),
    q('= ANY(array literal)', "SELECT id FROM customers WHERE id = ANY('{1,100,200,300}'::int8[]) ORDER BY id", true),
    q('orders IN customers', 'SELECT * FROM orders WHERE customer_id IN (42, 43, 44) ORDER BY customer_id, id', true),
    q('products IN skus', "SELECT sku, price FROM products WHERE sku IN ('café', 'SKU-0010', 'ａｂｃ', 'nope')", false),
    q('sessions IN uuids', `SELECT id, customer_id FROM sessions WHERE id IN ('${u[0]}', '${u[1]}', '${u[2]}')`, false),
    q('list IN', "SELECT * FROM regions_events WHERE region IN ('eu', 'us') ORDER BY region, id", true),
    q('list IN default shard only', "SELECT region, count(*) FROM regions_events WHERE region IN ('jp', 'br', 'EU', 'de') GROUP BY region ORDER BY region", true),
    q('range IN', 'SELECT * FROM readings WHERE sensor IN (10, 1500, 6000, 999, 1000) ORDER BY sensor, seq', true),
    q('range BETWEEN across a boundary', 'SELECT sensor, count(*) FROM readings WHERE sensor BETWEEN 990 AND 1010 GROUP BY sensor ORDER BY sensor', true),
    q('range half-open across 5000', 'SELECT sensor, seq FROM readings WHERE sensor >= 4990 AND sensor < 5010 ORDER BY sensor, seq', true),
    q('NOT IN', 'SELECT count(*) FROM customers WHERE id NOT IN (1, 2, 3)', false),
    q('IN with LIMIT OFFSET', 'SELECT id FROM customers WHERE id IN (1, 2, 3, 4, 5, 6) ORDER BY id DESC LIMIT 2 OFFSET 1', true),
  ];
}

/** Joins of co-located tables (customers and orders on the key). */
function colocatedJoins(d: Dataset): Category {
  const busy = busiestCustomer(d);
  return [
    q('join, key fixed', `SELECT c.name, o.id, o.amount FROM customers c JOIN orders o ON o.customer_id = c.id WHERE c.id = ${busy} ORDER BY o.id`, true),
    q('join, key fixed by $1', 'SELECT c.name, o.id, o.status FROM customers c JOIN orders o ON o.customer_id = c.id WHERE o.customer_id = $1 ORDER BY o.id', true, ['43']),
    q('join, key 2^53+1', 'SELECT c.id, o.id FROM customers c JOIN orders o ON c.id = o.customer_id WHERE o.customer_id = 9007199254740993 ORDER BY o.id', true),
    q('join, keys IN', 'SELECT c.id, o.id, o.qty FROM customers c JOIN orders o ON o.customer_id = c.id WHERE c.id IN (1, 2, 3) ORDER BY c.id, o.id', true),
    q('implicit join', 'SELECT c.id, o.id FROM customers c, orders o WHERE o.customer_id = c.id AND c.id IN (4, 5, 6) ORDER BY c.id, o.id', true),
    q('join, no key', 'SELECT c.id, c.name, o.id, o.status FROM customers c JOIN orders o ON o.customer_id = c.id WHERE o.amount > 990', false),
    q('join, group by customer attribute', 'SELECT c.country, count(*), sum(o.amount) FROM customers c JOIN orders o ON o.customer_id = c.id GROUP BY c.country ORDER BY c.country NULLS FIRST', true),
    q('join, order by amount limit', 'SELECT c.id, c.name, o.amount FROM customers c JOIN orders o ON o.customer_id = c.id ORDER BY o.amount DESC, o.id LIMIT 10', true),
    q('join, avg and max per status', 'SELECT o.status, avg(o.amount), max(c.balance), count(*) FROM orders o JOIN customers c ON c.id = o.customer_id GROUP BY o.status ORDER BY o.status', true),
    q('left join, customers without orders', 'SELECT c.id, count(o.id) FROM customers c LEFT JOIN orders o ON o.customer_id = c.id GROUP BY c.id HAVING count(o.id) = 0 ORDER BY c.id', true),
    q('left join count', 'SELECT count(*), count(o.id) FROM customers c LEFT JOIN orders o ON o.customer_id = c.id', false),
    q('EXISTS on the key', "SELECT count(*) FROM customers c WHERE EXISTS (SELECT 1 FROM orders o WHERE o.customer_id = c.id AND o.status = 'returned')", false),
    q('NOT EXISTS on the key', 'SELECT c.id FROM customers c WHERE NOT EXISTS (SELECT 1 FROM orders o WHERE o.customer_id = c.id) ORDER BY c.id LIMIT 5', true),
    q('join, top customers by items', 'SELECT c.id, sum(o.qty) AS items FROM customers c JOIN orders o ON o.customer_id = c.id GROUP BY c.id ORDER BY items DESC, c.id LIMIT 5', true),
  ];
}

/** Joins with the reference table, and reads of it. */
function referenceJoins(d: Dataset): Category {
  const located = customerInACountry(d, 3);
  return [
    q('customer with country name', `SELECT c.id, k.name FROM customers c JOIN countries k ON k.code = c.country WHERE c.id = ${located.id}`, false),
    q('count per continent', 'SELECT k.continent, count(*) FROM customers c JOIN countries k ON k.code = c.country GROUP BY k.continent ORDER BY k.continent', true),
    q('three-way join, EU revenue', 'SELECT k.name, sum(o.amount), count(*) FROM orders o JOIN customers c ON c.id = o.customer_id JOIN countries k ON k.code = c.country WHERE k.eu GROUP BY k.name ORDER BY k.name', true),
    q('left join reference', 'SELECT c.id, c.country, k.name FROM customers c LEFT JOIN countries k ON k.code = c.country WHERE c.id BETWEEN 1 AND 30', false),
    q('IN (subquery on reference)', 'SELECT count(*) FROM customers c WHERE c.country IN (SELECT code FROM countries WHERE eu)', false),
    q('join on a reference code, ordered', "SELECT c.id, k.name FROM customers c JOIN countries k ON k.code = c.country WHERE k.code = 'JP' ORDER BY c.id", true),
    q('list table join reference', "SELECT e.id, k.name FROM regions_events e JOIN countries k ON lower(k.code) = e.region WHERE e.region = 'jp' ORDER BY e.id", true),
    q('whole reference table', 'SELECT * FROM countries ORDER BY code', true),
    q('reference group by', 'SELECT continent, count(*) FROM countries GROUP BY continent ORDER BY 2 DESC, 1', true),
    q('reference non-ASCII order', 'SELECT name FROM countries ORDER BY name DESC', true),
  ];
}

/** Aggregates without GROUP BY, over int4, int8, numeric, float8, text, date, timestamptz, bool. */
function aggregates(d: Dataset): Category {
  const busy = busiestCustomer(d);
  return [
    q('count(*)', 'SELECT count(*) FROM customers', false),
    q('count(col) per nullable column', 'SELECT count(*), count(email), count(country), count(balance), count(score), count(vip), count(signup), count(last_seen) FROM customers', false),
    q('sum/min/max int4', 'SELECT sum(visits), min(visits), max(visits) FROM customers', false),
    q('sum/min/max int8', 'SELECT sum(points), min(points), max(points) FROM customers', false),
    q('sum/min/max numeric', 'SELECT sum(balance), min(balance), max(balance) FROM customers', false),
    q('sum/min/max int8 keys', 'SELECT sum(id), min(id), max(id) FROM customers', false),
    q('avg int4', 'SELECT avg(visits) FROM customers', false),
    q('avg int8', 'SELECT avg(points) FROM customers', false),
    q('avg numeric', 'SELECT avg(balance) FROM customers', false),
    q('avg numeric and int4 together', 'SELECT avg(amount), avg(qty), count(*) FROM orders', false),
    q('min/max/count float8 with NaN and infinities', 'SELECT min(score), max(score), count(score) FROM customers', false),
    q('min/max float8', 'SELECT min(weight), max(weight), count(weight) FROM orders', false),
    q('min/max text', 'SELECT min(name), max(name) FROM customers', false),
    q('min/max text keys', 'SELECT min(sku), max(sku) FROM products', false),
    q('min/max date with BC and infinity', 'SELECT min(signup), max(signup) FROM customers', false),
    q('min/max timestamptz', 'SELECT min(last_seen), max(last_seen) FROM customers', false),
    q('min/max timestamptz, not null', 'SELECT min(placed_at), max(placed_at), count(placed_at) FROM orders', false),
    q('sum of an expression', 'SELECT sum(amount * qty) FROM orders', false),
    q('count with WHERE', "SELECT count(*) FROM orders WHERE status = 'paid'", false),
    q('count FILTER', 'SELECT count(*) FILTER (WHERE vip), count(*) FILTER (WHERE NOT vip) FROM customers', false),
    q('bool_and/bool_or sharded', 'SELECT bool_and(vip), bool_or(vip) FROM customers', false),
    q('bool_and/bool_or reference', 'SELECT bool_and(eu), bool_or(eu) FROM countries', false),
    q('numeric(10,3) aggregates', 'SELECT avg(value), sum(value), min(value), max(value) FROM readings', false),
    q('list table aggregates', 'SELECT count(*), sum(amount), avg(amount) FROM regions_events', false),
    q('single-shard aggregates', `SELECT count(*), sum(amount), avg(amount), min(placed_at) FROM orders WHERE customer_id = ${busy}`, false),
    q('products aggregates', 'SELECT sum(stock), avg(price), max(price), min(stock) FROM products', false),
    q('aliased aggregates', "SELECT count(*) AS n, sum(visits) AS total FROM customers WHERE country = 'DE'", false),
    q('avg over partly NULL int4', 'SELECT avg(duration_s), count(duration_s), count(*) FROM sessions', false),
    q('count with LIKE non-ASCII', "SELECT count(*) FROM customers WHERE name LIKE '%é%'", false),
    q('aggregates with $1', 'SELECT count(*), max(amount) FROM orders WHERE qty > $1', false, ['15']),
  ];
}

/** GROUP BY, including group keys that are not selected and expressions. */
function groupBy(): Category {
  return [
    q('count per country', 'SELECT country, count(*) FROM customers GROUP BY country', false),
    q('aggregates per country ordered', 'SELECT country, count(*), sum(balance), avg(balance), min(score), max(visits) FROM customers GROUP BY country ORDER BY country', true),
    q('group key not selected', 'SELECT count(*) FROM customers GROUP BY country', false),
    q('group key not selected, sums', 'SELECT sum(amount), count(*) FROM orders GROUP BY status', false),
    q('two group keys', 'SELECT status, qty, count(*) FROM orders GROUP BY status, qty ORDER BY status, qty', true),
    q('group by bool', 'SELECT vip, count(*), min(balance), max(balance) FROM customers GROUP BY vip ORDER BY vip NULLS FIRST', true),
    q('group by extract year', 'SELECT extract(year FROM signup) AS y, count(*) FROM customers GROUP BY y ORDER BY y', true),
    q('group by month, latest six', "SELECT date_trunc('month', placed_at) AS m, count(*), sum(amount) FROM orders GROUP BY m ORDER BY m DESC LIMIT 6", true),
    q('group by ordinal, order by count', 'SELECT status, count(*) FROM orders GROUP BY 1 ORDER BY 2 DESC, 1', true),
    q('group by key, top 10', 'SELECT customer_id, count(*), sum(amount) FROM orders GROUP BY customer_id ORDER BY count(*) DESC, customer_id LIMIT 10', true),
    q('list table groups', 'SELECT region, kind, sum(amount) FROM regions_events GROUP BY region, kind ORDER BY region, kind', true),
    q('non-ASCII group keys', 'SELECT category, count(*), avg(price), min(stock), max(stock) FROM products GROUP BY category ORDER BY category', true),
    q('NULL group first', 'SELECT device, count(*), avg(duration_s) FROM sessions GROUP BY device ORDER BY device NULLS FIRST', true),
    q('group by expression on range key', 'SELECT sensor / 1000 AS band, count(*), avg(value) FROM readings GROUP BY sensor / 1000 ORDER BY band', true),
    q('two nullable group keys', 'SELECT country, vip, count(*) FROM customers GROUP BY country, vip ORDER BY country NULLS FIRST, vip NULLS LAST', true),
    q('group by lower(name)', 'SELECT lower(name) AS n, count(*) FROM customers GROUP BY lower(name) ORDER BY n LIMIT 12', true),
    q('group with WHERE', 'SELECT country, count(*) FROM customers WHERE balance > 50000 GROUP BY country ORDER BY country', true),
    q('group by date', 'SELECT at, count(*) FROM regions_events GROUP BY at ORDER BY count(*) DESC, at LIMIT 5', true),
  ];
}

/** HAVING on selected and unselected aggregates and on group keys. */
function having(): Category {
  return [
    q('HAVING count', 'SELECT country, count(*) FROM customers GROUP BY country HAVING count(*) > 28 ORDER BY country', true),
    q('HAVING on an unselected sum', 'SELECT country, count(*) FROM customers GROUP BY country HAVING sum(balance) > 1500000 ORDER BY country', true),
    q('HAVING on an unselected avg', 'SELECT status FROM orders GROUP BY status HAVING avg(amount) > 495 ORDER BY status', true),
    q('HAVING per key', 'SELECT customer_id, count(*) FROM orders GROUP BY customer_id HAVING count(*) >= 8 ORDER BY customer_id', true),
    q('HAVING AND', 'SELECT qty, min(amount) FROM orders GROUP BY qty HAVING min(amount) < 3 AND count(*) > 95 ORDER BY qty', true),
    q('HAVING OR', 'SELECT category FROM products GROUP BY category HAVING max(price) > 4990 OR count(*) < 80 ORDER BY category', true),
    q('HAVING on the group key', 'SELECT vip, count(*) FROM customers GROUP BY vip HAVING vip IS NOT NULL ORDER BY vip', true),
    q('HAVING with $1', 'SELECT region, sum(amount) FROM regions_events GROUP BY region HAVING sum(amount) > $1 ORDER BY region', true, ['20000']),
    q('HAVING NOT', 'SELECT country, count(*) FROM customers GROUP BY country HAVING NOT (count(*) < 30) ORDER BY country', true),
    q('HAVING without GROUP BY, false', 'SELECT count(*) FROM customers HAVING count(*) > 1000000', false),
    q('HAVING without GROUP BY, true', 'SELECT count(*), sum(visits) FROM customers HAVING count(*) > 0', false),
  ];
}

/** ORDER BY (ASC/DESC, NULLS FIRST/LAST, every type, several keys, keys not selected) with LIMIT/OFFSET. */
function orderLimit(): Category {
  return [
    q('int8 asc limit', 'SELECT id, name FROM customers ORDER BY id LIMIT 10', true),
    q('int8 desc limit', 'SELECT id, name FROM customers ORDER BY id DESC LIMIT 10', true),
    q('limit offset', 'SELECT id FROM customers ORDER BY id LIMIT 10 OFFSET 295', true),
    q('numeric desc nulls last', 'SELECT id, balance FROM customers ORDER BY balance DESC NULLS LAST, id LIMIT 15', true),
    q('numeric asc nulls first', 'SELECT id, balance FROM customers ORDER BY balance ASC NULLS FIRST, id LIMIT 40', true),
    q('numeric desc (nulls first by default)', 'SELECT id, balance FROM customers ORDER BY balance DESC, id LIMIT 40', true),
    q('numeric asc (nulls last by default), tail', 'SELECT id, balance FROM customers ORDER BY balance, id OFFSET 560', true),
    q('non-ASCII text asc', 'SELECT id, name FROM customers ORDER BY name, id LIMIT 60', true),
    q('non-ASCII text desc', 'SELECT name, id FROM customers ORDER BY name DESC, id DESC LIMIT 60', true),
    q('date nulls first (BC, -infinity)', 'SELECT id, signup FROM customers ORDER BY signup NULLS FIRST, id LIMIT 70', true),
    q('date desc nulls last (infinity)', 'SELECT id, signup FROM customers ORDER BY signup DESC NULLS LAST, id LIMIT 20', true),
    q('timestamptz desc', 'SELECT id, last_seen FROM customers ORDER BY last_seen DESC, id LIMIT 70', true),
    q('float8 desc nulls last (NaN, Infinity)', 'SELECT id, score FROM customers ORDER BY score DESC NULLS LAST, id LIMIT 10', true),
    q('float8 asc (-Infinity)', 'SELECT id, score FROM customers ORDER BY score, id LIMIT 10', true),
    q('float8 with NULLs', 'SELECT weight, customer_id, id FROM orders ORDER BY weight DESC NULLS LAST, customer_id, id LIMIT 10', true),
    q('multi-key numeric desc', 'SELECT customer_id, id, amount FROM orders ORDER BY amount DESC, customer_id, id LIMIT 25', true),
    q('multi-key text, timestamptz desc', 'SELECT status, placed_at, customer_id, id FROM orders ORDER BY status, placed_at DESC, customer_id, id LIMIT 30', true),
    q('sort key not selected', 'SELECT name FROM customers ORDER BY balance DESC NULLS LAST, id LIMIT 10', true),
    q('sort by expression not selected', 'SELECT id FROM customers ORDER BY lower(name), id LIMIT 15', true),
    q('sort by alias', 'SELECT id, visits AS v FROM customers ORDER BY v DESC, id LIMIT 12', true),
    q('sort by ordinals', 'SELECT id, visits FROM customers ORDER BY 2, 1 LIMIT 12', true),
    q('offset without limit', 'SELECT * FROM customers ORDER BY id OFFSET 590', true),
    q('LIMIT $1 OFFSET $2', 'SELECT id FROM customers ORDER BY id LIMIT $1 OFFSET $2', true, ['7', '100']),
    q('price desc', 'SELECT sku, price FROM products ORDER BY price DESC, sku LIMIT 10', true),
    q('every text key in order', 'SELECT sku FROM products ORDER BY sku', true),
    q('text keys desc', 'SELECT sku FROM products ORDER BY sku DESC LIMIT 25', true),
    q('timestamptz asc', 'SELECT id, started_at FROM sessions ORDER BY started_at, id LIMIT 10', true),
    q('uuid order', 'SELECT id FROM sessions ORDER BY id LIMIT 10', true),
    q('uuid order desc', 'SELECT id, customer_id FROM sessions ORDER BY id DESC LIMIT 10', true),
    q('list table order', 'SELECT region, id FROM regions_events ORDER BY region DESC, id LIMIT 20', true),
    q('range table by value', 'SELECT sensor, seq, value FROM readings ORDER BY value DESC, sensor, seq LIMIT 10', true),
    q('range table by key with offset', 'SELECT sensor, seq FROM readings ORDER BY sensor, seq LIMIT 10 OFFSET 100', true),
    q('FETCH FIRST', 'SELECT id, name FROM customers ORDER BY id FETCH FIRST 5 ROWS ONLY', true),
    q('LIMIT ALL', 'SELECT id FROM customers ORDER BY id LIMIT ALL OFFSET 595', true),
    q('bool nulls first', 'SELECT id, vip FROM customers ORDER BY vip NULLS FIRST, id LIMIT 130', true),
    q('filtered, text desc', "SELECT id, name, country FROM customers WHERE country = 'DE' ORDER BY name DESC, id", true),
    q('negative int8', 'SELECT id, points FROM customers ORDER BY points, id LIMIT 10', true),
    q('NULL block boundary', 'SELECT id, email FROM customers ORDER BY email NULLS FIRST, id LIMIT 10 OFFSET 85', true),
    q('whole table by key', 'SELECT id FROM customers ORDER BY id', true),
    q('int4 desc with ties', 'SELECT qty, customer_id, id FROM orders ORDER BY qty DESC, customer_id DESC, id DESC LIMIT 20', true),
  ];
}

/** DISTINCT, unordered and ordered, on nullable and non-ASCII columns. */
function distinct(): Category {
  return [
    q('distinct country', 'SELECT DISTINCT country FROM customers', false),
    q('distinct country ordered', 'SELECT DISTINCT country FROM customers ORDER BY country NULLS FIRST', true),
    q('distinct status', 'SELECT DISTINCT status FROM orders ORDER BY status', true),
    q('distinct pair', 'SELECT DISTINCT vip, country FROM customers', false),
    q('distinct with limit', 'SELECT DISTINCT qty FROM orders ORDER BY qty DESC LIMIT 5', true),
    q('distinct non-ASCII', 'SELECT DISTINCT category FROM products ORDER BY category', true),
    q('distinct names', 'SELECT DISTINCT name FROM customers ORDER BY name LIMIT 40', true),
    q('distinct with NULL', 'SELECT DISTINCT device FROM sessions', false),
    q('distinct list keys', 'SELECT DISTINCT region FROM regions_events ORDER BY region', true),
    q('distinct key with filter', 'SELECT DISTINCT customer_id FROM orders WHERE amount > 995 ORDER BY customer_id', true),
    q('distinct expression', 'SELECT DISTINCT extract(year FROM placed_at) AS y FROM orders ORDER BY y', true),
    q('distinct with offset', 'SELECT DISTINCT country FROM customers ORDER BY country LIMIT 5 OFFSET 3', true),
  ];
}

/** NULL handling. */
function nulls(): Category {
  return [
    q('IS NULL', 'SELECT id FROM customers WHERE email IS NULL ORDER BY id', true),
    q('count IS NULL', 'SELECT count(*) FROM customers WHERE balance IS NULL', false),
    q('count(col) vs count(*) in a NULL group', 'SELECT count(*), count(balance), count(score), count(email) FROM customers WHERE country IS NULL', false),
    q('IS NOT NULL AND IS NULL', 'SELECT id, email FROM customers WHERE email IS NOT NULL AND vip IS NULL ORDER BY id LIMIT 10', true),
    q('coalesce group', "SELECT coalesce(country, '??') AS c, count(*) FROM customers GROUP BY 1 ORDER BY 1", true),
    q('IS NOT TRUE', 'SELECT id FROM customers WHERE vip IS NOT TRUE ORDER BY id LIMIT 10', true),
    q('aggregates over only NULLs', 'SELECT sum(duration_s), avg(duration_s), max(duration_s), count(duration_s), count(*) FROM sessions WHERE duration_s IS NULL', false),
    q('count(note) vs count(*)', 'SELECT count(note), count(*) FROM orders', false),
    q('NULL literal column', 'SELECT id, NULL::text AS nothing FROM customers WHERE id = 1', false),
    q('NaN equals NaN', "SELECT id FROM customers WHERE score = 'NaN'", false),
    q('NULL in IN list', 'SELECT id FROM customers WHERE id IN (1, NULL, 2) ORDER BY id', true),
    q('comparison with NULL matches nothing', 'SELECT count(*) FROM customers WHERE balance = NULL', false),
  ];
}

/** Empty results, LIMIT 0, offsets past the end, aggregates over empty sets. */
function empties(): Category {
  return [
    q('single-shard empty', 'SELECT * FROM customers WHERE id = -1', false),
    q('scatter empty', 'SELECT * FROM customers WHERE balance > 100000000', false),
    q('LIMIT 0', 'SELECT id FROM customers ORDER BY id LIMIT 0', true),
    q('LIMIT 0 unordered', 'SELECT * FROM orders LIMIT 0', false),
    q('OFFSET past the end', 'SELECT id FROM customers ORDER BY id OFFSET 100000', true),
    q('OFFSET exactly at the end', 'SELECT id FROM customers ORDER BY id LIMIT 5 OFFSET 600', true),
    q('aggregates over an empty scatter', 'SELECT count(*), sum(balance), min(balance), max(balance), avg(balance) FROM customers WHERE balance > 100000000', false),
    q('aggregates over an empty single shard', 'SELECT count(*), sum(visits), avg(visits), min(name) FROM customers WHERE id = -1', false),
    q('aggregates WHERE false', 'SELECT count(*), sum(amount), avg(qty) FROM orders WHERE false', false),
    q('GROUP BY over nothing', 'SELECT status, count(*) FROM orders WHERE amount < 0 GROUP BY status', false),
    q('DISTINCT over nothing', 'SELECT DISTINCT country FROM customers WHERE balance > 100000000', false),
    q('min/max of absent keys', 'SELECT max(name), min(signup) FROM customers WHERE id IN (-1, -2)', false),
    q('absent text key', "SELECT * FROM products WHERE sku = 'does-not-exist'", false),
    q('list default shard empty', "SELECT count(*) FROM regions_events WHERE region = 'zz'", false),
    q('range beyond data', 'SELECT count(*), max(value) FROM readings WHERE sensor > 100000', false),
    q('no table', 'SELECT 1 AS one', false),
  ];
}

/** Scatter reads with filters and expressions in the select list. */
function misc(d: Dataset): Category {
  const busy = busiestCustomer(d);
  return [
    q('expressions in select', 'SELECT id, balance * 2 AS doubled, upper(name) FROM customers WHERE visits > 990', false),
    q('LIKE non-ASCII prefix', "SELECT id, name FROM customers WHERE name LIKE 'É%' ORDER BY id", true),
    q('date range', "SELECT id, signup FROM customers WHERE signup BETWEEN '2020-01-01' AND '2020-03-31' ORDER BY id", true),
    q('timestamptz range', "SELECT count(*) FROM orders WHERE placed_at >= '2024-01-01' AND placed_at < '2024-07-01'", false),
    q('key BETWEEN (hash: every shard)', 'SELECT id, length(name), octet_length(name) FROM customers WHERE id BETWEEN 1 AND 20 ORDER BY id', true),
    q('LIKE in nullable column', "SELECT sku, tags FROM products WHERE tags LIKE '%été%' ORDER BY sku", true),
    q('title backslash-N', "SELECT sku, title FROM products WHERE title = '\\N'", false),
    q('non-key column of a uuid table', 'SELECT count(*) FROM sessions WHERE customer_id = 42', false),
    q('concatenation', "SELECT id::text || '-' || coalesce(email, '') AS x FROM customers WHERE id = 9", false),
    q('CASE', "SELECT id, CASE WHEN balance < 0 THEN 'neg' WHEN balance IS NULL THEN 'none' ELSE 'pos' END FROM customers WHERE id <= 25 ORDER BY id", true),
    q('uuid text ops', "SELECT count(*) FROM sessions WHERE id::text LIKE 'a%'", false),
    q('array_agg on one shard', `SELECT array_agg(id ORDER BY id) FROM orders WHERE customer_id = ${busy}`, false),
  ];
}

/**
 * Expressions over aggregates on several shards: the proxy merges the plain aggregates and computes
 * the expression itself. NULL and empty groups, negative numbers, int8 and numeric extremes, NaN and
 * infinities, integer division, casts with rounding, overflow and division by zero (same error); %,
 * abs, numeric(p, s), ||, CASE (conditions over aggregates, grouped ones, simple CASE) and $n.
 */
function aggregateExpressions(): Category {
  return [
    q('coalesce of every aggregate', 'SELECT coalesce(sum(balance), 0), coalesce(sum(visits), 0), coalesce(min(score), 0), coalesce(max(points), 0), coalesce(avg(balance), 0), coalesce(count(email), 0) FROM customers', false),
    q('coalesce over an empty set', "SELECT coalesce(sum(balance), 0) AS s, coalesce(max(visits), -1), coalesce(avg(points), 0.0), coalesce(count(*), 0), coalesce(min(name), 'none') FROM customers WHERE balance > 100000000", false),
    q('coalesce over only NULLs', "SELECT coalesce(sum(duration_s), 0), coalesce(avg(duration_s), 0), coalesce(max(device), 'none'), coalesce(sum(duration_s), 0.5) FROM sessions WHERE duration_s IS NULL", false),
    q('coalesce per group, NULL group', "SELECT country, coalesce(sum(balance), 0) AS total, coalesce(max(email), '-') AS last_email, coalesce(sum(balance), -1.5) FROM customers GROUP BY country ORDER BY country NULLS FIRST", true),
    q('coalesce with a wider constant', 'SELECT coalesce(sum(visits), 2147483648), coalesce(min(visits), 0.25), coalesce(max(visits), 1e3), coalesce(max(points), 9223372036854775808) FROM customers', false),
    q('integer casts of sum and avg', 'SELECT sum(qty)::int, sum(amount)::bigint, sum(amount)::int, avg(qty)::int, avg(amount)::integer, avg(qty)::smallint FROM orders', false),
    q('numeric, float and text casts', 'SELECT sum(qty)::numeric, avg(amount)::numeric, sum(amount)::float8, avg(qty)::double precision, sum(qty)::text, avg(amount)::text, count(*)::text, count(*)::numeric, max(id)::text, sum(amount)::real FROM orders', false),
    q('casts per group, negatives', 'SELECT status, sum(amount)::int AS s, (-sum(amount))::int, avg(amount)::int8, (sum(qty) - 1000)::int2 FROM orders GROUP BY status ORDER BY status', true),
    q('numeric to int rounds half away from zero', "SELECT (sum(amount) * 0 + 2.5)::int, (sum(amount) * 0 - 2.5)::int, (sum(amount) * 0 + 3.5)::int8, round(sum(amount) * 0 + 2.5), round(sum(amount) * 0 - 0.5) FROM orders", false),
    q('float to int rounds half to even', 'SELECT (max(weight) * 0 + 2.5)::int, (max(weight) * 0 + 3.5)::int, (max(weight) * 0 - 2.5)::int8, round(max(weight) * 0 + 2.5), round(max(weight) * 0 + 0.5) FROM orders WHERE weight IS NOT NULL', false),
    q('integer division', 'SELECT sum(qty) / count(*), (-sum(qty)) / 7, count(*) / 3, sum(qty) / 7, min(qty) / max(qty), (-max(qty)) / 3 FROM orders', false),
    q('numeric division scale', 'SELECT sum(amount) / count(*), sum(amount) / 3, 1 / sum(amount), sum(amount) / sum(qty), avg(amount) / 7 FROM orders', false),
    q('per-group averages by division', 'SELECT status, sum(amount) / count(*) AS mean, sum(qty) / count(*) AS int_mean, 100.0 * count(*) / 2000 AS pct FROM orders GROUP BY status ORDER BY status', true),
    q('differences of sums, negative', 'SELECT sum(visits) - sum(points), sum(points) - sum(visits), sum(balance) - sum(balance), max(points) - min(points), min(visits) - max(visits) FROM customers', false),
    q('100.0 * count(*)', 'SELECT 100.0 * count(*), count(*) * 100, 100.0 * count(email) / count(*), 2.5 * sum(visits) FROM customers', false),
    q('round of avg and sum', 'SELECT round(avg(amount), 2), round(avg(qty), 1), round(sum(amount)), round(avg(amount)), round(avg(qty)), round(avg(amount), -1), round(sum(qty), -2), round(avg(amount), 6) FROM orders', false),
    q('round of int8 is double precision', 'SELECT round(sum(visits)), round(count(*)), round(max(points)) FROM customers', false),
    q('round of numeric(10,3) per group', 'SELECT sensor / 1000 AS bucket, round(avg(value), 2), sum(value) - min(value), round(sum(value), 1) FROM readings GROUP BY 1 ORDER BY 1', true),
    q('unary minus and plus', 'SELECT -sum(balance), -count(*), -max(visits), +min(points), -avg(balance) FROM customers', false),
    q('nullif guards a division', 'SELECT sum(balance) / nullif(count(balance), 0), sum(visits) / nullif(count(*) - count(*), 0), nullif(min(visits), 0) FROM customers', false),
    q('nullif over an empty set', 'SELECT sum(balance) / nullif(count(balance), 0), coalesce(sum(visits) / nullif(count(*), 0), -1) FROM customers WHERE balance > 100000000', false),
    q('float min/max arithmetic, NaN and infinities', 'SELECT max(score) * 2, min(score) / 2, coalesce(max(score), 0), min(score)::text, (max(score) - min(score))::numeric, (-min(score))::numeric FROM customers', false),
    q('float min/max arithmetic, finite', 'SELECT max(weight) - min(weight), (max(weight) * 1000)::int8, min(weight)::numeric, max(weight)::text, round(max(weight)) FROM orders', false),
    q('grouped column in the expression', 'SELECT qty, qty * count(*) AS weighted, sum(amount) / qty AS per_unit FROM orders GROUP BY qty ORDER BY qty', true),
    q('GROUP BY ordinal, expression with the group', 'SELECT status, count(*) * 10 + length(status) FROM orders GROUP BY 1 ORDER BY 1', true),
    q('HAVING on an expression', 'SELECT status, count(*) FROM orders GROUP BY status HAVING sum(amount) / count(*) > 490 ORDER BY status', true),
    q('HAVING filters groups before the select list', 'SELECT qty, count(*) / (qty - 5) FROM orders GROUP BY qty HAVING qty <> 5 ORDER BY qty', true),
    q('HAVING AND guards a division', 'SELECT qty, sum(amount) FROM orders GROUP BY qty HAVING qty <> 5 AND count(*) / (qty - 5) > 10 ORDER BY qty', true),
    q('ORDER BY an expression alias', 'SELECT status, sum(amount) - sum(qty) AS d FROM orders GROUP BY status ORDER BY d DESC, status', true),
    q('ORDER BY an expression not selected, LIMIT', 'SELECT status FROM orders GROUP BY status ORDER BY sum(amount) / count(*) DESC LIMIT 3', true),
    q('ORDER BY position of an expression', 'SELECT status, round(100.0 * sum(qty) / count(*), 2) AS pct FROM orders GROUP BY status ORDER BY 2 DESC, 1 LIMIT 4', true),
    q('DISTINCT over expressions', 'SELECT DISTINCT count(*) / 100 FROM orders GROUP BY status', false),
    q('expression with a parameter in WHERE', 'SELECT coalesce(sum(amount), 0), sum(qty) / count(*) FROM orders WHERE qty > $1', false, ['15']),
    q('expression over a join', 'SELECT k.continent, sum(o.amount) / count(*), coalesce(max(c.balance), 0) - min(o.amount) FROM orders o JOIN customers c ON c.id = o.customer_id JOIN countries k ON k.code = c.country GROUP BY k.continent ORDER BY 1', true),
    q('expression on list and range tables', 'SELECT region, coalesce(sum(amount), 0) * 2, (sum(amount) / count(*))::text FROM regions_events GROUP BY region ORDER BY region', true),
    q('int8 extremes in expressions', 'SELECT max(id) - 1, min(id) + 1, max(id) / 2, min(id) / 3, (max(id) / 4)::numeric * 4, (sum(id) / count(*))::text FROM customers', false),
    q('numeric near int8 limits', 'SELECT sum(id)::numeric, (max(id) + 0.5)::text, (min(id) + 0.5)::int8, (max(id) - 0.5)::int8, (max(id) - 0.5)::float8::text FROM customers', false),
    fails('int8 overflow: max + 1', 'SELECT max(id) + 1 FROM customers'),
    fails('int8 overflow: -min', 'SELECT -min(id) FROM customers'),
    fails('int8 overflow: min / -1', 'SELECT min(id) / -1 FROM customers'),
    fails('int4 overflow in a product', 'SELECT max(visits) * 10000000 FROM customers'),
    fails('int2 overflow in a cast', 'SELECT sum(visits)::int2 FROM customers'),
    fails('int8 overflow in a cast', 'SELECT (sum(id) * 1000 + 9223372036854775807)::int8 FROM customers'),
    fails('integer division by zero', 'SELECT sum(qty) / (count(*) - count(*)) FROM orders'),
    fails('numeric division by zero', 'SELECT sum(amount) / (count(*) - count(*)) FROM orders'),
    fails('float division by zero', 'SELECT max(weight) / (count(*) - count(*)) FROM orders'),
    fails('NaN to integer', 'SELECT max(score)::numeric::int FROM customers'),
    fails('float overflow', 'SELECT max(weight) * 1e308 * 1e308 FROM orders'),
    fails('division by zero in a constant', 'SELECT count(*) * (1 / 0) FROM orders WHERE false'),
    fails('division by zero in a group HAVING lets through', 'SELECT qty, count(*) / (qty - 5) FROM orders GROUP BY qty ORDER BY qty'),
    ...moreAggregateExpressions(),
  ];
}

/** %, abs, numeric(p, s), ||, CASE and parameters over merged aggregates. */
function moreAggregateExpressions(): Category {
  return [
    q('modulo of integers and numeric', 'SELECT sum(visits) % 7, count(*) % 3, (-sum(visits)) % 7, max(points) % 1000, min(points) % 1000, sum(balance) % 7, sum(balance) % 0.3, (-sum(balance)) % 7.5, min(id) % -1, max(id) % 2 FROM customers', false),
    q('modulo per group, NULL group', 'SELECT country, sum(visits) % 10, sum(balance) % 3, count(email) % 2 FROM customers GROUP BY country ORDER BY country NULLS FIRST', true),
    // score holds NaN (the max), Infinity and -Infinity (the min).
    q('modulo of NaN and infinities', 'SELECT max(score)::numeric % 2, (-min(score))::numeric % 2, sum(visits)::numeric % (-min(score))::numeric, -sum(visits) % min(score)::numeric, max(score)::numeric % (count(*) - count(*)) FROM customers', false),
    fails('infinity modulo zero', 'SELECT (-min(score))::numeric % (count(*) - count(*)) FROM customers'),
    fails('integer modulo by zero', 'SELECT sum(qty) % (count(*) - count(*)) FROM orders'),
    fails('numeric modulo by zero', 'SELECT sum(amount) % 0 FROM orders'),
    fails('no float modulo', 'SELECT max(score) % 2 FROM customers'),
    q('abs of every number type', 'SELECT abs(sum(balance) - 1000000), abs(-sum(visits)), abs(min(points) - max(points) / 2), abs(min(score)), abs(max(score)), abs(-count(*)), abs(min(visits) - 1000)::int2 FROM customers', false),
    q('abs per group', 'SELECT status, abs(sum(amount) - 100000), abs(min(qty) - max(qty)), abs(min(weight) - 1000) FROM orders GROUP BY status ORDER BY status', true),
    fails('abs of the least bigint', 'SELECT abs(min(id)) FROM customers'),
    fails('abs of the least integer', 'SELECT abs(min(visits) * 0 - 2147483647 - 1) FROM customers'),
    q('numeric(p, s) casts', 'SELECT sum(amount)::numeric(20,1), avg(amount)::numeric(10,3), count(*)::numeric(4), sum(amount)::decimal(14,-2), (max(weight) / 1e12)::numeric(12,2), avg(qty)::numeric(3,1), (count(*) * 0.0000001)::numeric(3,3) FROM orders', false),
    q('numeric(p, s) per group, NULL group', 'SELECT country, sum(balance)::numeric(12), (sum(balance) / count(*))::numeric(10,2), NULL::numeric(3,1) + count(*) FROM customers GROUP BY country ORDER BY country NULLS FIRST', true),
    fails('numeric field overflow', 'SELECT sum(amount)::numeric(4,2) FROM orders'),
    fails('numeric field overflow after rounding', 'SELECT (count(*) * 0 + 999.995)::numeric(5,2) FROM orders'),
    fails('infinity into numeric(p, s)', 'SELECT min(score)::numeric(10,2) FROM customers'),
    q('|| over text', "SELECT count(*)::text || ' customers', 'max: ' || max(name), coalesce(max(email), 'none') || '!', sum(balance)::text || NULL, min(country) || max(country), max(score)::text || ' pts' FROM customers", false),
    q('|| per group with a grouped operand, NULL group', "SELECT country, country || ': ' || count(*)::text, '[' || abs(sum(visits) % 100)::text || ']' FROM customers GROUP BY country ORDER BY country NULLS FIRST", true),
    q('|| over an empty set', "SELECT 'n=' || count(*)::text, max(name) || '?', coalesce(max(name), '') || '.' FROM customers WHERE balance > 100000000", false),
    q('CASE over aggregates per group, NULL group', "SELECT country, CASE WHEN count(*) > 50 THEN 'big' WHEN sum(balance) IS NULL THEN 'no balance' WHEN sum(balance) < 0 OR NOT max(visits) > 10 THEN 'small' ELSE 'mid' END AS size, CASE WHEN count(email) = count(*) THEN sum(visits) ELSE -1 END FROM customers GROUP BY country ORDER BY country NULLS FIRST", true),
    q('CASE result types unify', 'SELECT CASE WHEN count(*) > 0 THEN sum(visits) ELSE 0.5 END, CASE WHEN max(visits) < 0 THEN max(score) ELSE sum(visits) END, CASE WHEN false THEN 1 / 0 ELSE count(*) END, CASE WHEN max(points) > 0 THEN 2147483648 END, CASE WHEN count(*) < 0 THEN 1 END FROM customers', false),
    q('CASE conditions on floats, NaN and infinities', "SELECT CASE WHEN max(score) > 1e300 THEN 'huge' WHEN max(score) = max(score) THEN 'self' END, CASE WHEN min(score) < 0 AND max(score) IS NOT NULL THEN min(score) END, CASE WHEN max(score) <> max(score) THEN 1 ELSE 0 END FROM customers", false),
    q('CASE conditions on floats per group', 'SELECT status, CASE WHEN max(weight) >= min(weight) THEN max(weight) - min(weight) WHEN max(weight) IS NULL THEN -1 END, CASE WHEN avg(weight) > 0 THEN 1 WHEN avg(weight) < 0 THEN -1 ELSE 0 END FROM orders GROUP BY status ORDER BY status', true),
    q('simple CASE on a group column and on an aggregate', "SELECT status, qty, CASE status WHEN 'paid' THEN sum(amount) WHEN 'shipped' THEN -sum(amount) ELSE 0 END, CASE qty % 3 WHEN 0 THEN count(*) END, CASE count(*) % 2 WHEN 0 THEN 'even' ELSE 'odd' END FROM orders GROUP BY status, qty ORDER BY status, qty", true),
    q('CASE on boolean aggregates and grouped conditions', 'SELECT country, CASE WHEN bool_or(vip) THEN count(*) WHEN bool_and(vip) IS NULL THEN -1 ELSE 0 END, CASE WHEN country IS NULL THEN 0 WHEN country < \'M\' THEN sum(visits) END FROM customers GROUP BY country ORDER BY country NULLS FIRST', true),
    q('CASE in HAVING and ORDER BY', 'SELECT status, count(*) FROM orders GROUP BY status HAVING CASE WHEN count(*) % 3 = 0 THEN 1 ELSE 0 END = 1 ORDER BY CASE WHEN sum(qty) > 4100 THEN 0 ELSE 1 END, status', true),
    q('CASE in HAVING, the other half', 'SELECT status, count(*) FROM orders GROUP BY status HAVING CASE WHEN count(*) % 3 = 0 THEN 1 ELSE 0 END = 0 ORDER BY status', true),
    q('a CASE arm not taken is not evaluated', 'SELECT CASE WHEN count(*) = 0 THEN sum(qty) / (count(*) - count(*)) ELSE 1 END, CASE WHEN count(*) > 0 OR sum(qty) / (count(*) - count(*)) > 0 THEN 2 END FROM orders', false),
    fails('division by zero in a CASE arm taken', 'SELECT CASE WHEN count(*) > 0 THEN sum(qty) / (count(*) - count(*)) END FROM orders'),
    fails('division by zero in a constant CASE arm, folded without rows', 'SELECT CASE WHEN count(*) > 0 THEN 1 / 0 END FROM orders WHERE false'),
    q('parameters in expressions over aggregates', 'SELECT coalesce(sum(balance), $1), sum(visits) * $2, count(*) % $3, CASE WHEN sum(visits) > $4 THEN $5 ELSE $6 END, round(avg(balance), 2) + $7::numeric(4,1), max(name) || $8 FROM customers', false, ['0', '2', '7', '100', 'many', 'few', '1.25', ' (last)']),
    q('parameters per group, a NULL parameter', 'SELECT country, sum(visits) + $1, coalesce(min(email), $2), abs(sum(points)) % $3 FROM customers GROUP BY country ORDER BY country NULLS FIRST', true, [null, 'none', '1000']),
    q('HAVING an expression with a parameter', 'SELECT status, count(*) FROM orders GROUP BY status HAVING sum(amount) / $1 > 100 ORDER BY status', true, ['3']),
    fails('a parameter dividing by zero', 'SELECT sum(qty) % $1 FROM orders', ['0']),
    ...namesAndConditions(),
  ];
}

/**
 * Output names (PostgreSQL's FigureColname) and ORDER BY them, greatest/least/mod(), IN, BETWEEN, IS
 * DISTINCT FROM and IS TRUE/FALSE/UNKNOWN in CASE conditions, and the type modifiers PostgreSQL
 * reports for numeric(p, s) inside CASE, coalesce and greatest, over merged aggregates.
 */
function namesAndConditions(): Category {
  return [
    q('ORDER BY a CASE named after its ELSE', "SELECT status, CASE WHEN count(*) > 1000 THEN 0 ELSE sum(qty) END, (sum(amount) - sum(qty))::text, count(*)::text || ' orders' FROM orders GROUP BY status ORDER BY sum DESC, status", true),
    q('output names of expression forms', 'SELECT CASE WHEN count(*) > 0 THEN 1 ELSE max(qty) END, CASE WHEN count(*) > 0 THEN 1 END, CASE WHEN count(*) > 0 THEN 1 ELSE coalesce(max(qty), 0) END, CASE WHEN count(*) > 0 THEN 1 ELSE (max(qty) + 1)::int END, sum(amount)::numeric(14,1), (sum(amount) / 2)::int8, -sum(qty), +sum(qty), nullif(count(*), 0), greatest(max(qty), 0), least(min(qty), 5), mod(count(*), 7), abs(sum(qty)), round(avg(amount), 1) FROM orders', false),
    q('ORDER BY output names per group', 'SELECT country, greatest(max(visits), 0), mod(sum(visits), 10), CASE WHEN count(*) > 0 THEN 0 ELSE min(points) END FROM customers GROUP BY country ORDER BY mod, greatest DESC, min, country NULLS FIRST', true),
    fails('ORDER BY a name two different outputs have', 'SELECT status AS s, count(*) AS s FROM orders GROUP BY status ORDER BY s'),
    q('ORDER BY a name two outputs have, one column', 'SELECT status AS s, orders.status AS s, count(*) FROM orders GROUP BY status ORDER BY s', true),
    q('greatest and least over aggregates', 'SELECT greatest(sum(balance), 0), least(min(visits), max(points)), greatest(max(score), 0), least(min(score), 0), greatest(sum(visits), NULL), least(avg(balance), 1000.5), greatest(count(*), count(email), 2147483648), least(max(score), -min(score)) FROM customers', false),
    q('greatest and least per group, NULL group', 'SELECT country, greatest(sum(balance), min(balance) * 2, -1), least(max(score), sum(visits)), least(max(balance), NULL), greatest(min(visits), 500) - least(max(visits), 500) FROM customers GROUP BY country ORDER BY country NULLS FIRST', true),
    q('greatest and least over an empty set', 'SELECT greatest(sum(balance), NULL), least(max(visits), 1), greatest(count(*), 0) FROM customers WHERE balance > 100000000', false),
    q('mod() over aggregates', 'SELECT mod(sum(visits), 7), mod(count(*), 3), mod(-sum(visits), 7), mod(max(points), 1000), mod(sum(balance), 0.3), mod(min(id), -1), mod(sum(visits), count(*)), mod(max(score)::numeric, 2) FROM customers', false),
    fails('mod() by zero', 'SELECT mod(sum(qty), count(*) - count(*)) FROM orders'),
    q('IN and NOT IN in CASE per group', "SELECT country, CASE WHEN count(*) IN (1, 2, 3) THEN 'few' WHEN count(*) NOT IN (4, 5, NULL) THEN 'never' WHEN count(*) IN (4, max(visits)) THEN 'four' ELSE 'other' END, CASE WHEN max(visits) IN (sum(visits), 1000) THEN 1 ELSE 0 END, CASE WHEN (sum(balance) IN (0, NULL)) IS UNKNOWN THEN 'n' END FROM customers GROUP BY country ORDER BY country NULLS FIRST", true),
    q('IN over floats: NaN, infinities, real', "SELECT CASE WHEN max(score) IN (1e308, 'NaN') THEN 'nan' END, CASE WHEN min(score) NOT IN (0, 1) THEN 1 END, CASE WHEN (-min(score))::numeric IN ('Infinity', 1) THEN 'inf' END, CASE WHEN max(score) NOT IN (min(score), 0) THEN 'ne' END FROM customers", false),
    q('IN over a real compares in real', "SELECT CASE WHEN (max(weight) * 0 + 0.1)::real IN (0.1, 0.2) THEN 'in' ELSE 'out' END, CASE WHEN (max(weight) * 0 + 0.1)::real = 0.1 THEN 'eq' ELSE 'ne' END, CASE WHEN (count(*) * 0 + 16777217)::real IN (16777217, 1) THEN 'in' ELSE 'out' END FROM orders", false),
    q('BETWEEN in CASE per group', "SELECT status, CASE WHEN count(*) BETWEEN 300 AND 400 THEN 'mid' WHEN count(*) NOT BETWEEN 0 AND 300 THEN 'many' ELSE 'few' END, CASE WHEN sum(amount) BETWEEN SYMMETRIC max(amount) * 1000 AND 0 THEN 1 ELSE 0 END, CASE WHEN avg(qty) NOT BETWEEN SYMMETRIC 11 AND 10 THEN 'out' END FROM orders GROUP BY status ORDER BY status", true),
    q('IS DISTINCT FROM in CASE per group', "SELECT country, CASE WHEN sum(balance) IS DISTINCT FROM NULL THEN 'some' ELSE 'none' END, CASE WHEN max(visits) IS NOT DISTINCT FROM min(visits) THEN 1 ELSE 0 END, CASE WHEN min(score) IS DISTINCT FROM max(score) THEN 'range' END FROM customers GROUP BY country ORDER BY country NULLS FIRST", true),
    q('IS TRUE/FALSE/UNKNOWN in CASE per group', "SELECT country, CASE WHEN (sum(balance) > 0) IS TRUE THEN 't' WHEN (sum(balance) > 0) IS FALSE THEN 'f' WHEN (sum(balance) > 0) IS UNKNOWN THEN 'u' END, CASE WHEN bool_or(vip) IS NOT TRUE THEN 1 ELSE 0 END, CASE WHEN bool_and(vip) IS NOT FALSE AND (count(email) > 0) IS NOT UNKNOWN THEN 'x' END FROM customers GROUP BY country ORDER BY country NULLS FIRST", true),
    q('conditions with parameters', 'SELECT CASE WHEN count(*) IN ($1, $2) THEN 1 ELSE 0 END, CASE WHEN sum(qty) BETWEEN $3 AND $4 THEN 1 END, CASE WHEN max(qty) IS DISTINCT FROM $5 THEN 1 END FROM orders', false, ['2000', '1', '0', '100000', null]),
    // PostgreSQL types $1 bigint at `$1 >= count(*)`, and compares that bigint with 5 too.
    q('BETWEEN over an untyped parameter', 'SELECT CASE WHEN $1 BETWEEN count(*) AND 5 THEN 1 ELSE 0 END FROM orders', false, ['3000000000']),
    fails('a constant division by zero in an IN list', 'SELECT CASE WHEN count(*) IN (1 / 0, 1) THEN 1 END FROM orders WHERE false'),
    q('numeric(p, s) type modifiers through CASE, coalesce, greatest', 'SELECT sum(amount)::numeric(14,1), CASE WHEN count(*) > 0 THEN sum(amount)::numeric(14,2) ELSE 0::numeric(14,2) END, CASE WHEN true THEN avg(amount)::numeric(10,3) END, coalesce(sum(amount)::numeric(16,2), NULL), coalesce(max(amount)::numeric(12,2), 0), greatest(min(amount)::numeric(8,1), max(amount)::numeric(8,1)), CASE WHEN count(*) > 0 THEN max(amount)::numeric(12,2) END, nullif(max(amount)::numeric(9,1), 0) FROM orders', false),
    q('type modifiers of a grouped numeric(10,3) column in expressions', 'SELECT value, CASE WHEN count(*) > 1 THEN value ELSE value END, coalesce(value, max(value)), CASE WHEN count(*) > 0 THEN value END, greatest(value, value + count(*) * 0), coalesce(NULL, value, min(value)) FROM readings GROUP BY value ORDER BY 1 LIMIT 50', true),
    q('type modifiers with a NULL parameter folded away', 'SELECT coalesce(sum(amount)::numeric(16,2), $1), CASE WHEN count(*) > $2 THEN max(amount)::numeric(12,1) ELSE min(amount)::numeric(12,1) END FROM orders', false, [null, '5']),
  ];
}

/**
 * ORDER BY with COLLATE: "C", "POSIX" and "ucs_basic" by bytes, ICU collations by the ICU collator,
 * over the non-ASCII names (accents, ß, CJK, emoji above U+FFFF, fullwidth and ligature characters).
 */
function collations(): Category {
  return [
    q('COLLATE "C" asc', 'SELECT name, id FROM customers ORDER BY name COLLATE "C", id LIMIT 80', true),
    q('COLLATE "C" desc', 'SELECT id, name FROM customers ORDER BY name COLLATE "C" DESC, id DESC LIMIT 80', true),
    q('COLLATE "POSIX", not selected', 'SELECT id FROM customers ORDER BY name COLLATE "POSIX", id LIMIT 60', true),
    q('COLLATE ucs_basic', 'SELECT name, id FROM customers ORDER BY name COLLATE ucs_basic DESC, id LIMIT 60', true),
    q('COLLATE "und-x-icu"', 'SELECT name, id FROM customers ORDER BY name COLLATE "und-x-icu", id LIMIT 120', true),
    q('COLLATE "und-x-icu" desc, every name', 'SELECT name, id FROM customers ORDER BY name COLLATE "und-x-icu" DESC, id', true),
    q('COLLATE "de-x-icu" in the select list, ORDER BY 1', 'SELECT DISTINCT name COLLATE "de-x-icu" AS name FROM customers ORDER BY 1 LIMIT 50', true),
    q('COLLATE "C" in the select list, ORDER BY its name', 'SELECT name COLLATE "C" AS n, id FROM customers ORDER BY n DESC, id LIMIT 50', true),
    q('UNION ALL ordered by a collated column', 'SELECT name COLLATE "und-x-icu" AS n FROM customers WHERE id < 100 UNION ALL SELECT name FROM customers WHERE id > 500 ORDER BY 1', true),
    q('COLLATE "sv-x-icu" (å, ä after z)', "SELECT name, id FROM customers WHERE name ~ '^[ÅÄÖZzE]' ORDER BY name COLLATE \"sv-x-icu\", id", true),
    q('COLLATE "en-x-icu" on text keys', 'SELECT sku FROM products ORDER BY sku COLLATE "en-x-icu", sku COLLATE "C"', true),
    q('COLLATE per key: ICU then bytes', 'SELECT category, title FROM products ORDER BY category COLLATE "und-x-icu", title COLLATE "C", sku LIMIT 100', true),
    q('COLLATE in a grouped ORDER BY', 'SELECT name, count(*) FROM customers GROUP BY name ORDER BY name COLLATE "und-x-icu" DESC LIMIT 40', true),
    q('min/max with COLLATE', 'SELECT min(name COLLATE "und-x-icu"), max(name COLLATE "und-x-icu"), min(name COLLATE "C"), max(name COLLATE "C") FROM customers', false),
    q('COLLATE "default"', 'SELECT name, id FROM customers ORDER BY name COLLATE "default", id LIMIT 30', true),
    q('a column with an ICU collation of its own', 'SELECT nick, id FROM customers ORDER BY nick, id LIMIT 100', true),
    q('a column with its own collation, not selected, DESC', 'SELECT id FROM customers ORDER BY nick DESC, id LIMIT 60', true),
    q('a column with its own collation, grouped', 'SELECT nick, count(*) FROM customers GROUP BY nick ORDER BY nick DESC LIMIT 30', true),
    q('a column with its own collation, DISTINCT', 'SELECT DISTINCT nick FROM customers ORDER BY nick LIMIT 40', true),
    q('a column collation overridden by COLLATE', 'SELECT nick, id FROM customers ORDER BY nick COLLATE "C", id LIMIT 40', true),
  ];
}

/** Every read category, in the order they run. */
export function readCategories(d: Dataset): { category: string; cases: Category }[] {
  return [
    { category: 'point lookups (literal)', cases: pointLiteral(d) },
    { category: 'point lookups ($n)', cases: pointParams(d) },
    { category: 'IN lists and OR of keys', cases: inLists(d) },
    { category: 'co-located joins', cases: colocatedJoins(d) },
    { category: 'reference table', cases: referenceJoins(d) },
    { category: 'aggregates', cases: aggregates(d) },
    { category: 'GROUP BY', cases: groupBy() },
    { category: 'HAVING', cases: having() },
    { category: 'ORDER BY, LIMIT, OFFSET', cases: orderLimit() },
    { category: 'DISTINCT', cases: distinct() },
    { category: 'NULL handling', cases: nulls() },
    { category: 'empty results and edges', cases: empties() },
    { category: 'filters and expressions', cases: misc(d) },
    { category: 'expressions over aggregates', cases: aggregateExpressions() },
    { category: 'ORDER BY ... COLLATE', cases: collations() },
  ];
}
