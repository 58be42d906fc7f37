import t from 'tap';
import { initSqlParser } from '../../../planner/sql-parser.js';
import { Planner } from '../../../planner/planner.js';
import { makeRules } from './routing-fixtures.js';

await initSqlParser();

const rules = { ...makeRules(), shardedViews: new Map([['active_users', 'users'], ['user_stats', 'users']]) };
const planner = new Planner(rules, { cacheEntriesMax: 100 });
const plan = (sql: string, shard: number | null = null) => planner.plan(sql, null, { shard })[0]!.plan;

void t.test('reading a view over a sharded table is refused with a hint naming the table', async (t) => {
  for (const sql of [
    'SELECT * FROM active_users',
    'SELECT count(*) FROM active_users WHERE id = 7',
    'SELECT u.id FROM users u JOIN user_stats s ON s.id = u.id WHERE u.id = 1',
    'WITH x AS (SELECT * FROM active_users) SELECT * FROM x',
    'UPDATE users SET name = (SELECT max(name) FROM active_users) WHERE id = 1',
  ]) {
    t.match(plan(sql), { kind: 'unsupported', message: /view over the sharded table "users"/, hint: /users/ }, sql);
  }
});

void t.test('DDL on the view, a hint, or SET pgshard.shard still work', async (t) => {
  t.match(plan('DROP VIEW active_users'), { kind: 'broadcast', reason: 'ddl' });
  t.match(plan('CREATE OR REPLACE VIEW active_users AS SELECT * FROM users WHERE active'), { kind: 'broadcast', reason: 'ddl' });
  t.match(plan('/* pgshard: shard=2 */ SELECT * FROM active_users'), { kind: 'single', shard: 2 });
  t.match(plan('SELECT * FROM active_users', 1), { kind: 'single', shard: 1 });
  t.match(plan('SELECT * FROM users WHERE id = 5'), { kind: 'single' }, 'the table itself routes as before');
});

void t.test('without sharded views nothing changes', async (t) => {
  const plain = new Planner(makeRules(), { cacheEntriesMax: 10 });
  t.match(plain.plan('SELECT * FROM active_users', null, { shard: null })[0]!.plan, { kind: 'single', shard: 0 }, 'an unknown relation is an unlisted table on shard 0');
});
