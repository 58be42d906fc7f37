import t, { type Test } from 'tap';
import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { parse as parseYaml } from 'yaml';
import { configSchema, knownKeysAt } from '../../../topology/config/config-schema.js';
import { ADMIN_DATABASE, type Config } from '../../../topology/config/config-types.js';
import {
  checkConfigFile,
  ConfigError,
  type ConfigProblem,
  loadConfigFile,
  parseConfig,
  REDACTED,
  redactConfig,
} from '../../../topology/config/load-config.js';

const root = join(import.meta.dirname, '..', '..', '..');
const examplePath = join(root, 'docs', 'examples', 'pgshard.yaml');
const exampleEnv = { PGSHARD_APP_PASSWORD: 'app-secret', PGSHARD_ADMIN_PASSWORD: 'ops-secret' };

const minimal = () => ({
  users: [{ name: 'app', password: 'pw' }],
  databases: [{ name: 'app', shards: [{ primary: { host: 'db1', port: 5432 } }] }],
});

/** The problems of a parseConfig/loadConfigFile call that must fail. */
function problemsOf(t: Test, fn: () => unknown): ConfigProblem[] {
  try {
    fn();
  } catch (err) {
    t.type(err, ConfigError);
    if (err instanceof ConfigError) {
      t.equal(err.message, err.problems.map((p) => (p.path === '' ? p.message : `${p.path}: ${p.message}`)).join('\n'));
      return err.problems;
    }
    throw err;
  }
  t.fail('expected a ConfigError');
  return [];
}

const pathsOf = (problems: ConfigProblem[]) => problems.map((p) => p.path);
const find = (problems: ConfigProblem[], path: string) => problems.filter((p) => p.path === path);

void t.test('a minimal config gets every default', async (t) => {
  const config = parseConfig(minimal(), {});
  const expected: Config = {
    listen: { host: '127.0.0.1', port: 6432, tls: null },
    users: [
      { name: 'app', password: 'pw', auth: 'scram-sha-256', admin: false, serverUser: null, serverPassword: null, poolSizeMax: null },
    ],
    databases: [
      {
        name: 'app',
        backendDatabase: 'app',
        shards: [{ name: 'shard0', primary: { host: 'db1', port: 5432, dataDir: null }, replicas: [] }],
        sharding: { modulus: 1024, tables: [], referenceTables: [] },
      },
    ],
    pool: {
      mode: 'transaction',
      sizeMax: 20,
      acquireTimeoutMs: 5000,
      deadlockTimeoutMs: 1000,
      idleTimeoutMs: 600000,
      connectTimeoutMs: 5000,
      resetQuery: 'DISCARD ALL',
      preparedPerBackendMax: 500,
      lifetimeMs: 3600000,
    },
    limits: {
      clientsMax: 1000,
      frameBytesMax: 67108864,
      pipelineMessagesMax: 10000,
      writeBufferBytesMax: 1048576,
      preparedPerClientMax: 10000,
      authTimeoutMs: 60000,
      queryTimeoutMs: 0,
      shutdownTimeoutMs: 10000,
      mergeRowsMax: 1000000,
      mergeBytesMax: 268435456,
      planCacheEntriesMax: 10000,
      copyRowBytesMax: 67108864,
    },
    log: { level: 'info' },
    state: { dir: resolve('pgshard-state') },
    health: { intervalMs: 1000, timeoutMs: 1000, failuresBeforeDown: 3, replicaLagBytesMax: 16777216, replicaLagMsMax: 10000, user: null },
    reads: { consistency: 'sync', syncWaitMs: 50, maxStalenessMs: 1000 },
    failover: { enabled: true, replication: 'async', promoteLagBytesMax: 16777216, waitMs: 30000, promoteTimeoutMs: 30000, rejoin: false, user: null },
    coordination: { kind: 'local', endpoints: [], leaseTtlMs: 5000, prefix: '/pgshard' },
    metrics: { enabled: false, host: '127.0.0.1', port: 9930, path: '/metrics' },
  };
  t.strictSame(config, expected);
});

void t.test('partial sections keep their other defaults; shard names default by position', async (t) => {
  const config = parseConfig(
    {
      ...minimal(),
      listen: { port: 7000 },
      pool: { mode: 'session' },
      databases: [
        {
          name: 'app',
          backendDatabase: 'app_prod',
          shards: [{ primary: { host: 'a', port: 5432 } }, { name: 'east', primary: { host: 'b', port: 5432 } }, { primary: { host: 'c', port: 5432 } }],
        },
      ],
    },
    {},
  );
  t.equal(config.listen.host, '127.0.0.1');
  t.equal(config.listen.port, 7000);
  t.equal(config.pool.mode, 'session');
  t.equal(config.pool.sizeMax, 20);
  t.equal(config.databases[0]?.backendDatabase, 'app_prod');
  t.strictSame(
    config.databases[0]?.shards.map((s) => s.name),
    ['shard0', 'east', 'shard2'],
  );
});

