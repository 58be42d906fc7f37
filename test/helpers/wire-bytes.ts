// Hand-built PostgreSQL wire bytes for the protocol unit tests. Written from the protocol
// documentation with plain Buffer calls and deliberately independent of proxy/protocol (nothing is
// imported from there), so a bug in the code under test cannot hide itself in the expected bytes.
// Reference: https://www.postgresql.org/docs/15/protocol-message-formats.html

export function i16(n: number): Buffer {
  const b = Buffer.alloc(2);
  b.writeInt16BE(n);
  return b;
}
export function i32(n: number): Buffer {
  const b = Buffer.alloc(4);
  b.writeInt32BE(n);
  return b;
}
export function u32(n: number): Buffer {
  const b = Buffer.alloc(4);
  b.writeUInt32BE(n);
  return b;
}
export function cstr(s: string): Buffer {
  return Buffer.from(s + '\0', 'utf8');
}
/** A typed frame: type byte, Int32 length (itself included), then the parts. */
export function typed(type: string, ...parts: Buffer[]): Buffer {
  const body = Buffer.concat(parts);
  return Buffer.concat([Buffer.from(type, 'latin1'), i32(body.length + 4), body]);
}
/** A startup-phase packet: Int32 length (itself included), no type byte. */
export function startup(...parts: Buffer[]): Buffer {
  const body = Buffer.concat(parts);
  return Buffer.concat([i32(body.length + 4), body]);
}

export interface Embedded {
  buf: Buffer;
  start: number;
  end: number;
}

const BEFORE = Buffer.from('junk-before', 'latin1');
// After the frame: NULs (a C string read past `end` finds a terminator there) and bytes a decoder
// reading past `end` could take for valid ones: Describe/Close targets 'S', 'P' after a frontend
// frame, ReadyForQuery statuses 'I', 'T' after a backend frame.
const AFTER_FRONTEND = Buffer.from([0, 0, 0, 0, 0x53, 0x50, 0, 0xff, 0xff, 0xff, 0xff, 0, 0, 0, 0x10, 0]);
const AFTER_BACKEND = Buffer.from([0, 0, 0, 0, 0x49, 0x54, 0, 0xff, 0xff, 0xff, 0xff, 0, 0, 0, 0x10, 0]);

function embedBetween(frame: Buffer, after: Buffer): Embedded {
  return { buf: Buffer.concat([BEFORE, frame, after]), start: BEFORE.length, end: BEFORE.length + frame.length };
}

/** A frontend (client → server) frame inside a bigger buffer, as FrameReader hands frames out. */
export function embedFrontendFrame(frame: Buffer): Embedded {
  return embedBetween(frame, AFTER_FRONTEND);
}

/** A backend (server → client) frame inside a bigger buffer, as FrameReader hands frames out. */
export function embedBackendFrame(frame: Buffer): Embedded {
  return embedBetween(frame, AFTER_BACKEND);
}
