// Encoders for the backend → frontend messages the proxy originates itself (authentication, the
// startup handshake, the admin console's result sets, extended-protocol acknowledgements it answers
// locally). Not here: ErrorResponse/NoticeResponse (proxy/errors.ts is their only producer) and
// anything a backend sent, which is forwarded as received, never re-encoded.
// Frames whose bytes never vary are built once at load time; callers must treat those Buffers as
// read-only because they are shared by every connection.
// Reference: https://www.postgresql.org/docs/15/protocol-message-formats.html

import { ProxyError } from '../errors.js';
import { cstringBytes, frameOf, putCString } from './wire.js';

/** The type OIDs the admin console uses for its columns. */
export const typeOids = {
  bool: 16,
  int8: 20,
  int4: 23,
  text: 25,
  float8: 701,
  timestamptz: 1184,
} as const;

export interface ColumnSpec {
  name: string;
  typeOid: number;
}

// ---------------------------------------------------------------------------------------------
// Helpers

function fixed(type: string, body: readonly number[] = []): Buffer {
  const frame = frameOf(type.charCodeAt(0), body.length);
  for (let i = 0; i < body.length; i++) frame[5 + i] = body[i]!;
  return frame;
}

function authFrame(code: number, data: Buffer | null): Buffer {
  const dataLength = data === null ? 0 : data.length;
  const frame = frameOf(0x52, 4 + dataLength);
  frame.writeInt32BE(code, 5);
  if (data !== null) data.copy(frame, 9);
  return frame;
}

// ---------------------------------------------------------------------------------------------
// Constant frames

/** Answers to SSLRequest/GSSENCRequest: a single byte, not a framed message. */
export const SSL_REFUSED: Buffer = Buffer.from('N', 'latin1');
export const SSL_ACCEPTED: Buffer = Buffer.from('S', 'latin1');

const AUTH_CODE_OK = 0;
const AUTH_CODE_CLEARTEXT = 3;
const AUTH_CODE_MD5 = 5;
const AUTH_CODE_SASL = 10;
const AUTH_CODE_SASL_CONTINUE = 11;
const AUTH_CODE_SASL_FINAL = 12;

export const AUTH_OK: Buffer = authFrame(AUTH_CODE_OK, null);
export const AUTH_CLEARTEXT: Buffer = authFrame(AUTH_CODE_CLEARTEXT, null);
export const PARSE_COMPLETE: Buffer = fixed('1');
export const BIND_COMPLETE: Buffer = fixed('2');
export const CLOSE_COMPLETE: Buffer = fixed('3');
export const NO_DATA: Buffer = fixed('n');
export const EMPTY_QUERY_RESPONSE: Buffer = fixed('I');
export const PORTAL_SUSPENDED: Buffer = fixed('s');
export const COPY_DONE: Buffer = fixed('c');
export const READY_IDLE: Buffer = fixed('Z', [0x49]);
export const READY_IN_TRANSACTION: Buffer = fixed('Z', [0x54]);
export const READY_FAILED: Buffer = fixed('Z', [0x45]);

/** ReadyForQuery for a transaction status; returns a shared constant, no allocation. */
export function readyForQuery(status: 'I' | 'T' | 'E'): Buffer {
  switch (status) {
    case 'I':
      return READY_IDLE;
    case 'T':
      return READY_IN_TRANSACTION;
    case 'E':
      return READY_FAILED;
  }
}

// ---------------------------------------------------------------------------------------------
// Authentication

/** AuthenticationMD5Password; the salt is exactly 4 bytes by protocol definition. */
export function authMd5(salt: Buffer): Buffer {
  if (salt.length !== 4) throw ProxyError.internal(`md5 salt must be 4 bytes, got ${salt.length}`);
  return authFrame(AUTH_CODE_MD5, salt);
}

/** AuthenticationSASL: the mechanism names, each NUL-terminated, then an empty name. */
export function authSasl(mechanisms: string[]): Buffer {
  let bodyLength = 4 + 1;
  for (const m of mechanisms) {
    if (m === '') throw ProxyError.internal('SASL mechanism name is empty');
    bodyLength += cstringBytes(m, 'SASL mechanism name');
  }
  const frame = frameOf(0x52, bodyLength);
  frame.writeInt32BE(AUTH_CODE_SASL, 5);
  let pos = 9;
  for (const m of mechanisms) pos = putCString(frame, m, pos);
  frame[pos] = 0;
  return frame;
}

export function authSaslContinue(data: Buffer): Buffer {
  return authFrame(AUTH_CODE_SASL_CONTINUE, data);
}

export function authSaslFinal(data: Buffer): Buffer {
  return authFrame(AUTH_CODE_SASL_FINAL, data);
}

// ---------------------------------------------------------------------------------------------
// Startup handshake