void t.test('empty sections (null in YAML) take their defaults', async (t) => {
  const dir = t.testdir({
    'pgshard.yaml': 'listen:\npool:\n  # sizeMax: 5\nlimits:\nlog:\nusers:\n  - name: app\n    password: pw\ndatabases:\n  - name: app\n    shards:\n      - primary: { host: h, port: 5432 }\n        replicas:\n',
  });
  const config = loadConfigFile(join(dir, 'pgshard.yaml'), {});
  const expected = parseConfig({ ...minimal(), databases: [{ name: 'app', shards: [{ primary: { host: 'h', port: 5432 } }] }] }, {});
  t.strictSame(config, { ...expected, state: { dir: join(dir, 'pgshard-state') } }, 'state.dir is relative to the file');
  t.strictSame(problemsOf(t, () => parseConfig({ ...minimal(), users: null }, {})), [{ path: 'users', message: 'expected a list, got null' }]);
});

void t.test('the result is deeply frozen', async (t) => {
  const config = parseConfig(minimal(), {});
  t.ok(Object.isFrozen(config));
  t.ok(Object.isFrozen(config.pool));
  t.ok(Object.isFrozen(config.users));
  t.ok(Object.isFrozen(config.users[0]));
  t.ok(Object.isFrozen(config.databases[0]?.shards[0]?.primary));
  t.ok(Object.isFrozen(config.databases[0]?.shards[0]?.replicas));
  // ES modules are strict mode code: writing to a frozen object throws.
  const mutable = config as unknown as { pool: { sizeMax: number }; users: unknown[]; databases: { shards: { primary: { port: number } }[] }[] };
  t.throws(() => {
    mutable.pool.sizeMax = 1;
  }, TypeError);
  t.throws(() => mutable.users.push({}), TypeError);
  t.throws(() => {
    const primary = mutable.databases[0]?.shards[0]?.primary;
    if (primary) primary.port = 1;
  }, TypeError);
  t.equal(config.pool.sizeMax, 20);
});

void t.test('the input is not modified', async (t) => {
  const input = minimal();
  const before = structuredClone(input);
  parseConfig(input, {});
  t.strictSame(input, before);
  t.notOk(Object.isFrozen(input));
});

void t.test('every mistake is reported at once, with its path', async (t) => {
  const problems = problemsOf(t, () =>
    parseConfig(
      {
        listen: { port: 70000, hots: 'x' },
        users: [
          { name: 'app' }, // no password
          { name: 'app', password: 'pw', auth: 'kerberos' }, // duplicate, bad auth
          { name: 'bob', password: 'pw', poolSizeMax: 0 },
        ],
        databases: [
          {
            name: 'app',
            shards: [
              { primary: { host: 'db1', port: 5432 }, replicas: [{ host: 'db1r' }] }, // replica without port
              { name: 'shard0', primary: { host: 'db2', port: '5432x' } }, // duplicate name, bad port
            ],
          },
          { name: ADMIN_DATABASE, shards: [] }, // reserved, empty
        ],
        pool: { sizeMx: 10, acquireTimeoutMs: 1.5, mode: 'statement' },
        limits: { frameBytesMax: 100 },
        log: { level: 'verbose' },
        extra: true,
      },
      {},
    ),
  );
  t.strictSame(pathsOf(problems), [
    'listen.port',
    'listen.hots',
    'users[0].password',
    'users[1].name',
    'users[1].auth',
    'users[2].poolSizeMax',
    'databases[0].shards[0].replicas[0].port',
    'databases[0].shards[1].name',
    'databases[0].shards[1].primary.port',
    'databases[1].name',
    'databases[1].shards',
    'pool.mode',
    'pool.acquireTimeoutMs',
    'pool.sizeMx',
    'limits.frameBytesMax',
    'log.level',
    'extra',
  ]);
  const message = (path: string) => find(problems, path).map((p) => p.message);
  t.strictSame(message('listen.port'), ['must be at most 65535']);
  t.strictSame(message('listen.hots'), ['unknown key (did you mean "host"?)']);
  t.strictSame(message('users[0].password'), ['required unless auth is "trust" (auth is "scram-sha-256")']);
  t.strictSame(message('users[1].name'), ['duplicate user name "app" (also at users[0])']);
  t.strictSame(message('users[1].auth'), ['must be one of "scram-sha-256", "md5", "trust"']);
  t.strictSame(message('users[2].poolSizeMax'), ['must be at least 1']);
  t.strictSame(message('databases[0].shards[0].replicas[0].port'), ['required']);
  t.strictSame(message('databases[0].shards[1].primary.port'), ['expected a number, got a string']);
  t.strictSame(message('databases[1].name'), [`"${ADMIN_DATABASE}" is reserved for the admin console`]);
  t.strictSame(message('databases[1].shards'), ['must not be empty']);
  t.strictSame(message('pool.acquireTimeoutMs'), ['must be an integer']);
  t.strictSame(message('limits.frameBytesMax'), ['must be at least 1024']);
  t.strictSame(message('extra'), ['unknown key']);
});

