// Decoders for frontend (client → proxy) messages of protocol v3.0, over frames as FrameReader hands
// them out: buf[start, end) is one whole frame including the type byte (none for startup packets) and
// the Int32 length. Owns only turning bytes into values: no session state, no policy (which user or
// database is allowed, which parameters are honoured) and no copying of frames that are forwarded.
// Every read is bounds-checked against `end` (never buf.length: a frame usually sits inside a larger
// chunk, see wire.ts) and anything malformed is a FATAL 08P01, as in Postgres.
// Reference: https://www.postgresql.org/docs/15/protocol-message-formats.html

import { ProxyError, SqlState } from '../errors.js';
import { BODY, cstringEnd, EMPTY_BUFFER, expectEnd, malformed, need } from './wire.js';

export type StartupPacket =
  | { kind: 'startup'; protocolMajor: number; protocolMinor: number; params: Map<string, string> }
  | { kind: 'ssl' }
  | { kind: 'gssenc' }
  | { kind: 'cancel'; processId: number; secretKey: number };

export interface ParseMessage {
  name: string;
  query: string;
  /** Parameter type OIDs as unsigned 32-bit numbers; 0 means "let the server infer". */
  paramTypes: number[];
}

const CANCEL_REQUEST_CODE = 80877102;
const SSL_REQUEST_CODE = 80877103;
const GSSENC_REQUEST_CODE = 80877104;
const SUPPORTED_MAJOR = 3;
const SUPPORTED_RANGE = '3.0 to 3.0';


// ---------------------------------------------------------------------------------------------
// Helpers

/** A frame whose whole body is one C string (Query, CopyFail, PasswordMessage). */
function soleCString(buf: Buffer, start: number, end: number, message: string, field: string): string {
  const nul = cstringEnd(buf, start + BODY, end, message, field);
  expectEnd(nul + 1, end, message);
  return buf.toString('utf8', start + BODY, nul);
}

// ---------------------------------------------------------------------------------------------
// Startup phase

/**
 * StartupMessage, SSLRequest, GSSENCRequest or CancelRequest; buf[start, end) begins with the
 * Int32 length (startup frames have no type byte).
 * processId and secretKey are returned as unsigned 32-bit numbers, the same as
 * decodeBackendKeyData, so keys compare equal whichever side they came from.
 */
export function decodeStartupPacket(buf: Buffer, start: number, end: number): StartupPacket {
  if (end - start < 8) throw ProxyError.protocolViolation(`invalid length of startup packet: ${end - start} bytes`);
  const code = buf.readInt32BE(start + 4);
  const size = end - start;
  switch (code) {
    case SSL_REQUEST_CODE:
    case GSSENC_REQUEST_CODE:
      if (size !== 8) {
        throw ProxyError.protocolViolation(`invalid length of ${code === SSL_REQUEST_CODE ? 'SSL' : 'GSSENC'} request: ${size} bytes, expected 8`);
      }
      return code === SSL_REQUEST_CODE ? { kind: 'ssl' } : { kind: 'gssenc' };
    case CANCEL_REQUEST_CODE:
      if (size !== 16) throw ProxyError.protocolViolation(`invalid length of cancel request: ${size} bytes, expected 16`);
      return { kind: 'cancel', processId: buf.readUInt32BE(start + 8), secretKey: buf.readUInt32BE(start + 12) };
    default:
      break;
  }
  const major = code >>> 16;
  const minor = code & 0xffff;
  if (major !== SUPPORTED_MAJOR) {
    throw ProxyError.protocolViolation(`unsupported frontend protocol ${major}.${minor}: server supports ${SUPPORTED_RANGE}`);
  }
  // Later duplicates win, as in Postgres (it applies the pairs in order).
  const params = new Map<string, string>();
  let pos = start + 8;
  while (pos < end && buf[pos] !== 0) {
    const nameEnd = startupCStringEnd(buf, pos, end);
    const valueEnd = startupCStringEnd(buf, nameEnd + 1, end);
    params.set(buf.toString('utf8', pos, nameEnd), buf.toString('utf8', nameEnd + 1, valueEnd));
    pos = valueEnd + 1;
  }
  // Postgres's exact wording: the empty-name terminator must be the packet's last byte.
  if (pos !== end - 1) throw ProxyError.protocolViolation('invalid startup packet layout: expected terminator as last byte');
  return { kind: 'startup', protocolMajor: major, protocolMinor: minor, params };
}

