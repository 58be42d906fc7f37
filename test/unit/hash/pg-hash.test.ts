// pg-hash.ts against PostgreSQL 15: ~565,000 pinned vectors (fixtures/, generated once from a real
// server by generate-fixtures.ts) recomputed in every accepted input form, plus values pinned from
// psql for other seeds, multi-column keys and PostgreSQL's input syntax and errors.
import t from 'tap';
import {
  bucketOf,
  HASH_COMBINE64_CONSTANT,
  HASH_PARTITION_SEED,
  hash64Equals,
  hash64FromBigInt,
  hash64ToBigInt,
  hash64ToHex,
  hash64ToSignedBigInt,
  hashCombine64,
  hashInt2Extended,
  hashInt4Extended,
  hashInt8Extended,
  hashTextExtended,
  hashUuidExtended,
  hashVarcharExtended,
  isKeyType,
  KEY_TYPES,
  KeyValueError,
  parseUuidText,
  partitionBucket,
  partitionHash,
  partitionHashRow,
  type Hash64,
  type KeyType,
  type KeyValue,
} from '../../../planner/hash/pg-hash.js';
import { FIXTURE_MODULUS, keysDigest, readFixture, Rng, vectorKeys } from './vectors.js';

const SEED = HASH_PARTITION_SEED;
const U64 = (1n << 64n) - 1n;

/** Reference (BigInt) hash_combine64(0, h) % modulus: the relation the generator verified in PG. */
function refBucket(h: bigint, modulus: number): number {
  return Number(((h + HASH_COMBINE64_CONSTANT) & U64) % BigInt(modulus));
}

/** Reference hash_combine64 in BigInt, straight from hashfn.h. */
function refCombine(a: bigint, b: bigint): bigint {
  return (a ^ ((b + HASH_COMBINE64_CONSTANT + ((a << 54n) & U64) + (a >> 7n)) & U64)) & U64;
}

/** The per-type function of each accepted input form of a fixture key (all must agree with PG). */
function inputForms(type: KeyType, key: string, j: number): [string, () => Hash64][] {
  switch (type) {
    case 'int2':
      return [
        ['number', () => hashInt2Extended(Number(key), SEED)],
        ['partition string', () => partitionTypeHashOf(type, key)],
      ];
    case 'int4':
      return [
        ['number', () => hashInt4Extended(Number(key), SEED)],
        ['partition string', () => partitionTypeHashOf(type, key)],
      ];
    case 'int8': {
      const forms: [string, () => Hash64][] = [
        ['bigint', () => hashInt8Extended(BigInt(key), SEED)],
        ['string', () => hashInt8Extended(key, SEED)],
      ];
      const n = Number(key);
      if (Number.isSafeInteger(n)) forms.push(['number', () => hashInt8Extended(n, SEED)]);
      return forms;
    }
    case 'text':
    case 'varchar': {
      const fn = type === 'text' ? hashTextExtended : hashVarcharExtended;
      return [
        ['string', () => fn(key, SEED)],
        ['bytes', () => fn(Buffer.from(key, 'utf8'), SEED)],
      ];
    }
    case 'uuid': {
      const forms: [string, () => Hash64][] = [['string', () => hashUuidExtended(key, SEED)]];
      // Other uuid_in spellings and raw bytes, on a sample.
      if (j % 7 === 0) {
        const hex = key.replaceAll('-', '');
        forms.push(
          ['upper case', () => hashUuidExtended(key.toUpperCase(), SEED)],
          ['no hyphens', () => hashUuidExtended(hex, SEED)],
          ['braces', () => hashUuidExtended(`{${key}}`, SEED)],
          ['bytes', () => hashUuidExtended(Buffer.from(hex, 'hex'), SEED)],
        );
      }
      return forms;
    }
  }
}

/** partitionHash minus the combine step, through the reference: PG's per-type hash. */
function partitionTypeHashOf(type: KeyType, key: KeyValue): Hash64 {
  const row = hash64ToBigInt(partitionHash(type, key));
  return hash64FromBigInt(row - HASH_COMBINE64_CONSTANT);
}

