// The causal token contract (docs/replicas.md): "v1." + base64url(JSON rows), canonical order, one
// entry per shard with the later position kept, round trips, and clear 22023 errors for anything else.
import t from 'tap';
import { CAUSAL_TOKEN_PREFIX, CausalTokenError, decodeCausalToken, encodeCausalToken, isLaterPosition, mergeCausalEntries, type CausalEntry } from '../../../topology/causal-token.js';
import { LSN_MAX } from '../../../topology/lsn.js';
import { decodeCausalToken as reexported } from '../../../topology/replica-choice.js';

const e = (database: string, shard: string, term: number, lsn: bigint): CausalEntry => ({ database, shard, term, lsn });

function rawToken(payload: unknown): string {
  return CAUSAL_TOKEN_PREFIX + Buffer.from(JSON.stringify(payload)).toString('base64url');
}

void t.test('the documented format, byte for byte', async (t) => {
  const token = encodeCausalToken([e('appdb', 'shard1', 2, 0x16b374d848n), e('appdb', 'shard0', 1, 0n)]);
  t.equal(token, rawToken([['appdb', 'shard0', 1, '0/0'], ['appdb', 'shard1', 2, '16/B374D848']]), 'sorted rows of [database, shard, term, "H/L"]');
  t.match(token, /^v1\.[A-Za-z0-9_-]+$/, 'URL-safe, no padding');
  t.equal(encodeCausalToken([]), rawToken([]), 'no positions: an empty list');
  t.equal(reexported, decodeCausalToken, 'replica-choice re-exports the codec');
});

void t.test('round trips, including edge values and unicode names', async (t) => {
  const entries = [e('app db', 'shard/0', 0, 0n), e('ünïcødé', 'ß', Number.MAX_SAFE_INTEGER, LSN_MAX), e('a', 'b', 3, 2n ** 53n + 1n)];
  const decoded = decodeCausalToken(encodeCausalToken(entries));
  t.strictSame(decoded, [...entries].sort((x, y) => (x.database < y.database ? -1 : 1)));
  t.strictSame(decodeCausalToken(''), [], 'the empty string (RESET / never set) has no positions');
  t.strictSame(decodeCausalToken(encodeCausalToken([])), []);
});

void t.test('merging keeps the later position per shard', async (t) => {
  t.equal(isLaterPosition({ term: 2, lsn: 0n }, { term: 1, lsn: 999n }), true, 'a higher term wins whatever the LSN');
  t.equal(isLaterPosition({ term: 1, lsn: 5n }, { term: 1, lsn: 4n }), true);
  t.equal(isLaterPosition({ term: 1, lsn: 4n }, { term: 1, lsn: 4n }), false);
  const merged = mergeCausalEntries(
    [e('d', 's0', 1, 100n), e('d', 's1', 1, 50n)],
    [e('d', 's0', 1, 90n), e('d', 's1', 2, 10n), e('x', 's0', 1, 1n)],
  );
  t.strictSame(merged, [e('d', 's0', 1, 100n), e('d', 's1', 2, 10n), e('x', 's0', 1, 1n)]);
  t.strictSame(decodeCausalToken(encodeCausalToken([e('d', 's0', 1, 1n), e('d', 's0', 1, 7n)])), [e('d', 's0', 1, 7n)], 'encode merges duplicates');
});

void t.test('garbage is refused with 22023 and says what is wrong', async (t) => {
  const cases: [string, RegExp][] = [
    ['hello', /does not start with "v1\."/],
    ['v2.W10', /unsupported version "v2"/],
    ['V1.W10', /does not start with "v1\."/],
    ['v1.', /payload is not readable/],
    ['v1.W10=', /base64url/],
    ['v1.W1+v', /base64url/],
    ['v1.W10 ', /base64url/],
    ['v1.W1', /payload is not readable/],
    [rawToken({ a: 1 }), /not a list of positions/],
    [rawToken([['d', 's', 1]]), /entry 0: expected \[database, shard, term, lsn\]/],
    [rawToken([['d', 's', 1, '0/0', 'extra']]), /entry 0: expected/],
    [rawToken(['x']), /entry 0: expected/],
    [rawToken([['', 's', 1, '0/0']]), /entry 0: database must be a non-empty string/],
    [rawToken([['d', 7, 1, '0/0']]), /entry 0: shard must be/],
    [rawToken([['d', 'x'.repeat(257), 1, '0/0']]), /shard must be a non-empty string of at most 256/],
    [rawToken([['d', 's', -1, '0/0']]), /entry 0: term must be a non-negative integer/],
    [rawToken([['d', 's', 1.5, '0/0']]), /term must be/],
    [rawToken([['d', 's', '1', '0/0']]), /term must be/],
    [rawToken([['d', 's', 2 ** 53, '0/0']]), /term must be/],
    [rawToken([['d', 's', 1, 16]]), /entry 0: lsn must be a string/],
    [rawToken([['d', 's', 1, '0/0'], ['d', 's', 1, 'zz']]), /entry 1: invalid input syntax for type pg_lsn: "zz"/],
    [rawToken([['d', 's', 1, '0/0'], ['d', 's', 2, '0/1']]), /entry 1: d\/s appears twice/],
    ['v1.' + 'A'.repeat(70_000), /longer than 65536 characters/],
  ];
  for (const [text, message] of cases) {
    try {
      decodeCausalToken(text);
      t.fail(`accepted ${text.slice(0, 40)}`);
    } catch (err) {
      t.ok(err instanceof CausalTokenError, `${text.slice(0, 30)}: a CausalTokenError`);
      t.equal((err as CausalTokenError).sqlstate, '22023');
      t.match((err as Error).message, /^invalid causal token: /);
      t.match((err as Error).message, message);
    }
  }
  t.throws(() => decodeCausalToken(encodeCausalToken([e('d', 's', 1, 1n)]), 10), /longer than 10 characters/, 'the length limit is a parameter');
  t.throws(() => encodeCausalToken([e('', 's', 1, 1n)]), CausalTokenError, 'encode refuses what decode would refuse');
  t.throws(() => encodeCausalToken([e('d', 's', 1, -1n)]), RangeError);
});

void t.test('a token survives truncation checks: every strict prefix is refused or decodes to fewer entries', async (t) => {
  const token = encodeCausalToken([e('appdb', 'shard0', 3, 0x16b374d848n), e('appdb', 'shard1', 3, 0x16b3000000n)]);
  for (let i = 0; i < token.length; i++) {
    const prefix = token.slice(0, i);
    let ok = false;
    try {
      ok = decodeCausalToken(prefix).length < 2;
    } catch (err) {
      ok = err instanceof CausalTokenError;
    }
    if (!ok) t.fail(`prefix of ${i} characters decoded to the full token`);
  }
  t.pass('no truncated token passes for the original');
});
