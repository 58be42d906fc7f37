// The zod schema for a pgshard configuration file. Parsing with it yields exactly `Config` (asserted at
// compile time below) with every default filled in. Input keys are the same camelCase keys as the types.
//
// The schema checks structure, ranges and cross-field rules (unique names, password required unless
// trust, ...). Environment interpolation (`${NAME}`), mapping issues to `path: message` problems and
// freezing live in load-config.ts: use parseConfig / loadConfigFile rather than this schema directly.
//
// Integer and boolean fields also accept their value as a string ("6432", "true") so that a value can
// come from an environment variable (`port: ${PGSHARD_PORT}`).

import { z } from 'zod';
import { isSocketDirectory, UNIX_SOCKET_PATH_BYTES_MAX, unixSocketPath } from '../node-endpoint.js';
import { ADMIN_DATABASE, type Config } from './config-types.js';

/** Largest delay setTimeout honours; anything larger fires immediately (TimeoutOverflowWarning). */
export const TIMER_MS_MAX = 2_147_483_647;

function coerceInteger(value: unknown): unknown {
  if (typeof value === 'string' && /^\s*-?\d+\s*$/.test(value)) return Number(value);
  return value;
}

function coerceBoolean(value: unknown): unknown {
  if (typeof value === 'string') {
    const v = value.trim().toLowerCase();
    if (v === 'true') return true;
    if (v === 'false') return false;
  }
  return value;
}

const integer = (min: number, max: number) => z.preprocess(coerceInteger, z.number().int().min(min).max(max));
/** A duration in milliseconds, small enough for setTimeout. */
const millis = (min: number) => integer(min, TIMER_MS_MAX);
const boolean = z.preprocess(coerceBoolean, z.boolean());
const nonEmptyString = z.string().min(1);
const port = integer(1, 65535);

// ---------------------------------------------------------------------------------------------- listen

export const tlsSchema = z.strictObject({
  certFile: nonEmptyString,
  keyFile: nonEmptyString,
});

export const listenSchema = z.strictObject({
  host: nonEmptyString.default('127.0.0.1'),
  // 0 asks the OS for a free port (tests, scripts that read the bound port back).
  port: integer(0, 65535).default(6432),
  tls: tlsSchema.nullable().default(null),
});

// ----------------------------------------------------------------------------------------------- users

export const AUTH_METHODS = ['scram-sha-256', 'md5', 'trust'] as const;

export const userSchema = z.strictObject({
  name: nonEmptyString,
  password: nonEmptyString.nullable().default(null),
  auth: z.enum(AUTH_METHODS).default('scram-sha-256'),
  admin: boolean.default(false),
  serverUser: nonEmptyString.nullable().default(null),
  serverPassword: nonEmptyString.nullable().default(null),
  poolSizeMax: integer(1, 10_000).nullable().default(null),
});

// ------------------------------------------------------------------------------------------- databases

/** An optional section: absent or empty (`pool:` with every key commented out, i.e. null) means defaults. */
const section = <T extends z.ZodType>(schema: T) => z.preprocess((value) => value ?? {}, schema);

export const nodeAddressSchema = z
  .strictObject({
    /** A host name or address, or (starting with '/') the directory of the node's Unix socket, as in libpq. */
    host: nonEmptyString,
    port,
    /** The node's data directory when it is on the proxy's machine (failover.rejoin rewinds it there). */
    dataDir: nonEmptyString.nullable().default(null),
  })
  .superRefine((node, ctx) => {
    if (!isSocketDirectory(node.host)) return;
    const path = unixSocketPath(node.host, node.port);
    if (Buffer.byteLength(path) > UNIX_SOCKET_PATH_BYTES_MAX) {
      ctx.addIssue({
        code: 'custom',
        path: ['host'],
        message: `the Unix socket ${path} is longer than the ${UNIX_SOCKET_PATH_BYTES_MAX} bytes a socket path may have; use a shorter directory`,
      });
    }
  });

export const shardSchema = z.strictObject({
  name: nonEmptyString,
  primary: nodeAddressSchema,
  // `replicas:` left empty in YAML is null: no replicas.
  replicas: z.preprocess((value) => value ?? [], z.array(nodeAddressSchema)),
});

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** The default name of the shard at index i. */
export function defaultShardName(index: number): string {
  return `shard${index}`;
}

