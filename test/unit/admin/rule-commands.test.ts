// SHARD TABLE, REFERENCE TABLE and SHOW TABLES run against a tiny in-memory ShardingAdmin (and once
// against the real RulesStore), plus the command table: existing commands, unknown ones, arguments.
import t from 'tap';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { AdminResult, AdminView } from '../../../proxy/admin/admin-command.js';
import { ADMIN_COMMANDS, findAdminCommand, splitAdminStatements } from '../../../proxy/admin/commands.js';
import { listShardingRules, type RuntimeRule, type ShardingAdmin } from '../../../proxy/admin/sharding-admin.js';
import type { ProxyContext } from '../../../proxy/context.js';
import { ProxyError } from '../../../proxy/errors.js';
import type { Config, ShardedTableConfig } from '../../../topology/config/config-types.js';
import { parseConfig } from '../../../topology/config/load-config.js';
import { RuleError, RulesStore, isReferenceRule, type ShardingConfigPart } from '../../../topology/sharding/rules-store.js';

interface Part {
  tables: ShardedTableConfig[];
  referenceTables: string[];
}

/** A ShardingAdmin over maps: what the proxy does minus persistence and the snapshot rebuild. */
function memoryAdmin(config: () => Config) {
  const runtime = new Map<string, Part>();
  const added: { database: string; rule: RuntimeRule }[] = [];
  const partOf = (db: string): ShardingConfigPart => runtime.get(db) ?? { tables: [], referenceTables: [] };
  const admin: ShardingAdmin & { failWith?: unknown } = {
    rules: () => listShardingRules(config(), partOf),
    add: async (database, rule) => {
      if (admin.failWith !== undefined) throw admin.failWith;
      const part = runtime.get(database) ?? { tables: [], referenceTables: [] };
      if (isReferenceRule(rule)) part.referenceTables.push(rule.reference);
      else part.tables.push(rule);
      runtime.set(database, part);
      added.push({ database, rule });
    },
  };
  return { admin, added, runtime };
}

function configOf(databases: { name: string; shards?: number; sharding?: unknown }[]): Config {
  return parseConfig({
    users: [{ name: 'ops', password: 'pw', admin: true }],
    databases: databases.map((d, i) => ({
      name: d.name,
      shards: Array.from({ length: d.shards ?? 2 }, (_, s) => ({ primary: { host: `h${i}-${s}`, port: 5432 } })),
      sharding: d.sharding ?? {},
    })),
  });
}

function harness(config: Config, sharding?: ShardingAdmin) {
  const mem = memoryAdmin(() => config);
  const view: AdminView = { pools: () => [], clients: () => [] };
  const ctx = { config: () => config, sharding: sharding ?? mem.admin, version: '9.9.9', admin: view } as unknown as ProxyContext;
  const run = async (sql: string): Promise<AdminResult[]> => {
    const results: AdminResult[] = [];
    for (const statement of splitAdminStatements(sql)) results.push(await findAdminCommand(statement).execute(ctx, view));
    return results;
  };
  const one = async (sql: string): Promise<AdminResult> => (await run(sql))[0]!;
  return { ...mem, ctx, run, one };
}

const oneDb = () => configOf([{ name: 'app', sharding: { modulus: 64, tables: [{ name: 'orders', column: 'customer_id', type: 'int8' }], referenceTables: ['countries'] } }]);

void t.test('SHARD TABLE saves the rule in the only database; the tag is SHARD TABLE', async (t) => {
  const h = harness(oneDb());
  const result = await h.one('SHARD TABLE Lines BY Order_Id TYPE bigint');
  t.strictSame(result, { columns: [], rows: [], tag: 'SHARD TABLE' });
  t.strictSame(h.added, [{ database: 'app', rule: { name: 'lines', column: 'order_id', type: 'int8', method: 'hash', ranges: [], lists: [], default: null } }]);
  await h.one("shard table events by region type text using list ('eu' on 0, 'us' on 1) default 0;");
  t.equal(h.added.length, 2);
});

void t.test('REFERENCE TABLE saves a reference rule; the tag is REFERENCE TABLE', async (t) => {
  const h = harness(oneDb());
  t.equal((await h.one('REFERENCE TABLE public.currencies')).tag, 'REFERENCE TABLE');
  t.strictSame(h.added, [{ database: 'app', rule: { reference: 'public.currencies' } }]);
});

