import t from 'tap';
import { ShardChannel } from '../../../proxy/executor/shard-channel.js';
import type { ServerConnection } from '../../../proxy/backend/server-connection.js';
import { ProxyError } from '../../../proxy/errors.js';

/** The part of a server connection a channel uses: its listener slot and writes. */
function fakeConnection(): { conn: ServerConnection; written: Buffer[] } {
  const written: Buffer[] = [];
  const conn = { listener: null, write: (b: Buffer) => written.push(b) > 0 } as unknown as ServerConnection;
  return { conn, written };
}

const frame = (type: string, body: number[] = []): Buffer => {
  const b = Buffer.alloc(5 + body.length);
  b.write(type, 0, 'latin1');
  b.writeInt32BE(4 + body.length, 1);
  Buffer.from(body).copy(b, 5);
  return b;
};

void t.test('a request resolves at ReadyForQuery, and its sink still sees the end of that last chunk', async (t) => {
  const { conn, written } = fakeConnection();
  const channel = new ShardChannel(3, conn);
  t.equal(conn.listener, channel);
  const seen: string[] = [];
  const done = channel.request([frame('Q', [0x31, 0])], {
    onFrame(type) {
      seen.push(String.fromCharCode(type));
    },
    onChunkEnd() {
      seen.push('|');
      return false;
    },
  });
  t.equal(written.length, 1, 'the request is written');
  // One chunk holds the whole answer, ReadyForQuery included: the sink must hear about its end, or a
  // merge waiting on that chunk (paused shards, rows to drain) would never move again.
  for (const f of [frame('T'), frame('D'), frame('C'), frame('Z', [0x49])]) channel.onBackendFrame(f[0]!, f, 0, f.length);
  channel.onBackendChunkEnd();
  await done;
  t.strictSame(seen, ['T', 'D', 'C', 'Z', '|']);
  // Between requests, frames (a notice) and chunk ends reach no sink.
  const n = frame('N');
  channel.onBackendFrame(n[0]!, n, 0, n.length);
  t.equal(channel.onBackendChunkEnd(), false);
  t.strictSame(seen, ['T', 'D', 'C', 'Z', '|']);
});

void t.test('a lost connection rejects the request and every later one', async (t) => {
  const { conn } = fakeConnection();
  const channel = new ShardChannel(0, conn);
  const pending = channel.request([frame('Q', [0])], { onFrame() {} });
  channel.onBackendClosed(conn, ProxyError.backendLost('shard0'));
  await t.rejects(pending, { name: 'ProxyError', sqlstate: '08006', message: /shard0/ });
  await t.rejects(channel.request([frame('Q', [0])], { onFrame() {} }), { name: 'ProxyError', sqlstate: '08006', message: /shard0/ });
  channel.detach();
  t.equal(conn.listener, null, 'detach frees the listener slot');
  const other = { onBackendFrame() {}, onBackendChunkEnd: () => false, onBackendClosed() {}, onBackendDrain() {} };
  conn.listener = other;
  channel.detach();
  t.equal(conn.listener, other, 'but never a slot someone else holds now');
});
