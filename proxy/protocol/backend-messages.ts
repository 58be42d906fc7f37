// Decoders for the backend → frontend messages the proxy has to look into (authentication requests,
// ParameterStatus, BackendKeyData, ReadyForQuery, command tags, errors, notifications, and row data
// for the proxy's own queries). Everything else is forwarded untouched and must never be decoded
// here. Owns bytes → values only; what the proxy does with a backend's state is the caller's job.
// Frames are as FrameReader gives them: buf[start, end) includes the type byte and Int32 length,
// and every read is bounds-checked against `end` (primitives in wire.ts, told the frame came from the
// server so that errors say so). A malformed backend frame is a FATAL 08P01.
// Reference: https://www.postgresql.org/docs/15/protocol-message-formats.html

import { BODY, cstringEnd, expectEnd, malformed, need } from './wire.js';

export interface FieldDescription {
  name: string;
  tableOid: number;
  columnAttr: number;
  typeOid: number;
  typeSize: number;
  typeModifier: number;
  format: number;
}

/**
 * ErrorResponse / NoticeResponse fields keyed by their one-character type ('S', 'V', 'C', 'M', ...).
 * A repeated field keeps its last value.
 */
export function decodeErrorFields(buf: Buffer, start: number, end: number): Map<string, string> {
  const msg = 'ErrorResponse/NoticeResponse';
  const fields = new Map<string, string>();
  let pos = start + BODY;
  for (;;) {
    need(pos, 1, end, msg, 'field list (missing terminator)', 'server');
    const code = buf[pos]!;
    if (code === 0) break;
    const nul = cstringEnd(buf, pos + 1, end, msg, `field '${String.fromCharCode(code)}'`, 'server');
    fields.set(String.fromCharCode(code), buf.toString('utf8', pos + 1, nul));
    pos = nul + 1;
  }
  expectEnd(pos + 1, end, msg, 'server');
  return fields;
}

/** ParameterStatus ('S'). */
export function decodeParameterStatus(buf: Buffer, start: number, end: number): { name: string; value: string } {
  const msg = 'ParameterStatus';
  const nameEnd = cstringEnd(buf, start + BODY, end, msg, 'parameter name', 'server');
  const valueEnd = cstringEnd(buf, nameEnd + 1, end, msg, 'parameter value', 'server');
  expectEnd(valueEnd + 1, end, msg, 'server');
  return { name: buf.toString('utf8', start + BODY, nameEnd), value: buf.toString('utf8', nameEnd + 1, valueEnd) };
}

/** BackendKeyData ('K'), protocol 3.0 (fixed 4-byte key). Both numbers unsigned, as in decodeStartupPacket. */
export function decodeBackendKeyData(buf: Buffer, start: number, end: number): { processId: number; secretKey: number } {
  const msg = 'BackendKeyData';
  need(start + BODY, 8, end, msg, 'keys', 'server');
  expectEnd(start + BODY + 8, end, msg, 'server');
  return { processId: buf.readUInt32BE(start + BODY), secretKey: buf.readUInt32BE(start + BODY + 4) };
}

/**
 * Authentication request ('R'): the code and the rest of the body as a view (md5 salt, SASL
 * mechanism list or SASL data, empty for most codes). The caller checks the size each code needs.
 */
export function decodeAuthRequest(buf: Buffer, start: number, end: number): { code: number; data: Buffer } {
  need(start + BODY, 4, end, 'authentication request', 'code', 'server');
  return { code: buf.readInt32BE(start + BODY), data: buf.subarray(start + BODY + 4, end) };
}

/** The mechanism list of AuthenticationSASL: NUL-terminated names ending with an empty name. */
export function decodeSaslMechanisms(data: Buffer): string[] {
  const msg = 'AuthenticationSASL';
  const end = data.length;
  const mechanisms: string[] = [];
  let pos = 0;
  for (;;) {
    need(pos, 1, end, msg, 'mechanism list (missing terminator)', 'server');
    if (data[pos] === 0) break;
    const nul = cstringEnd(data, pos, end, msg, 'mechanism name', 'server');
    mechanisms.push(data.toString('utf8', pos, nul));
    pos = nul + 1;
  }
  expectEnd(pos + 1, end, msg, 'server');
  return mechanisms;
}

