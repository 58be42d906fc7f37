// A server connection goes back to the pool in the middle of handling the chunk that ends a result
// (its ReadyForQuery). When the client is slow, the end of that result is still waiting in the proxy's
// write queue for the client's socket, pointing into the connection's read buffer. The next client
// served by the same connection must not have its answer read into those bytes: the slow client has
// to receive exactly what Postgres sent it.
import t from 'tap';
import { DATABASE, startProxyFixture, USERS } from '../helpers/proxy-fixture.js';
import { RawClient, dataRowValues, query } from '../helpers/raw-client.js';

const ROWS = 60_000;
/** Row i is `i:` followed by md5(i) repeated: checkable row by row. */
const SLOW_QUERY = `SELECT i || ':' || repeat(md5(i::text), 8) FROM generate_series(1, ${ROWS}) i`;

const fx = await startProxyFixture(t, {
  // One server connection, so the next client is served by the one the slow client just released; a
  // write buffer big enough that the proxy reads the whole result without waiting for the client.
  pool: { sizeMax: 1 },
  limits: { writeBufferBytesMax: 256 * 1024 * 1024 },
});

void t.test('a slow client whose result ends while its writes are queued gets every byte intact', async (t) => {
  const slow = await RawClient.connect(fx.port);
  t.teardown(() => slow.socket.destroy());
  await slow.login('app', DATABASE, USERS.app.password);
  const fast = await RawClient.connect(fx.port);
  t.teardown(() => fast.socket.destroy());
  await fast.login('app', DATABASE, USERS.app.password);

  // The slow client stops reading: the kernel buffers fill and the rest queues in the proxy.
  slow.socket.pause();
  slow.write(query(SLOW_QUERY));
  // The fast client's query can only run once the slow client's result has ended and its server
  // connection is back in the pool; its answer is read into whatever buffer the connection reads into.
  fast.write(query(`SELECT repeat('Z', 60000) AS filler`));
  const fastMessages = await fast.readUntil('Z', 30_000);
  t.equal(fastMessages.filter((m) => m.type === 'D').length, 1, 'the fast client got its row');
  fast.write(query(`SELECT repeat('Y', 60000) AS filler`));
  await fast.readUntil('Z', 30_000);

  slow.socket.resume();
  let rows = 0;
  let bad = 0;
  let firstBad = '';
  for (;;) {
    let m;
    try {
      m = await slow.readMessage(10_000);
    } catch (err) {
      t.fail(`after ${rows} rows: ${(err as Error).message}; ${slow.buffered} bytes buffered`);
      break;
    }
    if (m.type === 'D') {
      rows++;
      const v = dataRowValues(m.body)[0] ?? '';
      const [n, rest] = v.split(':');
      const ok = Number(n) === rows && rest !== undefined && rest.length === 256 && /^[0-9a-f]+$/.test(rest) && rest === rest.slice(0, 32).repeat(8);
      if (!ok) {
        bad++;
        if (firstBad === '') firstBad = `row ${rows}: ${v.slice(0, 60)}`;
      }
    } else if (m.type === 'Z') {
      break;
    } else if (m.type !== 'T' && m.type !== 'C') {
      t.fail(`unexpected message ${m.type}`);
      break;
    }
  }
  t.equal(rows, ROWS, 'every row arrived');
  t.equal(bad, 0, `every row intact${firstBad === '' ? '' : ` (first bad ${firstBad})`}`);
});