void t.test('IN DATABASE picks the database; it is required when there are several; unknown is 3D000', async (t) => {
  const config = configOf([{ name: 'app' }, { name: 'Reports', shards: 3 }]);
  const h = harness(config);
  await h.one('SHARD TABLE t BY k IN DATABASE app');
  await h.one('REFERENCE TABLE r IN DATABASE "Reports"');
  t.strictSame(h.added.map((a) => a.database), ['app', 'Reports']);
  await t.rejects(h.one('SHARD TABLE t2 BY k'), {
    sqlstate: '42601',
    message: 'SHARD TABLE: expected IN DATABASE at the end: the config has 2 databases (app, Reports)',
  });
  await t.rejects(h.one('REFERENCE TABLE r2'), { sqlstate: '42601', message: /^REFERENCE TABLE: expected IN DATABASE at the end/ });
  const err = (await h.one('SHARD TABLE t3 BY k IN DATABASE reports').catch((e: unknown) => e)) as ProxyError;
  t.equal(err.sqlstate, '3D000', 'unquoted names fold: "reports" is not "Reports"');
  t.equal(err.severity, 'ERROR', 'the admin session stays');
  t.equal(err.message, 'database "reports" does not exist');
  t.equal(err.fields.hint, 'Databases in the config: app, Reports.');
  t.equal(h.added.length, 2);
});

void t.test('a shard the database does not have is 42704', async (t) => {
  const h = harness(oneDb());
  await t.rejects(h.one('SHARD TABLE t BY k TYPE int4 USING RANGE (MINVALUE TO 0 ON 0, 0 TO MAXVALUE ON 2)'), {
    sqlstate: '42704',
    message: 'SHARD TABLE t: shard 2 does not exist (the database has 2 shards, numbered from 0)',
  });
  await t.rejects(h.one("SHARD TABLE t BY k TYPE text USING LIST ('a' ON 0) DEFAULT 7"), { sqlstate: '42704', message: /shard 7 does not exist/ });
  t.equal(h.added.length, 0);
});

void t.test('a table that already has a rule is 42710, whether from the config or added at runtime', async (t) => {
  const h = harness(oneDb());
  await t.rejects(h.one('SHARD TABLE orders BY id'), {
    sqlstate: '42710',
    message: 'table "orders" already has a sharding rule in database "app" (orders, sharded by customer_id, from the config file)',
    fields: { hint: /A table has one rule/ },
  });
  await t.rejects(h.one('SHARD TABLE public.countries BY id'), { sqlstate: '42710', message: /\(reference table countries, from the config file\)/ }, 'matched by unqualified name, as the planner does');
  await h.one('REFERENCE TABLE sales.currencies');
  await t.rejects(h.one('REFERENCE TABLE currencies'), { sqlstate: '42710', message: /\(reference table sales\.currencies, from a runtime rule\)/ });
  t.equal(h.added.length, 1);
});

void t.test('store failures keep their SQLSTATE; anything else stays a bug', async (t) => {
  const h = harness(oneDb());
  for (const [sqlstate, message] of [['42710', 'dup'], ['42P17', 'bad'], ['58030', 'could not save the rule to /x: ENOSPC']] as const) {
    h.admin.failWith = new RuleError(sqlstate, message);
    await t.rejects(h.one('SHARD TABLE t BY k'), { name: 'ProxyError', sqlstate, message });
  }
  h.admin.failWith = new TypeError('boom');
  await t.rejects(h.one('REFERENCE TABLE t'), TypeError, 'not a RuleError: the admin session reports it as XX000 and logs it');
});

void t.test('SHOW TABLES: one row per rule of every database, config then runtime', async (t) => {
  const config = configOf([
    {
      name: 'app',
      sharding: {
        modulus: 64,
        tables: [
          { name: 'orders', column: 'customer_id', type: 'int8' },
          { name: 'readings', column: 'sensor', type: 'int4', method: 'range', ranges: [{ to: 100, shard: 0 }, { from: 100, shard: 1 }] },
        ],
        referenceTables: ['countries'],
      },
    },
    { name: 'other', shards: 3 },
  ]);
  const h = harness(config);
  await h.run(`SHARD TABLE events BY region TYPE text USING LIST ('eu', 'it''s' ON 0, 'us' ON 1) DEFAULT 1 IN DATABASE app;
               SHARD TABLE untyped BY k IN DATABASE other; REFERENCE TABLE public.currencies IN DATABASE other`);
  // A runtime rule the config later took over (as after RELOAD): listed, marked as not in effect.
  h.runtime.get('app')!.tables.push({ name: 'public.orders', column: 'id', type: null, method: 'hash', ranges: [], lists: [], default: null });
  const result = await h.one('show tables');
  t.equal(result.tag, 'SHOW');
  t.strictSame(result.columns.map((c) => c.name), ['database', 'table', 'kind', 'column', 'key_type', 'method', 'placement', 'source']);
  t.strictSame(result.rows, [
    ['app', 'orders', 'sharded', 'customer_id', 'int8', 'hash', 'hash 64 buckets', 'config'],
    ['app', 'readings', 'sharded', 'sensor', 'int4', 'range', 'MINVALUE TO 100 ON 0, 100 TO MAXVALUE ON 1', 'config'],
    ['app', 'countries', 'reference', null, null, null, 'every shard (2)', 'config'],
    ['app', 'events', 'sharded', 'region', 'text', 'list', "'eu', 'it''s' ON 0, 'us' ON 1 DEFAULT 1", 'runtime'],
    ['app', 'public.orders', 'sharded', 'id', '', 'hash', 'hash 64 buckets', 'runtime (shadowed by config)'],
    ['other', 'untyped', 'sharded', 'k', '', 'hash', 'hash 1024 buckets', 'runtime'],
    ['other', 'public.currencies', 'reference', null, null, null, 'every shard (3)', 'runtime'],
  ]);
});

