import t from 'tap';
import {
  bucketAssignment,
  bucketAssignmentProblems,
  BucketMapError,
  bucketsOfShard,
  createBucketMap,
  DEFAULT_MODULUS,
  evenBucketMap,
  MAX_MODULUS,
  placementOf,
} from '../../../planner/hash/bucket-map.js';
import { bucketOf, partitionHash } from '../../../planner/hash/pg-hash.js';

void t.test('evenBucketMap: contiguous ranges, b -> floor(b * shards / modulus)', async (t) => {
  t.equal(DEFAULT_MODULUS, 1024);
  for (const [modulus, shards] of [[1024, 1], [1024, 2], [1024, 3], [1024, 7], [1024, 1024], [1000, 3], [1, 1], [10, 10], [MAX_MODULUS, 13]] as const) {
    const map = evenBucketMap(modulus, shards);
    t.equal(map.modulus, modulus);
    t.equal(map.shardCount, shards);
    const counts = new Array<number>(shards).fill(0);
    let ok = true;
    let prev = 0;
    for (let b = 0; b < modulus; b++) {
      const s = map.shardOf(b);
      if (s !== Math.floor((b * shards) / modulus) || s < prev || s > prev + 1) ok = false;
      prev = s;
      counts[s]!++;
    }
    t.ok(ok, `${modulus}/${shards}: formula, non-decreasing, no shard skipped`);
    const min = Math.min(...counts);
    const max = Math.max(...counts);
    t.ok(min >= 1 && max - min <= 1, `${modulus}/${shards}: sizes ${min}..${max}`);
    t.equal(map.shardOf(modulus - 1), shards - 1, 'last bucket on last shard');
  }
  t.strictSame(bucketsOfShard(evenBucketMap(1024, 4), 1), Array.from({ length: 256 }, (_, i) => 256 + i));
  t.strictSame(bucketAssignment(evenBucketMap(10, 3)), [0, 0, 0, 0, 1, 1, 1, 2, 2, 2]);
  // Exactly 341/342/341 for 3 shards.
  const three = evenBucketMap(1024, 3);
  t.strictSame([0, 1, 2].map((s) => bucketsOfShard(three, s).length), [342, 341, 341]);
  for (const [modulus, shards] of [[0, 1], [1024, 0], [1024, 1025], [1.5, 1], [1024, 2.5], [MAX_MODULUS + 1, 1], [NaN, 1], [-4, 1]]) {
    t.throws(() => evenBucketMap(modulus!, shards!), BucketMapError, `evenBucketMap(${modulus}, ${shards}) is rejected`);
  }
});

void t.test('createBucketMap validates the assignment', async (t) => {
  const map = createBucketMap([0, 1, 1, 0], 2);
  t.equal(map.modulus, 4);
  t.equal(map.shardCount, 2);
  t.strictSame([0, 1, 2, 3].map((b) => map.shardOf(b)), [0, 1, 1, 0]);
  t.strictSame(bucketsOfShard(map, 0), [0, 3]);

  // The input is copied.
  const input = [0, 0];
  const copied = createBucketMap(input, 1);
  input[0] = 5;
  t.equal(copied.shardOf(0), 0);
  t.equal(createBucketMap(new Uint8Array([2, 1, 0]), 3).shardOf(0), 2, 'typed arrays are accepted');

  t.strictSame(bucketAssignmentProblems([0, 1], 2), []);
  const holey = new Array<number>(3);
  holey[0] = 0;
  holey[2] = 1;
  t.strictSame(bucketAssignmentProblems(holey, 2), ['bucket 1 is not assigned']);
  t.strictSame(bucketAssignmentProblems([0, 2, -1, 0.5], 2), [
    'bucket 1 is assigned to shard 2, not in [0, 2)',
    'bucket 2 is assigned to shard -1, not in [0, 2)',
    'bucket 3 is assigned to shard 0.5, not in [0, 2)',
  ]);
  t.strictSame(bucketAssignmentProblems(['0' as unknown as number], 1), ['bucket 0 is assigned to shard 0, not in [0, 1)']);
  t.match(bucketAssignmentProblems([], 1)[0], /modulus .* must be in \[1, 1048576\], got 0/);
  t.match(bucketAssignmentProblems([0], 0)[0], /shard count must be a positive integer/);
  const many = bucketAssignmentProblems(new Array<number>(100).fill(9), 2);
  t.equal(many.length, 11, 'the first 10 problems and a summary');
  t.equal(many[10], '... and 90 more unassigned or out-of-range buckets');
  t.throws(() => createBucketMap([0, 3], 2), { name: 'BucketMapError', message: /invalid bucket map: bucket 1 is assigned to shard 3/ });
  t.throws(() => createBucketMap({ length: 2, 0: 0 } as ArrayLike<number>, 1), BucketMapError, 'array-likes with holes');
});

void t.test('shardOf rejects buckets outside [0, modulus)', async (t) => {
  for (const map of [evenBucketMap(1024, 4), createBucketMap([0, 0, 0], 1)]) {
    for (const b of [-1, map.modulus, 1.5, NaN, Infinity]) t.throws(() => map.shardOf(b), RangeError, `bucket ${b}`);
  }
});

void t.test('placementOf', async (t) => {
  const map = evenBucketMap(1024, 4);
  const p = placementOf('int8', 42n, map);
  t.strictSame(p.hash, partitionHash('int8', 42n));
  t.equal(p.bucket, 610, "psql: satisfies_hash_partition(<int8 parent>, 1024, 610, 42::int8)");
  t.equal(p.shard, 2);
  const q = placementOf('text', 'abc', map);
  t.equal(q.bucket, 677);
  t.equal(q.shard, 2);
  t.strictSame(placementOf('uuid', null, map), { hash: { hi: 0, lo: 0 }, bucket: 0, shard: 0 }, 'NULL → bucket 0');
  const small = createBucketMap([1, 0, 1, 0, 1, 0, 1], 2);
  for (const key of ['a', 'b', 'c', 'pgshard']) {
    const pl = placementOf('varchar', key, small);
    t.equal(pl.bucket, bucketOf(partitionHash('varchar', key), 7));
    t.equal(pl.shard, small.shardOf(pl.bucket));
  }
});
