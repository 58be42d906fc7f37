// Micro-benchmark of the planner (planner/planner.ts): µs per Planner.plan() call, cache hit (bind
// parameters + hash the key) and cache miss (parse + analyse + rewrite), for the statement shapes the
// proxy sees most.
//   npx tsx bench/planner-bench.ts [--ms 300]
// Hits cycle through 4096 pre-built parameter sets of one SQL text; misses use 4096 distinct texts
// (as pgbench -M simple sends them) with a cache too small to keep them. Each case: warm-up, then 7
// timed rounds of at least --ms milliseconds; prints the median.
import { evenBucketMap } from '../planner/hash/bucket-map.js';
import type { BoundParams, SessionRouting } from '../planner/plan.js';
import { Planner } from '../planner/planner.js';
import type { ShardingRules, TableRule } from '../planner/sharding-rules.js';
import { initSqlParser } from '../planner/sql-parser.js';

const msArg = process.argv.indexOf('--ms');
const ROUND_MS = msArg >= 0 ? Number(process.argv[msArg + 1]) : 300;
const N = 4096;

const hash = { kind: 'hash' } as const;
const tables: TableRule[] = [
  { kind: 'sharded', name: 'pgbench_accounts', schema: null, column: 'aid', keyType: 'int4', method: hash },
  { kind: 'sharded', name: 'pgbench_history', schema: null, column: 'aid', keyType: 'int4', method: hash },
  { kind: 'sharded', name: 'users', schema: null, column: 'id', keyType: 'int8', method: hash },
  { kind: 'sharded', name: 'orders', schema: null, column: 'customer_id', keyType: 'int8', method: hash },
  { kind: 'sharded', name: 'accounts', schema: null, column: 'email', keyType: 'text', method: hash },
  { kind: 'reference', name: 'countries', schema: null },
];
const rules: ShardingRules = { epoch: 1, shardCount: 8, buckets: evenBucketMap(1024, 8), tables: new Map(tables.map((t) => [t.name, t])) };
const SESSION: SessionRouting = { shard: null };
const enc = new TextEncoder();

let state = 0x2545f491;
function rand32(): number {
  state ^= state << 13;
  state ^= state >>> 17;
  state ^= state << 5;
  return state >>> 0;
}

const textParams = (...values: string[]): BoundParams => ({ values: values.map((v) => enc.encode(v)), formats: values.map(() => 0), types: values.map(() => 0) });
const binInt8 = (v: number): BoundParams => {
  const b = new Uint8Array(8);
  new DataView(b.buffer).setBigInt64(0, BigInt(v));
  return { values: [b], formats: [1], types: [20] };
};

let sink = 0;

/** Median µs per call of fn(i) over i = 0.. (inputs cycle through N prepared ones). */
function measure(fn: (i: number) => number): number {
  const run = (iterations: number): number => {
    const t0 = process.hrtime.bigint();
    let acc = 0;
    for (let i = 0; i < iterations; i++) acc = (acc + fn(i & (N - 1))) | 0;
    sink ^= acc;
    return Number(process.hrtime.bigint() - t0);
  };
  let iterations = 256;
  while (run(iterations) < ROUND_MS * 1e6 * 0.25) iterations *= 2;
  iterations *= 4;
  const samples: number[] = [];
  for (let r = 0; r < 7; r++) samples.push(run(iterations) / iterations);
  samples.sort((a, b) => a - b);
  return (samples[3] ?? 0) / 1000;
}

interface HitCase {
  readonly name: string;
  readonly sql: string;
  readonly params: (i: number) => BoundParams | null;
}