/** CommandComplete ('C'). */
export function decodeCommandTag(buf: Buffer, start: number, end: number): string {
  const nul = cstringEnd(buf, start + BODY, end, 'CommandComplete', 'command tag', 'server');
  expectEnd(nul + 1, end, 'CommandComplete', 'server');
  return buf.toString('utf8', start + BODY, nul);
}

/**
 * ReadyForQuery's transaction status. Takes no `end` because the framer has already checked the
 * length; a short buffer still fails cleanly since buf[i] past the end is undefined.
 */
export function readyStatus(buf: Buffer, start: number): 'I' | 'T' | 'E' {
  const byte = buf[start + BODY];
  if (byte === 0x49) return 'I';
  if (byte === 0x54) return 'T';
  if (byte === 0x45) return 'E';
  throw malformed('ReadyForQuery', `unknown transaction status ${byte === undefined ? '(missing)' : `byte ${byte}`}`, 'server');
}

/** Per-field bytes after the name. */
const FIELD_FIXED_BYTES = 4 + 2 + 4 + 2 + 4 + 2;

/** RowDescription ('T'). OIDs are unsigned; attnum, typlen, typmod and format are signed. */
export function decodeRowDescription(buf: Buffer, start: number, end: number): FieldDescription[] {
  const msg = 'RowDescription';
  let pos = start + BODY;
  need(pos, 2, end, msg, 'field count', 'server');
  // Unsigned like every Int16 count Postgres reads; a real backend never exceeds 1664 columns.
  const count = buf.readUInt16BE(pos);
  pos += 2;
  const fields = new Array<FieldDescription>(count);
  for (let i = 0; i < count; i++) {
    const nul = cstringEnd(buf, pos, end, msg, `name of field ${i + 1}`, 'server');
    need(nul + 1, FIELD_FIXED_BYTES, end, msg, `field ${i + 1}`, 'server');
    const p = nul + 1;
    fields[i] = {
      name: buf.toString('utf8', pos, nul),
      tableOid: buf.readUInt32BE(p),
      columnAttr: buf.readInt16BE(p + 4),
      typeOid: buf.readUInt32BE(p + 6),
      typeSize: buf.readInt16BE(p + 10),
      typeModifier: buf.readInt32BE(p + 12),
      format: buf.readInt16BE(p + 16),
    };
    pos = p + FIELD_FIXED_BYTES;
  }
  expectEnd(pos, end, msg, 'server');
  return fields;
}

/** DataRow ('D'): each column as a view into buf (no copy), null for SQL NULL. */
export function decodeDataRow(buf: Buffer, start: number, end: number): (Buffer | null)[] {
  const msg = 'DataRow';
  let pos = start + BODY;
  need(pos, 2, end, msg, 'column count', 'server');
  const count = buf.readUInt16BE(pos);
  pos += 2;
  const values = new Array<Buffer | null>(count);
  for (let i = 0; i < count; i++) {
    need(pos, 4, end, msg, `length of column ${i + 1}`, 'server');
    const length = buf.readInt32BE(pos);
    pos += 4;
    if (length === -1) {
      values[i] = null;
      continue;
    }
    if (length < 0) throw malformed(msg, `negative length ${length} of column ${i + 1}`, 'server');
    need(pos, length, end, msg, `value of column ${i + 1}`, 'server');
    values[i] = buf.subarray(pos, pos + length);
    pos += length;
  }
  expectEnd(pos, end, msg, 'server');
  return values;
}

/** NotificationResponse ('A'); processId unsigned. */
export function decodeNotification(buf: Buffer, start: number, end: number): { processId: number; channel: string; payload: string } {
  const msg = 'NotificationResponse';
  need(start + BODY, 4, end, msg, 'process id', 'server');
  const channelStart = start + BODY + 4;
  const channelEnd = cstringEnd(buf, channelStart, end, msg, 'channel name', 'server');
  const payloadEnd = cstringEnd(buf, channelEnd + 1, end, msg, 'payload', 'server');
  expectEnd(payloadEnd + 1, end, msg, 'server');
  return {
    processId: buf.readUInt32BE(start + BODY),
    channel: buf.toString('utf8', channelStart, channelEnd),
    payload: buf.toString('utf8', channelEnd + 1, payloadEnd),
  };
}
