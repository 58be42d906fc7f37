// The runtime sharding rules store: persisted in <state.dir>/sharding-rules.json, reopened after a
// restart, written atomically (a crash-left temp file is ignored), validated on load with problems that
// name the file and the entry, and merged with the config's rules (the config wins).
import t from 'tap';
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseConfig } from '../../../topology/config/load-config.js';
import type { ShardedTableConfig } from '../../../topology/config/config-types.js';
import { buildShardingRules } from '../../../topology/sharding/sharding-rules-builder.js';
import {
  mergeRules, RULES_FILE_NAME, RuleError, RulesFileError, RulesStore, writeFileAtomically,
} from '../../../topology/sharding/rules-store.js';

async function stateDir(t: { teardown(fn: () => Promise<void>): void }): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'pgshard-rules-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

const hash = (name: string, column = 'id', type: ShardedTableConfig['type'] = 'int8'): ShardedTableConfig => ({
  name, column, type, method: 'hash', ranges: [], lists: [], default: null,
});

const ranged: ShardedTableConfig = {
  name: 'readings', column: 'sensor', type: 'int8', method: 'range',
  ranges: [{ from: null, to: '9007199254740993', shard: 0 }, { from: '9007199254740993', to: null, shard: 1 }],
  lists: [], default: null,
};

function database(sharding: unknown = {}, shards = 2) {
  return parseConfig({
    users: [{ name: 'app', password: 'pw' }],
    databases: [{ name: 'app', shards: Array.from({ length: shards }, (_, i) => ({ primary: { host: `h${i}`, port: 5432 } })), sharding }],
  }).databases[0]!;
}

void t.test('a missing file (and directory) means no runtime rules', async (t) => {
  const dir = join(await stateDir(t), 'nested', 'state');
  const store = await RulesStore.open(dir);
  t.equal(store.file, join(dir, RULES_FILE_NAME));
  t.strictSame(store.rulesFor('app'), { tables: [], referenceTables: [] });
  t.strictSame(store.databases(), []);
  t.strictSame(await readdir(dir), [], 'opening writes nothing');
});

void t.test('rules are saved before they are visible, and survive a reopen exactly', async (t) => {
  const dir = await stateDir(t);
  const store = await RulesStore.open(dir);
  await store.add('app', hash('orders', 'customer_id'));
  await store.add('app', ranged);
  await store.add('app', { reference: 'public.countries' });
  await store.add('other', { reference: 'currencies' });
  const expected = { tables: [hash('orders', 'customer_id'), ranged], referenceTables: ['public.countries'] };
  t.strictSame(store.rulesFor('app'), expected);
  t.ok(Object.isFrozen(store.rulesFor('app')) && Object.isFrozen(store.rulesFor('app').tables[0]), 'callers get frozen rules');

  const text = await readFile(join(dir, RULES_FILE_NAME), 'utf8');
  const json = JSON.parse(text) as { version: number; databases: Record<string, unknown> };
  t.equal(json.version, 1, 'the file carries its format version');
  t.strictSame(Object.keys(json.databases), ['app', 'other']);
  t.ok(text.endsWith('}\n') && text.includes('\n  "databases": {'), 'pretty-printed for people who read it');
  t.match(text, /"to": "9007199254740993"/, 'an int8 bound beyond 2^53 keeps every digit');

  const reopened = await RulesStore.open(dir);
  t.strictSame(reopened.rulesFor('app'), expected);
  t.strictSame(reopened.rulesFor('other'), { tables: [], referenceTables: ['currencies'] });
  t.strictSame(await readdir(dir), [RULES_FILE_NAME], 'no temp file is left behind');
});

