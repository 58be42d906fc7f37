// The `metrics:` section: off by default, each key validated and named in its problem, the port
// clash with listen.port caught before start, and values from environment variables coerced.
import t, { type Test } from 'tap';
import { join } from 'node:path';
import { ConfigError, type ConfigProblem, loadConfigFile, parseConfig } from '../../../topology/config/load-config.js';

const minimal = () => ({
  users: [{ name: 'app', password: 'pw' }],
  databases: [{ name: 'app', shards: [{ primary: { host: 'db1', port: 5432 } }] }],
});

function problemsOf(t: Test, input: unknown, env: NodeJS.ProcessEnv = {}): ConfigProblem[] {
  try {
    parseConfig(input, env);
  } catch (err) {
    if (err instanceof ConfigError) return err.problems;
    throw err;
  }
  t.fail('expected a ConfigError');
  return [];
}

const lines = (problems: ConfigProblem[]) => problems.map((p) => `${p.path}: ${p.message}`);
const find = (problems: ConfigProblem[], path: string) => problems.filter((p) => p.path === path);

void t.test('absent, empty or partial: the defaults', async (t) => {
  const defaults = { enabled: false, host: '127.0.0.1', port: 9930, path: '/metrics' };
  t.strictSame(parseConfig(minimal(), {}).metrics, defaults);
  t.strictSame(parseConfig({ ...minimal(), metrics: null }, {}).metrics, defaults, 'metrics: left empty in YAML');
  t.strictSame(parseConfig({ ...minimal(), metrics: { enabled: true } }, {}).metrics, { ...defaults, enabled: true });
  t.strictSame(
    parseConfig({ ...minimal(), metrics: { enabled: true, host: '0.0.0.0', port: 0, path: '/internal/prometheus' } }, {}).metrics,
    { enabled: true, host: '0.0.0.0', port: 0, path: '/internal/prometheus' },
  );
  t.ok(Object.isFrozen(parseConfig(minimal(), {}).metrics));
});

void t.test('values from environment variables are coerced', async (t) => {
  const config = parseConfig(
    { ...minimal(), metrics: { enabled: '${METRICS_ON}', port: '${METRICS_PORT:-9931}', host: '${METRICS_HOST}' } },
    { METRICS_ON: 'true', METRICS_HOST: '10.0.0.5' },
  );
  t.strictSame(config.metrics, { enabled: true, host: '10.0.0.5', port: 9931, path: '/metrics' });
});

void t.test('every bad value is a problem naming its key', async (t) => {
  const problems = problemsOf(t, { ...minimal(), metrics: { enabled: 'yes', host: '', port: 70000, path: 'metrics', extra: 1 } });
  t.strictSame(lines(problems), [
    'metrics.enabled: expected true or false, got a string',
    'metrics.host: must not be empty',
    'metrics.port: must be at most 65535',
    'metrics.path: expected an absolute URL path like /metrics (no spaces, "?" or "#")',
    'metrics.extra: unknown key',
  ]);
  t.strictSame(lines(problemsOf(t, { ...minimal(), metrics: { port: -1 } })), ['metrics.port: must be at least 0']);
  t.strictSame(lines(problemsOf(t, { ...minimal(), metrics: { port: 1.5 } })), ['metrics.port: must be an integer']);
  t.strictSame(lines(problemsOf(t, { ...minimal(), metrics: { path: 5 } })), ['metrics.path: expected a string, got a number']);
  t.strictSame(lines(problemsOf(t, { ...minimal(), metrics: 'on' })), ['metrics: expected a mapping (key: value), got a string']);
  for (const path of ['/metrics?x=1', '/a b', '/m#f', '', 'http://h/metrics'])
    t.strictSame(find(problemsOf(t, { ...minimal(), metrics: { path } }), 'metrics.path').length, 1, `path ${JSON.stringify(path)} is refused`);
  t.match(lines(problemsOf(t, { ...minimal(), metrics: { enabeld: true } })), ['metrics.enabeld: unknown key (did you mean "enabled"?)']);
});

void t.test('an enabled endpoint may not share the client port', async (t) => {
  const clash = 'metrics.port: port 7000 is also listen.port; the metrics endpoint needs a port of its own';
  t.strictSame(lines(problemsOf(t, { ...minimal(), listen: { port: 7000 }, metrics: { enabled: true, port: 7000 } })), [clash]);
  t.strictSame(
    lines(problemsOf(t, { ...minimal(), listen: { host: '0.0.0.0', port: 7000 }, metrics: { enabled: true, port: '7000' } })),
    [clash],
    'a wildcard address overlaps every other',
  );
  t.strictSame(
    lines(problemsOf(t, { ...minimal(), metrics: { enabled: true, port: 6432 } })),
    ['metrics.port: port 6432 is also listen.port; the metrics endpoint needs a port of its own'],
    'against the default listen.port',
  );
  t.doesNotThrow(() => parseConfig({ ...minimal(), listen: { port: 7000 }, metrics: { enabled: false, port: 7000 } }, {}), 'disabled: no listener, no clash');
  t.doesNotThrow(() => parseConfig({ ...minimal(), listen: { port: 0 }, metrics: { enabled: true, port: 0 } }, {}), 'two OS-chosen ports never clash');
  t.doesNotThrow(
    () => parseConfig({ ...minimal(), listen: { host: '10.0.0.1', port: 7000 }, metrics: { enabled: true, host: '127.0.0.1', port: 7000 } }, {}),
    'different addresses',
  );
});

void t.test('a config file with a metrics section', async (t) => {
  const dir = t.testdir({
    'pgshard.yaml': [
      'users: [{ name: app, password: pw }]',
      'databases: [{ name: app, shards: [{ primary: { host: h, port: 5432 } }] }]',
      'metrics:',
      '  enabled: true',
      '  port: 9187',
      '',
    ].join('\n'),
  });
  t.strictSame(loadConfigFile(join(dir, 'pgshard.yaml'), {}).metrics, { enabled: true, host: '127.0.0.1', port: 9187, path: '/metrics' });
});
