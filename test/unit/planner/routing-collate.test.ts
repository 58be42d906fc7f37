// COLLATE in multi-shard reads: an explicit `COLLATE name` on an ORDER BY key (or on an output
// column that ORDER BY names, or on a min/max argument) reaches the merge as the key's collation,
// while the shards still sort by it; a COLLATE the merge cannot follow (inside an expression, in
// HAVING) is refused.
import t from 'tap';
import { initSqlParser } from '../../../planner/sql-parser.js';
import { Planner } from '../../../planner/planner.js';
import type { Plan } from '../../../planner/plan.js';
import { makeRules, NO_SESSION } from './routing-fixtures.js';

await initSqlParser();
const planner = new Planner(makeRules(), { cacheEntriesMax: 1000 });
const plan = (sql: string): Plan => planner.plan(sql, null, NO_SESSION)[0]?.plan ?? { kind: 'unsupported', message: 'none', hint: '' };

void t.test('ORDER BY x COLLATE name: the sort key carries the collation, the shards sort by it', async (t) => {
  const p = plan('SELECT id, name FROM users ORDER BY name COLLATE "C" DESC, id LIMIT 5');
  t.match(p, {
    kind: 'scatter',
    sql: 'SELECT id, name FROM users ORDER BY name COLLATE "C" DESC, id LIMIT 5',
    merge: { hiddenColumns: 0, orderBy: [{ column: { hidden: false, index: 1 }, descending: true, collation: 'C' }, { column: { hidden: false, index: 0 } }] },
  });
  if (p.kind === 'scatter') t.notOk('collation' in p.merge.orderBy[1]!, 'a key without COLLATE has none');
  t.match(plan('SELECT id FROM users ORDER BY name COLLATE "und-x-icu"'), {
    sql: 'SELECT id, name COLLATE "und-x-icu" AS pgshard_hidden_1 FROM users ORDER BY name COLLATE "und-x-icu"',
    merge: { hiddenColumns: 1, orderBy: [{ column: { hidden: true, index: 0 }, collation: 'und-x-icu' }] },
  }, 'a collated key not selected is a hidden column');
  t.match(plan('SELECT name FROM users ORDER BY name COLLATE pg_catalog."POSIX"'), { merge: { orderBy: [{ collation: 'POSIX' }] } }, 'a schema-qualified name');
  t.match(plan('SELECT name FROM users ORDER BY name COLLATE ucs_basic'), { merge: { orderBy: [{ collation: 'ucs_basic' }] } });
});

void t.test('ORDER BY a position or name of a collated output column takes its collation', async (t) => {
  t.match(plan('SELECT DISTINCT name COLLATE "de-x-icu" AS name FROM users ORDER BY 1'), { merge: { distinct: true, orderBy: [{ column: { hidden: false, index: 0 }, collation: 'de-x-icu' }] } });
  t.match(plan('SELECT name COLLATE "C" AS n, id FROM users ORDER BY n DESC'), { merge: { orderBy: [{ collation: 'C' }] } });
  t.match(plan('SELECT name COLLATE "C" FROM users ORDER BY name'), { merge: { orderBy: [{ column: { hidden: false, index: 0 }, collation: 'C' }] } }, 'its output name is the column\'s');
  t.match(plan('SELECT name FROM users WHERE id < 10 UNION ALL SELECT name COLLATE "sv-x-icu" FROM users WHERE id > 90 ORDER BY 1'), {
    kind: 'scatter',
    merge: { orderBy: [{ column: { hidden: false, index: 0 }, collation: 'sv-x-icu' }] },
  }, 'UNION ALL: any arm\'s COLLATE');
  t.match(plan('SELECT name, count(*) FROM users GROUP BY name ORDER BY name COLLATE "und-x-icu" DESC'), {
    merge: { aggregate: { columns: [{ kind: 'group' }, { kind: 'count' }] }, orderBy: [{ column: { hidden: false, index: 0 }, collation: 'und-x-icu' }] },
  });
});

void t.test('min/max(x COLLATE name) merge by that collation', async (t) => {
  t.match(plan('SELECT min(name COLLATE "C"), max(name COLLATE "und-x-icu"), max(name) FROM users'), {
    merge: { aggregate: { columns: [{ kind: 'min', collation: 'C' }, { kind: 'max', collation: 'und-x-icu' }, { kind: 'max' }] } },
  });
  t.match(plan('SELECT min(name COLLATE "C")::int FROM users'), { merge: { aggregate: { columns: [{ kind: 'expr' }, { kind: 'min', collation: 'C' }] } } }, 'not cast per shard');
});

void t.test('a COLLATE the merge cannot follow is refused', async (t) => {
  const refused = (sql: string, re: RegExp): void => {
    const p = plan(sql);
    t.match(p, { kind: 'unsupported', message: re }, sql);
    t.ok(p.kind === 'unsupported' && p.hint.length > 0, `${sql}: hint`);
  };
  refused('SELECT id FROM users ORDER BY lower(name COLLATE "C")', /COLLATE inside an ORDER BY expression/);
  refused('SELECT lower(name COLLATE "C") AS l FROM users ORDER BY 1', /COLLATE inside an output column that ORDER BY names/);
  refused('SELECT min(lower(name COLLATE "C")) FROM users', /COLLATE inside an aggregate argument/);
  refused('SELECT name, count(*) FROM users GROUP BY name HAVING max(name) > \'m\' COLLATE "C"', /COLLATE in HAVING/);
  refused('SELECT id FROM users ORDER BY name COLLATE "C" USING <', /USING/);
});
