// Frontend frames the proxy sends to backends: client frames with a prepared-statement or portal
// name swapped (transaction pooling gives each backend its own names), and frames the proxy makes
// up itself (re-preparing a statement on another backend, reset queries, Sync/Flush).
// A rename splices bytes: everything but the name is copied verbatim and never decoded or
// re-encoded, so parameter values, formats and query text reach the backend exactly as sent.
// Validating the rest of a client frame is the decoders' job (client-messages.ts), not this file's.
// Reference: https://www.postgresql.org/docs/15/protocol-message-formats.html

import { ProxyError } from '../errors.js';
import { BODY, cstringBytes, cstringEnd, expectEnd, frameOf, malformed, need, putCString } from './wire.js';

const PARSE = 0x50;
const BIND = 0x42;
const DESCRIBE = 0x44;
const CLOSE = 0x43;

// ---------------------------------------------------------------------------------------------
// Helpers

/** A wrong frame type here is a bug in the caller, not bad client input. */
function expectType(buf: Buffer, start: number, end: number, allowed: number, alsoAllowed: number, what: string): number {
  const type = start < end ? buf[start] : undefined;
  if (type === undefined) throw ProxyError.internal(`${what} called on an empty frame`);
  if (type !== allowed && type !== alsoAllowed) {
    throw ProxyError.internal(`${what} called on a frame of type '${String.fromCharCode(type)}'`);
  }
  return type;
}

function targetByte(target: 'S' | 'P'): number {
  return target === 'S' ? 0x53 : 0x50;
}

// ---------------------------------------------------------------------------------------------
// Renames

/** A copy of Parse frame buf[start, end) naming the statement newName; query and types untouched. */
export function renameParse(buf: Buffer, start: number, end: number, newName: string): Buffer {
  expectType(buf, start, end, PARSE, PARSE, 'renameParse');
  const oldNameEnd = cstringEnd(buf, start + BODY, end, 'Parse', 'statement name');
  const restStart = oldNameEnd + 1;
  const nameBytes = cstringBytes(newName, 'statement name');
  const frame = frameOf(PARSE, nameBytes + (end - restStart));
  const pos = putCString(frame, newName, BODY);
  buf.copy(frame, pos, restStart, end);
  return frame;
}

/** A copy of Bind frame buf[start, end) binding statement newStatement; portal and everything after untouched. */
export function renameBindStatement(buf: Buffer, start: number, end: number, newStatement: string): Buffer {
  expectType(buf, start, end, BIND, BIND, 'renameBindStatement');
  const portalEnd = cstringEnd(buf, start + BODY, end, 'Bind', 'portal name');
  const oldStatementEnd = cstringEnd(buf, portalEnd + 1, end, 'Bind', 'statement name');
  const portalBytes = portalEnd + 1 - (start + BODY);
  const restStart = oldStatementEnd + 1;
  const frame = frameOf(BIND, portalBytes + cstringBytes(newStatement, 'statement name') + (end - restStart));
  buf.copy(frame, BODY, start + BODY, portalEnd + 1);
  const pos = putCString(frame, newStatement, BODY + portalBytes);
  buf.copy(frame, pos, restStart, end);
  return frame;
}

/** A copy of a Describe or Close frame with the statement/portal name replaced; type and target kept. */
export function renameDescribeOrClose(buf: Buffer, start: number, end: number, newName: string): Buffer {
  const type = expectType(buf, start, end, DESCRIBE, CLOSE, 'renameDescribeOrClose');
  const msg = type === DESCRIBE ? 'Describe' : 'Close';
  need(start + BODY, 1, end, msg, 'target');
  const target = buf[start + BODY]!;
  if (target !== 0x53 && target !== 0x50) throw malformed(msg, `target must be 'S' or 'P', got byte ${target}`);
  const nul = cstringEnd(buf, start + BODY + 1, end, msg, 'name');
  expectEnd(nul + 1, end, msg);
  const frame = frameOf(type, 1 + cstringBytes(newName, 'name'));
  frame[BODY] = target;
  putCString(frame, newName, BODY + 1);
  return frame;
}

