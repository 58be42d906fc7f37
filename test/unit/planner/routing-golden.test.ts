// Golden planner files (test/unit/planner/golden/*.json): each case is {comment, sql, params?, plan | error},
// planned under the fixture rules. `params` are text-format values (null = SQL NULL), or
// {values, formats, types} with binary values written as "\\x<hex>". A case expects `plan` (or an array
// of plans for a multi-statement string), or `error` ({message, hint}) when the plan is unsupported.
// PGSHARD_GOLDEN_UPDATE=1 rewrites the files with the current plans (review the diff before committing).

import t from 'tap';
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { initSqlParser } from '../../../planner/sql-parser.js';
import { Planner } from '../../../planner/planner.js';
import type { BoundParams, Plan } from '../../../planner/plan.js';
import { makeRules, NO_SESSION } from './routing-fixtures.js';

await initSqlParser();

type ParamsJson = (string | null)[] | { values: (string | null)[]; formats?: number[]; types?: number[] };

interface GoldenCase {
  comment: string;
  sql: string;
  params?: ParamsJson;
  plan?: unknown;
  error?: { message: string; hint: string };
}

const dir = new URL('./golden/', import.meta.url);
const update = process.env['PGSHARD_GOLDEN_UPDATE'] === '1';
const enc = new TextEncoder();

function toParams(p: ParamsJson | undefined): BoundParams | null {
  if (p === undefined) return null;
  const values = Array.isArray(p) ? p : p.values;
  return {
    values: values.map((v) => (v === null ? null : v.startsWith('\\x') ? Uint8Array.from(Buffer.from(v.slice(2), 'hex')) : enc.encode(v))),
    formats: Array.isArray(p) ? values.map(() => 0) : (p.formats ?? values.map(() => 0)),
    types: Array.isArray(p) ? values.map(() => 0) : (p.types ?? values.map(() => 0)),
  };
}

/** JSON form of a plan: bigints as "<n>n". */
function json(v: unknown): unknown {
  return JSON.parse(JSON.stringify(v, (_k, x: unknown) => (typeof x === 'bigint' ? `${x}n` : x))) as unknown;
}

function outcome(plans: readonly Plan[]): Pick<GoldenCase, 'plan' | 'error'> {
  const only = plans.length === 1 ? plans[0] : undefined;
  if (only !== undefined && only.kind === 'unsupported') return { error: { message: only.message, hint: only.hint } };
  return { plan: json(only ?? plans) };
}

const files = readdirSync(dir).filter((f) => f.endsWith('.json')).sort();

void t.test('golden files exist', async (t) => {
  t.ok(files.length >= 3, `${files.length} golden files`);
});

for (const file of files) {
  void t.test(file, async (t) => {
    const url = new URL(file, dir);
    const cases = JSON.parse(readFileSync(url, 'utf8')) as GoldenCase[];
    const planner = new Planner(makeRules(), { cacheEntriesMax: 1000 });
    const next: GoldenCase[] = [];
    for (const c of cases) {
      const got = outcome(planner.plan(c.sql, toParams(c.params), NO_SESSION).map((p) => p.plan));
      const base: GoldenCase = { comment: c.comment, sql: c.sql };
      if (c.params !== undefined) base.params = c.params;
      next.push({ ...base, ...got });
      if (!update) t.strictSame(got, { ...(c.plan !== undefined ? { plan: c.plan } : {}), ...(c.error !== undefined ? { error: c.error } : {}) }, c.comment);
    }
    if (update) {
      writeFileSync(url, `${JSON.stringify(next, null, 2)}\n`);
      t.pass(`rewrote ${file} (${next.length} cases)`);
    }
  });
}
