// Gids name their proxy and never repeat; parseGid recognises exactly what makeGid makes.

import t from 'tap';
import { GID_BYTES_MAX, makeGid, parseGid } from '../../../topology/state/gid.js';

void t.test('makeGid: format, uniqueness, length', async (t) => {
  const gid = makeGid('proxy-1');
  t.match(gid, /^pgshard_proxy-1_[1-9][0-9]*_[0-9a-f]{16}$/);
  const seen = new Set<string>();
  for (let i = 0; i < 10_000; i++) seen.add(makeGid('p'));
  t.equal(seen.size, 10_000);
  const longest = makeGid('x'.repeat(64));
  t.ok(Buffer.byteLength(longest) <= GID_BYTES_MAX, `${longest.length} bytes fit PostgreSQL's limit`);
  for (const bad of ['', 'a b', "o'neil", 'x'.repeat(65), 'é']) t.throws(() => makeGid(bad), RangeError, JSON.stringify(bad));
});

void t.test('parseGid: round trip, underscores in the proxy id, foreign gids', async (t) => {
  const gid = makeGid('eu_west_1');
  const parsed = parseGid(gid);
  t.equal(parsed?.proxyId, 'eu_west_1');
  t.equal(parsed?.random.length, 16);
  t.ok(Number.isSafeInteger(parsed?.counter) && parsed!.counter > 0);
  t.equal(parseGid('pgshard_a_1_5_0123456789abcdef')?.proxyId, 'a_1', 'the last two parts are counter and random');
  for (const foreign of [
    'my_app_txn_42',
    'pgshard_p1_1_0123456789ABCDEF',
    'pgshard_p1_0_0123456789abcdef',
    'pgshard_p1_01_0123456789abcdef',
    'pgshard_p1_1_0123456789abcde',
    'pgshard__1_0123456789abcdef',
    'xpgshard_p1_1_0123456789abcdef',
    'pgshard_p1_1_0123456789abcdef ',
  ]) {
    t.equal(parseGid(foreign), null, foreign);
  }
});
