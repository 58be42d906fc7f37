// Bounds-checked primitives for reading and writing PostgreSQL wire fields: the typed-frame header,
// C strings, and the length checks every decoder makes against a frame's `end`. Shared by the
// decoders (client-messages.ts, backend-messages.ts), the encoders (server-messages.ts, rewrite.ts)
// and the ErrorResponse writer (../errors.ts). Knows field layout only, never what a message means:
// callers name the message and the field for the error text, and decide what to read in what order.
// Module-level functions taking plain arguments (no reader object, no closures), because they run
// for every frame on the hot path: a call allocates nothing but the error it throws.
// errors.ts imports the writers and this file imports ProxyError; neither uses the other while
// loading, so the import cycle is harmless.
// Reference: https://www.postgresql.org/docs/15/protocol-message-types.html

import { ProxyError } from '../errors.js';

/** Offset of the body of a typed frame (type byte + Int32 length). */
export const BODY = 5;

/** A shared zero-length Buffer: it cannot be mutated, so sharing is safe (placeholders, "no data"). */
export const EMPTY_BUFFER: Buffer = Buffer.alloc(0);

// ---------------------------------------------------------------------------------------------
// Reading. Every check is against `end`, never buf.length: a frame usually sits inside a larger
// chunk. Failures are FATAL 08P01, as in Postgres.

/** Who sent the frame being read; a frame from a backend says so in the error text. */
export type Origin = 'client' | 'server';

/** The protocol violation for a malformed `message` frame ("Parse", "DataRow", ...). */
export function malformed(message: string, problem: string, origin: Origin = 'client'): ProxyError {
  return ProxyError.protocolViolation(
    origin === 'server' ? `invalid ${message} message from server: ${problem}` : `invalid ${message} message: ${problem}`,
  );
}

/** Index of the NUL ending the C string at pos; the NUL must lie before end. */
export function cstringEnd(buf: Buffer, pos: number, end: number, message: string, field: string, origin: Origin = 'client'): number {
  // indexOf may look past `end` (it is memchr over the whole chunk); a NUL there belongs to another frame.
  const nul = pos < end ? buf.indexOf(0, pos) : -1;
  if (nul < 0 || nul >= end) throw malformed(message, `${field} is not NUL-terminated`, origin);
  return nul;
}

/** Throws unless `bytes` bytes from pos lie before end. */
export function need(pos: number, bytes: number, end: number, message: string, field: string, origin: Origin = 'client'): void {
  if (pos + bytes > end) throw malformed(message, `truncated ${field}`, origin);
}

/** Throws unless reading stopped exactly at the frame's end. */
export function expectEnd(pos: number, end: number, message: string, origin: Origin = 'client'): void {
  if (pos !== end) throw malformed(message, pos < end ? `${end - pos} unexpected trailing bytes` : 'truncated', origin);
}

// ---------------------------------------------------------------------------------------------
// Writing. The caller sizes a frame exactly, gets it from frameOf, then fills it.

/**
 * Bytes value takes as a C string, its NUL included. An embedded NUL would silently cut the field
 * short on the receiving side, so it is refused (a bug in the caller: XX000 naming `what`).
 */
export function cstringBytes(value: string, what: string): number {
  if (value.includes('\0')) throw ProxyError.internal(`${what} contains a NUL character`);
  return Buffer.byteLength(value, 'utf8') + 1;
}

/** Writes value plus its NUL at pos; returns the offset after the NUL. The frame must have room. */
export function putCString(frame: Buffer, value: string, pos: number): number {
  const n = frame.write(value, pos, 'utf8');
  frame[pos + n] = 0;
  return pos + n + 1;
}

/**
 * A typed frame with its type byte and Int32 length filled in. The memory is not zeroed: the caller
 * must write exactly bodyLength bytes from BODY.
 */
export function frameOf(type: number, bodyLength: number): Buffer {
  const frame = Buffer.allocUnsafe(BODY + bodyLength);
  frame[0] = type;
  frame.writeInt32BE(4 + bodyLength, 1);
  return frame;
}