for (const type of KEY_TYPES) {
  void t.test(`${type}: pinned PostgreSQL 15 vectors`, async (t) => {
    const keys = vectorKeys(type);
    const { header, hashes } = readFixture(type);
    t.equal(header.keysSha256, keysDigest(keys), 'vectors.ts generates the keys the fixture was made from');
    t.equal(keys.length, header.count);
    t.ok(keys.length >= (type === 'int2' ? 65536 : 100_000), `${keys.length} vectors`);
    t.comment(`fixture from PostgreSQL ${header.postgres}: ${header.sqlFunction}`);

    const mismatches: string[] = [];
    const note = (what: string): void => {
      if (mismatches.length < 10) mismatches.push(what);
      else if (mismatches.length === 10) mismatches.push('...');
    };
    let checked = 0;
    for (let j = 0; j < keys.length; j++) {
      const key = keys[j]!;
      const pg: Hash64 = { hi: hashes[2 * j]!, lo: hashes[2 * j + 1]! };
      const pgBig = hash64ToBigInt(pg);
      for (const [form, fn] of inputForms(type, key, j)) {
        const h = fn();
        checked++;
        if (!hash64Equals(h, pg)) note(`${form} ${JSON.stringify(key)}: ${hash64ToHex(h)} != PG ${hash64ToHex(pg)}`);
      }
      const partKey: KeyValue = type === 'int8' ? BigInt(key) : type === 'int2' || type === 'int4' ? Number(key) : key;
      const row = partitionHash(type, partKey);
      if (hash64ToBigInt(row) !== ((pgBig + HASH_COMBINE64_CONSTANT) & U64)) {
        note(`partitionHash ${JSON.stringify(key)}: ${hash64ToHex(row)}`);
      }
      for (const modulus of [FIXTURE_MODULUS, 16, 10]) {
        const expected = refBucket(pgBig, modulus);
        const bucket = bucketOf(row, modulus);
        const direct = partitionBucket(type, partKey, modulus);
        if (bucket !== expected || direct !== expected) {
          note(`bucket ${JSON.stringify(key)} % ${modulus}: bucketOf ${bucket}, partitionBucket ${direct}, PG ${expected}`);
        }
      }
    }
    t.strictSame(mismatches, [], `${checked} hashes (all input forms) and ${keys.length * 3} buckets equal PostgreSQL's`);
  });
}

void t.test('other seeds: values pinned from psql', async (t) => {
  // SELECT s, hashint2extended(-7::int2, s), hashint4extended(123456789, s),
  //   hashint8extended(-9223372036854775808, s), hashtextextended('pgshard é中😀', s),
  //   uuid_hash_extended('a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11', s)
  // FROM unnest(ARRAY[0, 1, -1, 42, -9223372036854775808]::int8[]) s;
  const rows: [bigint, bigint, bigint, bigint, bigint, bigint][] = [
    [0n, -4284878795861022465n, 6027323723798353252n, -9109110466470504941n, -9023408911263026219n, 7543054272012930821n],
    [1n, 3586297926446330237n, 2962033168605897066n, 2560836655869490746n, 3869768719853382173n, -2645530205222611019n],
    [-1n, 3845963573789911868n, -2977316665668236270n, 8384907054876656385n, 4947280032690280002n, -2439430487680470256n],
    [42n, -7260134608902199406n, 8229505732294423811n, -4216469540329842178n, -8488052278184587747n, -2994642859040156162n],
    [-(2n ** 63n), 5403637883954240730n, 1404814297908018910n, 1541059758912566796n, -4122314095793661146n, -7417446446026560409n],
  ];
  // Twice, so the seed cache switches back and forth.
  for (let round = 0; round < 2; round++) {
    for (const [seed, i2, i4, i8, text, uuid] of rows) {
      t.equal(hash64ToSignedBigInt(hashInt2Extended(-7, seed)), i2, `int2 seed ${seed}`);
      t.equal(hash64ToSignedBigInt(hashInt4Extended(123456789, seed)), i4, `int4 seed ${seed}`);
      t.equal(hash64ToSignedBigInt(hashInt8Extended(-(2n ** 63n), seed)), i8, `int8 seed ${seed}`);
      t.equal(hash64ToSignedBigInt(hashTextExtended('pgshard é中😀', seed)), text, `text seed ${seed}`);
      t.equal(hash64ToSignedBigInt(hashUuidExtended('a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11', seed)), uuid, `uuid seed ${seed}`);
    }
  }
  // The same seed as unsigned and as signed bigint.
  t.ok(hash64Equals(hashInt4Extended(5, -1n), hashInt4Extended(5, U64)));
  t.equal(hash64ToSignedBigInt(hashTextExtended('', 0n)), -6939563903564495251n, "hashtextextended('', 0)");
  t.equal(hash64ToSignedBigInt(hashInt4Extended(0, 0n)), 4154612158245552303n, 'hashint4extended(0, 0)');
  t.equal(hash64ToSignedBigInt(hashInt8Extended(-1n, 0n)), -1888257769727981238n, 'hashint8extended(-1, 0)');
  t.throws(() => hashInt4Extended(1, 1 as unknown as bigint), TypeError, 'a number seed is a TypeError');
});

