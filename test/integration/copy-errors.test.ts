// A COPY FROM that the server rejects midway: the client gets the server's error, can go on, and the
// server connection goes back to the pool (it must not stay tied to a client that is no longer copying).
import t from 'tap';
import pg from 'pg';
import { from as copyFrom } from 'pg-copy-streams';
import { startProxyFixture } from '../helpers/proxy-fixture.js';

const fx = await startProxyFixture(t);

void t.test('COPY FROM with bad data: 22P02, then the session and the pool carry on', async (t) => {
  const c = new pg.Client(fx.clientConfig('app'));
  await c.connect();
  t.teardown(() => c.end());
  await c.query('create table copy_err (a int)');
  const stream = c.query(copyFrom('copy copy_err from stdin'));
  const outcome = new Promise<string>((resolve) => {
    stream.on('error', (e: Error & { code?: string }) => resolve(e.code ?? e.message));
    stream.on('finish', () => resolve('finished'));
  });
  stream.write('1\nnot-a-number\n');
  for (let i = 0; i < 2000; i++) stream.write(`${i}\n`);
  stream.end();
  t.equal(await outcome, '22P02', "the server's error reaches the client");
  t.strictSame((await c.query('select count(*)::int as n from copy_err')).rows, [{ n: 0 }], 'nothing was copied');
  const pools = fx.proxy.context.admin.pools().map((p) => p.stats());
  t.equal(pools.reduce((n, p) => n + p.active, 0), 0, 'no server connection is held after the failed COPY');
});
