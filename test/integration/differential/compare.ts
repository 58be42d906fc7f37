// Running one statement on a side (the oracle, or the proxy) with every value kept as the text
// PostgreSQL sent, and comparing two outcomes: column names, type OIDs and type modifiers (numeric(p,
// s)'s precision and scale), command tag and row count,
// and the rows as a multiset (or, for ordered queries, in order). Pure apart from runOn(); the
// comparison is unit-tested by the suite itself with deliberately wrong results.
import type pg from 'pg';
import type { Cell } from './data.js';

export interface Field {
  readonly name: string;
  readonly typeOid: number;
  /** The RowDescription's type modifier (absent or -1: none). */
  readonly typmod?: number;
}

export interface Outcome {
  readonly fields: readonly Field[];
  readonly rows: readonly (readonly Cell[])[];
  /** The command tag's verb (SELECT, INSERT, UPDATE...). */
  readonly command: string;
  /** The command tag's count (null when the tag has none). */
  readonly rowCount: number | null;
}

export interface Failure {
  readonly code: string | undefined;
  readonly message: string;
  readonly hint: string | undefined;
}

export type RunResult = { readonly ok: true; readonly outcome: Outcome } | { readonly ok: false; readonly error: Failure };

/** Keeps every value as text: no Date, number or array parsing on either side. */
const TEXT_TYPES = { getTypeParser: () => (value: string) => value };

/**
 * Runs `sql` and captures what came back, or the error: over the simple protocol, or the extended one
 * (Parse/Bind/Describe/Execute/Sync) when `params` is given or `extended` is set.
 */
export async function runOn(client: pg.Client, sql: string, params?: readonly Cell[], extended = false): Promise<RunResult> {
  try {
    const res = await client.query<Cell[]>({
      text: sql,
      ...(params !== undefined || extended ? { values: [...(params ?? [])], queryMode: 'extended' as const } : {}),
      rowMode: 'array',
      types: TEXT_TYPES,
    });
    return {
      ok: true,
      outcome: {
        fields: res.fields.map((f) => ({ name: f.name, typeOid: f.dataTypeID, typmod: f.dataTypeModifier })),
        rows: res.rows,
        command: res.command,
        rowCount: res.rowCount,
      },
    };
  } catch (err) {
    const e = err as Error & { code?: string; hint?: string };
    return { ok: false, error: { code: e.code, message: e.message, hint: e.hint } };
  }
}

const MAX_SHOWN = 5;

/** A row as one line: JSON keeps NULL apart from the string 'NULL' and shows tabs and newlines. */
export const showRow = (row: readonly Cell[]): string => JSON.stringify(row);

const showFields = (fields: readonly Field[]): string => fields.map((f) => `${f.name}:${f.typeOid}${(f.typmod ?? -1) < 0 ? '' : `(${f.typmod})`}`).join(', ');

/** Counts of each distinct row. */
function tally(rows: readonly (readonly Cell[])[]): Map<string, number> {
  const counts = new Map<string, number>();
  for (const row of rows) {
    const key = showRow(row);
    counts.set(key, (counts.get(key) ?? 0) + 1);
  }
  return counts;
}

/** Rows of `a` not matched by a row of `b` (with multiplicity), at most `limit`, in `a`'s order. */
function unmatched(a: readonly (readonly Cell[])[], b: readonly (readonly Cell[])[], limit: number): { shown: string[]; total: number } {
  const left = tally(b);
  const shown: string[] = [];
  let total = 0;
  for (const row of a) {
    const key = showRow(row);
    const n = left.get(key) ?? 0;
    if (n > 0) {
      left.set(key, n - 1);
      continue;
    }
    total++;
    if (shown.length < limit) shown.push(key);
  }
  return { shown, total };
}

export interface CompareOptions {
  /** Rows must also come in the same order. */
  readonly ordered: boolean;
  /** The command tag and its count must agree too (writes; for reads the rows already cover the count). */
  readonly compareTag: boolean;
  /** What the other side is called in messages (default 'proxy'). */
  readonly actualLabel?: string;
}

/**
 * Differences between the oracle's outcome and the proxy's, as lines (empty when they agree).
 * `ordered`: rows must also come in the same order. `compareTag`: the command tag and its count must
 * agree too (writes; for reads the row comparison already covers the count).
 */
