// node-postgres cursors (pg-cursor): Execute with a row limit, PortalSuspended, more Executes on the same
// portal, Close. Under transaction pooling a cursor lives in its transaction, so the client must keep
// its server connection until COMMIT while other clients are served by the rest of the pool.
import t from 'tap';
import pg from 'pg';
import Cursor from 'pg-cursor';
import { startProxyFixture } from '../helpers/proxy-fixture.js';

const fx = await startProxyFixture(t, { pool: { sizeMax: 2 } });

function read(cursor: Cursor, rows: number): Promise<{ n: number }[]> {
  return cursor.read(rows) as Promise<{ n: number }[]>;
}

void t.test('a cursor reads a result in batches inside a transaction', async (t) => {
  const c = new pg.Client(fx.clientConfig('app'));
  await c.connect();
  t.teardown(() => c.end());
  await c.query('BEGIN');
  const cursor = c.query(new Cursor('select n from generate_series(1, $1::int) n order by n', [1000]));
  const seen: number[] = [];
  for (;;) {
    const batch = await read(cursor, 128);
    if (batch.length === 0) break;
    t.ok(batch.length <= 128, 'a batch is at most the requested size');
    seen.push(...batch.map((r) => r.n));
    // Others run while the cursor is open: the second server connection serves them.
    const other = new pg.Client(fx.clientConfig('app'));
    await other.connect();
    t.equal((await other.query('select 1 as x')).rows[0].x, 1);
    await other.end();
  }
  await cursor.close();
  await c.query('COMMIT');
  t.equal(seen.length, 1000);
  t.strictSame(seen.slice(0, 3), [1, 2, 3]);
  t.equal(seen[999], 1000);
});

void t.test('an autocommit cursor (implicit transaction) reads its first batch, then closes', async (t) => {
  const c = new pg.Client(fx.clientConfig('app'));
  await c.connect();
  t.teardown(() => c.end());
  const cursor = c.query(new Cursor('select n from generate_series(1, 50) n'));
  const first = await read(cursor, 10);
  t.strictSame(first.map((r) => r.n), [1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
  await cursor.close();
  t.equal((await c.query('select 2 as y')).rows[0].y, 2, 'the client goes on after closing the cursor');
});
