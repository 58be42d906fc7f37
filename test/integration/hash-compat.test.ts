// Live cross-check of planner/hash against a real PostgreSQL 15: rows inserted into tables
// PARTITION BY HASH land (tableoid) in the partition pgshard computes; the placement SQL of
// docs/placement.md gives the bucket pgshard computes for MODULUS 1024; PostgreSQL's input syntax
// for integer and uuid keys is accepted and rejected alike.
import pg from 'pg';
import t, { type Test } from 'tap';
import { bucketsOfShard, evenBucketMap, placementOf } from '../../planner/hash/bucket-map.js';
import {
  KEY_TYPES,
  partitionBucket,
  partitionHash,
  partitionHashRow,
  bucketOf,
  type KeyType,
  type KeyValue,
} from '../../planner/hash/pg-hash.js';
import { withCluster } from '../harness/cluster.js';
import { Rng } from '../unit/hash/vectors.js';

const KEYS_PER_TYPE = 3000;
const SEED_SQL = '8816678312871386365';

/** docs/placement.md: the bucket of `k` (a `type` expression) for `modulus`; NULL keys are bucket 0. */
function placementSql(type: KeyType, k: string, modulus: number): string {
  const fn = { int2: 'hashint2extended', int4: 'hashint4extended', int8: 'hashint8extended', text: 'hashtextextended', varchar: 'hashtextextended', uuid: 'uuid_hash_extended' }[type];
  return `coalesce(mod(mod(${fn}(${k}, ${SEED_SQL})::numeric + 23752253665144318179, 18446744073709551616), ${modulus}), 0)::int`;
}

const CHARS = ['a', 'Z', '0', ' ', '"', "'", '\\', '\t', 'é', 'ß', 'Ж', '中', '語', '€', '😀', '👍🏽', '𝄞', '\u{10ffff}'];

/** Keys as PostgreSQL input text (and null), fresh ones: not the unit test's fixture keys. */
function liveKeys(type: KeyType, rng: Rng): (string | null)[] {
  const keys = new Set<string>();
  const add = (k: string): void => void keys.add(k);
  const int = (bits: number): string => BigInt.asIntN(bits, rng.u64()).toString();
  switch (type) {
    case 'int2':
      for (const v of ['-32768', '32767', '0', '-1', '1']) add(v);
      while (keys.size < KEYS_PER_TYPE) add(int(16));
      break;
    case 'int4':
      for (const v of ['-2147483648', '2147483647', '0', '-1', '1', '65536', '-65537']) add(v);
      while (keys.size < KEYS_PER_TYPE) add(rng.below(2) === 0 ? int(32) : String(rng.between(-100_000, 100_000)));
      break;
    case 'int8':
      for (const v of ['-9223372036854775808', '9223372036854775807', '0', '-1', '9007199254740992', '-9007199254740993', '4294967296']) add(v);
      while (keys.size < KEYS_PER_TYPE) add(int([64, 53, 33, 20][rng.below(4)]!));
      break;
    case 'text':
    case 'varchar':
      add('');
      for (let len = 1; len <= 70; len++) add('k'.repeat(len));
      for (let i = 0; i < 20; i++) add(Array.from({ length: rng.between(500, 3000) }, () => rng.pick(CHARS)).join(''));
      while (keys.size < KEYS_PER_TYPE) add(Array.from({ length: rng.between(1, 40) }, () => rng.pick(CHARS)).join(''));
      break;
    case 'uuid':
      add('00000000-0000-0000-0000-000000000000');
      add('ffffffff-ffff-ffff-ffff-ffffffffffff');
      while (keys.size < KEYS_PER_TYPE) {
        const hex = rng.u64().toString(16).padStart(16, '0') + rng.u64().toString(16).padStart(16, '0');
        add(`${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`);
      }
      break;
  }
  return [...keys, null];
}

/** The key as an application would pass it: numbers for int2/int4, bigint for int8, else the string. */
function asValue(type: KeyType, k: string | null): KeyValue {
  if (k === null) return null;
  if (type === 'int2' || type === 'int4') return Number(k);
  if (type === 'int8') return BigInt(k);
  return k;
}

const started = Date.now();
const cluster = await withCluster(t, { shards: 1, replicas: 0, users: [], databases: [], settings: { fsync: 'off' } });
const node = cluster.shards[0]!.primary;
t.comment(`PostgreSQL up in ${Date.now() - started} ms`);