void t.test('hashCombine64 matches the BigInt definition', async (t) => {
  const rng = new Rng(99);
  const specials = [0n, 1n, U64, 1n << 63n, (1n << 63n) - 1n, 0x3ffn, 0xffffffffn, 1n << 32n, HASH_COMBINE64_CONSTANT];
  const values = [...specials];
  for (let i = 0; i < 2000; i++) values.push(rng.u64());
  let bad = 0;
  for (let i = 0; i < values.length; i++) {
    const a = values[i]!;
    const b = values[(i * 7 + 3) % values.length]!;
    const got = hash64ToBigInt(hashCombine64(hash64FromBigInt(a), hash64FromBigInt(b)));
    if (got !== refCombine(a, b)) bad++;
  }
  for (const a of specials) for (const b of specials) if (hash64ToBigInt(hashCombine64(hash64FromBigInt(a), hash64FromBigInt(b))) !== refCombine(a, b)) bad++;
  t.equal(bad, 0, `${values.length + specials.length ** 2} combinations`);
  t.equal(hash64ToBigInt(hashCombine64({ hi: 0, lo: 0 }, { hi: 0, lo: 0 })), HASH_COMBINE64_CONSTANT);
});

void t.test('bucketOf: uint64 remainder for every modulus PostgreSQL allows', async (t) => {
  const rng = new Rng(7);
  const moduli = [1, 2, 3, 7, 10, 16, 1000, 1024, 4093, 65535, 65536, 65537, 2 ** 21 - 1, 2 ** 21, 2 ** 21 + 1, 2 ** 30, 2 ** 31 - 1, 1_000_000_007];
  const hashes = [0n, 1n, U64, U64 - 1n, 1n << 63n, 0xffffffffn, 1n << 32n];
  for (let i = 0; i < 3000; i++) hashes.push(rng.u64());
  let bad = 0;
  for (const m of moduli) {
    for (const h of hashes) if (bucketOf(hash64FromBigInt(h), m) !== Number(h % BigInt(m))) bad++;
  }
  t.equal(bad, 0, `${moduli.length * hashes.length} remainders`);
  for (const m of [0, -1, 1.5, 2 ** 31, NaN, Infinity]) {
    t.throws(() => bucketOf({ hi: 1, lo: 2 }, m), RangeError, `modulus ${m} is rejected`);
  }
});

void t.test('NULL keys are skipped: row hash 0, bucket 0', async (t) => {
  for (const type of KEY_TYPES) {
    t.strictSame(partitionHash(type, null), { hi: 0, lo: 0 }, type);
    t.equal(partitionBucket(type, null, 1024), 0);
    t.equal(partitionBucket(type, null, 7), 0);
  }
});

void t.test('multi-column keys: values pinned from psql', async (t) => {
  // CREATE TABLE pgshard_hash_mc (a int4, b text) PARTITION BY HASH (a, b); then for each row
  // SELECT b FROM generate_series(0, M - 1) b WHERE satisfies_hash_partition('pgshard_hash_mc'::regclass, M, b, <a>, <b>::text)
  const types: KeyType[] = ['int4', 'text'];
  t.equal(bucketOf(partitionHashRow(types, [1, 'a']), 1024), 965);
  t.equal(bucketOf(partitionHashRow(types, [null, 'a']), 1024), 862);
  t.equal(bucketOf(partitionHashRow(types, [1, null]), 1024), 952);
  t.equal(bucketOf(partitionHashRow(types, [-5, 'zz']), 1000), 219);
  t.ok(hash64Equals(partitionHashRow(['int8'], [42n]), partitionHash('int8', 42n)), 'one column = partitionHash');
  t.strictSame(partitionHashRow(types, [null, null]), { hi: 0, lo: 0 });
  t.throws(() => partitionHashRow(types, [1]), TypeError);
});

