import t from 'tap';
import { readFileSync } from 'node:fs';
import { initSqlParser, parseSql } from '../../../planner/sql-parser.js';
import { Planner } from '../../../planner/planner.js';
import type { BoundParams, Plan, StatementPlan } from '../../../planner/plan.js';
import { makeRules, NO_SESSION, shardOf, textParams } from './routing-fixtures.js';
import { seededRandom } from '../../helpers/seeded-random.js';

await initSqlParser();
const planner = new Planner(makeRules(), { cacheEntriesMax: 5000 });

interface Entry {
  readonly id: string;
  readonly sql: string;
}

function loadCorpus(): Entry[] {
  const dir = new URL('../../../../shared/sql-corpus/', import.meta.url);
  const out: Entry[] = [];
  for (const file of ['psql-meta.sql', 'pgbench.sql', 'orm-app.sql']) {
    const parts = readFileSync(new URL(file, dir), 'utf8').split(/^(-- @@ .*)$/m).slice(1);
    for (let i = 0; i + 1 < parts.length; i += 2) {
      out.push({ id: (parts[i] ?? '').split(' ')[2] ?? '?', sql: (parts[i + 1] ?? '').trim().replace(/;\s*$/, '') });
    }
  }
  return out;
}

const KINDS = new Set(['single', 'any', 'scatter', 'broadcast', 'split-insert', 'copy-in', 'copy-out', 'transaction', 'pgshard-setting', 'unsupported']);

function wellFormed(plans: readonly StatementPlan[]): string | null {
  for (const p of plans) {
    if (typeof p.text !== 'string') return 'text';
    if (!KINDS.has(p.plan.kind)) return `kind ${p.plan.kind}`;
    if (p.plan.kind === 'unsupported' && /planner error/.test(p.plan.message)) return p.plan.message;
    if (p.plan.kind === 'single' && (p.plan.shard < 0 || p.plan.shard >= 4)) return 'shard range';
    if (p.plan.kind === 'scatter' && p.plan.shards.length < 2) return 'scatter of < 2 shards';
    // Rewritten SQL must be valid PostgreSQL (the deparser's output goes to the shards as is).
    if (p.plan.kind === 'scatter' && !parseSql(p.plan.sql).ok) return `rewritten SQL does not parse: ${p.plan.sql}`;
    if (p.plan.kind === 'split-insert' && p.plan.parts.some((part) => !parseSql(part.sql).ok)) return 'split INSERT does not parse';
  }
  return null;
}

const corpus = loadCorpus();

void t.test('every corpus statement plans without error, with and without parameters', async (t) => {
  t.equal(corpus.length, 156, 'all 156 corpus statements');
  for (const { id, sql } of corpus) {
    for (const params of [null, textParams(1, 2, 3, 4, 5, 6, 7, 8)]) {
      let plans: readonly StatementPlan[] = [];
      t.doesNotThrow(() => {
        plans = planner.plan(sql, params, NO_SESSION);
      }, id);
      t.equal(plans.length, 1, `${id}: one plan`);
      t.equal(wellFormed(plans), null, `${id}: well-formed`);
    }
  }
});

void t.test('psql meta-commands are catalog queries any shard answers', async (t) => {
  for (const { id, sql } of corpus.filter((e) => e.id.startsWith('psql-'))) {
    t.strictSame(planner.plan(sql, null, NO_SESSION)[0]?.plan, { kind: 'any', access: 'read', reason: 'catalog' }, id);
  }
});

void t.test('pgbench scripts route every statement to one shard', async (t) => {
  const byId = new Map(corpus.map((e) => [e.id, e.sql]));
  const p = (id: string, params: BoundParams | null = null): Plan | undefined => planner.plan(byId.get(id) ?? '', params, NO_SESSION)[0]?.plan;
  t.strictSame(p('pgbench-02'), { kind: 'single', shard: shardOf('int4', 523817), access: 'write' });
  t.strictSame(p('pgbench-03'), { kind: 'single', shard: shardOf('int4', 523817), access: 'read' });
  t.strictSame(p('pgbench-04'), { kind: 'single', shard: shardOf('int4', 37), access: 'write' });
  t.strictSame(p('pgbench-05'), { kind: 'single', shard: shardOf('int4', 6), access: 'write' });
  t.strictSame(p('pgbench-06'), { kind: 'single', shard: shardOf('int4', 523817), access: 'write' });
  t.strictSame(p('pgbench-08', textParams(-3, 1234)), { kind: 'single', shard: shardOf('int4', 1234), access: 'write' });
  t.strictSame(p('pgbench-09', textParams(99)), { kind: 'single', shard: shardOf('int4', 99), access: 'read' });
  t.strictSame(p('pgbench-10', textParams(-3, 7)), { kind: 'single', shard: shardOf('int4', 7), access: 'write' });
  t.strictSame(p('pgbench-11', textParams(-3, 2)), { kind: 'single', shard: shardOf('int4', 2), access: 'write' });
  t.strictSame(p('pgbench-12', textParams(7, 2, 1234, -3)), { kind: 'single', shard: shardOf('int4', 1234), access: 'write' });
  t.strictSame(p('pgbench-01'), { kind: 'transaction', action: { kind: 'begin' } });
  t.strictSame(p('pgbench-07'), { kind: 'transaction', action: { kind: 'commit' } });
});