void t.test('type and range messages', async (t) => {
  const problems = problemsOf(t, () =>
    parseConfig(
      {
        listen: { port: -1, tls: 'yes' },
        users: { name: 'app' },
        databases: [{ name: 'app', shards: [{ primary: 'db1:5432' }] }],
        pool: { lifetimeMs: 2 ** 60, idleTimeoutMs: 0 },
        limits: { queryTimeoutMs: -1 },
      },
      {},
    ),
  );
  t.strictSame(
    problems.map((p) => `${p.path}: ${p.message}`),
    [
      'listen.port: must be at least 0',
      'listen.tls: expected a mapping (key: value), got a string',
      'users: expected a list, got a mapping',
      'databases[0].shards[0].primary: expected a mapping (key: value), got a string',
      'pool.idleTimeoutMs: must be at least 1',
      'pool.lifetimeMs: must be at most 2147483647',
      'limits.queryTimeoutMs: must be at least 0',
    ],
  );
  const empty = problemsOf(t, () => parseConfig(null, {}));
  t.equal(empty.length, 1);
  t.equal(empty[0]?.path, '');
  t.match(empty[0]?.message, /empty/);
  t.strictSame(pathsOf(problemsOf(t, () => parseConfig({}, {}))), ['users', 'databases']);
  t.strictSame(problemsOf(t, () => parseConfig([], {})), [{ path: '', message: 'expected a mapping (key: value), got a list' }]);
});

void t.test('unknown keys name their path and suggest the likely key', async (t) => {
  const problems = problemsOf(t, () =>
    parseConfig(
      {
        ...minimal(),
        pool: { sizeMx: 10 },
        limits: { clients_max: 5, CLIENTSMAX: 5, zzzzzz: 1 },
        users: [{ name: 'app', password: 'pw', passwrd: 'x' }],
        databases: [{ name: 'app', shards: [{ primary: { host: 'h', prot: 1, port: 5432 } }], shard: [] }],
      },
      {},
    ),
  );
  t.strictSame(
    problems.map((p) => `${p.path}: ${p.message}`),
    [
      'users[0].passwrd: unknown key (did you mean "password"?)',
      'databases[0].shards[0].primary.prot: unknown key (did you mean "port"?)',
      'databases[0].shard: unknown key (did you mean "shards"?)',
      'pool.sizeMx: unknown key (did you mean "sizeMax"?)',
      'limits.clients_max: unknown key (did you mean "clientsMax"?)',
      'limits.CLIENTSMAX: unknown key (did you mean "clientsMax"?)',
      'limits.zzzzzz: unknown key',
    ],
  );
});

void t.test('${ENV} interpolation', async (t) => {
  const env = { APP_PW: 'from-env', DB_HOST: 'db.internal', DB_PORT: '5433', PREFIX: 'prod', ADMIN: 'true', EMPTY: '' };
  const config = parseConfig(
    {
      listen: { host: '${LISTEN_HOST:-0.0.0.0}', port: '${LISTEN_PORT:-7432}' },
      users: [
        { name: 'app', password: '${APP_PW}' },
        { name: 'ops', password: 'a$${APP_PW}b', admin: '${ADMIN}', auth: 'md5' },
      ],
      databases: [
        {
          name: 'app',
          backendDatabase: '${PREFIX}_app_${PREFIX}',
          shards: [{ primary: { host: '${DB_HOST}', port: '${DB_PORT}' } }],
        },
      ],
      pool: { resetQuery: '${EMPTY:-DISCARD ALL}' },
    },
    env,
  );
  t.equal(config.listen.host, '0.0.0.0');
  t.equal(config.listen.port, 7432);
  t.equal(config.users[0]?.password, 'from-env');
  t.equal(config.users[1]?.password, 'a${APP_PW}b', '$${ is a literal ${');
  t.equal(config.users[1]?.admin, true);
  t.equal(config.databases[0]?.backendDatabase, 'prod_app_prod');
  t.strictSame(config.databases[0]?.shards[0]?.primary, { host: 'db.internal', port: 5433, dataDir: null });
  t.equal(config.pool.resetQuery, 'DISCARD ALL');

  t.equal(parseConfig(minimal(), { ...env }).users[0]?.password, 'pw', 'the environment is only read for references');
});