function startupCStringEnd(buf: Buffer, pos: number, end: number): number {
  const nul = pos < end ? buf.indexOf(0, pos) : -1;
  if (nul < 0 || nul >= end) throw ProxyError.protocolViolation('invalid startup packet layout: expected terminator as last byte');
  return nul;
}

/** True for the bytes C's isspace() accepts in the C locale, which is what pg_split_opts uses. */
function isCSpace(c: number): boolean {
  return c === 0x20 || (c >= 0x09 && c <= 0x0d);
}

/** Splits like pg_split_opts: whitespace separates words, a backslash makes the next char literal. */
function splitOptions(options: string): string[] {
  const words: string[] = [];
  const n = options.length;
  let i = 0;
  while (i < n) {
    while (i < n && isCSpace(options.charCodeAt(i))) i++;
    if (i >= n) break;
    let word = '';
    let escaped = false;
    for (; i < n; i++) {
      const c = options.charCodeAt(i);
      if (!escaped && isCSpace(c)) break;
      if (!escaped && c === 0x5c) {
        escaped = true;
      } else {
        escaped = false;
        word += options.charAt(i);
      }
    }
    words.push(word);
  }
  return words;
}

function invalidArgument(arg: string): ProxyError {
  return new ProxyError(SqlState.syntaxError, `invalid command-line argument for server process: ${arg}`, 'FATAL', {
    hint: 'Only "-c name=value" and "--name=value" are accepted in the options parameter.',
  });
}

/** ParseLongOption: split at the first '=', dashes in the name become underscores. */
function setOption(out: Map<string, string>, setting: string, switchText: string): void {
  const eq = setting.indexOf('=');
  if (eq < 0) throw new ProxyError(SqlState.syntaxError, `${switchText}${setting} requires a value`, 'FATAL');
  const name = setting.slice(0, eq).replaceAll('-', '_').toLowerCase();
  if (name === '') throw new ProxyError(SqlState.syntaxError, `${switchText}${setting} has no parameter name`, 'FATAL');
  out.set(name, setting.slice(eq + 1));
}

/**
 * The startup `options` parameter as Postgres reads it (pg_split_opts + the -c/-- switches of
 * process_postgres_switches). GUC names are case-insensitive, so names come back lower-cased.
 * Other server switches (-d, -B, ...) are refused: the proxy cannot apply them on the client's behalf.
 */