export function diffOutcomes(expected: Outcome, actual: Outcome, opts: CompareOptions): string[] {
  const them = opts.actualLabel ?? 'proxy';
  const pad = ' '.repeat(Math.max(0, them.length - 'oracle'.length));
  const padThem = ' '.repeat(Math.max(0, 'oracle'.length - them.length));
  const out: string[] = [];
  if (showFields(expected.fields) !== showFields(actual.fields)) {
    out.push(`columns (name:type oid) differ:\n    oracle:${pad} ${showFields(expected.fields)}\n    ${them}:${padThem} ${showFields(actual.fields)}`);
  }
  if (opts.compareTag && (expected.command !== actual.command || expected.rowCount !== actual.rowCount)) {
    out.push(`command tags differ: oracle ${expected.command} ${expected.rowCount ?? ''}, ${them} ${actual.command} ${actual.rowCount ?? ''}`);
  }
  const missing = unmatched(expected.rows, actual.rows, MAX_SHOWN);
  const extra = unmatched(actual.rows, expected.rows, MAX_SHOWN);
  if (missing.total > 0 || extra.total > 0) {
    out.push(`rows differ: oracle has ${expected.rows.length}, ${them} has ${actual.rows.length}`);
    if (missing.total > 0) out.push(`  ${missing.total} row(s) only in the oracle, first ones:\n    ${missing.shown.join('\n    ')}`);
    if (extra.total > 0) out.push(`  ${extra.total} row(s) only in the ${them}, first ones:\n    ${extra.shown.join('\n    ')}`);
  } else if (opts.ordered) {
    const at = expected.rows.findIndex((row, i) => showRow(row) !== showRow(actual.rows[i] ?? []));
    if (at >= 0) {
      const around = (rows: readonly (readonly Cell[])[]): string =>
        rows
          .slice(at, at + MAX_SHOWN)
          .map((r, i) => `#${at + i}: ${showRow(r)}`)
          .join('\n    ');
      out.push(`same rows, different order; first difference at row #${at}:\n  oracle:\n    ${around(expected.rows)}\n  ${them}:\n    ${around(actual.rows)}`);
    }
  }
  return out;
}

export interface CaseDescription {
  readonly name: string;
  readonly sql: string;
  readonly params?: readonly Cell[] | undefined;
  /** PostgreSQL fails this statement: both sides must fail with the same SQLSTATE and message. */
  readonly fails?: boolean | undefined;
}

/** The header of every failure message: which query, its SQL and parameters. */
export function describeCase(q: CaseDescription): string {
  const params = q.params !== undefined ? `\n  params: ${JSON.stringify(q.params)}` : '';
  return `query "${q.name}"\n  sql: ${q.sql}${params}`;
}

export const describeFailure = (f: Failure): string =>
  `SQLSTATE ${f.code ?? '(none)'}: ${f.message}${f.hint !== undefined ? ` (hint: ${f.hint})` : ''}`;

/**
 * The verdict on one query: null when both sides agree, otherwise the whole failure message (query
 * name, SQL, parameters and what differs). An error on either side is a failure: the oracle's means the
 * suite is wrong; the proxy's (0A000 included) means the proxy is.
 */
export function judge(q: CaseDescription, oracle: RunResult, proxy: RunResult, opts: CompareOptions): string | null {
  if (q.fails === true) {
    if (oracle.ok) return `${describeCase(q)}\n  the oracle answered it, but the case expects an error (a bug in the suite)`;
    const them = opts.actualLabel ?? 'proxy';
    if (proxy.ok) return `${describeCase(q)}\n  the oracle failed (${describeFailure(oracle.error)}), the ${them} answered ${proxy.outcome.rows.length} row(s)`;
    if (proxy.error.code !== oracle.error.code || proxy.error.message !== oracle.error.message) {
      return `${describeCase(q)}\n  errors differ:\n    oracle: ${describeFailure(oracle.error)}\n    ${them}: ${describeFailure(proxy.error)}`;
    }
    return null;
  }
  if (!oracle.ok) return `${describeCase(q)}\n  the oracle rejected it (a bug in the suite): ${describeFailure(oracle.error)}`;
  if (!proxy.ok) return `${describeCase(q)}\n  the ${opts.actualLabel ?? 'proxy'} failed: ${describeFailure(proxy.error)}`;
  const diffs = diffOutcomes(oracle.outcome, proxy.outcome, opts);
  return diffs.length === 0 ? null : `${describeCase(q)}\n${diffs.join('\n')}`;
}