void t.test('a missing ${ENV} variable is a problem at its path', async (t) => {
  const problems = problemsOf(t, () =>
    parseConfig(
      {
        users: [{ name: 'app', password: 'x-${SECRET_PW}-y' }],
        databases: [{ name: 'app', shards: [{ primary: { host: '${DB_HOST}', port: '${DB_PORT}' } }] }],
        pool: { resetQuery: '${}' },
      },
      { DB_HOST: 'h' },
    ),
  );
  t.strictSame(
    problems.map((p) => `${p.path}: ${p.message}`),
    [
      'users[0].password: environment variable SECRET_PW is not set',
      // Only the missing variable is reported for the port, not also "expected a number".
      'databases[0].shards[0].primary.port: environment variable DB_PORT is not set',
      'pool.resetQuery: invalid environment variable reference (expected ${NAME} or ${NAME:-default}; write $${ for a literal ${)',
    ],
  );
  // The default environment is process.env.
  const name = 'PGSHARD_TEST_CONFIG_UNSET_VARIABLE';
  delete process.env[name];
  t.strictSame(
    problemsOf(t, () => parseConfig({ ...minimal(), listen: { host: `\${${name}}` } })),
    [{ path: 'listen.host', message: `environment variable ${name} is not set` }],
  );
});

void t.test('names must be unique', async (t) => {
  const problems = problemsOf(t, () =>
    parseConfig(
      {
        users: [
          { name: 'app', password: 'a' },
          { name: 'ops', password: 'b' },
          { name: 'app', password: 'c' },
        ],
        databases: [
          {
            name: 'app',
            shards: [
              { primary: { host: 'h1', port: 5432 } },
              { name: 'shard0', primary: { host: 'h2', port: 5432 } },
              { name: 'shard3', primary: { host: 'h3', port: 5432 } },
              { primary: { host: 'h4', port: 5432 } }, // default name shard3
            ],
          },
          { name: 'other', shards: [{ primary: { host: 'h1', port: 5432 } }] }, // same node, other database: fine
          { name: 'app', shards: [{ primary: { host: 'h9', port: 5432 } }] },
        ],
      },
      {},
    ),
  );
  t.strictSame(
    problems.map((p) => `${p.path}: ${p.message}`),
    [
      'users[2].name: duplicate user name "app" (also at users[0])',
      'databases[0].shards[1].name: duplicate shard name "shard0" (also at databases[0].shards[0])',
      'databases[0].shards[3].name: duplicate shard name "shard3" (the default name for its position, also at databases[0].shards[2])',
      'databases[2].name: duplicate database name "app" (also at databases[0])',
    ],
  );
});

void t.test('a node may serve only one shard of a database', async (t) => {
  const problems = problemsOf(t, () =>
    parseConfig(
      {
        ...minimal(),
        databases: [
          {
            name: 'app',
            shards: [
              { primary: { host: 'h1', port: 5432 }, replicas: [{ host: 'h1', port: '5432' }] },
              { primary: { host: 'h1', port: 5433 }, replicas: [{ host: 'h2', port: 5432 }] },
              { primary: { host: 'h2', port: 5432 } },
            ],
          },
        ],
      },
      {},
    ),
  );
  t.strictSame(pathsOf(problems), ['databases[0].shards[0].replicas[0]', 'databases[0].shards[2].primary']);
  t.match(problems[1]?.message, /h2:5432 is already used by databases\[0\]\.shards\[1\]\.replicas\[0\]/);
});

void t.test(`the database name "${ADMIN_DATABASE}" is reserved`, async (t) => {
  const input = { ...minimal(), databases: [{ name: ADMIN_DATABASE, shards: [{ primary: { host: 'h', port: 5432 } }] }] };
  t.strictSame(problemsOf(t, () => parseConfig(input, {})), [
    { path: 'databases[0].name', message: '"pgshard" is reserved for the admin console' },
  ]);
  // ... but it may be the name of the database on the shards.
  const ok = parseConfig({ ...minimal(), databases: [{ name: 'app', backendDatabase: ADMIN_DATABASE, shards: [{ primary: { host: 'h', port: 5432 } }] }] }, {});
  t.equal(ok.databases[0]?.backendDatabase, ADMIN_DATABASE);
});