void t.test('a table already ruled at runtime is 42710, by unqualified name as the planner matches', async (t) => {
  const dir = await stateDir(t);
  const store = await RulesStore.open(dir);
  await store.add('app', hash('orders'));
  const before = await readFile(store.file, 'utf8');
  for (const rule of [hash('orders', 'other'), hash('sales.orders'), { reference: 'orders' }, { reference: 'public.orders' }]) {
    await t.rejects(store.add('app', rule), { name: 'RuleError', sqlstate: '42710', message: /^table "orders" already has a runtime sharding rule in database "app" \(for "orders"\)$/ });
  }
  await t.resolves(store.add('elsewhere', hash('orders')), 'rules are per database');
  t.strictSame(store.rulesFor('app').tables, [hash('orders')]);
  t.not(await readFile(store.file, 'utf8'), before, 'only the other database changed the file');
});

void t.test('an invalid rule is 42P17 and changes nothing', async (t) => {
  const dir = await stateDir(t);
  const store = await RulesStore.open(dir);
  const bad: [unknown, RegExp][] = [
    [{ ...hash('t'), method: 'range', type: null }, /tables\[0\]\.ranges \(table "t"\): a range rule needs at least one range/],
    [{ ...hash('t'), type: 'int9' }, /tables\[0\]\.type \(table "t"\): must be one of "int2"/],
    [{ ...hash('t'), extra: 1 }, /tables\[0\] \(table "t"\): unknown key "extra"/],
    [{ ...hash('t'), name: 'a.b.c' }, /expected "table" or "schema\.table"/],
    [{ ...ranged, ranges: [{ from: 0, to: 10, shard: 0 }, { from: 5, to: null, shard: 1 }] }, /range 5 TO MAXVALUE ON 1 overlaps range 0 TO 10 ON 0/],
    [{ reference: '' }, /referenceTables\[0\]/],
  ];
  for (const [rule, message] of bad) {
    await t.rejects(store.add('app', rule as ShardedTableConfig), { name: 'RuleError', sqlstate: '42P17', message }, JSON.stringify(rule));
  }
  t.strictSame(store.rulesFor('app'), { tables: [], referenceTables: [] });
  t.strictSame(await readdir(dir), [], 'nothing was written');
});

void t.test('concurrent adds are serialized: every one is saved, duplicates among them refused', async (t) => {
  const dir = await stateDir(t);
  const store = await RulesStore.open(dir);
  const names = ['a', 'b', 'c', 'd', 'e', 'f'];
  const results = await Promise.allSettled([...names.map((n) => store.add('app', hash(n))), store.add('app', hash('c'))]);
  t.strictSame(results.map((r) => r.status), [...names.map(() => 'fulfilled'), 'rejected']);
  t.strictSame((await RulesStore.open(dir)).rulesFor('app').tables.map((x) => x.name), names);
});

void t.test('a temp file left by a crash mid-write is ignored (and removed); the old rules stay', async (t) => {
  const dir = await stateDir(t);
  const store = await RulesStore.open(dir);
  await store.add('app', hash('orders'));
  const crashed = join(dir, `${RULES_FILE_NAME}.tmp-4242-deadbeef`);
  await writeFile(crashed, '{"version": 1, "databases": {"app": {"tables": [{"na');
  await writeFile(join(dir, 'unrelated.txt'), 'kept');
  const reopened = await RulesStore.open(dir);
  t.strictSame(reopened.rulesFor('app').tables, [hash('orders')]);
  t.strictSame((await readdir(dir)).sort(), [RULES_FILE_NAME, 'unrelated.txt'], 'only the rules temp file is removed');
});

void t.test('a write that fails is 58030 and leaves the rules as they were', async (t) => {
  const root = await stateDir(t);
  const dir = join(root, 'state');
  const store = await RulesStore.open(dir);
  await store.add('app', hash('orders'));
  // Replace the directory with a file: every write now fails (ENOTDIR), even as root.
  await rm(dir, { recursive: true });
  await writeFile(dir, 'not a directory');
  await t.rejects(store.add('app', hash('lines')), { name: 'RuleError', sqlstate: '58030', message: new RegExp(`^could not save the rule to ${store.file.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}: .*ENOTDIR`) });
  t.strictSame(store.rulesFor('app').tables, [hash('orders')], 'memory is unchanged');
  await rm(dir);
  await t.rejects(store.add('app', hash('lines')), { sqlstate: '58030', message: /ENOENT/ }, 'a missing directory too');
});

