// Regenerates test/unit/hash/fixtures/<type>.bin.gz from a real PostgreSQL 15 (run once; the
// fixtures are committed): node --import tsx test/unit/hash/generate-fixtures.ts
//
// For every key of vectors.ts it stores PostgreSQL's own per-type hash with HASH_PARTITION_SEED
// (format: FixtureHeader in vectors.ts). Before writing, it checks on every key that PostgreSQL's
// partitioning agrees with the bucket the tests derive from that hash,
// b = ((hash + 0x49a0f4dd15e5a8e3) mod 2^64) mod modulus (hash_combine64(0, hash) % modulus; the
// SQL form is the expression documented in docs/placement.md):
// - satisfies_hash_partition(<parent PARTITION BY HASH (k)>, 1024, b, key) is true (the function
//   PostgreSQL's hash partition constraints call);
// - inserted into real tables with 16 and with 10 hash partitions, the key lands (tableoid) in the
//   partition with remainder b for that modulus.
// So a stored hash pins both the hash and, through that verified relation, the bucket.
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';
import pg from 'pg';
import { startLocalCluster } from '../../../proxy/demo/local-cluster.js';
import { KEY_TYPES, type KeyType } from '../../../planner/hash/pg-hash.js';
import { FIXTURE_DIR, FIXTURE_FORMAT, FIXTURE_MODULUS, keysDigest, vectorKeys, type FixtureHeader } from './vectors.js';

/** The SQL hash function of each key type's default hash opclass (with a seed). */
export const SQL_HASH_FUNCTION: Record<KeyType, string> = {
  int2: 'hashint2extended',
  int4: 'hashint4extended',
  int8: 'hashint8extended',
  text: 'hashtextextended',
  varchar: 'hashtextextended',
  uuid: 'uuid_hash_extended',
};

/**
 * The documented placement expression: the bucket of key `k` of `type` for `modulus`.
 * 8816678312871386365 = HASH_PARTITION_SEED; 23752253665144318179 = 2^64 + 0x49a0f4dd15e5a8e3
 * (hash_combine64(0, h) = h + 0x49a0f4dd15e5a8e3 mod 2^64; the 2^64 makes a negative h unsigned).
 */
export function bucketSql(type: KeyType, k: string, modulus: number | string): string {
  return `mod(mod(${SQL_HASH_FUNCTION[type]}(${k}, 8816678312871386365)::numeric + 23752253665144318179, 18446744073709551616), ${modulus})::int`;
}

async function main(): Promise<void> {
  const cluster = await startLocalCluster({
    shards: 1,
    replicas: 0,
    users: [],
    databases: [],
    settings: { fsync: 'off', synchronous_commit: 'off', full_page_writes: 'off' },
    log: (line) => console.error(line),
  });
  try {
    const node = cluster.shards[0]!.primary;
    const client = new pg.Client({ host: node.socketDir, port: node.port, user: cluster.superuser, database: 'postgres' });
    await client.connect();
    try {
      const settings = await client.query<{ v: string; c: string }>(
        `SELECT current_setting('server_version') AS v, current_setting('lc_collate') AS c`,
      );
      const version = settings.rows[0]!.v;
      const collation = settings.rows[0]!.c;
      console.error(`PostgreSQL ${version}, lc_collate ${collation}`);
      mkdirSync(FIXTURE_DIR, { recursive: true });
      for (const type of KEY_TYPES) await generate(client, type, version);
    } finally {
      await client.end();
    }
  } finally {
    await cluster.stop();
  }
}