void t.test('a password is required unless auth is trust', async (t) => {
  const databases = minimal().databases;
  const problems = problemsOf(t, () =>
    parseConfig(
      {
        users: [
          { name: 'a' },
          { name: 'b', auth: 'md5', password: null },
          { name: 'c', auth: 'trust' },
          { name: 'd', auth: 'trust', password: 'for-the-shards' },
          { name: 'e', auth: 'scram-sha-256', password: '' },
        ],
        databases,
      },
      {},
    ),
  );
  t.strictSame(
    problems.map((p) => `${p.path}: ${p.message}`),
    [
      'users[0].password: required unless auth is "trust" (auth is "scram-sha-256")',
      'users[1].password: required unless auth is "trust" (auth is "md5")',
      'users[4].password: must not be empty',
    ],
  );
  const config = parseConfig({ users: [{ name: 'c', auth: 'trust' }, { name: 'd', auth: 'trust', password: 'p' }], databases }, {});
  t.equal(config.users[0]?.password, null);
  t.equal(config.users[1]?.password, 'p');
});

void t.test('loadConfigFile reads YAML and JSON', async (t) => {
  const dir = t.testdir({
    'pgshard.yaml': 'users:\n  - name: app\n    password: pw\ndatabases:\n  - name: app\n    shards:\n      - primary: { host: h, port: 5432 }\npool:\n  sizeMax: 5\n',
    'pgshard.json': JSON.stringify({ ...minimal(), log: { level: 'debug' } }),
  });
  const yaml = loadConfigFile(join(dir, 'pgshard.yaml'), {});
  t.equal(yaml.pool.sizeMax, 5);
  t.ok(Object.isFrozen(yaml.pool));
  t.equal(loadConfigFile(join(dir, 'pgshard.json'), {}).log.level, 'debug');
  t.strictSame(checkConfigFile(join(dir, 'pgshard.yaml'), {}), []);
});

void t.test('a YAML syntax error gives the file, line and column', async (t) => {
  const dir = t.testdir({
    'bad-indent.yaml': 'listen:\n  port: 6432\n host: x\nusers: []\n',
    'duplicate-key.yaml': 'users: []\ndatabases: []\nusers: []\n',
    'two-docs.yaml': 'users: []\n---\nusers: []\n',
    'tag.yaml': 'users:\n  - name: app\n    password: !s3cret\ndatabases: []\n',
  });
  const file = join(dir, 'bad-indent.yaml');
  const problems = problemsOf(t, () => loadConfigFile(file, {}));
  t.ok(problems.length >= 1);
  t.equal(problems[0]?.path, file);
  t.match(problems[0]?.message, /^YAML syntax error at line 3, column \d+: /);
  t.strictSame(checkConfigFile(file, {}), problems);

  const tag = problemsOf(t, () => loadConfigFile(join(dir, 'tag.yaml'), {}));
  t.strictSame(tag, [{ path: join(dir, 'tag.yaml'), message: 'YAML syntax error at line 3, column 15: unknown tag (quote a value that starts with "!")' }]);

  const dup = problemsOf(t, () => loadConfigFile(join(dir, 'duplicate-key.yaml'), {}));
  t.match(dup[0]?.message, /^YAML syntax error at line 3, column 1: Map keys must be unique/);
  t.match(problemsOf(t, () => loadConfigFile(join(dir, 'two-docs.yaml'), {}))[0]?.message, /YAML syntax error at line 2/);
});

void t.test('file-level problems name the file', async (t) => {
  const dir = t.testdir({ 'empty.yaml': '# nothing here\n', sub: {} });
  const missing = join(dir, 'nope.yaml');
  t.strictSame(problemsOf(t, () => loadConfigFile(missing, {})), [{ path: missing, message: 'cannot read the config file: no such file' }]);
  t.strictSame(checkConfigFile(missing, {}), [{ path: missing, message: 'cannot read the config file: no such file' }]);
  t.match(problemsOf(t, () => loadConfigFile(join(dir, 'sub'), {})), [{ path: join(dir, 'sub'), message: /is a directory/ }]);
  t.match(problemsOf(t, () => loadConfigFile(join(dir, 'empty.yaml'), {})), [{ path: join(dir, 'empty.yaml'), message: /empty/ }]);
});