/** A client for one subtest (one database per subtest keeps them independent). */
async function connect(t: Test, database: string): Promise<pg.Client> {
  await node.sql(`CREATE DATABASE ${database}`);
  const client = new pg.Client({ host: node.socketDir, port: node.port, user: cluster.superuser, database });
  await client.connect();
  t.teardown(() => client.end());
  return client;
}

void t.test('PostgreSQL 15 places rows where pgshard computes', async (t) => {
  const client = await connect(t, 'routing');
  const rng = new Rng(0x11ce_2024);

  for (const type of KEY_TYPES) {
    const keys = liveKeys(type, rng);
    const ids = keys.map((_, i) => i);
    await client.query(`CREATE TABLE h_${type} (id int, k ${type}) PARTITION BY HASH (k)`);
    for (let r = 0; r < 16; r++) {
      await client.query(`CREATE TABLE h_${type}_${r} PARTITION OF h_${type} FOR VALUES WITH (MODULUS 16, REMAINDER ${r})`);
    }
    // The helper table of docs/placement.md (no partitions, no rows).
    await client.query(`CREATE TABLE pgshard_hash_${type} (k ${type}) PARTITION BY HASH (k)`);
    await client.query(`INSERT INTO h_${type} SELECT * FROM unnest($1::int[], $2::${type}[])`, [ids, keys]);

    // 1. The partition PostgreSQL routed each row to.
    const rows = (await client.query<{ id: number; part: string }>(`SELECT id, tableoid::regclass::text AS part FROM h_${type}`)).rows;
    t.equal(rows.length, keys.length, `${type}: all rows inserted`);
    const wrong: string[] = [];
    for (const { id, part } of rows) {
      const key = keys[id]!;
      const expected = bucketOf(partitionHash(type, asValue(type, key)), 16);
      if (part !== `h_${type}_${expected}` && wrong.length < 5) wrong.push(`${JSON.stringify(key)} in ${part}, pgshard says remainder ${expected}`);
    }
    t.strictSame(wrong, [], `${type}: ${rows.length} rows (incl. NULL) in the partition pgshard computes for MODULUS 16`);

    // 2. The documented placement SQL for MODULUS 1024, and PostgreSQL's own satisfies_hash_partition.
    const tsBuckets = keys.map((k) => partitionBucket(type, asValue(type, k), 1024));
    const check = await client.query<{ n: number; expr_wrong: number; not_satisfied: number }>(
      `SELECT count(*)::int AS n,
              count(*) FILTER (WHERE ${placementSql(type, 'h.k', 1024)} <> ts.b)::int AS expr_wrong,
              count(*) FILTER (WHERE NOT satisfies_hash_partition('pgshard_hash_${type}'::regclass, 1024, ts.b, h.k))::int AS not_satisfied
         FROM h_${type} h JOIN unnest($1::int[], $2::int[]) AS ts(id, b) USING (id)`,
      [ids, tsBuckets],
    );
    t.strictSame(check.rows[0], { n: keys.length, expr_wrong: 0, not_satisfied: 0 }, `${type}: placement SQL and satisfies_hash_partition agree for MODULUS 1024`);
  }
  t.comment(`all types checked ${Date.now() - started} ms after start`);
});