void t.test('a state directory that is not a directory is a RulesFileError', async (t) => {
  const root = await stateDir(t);
  const dir = join(root, 'state');
  await writeFile(dir, 'x');
  await t.rejects(RulesStore.open(dir), { name: 'RulesFileError', message: `${join(dir, RULES_FILE_NAME)}: the state directory cannot be created: EEXIST` });
});

void t.test('writeFileAtomically replaces the file whole', async (t) => {
  const dir = await stateDir(t);
  const file = join(dir, 'x.json');
  await writeFileAtomically(file, 'one');
  await writeFileAtomically(file, 'two');
  t.equal(await readFile(file, 'utf8'), 'two');
  t.strictSame(await readdir(dir), ['x.json']);
});

async function openWith(t: { teardown(fn: () => Promise<void>): void }, content: string): Promise<{ file: string; error: unknown }> {
  const dir = await stateDir(t);
  const file = join(dir, RULES_FILE_NAME);
  await writeFile(file, content);
  try {
    await RulesStore.open(dir);
    return { file, error: undefined };
  } catch (error) {
    return { file, error };
  }
}

void t.test('a corrupt file is refused with a clear error naming the file and the entry', async (t) => {
  const cases: [string, string | RegExp][] = [
    ['', 'the file is empty (expected {"version": 1, "databases": {...}})'],
    ['{"version": 1, "databases": {', /^not valid JSON: /],
    ['[]', 'expected a JSON object with "version" and "databases", got a list'],
    ['{"databases": {}}', 'version: required (this pgshard writes version 1)'],
    ['{"version": 2, "databases": {}}', 'version: format 2 is not one this pgshard reads (it reads version 1); was the file written by a newer pgshard?'],
    ['{"version": 1}', 'databases: required'],
    ['{"version": 1, "databases": {}, "extra": true}', 'unknown key "extra"'],
    ['{"version": 1, "databases": {"app": []}}', 'databases.app: expected object, got a list'],
    [JSON.stringify({ version: 1, databases: { app: { tables: [hash('a'), { ...hash('orders'), type: 'int9' }] } } }), /^databases\.app\.tables\[1\]\.type \(table "orders"\): must be one of "int2", /],
    [JSON.stringify({ version: 1, databases: { app: { tables: [{ name: 'orders' }] } } }), 'databases.app.tables[0].column (table "orders"): required'],
    [JSON.stringify({ version: 1, databases: { app: { tables: [{ ...hash('r'), method: 'list', type: 'text', lists: [{ values: [1], shard: 'x' }] }] } } }), /^databases\.app\.tables\[0\]\.lists\[0\]\.shard \(table "r"\): expected/],
    [JSON.stringify({ version: 1, databases: { app: { tables: [{ ...hash('r'), method: 'range', type: null, ranges: [{ to: 1, shard: 0 }] }] } } }), /^databases\.app\.tables\[0\]\.type \(table "r"\): required for method "range"/],
    [JSON.stringify({ version: 1, databases: { app: { tables: [{ ...hash('r'), method: 'range', ranges: [{ to: 'ten', shard: 0 }] }] } } }), /^databases\.app\.tables\[0\]\.ranges\[0\]\.to \(table "r"\): "ten" is not an integer/],
    [JSON.stringify({ version: 1, databases: { app: { tables: [hash('orders')], referenceTables: ['s.orders'] } } }), /^databases\.app\.referenceTables\[0\] \(table "s\.orders"\): "s\.orders" and "orders" are the same table to the planner/],
    [JSON.stringify({ version: 1, databases: { app: { tables: [hash('orders'), hash('orders')] } } }), /^databases\.app\.tables\[1\]\.name \(table "orders"\): table "orders" already has a rule at databases\.app\.tables\[0\]\.name$/],
  ];
  for (const [content, problem] of cases) {
    const { file, error } = await openWith(t, content);
    t.type(error, RulesFileError, content);
    const e = error as RulesFileError;
    t.equal(e.file, file);
    t.equal(e.problems.length, 1, `${content}: one problem (${e.problems.join(' | ')})`);
    if (typeof problem === 'string') t.equal(e.problems[0], problem, content);
    else t.match(e.problems[0], problem, content);
    t.equal(e.message, `${file}: ${e.problems[0]!}`, 'the message starts with the file name');
  }
});