void t.test('TLS files are resolved against the config file and must be readable', async (t) => {
  const dir = t.testdir({
    'ok.yaml': 'listen: { tls: { certFile: certs/server.crt, keyFile: certs/server.key } }\nusers: [{ name: a, password: p }]\ndatabases: [{ name: d, shards: [{ primary: { host: h, port: 1 } }] }]\n',
    'bad.yaml': 'listen: { tls: { certFile: nope.crt, keyFile: certs } }\nusers: [{ name: a, password: p }]\ndatabases: [{ name: d, shards: [{ primary: { host: h, port: 1 } }] }]\n',
    certs: { 'server.crt': 'CERT', 'server.key': 'KEY' },
  });
  const config = loadConfigFile(join(dir, 'ok.yaml'), {});
  t.strictSame(config.listen.tls, { certFile: join(dir, 'certs', 'server.crt'), keyFile: join(dir, 'certs', 'server.key') });
  t.strictSame(problemsOf(t, () => loadConfigFile(join(dir, 'bad.yaml'), {})), [
    { path: 'listen.tls.certFile', message: `cannot read ${JSON.stringify(join(dir, 'nope.crt'))}: no such file` },
    { path: 'listen.tls.keyFile', message: `${JSON.stringify(join(dir, 'certs'))} is not a regular file` },
  ]);
  t.strictSame(
    problemsOf(t, () => parseConfig({ ...minimal(), listen: { tls: { certFile: 'c' } } }, {})),
    [{ path: 'listen.tls.keyFile', message: 'required' }],
  );
});

void t.test('the documented example validates', async (t) => {
  const config = loadConfigFile(examplePath, exampleEnv);
  t.equal(config.databases.length, 1);
  const app = config.databases[0];
  t.equal(app?.name, 'app');
  t.equal(app?.shards.length, 2);
  for (const shard of app?.shards ?? []) {
    t.ok(shard.primary.host);
    t.equal(shard.replicas.length, 1);
  }
  t.strictSame(
    config.users.map((u) => [u.name, u.auth, u.admin, u.password]),
    [
      ['app', 'scram-sha-256', false, 'app-secret'],
      ['ops', 'scram-sha-256', true, 'ops-secret'],
    ],
  );
  t.strictSame(checkConfigFile(examplePath, exampleEnv), []);
  t.strictSame(checkConfigFile(examplePath, {}), [
    { path: 'users[0].password', message: 'environment variable PGSHARD_APP_PASSWORD is not set' },
    { path: 'users[1].password', message: 'environment variable PGSHARD_ADMIN_PASSWORD is not set' },
  ]);
});

void t.test('docs/configuration.md: its YAML examples validate and it documents every key', async (t) => {
  const doc = readFileSync(join(root, 'docs', 'configuration.md'), 'utf8');
  const blocks = [...doc.matchAll(/```yaml\n([\s\S]*?)```/g)].map((m) => m[1] ?? '');
  const env = { ...exampleEnv, SHARD0_HOST: 'h0' };
  let complete = 0;
  for (const block of blocks) {
    const input: unknown = parseYaml(block);
    if (typeof input !== 'object' || input === null || !('users' in input && 'databases' in input)) continue;
    complete++;
    t.doesNotThrow(() => parseConfig(input, env), block.split('\n')[0] ?? '');
  }
  t.ok(complete >= 3, 'the full example, the minimal file and the ${ENV} example');
  // The first YAML block is the example file without its comments.
  const withoutComments = (s: string) => parseYaml(s) as unknown;
  t.strictSame(withoutComments(blocks[0] ?? ''), withoutComments(readFileSync(examplePath, 'utf8')));

  const sections: [string, PropertyKey[]][] = [
    ['listen', ['listen']],
    ['listen.tls', ['listen', 'tls']],
    ['pool', ['pool']],
    ['limits', ['limits']],
    ['log', ['log']],
    ['state', ['state']],
    ['health', ['health']],
    ['reads', ['reads']],
    ['failover', ['failover']],
    ['coordination', ['coordination']],
    ['metrics', ['metrics']],
    ['sharding', ['databases', 0, 'sharding']],
    ['sharding.tables[i]', ['databases', 0, 'sharding', 'tables', 0]],
  ];
  for (const [prefix, path] of sections)
    for (const key of knownKeysAt(path) ?? []) t.ok(doc.includes(`\`${prefix}.${key}\``), `${prefix}.${key} is documented`);
  for (const path of [['users', 0], ['databases', 0], ['databases', 0, 'shards', 0]])
    for (const key of knownKeysAt(path) ?? []) t.ok(doc.includes(`\`${key}\``) || doc.includes(`.${key}\``), `${key} is documented`);
});

