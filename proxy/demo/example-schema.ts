// The demo's example schema, created through the proxy (so its DDL is broadcast to every shard):
// customers sharded by id, orders co-located with them by customer_id, countries copied to every
// shard as a reference table, with a little data. Idempotent, for a demo restarted on its --dir.

import pg from 'pg';

export const EXAMPLE_SHARDING = {
  tables: [
    { name: 'customers', column: 'id', type: 'int8' },
    { name: 'orders', column: 'customer_id', type: 'int8' },
  ],
  referenceTables: ['countries'],
} as const;

export const EXAMPLE_QUERIES = {
  routed: 'SELECT o.id, o.total, c.name FROM orders o JOIN customers c ON c.id = o.customer_id WHERE o.customer_id = 42;',
  scatter: 'SELECT country, count(*) AS customers, sum(balance) AS balance FROM customers GROUP BY country ORDER BY customers DESC, country;',
};

const DDL = [
  'CREATE TABLE IF NOT EXISTS countries (code text PRIMARY KEY, name text NOT NULL)',
  'CREATE TABLE IF NOT EXISTS customers (id bigint PRIMARY KEY, name text NOT NULL, country text NOT NULL, balance numeric(12,2) NOT NULL DEFAULT 0)',
  'CREATE TABLE IF NOT EXISTS orders (customer_id bigint NOT NULL, id bigint NOT NULL, total numeric(12,2) NOT NULL, placed_at timestamptz NOT NULL DEFAULT now(), PRIMARY KEY (customer_id, id))',
];

const COUNTRIES = [
  ['DE', 'Germany'],
  ['FR', 'France'],
  ['JP', 'Japan'],
  ['US', 'United States'],
];

export async function createExampleSchema(connectionString: string): Promise<void> {
  const client = new pg.Client({ connectionString });
  await client.connect();
  try {
    for (const sql of DDL) await client.query(sql);
    await client.query(
      `INSERT INTO countries VALUES ${COUNTRIES.map(([code, name]) => `('${code}', '${name}')`).join(', ')} ON CONFLICT DO NOTHING`,
    );
    const customers: string[] = [];
    const orders: string[] = [];
    for (let id = 1; id <= 100; id++) {
      const country = COUNTRIES[id % COUNTRIES.length]![0];
      customers.push(`(${id}, 'customer ${id}', '${country}', ${(id * 37) % 1000}.${id % 100})`);
      for (let n = 1; n <= id % 4; n++) orders.push(`(${id}, ${n}, ${(id * n * 13) % 500}.99)`);
    }
    // Multi-row INSERTs: the proxy splits the rows by key across the shards.
    await client.query(`INSERT INTO customers (id, name, country, balance) VALUES ${customers.join(', ')} ON CONFLICT DO NOTHING`);
    await client.query(`INSERT INTO orders (customer_id, id, total) VALUES ${orders.join(', ')} ON CONFLICT DO NOTHING`);
  } finally {
    await client.end();
  }
}
