// The admin lexer: statement splitting, PostgreSQL identifier folding and quoting, literals, comments,
// and the TokenReader's "expected X where, got Y" errors.
import t from 'tap';
import { describeToken, tokenizeAdmin, TokenReader, type AdminToken } from '../../../proxy/admin/admin-tokens.js';
import { ProxyError } from '../../../proxy/errors.js';

const kinds = (tokens: readonly AdminToken[]) => tokens.map((tok) => `${tok.kind}:${tok.text}`);

void t.test('statements split at ; outside quotes and comments; empty ones are dropped', async (t) => {
  const statements = tokenizeAdmin(` show pools ;; SHOW 'a;b' "c;d" -- x; y\n; /* ; */ show clients;`);
  t.equal(statements.length, 3);
  t.strictSame(statements.map((s) => s.text), ['show pools', `SHOW 'a;b' "c;d" -- x; y`, '/* ; */ show clients']);
  t.strictSame(kinds(statements[1]!.tokens), ['word:show', 'string:a;b', 'ident:c;d']);
  t.strictSame(tokenizeAdmin(''), []);
  t.strictSame(tokenizeAdmin(' ; -- only a comment\n ; '), []);
});

void t.test('identifiers fold like PostgreSQL: unquoted to lower case (ASCII only), quoted kept', async (t) => {
  const [s] = tokenizeAdmin('Orders "Orders" "a""b" Ünïcode_X $x x$1');
  t.strictSame(kinds(s!.tokens), ['word:orders', 'ident:Orders', 'ident:a"b', 'word:Ünïcode_x', 'other:$', 'word:x', 'word:x$1']);
  const first = s!.tokens[0]!;
  t.equal(first.kind === 'word' && first.upper, 'ORDERS', 'keywords match on the upper-case form');
  t.equal(first.raw, 'Orders', 'raw keeps what was written');
});

void t.test('identifiers longer than 63 bytes are truncated on a character boundary, as PostgreSQL does', async (t) => {
  const long = 'a'.repeat(70);
  t.equal(tokenizeAdmin(long)[0]!.tokens[0]!.text, 'a'.repeat(63));
  t.equal(tokenizeAdmin(`"${'B'.repeat(64)}"`)[0]!.tokens[0]!.text, 'B'.repeat(63));
  const multibyte = tokenizeAdmin(`"${'é'.repeat(40)}"`)[0]!.tokens[0]!.text;
  t.equal(multibyte, 'é'.repeat(31), '31 two-byte characters fit in 63 bytes, the 32nd does not');
});

void t.test('strings, numbers and punctuation', async (t) => {
  const [s] = tokenizeAdmin(`'it''s' '' 42 -7 1.5 1e3 12ab - ( ) , . =`);
  t.strictSame(kinds(s!.tokens), ['string:it\'s', 'string:', 'number:42', 'number:-7', 'number:1.5', 'number:1e3', 'number:12ab', 'other:-', 'punct:(', 'punct:)', 'punct:,', 'punct:.', 'other:=']);
  const integers = s!.tokens.filter((tok) => tok.kind === 'number').map((tok) => tok.kind === 'number' && tok.integer);
  t.strictSame(integers, [true, true, false, false, false]);
});

void t.test('comments nest; unterminated quotes and comments are 42601', async (t) => {
  t.strictSame(kinds(tokenizeAdmin('a /* x /* y */ z */ b')[0]!.tokens), ['word:a', 'word:b']);
  for (const [sql, message] of [
    [`SHARD TABLE 'x`, /unterminated quoted string/],
    [`SHARD TABLE "x`, /unterminated quoted identifier/],
    [`SHOW /* x`, /unterminated \/\* comment/],
    [`SHARD TABLE "" BY k`, /zero-length delimited identifier/],
  ] as const) {
    t.throws(() => tokenizeAdmin(sql), { sqlstate: '42601', message }, sql);
  }
});

void t.test('TokenReader errors say what was expected where, with the syntax as hint', async (t) => {
  const r = new TokenReader(tokenizeAdmin(`x 'lit' "Id" 5`)[0]!.tokens, 'DO THING', 'DO THING x BY y');
  t.equal(r.expectIdentifier('a name', 'after DO THING'), 'x');
  const err = t.throws(() => r.expectKeyword('BY', 'after the name x')) as ProxyError;
  t.equal(err.sqlstate, '42601');
  t.equal(err.message, `DO THING: expected BY after the name x, got 'lit'`);
  t.equal(err.fields.hint, 'Syntax: DO THING x BY y');
  r.next();
  t.equal(r.expectIdentifier('a name', 'here'), 'Id');
  t.equal(r.expectIndex('a shard number', 'after ON'), 5);
  t.throws(() => r.expectPunct(')', 'at the end'), { message: 'DO THING: expected ")" at the end, got end of command' });
  t.doesNotThrow(() => r.expectEnd('after everything'));
  t.equal(describeToken(undefined), 'end of command');
  t.equal(describeToken(tokenizeAdmin(`'${'y'.repeat(60)}'`)[0]!.tokens[0]), `'${'y'.repeat(36)}...`, 'long tokens are shortened');
});

void t.test('expectIndex takes only small non-negative integers', async (t) => {
  for (const text of ['-1', '1.5', '1e1', '12345678901', "'1'", 'one']) {
    const r = new TokenReader(tokenizeAdmin(text)[0]!.tokens, 'C', 'C');
    t.throws(() => r.expectIndex('a shard number (0, 1, ...)', 'after ON'), { sqlstate: '42601', message: /^C: expected a shard number \(0, 1, \.\.\.\) after ON, got / }, text);
  }
});
