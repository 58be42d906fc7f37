// Buckets → shards. A key's bucket is the remainder PostgreSQL's PARTITION BY HASH would compute for
// `modulus` partitions (pg-hash.ts); a BucketMap assigns every bucket to one shard. Moving data
// between shards moves whole buckets, so placement stays checkable with SQL (docs/placement.md).
// Pure.

import { bucketOf, partitionHash, type Hash64, type KeyType, type KeyValue } from './pg-hash.js';

/** pgshard's default number of buckets. */
export const DEFAULT_MODULUS = 1024;
/** Largest modulus a BucketMap accepts (PostgreSQL allows any int4; a map is an array of that size). */
export const MAX_MODULUS = 1 << 20;

export interface BucketMap {
  /** Number of buckets: keys are placed by `partitionHash % modulus`. */
  readonly modulus: number;
  /** Number of shards; shard indexes are 0..shardCount-1. */
  readonly shardCount: number;
  /** The shard of a bucket in [0, modulus); a RangeError for anything else. */
  shardOf(bucket: number): number;
}

export class BucketMapError extends Error {
  override readonly name = 'BucketMapError';
}

/** Everything wrong with an assignment (bucket index → shard index); empty when it is valid. */
export function bucketAssignmentProblems(assignment: ArrayLike<number>, shardCount: number): string[] {
  const problems: string[] = [];
  if (!Number.isInteger(shardCount) || shardCount < 1) {
    problems.push(`shard count must be a positive integer, got ${shardCount}`);
  }
  const modulus = assignment.length;
  if (modulus < 1 || modulus > MAX_MODULUS) {
    problems.push(`modulus (number of buckets) must be in [1, ${MAX_MODULUS}], got ${modulus}`);
    return problems;
  }
  let shown = 0;
  let more = 0;
  for (let b = 0; b < modulus; b++) {
    const shard = assignment[b];
    let problem: string | null = null;
    if (shard === undefined || shard === null) problem = `bucket ${b} is not assigned`;
    else if (typeof shard !== 'number' || !Number.isInteger(shard) || shard < 0 || shard >= shardCount) {
      problem = `bucket ${b} is assigned to shard ${String(shard)}, not in [0, ${shardCount})`;
    }
    if (problem === null) continue;
    if (shown < 10) {
      problems.push(problem);
      shown++;
    } else {
      more++;
    }
  }
  if (more > 0) problems.push(`... and ${more} more unassigned or out-of-range buckets`);
  return problems;
}

class ArrayBucketMap implements BucketMap {
  readonly modulus: number;

  constructor(
    private readonly shards: Uint32Array,
    readonly shardCount: number,
  ) {
    this.modulus = shards.length;
  }

  shardOf(bucket: number): number {
    const shard = this.shards[bucket];
    if (shard === undefined) {
      throw new RangeError(`bucket must be an integer in [0, ${this.modulus}), got ${bucket}`);
    }
    return shard;
  }
}

/**
 * A BucketMap from an assignment array: `assignment[b]` is the shard of bucket b, and
 * `assignment.length` is the modulus. Throws BucketMapError listing the problems unless every bucket
 * is assigned to a shard in [0, shardCount). The array is copied.
 */
export function createBucketMap(assignment: ArrayLike<number>, shardCount: number): BucketMap {
  const problems = bucketAssignmentProblems(assignment, shardCount);
  if (problems.length > 0) throw new BucketMapError(`invalid bucket map: ${problems.join('; ')}`);
  return new ArrayBucketMap(Uint32Array.from(assignment), shardCount);
}

/**
 * `shards` contiguous, near-equal ranges of buckets: bucket b → floor(b * shards / modulus).
 * Needs 1 <= shards <= modulus <= MAX_MODULUS (every shard gets at least one bucket).
 */
export function evenBucketMap(modulus: number, shards: number): BucketMap {
  if (!Number.isInteger(modulus) || modulus < 1 || modulus > MAX_MODULUS) {
    throw new BucketMapError(`modulus must be an integer in [1, ${MAX_MODULUS}], got ${modulus}`);
  }
  if (!Number.isInteger(shards) || shards < 1 || shards > modulus) {
    throw new BucketMapError(`shards must be an integer in [1, modulus = ${modulus}], got ${shards}`);
  }
  const assignment = new Uint32Array(modulus);
  // b * shards < 2^40: exact, and the quotient cannot round up to the next integer.
  for (let b = 0; b < modulus; b++) assignment[b] = Math.floor((b * shards) / modulus);
  return new ArrayBucketMap(assignment, shards);
}

/** The assignment array of a map (bucket → shard). */
export function bucketAssignment(map: BucketMap): number[] {
  const out = new Array<number>(map.modulus);
  for (let b = 0; b < map.modulus; b++) out[b] = map.shardOf(b);
  return out;
}

/** The buckets a shard holds, ascending (for the placement check SQL in docs/placement.md). */
export function bucketsOfShard(map: BucketMap, shard: number): number[] {
  const out: number[] = [];
  for (let b = 0; b < map.modulus; b++) if (map.shardOf(b) === shard) out.push(b);
  return out;
}

export interface Placement {
  /** compute_partition_hash_value of the key (HASH_PARTITION_SEED, default hash opclass). */
  readonly hash: Hash64;
  /** hash % map.modulus: the PostgreSQL partition remainder for MODULUS map.modulus. */
  readonly bucket: number;
  /** map.shardOf(bucket). */
  readonly shard: number;
}

/** Where a single-column key of `type` lives. A NULL key is in bucket 0, as in PostgreSQL. */
export function placementOf(type: KeyType, value: KeyValue, map: BucketMap): Placement {
  const hash = partitionHash(type, value);
  const bucket = bucketOf(hash, map.modulus);
  return { hash, bucket, shard: map.shardOf(bucket) };
}
