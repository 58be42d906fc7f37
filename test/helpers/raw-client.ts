// A deliberately dumb PostgreSQL wire-protocol client over a plain net.Socket, for tests that need to
// send what real drivers never send (malformed frames, oversized startup packets, SSL/GSSENC requests,
// unknown message types) and to look at exactly what comes back. Every message is built by hand here
// (independently of the proxy's own encoders) so that a bug in those cannot hide itself.
// Authentication: trust, cleartext, md5 and SCRAM-SHA-256 (the latter with the proxy's ScramClient).
import { createHash } from 'node:crypto';
import net from 'node:net';
import { ScramClient } from '../../proxy/session/auth/index.js';

export const PROTOCOL_3_0 = 196608;
export const SSL_REQUEST_CODE = 80877103;
export const GSSENC_REQUEST_CODE = 80877104;
export const CANCEL_REQUEST_CODE = 80877102;

export interface Message {
  /** The type byte as a character ('R', 'E', 'Z', 'D'...). */
  type: string;
  body: Buffer;
}

// ------------------------------------------------------------------------------------ builders

function cstr(s: string): Buffer {
  return Buffer.concat([Buffer.from(s, 'utf8'), Buffer.from([0])]);
}

function int32(n: number): Buffer {
  const b = Buffer.alloc(4);
  b.writeInt32BE(n, 0);
  return b;
}

function int16(n: number): Buffer {
  const b = Buffer.alloc(2);
  b.writeInt16BE(n, 0);
  return b;
}

/** A typed frame: type byte, Int32 length (itself included), body. */
export function frame(type: string, body: Buffer = Buffer.alloc(0)): Buffer {
  return Buffer.concat([Buffer.from(type, 'latin1'), int32(body.length + 4), body]);
}

/** An untyped startup-phase frame: Int32 length, Int32 code, rest. */
export function startupFrame(code: number, rest: Buffer = Buffer.alloc(0)): Buffer {
  return Buffer.concat([int32(rest.length + 8), int32(code), rest]);
}

export function startupMessage(params: Record<string, string>, protocol = PROTOCOL_3_0): Buffer {
  const pairs = Object.entries(params).flatMap(([k, v]) => [cstr(k), cstr(v)]);
  return startupFrame(protocol, Buffer.concat([...pairs, Buffer.from([0])]));
}

export const sslRequest = (): Buffer => startupFrame(SSL_REQUEST_CODE);
export const gssencRequest = (): Buffer => startupFrame(GSSENC_REQUEST_CODE);
export const cancelRequest = (pid: number, key: number): Buffer => startupFrame(CANCEL_REQUEST_CODE, Buffer.concat([int32(pid), int32(key)]));

export const query = (sql: string): Buffer => frame('Q', cstr(sql));
export const sync = (): Buffer => frame('S');
export const flush = (): Buffer => frame('H');
export const terminate = (): Buffer => frame('X');

export function parse(name: string, sql: string, paramTypes: number[] = []): Buffer {
  return frame('P', Buffer.concat([cstr(name), cstr(sql), int16(paramTypes.length), ...paramTypes.map(int32)]));
}

/** Bind with text parameters (null for NULL) and text results. */
export function bind(portal: string, statement: string, params: (string | null)[] = []): Buffer {
  const values = params.flatMap((p) => (p === null ? [int32(-1)] : [int32(Buffer.byteLength(p)), Buffer.from(p, 'utf8')]));
  return frame('B', Buffer.concat([cstr(portal), cstr(statement), int16(0), int16(params.length), ...values, int16(0)]));
}

export function describe(target: 'S' | 'P', name: string): Buffer {
  return frame('D', Buffer.concat([Buffer.from(target, 'latin1'), cstr(name)]));
}

export function closeStatement(name: string): Buffer {
  return frame('C', Buffer.concat([Buffer.from('S', 'latin1'), cstr(name)]));
}

export function closePortal(name: string): Buffer {
  return frame('C', Buffer.concat([Buffer.from('P', 'latin1'), cstr(name)]));
}

export function execute(portal = '', maxRows = 0): Buffer {
  return frame('E', Buffer.concat([cstr(portal), int32(maxRows)]));
}

// ------------------------------------------------------------------------------------ decoders

/** The fields of an ErrorResponse / NoticeResponse body, by code letter ('S', 'C', 'M'...). */
export function errorFields(body: Buffer): Map<string, string> {
  const fields = new Map<string, string>();
  let pos = 0;
  while (pos < body.length && body[pos] !== 0) {
    const code = String.fromCharCode(body[pos]!);
    const end = body.indexOf(0, pos + 1);
    if (end < 0) break;
    fields.set(code, body.toString('utf8', pos + 1, end));
    pos = end + 1;
  }
  return fields;
}

