import t from 'tap';
import { readFileSync } from 'node:fs';
import { initSqlParser } from '../../../planner/sql-parser.js';
import { SessionEffectClassifier, firstKeyword } from '../../../planner/session-effects.js';

await initSqlParser();
const classifier = new SessionEffectClassifier(100);
const kinds = (sql: string): string[] => classifier.classify(sql).map((e) => (e.kind === 'pin' ? `pin:${e.reason}` : e.kind));

void t.test('first keyword skips whitespace and comments', async (t) => {
  t.equal(firstKeyword('  select 1'), 'SELECT');
  t.equal(firstKeyword('-- c\n /* x */ Set a = 1'), 'SET');
  t.equal(firstKeyword('/* unterminated'), null);
  t.equal(firstKeyword(''), null);
  t.equal(firstKeyword('(select 1)'), null);
});

void t.test('session-level SET/RESET are effects; LOCAL and SET TRANSACTION are not', async (t) => {
  t.strictSame(classifier.classify('SET search_path = a, b'), [{ kind: 'set', name: 'search_path', statement: 'SET search_path = a, b' }]);
  t.strictSame(kinds('set time zone \'UTC\''), ['set']);
  t.strictSame(classifier.classify('SET TIME ZONE \'UTC\'')[0], { kind: 'set', name: 'timezone', statement: "SET TIME ZONE 'UTC'" });
  t.strictSame(kinds('SET LOCAL work_mem = 1000'), ['none']);
  t.strictSame(kinds('SET TRANSACTION ISOLATION LEVEL SERIALIZABLE'), ['none']);
  t.strictSame(kinds('SET SESSION CHARACTERISTICS AS TRANSACTION READ ONLY'), ['set']);
  t.strictSame(kinds('RESET work_mem'), ['reset']);
  t.strictSame(kinds('RESET ALL'), ['reset-all']);
  t.strictSame(kinds('SET work_mem TO DEFAULT'), ['set']);
});

void t.test('statements that cannot move between connections pin', async (t) => {
  t.strictSame(kinds('LISTEN chan'), ['pin:LISTEN']);
  t.strictSame(kinds('SET ROLE other'), ['pin:SET role']);
  t.strictSame(kinds('SET SESSION AUTHORIZATION DEFAULT'), ['pin:SET session_authorization']);
  t.strictSame(kinds('PREPARE p AS SELECT 1'), ['pin:SQL PREPARE']);
  t.strictSame(kinds('CREATE TEMP TABLE x (a int)'), ['pin:temporary object']);
  t.strictSame(kinds('CREATE TEMPORARY TABLE x AS SELECT 1'), ['pin:temporary object']);
  t.strictSame(kinds('CREATE TEMP VIEW v AS SELECT 1'), ['pin:temporary object']);
  t.strictSame(kinds('CREATE TABLE x (a int)'), ['none']);
  t.strictSame(kinds('DECLARE c CURSOR WITH HOLD FOR SELECT 1'), ['pin:cursor WITH HOLD']);
  t.strictSame(kinds('DECLARE c CURSOR FOR SELECT 1'), ['none']);
  t.strictSame(kinds("LOAD 'auto_explain'"), ['pin:LOAD']);
});

void t.test('DISCARD ALL and DEALLOCATE', async (t) => {
  t.strictSame(classifier.classify('DISCARD ALL'), [{ kind: 'discard-all' }]);
  t.strictSame(kinds('DISCARD PLANS'), ['none']);
  t.strictSame(classifier.classify('DEALLOCATE ALL'), [{ kind: 'deallocate', name: null }]);
  t.strictSame(classifier.classify('deallocate prepare s1'), [{ kind: 'deallocate', name: 's1' }]);
});

void t.test('multi-statement strings get one effect per statement, in order', async (t) => {
  t.strictSame(kinds("SELECT 1; SET a.b = 'x'; SELECT ';'"), ['none', 'set', 'none']);
  t.strictSame(classifier.classify("select 'é'; set application_name = 'ü'")[1], {
    kind: 'set',
    name: 'application_name',
    statement: "set application_name = 'ü'",
  });
  t.strictSame(kinds('BEGIN; SET x.y = 1; COMMIT'), ['none', 'set', 'none']);
});

void t.test('plain statements never reach the parser; broken SQL is no effect', async (t) => {
  t.strictSame(kinds('SELECT abalance FROM pgbench_accounts WHERE aid = 1;'), ['none']);
  t.strictSame(kinds('selec 1'), ['none']);
  t.strictSame(kinds(''), ['none']);
});

void t.test('every statement of the shared SQL corpus is classified without error', async (t) => {
  const dir = new URL('../../../../shared/sql-corpus/', import.meta.url);
  let count = 0;
  for (const file of ['psql-meta.sql', 'pgbench.sql', 'orm-app.sql']) {
    const text = readFileSync(new URL(file, dir), 'utf8');
    const parts = text.split(/^-- @@ .*$/m).slice(1);
    for (const part of parts) {
      const sql = part.trim().replace(/;\s*$/, '');
      const effects = classifier.classify(sql);
      t.ok(effects.length >= 1, `${file}: classified`);
      count++;
    }
  }
  t.equal(count, 156, 'all 156 corpus statements');
});