export function parameterStatus(name: string, value: string): Buffer {
  const nameBytes = cstringBytes(name, 'parameter name');
  const frame = frameOf(0x53, nameBytes + cstringBytes(value, 'parameter value'));
  putCString(frame, value, putCString(frame, name, 5));
  return frame;
}

/**
 * BackendKeyData. Accepts keys as signed or unsigned 32-bit numbers (same bits on the wire); the
 * decoders return them unsigned.
 */
export function backendKeyData(processId: number, secretKey: number): Buffer {
  const frame = frameOf(0x4b, 8);
  frame.writeUInt32BE(processId >>> 0, 5);
  frame.writeUInt32BE(secretKey >>> 0, 9);
  return frame;
}

/** NegotiateProtocolVersion: the newest minor version supported and the `_pq_.` options not recognised. */
export function negotiateProtocolVersion(newestMinor: number, unsupportedOptions: string[]): Buffer {
  let bodyLength = 8;
  for (const o of unsupportedOptions) bodyLength += cstringBytes(o, 'protocol option name');
  const frame = frameOf(0x76, bodyLength);
  frame.writeInt32BE(newestMinor, 5);
  frame.writeInt32BE(unsupportedOptions.length, 9);
  let pos = 13;
  for (const o of unsupportedOptions) pos = putCString(frame, o, pos);
  return frame;
}

// ---------------------------------------------------------------------------------------------
// Results

export function commandComplete(tag: string): Buffer {
  const frame = frameOf(0x43, cstringBytes(tag, 'command tag'));
  putCString(frame, tag, 5);
  return frame;
}

/**
 * pg_type.typlen, so a RowDescription reads exactly as Postgres would send it; -1 (varlena) for
 * types not listed. float8 and timestamptz are 8-byte pass-by-value types in pg_type.
 */
function typeSize(oid: number): number {
  switch (oid) {
    case typeOids.int8:
    case typeOids.float8:
    case typeOids.timestamptz:
      return 8;
    case typeOids.int4:
      return 4;
    case 21: // int2
      return 2;
    case typeOids.bool:
      return 1;
    default:
      return -1;
  }
}

/** Per-field bytes after the name: table oid, attnum, type oid, typlen, typmod, format. */
const FIELD_FIXED_BYTES = 4 + 2 + 4 + 2 + 4 + 2;

/** RowDescription for text-format columns not backed by a table (as for a computed SELECT list). */
export function rowDescription(columns: ColumnSpec[]): Buffer {
  if (columns.length > 0xffff) throw ProxyError.internal(`too many columns: ${columns.length}`);
  let bodyLength = 2;
  for (const c of columns) bodyLength += cstringBytes(c.name, 'column name') + FIELD_FIXED_BYTES;
  const frame = frameOf(0x54, bodyLength);
  frame.writeUInt16BE(columns.length, 5);
  let pos = 7;
  for (const c of columns) {
    pos = putCString(frame, c.name, pos);
    frame.writeInt32BE(0, pos); // table oid
    frame.writeInt16BE(0, pos + 4); // column attnum
    frame.writeUInt32BE(c.typeOid >>> 0, pos + 6);
    frame.writeInt16BE(typeSize(c.typeOid), pos + 10);
    frame.writeInt32BE(-1, pos + 12); // typmod
    frame.writeInt16BE(0, pos + 16); // text format
    pos += FIELD_FIXED_BYTES;
  }
  return frame;
}

/** DataRow of text values; null is SQL NULL (length -1). Values are length-prefixed, so NUL is allowed. */
export function dataRow(values: (string | null)[]): Buffer {
  if (values.length > 0xffff) throw ProxyError.internal(`too many columns: ${values.length}`);
  let bodyLength = 2;
  for (const v of values) bodyLength += v === null ? 4 : 4 + Buffer.byteLength(v, 'utf8');
  const frame = frameOf(0x44, bodyLength);
  frame.writeUInt16BE(values.length, 5);
  let pos = 7;
  for (const v of values) {
    if (v === null) {
      frame.writeInt32BE(-1, pos);
      pos += 4;
    } else {
      const n = frame.write(v, pos + 4, 'utf8');
      frame.writeInt32BE(n, pos);
      pos += 4 + n;
    }
  }
  return frame;
}

/** NotificationResponse, for LISTEN/NOTIFY relayed by the proxy. */
export function notificationResponse(processId: number, channel: string, payload: string): Buffer {
  const channelBytes = cstringBytes(channel, 'notification channel');
  const frame = frameOf(0x41, 4 + channelBytes + cstringBytes(payload, 'notification payload'));
  frame.writeUInt32BE(processId >>> 0, 5);
  putCString(frame, payload, putCString(frame, channel, 9));
  return frame;
}