void t.test('several bad entries are all listed at once', async (t) => {
  const content = JSON.stringify({ version: 1, databases: { app: { tables: [{ ...hash('a'), type: 'int9' }, { name: 'b', column: 'k', method: 'list' }] } } });
  const { file, error } = await openWith(t, content);
  const e = error as RulesFileError;
  t.strictSame(e.problems, [
    'databases.app.tables[0].type (table "a"): must be one of "int2", "int4", "int8", "text", "varchar", "uuid"',
    'databases.app.tables[1].lists (table "b"): a list rule needs at least one list',
    'databases.app.tables[1].type (table "b"): required for method "list" (bounds and values are compared by type)',
  ]);
  t.ok(e.message.startsWith(`${file}: 3 problems with the runtime sharding rules:\n  databases.app.tables[0].type`));
});

void t.test('mergeRules: the config wins over a runtime rule for the same table', async (t) => {
  const db = database({ modulus: 64, tables: [{ name: 'orders', column: 'customer_id', type: 'int8' }], referenceTables: ['countries'] });
  const runtime = { tables: [hash('public.orders', 'id'), hash('lines', 'order_id')], referenceTables: ['public.countries', 'currencies'] };
  const { effective, shadowed } = mergeRules(db.sharding, runtime);
  t.strictSame(shadowed, ['public.orders', 'public.countries']);
  t.equal(effective.modulus, 64);
  t.strictSame(effective.tables.map((x) => `${x.name}:${x.column}`), ['orders:customer_id', 'lines:order_id']);
  t.strictSame(effective.referenceTables, ['countries', 'currencies']);
  t.ok(Object.isFrozen(effective));
  const rules = buildShardingRules(effective, 2);
  t.equal(rules.tables.get('orders')?.kind === 'sharded' && rules.tables.get('orders')?.kind === 'sharded' ? (rules.tables.get('orders') as { column: string }).column : undefined, 'customer_id', 'the planner sees the config rule');
  t.equal(rules.tables.get('lines')?.kind, 'sharded');
  t.equal(rules.tables.get('currencies')?.kind, 'reference');
  t.equal(mergeRules(db.sharding, { tables: [], referenceTables: [] }).effective, db.sharding, 'no runtime rules: the config section itself');
});

void t.test('effectiveRules: a runtime rule on a shard the config no longer has is refused, naming the file', async (t) => {
  const dir = await stateDir(t);
  const store = await RulesStore.open(dir);
  await store.add('app', { ...ranged, ranges: [{ from: null, to: 10, shard: 0 }, { from: 10, to: null, shard: 2 }] });
  await store.add('app', hash('orders'));
  t.strictSame(store.effectiveRules(database({}, 3)).effective.tables.map((x) => x.name), ['readings', 'orders']);
  t.throws(() => store.effectiveRules(database({}, 2)), {
    name: 'RulesFileError',
    message: `${store.file}: databases.app.tables[0].ranges[1].shard (table "readings"): shard 2 does not exist (the database has 2 shards, numbered from 0)`,
  });
  const shadowing = database({ tables: [{ name: 'readings', column: 'sensor' }] }, 2);
  t.strictSame(store.effectiveRules(shadowing).shadowed, ['readings'], 'a shadowed rule is not in effect, so its shards do not matter');
});

void t.test('RuleError and RulesFileError are Errors with names', async (t) => {
  t.equal(new RuleError('42710', 'x').name, 'RuleError');
  t.ok(new RulesFileError('f', ['p']) instanceof Error);
});