void t.test('configSchema on its own applies defaults and cross-field rules', async (t) => {
  const ok = configSchema.safeParse(minimal());
  t.ok(ok.success);
  t.equal(ok.data?.pool.sizeMax, 20);
  const bad = configSchema.safeParse({ ...minimal(), users: [{ name: 'a', password: 'p' }, { name: 'a', password: 'p' }] });
  t.strictSame(
    bad.error?.issues.map((i) => [i.path, i.message]),
    [[['users', 1, 'name'], 'duplicate user name "a" (also at users[0])']],
  );
});

void t.test('redactConfig hides passwords', async (t) => {
  const config = parseConfig(
    {
      users: [
        { name: 'app', password: 'Secret-1', serverPassword: 'Secret-2', serverUser: 'app_rw' },
        { name: 'guest', auth: 'trust' },
      ],
      databases: minimal().databases,
    },
    {},
  );
  const redacted = redactConfig(config) as { users: { password: unknown; serverPassword: unknown; serverUser: unknown }[]; pool: unknown };
  t.notOk(JSON.stringify(redacted).includes('Secret'));
  t.strictSame(redacted.users[0], { name: 'app', password: REDACTED, auth: 'scram-sha-256', admin: false, serverUser: 'app_rw', serverPassword: REDACTED, poolSizeMax: null });
  t.equal(redacted.users[1]?.password, null);
  t.equal(redacted.users[1]?.serverPassword, null);
  t.strictSame(redacted.pool, config.pool);
  t.notOk(Object.isFrozen(redacted), 'a plain copy');
  t.equal(config.users[0]?.password, 'Secret-1', 'the config itself is unchanged');
});

void t.test('no problem message ever contains a password', async (t) => {
  const secret = 'Zebra-Quartz-9731';
  const messages: string[] = [];
  const collect = (fn: () => unknown) => {
    const problems = problemsOf(t, fn);
    t.ok(problems.length > 0);
    for (const p of problems) messages.push(`${p.path}: ${p.message}`);
  };

  collect(() =>
    parseConfig(
      {
        listen: { host: secret, port: secret, tls: secret },
        users: [
          { name: 'a', password: secret, auth: secret, admin: secret, poolSizeMax: secret },
          { name: 'b', password: [secret], serverPassword: { value: secret } },
          { name: 'c', password: 12345, serverUser: 7 },
          { name: 'd', passwrd: secret },
          { name: 'e', password: `${secret}\${${'NOPE'}}` },
          { name: 'f', password: `${secret}\${bad ref}` },
        ],
        databases: [{ name: 'app', backendDatabase: 5, shards: [{ primary: { host: 'h', port: secret }, replicas: secret }] }],
        pool: { mode: secret, resetQuery: 5, sizeMax: secret },
        log: { level: secret },
      },
      {},
    ),
  );
  t.ok(messages.some((m) => m === 'users[2].password: expected a string, got a number'));
  t.notOk(messages.some((m) => m.includes('12345')));

  const dir = t.testdir({
    'unterminated.yaml': `users:\n  - name: app\n    password: "${secret}\n`,
    'tag.yaml': `users:\n  - name: app\n    password: !${secret}\ndatabases: []\n`,
    'escape.yaml': `users:\n  - name: app\n    password: "${secret}\\q"\n`,
    'flow.yaml': `users: [{ name: app, password: ${secret}} ]\n`,
    'anchor.yaml': `users:\n  - name: app\n    password: &${secret} [a\n`,
    'at.yaml': `users:\n  - name: app\n    password: @${secret}\n`,
    'types.yaml': `users:\n  - name: app\n    password: [${secret}]\n    auth: ${secret}\ndatabases:\n  - name: app\n    shards: ${secret}\n`,
  });
  for (const file of ['unterminated.yaml', 'tag.yaml', 'escape.yaml', 'flow.yaml', 'anchor.yaml', 'at.yaml', 'types.yaml'])
    collect(() => loadConfigFile(join(dir, file), {}));

  t.ok(messages.length >= 20, `${messages.length} messages checked`);
  for (const m of messages) t.notOk(m.includes(secret) || m.includes('Zebra') || m.includes('9731'), m);

  // The error's own message too.
  try {
    parseConfig({ users: [{ name: 'a', password: secret, port: secret }], databases: [] }, {});
    t.fail('should throw');
  } catch (err) {
    t.notOk(String(err).includes(secret));
    t.notOk(JSON.stringify(err).includes(secret));
  }
});

