// What the executor learns for plans and merges without asking the planner: tables' columns (for
// INSERT without a column list), kept until DDL, never from a lookup that raced a DDL; and the
// session's extra_float_digits from the settings it replays on every connection.
import t from 'tap';
import { TableColumnsCache, factsOf, columnsKey } from '../../../proxy/executor/table-columns.js';
import { extraFloatDigitsOf } from '../../../proxy/executor/distributed-session.js';
import { ColumnCollationsCache, columnKey } from '../../../proxy/executor/column-collations.js';

void t.test('the columns cache: kept per table as the statement names it, cleared by DDL', async (t) => {
  const cache = new TableColumnsCache();
  const g = cache.generation;
  cache.remember(null, 't', ['a', 'b'], g);
  cache.remember('s', 't', ['x'], g);
  t.same(cache.get(null, 't'), ['a', 'b']);
  t.same(cache.get('s', 't'), ['x'], 'another schema is another table');
  t.equal(cache.get(null, 'u'), undefined);
  cache.clear();
  t.equal(cache.get(null, 't'), undefined, 'DDL forgets every table');
  cache.remember(null, 't', ['old'], g);
  t.equal(cache.get(null, 't'), undefined, 'a lookup that started before the DDL is not kept');
  cache.remember(null, 't', ['new'], cache.generation);
  t.same(cache.get(null, 't'), ['new']);
});

void t.test('facts for the planner: known columns, no such table (null), unknown (undefined)', async (t) => {
  const facts = factsOf(new Map<string, readonly string[] | null>([[columnsKey(null, 't'), ['a']], [columnsKey(null, 'gone'), null]]));
  t.same(facts.tableColumns(null, 't'), ['a']);
  t.equal(facts.tableColumns(null, 'gone'), null);
  t.equal(facts.tableColumns('s', 't'), undefined);
});

void t.test('extra_float_digits from the session state the proxy replays', async (t) => {
  t.equal(extraFloatDigitsOf(''), 1, 'PostgreSQL\'s default');
  t.equal(extraFloatDigitsOf("SET extra_float_digits = '3'"), 3, 'a startup parameter (JDBC sends 3)');
  t.equal(extraFloatDigitsOf("SET client_encoding = 'UTF8';\nSET extra_float_digits = '2';\nSET extra_float_digits TO 0"), 0, 'the last SET wins');
  t.equal(extraFloatDigitsOf('set EXTRA_FLOAT_DIGITS=-3'), -3);
  t.equal(extraFloatDigitsOf("SET extra_float_digits = '2';\nSET extra_float_digits TO DEFAULT"), 1);
  t.equal(extraFloatDigitsOf('SET search_path = extra_float_digits'), 1, 'another setting');
});

void t.test('column collations per shard, cleared by DDL, never from a lookup that raced it', async (t) => {
  const cache = new ColumnCollationsCache();
  const g = cache.generation;
  cache.remember(0, new Map([[columnKey(16400, 2), 'C']]), g);
  t.equal(cache.get(0)?.get(columnKey(16400, 2)), 'C');
  t.equal(cache.get(1), undefined, 'each shard has its own table OIDs');
  cache.clear();
  t.equal(cache.get(0), undefined);
  cache.remember(0, new Map(), g);
  t.equal(cache.get(0), undefined, 'a lookup from before the DDL is not kept');
});
