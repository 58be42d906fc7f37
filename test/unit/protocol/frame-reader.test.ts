// FrameReader must deliver the same frames however the byte stream is cut into chunks, copy only
// frames that straddle chunks, and reject bad lengths with 08P01. Expected frames are assembled
// here by hand, independently of the encoders under test.

import t from 'tap';
import { FrameReader, STARTUP_FRAME_BYTES_MAX, type FrameHandler } from '../../../proxy/protocol/frame-reader.js';

const FRAME_MAX = 1 << 20;

function int32(n: number): Buffer {
  const b = Buffer.alloc(4);
  b.writeInt32BE(n);
  return b;
}

function typed(type: string, body: Buffer | string = Buffer.alloc(0)): Buffer {
  const b = typeof body === 'string' ? Buffer.from(body, 'utf8') : body;
  return Buffer.concat([Buffer.from(type, 'latin1'), int32(b.length + 4), b]);
}

function untyped(body: Buffer): Buffer {
  return Buffer.concat([int32(body.length + 4), body]);
}

interface Expected {
  type: number;
  bytes: Buffer;
}

// Deterministic pseudo-random bytes so failures reproduce.
function pseudoRandom(n: number, seed: number): Buffer {
  const b = Buffer.alloc(n);
  let x = seed >>> 0;
  for (let i = 0; i < n; i++) {
    x = (Math.imul(x, 1664525) + 1013904223) >>> 0;
    b[i] = x >>> 24;
  }
  return b;
}

const startupPacket = untyped(
  Buffer.concat([int32(196608), Buffer.from('user\0alice\0database\0shop\0application_name\0psql\0\0', 'latin1')]),
);
const bigBody = pseudoRandom(100 * 1024, 42);
const expected: Expected[] = [
  { type: 0, bytes: startupPacket },
  { type: 0x51, bytes: typed('Q', 'SELECT 1\0') },
  { type: 0x53, bytes: typed('S') }, // empty body
  { type: 0x50, bytes: typed('P', Buffer.from('s1\0SELECT $1::int\0\x00\x01\x00\x00\x00\x17', 'latin1')) },
  { type: 0x42, bytes: typed('B', Buffer.from('\0s1\0\x00\x00\x00\x01\x00\x00\x00\x0242\x00\x00', 'latin1')) },
  { type: 0x64, bytes: typed('d', bigBody) }, // 100 KB
  { type: 0x45, bytes: typed('E', Buffer.from('\0\x00\x00\x00\x00', 'latin1')) },
  { type: 0x48, bytes: typed('H') },
  { type: 0x51, bytes: typed('Q', "SELECT 'héllo ✓ 😀'\0") },
  { type: 0x63, bytes: typed('c') },
  { type: 0x70, bytes: typed('p', 'secret\0') },
  { type: 0x58, bytes: typed('X') },
];
const stream = Buffer.concat(expected.map((e) => e.bytes));

/** Offsets where each frame starts (plus the stream end). */
const boundaries: number[] = [];
{
  let off = 0;
  for (const e of expected) {
    boundaries.push(off);
    off += e.bytes.length;
  }
  boundaries.push(off);
}

interface Got {
  type: number;
  buf: Buffer;
  start: number;
  end: number;
}

/** Feeds chunks to a reader that leaves startup mode after the first frame, as a session does. */
function run(chunks: Buffer[]): Got[] {
  const reader = new FrameReader(FRAME_MAX, true);
  const got: Got[] = [];
  const handler: FrameHandler = {
    onFrame(type, buf, start, end) {
      got.push({ type, buf, start, end });
      reader.startupMode = false;
    },
  };
  for (const c of chunks) reader.push(c, handler);
  if (reader.hasBufferedBytes()) throw new Error('bytes left buffered after the whole stream');
  return got;
}

/** null when got matches expected exactly, else a description of the first difference. */
function mismatch(got: Got[]): string | null {
  if (got.length !== expected.length) return `got ${got.length} frames, expected ${expected.length}`;
  for (let i = 0; i < expected.length; i++) {
    const g = got[i]!;
    const e = expected[i]!;
    if (g.type !== e.type) return `frame ${i}: type ${g.type}, expected ${e.type}`;
    if (g.end - g.start !== e.bytes.length) return `frame ${i}: ${g.end - g.start} bytes, expected ${e.bytes.length}`;
    if (!g.buf.subarray(g.start, g.end).equals(e.bytes)) return `frame ${i}: bytes differ`;
  }
  return null;
}