void t.test('integer keys: PostgreSQL input syntax and range', async (t) => {
  const same = (type: KeyType, a: KeyValue, b: KeyValue, what: string): void => {
    t.ok(hash64Equals(partitionHash(type, a), partitionHash(type, b)), `${type} ${what}`);
  };
  // int2in/int4in/int8in accept surrounding C whitespace, a sign and leading zeros.
  for (const type of ['int2', 'int4', 'int8'] as const) {
    same(type, ' 42 ', 42, 'spaces');
    same(type, '\t7\n', 7, 'tab/newline');
    same(type, '+42', 42, 'plus sign');
    same(type, '-0', 0, 'minus zero');
    same(type, '00000000000000000000042', 42, 'leading zeros');
    same(type, 42n, 42, 'bigint');
    for (const bad of ['', ' ', '4 2', '0x10', '1e3', '42abc', '--1', '+-1', '1.0', '١']) {
      t.throws(() => partitionHash(type, bad), { name: 'KeyValueError', sqlstate: '22P02' }, `${type} rejects ${JSON.stringify(bad)}`);
    }
    t.throws(() => partitionHash(type, 1.5), { name: 'KeyValueError', sqlstate: '22P02' }, `${type} rejects 1.5`);
    t.throws(() => partitionHash(type, NaN), KeyValueError, `${type} rejects NaN`);
    t.throws(() => partitionHash(type, new Uint8Array(4)), TypeError, `${type} rejects bytes`);
  }
  const ranges: [KeyType, bigint, bigint][] = [
    ['int2', -32768n, 32767n],
    ['int4', -2147483648n, 2147483647n],
    ['int8', -(2n ** 63n), 2n ** 63n - 1n],
  ];
  for (const [type, min, max] of ranges) {
    for (const v of [min, max]) {
      same(type, v, v.toString(), `${v} as bigint and string`);
      if (type !== 'int8') same(type, Number(v), v.toString(), `${v} as number`);
    }
    for (const v of [min - 1n, max + 1n, max * 1000n]) {
      t.throws(() => partitionHash(type, v), { name: 'KeyValueError', sqlstate: '22003' }, `${type} ${v} (bigint) out of range`);
      t.throws(() => partitionHash(type, v.toString()), { name: 'KeyValueError', sqlstate: '22003' }, `${type} ${v} (string) out of range`);
      if (type !== 'int8') t.throws(() => partitionHash(type, Number(v)), { name: 'KeyValueError', sqlstate: '22003' }, `${type} ${v} (number) out of range`);
    }
  }
  t.throws(() => partitionHash('int8', 2 ** 53), { name: 'KeyValueError', sqlstate: '22003' }, 'int8 number beyond 2^53 - 1 is not exact');
  same('int8', 2 ** 53 - 1, '9007199254740991', 'largest safe number');
  same('int8', -(2 ** 53 - 1), -9007199254740991n, 'smallest safe number');
  t.throws(() => partitionHash('int8', '-9223372036854775809'), { name: 'KeyValueError', sqlstate: '22003' });
  t.throws(() => partitionHash('int8', '99999999999999999999'), { name: 'KeyValueError', sqlstate: '22003' });
  t.throws(() => partitionHash('int4', '99999999999'), { name: 'KeyValueError', sqlstate: '22003' });
  t.match(
    (() => {
      try {
        partitionHash('int2', '32768');
        return '';
      } catch (err) {
        return (err as Error).message;
      }
    })(),
    'value "32768" is out of range for type smallint',
    "PostgreSQL's message",
  );
  // PostgreSQL hashes int2/int4/int8 alike for equal values (cross-type hash joins).
  const rng = new Rng(3);
  let bad = 0;
  for (let i = 0; i < 5000; i++) {
    const v = rng.between(-32768, 32767);
    const w = rng.u32() | 0;
    const a = hashInt2Extended(v, SEED);
    if (!hash64Equals(a, hashInt4Extended(v, SEED)) || !hash64Equals(a, hashInt8Extended(BigInt(v), SEED))) bad++;
    if (!hash64Equals(hashInt4Extended(w, SEED), hashInt8Extended(String(w), SEED))) bad++;
  }
  t.equal(bad, 0, 'int2, int4 and int8 hash equal values alike');
});