const prng = seededRandom;

const TOKENS = [
  'users', 'orders', 'pgbench_accounts', 'countries', 'ranged', 'listed', 'pending', 'widgets', 'pg_class', 'id', 'aid', 'customer_id', '$1', '$2', '$9',
  '=', 'IN', '(', ')', ',', 'AND', 'OR', 'NOT', 'NULL', 'SELECT', 'FROM', 'WHERE', 'ORDER BY', 'GROUP BY', 'LIMIT', 'OFFSET', 'UNION ALL', 'JOIN', 'ON',
  "'x'", '42', '-1', '2.5', '::int8', '::text', 'count(*)', 'avg(x)', '/* pgshard: shard=1 */', '/* pgshard: key=3 */', ';', 'DISTINCT', 'HAVING', 'ANY',
];

void t.test('fuzz: mutated corpus statements and random parameters never throw', async (t) => {
  const rnd = prng(20261124);
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rnd() * xs.length)] as T;
  const fuzzPlanner = new Planner(makeRules(), { cacheEntriesMax: 64 });
  let failures = 0;
  for (let i = 0; i < 3000; i++) {
    const base = pick(corpus).sql;
    const words = base.split(/(\s+)/);
    let sql: string;
    switch (Math.floor(rnd() * 5)) {
      case 0:
        sql = base.slice(0, Math.floor(rnd() * base.length));
        break;
      case 1: {
        const at = Math.floor(rnd() * words.length);
        words.splice(at, 0, ' ', pick(TOKENS), ' ');
        sql = words.join('');
        break;
      }
      case 2: {
        const at = Math.floor(rnd() * words.length);
        words[at] = pick(TOKENS);
        sql = words.join('');
        break;
      }
      case 3:
        sql = `${base}; ${pick(corpus).sql}`;
        break;
      default:
        sql = Array.from({ length: 3 + Math.floor(rnd() * 12) }, () => pick(TOKENS)).join(' ');
    }
    const n = Math.floor(rnd() * 4);
    const params: BoundParams | null =
      rnd() < 0.2
        ? null
        : {
            values: Array.from({ length: n }, () => (rnd() < 0.1 ? null : Uint8Array.from({ length: Math.floor(rnd() * 20) }, () => Math.floor(rnd() * 256)))),
            formats: Array.from({ length: n }, () => (rnd() < 0.5 ? 1 : 0)),
            types: Array.from({ length: n }, () => pick([0, 20, 21, 23, 25, 1043, 2950, 1700, 1016, 705])),
          };
    let plans: readonly StatementPlan[] = [];
    try {
      plans = fuzzPlanner.plan(sql, params, rnd() < 0.1 ? { shard: Math.floor(rnd() * 6) } : NO_SESSION);
    } catch (err) {
      failures++;
      t.fail(`threw on ${JSON.stringify(sql)}: ${String(err)}`);
      continue;
    }
    const problem = wellFormed(plans);
    if (problem !== null) {
      failures++;
      t.fail(`${problem} for ${JSON.stringify(sql)}`);
    }
  }
  t.equal(failures, 0, '3000 mutated statements');
});

void t.test('the plan cache keeps at most cacheEntriesMax texts', async (t) => {
  const small = new Planner(makeRules(), { cacheEntriesMax: 3 });
  for (let i = 0; i < 10; i++) small.plan(`SELECT * FROM users WHERE id = ${i}`, null, NO_SESSION);
  t.equal(small.cachedEntries, 3);
  const a = small.plan('SELECT 1', null, NO_SESSION);
  const b = small.plan('SELECT 1', null, NO_SESSION);
  t.equal(a[0], b[0], 'a fixed plan is reused from the cache as the same object');
});