void t.test('the whole stream as one chunk', async (t) => {
  const got = run([stream]);
  t.equal(mismatch(got), null);
  t.equal(got.length, 12);
  t.ok(
    got.every((g) => g.buf === stream),
    'frames wholly inside the chunk are delivered as offsets into it, not copies',
  );
  t.equal(got[0]!.type, 0, 'startup frame has type 0');
  t.equal(got[2]!.end - got[2]!.start, 5, 'empty-body frame is 5 bytes');
});

void t.test('two chunks, split at every byte offset', async (t) => {
  const failures: string[] = [];
  for (let i = 0; i <= stream.length; i++) {
    const m = mismatch(run([stream.subarray(0, i), stream.subarray(i)]));
    if (m !== null) failures.push(`split at ${i}: ${m}`);
  }
  t.same(failures.slice(0, 5), [], `all ${stream.length + 1} splits give the same frames`);
  t.equal(failures.length, 0);
});

void t.test('one-byte chunks', async (t) => {
  const chunks: Buffer[] = [];
  for (let i = 0; i < stream.length; i++) chunks.push(stream.subarray(i, i + 1));
  const got = run(chunks);
  t.equal(mismatch(got), null);
  t.ok(
    got.every((g) => g.start === 0 && g.end === g.buf.length),
    'every frame that spans chunks is assembled into a buffer of its own',
  );
});

void t.test('three chunks at a sample of offsets', async (t) => {
  const sample = new Set<number>();
  for (const b of boundaries) for (const d of [-1, 0, 1, 2, 4, 5, 6]) sample.add(b + d);
  for (let i = 0; i < 40; i++) sample.add(Math.floor((i * 7919 * 13) % stream.length));
  const offsets = [...sample].filter((o) => o >= 0 && o <= stream.length).sort((a, b) => a - b);
  let cases = 0;
  const failures: string[] = [];
  for (let a = 0; a < offsets.length; a++) {
    for (let b = a; b < offsets.length; b++) {
      const i = offsets[a]!;
      const j = offsets[b]!;
      cases++;
      const m = mismatch(run([stream.subarray(0, i), stream.subarray(i, j), stream.subarray(j)]));
      if (m !== null) failures.push(`splits at ${i},${j}: ${m}`);
    }
  }
  t.ok(cases > 1000, `${cases} three-way splits tried`);
  t.same(failures.slice(0, 5), []);
  t.equal(failures.length, 0);
});

void t.test('random chunk sizes', async (t) => {
  const sizes = pseudoRandom(4096, 7);
  const failures: string[] = [];
  for (let round = 0; round < 50; round++) {
    const chunks: Buffer[] = [];
    let off = 0;
    let k = round * 37;
    while (off < stream.length) {
      // Mostly small chunks, occasionally big ones, so headers and bodies straddle in every way.
      const s = sizes[k++ % sizes.length]!;
      const n = s < 200 ? (s % 11) + 1 : s * 97;
      chunks.push(stream.subarray(off, off + n));
      off += n;
    }
    const m = mismatch(run(chunks));
    if (m !== null) failures.push(`round ${round}: ${m}`);
  }
  t.same(failures, []);
});

void t.test('frames that fit in one chunk are not copied even after a straddling frame', async (t) => {
  // Split inside the 'P' frame: it must be assembled, while the frames after it in chunk 2 are views.
  const splitAt = boundaries[3]! + 3;
  const second = stream.subarray(splitAt);
  const got = run([stream.subarray(0, splitAt), second]);
  t.equal(mismatch(got), null);
  t.not(got[3]!.buf, second, 'the straddling frame is assembled');
  t.equal(got[3]!.start, 0);
  for (let i = 4; i < got.length; i++) t.equal(got[i]!.buf, second, `frame ${i} is a view into the chunk`);
});

/** What t.throws must see for a protocol violation. */
function violation(message: RegExp) {
  return { name: 'ProxyError', sqlstate: '08P01', severity: 'FATAL', message };
}

const ignore: FrameHandler = { onFrame() {} };