void t.test('text keys: UTF-8 bytes', async (t) => {
  const samples = ['', 'a', 'é', '中文', '😀', 'x'.repeat(4096), 'x'.repeat(4097), 'é'.repeat(1365), 'é'.repeat(1366), '中'.repeat(5000), `${'a'.repeat(4000)}é`];
  for (const s of samples) {
    t.ok(hash64Equals(hashTextExtended(s, SEED), hashTextExtended(new TextEncoder().encode(s), SEED)), `string = bytes (${s.length} chars)`);
  }
  // A lone surrogate is sent as U+FFFD by any UTF-8 encoder.
  t.ok(hash64Equals(hashTextExtended('a\ud800b', SEED), hashTextExtended('a\ufffdb', SEED)), 'lone surrogate = U+FFFD');
  t.ok(hash64Equals(partitionHash('text', 'abc'), partitionHash('varchar', 'abc')), 'varchar = text');
  t.equal(partitionBucket('text', 'abc', 1024), 677, "psql: satisfies_hash_partition(<text parent>, 1024, 677, 'abc'::text)");
  t.throws(() => partitionHash('text', 5), TypeError);
  t.throws(() => hashTextExtended(5 as unknown as string, SEED), TypeError);
  // Interleaving scratch-buffer and allocated encodings must not leak state between calls.
  const a = hashTextExtended('short', SEED);
  hashTextExtended('y'.repeat(10_000), SEED);
  t.ok(hash64Equals(hashTextExtended('short', SEED), a));
});

void t.test('uuid keys: uuid_in syntax', async (t) => {
  const canonical = 'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11';
  const h = hashUuidExtended(canonical, SEED);
  // All accepted by uuid_in (checked with psql) as the same value.
  for (const form of [
    'A0EEBC99-9C0B-4EF8-BB6D-6BB9BD380A11',
    '{a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11}',
    'a0eebc999c0b4ef8bb6d6bb9bd380a11',
    'a0ee-bc99-9c0b-4ef8-bb6d-6bb9-bd38-0a11',
    '{a0eebc99-9c0b4ef8-bb6d6bb9-bd380a11}',
  ]) {
    t.ok(hash64Equals(hashUuidExtended(form, SEED), h), form);
  }
  t.strictSame([...parseUuidText(canonical)], [...Buffer.from(canonical.replaceAll('-', ''), 'hex')]);
  // All rejected by uuid_in (checked with psql).
  for (const bad of [
    'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11-',
    ' a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11',
    'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11}',
    '{a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11',
    'a0e-ebc99-9c0b-4ef8-bb6d-6bb9bd380a11',
    '-a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11',
    'a0eebc99--9c0b-4ef8-bb6d-6bb9bd380a11',
    'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a1',
    'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a1g',
    'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380aé1',
    '',
  ]) {
    t.throws(() => hashUuidExtended(bad, SEED), { name: 'KeyValueError', sqlstate: '22P02' }, `rejects ${JSON.stringify(bad)}`);
  }
  t.throws(() => partitionHash('uuid', new Uint8Array(15)), { name: 'KeyValueError', sqlstate: '22P02' });
  t.throws(() => partitionHash('uuid', 5), TypeError);
});

void t.test('conversions and key types', async (t) => {
  const h = hash64FromBigInt(-2n);
  t.strictSame(h, { hi: 0xffffffff, lo: 0xfffffffe });
  t.equal(hash64ToBigInt(h), U64 - 1n);
  t.equal(hash64ToSignedBigInt(h), -2n);
  t.equal(hash64ToHex({ hi: 1, lo: 0xabc }), '0000000100000abc');
  t.equal(HASH_PARTITION_SEED, 8816678312871386365n);
  t.ok(isKeyType('uuid'));
  t.notOk(isKeyType('float8'));
  t.strictSame(KEY_TYPES, ['int2', 'int4', 'int8', 'text', 'varchar', 'uuid']);
});