/** DataRow → column values as text (null for NULL). */
export function dataRowValues(body: Buffer): (string | null)[] {
  const n = body.readInt16BE(0);
  const out: (string | null)[] = [];
  let pos = 2;
  for (let i = 0; i < n; i++) {
    const len = body.readInt32BE(pos);
    pos += 4;
    if (len < 0) {
      out.push(null);
    } else {
      out.push(body.toString('utf8', pos, pos + len));
      pos += len;
    }
  }
  return out;
}

function md5hex(...parts: (string | Buffer)[]): string {
  const h = createHash('md5');
  for (const p of parts) h.update(p);
  return h.digest('hex');
}

// ------------------------------------------------------------------------------------ client

export interface LoginResult {
  params: Map<string, string>;
  processId: number;
  secretKey: number;
  /** Every message up to and including the first ReadyForQuery (or the error). */
  messages: Message[];
}

export class LoginError extends Error {
  constructor(readonly fields: Map<string, string>) {
    super(`${fields.get('S') ?? '?'} ${fields.get('C') ?? '?'}: ${fields.get('M') ?? ''}`);
  }
  get code(): string | undefined {
    return this.fields.get('C');
  }
}

export class RawClient {
  private buf: Buffer = Buffer.alloc(0);
  private waiter: (() => void) | null = null;
  private ended = false;
  readonly closed: Promise<void>;

  private readonly onData = (chunk: Buffer): void => {
    this.buf = this.buf.length === 0 ? chunk : Buffer.concat([this.buf, chunk]);
    this.wake();
  };

  private constructor(readonly socket: net.Socket) {
    socket.on('data', this.onData);
    socket.on('error', () => {
      /* 'close' follows */
    });
    this.closed = new Promise((resolve) => {
      socket.on('close', () => {
        this.ended = true;
        this.wake();
        resolve();
      });
    });
  }

  static connect(port: number, host = '127.0.0.1'): Promise<RawClient> {
    return new Promise((resolve, reject) => {
      const socket = net.connect({ port, host });
      socket.once('connect', () => {
        socket.off('error', reject);
        socket.setNoDelay(true);
        resolve(new RawClient(socket));
      });
      socket.once('error', reject);
    });
  }

  get isClosed(): boolean {
    return this.ended;
  }

  /** Bytes received and not consumed yet. */
  get buffered(): number {
    return this.buf.length;
  }

  write(...bufs: Buffer[]): void {
    this.socket.write(bufs.length === 1 ? bufs[0]! : Buffer.concat(bufs));
  }

  private wake(): void {
    const w = this.waiter;
    this.waiter = null;
    w?.();
  }