void t.test('sharding rules: defaults, and every cross-field problem named by its key', async (t) => {
  const withSharding = (sharding: unknown) => ({
    ...minimal(),
    databases: [{ name: 'app', shards: [{ primary: { host: 'a', port: 5432 } }, { primary: { host: 'b', port: 5432 } }], sharding }],
  });
  const ok = parseConfig(withSharding({ tables: [{ name: 'orders', column: 'customer_id' }], referenceTables: ['countries'] }), {});
  t.strictSame(ok.databases[0]?.sharding, {
    modulus: 1024,
    tables: [{ name: 'orders', column: 'customer_id', type: null, method: 'hash', ranges: [], lists: [], default: null }],
    referenceTables: ['countries'],
  });
  const problems = problemsOf(t, () =>
    parseConfig(
      withSharding({
        modulus: 0,
        tables: [
          { name: 'a', column: 'k', method: 'range', ranges: [{ to: 10, shard: 2 }] },
          { name: 'b', column: 'k', type: 'text', method: 'list' },
          { name: 'c', column: 'k', type: 'int8', lists: [{ values: [1], shard: 0 }] },
          { name: 'a', column: 'k', type: 'float8' },
          { name: 'x.y.z', column: 'k', colum: 'k' },
          { name: 'r', column: 'k', type: 'int4', method: 'range', ranges: [{ from: 1.5, to: 'ten', shard: 0 }] },
        ],
        referenceTables: ['b'],
      }),
      {},
    ),
  );
  const at = (path: string) => find(problems, path).map((p) => p.message);
  t.match(at('databases[0].sharding.modulus'), [/>= 1|at least 1|too small/i]);
  t.match(at('databases[0].sharding.tables[0].ranges[0].shard'), [/shard 2 does not exist \(the database has 2 shards/]);
  t.match(at('databases[0].sharding.tables[0].type'), [/required for method "range"/]);
  t.match(at('databases[0].sharding.tables[1].lists'), [/needs at least one list/]);
  t.match(at('databases[0].sharding.tables[2].lists'), [/only for method "list"/]);
  t.match(at('databases[0].sharding.tables[3].name'), [/already has a rule at databases\[0\]\.sharding\.tables\[0\]/]);
  t.equal(at('databases[0].sharding.tables[3].type').length, 1, 'an unknown key type is named');
  t.equal(at('databases[0].sharding.tables[4].name').length, 1, 'a name with two dots is refused');
  t.match(at('databases[0].sharding.tables[4].colum'), [/column/], 'a misspelt key gets a suggestion');
  t.match(at('databases[0].sharding.referenceTables[0]'), [/already has a rule/]);
  t.match(at('databases[0].sharding.tables[5].ranges[0].from'), [/1\.5 is not an integer \(the key type is int4\)/]);
  t.match(at('databases[0].sharding.tables[5].ranges[0].to'), [/"ten" is not an integer/]);
});

void t.test('coordination and health: cross-field problems are named', async (t) => {
  const problems = problemsOf(t, () =>
    parseConfig({ ...minimal(), coordination: { kind: 'etcd' }, health: { user: 'nobody' }, reads: { consistency: 'eventual' } }, {}),
  );
  t.match(find(problems, 'coordination.endpoints').map((p) => p.message), [/needs at least one endpoint/]);
  t.match(find(problems, 'health.user').map((p) => p.message), [/"nobody" is not in users/]);
  t.equal(find(problems, 'reads.consistency').length, 1, 'an unknown consistency level is named');
  const bad = problemsOf(t, () => parseConfig({ ...minimal(), coordination: { kind: 'etcd', endpoints: ['127.0.0.1:2379'] } }, {}));
  t.match(find(bad, 'coordination.endpoints[0]').map((p) => p.message), [/etcd client URL/]);
});

void t.test('a node host may be a Unix-socket directory (absolute path), within the socket path limit', async (t) => {
  const ok = parseConfig({ ...minimal(), databases: [{ name: 'app', shards: [{ primary: { host: '/var/run/postgresql', port: 5432 } }] }] }, {});
  t.equal(ok.databases[0]!.shards[0]!.primary.host, '/var/run/postgresql');
  const longDir = `/${'d'.repeat(100)}`;
  const problems = problemsOf(t, () =>
    parseConfig({ ...minimal(), databases: [{ name: 'app', shards: [{ primary: { host: longDir, port: 5432 } }] }] }, {}),
  );
  const hostProblems = find(problems, 'databases[0].shards[0].primary.host');
  t.equal(hostProblems.length, 1, `the problem names the host key: ${JSON.stringify(problems)}`);
  t.match(hostProblems[0]?.message ?? '', /Unix socket .*\.s\.PGSQL\.5432 is longer than the 107 bytes/);
});