export function parseStartupOptions(options: string): Map<string, string> {
  const out = new Map<string, string>();
  const args = splitOptions(options);
  for (let i = 0; i < args.length; i++) {
    const arg = args[i]!;
    if (arg === '--') {
      // getopt's end-of-options marker: harmless alone, but any word after it is a stray argument.
      const next = args[i + 1];
      if (next !== undefined) throw invalidArgument(next);
      break;
    }
    if (arg.startsWith('--')) {
      setOption(out, arg.slice(2), '--');
    } else if (arg.startsWith('-c')) {
      if (arg.length > 2) {
        setOption(out, arg.slice(2), '-c ');
      } else {
        const value = args[i + 1];
        if (value === undefined) throw invalidArgument(arg);
        setOption(out, value, '-c ');
        i++;
      }
    } else {
      throw invalidArgument(arg);
    }
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// Authentication phase

/** PasswordMessage ('p') carrying a cleartext or md5 password. Errors never echo the bytes. */
export function decodePassword(buf: Buffer, start: number, end: number): string {
  return soleCString(buf, start, end, 'password', 'password');
}

/** SASLInitialResponse ('p'): a length of -1 means the client sent no initial data. */
export function decodeSaslInitialResponse(buf: Buffer, start: number, end: number): { mechanism: string; data: Buffer } {
  const msg = 'SASLInitialResponse';
  const nul = cstringEnd(buf, start + BODY, end, msg, 'mechanism name');
  const mechanism = buf.toString('utf8', start + BODY, nul);
  let pos = nul + 1;
  need(pos, 4, end, msg, 'data length');
  const length = buf.readInt32BE(pos);
  pos += 4;
  if (length === -1) {
    expectEnd(pos, end, msg);
    return { mechanism, data: EMPTY_BUFFER };
  }
  if (length < 0) throw malformed(msg, `negative data length ${length}`);
  need(pos, length, end, msg, 'data');
  expectEnd(pos + length, end, msg);
  return { mechanism, data: buf.subarray(pos, pos + length) };
}

/** SASLResponse ('p'): the whole body is mechanism data. Returned as a view, not a copy. */
export function decodeSaslResponse(buf: Buffer, start: number, end: number): Buffer {
  if (end - start < BODY) throw malformed('SASLResponse', 'truncated header');
  return buf.subarray(start + BODY, end);
}

// ---------------------------------------------------------------------------------------------
// Query phase

/** Query ('Q'). */
export function decodeQuery(buf: Buffer, start: number, end: number): string {
  return soleCString(buf, start, end, 'Query', 'query string');
}

/** Parse ('P'). */
export function decodeParse(buf: Buffer, start: number, end: number): ParseMessage {
  const msg = 'Parse';
  const nameEnd = cstringEnd(buf, start + BODY, end, msg, 'statement name');
  const queryEnd = cstringEnd(buf, nameEnd + 1, end, msg, 'query string');
  let pos = queryEnd + 1;
  need(pos, 2, end, msg, 'parameter count');
  // Unsigned, as Postgres reads it: libpq sends up to 65535 parameters in this Int16.
  const count = buf.readUInt16BE(pos);
  pos += 2;
  need(pos, count * 4, end, msg, 'parameter types');
  const paramTypes = new Array<number>(count);
  for (let i = 0; i < count; i++, pos += 4) paramTypes[i] = buf.readUInt32BE(pos);
  expectEnd(pos, end, msg);
  return {
    name: buf.toString('utf8', start + BODY, nameEnd),
    query: buf.toString('utf8', nameEnd + 1, queryEnd),
    paramTypes,
  };
}

/** The names of a Bind of the unnamed statement into the unnamed portal, what most drivers send: shared, not allocated. */
const UNNAMED_BIND: Readonly<{ portal: string; statement: string }> = Object.freeze({ portal: '', statement: '' });

/** Bind ('B'): only the two names; formats and values are forwarded verbatim, so they are not read. */
export function decodeBindNames(buf: Buffer, start: number, end: number): Readonly<{ portal: string; statement: string }> {
  if (end - start > BODY + 1 && buf[start + BODY] === 0 && buf[start + BODY + 1] === 0) return UNNAMED_BIND;
  const portalEnd = cstringEnd(buf, start + BODY, end, 'Bind', 'portal name');
  const statementEnd = cstringEnd(buf, portalEnd + 1, end, 'Bind', 'statement name');
  return {
    portal: buf.toString('utf8', start + BODY, portalEnd),
    statement: buf.toString('utf8', portalEnd + 1, statementEnd),
  };
}

export interface BindMessage {
  readonly portal: string;
  readonly statement: string;
  /** Per parameter: 0 text, 1 binary (Bind's 0/1/n format codes expanded). */
  readonly paramFormats: number[];
  /** Parameter values as copies (null: SQL NULL): they outlive the read buffer the frame is in. */
  readonly values: (Buffer | null)[];
  /** Result column format codes exactly as sent (0, 1 or n entries). */
  readonly resultFormats: number[];
}

/** Bind ('B') in full: for statements the proxy plans or runs on several shards. */
export function decodeBind(buf: Buffer, start: number, end: number): BindMessage {
  const msg = 'Bind';
  const portalEnd = cstringEnd(buf, start + BODY, end, msg, 'portal name');
  const statementEnd = cstringEnd(buf, portalEnd + 1, end, msg, 'statement name');
  let pos = statementEnd + 1;
  need(pos, 2, end, msg, 'parameter format count');
  const formatCount = buf.readUInt16BE(pos);
  pos += 2;
  need(pos, formatCount * 2, end, msg, 'parameter formats');
  const codes = new Array<number>(formatCount);
  for (let i = 0; i < formatCount; i++, pos += 2) codes[i] = buf.readInt16BE(pos);
  need(pos, 2, end, msg, 'parameter count');
  const count = buf.readUInt16BE(pos);
  pos += 2;
  if (formatCount > 1 && formatCount !== count) throw malformed(msg, `${formatCount} parameter formats for ${count} parameters`);
  const values = new Array<Buffer | null>(count);
  const paramFormats = new Array<number>(count);
  for (let i = 0; i < count; i++) {
    need(pos, 4, end, msg, 'parameter length');
    const len = buf.readInt32BE(pos);
    pos += 4;
    if (len < 0) values[i] = null;
    else {
      need(pos, len, end, msg, 'parameter value');
      values[i] = Buffer.from(buf.subarray(pos, pos + len));
      pos += len;
    }
    paramFormats[i] = formatCount === 0 ? 0 : formatCount === 1 ? codes[0]! : codes[i]!;
  }
  need(pos, 2, end, msg, 'result format count');
  const resultCount = buf.readUInt16BE(pos);
  pos += 2;
  need(pos, resultCount * 2, end, msg, 'result formats');
  const resultFormats = new Array<number>(resultCount);
  for (let i = 0; i < resultCount; i++, pos += 2) resultFormats[i] = buf.readInt16BE(pos);
  expectEnd(pos, end, msg);
  return {
    portal: buf.toString('utf8', start + BODY, portalEnd),
    statement: buf.toString('utf8', portalEnd + 1, statementEnd),
    paramFormats,
    values,
    resultFormats,
  };
}

// Describe/Close of the unnamed portal or statement (extended-protocol drivers send one per query): shared.
const UNNAMED_PORTAL: Readonly<{ target: 'S' | 'P'; name: string }> = Object.freeze({ target: 'P', name: '' });
const UNNAMED_STATEMENT: Readonly<{ target: 'S' | 'P'; name: string }> = Object.freeze({ target: 'S', name: '' });

function decodeTargetAndName(buf: Buffer, start: number, end: number, msg: string): Readonly<{ target: 'S' | 'P'; name: string }> {
  need(start + BODY, 1, end, msg, 'target');
  const byte = buf[start + BODY]!;
  if (end - start === BODY + 2 && buf[start + BODY + 1] === 0) {
    if (byte === 0x50) return UNNAMED_PORTAL;
    if (byte === 0x53) return UNNAMED_STATEMENT;
  }
  let target: 'S' | 'P';
  if (byte === 0x53) target = 'S';
  else if (byte === 0x50) target = 'P';
  else throw malformed(msg, `target must be 'S' or 'P', got byte ${byte}`);
  const nul = cstringEnd(buf, start + BODY + 1, end, msg, 'name');
  expectEnd(nul + 1, end, msg);
  return { target, name: buf.toString('utf8', start + BODY + 1, nul) };
}

/** Describe ('D'). */
export function decodeDescribe(buf: Buffer, start: number, end: number): Readonly<{ target: 'S' | 'P'; name: string }> {
  return decodeTargetAndName(buf, start, end, 'Describe');
}

/** Close ('C'). */
export function decodeClose(buf: Buffer, start: number, end: number): Readonly<{ target: 'S' | 'P'; name: string }> {
  return decodeTargetAndName(buf, start, end, 'Close');
}

/**
 * Execute ('E'). maxRows is normalised to 0 for "no limit": Postgres treats any value <= 0 that
 * way, so callers need only one test.
 */
export function decodeExecute(buf: Buffer, start: number, end: number): { portal: string; maxRows: number } {
  const msg = 'Execute';
  const nul = cstringEnd(buf, start + BODY, end, msg, 'portal name');
  need(nul + 1, 4, end, msg, 'row limit');
  expectEnd(nul + 5, end, msg);
  const maxRows = buf.readInt32BE(nul + 1);
  return { portal: buf.toString('utf8', start + BODY, nul), maxRows: maxRows > 0 ? maxRows : 0 };
}

/** CopyFail ('f'): the client's reason for aborting COPY FROM STDIN. */
export function decodeCopyFail(buf: Buffer, start: number, end: number): string {
  return soleCString(buf, start, end, 'CopyFail', 'error message');
}

/** FunctionCall ('F'): only the function OID (unsigned), for the refusal message. */
export function decodeFunctionCallOid(buf: Buffer, start: number, end: number): number {
  need(start + BODY, 4, end, 'FunctionCall', 'function OID');
  return buf.readUInt32BE(start + BODY);
}
