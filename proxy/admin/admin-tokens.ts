// The admin console's lexer and token reader. Splits a simple-query string into statements at `;`
// outside quotes, and each statement into tokens with PostgreSQL's lexical rules where they matter to
// the admin grammar: unquoted identifiers fold to lower case, "quoted" ones keep their case ("" is a
// quote), identifiers longer than 63 bytes are truncated as PostgreSQL truncates them, 'strings' ('' is
// a quote), integers, and -- / /* */ comments. Everything else is a one-character token that the
// grammar rejects with a message saying what it expected there.

import { ProxyError } from '../errors.js';

export type AdminToken =
  /** An unquoted word: keyword or identifier. `text` is folded to lower case, `upper` is for keywords. */
  | { readonly kind: 'word'; readonly text: string; readonly upper: string; readonly raw: string }
  /** A "quoted identifier", case kept. */
  | { readonly kind: 'ident'; readonly text: string; readonly raw: string }
  /** A 'string literal'. */
  | { readonly kind: 'string'; readonly text: string; readonly raw: string }
  /** A number as written (`integer` false for 1.5 or 1e3). */
  | { readonly kind: 'number'; readonly text: string; readonly integer: boolean; readonly raw: string }
  | { readonly kind: 'punct'; readonly text: '(' | ')' | ',' | '.'; readonly raw: string }
  /** Any other character. */
  | { readonly kind: 'other'; readonly text: string; readonly raw: string };

export interface AdminStatement {
  /** The statement's source text, trimmed. */
  readonly text: string;
  readonly tokens: readonly AdminToken[];
}

/** NAMEDATALEN - 1: PostgreSQL truncates longer identifiers to this many bytes. */
export const IDENTIFIER_BYTES_MAX = 63;

function truncateIdentifier(name: string): string {
  if (Buffer.byteLength(name, 'utf8') <= IDENTIFIER_BYTES_MAX) return name;
  let out = '';
  let bytes = 0;
  for (const ch of name) {
    const n = Buffer.byteLength(ch, 'utf8');
    if (bytes + n > IDENTIFIER_BYTES_MAX) break;
    out += ch;
    bytes += n;
  }
  return out;
}

/** ASCII-only folding, as PostgreSQL's downcase_identifier does for multibyte encodings. */
function foldIdentifier(word: string): string {
  return word.replace(/[A-Z]+/g, (s) => s.toLowerCase());
}

const IDENT_START = /[A-Za-z_\u0080-\uffff]/;
const IDENT_PART = /[A-Za-z0-9_$\u0080-\uffff]/;
const NUMBER = /^\d+(\.\d*)?([eE][+-]?\d+)?/;

function lexError(message: string): ProxyError {
  return ProxyError.adminSyntax(message);
}

/** Splits `sql` into statements of tokens; empty statements are dropped. Throws 42601 on an unterminated quote or comment. */
export function tokenizeAdmin(sql: string): AdminStatement[] {
  const statements: AdminStatement[] = [];
  let tokens: AdminToken[] = [];
  let start = 0;
  const endStatement = (end: number) => {
    if (tokens.length > 0) statements.push({ text: sql.slice(start, end).trim(), tokens });
    tokens = [];
    start = end + 1;
  };
  let i = 0;
  while (i < sql.length) {
    const c = sql[i]!;
    if (/\s/.test(c)) {
      i++;
    } else if (c === ';') {
      endStatement(i);
      i++;
    } else if (c === '-' && sql[i + 1] === '-') {
      const nl = sql.indexOf('\n', i);
      i = nl < 0 ? sql.length : nl + 1;
    } else if (c === '/' && sql[i + 1] === '*') {
      // Block comments nest, as in PostgreSQL.
      let depth = 1;
      let j = i + 2;
      while (depth > 0) {
        if (j >= sql.length) throw lexError('unterminated /* comment');
        if (sql.startsWith('/*', j)) [depth, j] = [depth + 1, j + 2];
        else if (sql.startsWith('*/', j)) [depth, j] = [depth - 1, j + 2];
        else j++;
      }
      i = j;
    } else if (c === "'" || c === '"') {
      let j = i + 1;
      let text = '';
      for (;;) {
        const close = sql.indexOf(c, j);
        if (close < 0) throw lexError(c === "'" ? 'unterminated quoted string' : 'unterminated quoted identifier');
        text += sql.slice(j, close);
        if (sql[close + 1] === c) {
          text += c;
          j = close + 2;
        } else {
          j = close + 1;
          break;
        }
      }
      const raw = sql.slice(i, j);
      if (c === "'") tokens.push({ kind: 'string', text, raw });
      else {
        if (text === '') throw lexError('zero-length delimited identifier ""');
        tokens.push({ kind: 'ident', text: truncateIdentifier(text), raw });
      }
      i = j;
    } else if (/\d/.test(c) || (c === '-' && /\d/.test(sql[i + 1] ?? ''))) {
      const sign = c === '-' ? '-' : '';
      const m = NUMBER.exec(sql.slice(i + sign.length))!;
      let j = i + sign.length + m[0].length;
      let integer = m[1] === undefined && m[2] === undefined;
      // `12abc` is one bad token, not a number and a word.
      while (j < sql.length && IDENT_PART.test(sql[j]!)) {
        j++;
        integer = false;
      }
      const raw = sql.slice(i, j);
      tokens.push({ kind: 'number', text: raw, integer, raw });
      i = j;
    } else if (IDENT_START.test(c)) {
      let j = i + 1;
      while (j < sql.length && IDENT_PART.test(sql[j]!)) j++;
      const raw = sql.slice(i, j);
      tokens.push({ kind: 'word', text: truncateIdentifier(foldIdentifier(raw)), upper: raw.toUpperCase(), raw });
      i = j;
    } else if (c === '(' || c === ')' || c === ',' || c === '.') {
      tokens.push({ kind: 'punct', text: c, raw: c });
      i++;
    } else {
      const ch = String.fromCodePoint(sql.codePointAt(i)!);
      tokens.push({ kind: 'other', text: ch, raw: ch });
      i += ch.length;
    }
  }
  endStatement(sql.length);
  return statements;
}

