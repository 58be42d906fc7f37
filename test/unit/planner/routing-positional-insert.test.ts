// INSERT INTO sharded VALUES (...) without a column list: without the table's columns the plan is
// the 0A000 that `needs` them; given them (CatalogFacts, as the executor supplies them), rows are
// placed by the key's position among the first columns and every shard gets the statement with
// that column list, so where a row goes and which column its key lands in cannot disagree.
import t from 'tap';
import { initSqlParser } from '../../../planner/sql-parser.js';
import { Planner } from '../../../planner/planner.js';
import type { BoundParams, CatalogFacts, Plan } from '../../../planner/plan.js';
import { keyOnShard, makeRules, NO_SESSION, shardOf, textParams } from './routing-fixtures.js';

await initSqlParser();
const planner = new Planner(makeRules(), { cacheEntriesMax: 1000 });

const columns: Record<string, readonly string[] | null> = {
  users: ['name', 'id', 'region'],
  'app.users': ['id', 'name'],
  orders: null,
};
const facts: CatalogFacts = { tableColumns: (schema, table) => columns[schema === null ? table : `${schema}.${table}`] };
const plan = (sql: string, params: BoundParams | null = null, f: CatalogFacts | null = facts): Plan =>
  planner.plan(sql, params, NO_SESSION, f)[0]?.plan ?? { kind: 'unsupported', message: 'none', hint: '' };

const a = keyOnShard('int8', 0);
const b = keyOnShard('int8', 2);

void t.test('without the columns: the 0A000 that needs them', async (t) => {
  const p = plan(`INSERT INTO users VALUES ('x', ${a})`, null, null);
  t.strictSame(p, {
    kind: 'unsupported',
    message: 'INSERT into sharded table "users" without a column list',
    hint: 'name the columns, including shard key "id": INSERT INTO users (id, ...) VALUES ...',
    needs: { kind: 'table-columns', schema: null, table: 'users' },
  });
  t.match(plan('INSERT INTO app.users VALUES (1)', null, { tableColumns: () => undefined }), { needs: { schema: 'app', table: 'users' } }, 'facts without this table');
});

void t.test('with the columns: placed by the key position, sent with the column list', async (t) => {
  t.strictSame(plan(`INSERT INTO users VALUES ('x', ${a}, 'eu')`), {
    kind: 'split-insert',
    parts: [{ shard: 0, sql: `INSERT INTO users (name, id, region) VALUES ('x', ${a}, 'eu')`, params: [] }],
  }, 'one shard: still the statement with its column list');
  t.strictSame(plan(`INSERT INTO users VALUES ('x', ${a}), ('y', ${b}) RETURNING *`), {
    kind: 'split-insert',
    parts: [
      { shard: 0, sql: `INSERT INTO users (name, id) VALUES ('x', ${a}) RETURNING *`, params: [] },
      { shard: 2, sql: `INSERT INTO users (name, id) VALUES ('y', ${b}) RETURNING *`, params: [] },
    ],
  }, 'fewer values than columns: the first columns');
  t.strictSame(plan('INSERT INTO users VALUES ($1, $2), ($3, $4)', textParams('x', a, 'y', b)), {
    kind: 'split-insert',
    parts: [
      { shard: 0, sql: 'INSERT INTO users (name, id) VALUES ($1, $2)', params: [0, 1] },
      { shard: 2, sql: 'INSERT INTO users (name, id) VALUES ($1, $2)', params: [2, 3] },
    ],
  }, 'parameters are renumbered per part');
  t.match(plan(`INSERT INTO app.users VALUES (${b}, 'x')`), { kind: 'split-insert', parts: [{ shard: shardOf('int8', b), sql: `INSERT INTO app.users (id, name) VALUES (${b}, 'x')` }] }, 'the schema the statement names');
  t.match(plan(`INSERT INTO users VALUES ('x', NULL)`), { kind: 'split-insert', parts: [{ shard: shardOf('int8', null) }] }, 'a NULL key goes where PostgreSQL puts it');
});

void t.test('what PostgreSQL itself rejects goes to shard 0, never to a shard that would accept it', async (t) => {
  t.strictSame(plan('INSERT INTO orders VALUES (1)'), { kind: 'single', shard: 0, access: 'write' }, 'no such table');
  t.strictSame(plan(`INSERT INTO users VALUES ('x', ${b}, 'eu', 'extra')`), {
    kind: 'split-insert',
    parts: [{ shard: 0, sql: `INSERT INTO users (name, id, region) VALUES ('x', ${b}, 'eu', 'extra')`, params: [] }],
  }, 'more values than known columns: the statement naming them all (PostgreSQL: more expressions than target columns)');
});

void t.test('refused: the key not among the values, a key that is not a constant or parameter, INSERT ... SELECT', async (t) => {
  t.match(plan("INSERT INTO users VALUES ('x')"), { kind: 'unsupported', message: /does not set shard key "id" \(the VALUES rows give only its first 1 column/, hint: /supply the shard key/ });
  t.match(plan("INSERT INTO users VALUES ('x', nextval('s'))"), { kind: 'unsupported', message: /constant or parameter/ });
  const select = plan('INSERT INTO users SELECT * FROM users');
  t.match(select, { kind: 'unsupported', message: /without a column list/ });
  t.notOk(select.kind === 'unsupported' && select.needs !== undefined, 'INSERT ... SELECT does not ask for the columns');
});

void t.test('EXPLAIN runs the statement as written on the rows\' shard', async (t) => {
  t.strictSame(plan(`EXPLAIN INSERT INTO users VALUES ('x', ${b})`), { kind: 'single', shard: shardOf('int8', b), access: 'write' });
  t.match(plan(`EXPLAIN ANALYZE INSERT INTO users VALUES ('x', ${a}), ('y', ${b})`), { kind: 'unsupported', message: /EXPLAIN ANALYZE/ });
});

void t.test('a hint or SET pgshard.shard needs no columns', async (t) => {
  t.strictSame(plan("/* pgshard: shard=1 */ INSERT INTO users VALUES ('x', 1)", null, null), { kind: 'single', shard: 1, access: 'write' });
  t.strictSame(planner.plan("INSERT INTO users VALUES ('x', 1)", null, { shard: 3 })[0]?.plan, { kind: 'single', shard: 3, access: 'write' });
});

void t.test('other column lists of the same SQL are planned apart (a schema change between executions)', async (t) => {
  const sql = `INSERT INTO users VALUES (${b}, 'x')`;
  t.match(plan(sql, null, { tableColumns: () => ['id', 'name'] }), { kind: 'split-insert', parts: [{ shard: 2, sql: `INSERT INTO users (id, name) VALUES (${b}, 'x')` }] });
  t.match(plan(sql, null, { tableColumns: () => ['name', 'id'] }), { kind: 'split-insert', parts: [{ shard: 0, sql: `INSERT INTO users (name, id) VALUES (${b}, 'x')` }] }, "'x' is no int8 key: PostgreSQL rejects the row (on shard 0)");
  t.match(plan(sql, null, { tableColumns: () => ['id', 'name'] }), { kind: 'split-insert' }, 'and back');
});
