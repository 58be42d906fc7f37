// Back-pressure: a client that reads a large result slowly must make pgshard stop reading from
// Postgres instead of buffering the result in its own memory. The proxy runs in a child process whose
// resident memory (VmRSS) is sampled every 100 ms while a raw client reads a 10-million-row result
// (~410 MB of DataRows) at a throttled rate, with a full stall in the middle.
import pg from 'pg';
import t from 'tap';
import { sleep, startTestCluster } from '../helpers/proxy-fixture.js';
import { startProxyProcess } from '../helpers/proxy-process.js';
import { RawClient, errorFields, query, rowsOf } from '../helpers/raw-client.js';

const ROWS = 10_000_000;
const ROW_BYTES = 30;
/** What the slow reader accepts per second. */
const READ_BYTES_PER_S = 32 * 1024 * 1024;
const RSS_LIMIT_BYTES = 200 * 1024 * 1024;
const QUERY = `SELECT repeat('x', ${ROW_BYTES}) FROM generate_series(1, ${ROWS})`;

const cluster = await startTestCluster(t);
const px = await startProxyProcess(t, cluster);

/** Counts the frames of a backend message stream without keeping DataRow bodies. */
class FrameCounter {
  rows = 0;
  badRows = 0;
  bytes = 0;
  tag: string | null = null;
  error: Map<string, string> | null = null;
  ready = false;
  private header = Buffer.alloc(0);
  private type = 0;
  private remaining = 0;
  private body: Buffer[] = [];

  push(chunk: Buffer): void {
    this.bytes += chunk.length;
    let off = 0;
    while (off < chunk.length) {
      if (this.remaining === 0 && this.type === 0) {
        const need = 5 - this.header.length;
        const take = Math.min(need, chunk.length - off);
        this.header = Buffer.concat([this.header, chunk.subarray(off, off + take)]);
        off += take;
        if (this.header.length < 5) return;
        this.type = this.header[0]!;
        this.remaining = this.header.readInt32BE(1) - 4;
        this.header = Buffer.alloc(0);
        if (this.type === 0x44 /* D */ && this.remaining !== 2 + 4 + ROW_BYTES) this.badRows++;
      }
      const take = Math.min(this.remaining, chunk.length - off);
      if (this.type !== 0x44) this.body.push(chunk.subarray(off, off + take));
      this.remaining -= take;
      off += take;
      if (this.remaining === 0) this.finish();
    }
  }

  private finish(): void {
    const body = Buffer.concat(this.body);
    this.body = [];
    switch (String.fromCharCode(this.type)) {
      case 'D':
        this.rows++;
        break;
      case 'C':
        this.tag = body.toString('utf8', 0, body.length - 1);
        break;
      case 'E':
        this.error = errorFields(body);
        break;
      case 'Z':
        this.ready = true;
        break;
      default:
        break;
    }
    this.type = 0;
  }
}