void t.test('the placement column reads back as a valid SHARD TABLE clause', async (t) => {
  const h = harness(configOf([{ name: 'app', shards: 3 }]));
  const using = "USING LIST ('a', 'b' ON 0, 'c' ON 2) DEFAULT 1";
  await h.one(`SHARD TABLE t BY k TYPE varchar ${using}`);
  const placement = (await h.one('SHOW TABLES')).rows[0]![6]!;
  await h.one(`SHARD TABLE t2 BY k TYPE varchar USING LIST (${placement.replace(/ DEFAULT (\d+)$/, ') DEFAULT $1')}`);
  t.strictSame(h.added[1]!.rule, { ...h.added[0]!.rule, name: 't2' });
});

void t.test('a RulesStore-backed ShardingAdmin: rules persist across a reopen and show as runtime', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'pgshard-admin-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const config = oneDb();
  const store = await RulesStore.open(dir);
  const sharding: ShardingAdmin = { rules: () => listShardingRules(config, (db) => store.rulesFor(db)), add: (db, rule) => store.add(db, rule) };
  const h = harness(config, sharding);
  await h.run('SHARD TABLE lines BY order_id TYPE int8; REFERENCE TABLE currencies');
  const reopened = await RulesStore.open(dir);
  const again = harness(config, { rules: () => listShardingRules(config, (db) => reopened.rulesFor(db)), add: (db, rule) => reopened.add(db, rule) });
  const rows = (await again.one('SHOW TABLES')).rows.map((r) => `${r[1]!}:${r[7]!}`);
  t.strictSame(rows, ['orders:config', 'countries:config', 'lines:runtime', 'currencies:runtime']);
  await t.rejects(again.one('SHARD TABLE lines BY x'), { sqlstate: '42710', message: /from a runtime rule/ });
});

void t.test('the command table: existing commands unchanged, unknown commands and stray arguments are 42601', async (t) => {
  const h = harness(oneDb());
  t.strictSame((await h.one('show version')).rows, [['pgshard 9.9.9']]);
  t.strictSame((await h.one('SHOW POOLS;')).rows, []);
  t.equal((await h.run('SHOW VERSION; show pools ; SHOW CLIENTS')).length, 3);
  t.strictSame(splitAdminStatements(' ;; '), [], 'an empty query has no statements');
  const hint = `Commands: ${ADMIN_COMMANDS.map((c) => c.words.join(' ')).join(', ')}.`;
  t.match(hint, /SHOW TABLES, SHOW FAILOVER, RELOAD, SHARD TABLE, REFERENCE TABLE, FAILOVER, SWITCHOVER/);
  const cases: [string, string, string][] = [
    ['SHOW NOTHING_HERE', 'unrecognized SHOW target "nothing_here"', hint],
    ['SHOW', 'unrecognized SHOW target ""', hint],
    ['FOO   bar', 'unrecognized admin command "foo bar"', hint],
    ['SHARD orders BY id', 'unrecognized admin command "shard orders by id"', hint],
    ['"SHOW" POOLS', 'unrecognized admin command ""show" pools"', hint],
    ['SHOW POOLS extra', 'SHOW POOLS: expected end of command after SHOW POOLS, got "extra"', 'SHOW POOLS takes no arguments.'],
    ['SHOW TABLES IN DATABASE app', 'SHOW TABLES: expected end of command after SHOW TABLES, got "IN"', 'SHOW TABLES takes no arguments.'],
  ];
  for (const [sql, message, expectedHint] of cases) {
    await t.rejects(h.run(sql), { sqlstate: '42601', message, fields: { hint: expectedHint } }, sql);
  }
  await t.rejects(h.run("SHARD TABLE 'x"), { sqlstate: '42601', message: 'unterminated quoted string' });
  t.equal(h.added.length, 0);
});

void t.test('a bad statement stops at parse: nothing of a multi-statement query runs past it', async (t) => {
  const h = harness(oneDb());
  await t.rejects(h.run('REFERENCE TABLE a; SHARD TABLE b BY'), { name: 'ProxyError', sqlstate: '42601' });
  t.strictSame(h.added.map((a) => a.rule), [{ reference: 'a' }], 'statements before the bad one ran, as in PostgreSQL');
});
