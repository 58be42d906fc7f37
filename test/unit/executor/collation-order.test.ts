import t from 'tap';
import { collationOrder } from '../../../proxy/executor/sharded-database.js';

void t.test('lc_collate decides how the merge orders text', async (t) => {
  for (const c of ['C', 'POSIX', 'C.UTF-8', 'C.utf8', 'c.UTF8']) t.equal(collationOrder(c), 'bytes', `${c} sorts by bytes, as Postgres does`);
  t.strictSame(collationOrder('en_US.UTF-8'), { locale: 'en-US' });
  t.strictSame(collationOrder('de_DE'), { locale: 'de-DE' });
});