void t.test('size limits', async (t) => {
  const ok: number[] = [];
  const collect: FrameHandler = { onFrame: (_type, _buf, start, end) => void ok.push(end - start) };

  // Exactly at the limit is accepted.
  new FrameReader(1000).push(typed('d', Buffer.alloc(996)), collect);
  t.same(ok, [1001], 'a frame whose length field equals the limit is accepted');

  t.throws(() => new FrameReader(1000).push(typed('d', Buffer.alloc(997)), ignore), violation(/'d'.*1001 bytes exceeds the limit of 1000/), 'oversized frame');
  // Only the header is needed to refuse: the body never has to arrive.
  t.throws(() => new FrameReader(1000).push(Buffer.concat([Buffer.from('Q'), int32(2_000_000_000)]), ignore),
    violation(/exceeds the limit/),
    'oversized frame refused from its header alone',
  );
  t.throws(() => new FrameReader(1000).push(Buffer.concat([Buffer.from('Q'), int32(3)]), ignore), violation(/invalid message length 3/), 'length 3');
  t.throws(() => new FrameReader(1000).push(Buffer.concat([Buffer.from('Q'), int32(0)]), ignore), violation(/invalid message length 0/), 'length 0');
  t.throws(() => new FrameReader(1000).push(Buffer.concat([Buffer.from('Q'), int32(-1)]), ignore), violation(/invalid message length -1/), 'negative length');
  t.throws(() => new FrameReader(1000, true).push(int32(2), ignore), violation(/invalid message length 2/), 'startup length 2');

  // Header split across chunks: the error comes when the header completes.
  const r = new FrameReader(1000);
  r.push(Buffer.from([0x51, 0x00]), ignore);
  t.equal(r.hasBufferedBytes(), true);
  t.throws(() => r.push(Buffer.from([0x00, 0x10, 0x00]), ignore), violation(/exceeds the limit/), 'oversized header split across chunks');

  // Startup packets are capped at Postgres's 10000 bytes even when the frame limit is larger.
  t.equal(STARTUP_FRAME_BYTES_MAX, 10000);
  const atCap = untyped(Buffer.alloc(STARTUP_FRAME_BYTES_MAX - 4));
  ok.length = 0;
  new FrameReader(FRAME_MAX, true).push(atCap, collect);
  t.same(ok, [10000], 'a 10000-byte startup packet is accepted');
  t.throws(() => new FrameReader(FRAME_MAX, true).push(untyped(Buffer.alloc(STARTUP_FRAME_BYTES_MAX - 3)), ignore),
    violation(/startup packet of 10001 bytes exceeds the limit of 10000/),
    'startup packet over 10000 bytes',
  );
  t.throws(() => new FrameReader(500, true).push(untyped(Buffer.alloc(600)), ignore),
    violation(/startup packet of 604 bytes exceeds the limit of 500/),
    'startup packet over a smaller frame limit',
  );
  // The same length is fine once out of startup mode, when the frame limit allows it.
  ok.length = 0;
  new FrameReader(FRAME_MAX).push(typed('d', Buffer.alloc(20000)), collect);
  t.same(ok, [20005]);
});

void t.test('hasBufferedBytes', async (t) => {
  const frames: number[] = [];
  const collect: FrameHandler = { onFrame: (type) => void frames.push(type) };
  const r = new FrameReader(FRAME_MAX);
  t.equal(r.hasBufferedBytes(), false, 'fresh reader');
  r.push(Buffer.alloc(0), collect);
  t.equal(r.hasBufferedBytes(), false, 'after an empty chunk');
  const q = typed('Q', 'SELECT 1\0');
  r.push(q, collect);
  t.equal(r.hasBufferedBytes(), false, 'after whole frames');
  r.push(q.subarray(0, 3), collect);
  t.equal(r.hasBufferedBytes(), true, 'partial header');
  r.push(q.subarray(3, 5), collect);
  t.equal(r.hasBufferedBytes(), true, 'header complete, body missing');
  r.push(Buffer.alloc(0), collect);
  t.equal(r.hasBufferedBytes(), true, 'empty chunk changes nothing');
  r.push(q.subarray(5, 9), collect);
  t.equal(r.hasBufferedBytes(), true, 'partial body');
  r.push(q.subarray(9), collect);
  t.equal(r.hasBufferedBytes(), false, 'frame completed');
  t.same(frames, [0x51, 0x51]);

  // The case it exists for: bytes sent after SSLRequest before the proxy answered.
  const s = new FrameReader(FRAME_MAX, true);
  const startupFrames: number[] = [];
  const sslRequest = untyped(int32(80877103));
  s.push(Buffer.concat([sslRequest, Buffer.from([0x16, 0x03, 0x01])]), {
    onFrame(_type, _buf, start, end) {
      startupFrames.push(end - start);
    },
  });
  t.same(startupFrames, [8], 'the SSLRequest itself is delivered');
  t.equal(s.hasBufferedBytes(), true, 'trailing bytes are reported');
});