  private async waitFor<T>(what: string, timeoutMs: number, take: () => T | undefined): Promise<T> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const v = take();
      if (v !== undefined) return v;
      if (this.ended) throw new Error(`connection closed while waiting for ${what}`);
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, left);
        this.waiter = () => {
          clearTimeout(timer);
          resolve();
        };
      });
    }
  }

  /** One raw byte (the answer to SSLRequest / GSSENCRequest). */
  readByte(timeoutMs = 5000): Promise<string> {
    return this.waitFor('one byte', timeoutMs, () => {
      if (this.buf.length < 1) return undefined;
      const b = String.fromCharCode(this.buf[0]!);
      this.buf = this.buf.subarray(1);
      return b;
    });
  }

  /** The next whole typed message. */
  readMessage(timeoutMs = 5000): Promise<Message> {
    return this.waitFor('a message', timeoutMs, () => {
      if (this.buf.length < 5) return undefined;
      const len = this.buf.readInt32BE(1);
      if (this.buf.length < 1 + len) return undefined;
      const msg = { type: String.fromCharCode(this.buf[0]!), body: Buffer.from(this.buf.subarray(5, 1 + len)) };
      this.buf = this.buf.subarray(1 + len);
      return msg;
    });
  }

  /** Messages up to and including the first of type `type`. */
  async readUntil(type: string, timeoutMs = 5000): Promise<Message[]> {
    const deadline = Date.now() + timeoutMs;
    const out: Message[] = [];
    for (;;) {
      const m = await this.readMessage(Math.max(1, deadline - Date.now()));
      out.push(m);
      if (m.type === type) return out;
    }
  }

  /** Resolves true when the server closes the connection within timeoutMs, false otherwise. */
  async waitClosed(timeoutMs = 5000): Promise<boolean> {
    if (this.ended) return true;
    let timer: NodeJS.Timeout | undefined;
    const timedOut = new Promise<boolean>((resolve) => {
      timer = setTimeout(() => resolve(false), timeoutMs);
    });
    const result = await Promise.race([this.closed.then(() => true), timedOut]);
    clearTimeout(timer);
    return result;
  }

  /**
   * Reads messages until the connection closes; returns them (a FATAL error usually comes last).
   * Throws if the connection is still open after timeoutMs.
   */
  async readUntilClosed(timeoutMs = 5000): Promise<Message[]> {
    const out: Message[] = [];
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      try {
        out.push(await this.readMessage(Math.max(1, deadline - Date.now())));
      } catch (err) {
        if (this.ended) return out;
        throw err;
      }
    }
  }

  /** Sends a StartupMessage and authenticates; resolves at ReadyForQuery, rejects with LoginError on an ErrorResponse. */
  async login(user: string, database: string, password: string | null = null, extra: Record<string, string> = {}): Promise<LoginResult> {
    this.write(startupMessage({ user, database, ...extra }));
    return this.authenticate(user, password);
  }

  /** The authentication exchange after the startup message was sent. */
  async authenticate(user: string, password: string | null): Promise<LoginResult> {
    const result: LoginResult = { params: new Map(), processId: 0, secretKey: 0, messages: [] };
    let scram: ScramClient | null = null;
    for (;;) {
      const m = await this.readMessage(10_000);
      result.messages.push(m);
      switch (m.type) {
        case 'R': {
          const code = m.body.readInt32BE(0);
          const need = (): string => {
            if (password === null) throw new Error(`server asks for a password (auth request ${code}) and none was given`);
            return password;
          };
          if (code === 0) break;
          if (code === 3) this.write(frame('p', cstr(need())));
          else if (code === 5) {
            const salt = m.body.subarray(4, 8);
            this.write(frame('p', cstr(`md5${md5hex(md5hex(need(), user), salt)}`)));
          } else if (code === 10) {
            scram = new ScramClient(need());
            const first = scram.clientFirst();
            this.write(frame('p', Buffer.concat([cstr('SCRAM-SHA-256'), int32(first.length), first])));
          } else if (code === 11) {
            if (scram === null) throw new Error('SASLContinue before SASL');
            this.write(frame('p', scram.handleServerFirst(m.body.subarray(4))));
          } else if (code === 12) {
            if (scram === null) throw new Error('SASLFinal before SASL');
            scram.verifyServerFinal(m.body.subarray(4));
          } else throw new Error(`unsupported auth request ${code}`);
          break;
        }
        case 'S': {
          const nul = m.body.indexOf(0);
          result.params.set(m.body.toString('utf8', 0, nul), m.body.toString('utf8', nul + 1, m.body.length - 1));
          break;
        }
        case 'K':
          result.processId = m.body.readInt32BE(0);
          result.secretKey = m.body.readInt32BE(4);
          break;
        case 'E':
          throw new LoginError(errorFields(m.body));
        case 'Z':
          return result;
        default:
          break;
      }
    }
  }

  /** Simple query; resolves with every message up to ReadyForQuery. */
  async simpleQuery(sql: string, timeoutMs = 10_000): Promise<Message[]> {
    this.write(query(sql));
    return this.readUntil('Z', timeoutMs);
  }

  /**
   * Stops reading for the caller, who takes over the socket's 'data' events (e.g. to read a huge
   * result as a stream); returns the bytes already received and not consumed.
   */
  takeOverReading(): Buffer {
    this.socket.off('data', this.onData);
    const rest = this.buf;
    this.buf = Buffer.alloc(0);
    return rest;
  }

  /** Gives reading back to the client, with `rest` as the bytes received meanwhile and not consumed. */
  resumeReading(rest: Buffer = Buffer.alloc(0)): void {
    this.buf = rest;
    this.socket.on('data', this.onData);
    this.socket.resume();
  }

  /** Closes our side (Terminate, then end) and waits for the close. */
  async end(): Promise<void> {
    if (!this.ended && this.socket.writable) this.socket.end(terminate());
    if (!(await this.waitClosed(2000))) this.socket.destroy();
  }

  destroy(): void {
    this.socket.destroy();
  }
}

/** Rows of the DataRow messages in `messages`, as text. */
export function rowsOf(messages: Message[]): (string | null)[][] {
  return messages.filter((m) => m.type === 'D').map((m) => dataRowValues(m.body));
}

/** The fields of the first ErrorResponse in `messages`, or null. */
export function firstError(messages: Message[]): Map<string, string> | null {
  const e = messages.find((m) => m.type === 'E');
  return e === undefined ? null : errorFields(e.body);
}
