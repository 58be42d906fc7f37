// Micro-benchmark of key placement (planner/hash): ns per hash for each key type and input form.
//   node --import tsx bench/hash-bench.ts [--ms 300]
// Each case cycles through 4096 distinct pre-built keys (so nothing is constant-folded), runs a
// warm-up, then 7 timed rounds of at least --ms milliseconds; prints the median ns per call.
import { evenBucketMap, placementOf } from '../planner/hash/bucket-map.js';
import {
  bucketOf,
  HASH_PARTITION_SEED,
  hashInt4Extended,
  hashInt8Extended,
  hashTextExtended,
  hashUuidExtended,
  partitionBucket,
  partitionHash,
  type KeyType,
  type KeyValue,
} from '../planner/hash/pg-hash.js';

const msArg = process.argv.indexOf('--ms');
const ROUND_MS = msArg >= 0 ? Number(process.argv[msArg + 1]) : 300;
const N = 4096;

let state = 0x12345678;
function rand32(): number {
  // xorshift32: bench input only
  state ^= state << 13;
  state ^= state >>> 17;
  state ^= state << 5;
  return state >>> 0;
}
const randInt = (lo: number, hi: number): number => lo + (rand32() % (hi - lo + 1));
const randAscii = (len: number): string => Array.from({ length: len }, () => String.fromCharCode(randInt(97, 122))).join('');
const randUuid = (): string => {
  const hex = Array.from({ length: 4 }, () => rand32().toString(16).padStart(8, '0')).join('');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
};
const keys = <T>(make: (i: number) => T): T[] => Array.from({ length: N }, (_, i) => make(i));

let sink = 0;

/** Median ns per call of fn(keys[i % N]). */
function measure<T>(input: readonly T[], fn: (k: T) => number): number {
  const run = (iterations: number): number => {
    const t0 = process.hrtime.bigint();
    let acc = 0;
    for (let i = 0; i < iterations; i++) acc = (acc + fn(input[i & (N - 1)]!)) | 0;
    sink ^= acc;
    return Number(process.hrtime.bigint() - t0);
  };
  // Calibrate the iteration count to ~ROUND_MS, warming up on the way.
  let iterations = 1 << 14;
  while (run(iterations) < ROUND_MS * 1e6 * 0.25) iterations *= 2;
  iterations *= 4;
  const samples: number[] = [];
  for (let r = 0; r < 7; r++) samples.push(run(iterations) / iterations);
  samples.sort((a, b) => a - b);
  return samples[3]!;
}

interface Case {
  name: string;
  run: () => number;
}

const M = 1024;
const bucketCase = (name: string, type: KeyType, input: KeyValue[]): Case => ({
  name,
  run: () => measure(input, (k) => partitionBucket(type, k, M)),
});

const int4s = keys(() => rand32() | 0);
const int8Big = keys(() => BigInt.asIntN(64, (BigInt(rand32()) << 32n) | BigInt(rand32())));
const text8 = keys(() => randAscii(8));
const uuids = keys(randUuid);
const map = evenBucketMap(M, 8);

const cases: Case[] = [
  bucketCase('int2 (number)', 'int2', keys(() => randInt(0, 65535) - 32768)),
  bucketCase('int4 (number)', 'int4', int4s),
  bucketCase('int4 (decimal string)', 'int4', int4s.map(String)),
  bucketCase('int8 (number, safe integer)', 'int8', keys(() => rand32() * 1024 + randInt(0, 1023))),
  bucketCase('int8 (bigint, full range)', 'int8', int8Big),
  bucketCase('int8 (bigint, < 2^53)', 'int8', keys(() => BigInt(rand32()) * 1000n)),
  bucketCase('int8 (string, <= 15 digits)', 'int8', keys(() => String(rand32() * 1000))),
  bucketCase('int8 (string, 19 digits)', 'int8', int8Big.map((v) => ((10n ** 18n + (BigInt.asUintN(62, v) % (8n * 10n ** 18n))) * (v < 0n ? -1n : 1n)).toString())),
  bucketCase('text ASCII 8 chars', 'text', text8),
  bucketCase('text ASCII 32 chars', 'text', keys(() => randAscii(32))),
  bucketCase('text ASCII 64 chars', 'text', keys(() => randAscii(64))),
  bucketCase('text UTF-8 8 chars (é中)', 'text', keys(() => `${randAscii(5)}é中${randAscii(1)}`)),
  bucketCase('text ASCII 1 KB', 'text', keys(() => randAscii(1024))),
  bucketCase('text bytes 16', 'text', keys(() => new TextEncoder().encode(randAscii(16)))),
  bucketCase('varchar ASCII 16 chars', 'varchar', keys(() => randAscii(16))),
  bucketCase('uuid (canonical string)', 'uuid', uuids),
  bucketCase('uuid (16 bytes)', 'uuid', uuids.map((u) => Uint8Array.from(Buffer.from(u.replaceAll('-', ''), 'hex')))),
  { name: 'int4 partitionHash + bucketOf', run: () => measure(int4s, (k) => bucketOf(partitionHash('int4', k), M)) },
  { name: 'int4 placementOf (8 shards)', run: () => measure(int4s, (k) => placementOf('int4', k, map).shard) },
  { name: 'text 8 placementOf (8 shards)', run: () => measure(text8, (k) => placementOf('text', k, map).shard) },
  { name: 'hashInt4Extended (bigint seed)', run: () => measure(int4s, (k) => hashInt4Extended(k, HASH_PARTITION_SEED).lo) },
  { name: 'hashInt8Extended (bigint, seed)', run: () => measure(int8Big, (k) => hashInt8Extended(k, HASH_PARTITION_SEED).lo) },
  { name: 'hashTextExtended 8 chars (seed)', run: () => measure(text8, (k) => hashTextExtended(k, HASH_PARTITION_SEED).lo) },
  { name: 'hashUuidExtended (seed)', run: () => measure(uuids, (k) => hashUuidExtended(k, HASH_PARTITION_SEED).lo) },
];

console.log(`node ${process.version}, ${ROUND_MS} ms rounds, median of 7; partitionBucket(type, key, ${M}) unless named\n`);
console.log('| case | ns/hash |');
console.log('|---|---:|');
for (const c of cases) console.log(`| ${c.name} | ${c.run().toFixed(1)} |`);
if (sink === 0x7fffffff) console.log('');