/** Fills in `name: shard<i>` for shards that have none (the default depends on the index). */
function withDefaultShardNames(value: unknown): unknown {
  if (!Array.isArray(value)) return value;
  return value.map((shard: unknown, i) =>
    isRecord(shard) && shard['name'] === undefined ? { ...shard, name: defaultShardName(i) } : shard,
  );
}

export const SHARD_KEY_TYPES = ['int2', 'int4', 'int8', 'text', 'varchar', 'uuid'] as const;
export const SHARD_METHODS = ['hash', 'range', 'list'] as const;
const shardIndex = integer(0, 10_000);
// Integer-ness is checked against the key type by shardingIssues, with a clearer message than a union's.
const keyValue = z.union([z.string(), z.number()]);

export const rangePieceSchema = z.strictObject({
  from: keyValue.nullable().default(null),
  to: keyValue.nullable().default(null),
  shard: shardIndex,
});

export const listPieceSchema = z.strictObject({
  values: z.array(keyValue).min(1),
  shard: shardIndex,
});

/** Postgres folds unquoted names to lower case; so do rule names (a quoted mixed-case name is written as is). */
const relationName = nonEmptyString.regex(/^[^.\s]+(\.[^.\s]+)?$/, 'expected "table" or "schema.table"');

export const shardedTableSchema = z.strictObject({
  name: relationName,
  column: nonEmptyString,
  type: z.enum(SHARD_KEY_TYPES).nullable().default(null),
  method: z.enum(SHARD_METHODS).default('hash'),
  ranges: z.array(rangePieceSchema).default([]),
  lists: z.array(listPieceSchema).default([]),
  default: shardIndex.nullable().default(null),
});

export const shardingSchema = z.strictObject({
  modulus: integer(1, 1 << 20).default(1024),
  tables: z.preprocess((v) => v ?? [], z.array(shardedTableSchema)),
  referenceTables: z.preprocess((v) => v ?? [], z.array(relationName)),
});

export const databaseObjectSchema = z.strictObject({
  name: nonEmptyString.refine((name) => name !== ADMIN_DATABASE, {
    message: `"${ADMIN_DATABASE}" is reserved for the admin console`,
  }),
  backendDatabase: nonEmptyString.optional(),
  shards: z.preprocess(withDefaultShardNames, z.array(shardSchema).min(1)),
  sharding: section(shardingSchema),
});

export const databaseSchema = databaseObjectSchema.transform((db) => ({
  name: db.name,
  backendDatabase: db.backendDatabase ?? db.name,
  shards: db.shards,
  sharding: db.sharding,
}));

// ------------------------------------------------------------------------------------ pool, limits, log

export const POOL_MODES = ['transaction', 'session'] as const;

export const poolSchema = z.strictObject({
  mode: z.enum(POOL_MODES).default('transaction'),
  sizeMax: integer(1, 10_000).default(20),
  acquireTimeoutMs: millis(1).default(5_000),
  deadlockTimeoutMs: millis(0).default(1_000),
  idleTimeoutMs: millis(1).default(600_000),
  connectTimeoutMs: millis(1).default(5_000),
  resetQuery: nonEmptyString.default('DISCARD ALL'),
  preparedPerBackendMax: integer(1, Number.MAX_SAFE_INTEGER).default(500),
  lifetimeMs: millis(0).default(3_600_000),
});

export const limitsSchema = z.strictObject({
  clientsMax: integer(1, Number.MAX_SAFE_INTEGER).default(1_000),
  frameBytesMax: integer(1_024, 1_073_741_824).default(67_108_864),
  pipelineMessagesMax: integer(1, Number.MAX_SAFE_INTEGER).default(10_000),
  writeBufferBytesMax: integer(1, Number.MAX_SAFE_INTEGER).default(1_048_576),
  preparedPerClientMax: integer(1, Number.MAX_SAFE_INTEGER).default(10_000),
  authTimeoutMs: millis(1).default(60_000),
  queryTimeoutMs: millis(0).default(0),
  shutdownTimeoutMs: millis(0).default(10_000),
  mergeRowsMax: integer(1, Number.MAX_SAFE_INTEGER).default(1_000_000),
  mergeBytesMax: integer(1_024, Number.MAX_SAFE_INTEGER).default(268_435_456),
  planCacheEntriesMax: integer(1, 10_000_000).default(10_000),
  copyRowBytesMax: integer(1_024, 1_073_741_824).default(67_108_864),
});

export const stateSchema = z.strictObject({
  dir: nonEmptyString.default('pgshard-state'),
});

// ------------------------------------------------------------------------ replicas, failover, proxies

