// The only importer of the SQL parser (libpg-query, PostgreSQL 15's own grammar compiled to WASM) and
// of its deparser (pgsql-deparser 15, AST back to SQL for rewritten statements).
// Pure apart from the one-time WASM load (initSqlParser, awaited by the composition root before
// the first query). A statement that does not parse is a normal outcome, not an exception.

import { loadModule, parseSync } from 'libpg-query';
import { deparseSync } from 'pgsql-deparser';

/** One raw statement: the parser's node (a one-key object like { SelectStmt: {...} }) and its text. */
export interface RawStatement {
  readonly node: Record<string, unknown>;
  readonly text: string;
}

export type ParseResult = { ok: true; statements: RawStatement[] } | { ok: false; message: string };

let loaded: Promise<void> | null = null;

export function initSqlParser(): Promise<void> {
  loaded ??= loadModule();
  return loaded;
}

interface ParsedStmt {
  stmt?: Record<string, unknown>;
  stmt_location?: number;
  stmt_len?: number;
}

export function parseSql(sql: string): ParseResult {
  let tree: { stmts?: ParsedStmt[] };
  try {
    tree = parseSync(sql) as { stmts?: ParsedStmt[] };
  } catch (err) {
    return { ok: false, message: err instanceof Error ? err.message : String(err) };
  }
  const statements: RawStatement[] = [];
  const bytes = Buffer.from(sql, 'utf8');
  for (const s of tree.stmts ?? []) {
    if (s.stmt === undefined) continue;
    // Locations are byte offsets into the UTF-8 text; slice bytes, not UTF-16 units.
    const start = s.stmt_location ?? 0;
    const end = s.stmt_len === undefined || s.stmt_len === 0 ? bytes.length : start + s.stmt_len;
    statements.push({ node: s.stmt, text: bytes.subarray(start, end).toString('utf8').trim() });
  }
  return { ok: true, statements };
}

/**
 * SQL text for one statement node of the same shape parseSql returns (libpg-query 15's AST), through
 * pgsql-deparser 15. Used for rewritten statements (scatter reads, split INSERTs). Throws if the
 * deparser cannot print the node; callers treat that as "cannot rewrite".
 */
export function deparseStatement(node: Record<string, unknown>): string {
  return deparseSync(node as Parameters<typeof deparseSync>[0], { pretty: false });
}
