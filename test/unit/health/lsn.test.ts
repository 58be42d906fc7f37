// LSN text ⇄ 64-bit values, as PostgreSQL's pg_lsn type reads and prints them, and the arithmetic
// lag is computed with: edge values (0/0, FFFFFFFF/FFFFFFFF), malformed input, values past 2^53.
import t from 'tap';
import {
  LSN_MAX,
  LSN_ZERO,
  LsnError,
  bytesBehind,
  compareLsn,
  formatLsn,
  formatLsnOrNull,
  isLsn,
  lsnDiff,
  lsnReached,
  maxLsn,
  parseLsn,
  parseLsnOrNull,
} from '../../../topology/lsn.js';

void t.test('parse: the forms PostgreSQL accepts', async (t) => {
  t.equal(parseLsn('0/0'), 0n, '0/0 is InvalidXLogRecPtr, zero');
  t.equal(parseLsn('FFFFFFFF/FFFFFFFF'), LSN_MAX);
  t.equal(LSN_MAX, 2n ** 64n - 1n);
  t.equal(parseLsn('16/B374D848'), (0x16n << 32n) + 0xb374d848n);
  t.equal(parseLsn('16/b374d848'), parseLsn('16/B374D848'), 'hex digits in either case');
  t.equal(parseLsn('00000000/00000001'), 1n, 'leading zeros, 8 digits each');
  t.equal(parseLsn('1/0'), 2n ** 32n, 'the high half is the upper 32 bits');
  t.equal(parseLsn('0/FFFFFFFF'), 2n ** 32n - 1n);
  t.equal(parseLsn('200000/0'), 2n ** 53n, 'beyond Number.MAX_SAFE_INTEGER stays exact');
  t.equal(parseLsn('200000/1') - parseLsn('200000/0'), 1n);
});

void t.test('parse: malformed input is refused with a clear error', async (t) => {
  const bad = [
    '', '/', '0', '0/', '/0', '0//0', '0/0/0', ' 0/0', '0/0 ', '0 /0', '+1/0', '-1/0', '0x1/0', 'G/0', '1/Z',
    '123456789/0', '0/123456789', '1.5/0', '１/0', '0/0\n', 'FFFFFFFFF/FFFFFFFF', 'x'.repeat(1000),
  ];
  for (const text of bad) {
    t.throws(() => parseLsn(text), LsnError, `refuses ${JSON.stringify(text.slice(0, 20))}`);
  }
  try {
    parseLsn('not-an-lsn');
    t.fail('should throw');
  } catch (err) {
    t.ok(err instanceof LsnError);
    const e = err as LsnError;
    t.equal(e.sqlstate, '22P02', 'PostgreSQL raises invalid_text_representation for a bad pg_lsn');
    t.match(e.message, /invalid input syntax for type pg_lsn: "not-an-lsn"/);
    t.match(e.message, /16\/B374D848/, 'the message shows the expected form');
  }
  try {
    parseLsn('y'.repeat(5000));
  } catch (err) {
    t.ok((err as Error).message.length < 200, 'a long input is quoted only in part');
  }
});

void t.test('format: %X/%X, upper case, no leading zeros', async (t) => {
  t.equal(formatLsn(0n), '0/0');
  t.equal(formatLsn(LSN_MAX), 'FFFFFFFF/FFFFFFFF');
  t.equal(formatLsn((0x16n << 32n) + 0xb374d848n), '16/B374D848');
  t.equal(formatLsn(1n), '0/1');
  t.equal(formatLsn(2n ** 32n), '1/0');
  t.equal(formatLsn(parseLsn('00000A/0000000B')), 'A/B');
  t.throws(() => formatLsn(-1n), RangeError);
  t.throws(() => formatLsn(LSN_MAX + 1n), RangeError);
  t.equal(formatLsnOrNull(null), null);
  t.equal(parseLsnOrNull(null), null);
  t.equal(parseLsnOrNull('0/10'), 16n);
  // Round trip over random values, including the top of the range.
  let x = 0x9e3779b97f4a7c15n;
  for (let i = 0; i < 500; i++) {
    x = (x * 6364136223846793005n + 1442695040888963407n) & LSN_MAX;
    const v = i % 50 === 0 ? LSN_MAX - BigInt(i) : x >> BigInt(i % 64);
    t.equal(parseLsn(formatLsn(v)), v);
  }
});

void t.test('compare, subtract, max', async (t) => {
  t.equal(compareLsn(0n, 0n), 0);
  t.equal(compareLsn(0n, 1n), -1);
  t.equal(compareLsn(LSN_MAX, 0n), 1);
  t.equal(compareLsn(parseLsn('1/0'), parseLsn('0/FFFFFFFF')), 1, 'numeric, not textual, order');
  const sorted = ['1/0', '0/FFFFFFFF', 'A/0', '2/10', '0/0'].map(parseLsn).sort(compareLsn).map(formatLsn);
  t.strictSame(sorted, ['0/0', '0/FFFFFFFF', '1/0', '2/10', 'A/0']);
  t.equal(lsnDiff(parseLsn('1/0'), parseLsn('0/FFFFFFFF')), 1n);
  t.equal(lsnDiff(parseLsn('0/0'), parseLsn('0/10')), -16n, 'signed, like pg_wal_lsn_diff');
  t.equal(lsnDiff(LSN_MAX, LSN_ZERO), LSN_MAX);
  t.throws(() => lsnDiff(-1n, 0n), RangeError);
  t.equal(bytesBehind(parseLsn('16/B374D848'), parseLsn('16/B374D000')), 0x848n);
  t.equal(bytesBehind(parseLsn('0/0'), parseLsn('0/10')), 0n, 'a replica ahead of a stale primary sample has no lag');
  t.equal(bytesBehind(LSN_MAX, 0n), LSN_MAX);
  t.equal(maxLsn(null, null), null);
  t.equal(maxLsn(5n, null), 5n);
  t.equal(maxLsn(null, 5n), 5n);
  t.equal(maxLsn(5n, 7n), 7n);
  t.equal(lsnReached(null, 0n), false, 'unknown has reached nothing');
  t.equal(lsnReached(5n, 5n), true);
  t.equal(lsnReached(4n, 5n), false);
  t.equal(isLsn(0n), true);
  t.equal(isLsn(LSN_MAX), true);
  t.equal(isLsn(LSN_MAX + 1n), false);
  t.equal(isLsn(-1n), false);
});