export const READ_CONSISTENCIES = ['strong', 'sync', 'bounded', 'async'] as const;

export const healthSchema = z.strictObject({
  intervalMs: millis(50).default(1_000),
  timeoutMs: millis(10).default(1_000),
  failuresBeforeDown: integer(1, 1_000).default(3),
  replicaLagBytesMax: integer(0, Number.MAX_SAFE_INTEGER).default(16_777_216),
  replicaLagMsMax: millis(0).default(10_000),
  user: nonEmptyString.nullable().default(null),
});

export const readsSchema = z.strictObject({
  consistency: z.enum(READ_CONSISTENCIES).default('sync'),
  syncWaitMs: millis(0).default(50),
  maxStalenessMs: millis(0).default(1_000),
});

export const failoverSchema = z.strictObject({
  enabled: boolean.default(true),
  replication: z.enum(['async', 'sync']).default('async'),
  promoteLagBytesMax: integer(0, Number.MAX_SAFE_INTEGER).default(16_777_216),
  waitMs: millis(0).default(30_000),
  promoteTimeoutMs: millis(100).default(30_000),
  rejoin: boolean.default(false),
  user: nonEmptyString.nullable().default(null),
});

export const coordinationSchema = z.strictObject({
  kind: z.enum(['local', 'etcd']).default('local'),
  endpoints: z.array(z.string().regex(/^https?:\/\/[^\s/]+(:\d+)?\/?$/, 'expected an etcd client URL like http://127.0.0.1:2379')).default([]),
  leaseTtlMs: millis(1_000).default(5_000),
  prefix: nonEmptyString.default('/pgshard'),
});

export const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;

export const logSchema = z.strictObject({
  level: z.enum(LOG_LEVELS).default('info'),
});

