// Helpers shared by the differential and sharded-pgbench suites: fast throw-away cluster settings,
// direct connections to shard primaries (bypassing the proxy), and the placement SQL of
// docs/placement.md that lets a shard check by itself that it holds only its own keys.
import type pg from 'pg';
import type { LocalCluster } from '../../harness/cluster.js';
import { DATABASE, USERS, type FixtureUser } from '../../helpers/proxy-fixture.js';

/** Durability off: these clusters are thrown away, and CI time matters. */
export const FAST_SETTINGS = { fsync: 'off', synchronous_commit: 'off', full_page_writes: 'off' } as const;

export interface Endpoint {
  host: string;
  port: number;
}

/** node-postgres settings for `user` at `endpoint` (a proxy or a shard primary). */
export function clientConfig(endpoint: Endpoint, user: FixtureUser = 'app'): pg.ClientConfig {
  return { host: endpoint.host, port: endpoint.port, user, password: USERS[user].password, database: DATABASE };
}

/** The primary of shard `i` as an endpoint. */
export function primaryOf(cluster: LocalCluster, i: number): Endpoint {
  const shard = cluster.shards[i];
  if (shard === undefined) throw new Error(`cluster has no shard ${i}`);
  return { host: shard.primary.host, port: shard.primary.port };
}

/** The default hash function of each shard-key type (docs/placement.md). */
const HASH_FUNCTIONS = {
  int2: 'hashint2extended',
  int4: 'hashint4extended',
  int8: 'hashint8extended',
  text: 'hashtextextended',
  uuid: 'uuid_hash_extended',
} as const;

/**
 * SQL for the bucket of `column` (docs/placement.md, "The bucket of a key"): PostgreSQL's own hash
 * partition hash with the partition seed, hash_combine64's constant, unsigned modulo 2^64, then the
 * modulus. NULL keys are in bucket 0.
 */
export function bucketSql(type: keyof typeof HASH_FUNCTIONS, column: string, modulus: number): string {
  return (
    `coalesce(mod(mod(${HASH_FUNCTIONS[type]}(${column}, 8816678312871386365)::numeric` +
    ` + 23752253665144318179, 18446744073709551616), ${modulus}), 0)`
  );
}

/** SQL for the shard of a bucket under the even bucket map: floor(bucket * shards / modulus). */
export function evenShardSql(bucket: string, shards: number, modulus: number): string {
  return `floor((${bucket}) * ${shards} / ${modulus})::int`;
}