void t.test('non-power-of-two modulus, multi-column keys, the per-shard check query', async (t) => {
  const client = await connect(t, 'more');
  const rng = new Rng(77);

  // MODULUS 7 (uint64 remainder, not a bit mask).
  const keys = liveKeys('int8', rng);
  await client.query('CREATE TABLE m7 (id int, k int8) PARTITION BY HASH (k)');
  for (let r = 0; r < 7; r++) await client.query(`CREATE TABLE m7_${r} PARTITION OF m7 FOR VALUES WITH (MODULUS 7, REMAINDER ${r})`);
  await client.query('INSERT INTO m7 SELECT * FROM unnest($1::int[], $2::int8[])', [keys.map((_, i) => i), keys]);
  const m7 = (await client.query<{ id: number; part: string }>('SELECT id, tableoid::regclass::text AS part FROM m7')).rows;
  t.equal(m7.filter(({ id, part }) => part !== `m7_${partitionBucket('int8', keys[id] ?? null, 7)}`).length, 0, `${m7.length} int8 rows, MODULUS 7`);

  // PARTITION BY HASH (a int4, b text): each non-NULL column hashed and combined in order.
  await client.query('CREATE TABLE mc (id int, a int4, b text) PARTITION BY HASH (a, b)');
  for (let r = 0; r < 16; r++) await client.query(`CREATE TABLE mc_${r} PARTITION OF mc FOR VALUES WITH (MODULUS 16, REMAINDER ${r})`);
  const as: (number | null)[] = [];
  const bs: (string | null)[] = [];
  for (let i = 0; i < 1000; i++) {
    as.push(rng.below(10) === 0 ? null : rng.u32() | 0);
    bs.push(rng.below(10) === 0 ? null : Array.from({ length: rng.between(0, 20) }, () => rng.pick(CHARS)).join(''));
  }
  await client.query('INSERT INTO mc SELECT * FROM unnest($1::int[], $2::int4[], $3::text[])', [as.map((_, i) => i), as, bs]);
  const mc = (await client.query<{ id: number; part: string }>('SELECT id, tableoid::regclass::text AS part FROM mc')).rows;
  const mcWrong = mc.filter(({ id, part }) => part !== `mc_${bucketOf(partitionHashRow(['int4', 'text'], [as[id] ?? null, bs[id] ?? null]), 16)}`);
  t.equal(mcWrong.length, 0, `${mc.length} rows with a two-column key (some NULLs)`);

  // docs/placement.md "are all rows of this shard in its buckets?": shard 2 of evenBucketMap(1024, 4).
  const map = evenBucketMap(1024, 4);
  const mine = bucketsOfShard(map, 2);
  t.strictSame([mine[0], mine.at(-1)], [512, 767], 'shard 2 of 4 holds buckets 512..767');
  const onShard2 = keys.filter((k) => k !== null && placementOf('int8', BigInt(k), map).shard === 2);
  const foreign = keys.find((k) => k !== null && placementOf('int8', BigInt(k), map).shard === 0)!;
  await client.query('CREATE TABLE orders (customer_id int8, note text)');
  await client.query('INSERT INTO orders (customer_id) SELECT unnest($1::int8[])', [[...onShard2, foreign, null]]);
  const misplaced = await client.query<{ customer_id: string | null }>(
    `SELECT customer_id::text FROM orders
      WHERE ${placementSql('int8', 'customer_id', 1024)} NOT BETWEEN 512 AND 767
      ORDER BY customer_id NULLS LAST`,
  );
  t.strictSame(misplaced.rows, [{ customer_id: foreign }, { customer_id: null }], 'only the foreign key and the NULL key (bucket 0) are reported');
  t.ok(onShard2.length > 500, `${onShard2.length} rows of shard 2 pass`);
});

void t.test('key input syntax: accepted and rejected like PostgreSQL', async (t) => {
  const client = await connect(t, 'syntax');

  const inputs: Record<'int2' | 'int4' | 'int8' | 'uuid', string[]> = {
    int2: [' 42 ', '+7', '-0', '\t-32768\n', '32768', '', '4 2', '0x1F', '1e2', '0042', '١٢'],
    int4: ['2147483647', '2147483648', '-2147483649', '000000000000000000001', '- 1', '12.0', '+', 'abc'],
    int8: ['9223372036854775807', '9223372036854775808', '-9223372036854775808', '-9223372036854775809', ' 123456789012345678 ', '1_000', '99999999999999999999'],
    uuid: [
      'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11', 'A0EEBC999C0B4EF8BB6D6BB9BD380A11', '{a0eebc99-9c0b4ef8-bb6d6bb9-bd380a11}',
      'a0ee-bc99-9c0b-4ef8-bb6d-6bb9-bd38-0a11', 'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11-', '{a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11',
      'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a1', 'a0eebc9-99c0b-4ef8-bb6d-6bb9bd380a11', ' a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11', 'g0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11',
    ],
  };
  for (const [type, values] of Object.entries(inputs) as [keyof typeof inputs, string[]][]) {
    await client.query(`CREATE TABLE pgshard_hash_${type} (k ${type}) PARTITION BY HASH (k)`);
    for (const input of values) {
      let pgResult: string;
      try {
        const res = await client.query<{ b: number }>(
          `SELECT b FROM generate_series(0, 1023) b WHERE satisfies_hash_partition('pgshard_hash_${type}'::regclass, 1024, b, $1::${type})`,
          [input],
        );
        pgResult = `bucket ${res.rows[0]!.b}`;
      } catch (err) {
        pgResult = `error ${(err as { code?: string }).code}`;
      }
      let tsResult: string;
      try {
        tsResult = `bucket ${partitionBucket(type, input, 1024)}`;
      } catch (err) {
        tsResult = `error ${(err as { sqlstate?: string }).sqlstate}`;
      }
      t.equal(tsResult, pgResult, `${type} ${JSON.stringify(input)}: ${pgResult}`);
    }
  }
});
