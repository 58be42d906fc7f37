// What a statement does to session state that outlives a transaction, which the proxy must carry
// when a client moves between pooled server connections (transaction pooling).
// Pure: SQL text in, effects out. A cheap lexical pre-check keeps ordinary single statements
// (SELECT/INSERT/UPDATE/DELETE/BEGIN/COMMIT...) off the parser entirely.

import { LRUCache } from 'lru-cache';
import { parseSql, type RawStatement } from './sql-parser.js';

export type SessionEffect =
  | { readonly kind: 'none' }
  /** A session-level SET; `statement` is replayed verbatim on other server connections. */
  | { readonly kind: 'set'; readonly name: string; readonly statement: string }
  | { readonly kind: 'reset'; readonly name: string }
  | { readonly kind: 'reset-all' }
  | { readonly kind: 'discard-all' }
  /** DEALLOCATE name, or DEALLOCATE ALL when name is null. */
  | { readonly kind: 'deallocate'; readonly name: string | null }
  /** State that cannot be carried to another connection: the client keeps its server connection. */
  | { readonly kind: 'pin'; readonly reason: string };

const NONE: SessionEffect = { kind: 'none' };
const NONE_LIST: readonly SessionEffect[] = [NONE];

/** First keywords that never change session state when they are the only statement. */
const PLAIN_KEYWORDS = new Set([
  'SELECT', 'INSERT', 'UPDATE', 'DELETE', 'WITH', 'VALUES', 'TABLE', 'BEGIN', 'START', 'COMMIT', 'END',
  'ROLLBACK', 'ABORT', 'SAVEPOINT', 'RELEASE', 'COPY', 'EXPLAIN', 'SHOW', 'FETCH', 'MOVE', 'CLOSE',
  'TRUNCATE', 'ANALYZE', 'VACUUM', 'MERGE', 'CALL', 'DO', 'ALTER', 'DROP', 'COMMENT', 'GRANT', 'REVOKE',
  'NOTIFY', 'UNLISTEN', 'LOCK', 'EXECUTE', 'REFRESH', 'REINDEX', 'CLUSTER', 'CHECKPOINT',
]);

export class SessionEffectClassifier {
  private readonly cache: LRUCache<string, readonly SessionEffect[]>;

  constructor(cacheEntriesMax: number) {
    this.cache = new LRUCache({ max: Math.max(1, cacheEntriesMax) });
  }

  /** One effect per statement of a simple-protocol query string, in order. */
  classify(sql: string): readonly SessionEffect[] {
    const keyword = firstKeyword(sql);
    if (keyword !== null && PLAIN_KEYWORDS.has(keyword) && !hasInnerSemicolon(sql)) return NONE_LIST;
    const cached = this.cache.get(sql);
    if (cached !== undefined) return cached;
    const parsed = parseSql(sql);
    // Unparseable SQL changes nothing: the server will reject it with its own error.
    const effects = parsed.ok ? parsed.statements.map(effectOf) : NONE_LIST;
    this.cache.set(sql, effects);
    return effects;
  }
}

export function effectOf(stmt: RawStatement): SessionEffect {
  const [type, body] = Object.entries(stmt.node)[0] ?? ['', {}];
  const node = body as Record<string, unknown>;
  switch (type) {
    case 'VariableSetStmt':
      return variableSetEffect(node, stmt.text);
    case 'DiscardStmt':
      return node['target'] === 'DISCARD_ALL' ? { kind: 'discard-all' } : NONE;
    case 'DeallocateStmt':
      return { kind: 'deallocate', name: typeof node['name'] === 'string' ? node['name'] : null };
    case 'ListenStmt':
      return { kind: 'pin', reason: 'LISTEN' };
    case 'PrepareStmt':
      return { kind: 'pin', reason: 'SQL PREPARE' };
    case 'LoadStmt':
      return { kind: 'pin', reason: 'LOAD' };
    case 'DeclareCursorStmt':
      // CURSOR_OPT_HOLD (0x20): the cursor outlives its transaction.
      return (Number(node['options'] ?? 0) & 0x20) !== 0 ? { kind: 'pin', reason: 'cursor WITH HOLD' } : NONE;
    case 'CreateStmt':
    case 'CreateTableAsStmt':
    case 'ViewStmt':
    case 'CreateSeqStmt':
      return isTemporary(node) ? { kind: 'pin', reason: 'temporary object' } : NONE;
    default:
      return NONE;
  }
}

function variableSetEffect(node: Record<string, unknown>, text: string): SessionEffect {
  const name = String(node['name'] ?? '').toLowerCase();
  if (node['is_local'] === true) return NONE;
  if (name === 'role' || name === 'session_authorization') return { kind: 'pin', reason: `SET ${name}` };
  switch (node['kind']) {
    case 'VAR_SET_VALUE':
    case 'VAR_SET_DEFAULT':
    case 'VAR_SET_CURRENT':
      return { kind: 'set', name, statement: text };
    case 'VAR_SET_MULTI':
      // SET TRANSACTION affects only the current transaction; SESSION CHARACTERISTICS persists.
      return name === 'session characteristics' ? { kind: 'set', name, statement: text } : NONE;
    case 'VAR_RESET':
      return { kind: 'reset', name };
    case 'VAR_RESET_ALL':
      return { kind: 'reset-all' };
    default:
      return NONE;
  }
}

function isTemporary(node: Record<string, unknown>): boolean {
  const rel = (node['relation'] ?? node['view'] ?? node['sequence'] ?? (node['into'] as Record<string, unknown> | undefined)?.['rel']) as
    | Record<string, unknown>
    | undefined;
  return rel?.['relpersistence'] === 't';
}

/** The first keyword, upper-cased, after whitespace and comments; null if none. */
export function firstKeyword(sql: string): string | null {
  let i = 0;
  const n = sql.length;
  for (;;) {
    while (i < n && isSpace(sql.charCodeAt(i))) i++;
    if (sql.startsWith('--', i)) {
      const nl = sql.indexOf('\n', i);
      if (nl < 0) return null;
      i = nl + 1;
      continue;
    }
    if (sql.startsWith('/*', i)) {
      // Nested comments are rare; a nested one just sends the statement to the parser.
      const close = sql.indexOf('*/', i + 2);
      if (close < 0) return null;
      i = close + 2;
      continue;
    }
    break;
  }
  let j = i;
  while (j < n && isWordChar(sql.charCodeAt(j))) j++;
  return j > i ? sql.slice(i, j).toUpperCase() : null;
}

/** A ';' with anything but whitespace after it: possibly several statements. */
function hasInnerSemicolon(sql: string): boolean {
  const i = sql.indexOf(';');
  if (i < 0) return false;
  for (let j = i + 1; j < sql.length; j++) if (!isSpace(sql.charCodeAt(j)) && sql.charCodeAt(j) !== 59) return true;
  return false;
}

function isSpace(c: number): boolean {
  return c === 32 || c === 9 || c === 10 || c === 13 || c === 12;
}

function isWordChar(c: number): boolean {
  return (c >= 65 && c <= 90) || (c >= 97 && c <= 122) || c === 95;
}