export const metricsSchema = z.strictObject({
  enabled: boolean.default(false),
  host: nonEmptyString.default('127.0.0.1'),
  // 0 asks the OS for a free port, as listen.port does (tests read the bound port back).
  port: integer(0, 65535).default(9930),
  // Compared with the request's raw path, so only RFC 3986 path characters (non-ASCII percent-encoded);
  // a query string or fragment would never match what a scraper requests.
  path: z
    .string()
    .regex(/^\/[A-Za-z0-9\-._~!$&'()*+,;=:@%/]*$/, 'expected an absolute URL path like /metrics (no spaces, "?" or "#")')
    .default('/metrics'),
});

// ---------------------------------------------------------------------------------------------- config

export const configObjectSchema = z.strictObject({
  listen: section(listenSchema),
  users: z.array(userSchema).min(1),
  databases: z.array(databaseSchema).min(1),
  pool: section(poolSchema),
  limits: section(limitsSchema),
  log: section(logSchema),
  state: section(stateSchema),
  health: section(healthSchema),
  reads: section(readsSchema),
  failover: section(failoverSchema),
  coordination: section(coordinationSchema),
  metrics: section(metricsSchema),
});

type IssuePath = (string | number)[];
interface CrossFieldIssue {
  path: IssuePath;
  message: string;
}

function formatIssuePath(path: IssuePath): string {
  return path.map((p, i) => (typeof p === 'number' ? `[${p}]` : i === 0 ? p : `.${p}`)).join('');
}

/**
 * Rules spanning several fields. Written defensively: it also runs on a value that failed other checks
 * (so that every problem is reported at once), in which case any part may have the wrong type.
 * Messages never contain a password.
 */
export function crossFieldIssues(value: unknown): CrossFieldIssue[] {
  const issues: CrossFieldIssue[] = [];
  if (!isRecord(value)) return issues;

  /** Reports entries whose name was already used; `names[i]` is undefined for unnamed entries. */
  const checkUnique = (
    kind: string,
    names: (string | undefined)[],
    pathOf: (i: number) => IssuePath,
    defaulted: ReadonlySet<number> = new Set(),
  ) => {
    const first = new Map<string, number>();
    names.forEach((name, i) => {
      if (name === undefined) return;
      const j = first.get(name);
      if (j === undefined) first.set(name, i);
      else {
        const note = defaulted.has(i) ? 'the default name for its position, ' : '';
        issues.push({
          path: [...pathOf(i), 'name'],
          message: `duplicate ${kind} name ${JSON.stringify(name)} (${note}also at ${formatIssuePath(pathOf(j))})`,
        });
      }
    });
  };

  const users = value['users'];
  if (Array.isArray(users)) {
    checkUnique(
      'user',
      users.map((u: unknown) => (isRecord(u) && typeof u['name'] === 'string' ? u['name'] : undefined)),
      (i) => ['users', i],
    );
    users.forEach((user: unknown, i) => {
      if (!isRecord(user)) return;
      const auth = user['auth'] ?? 'scram-sha-256';
      const needsPassword = auth === 'scram-sha-256' || auth === 'md5';
      if (needsPassword && (user['password'] === undefined || user['password'] === null))
        issues.push({ path: ['users', i, 'password'], message: `required unless auth is "trust" (auth is "${auth}")` });
    });
  }

  const coordination = value['coordination'];
  if (isRecord(coordination) && coordination['kind'] === 'etcd' && !(Array.isArray(coordination['endpoints']) && coordination['endpoints'].length > 0))
    issues.push({ path: ['coordination', 'endpoints'], message: 'coordination kind "etcd" needs at least one endpoint' });
  for (const section of ['health', 'failover'] as const) {
    const v = value[section];
    if (isRecord(v) && typeof v['user'] === 'string' && Array.isArray(users)) {
      const name = v['user'];
      if (!users.some((u: unknown) => isRecord(u) && u['name'] === name))
        issues.push({ path: [section, 'user'], message: `user ${JSON.stringify(name)} is not in users` });
    }
  }

  const metricsClash = listenClash(value['listen'], value['metrics']);
  if (metricsClash !== null) issues.push({ path: ['metrics', 'port'], message: metricsClash });

  const databases = value['databases'];
  if (Array.isArray(databases)) {
    checkUnique(
      'database',
      databases.map((d: unknown) => (isRecord(d) && typeof d['name'] === 'string' ? d['name'] : undefined)),
      (i) => ['databases', i],
    );
    databases.forEach((db: unknown, d) => {
      if (!isRecord(db) || !Array.isArray(db['shards'])) return;
      const shards: unknown[] = db['shards'];
      const defaulted = new Set<number>();
      checkUnique(
        'shard',
        shards.map((s, i) => {
          if (!isRecord(s)) return undefined;
          if (s['name'] === undefined) {
            defaulted.add(i);
            return defaultShardName(i);
          }
          return typeof s['name'] === 'string' ? s['name'] : undefined;
        }),
        (i) => ['databases', d, 'shards', i],
        defaulted,
      );
      issues.push(...shardingIssues(db['sharding'], shards.length, ['databases', d, 'sharding']));
      // Within one database every node must be a different server: two shards (or a shard and its
      // replica) on the same host:port would be the same backend database.
      const seen = new Map<string, IssuePath>();
      shards.forEach((shard, s) => {
        if (!isRecord(shard)) return;
        const nodes: [unknown, IssuePath][] = [[shard['primary'], ['databases', d, 'shards', s, 'primary']]];
        const replicas = shard['replicas'];
        if (Array.isArray(replicas))
          replicas.forEach((r: unknown, r_) => nodes.push([r, ['databases', d, 'shards', s, 'replicas', r_]]));
        for (const [node, path] of nodes) {
          if (!isRecord(node) || typeof node['host'] !== 'string') continue;
          const p = coerceInteger(node['port']);
          if (typeof p !== 'number') continue;
          const key = `${node['host']}:${p}`;
          const other = seen.get(key);
          if (other === undefined) seen.set(key, path);
          else
            issues.push({
              path,
              message: `${key} is already used by ${formatIssuePath(other)}; each node of a database must be a different server`,
            });
        }
      });
    });
  }
  return issues;
}

const WILDCARD_HOSTS = new Set(['0.0.0.0', '::', '']);

/**
 * Why an enabled metrics listener cannot bind beside the client listener, or null. Caught here rather
 * than at start so `check-config` reports it; only a fixed port on an overlapping address can clash.
 */
function listenClash(listen: unknown, metrics: unknown): string | null {
  if (!isRecord(metrics) || coerceBoolean(metrics['enabled']) !== true) return null;
  const listenRecord = isRecord(listen) ? listen : {};
  const listenPort = coerceInteger(listenRecord['port'] ?? 6432);
  const metricsPort = coerceInteger(metrics['port'] ?? 9930);
  if (typeof listenPort !== 'number' || listenPort === 0 || listenPort !== metricsPort) return null;
  const listenHost = listenRecord['host'] ?? '127.0.0.1';
  const metricsHost = metrics['host'] ?? '127.0.0.1';
  if (typeof listenHost !== 'string' || typeof metricsHost !== 'string') return null;
  if (listenHost !== metricsHost && !WILDCARD_HOSTS.has(listenHost) && !WILDCARD_HOSTS.has(metricsHost)) return null;
  return `port ${listenPort} is also listen.port; the metrics endpoint needs a port of its own`;
}

/** Sharding rules that span fields: shard indexes in range, each method with its own pieces, no table twice. */
export function shardingIssues(sharding: unknown, shardCount: number, at: IssuePath): CrossFieldIssue[] {
  const issues: CrossFieldIssue[] = [];
  if (!isRecord(sharding)) return issues;
  const checkShard = (value: unknown, path: IssuePath) => {
    const n = coerceInteger(value);
    if (typeof n === 'number' && Number.isInteger(n) && n >= shardCount)
      issues.push({ path, message: `shard ${n} does not exist (the database has ${shardCount} shard${shardCount === 1 ? '' : 's'}, numbered from 0)` });
  };
  const seen = new Map<string, IssuePath>();
  const claim = (name: unknown, path: IssuePath) => {
    if (typeof name !== 'string') return;
    const other = seen.get(name);
    if (other === undefined) seen.set(name, path);
    else issues.push({ path, message: `table ${JSON.stringify(name)} already has a rule at ${formatIssuePath(other)}` });
  };
  const tables = sharding['tables'];
  if (Array.isArray(tables)) {
    tables.forEach((table: unknown, i) => {
      if (!isRecord(table)) return;
      const path: IssuePath = [...at, 'tables', i];
      claim(table['name'], [...path, 'name']);
      const method = table['method'] ?? 'hash';
      const ranges = Array.isArray(table['ranges']) ? (table['ranges'] as unknown[]) : [];
      const lists = Array.isArray(table['lists']) ? (table['lists'] as unknown[]) : [];
      if (method !== 'range' && ranges.length > 0) issues.push({ path: [...path, 'ranges'], message: `only for method "range" (method is "${String(method)}")` });
      if (method !== 'list' && lists.length > 0) issues.push({ path: [...path, 'lists'], message: `only for method "list" (method is "${String(method)}")` });
      if (method !== 'list' && table['default'] !== undefined && table['default'] !== null)
        issues.push({ path: [...path, 'default'], message: `only for method "list" (method is "${String(method)}")` });
      if (method === 'range' && ranges.length === 0) issues.push({ path: [...path, 'ranges'], message: 'a range rule needs at least one range' });
      if (method === 'list' && lists.length === 0) issues.push({ path: [...path, 'lists'], message: 'a list rule needs at least one list' });
      if (method !== 'hash' && (table['type'] === undefined || table['type'] === null))
        issues.push({ path: [...path, 'type'], message: `required for method "${String(method)}" (bounds and values are compared by type)` });
      // Integer keys compare as integers: a bound like 1.5 or "ten" could never be placed.
      const integral = table['type'] === 'int2' || table['type'] === 'int4' || table['type'] === 'int8';
      const checkValue = (v: unknown, p: IssuePath) => {
        if (integral && v !== null && v !== undefined && !/^-?\d+$/.test(String(v)))
          issues.push({ path: p, message: `${JSON.stringify(v)} is not an integer (the key type is ${String(table['type'])})` });
      };
      ranges.forEach((r, j) => {
        if (!isRecord(r)) return;
        checkShard(r['shard'], [...path, 'ranges', j, 'shard']);
        checkValue(r['from'], [...path, 'ranges', j, 'from']);
        checkValue(r['to'], [...path, 'ranges', j, 'to']);
      });
      lists.forEach((l, j) => {
        if (!isRecord(l)) return;
        checkShard(l['shard'], [...path, 'lists', j, 'shard']);
        if (Array.isArray(l['values'])) l['values'].forEach((v: unknown, k) => checkValue(v, [...path, 'lists', j, 'values', k]));
      });
      checkShard(table['default'], [...path, 'default']);
    });
  }
  const refs = sharding['referenceTables'];
  if (Array.isArray(refs)) refs.forEach((name: unknown, i) => claim(name, [...at, 'referenceTables', i]));
  return issues;
}

/**
 * The full schema: structure, defaults and cross-field rules. Its output is exactly `Config`.
 * Zod skips the cross-field rules after some failures (e.g. a non-integer), so parseConfig parses with
 * configObjectSchema and runs crossFieldIssues on the input itself, to report every problem at once.
 */
export const configSchema = configObjectSchema.superRefine(
  (value, ctx) => {
    for (const issue of crossFieldIssues(value)) ctx.addIssue({ code: 'custom', path: issue.path, message: issue.message });
  },
  { when: () => true },
);

// --------------------------------------------------------------------------------- compile-time checks

type DeepReadonly<T> = T extends readonly (infer U)[]
  ? readonly DeepReadonly<U>[]
  : T extends object
    ? { readonly [K in keyof T]: DeepReadonly<T[K]> }
    : T;
type Equals<A, B> = (<T>() => T extends A ? 1 : 2) extends <T>() => T extends B ? 1 : 2 ? true : false;

const _outputIsConfig: z.ZodType<Config> = configSchema;
const _exactlyConfig: Equals<DeepReadonly<z.output<typeof configSchema>>, DeepReadonly<Config>> = true;

// ----------------------------------------------------------------------------------- key suggestions

/** Known keys of every object in the config, by path pattern (array indexes written as `[]`). */
const KNOWN_KEYS: ReadonlyMap<string, readonly string[]> = new Map<string, readonly string[]>([
  ['', Object.keys(configObjectSchema.shape)],
  ['listen', Object.keys(listenSchema.shape)],
  ['listen.tls', Object.keys(tlsSchema.shape)],
  ['users[]', Object.keys(userSchema.shape)],
  ['databases[]', Object.keys(databaseObjectSchema.shape)],
  ['databases[].shards[]', Object.keys(shardSchema.shape)],
  ['databases[].shards[].primary', Object.keys(nodeAddressSchema.shape)],
  ['databases[].shards[].replicas[]', Object.keys(nodeAddressSchema.shape)],
  ['databases[].sharding', Object.keys(shardingSchema.shape)],
  ['databases[].sharding.tables[]', Object.keys(shardedTableSchema.shape)],
  ['databases[].sharding.tables[].ranges[]', Object.keys(rangePieceSchema.shape)],
  ['databases[].sharding.tables[].lists[]', Object.keys(listPieceSchema.shape)],
  ['state', Object.keys(stateSchema.shape)],
  ['health', Object.keys(healthSchema.shape)],
  ['reads', Object.keys(readsSchema.shape)],
  ['failover', Object.keys(failoverSchema.shape)],
  ['coordination', Object.keys(coordinationSchema.shape)],
  ['metrics', Object.keys(metricsSchema.shape)],
  ['pool', Object.keys(poolSchema.shape)],
  ['limits', Object.keys(limitsSchema.shape)],
  ['log', Object.keys(logSchema.shape)],
]);

/** The keys allowed in the object at `path` (e.g. ['databases', 0, 'shards', 1]), if it is a known object. */
export function knownKeysAt(path: readonly PropertyKey[]): readonly string[] | undefined {
  const pattern = path.map((p, i) => (typeof p === 'number' ? '[]' : i === 0 ? String(p) : `.${String(p)}`)).join('');
  return KNOWN_KEYS.get(pattern);
}

/** Optimal string alignment distance: insertions, deletions, substitutions and adjacent transpositions. */
function editDistance(a: string, b: string): number {
  const d: number[][] = Array.from({ length: a.length + 1 }, (_, i) =>
    Array.from({ length: b.length + 1 }, (_, j) => (i === 0 ? j : j === 0 ? i : 0)),
  );
  const at = (i: number, j: number) => d[i]?.[j] ?? Infinity;
  for (let i = 1; i <= a.length; i++) {
    const row = d[i] ?? [];
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      let best = Math.min(at(i - 1, j) + 1, at(i, j - 1) + 1, at(i - 1, j - 1) + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) best = Math.min(best, at(i - 2, j - 2) + 1);
      row[j] = best;
    }
  }
  return at(a.length, b.length);
}

/** The known key an unknown key was most likely meant to be (typo, other case, snake_case), if any. */
export function suggestKey(unknown: string, known: readonly string[]): string | undefined {
  const normalize = (k: string) => k.toLowerCase().replace(/[-_\s]/g, '');
  const u = normalize(unknown);
  const exact = known.find((k) => normalize(k) === u);
  if (exact !== undefined) return exact;
  let best: string | undefined;
  let bestDistance = Infinity;
  for (const k of known) {
    const d = editDistance(u, normalize(k));
    if (d < bestDistance) [best, bestDistance] = [k, d];
  }
  const allowed = Math.max(1, Math.floor(u.length / 3));
  return bestDistance <= allowed ? best : undefined;
}
