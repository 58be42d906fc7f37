// Routing hints written as SQL comments: /* pgshard: shard=N */ or /* pgshard: key=V */ (also as a
// -- line comment), anywhere in the statement. libpg-query drops comments, so the text is scanned:
// only when it contains "pgshard" at all, and with a small lexer that skips string literals, quoted
// identifiers and dollar-quoted bodies so a hint-like string constant is not a hint.
// Owns: finding and parsing hints. Must not: resolve keys to shards.

import type { ReadLevel } from '../plan.js';

export type Hint =
  | { readonly kind: 'shard'; readonly shard: number }
  | { readonly kind: 'key'; readonly value: string }
  | { readonly kind: 'invalid'; readonly text: string };

const HINT = /^\s*pgshard\s*:\s*(\w+)\s*=\s*('(?:[^']|'')*'|[^\s,;*]+)\s*$/i;

/** The first pgshard hint in the statement's comments, or null. */
export function findHint(sql: string): Hint | null {
  if (!/pgshard/i.test(sql)) return null;
  for (const comment of comments(sql)) {
    if (!/^\s*pgshard\s*:/i.test(comment)) continue;
    const m = HINT.exec(comment);
    if (m === null) return { kind: 'invalid', text: comment.trim() };
    const name = (m[1] ?? '').toLowerCase();
    // Read consistency is not routing: findConsistencyHint reads it.
    if (name === 'consistency') continue;
    let value = m[2] ?? '';
    if (value.startsWith("'")) value = value.slice(1, -1).replace(/''/g, "'");
    if (name === 'shard') {
      return /^\d+$/.test(value) ? { kind: 'shard', shard: Number(value) } : { kind: 'invalid', text: comment.trim() };
    }
    if (name === 'key') return { kind: 'key', value };
    return { kind: 'invalid', text: comment.trim() };
  }
  return null;
}

const LEVELS: readonly ReadLevel[] = ['strong', 'sync', 'bounded', 'async'];
const CONSISTENCY_HINT = /^\s*pgshard\s*:\s*consistency\s*=\s*'?(\w*)'?\s*$/i;

/** A `/* pgshard: consistency=LEVEL *\/` hint: the level, 'invalid' for an unknown one, or null. */
export function findConsistencyHint(sql: string): ReadLevel | 'invalid' | null {
  if (!/consistency/i.test(sql)) return null;
  for (const comment of comments(sql)) {
    const m = CONSISTENCY_HINT.exec(comment);
    if (m === null) continue;
    const level = (m[1] ?? '').toLowerCase();
    return LEVELS.find((l) => l === level) ?? 'invalid';
  }
  return null;
}

/** Comment bodies of a SQL text, skipping literals and quoted identifiers. */
export function comments(sql: string): string[] {
  const out: string[] = [];
  const n = sql.length;
  let i = 0;
  while (i < n) {
    const c = sql[i];
    const next = sql[i + 1];
    if (c === '-' && next === '-') {
      const end = sql.indexOf('\n', i + 2);
      out.push(sql.slice(i + 2, end < 0 ? n : end));
      i = end < 0 ? n : end + 1;
    } else if (c === '/' && next === '*') {
      // Block comments nest in PostgreSQL.
      let depth = 1;
      let j = i + 2;
      while (j < n && depth > 0) {
        if (sql[j] === '/' && sql[j + 1] === '*') {
          depth++;
          j += 2;
        } else if (sql[j] === '*' && sql[j + 1] === '/') {
          depth--;
          j += 2;
        } else {
          j++;
        }
      }
      out.push(sql.slice(i + 2, depth === 0 ? j - 2 : n));
      i = j;
    } else if (c === "'") {
      const escapes = i > 0 && (sql[i - 1] === 'E' || sql[i - 1] === 'e');
      let j = i + 1;
      while (j < n) {
        if (escapes && sql[j] === '\\') j += 2;
        else if (sql[j] === "'" && sql[j + 1] === "'") j += 2;
        else if (sql[j] === "'") break;
        else j++;
      }
      i = j + 1;
    } else if (c === '"') {
      const end = sql.indexOf('"', i + 1);
      i = end < 0 ? n : end + 1;
    } else if (c === '$') {
      const m = /^\$([A-Za-z_][A-Za-z_0-9]*)?\$/.exec(sql.slice(i, i + 64));
      if (m !== null && !(i > 0 && /[A-Za-z_0-9]/.test(sql[i - 1] ?? ''))) {
        const end = sql.indexOf(m[0], i + m[0].length);
        i = end < 0 ? n : end + m[0].length;
      } else {
        i++;
      }
    } else {
      i++;
    }
  }
  return out;
}