/** A token as an error message quotes it (long ones shortened). */
export function describeToken(token: AdminToken | undefined): string {
  if (token === undefined) return 'end of command';
  const raw = token.raw.length > 40 ? `${token.raw.slice(0, 37)}...` : token.raw;
  switch (token.kind) {
    case 'string':
    case 'ident':
    case 'number':
      return raw;
    case 'word':
    case 'punct':
    case 'other':
      return `"${raw}"`;
  }
}

/**
 * Reads a statement's tokens for one command's grammar. Every failure is a 42601 that says what was
 * expected where and what came instead, with the command's syntax as the hint.
 */
export class TokenReader {
  private pos = 0;

  constructor(
    private readonly tokens: readonly AdminToken[],
    /** The command's name, prefixed to messages, e.g. `SHARD TABLE`. */
    readonly command: string,
    /** The command's full syntax, the hint of every syntax error. */
    readonly syntax: string,
  ) {}

  peek(offset = 0): AdminToken | undefined {
    return this.tokens[this.pos + offset];
  }

  next(): AdminToken | undefined {
    return this.tokens[this.pos++];
  }

  atEnd(): boolean {
    return this.pos >= this.tokens.length;
  }

  /** Whether the token at `offset` is the (unquoted) keyword `keyword`. */
  isKeyword(keyword: string, offset = 0): boolean {
    const t = this.peek(offset);
    return t?.kind === 'word' && t.upper === keyword;
  }

  acceptKeyword(keyword: string): boolean {
    if (!this.isKeyword(keyword)) return false;
    this.pos++;
    return true;
  }

  expectKeyword(keyword: string, where: string): void {
    if (!this.acceptKeyword(keyword)) this.fail(keyword, where);
  }

  isPunct(p: '(' | ')' | ',' | '.'): boolean {
    const t = this.peek();
    return t?.kind === 'punct' && t.text === p;
  }

  acceptPunct(p: '(' | ')' | ',' | '.'): boolean {
    if (!this.isPunct(p)) return false;
    this.pos++;
    return true;
  }

  expectPunct(p: '(' | ')' | ',' | '.', where: string): void {
    if (!this.acceptPunct(p)) this.fail(`"${p}"`, where);
  }

  /** An identifier, unquoted (folded to lower case) or "quoted" (kept). */
  expectIdentifier(what: string, where: string): string {
    const t = this.peek();
    if (t?.kind === 'word' || t?.kind === 'ident') {
      this.pos++;
      return t.text;
    }
    return this.fail(what, where);
  }

  /** A name written as an identifier or a string literal ('db/shard', '127.0.0.1:5433'). */
  expectName(what: string, where: string): string {
    const t = this.peek();
    if (t?.kind === 'word' || t?.kind === 'ident' || t?.kind === 'string') {
      this.pos++;
      return t.text;
    }
    return this.fail(what, where);
  }

  /** A non-negative integer such as a shard index. */
  expectIndex(what: string, where: string): number {
    const t = this.peek();
    if (t?.kind === 'number' && t.integer && !t.text.startsWith('-') && t.text.length <= 9) {
      this.pos++;
      return Number(t.text);
    }
    return this.fail(what, where);
  }

  expectEnd(where: string): void {
    if (!this.atEnd()) this.fail('end of command', where);
  }

  /** Throws 42601: `COMMAND: expected <expected> <where>, got <token>`. */
  fail(expected: string, where: string): never {
    throw ProxyError.adminSyntax(`${this.command}: expected ${expected} ${where}, got ${describeToken(this.peek())}`, `Syntax: ${this.syntax}`);
  }
}