async function generate(client: pg.Client, type: KeyType, version: string): Promise<void> {
  const t0 = Date.now();
  const keys = vectorKeys(type);
  const q = (sql: string, params?: unknown[]): Promise<pg.QueryResult> => client.query(sql, params);
  await q(`CREATE TABLE keys_${type} (i int PRIMARY KEY, k ${type} NOT NULL)`);
  for (let from = 0; from < keys.length; from += 10_000) {
    const chunk = keys.slice(from, from + 10_000);
    await q(`INSERT INTO keys_${type} SELECT * FROM unnest($1::int[], $2::${type}[])`, [chunk.map((_, j) => from + j), chunk]);
  }
  // Keys must round-trip unchanged (no normalisation by the input function).
  const changed = await q(
    `SELECT count(*)::int AS n FROM keys_${type} JOIN unnest($1::text[]) WITH ORDINALITY AS u(t, o) ON o = i + 1 WHERE k::text <> t`,
    [keys],
  );
  if (changed.rows[0].n !== 0) throw new Error(`${type}: ${changed.rows[0].n} keys changed on input`);

  await q(`CREATE TABLE parent_${type} (k ${type}) PARTITION BY HASH (k)`);
  await q(
    `CREATE TABLE computed_${type} AS SELECT i, k, ${SQL_HASH_FUNCTION[type]}(k, 8816678312871386365) AS h, ${bucketSql(type, 'k', FIXTURE_MODULUS)} AS b FROM keys_${type}`,
  );
  const notSatisfied = await q(
    `SELECT count(*)::int AS n FROM computed_${type} WHERE NOT satisfies_hash_partition('parent_${type}'::regclass, ${FIXTURE_MODULUS}, b, k)`,
  );
  if (notSatisfied.rows[0].n !== 0) throw new Error(`${type}: satisfies_hash_partition disagrees on ${notSatisfied.rows[0].n} keys`);

  for (const modulus of [16, 10]) {
    const parent = `part${modulus}_${type}`;
    await q(`CREATE TABLE ${parent} (i int, k ${type}) PARTITION BY HASH (k)`);
    for (let r = 0; r < modulus; r++) {
      await q(`CREATE TABLE ${parent}_${r} PARTITION OF ${parent} FOR VALUES WITH (MODULUS ${modulus}, REMAINDER ${r})`);
    }
    await q(`INSERT INTO ${parent} SELECT i, k FROM keys_${type}`);
    const wrong = await q(
      `SELECT count(*)::int AS n, count(*) FILTER (WHERE tableoid::regclass::text <> '${parent}_' || ${bucketSql(type, 'k', modulus)})::int AS wrong FROM ${parent}`,
    );
    if (wrong.rows[0].n !== keys.length || wrong.rows[0].wrong !== 0) {
      throw new Error(`${type}: MODULUS ${modulus}: ${wrong.rows[0].wrong} of ${wrong.rows[0].n} rows not in the expected partition`);
    }
  }
  if (type === 'text' || type === 'varchar') {
    // The default collation hashes the bytes: same as under COLLATE "C".
    const diff = await q(`SELECT count(*)::int AS n FROM keys_${type} WHERE hashtextextended(k, 1) <> hashtextextended(k COLLATE "C", 1)`);
    if (diff.rows[0].n !== 0) throw new Error(`${type}: default collation hashes differ from "C" on ${diff.rows[0].n} keys`);
  }

  const rows = (await q(`SELECT h::text AS h FROM computed_${type} ORDER BY i`)).rows as { h: string }[];
  const header: FixtureHeader = {
    format: FIXTURE_FORMAT,
    postgres: version,
    type,
    sqlFunction: `${SQL_HASH_FUNCTION[type]}(key::${type}, 8816678312871386365)`,
    count: keys.length,
    keysSha256: keysDigest(keys),
    verified:
      `for every key: satisfies_hash_partition(<PARTITION BY HASH (k ${type})>, ${FIXTURE_MODULUS}, b, key) is true for ` +
      'b = ((hash + 0x49a0f4dd15e5a8e3) mod 2^64) mod 1024, and the key lands in partition ' +
      '((hash + 0x49a0f4dd15e5a8e3) mod 2^64) mod M of real tables with M = 16 and M = 10 hash partitions',
  };
  const body = Buffer.alloc(rows.length * 8);
  rows.forEach((row, j) => body.writeBigUInt64BE(BigInt.asUintN(64, BigInt(row.h)), j * 8));
  const file = join(FIXTURE_DIR, `${type}.bin.gz`);
  const gz = gzipSync(Buffer.concat([Buffer.from(JSON.stringify(header) + '\n'), body]), { level: 9 });
  writeFileSync(file, gz);
  console.error(`${type}: ${keys.length} vectors, ${gz.length} bytes, ${Date.now() - t0} ms`);
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  await main();
}
