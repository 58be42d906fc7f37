// The write coalescer: ranges of one chunk merge into one part, small parts are written as one buffer,
// large ones through cork/writev, and nothing gathered before a flush is written twice or left behind.

import t from 'tap';
import { Writable } from 'node:stream';
import { WriteCoalescer } from '../../../proxy/session/write-coalescer.js';

/** A Writable that records each write call (buffers as written, in order). */
function recorder(): { out: Writable; writes: Buffer[][] } {
  const writes: Buffer[][] = [];
  const out = new Writable({
    write(chunk: Buffer, _enc, cb) {
      writes.push([chunk]);
      cb();
    },
    writev(chunks, cb) {
      writes.push(chunks.map((c) => c.chunk as Buffer));
      cb();
    },
  });
  return { out, writes };
}

const bytes = (n: number, fill: number): Buffer => Buffer.alloc(n, fill);
const joined = (writes: Buffer[][]): Buffer => Buffer.concat(writes.flat());

void t.test('consecutive ranges of one chunk are one write of one subarray', (t) => {
  const chunk = Buffer.from('abcdefghij');
  const c = new WriteCoalescer();
  c.addRange(chunk, 1, 3);
  c.addRange(chunk, 3, 6);
  c.addRange(chunk, 6, 9);
  t.equal(c.pendingBytes, 8);
  const { out, writes } = recorder();
  t.equal(c.flushTo(out), true);
  t.equal(writes.length, 1);
  t.equal(writes[0]!.length, 1);
  t.equal(writes[0]![0]!.toString(), 'bcdefghi');
  chunk.write('BCDEFGHI', 1);
  t.equal(writes[0]![0]!.toString(), 'BCDEFGHI', 'a view of the chunk, not a copy');
  t.ok(c.isEmpty());
  t.equal(c.pendingBytes, 0);
  t.end();
});

void t.test('small parts are copied into one buffer and written once, in order', (t) => {
  const chunk = Buffer.from('0123456789');
  const c = new WriteCoalescer();
  c.addRange(chunk, 0, 2);
  c.addBuffer(Buffer.from('XY'));
  c.addRange(chunk, 2, 5);
  c.addRange(chunk, 7, 10); // not adjacent: a new range
  const { out, writes } = recorder();
  c.flushTo(out);
  t.equal(writes.length, 1);
  t.equal(writes[0]!.length, 1);
  t.equal(writes[0]![0]!.toString(), '01XY234789');
  chunk.fill(0x2d); // the next read reuses the chunk: what was written must not change with it
  t.equal(writes[0]![0]!.toString(), '01XY234789', 'a copy, not views of the chunk');
  t.end();
});

void t.test('large parts are written without copying them', (t) => {
  const big = bytes(64 * 1024, 7);
  const c = new WriteCoalescer();
  c.addBuffer(Buffer.from('head'));
  c.addRange(big, 0, big.length);
  c.addBuffer(Buffer.from('tail'));
  const { out, writes } = recorder();
  c.flushTo(out);
  const all = writes.flat();
  t.equal(joined(writes).length, 4 + big.length + 4);
  t.ok(all.some((b) => b.buffer === big.buffer && b.length === big.length), 'the large range goes out as a view');
  t.equal(joined(writes).subarray(0, 4).toString(), 'head');
  t.equal(joined(writes).subarray(-4).toString(), 'tail');
  t.end();
});

void t.test('each flush writes only what was gathered since the previous one', (t) => {
  const c = new WriteCoalescer();
  const { out, writes } = recorder();
  for (let round = 0; round < 5; round++) {
    for (let i = 0; i <= round; i++) c.addBuffer(Buffer.from(`${round}${i}`));
    c.flushTo(out);
  }
  t.same(
    writes.map((w) => Buffer.concat(w).toString()),
    ['00', '1011', '202122', '30313233', '4041424344'],
  );
  t.equal(c.flushTo(out), true, 'an empty flush writes nothing');
  t.equal(writes.length, 5);
  t.end();
});

void t.test('clear() drops everything gathered', (t) => {
  const chunk = Buffer.from('abc');
  const c = new WriteCoalescer();
  c.addBuffer(Buffer.from('x'));
  c.addRange(chunk, 0, 3);
  c.clear();
  t.ok(c.isEmpty());
  t.equal(c.pendingBytes, 0);
  const { out, writes } = recorder();
  c.addBuffer(Buffer.from('y'));
  c.flushTo(out);
  t.same(writes.map((w) => Buffer.concat(w).toString()), ['y']);
  t.end();
});