const hits: HitCase[] = [
  { name: 'select by key, text $1 (pgbench -M extended)', sql: 'SELECT abalance FROM pgbench_accounts WHERE aid = $1', params: () => textParams(String(rand32() % 10000000)) },
  { name: 'update by key, text $1 $2', sql: 'UPDATE pgbench_accounts SET abalance = abalance + $1 WHERE aid = $2', params: () => textParams(String((rand32() % 10000) - 5000), String(rand32() % 10000000)) },
  { name: 'insert history, 4 text params', sql: 'INSERT INTO pgbench_history (tid, bid, aid, delta, mtime) VALUES ($1, $2, $3, $4, CURRENT_TIMESTAMP)', params: () => textParams('1', '2', String(rand32() % 10000000), '5') },
  { name: 'select by int8 key, binary $1', sql: 'SELECT * FROM users WHERE id = $1', params: () => binInt8(rand32()) },
  { name: 'select by text key', sql: 'SELECT * FROM accounts WHERE email = $1', params: () => textParams(`user${rand32()}@example.com`) },
  { name: 'co-located join by key', sql: 'SELECT * FROM users u JOIN orders o ON o.customer_id = u.id WHERE u.id = $1', params: () => textParams(String(rand32())) },
  { name: 'IN ($1, $2, $3)', sql: 'SELECT * FROM users WHERE id IN ($1, $2, $3)', params: () => textParams(String(rand32()), String(rand32()), String(rand32())) },
  { name: 'scatter read with merge (fixed plan)', sql: 'SELECT id, count(*) FROM orders GROUP BY id ORDER BY 2 DESC LIMIT 10', params: () => null },
  { name: '2-row insert, split', sql: 'INSERT INTO users (id, name) VALUES ($1, $2), ($3, $4)', params: () => textParams(String(rand32()), 'a', String(rand32()), 'b') },
];

await initSqlParser();
const out: string[] = [];
out.push(`planner: ${rules.shardCount} shards, ${rules.buckets.modulus} buckets; median of 7 rounds of >= ${ROUND_MS} ms`);
out.push('');
out.push('cache hit (bind + hash)                          µs/stmt');
for (const c of hits) {
  const planner = new Planner(rules, { cacheEntriesMax: 100 });
  const inputs = Array.from({ length: N }, (_, i) => c.params(i));
  const us = measure((i) => planner.plan(c.sql, inputs[i] ?? null, SESSION).length);
  out.push(`  ${c.name.padEnd(46)} ${us.toFixed(2).padStart(7)}`);
}

interface MissCase {
  readonly name: string;
  readonly sql: (i: number) => string;
}

const misses: MissCase[] = [
  { name: 'select by literal key (pgbench -M simple)', sql: (i) => `SELECT abalance FROM pgbench_accounts WHERE aid = ${i * 7919}` },
  { name: 'update by literal key', sql: (i) => `UPDATE pgbench_accounts SET abalance = abalance + -${i} WHERE aid = ${i * 7919}` },
  { name: 'insert history, literals', sql: (i) => `INSERT INTO pgbench_history (tid, bid, aid, delta, mtime) VALUES (${i}, 6, ${i * 31}, -2374, CURRENT_TIMESTAMP)` },
  { name: 'scatter: group by + having + order + limit', sql: (i) => `SELECT name, count(*) AS n, avg(score) FROM users GROUP BY name HAVING sum(score) > ${i} ORDER BY n DESC LIMIT 10` },
  { name: 'catalog query (psql \\d)', sql: (i) => `SELECT c.oid, n.nspname, c.relname FROM pg_catalog.pg_class c LEFT JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace WHERE c.relname OPERATOR(pg_catalog.~) '^(t${i})$' ORDER BY 2, 3` },
];

out.push('');
out.push('cache miss (parse + analyse + rewrite)           µs/stmt');
for (const c of misses) {
  const planner = new Planner(rules, { cacheEntriesMax: 16 });
  const texts = Array.from({ length: N }, (_, i) => c.sql(i));
  const us = measure((i) => planner.plan(texts[i] ?? '', null, SESSION).length);
  out.push(`  ${c.name.padEnd(46)} ${us.toFixed(2).padStart(7)}`);
}
out.push('');
out.push(`(sink ${sink & 1})`);
console.log(out.join('\n'));