void t.test(`a slow reader of ${ROWS} rows x ${ROW_BYTES} bytes: bounded proxy memory, every row arrives`, async (t) => {
  const client = await RawClient.connect(px.port);
  t.teardown(() => client.destroy());
  await client.login('trustuser', 'appdb');
  const baseline = px.rssBytes() ?? 0;
  t.comment(`proxy RSS before the query: ${(baseline / 1e6).toFixed(1)} MB`);

  // Another client keeps querying meanwhile: the proxy must stay responsive.
  const other = new pg.Client({ ...px.clientConfig('app'), query_timeout: 10_000 });
  other.on('error', () => undefined);
  await other.connect();
  t.teardown(() => other.end().catch(() => undefined));

  const counter = new FrameCounter();
  const socket = client.socket;
  counter.push(client.takeOverReading());
  let windowBytes = 0;
  let stalledUntil = 0;
  let stalled = false;
  const budget = READ_BYTES_PER_S / 10;
  socket.on('data', (chunk: Buffer) => {
    counter.push(chunk);
    windowBytes += chunk.length;
    if (windowBytes >= budget) socket.pause();
  });
  let maxRss = baseline;
  const samples: number[] = [];
  const tick = setInterval(() => {
    const rss = px.rssBytes();
    if (rss !== null) {
      samples.push(rss);
      maxRss = Math.max(maxRss, rss);
    }
    // Stop reading completely for 3 s once a third of the rows has arrived.
    if (!stalled && counter.rows > ROWS / 3) {
      stalled = true;
      stalledUntil = Date.now() + 3000;
    }
    windowBytes = 0;
    if (Date.now() >= stalledUntil && !counter.ready) socket.resume();
    else socket.pause();
  }, 100);
  t.teardown(() => clearInterval(tick));

  let maxLatency = 0;
  let otherQueries = 0;
  const otherLoop = (async () => {
    while (!counter.ready && !socket.destroyed) {
      const started = Date.now();
      const res = await other.query<{ v: number }>('SELECT $1::int AS v', [otherQueries]);
      if (res.rows[0]?.v !== otherQueries) throw new Error('wrong answer to the other client');
      maxLatency = Math.max(maxLatency, Date.now() - started);
      otherQueries++;
      await sleep(250);
    }
  })();

  const started = Date.now();
  socket.write(query(QUERY));
  const deadline = Date.now() + 90_000;
  while (!counter.ready && !socket.destroyed && Date.now() < deadline && px.alive()) await sleep(50);
  clearInterval(tick);
  await otherLoop;
  const seconds = (Date.now() - started) / 1000;

  t.comment(`read ${(counter.bytes / 1e6).toFixed(0)} MB in ${seconds.toFixed(1)} s; proxy RSS max ${(maxRss / 1e6).toFixed(1)} MB over ${samples.length} samples`);
  t.ok(px.alive(), 'the proxy process is alive');
  t.equal(counter.error, null, 'no error');
  t.ok(counter.ready, 'ReadyForQuery arrived');
  t.equal(counter.rows, ROWS, 'every DataRow arrived');
  t.equal(counter.badRows, 0, 'every DataRow has the expected size');
  t.equal(counter.tag, `SELECT ${ROWS}`, 'CommandComplete');
  t.ok(seconds > (ROWS * ROW_BYTES) / READ_BYTES_PER_S * 0.8, 'the reader really was slow (the throttle worked)');
  t.ok(samples.length > 50, `memory sampled ${samples.length} times`);
  t.ok(maxRss < RSS_LIMIT_BYTES, `proxy RSS stayed under ${RSS_LIMIT_BYTES / 1024 / 1024} MiB (max ${(maxRss / 1024 / 1024).toFixed(1)} MiB)`);
  t.ok(otherQueries > 10 && maxLatency < 2000, `another client was served meanwhile (${otherQueries} queries, max ${maxLatency} ms)`);

  // The same client goes on with an ordinary query.
  client.resumeReading();
  t.same(rowsOf(await client.simpleQuery('SELECT 1')), [['1']], 'the slow client runs another query afterwards');
});

void t.test('a client that stops reading and then disconnects mid-result', async (t) => {
  const client = await RawClient.connect(px.port);
  t.teardown(() => client.destroy());
  await client.login('trustuser', 'appdb');
  client.takeOverReading();
  client.socket.pause();
  client.socket.write(query(QUERY));
  let maxRss = 0;
  for (let i = 0; i < 30; i++) {
    await sleep(100);
    maxRss = Math.max(maxRss, px.rssBytes() ?? 0);
  }
  t.ok(maxRss < RSS_LIMIT_BYTES, `a stalled reader does not grow the proxy (max ${(maxRss / 1024 / 1024).toFixed(1)} MiB)`);
  client.destroy();
  // The abandoned server connection is dropped, not lent to the next client mid-result.
  const next = new pg.Client({ ...px.clientConfig('trustuser'), query_timeout: 10_000 });
  next.on('error', () => undefined);
  await next.connect();
  t.teardown(() => next.end().catch(() => undefined));
  for (let i = 0; i < 5; i++) {
    const started = Date.now();
    t.same((await next.query('SELECT $1::int AS v', [i])).rows, [{ v: i }], 'a new client gets clean answers');
    t.ok(Date.now() - started < 1000, 'promptly');
  }
  t.ok(px.alive(), 'the proxy process is alive');
});