// ---------------------------------------------------------------------------------------------
// Frames the proxy originates

export const SYNC: Buffer = frameOf(0x53, 0);
export const FLUSH: Buffer = frameOf(0x48, 0);

/** Parse; paramTypes are OIDs (0 = unspecified), written as unsigned 32-bit. */
export function buildParse(name: string, query: string, paramTypes: number[]): Buffer {
  if (paramTypes.length > 0xffff) throw ProxyError.internal(`too many parameter types: ${paramTypes.length}`);
  const nameBytes = cstringBytes(name, 'statement name');
  const frame = frameOf(PARSE, nameBytes + cstringBytes(query, 'query') + 2 + 4 * paramTypes.length);
  let pos = putCString(frame, query, putCString(frame, name, BODY));
  frame.writeUInt16BE(paramTypes.length, pos);
  pos += 2;
  for (const oid of paramTypes) {
    frame.writeUInt32BE(oid >>> 0, pos);
    pos += 4;
  }
  return frame;
}

export function buildDescribe(target: 'S' | 'P', name: string): Buffer {
  const frame = frameOf(DESCRIBE, 1 + cstringBytes(name, 'name'));
  frame[BODY] = targetByte(target);
  putCString(frame, name, BODY + 1);
  return frame;
}

export function buildClose(target: 'S' | 'P', name: string): Buffer {
  const frame = frameOf(CLOSE, 1 + cstringBytes(name, 'name'));
  frame[BODY] = targetByte(target);
  putCString(frame, name, BODY + 1);
  return frame;
}

/** A Bind frame: portal, statement, parameters (each with its own format code) and result formats. */
export function buildBind(
  portal: string,
  statement: string,
  paramFormats: readonly number[],
  values: readonly (Uint8Array | null)[],
  resultFormats: readonly number[],
): Buffer {
  let body = cstringBytes(portal, 'portal name') + cstringBytes(statement, 'statement name') + 2 + paramFormats.length * 2 + 2;
  for (const v of values) body += 4 + (v === null ? 0 : v.length);
  body += 2 + resultFormats.length * 2;
  const frame = frameOf(BIND, body);
  let pos = putCString(frame, portal, BODY);
  pos = putCString(frame, statement, pos);
  pos = frame.writeUInt16BE(paramFormats.length, pos);
  for (const f of paramFormats) pos = frame.writeInt16BE(f, pos);
  pos = frame.writeUInt16BE(values.length, pos);
  for (const v of values) {
    if (v === null) pos = frame.writeInt32BE(-1, pos);
    else {
      pos = frame.writeInt32BE(v.length, pos);
      frame.set(v, pos);
      pos += v.length;
    }
  }
  pos = frame.writeUInt16BE(resultFormats.length, pos);
  for (const f of resultFormats) pos = frame.writeInt16BE(f, pos);
  return frame;
}

/** An Execute frame for `portal` (0 rows: no limit). */
export function buildExecute(portal: string, maxRows: number): Buffer {
  const frame = frameOf(0x45, cstringBytes(portal, 'portal name') + 4);
  frame.writeInt32BE(maxRows, putCString(frame, portal, BODY));
  return frame;
}

/** Simple Query. */
export function buildQuery(sql: string): Buffer {
  const frame = frameOf(0x51, cstringBytes(sql, 'query'));
  putCString(frame, sql, BODY);
  return frame;
}

/**
 * A CancelRequest for a server's BackendKeyData. Keys are unsigned 32-bit values as the server sent
 * them (pg-protocol's serializer writes them as signed and throws for keys of 2^31 and above).
 */
export function buildCancelRequest(processId: number, secretKey: number): Buffer {
  const frame = Buffer.allocUnsafe(16);
  frame.writeInt32BE(16, 0);
  frame.writeInt32BE(80877102, 4);
  frame.writeUInt32BE(processId >>> 0, 8);
  frame.writeUInt32BE(secretKey >>> 0, 12);
  return frame;
}
