// One TCP connection from the proxy to a Postgres node, in the frontend role.
// Owns: connecting, logging in (SCRAM-SHA-256, md5, cleartext), the node's ParameterStatus values,
// its BackendKeyData, which prepared statements it holds, and handing every frame after login to the
// listener that currently holds it. It does not decide what a frame means for a client.

import type net from 'node:net';
import { serialize } from 'pg-protocol';
import { connectWithUserBuffer } from '../net/user-buffer-socket.js';
import { ProxyError } from '../errors.js';
import { FrameReader, type FrameHandler } from '../protocol/frame-reader.js';
import {
  decodeAuthRequest,
  decodeBackendKeyData,
  decodeErrorFields,
  decodeParameterStatus,
  decodeSaslMechanisms,
  readyStatus,
} from '../protocol/backend-messages.js';
import { ScramClient, md5Response } from '../session/auth/index.js';
import type { StatementDef } from './statement-registry.js';
import type { NodeAddress } from '../../topology/config/config-types.js';

export type TxStatus = 'I' | 'T' | 'E';

/** Who receives a server connection's frames while it is lent out. */
export interface BackendListener {
  onBackendFrame(type: number, buf: Buffer, start: number, end: number): void;
  /**
   * Called after each chunk from the socket has been framed: the moment to flush coalesced writes.
   * Returns true when bytes of the chunk stay referenced (e.g. queued behind a slow client).
   */
  onBackendChunkEnd(): boolean;
  onBackendClosed(conn: ServerConnection, err: ProxyError): void;
  onBackendDrain(): void;
}

export interface ServerLogin {
  readonly node: NodeAddress;
  readonly nodeName: string;
  readonly database: string;
  readonly user: string;
  readonly password: string | null;
  readonly connectTimeoutMs: number;
  readonly frameBytesMax: number;
}

let nextConnectionId = 1;

/** Read buffer per server connection: large enough that a stream of rows arrives in few reads. */
const READ_BUFFER_BYTES = 64 * 1024;

export class ServerConnection implements FrameHandler {
  readonly id = nextConnectionId++;
  readonly createdAt = Date.now();
  lastUsedAt = Date.now();
  /** The node's current GUC_REPORT values, from every ParameterStatus it has sent. */
  readonly params = new Map<string, string>();
  processId = 0;
  secretKey = 0;
  txStatus: TxStatus = 'I';
  /** Statements prepared on this connection, by name; Map order doubles as LRU order. */
  readonly prepared = new Map<string, StatementDef>();
  /** Identity of the client definition the unnamed statement was last parsed from here. */
  unnamed: object | null = null;
  /** Key of the session state (SET values) last applied here; '' for the login defaults. */
  appliedStateKey = '';
  /** Set when the connection cannot be reused (error mid-protocol, lost client mid-query...). */
  broken = false;
  closed = false;
  listener: BackendListener | null = null;
  /**
   * The pool that lent it (set by NodePool). A connection handed back to another pool (the shard's
   * primary pool was replaced by a failover meanwhile) is passed on to this one.
   */
  owner: { release(conn: ServerConnection): void; discard(conn: ServerConnection): void } | null = null;
  /** Its index in the owner pool's list of lent connections; -1 while not lent (kept by NodePool). */
  lentAt = -1;
  /** Date.now() when it was last lent (kept by NodePool, for its busy time). */
  lentSince = 0;
  /** The client session it is lent to (kept by NodePool, for deadlock detection); null when none. */
  holder: object | null = null;

  private readonly reader: FrameReader;
  private loginDone: ((err: ProxyError | null) => void) | null = null;
  private scram: ScramClient | null = null;

  readonly socket: net.Socket;

  private constructor(readonly login: ServerLogin) {
    this.reader = new FrameReader(login.frameBytesMax);
    const socket = connectWithUserBuffer(login.node.host, login.node.port, READ_BUFFER_BYTES, (chunk) => this.onData(chunk));
    this.socket = socket;
    socket.setNoDelay(true);
    socket.setKeepAlive(true, 30_000);
    socket.on('drain', () => this.listener?.onBackendDrain());
    socket.on('error', () => {
      /* 'close' follows and reports it */
    });
    socket.on('close', () => this.onClose());
  }

  get label(): string {
    return `${this.login.nodeName} (${this.login.node.host}:${this.login.node.port})`;
  }

  /** Opens and logs in; rejects with 08006 (node unreachable or login refused). */
  static connect(login: ServerLogin): Promise<ServerConnection> {
    return new Promise((resolve, reject) => {
      const conn = new ServerConnection(login);
      const socket = conn.socket;
      const timer = setTimeout(() => {
        conn.finishLogin(ProxyError.backendUnavailable(conn.label, `timed out after ${login.connectTimeoutMs} ms`));
      }, login.connectTimeoutMs);
      conn.loginDone = (err) => {
        clearTimeout(timer);
        if (err === null) {
          resolve(conn);
        } else {
          conn.destroy();
          reject(err);
        }
      };
      socket.once('connect', () => {
        socket.write(
          serialize.startup({ user: login.user, database: login.database, client_encoding: 'UTF8' }),
        );
      });
      socket.once('error', (e: NodeJS.ErrnoException) => {
        conn.finishLogin(ProxyError.backendUnavailable(conn.label, e.code ?? e.message));
      });
    });
  }

  write(buf: Buffer): boolean {
    return this.socket.write(buf);
  }

  get writableLength(): number {
    return this.socket.writableLength;
  }

  pause(): void {
    this.socket.pause();
  }

  resume(): void {
    this.socket.resume();
  }

  destroy(): void {
    if (this.closed) return;
    this.broken = true;
    // Terminate ('X') lets the server end the session cleanly instead of logging an unexpected EOF.
    if (this.loginDone === null && this.socket.writable) this.socket.end(serialize.end());
    this.socket.destroy();
  }

  onFrame(type: number, buf: Buffer, start: number, end: number): void {
    if (this.loginDone !== null) {
      this.onLoginFrame(type, buf, start, end);
      return;
    }
    if (type === 0x53 /* S: ParameterStatus */) {
      const p = decodeParameterStatus(buf, start, end);
      this.params.set(p.name, p.value);
    } else if (type === 0x5a /* Z */) {
      this.txStatus = readyStatus(buf, start);
    }
    const listener = this.listener;
    if (listener !== null) {
      listener.onBackendFrame(type, buf, start, end);
    } else if (type === 0x45 /* E */) {
      // An idle connection only gets an error when the server is ending it (e.g. admin shutdown).
      this.broken = true;
    }
  }

  /** Returns true when the chunk's bytes stay referenced (the socket then reads into a new buffer). */
  private onData(chunk: Buffer): boolean {
    const first = this.listener;
    try {
      this.reader.push(chunk, this);
    } catch (err) {
      this.broken = true;
      this.finishLogin(err instanceof ProxyError ? err : ProxyError.backendLost(this.label));
      this.socket.destroy();
      return true;
    }
    // A listener that let the connection go within this chunk (its answer ended here, and the pool may
    // already have lent the connection to someone else) can still have the chunk's bytes queued for
    // its client: the next read must not go into the same buffer then.
    const last = this.listener;
    const firstKeeps = first !== null && first !== last && first.onBackendChunkEnd();
    const lastKeeps = last?.onBackendChunkEnd() ?? false;
    return firstKeeps || lastKeeps;
  }

  private onClose(): void {
    this.closed = true;
    this.broken = true;
    this.finishLogin(ProxyError.backendUnavailable(this.label, 'connection closed during login'));
    const listener = this.listener;
    this.listener = null;
    // A closed connection no longer counts in its pool, whoever held it.
    this.owner?.discard(this);
    listener?.onBackendClosed(this, ProxyError.backendLost(this.label));
  }

  private finishLogin(err: ProxyError | null): void {
    const done = this.loginDone;
    if (done === null) return;
    this.loginDone = null;
    done(err);
  }

  private onLoginFrame(type: number, buf: Buffer, start: number, end: number): void {
    try {
      switch (type) {
        case 0x52 /* R */:
          this.onAuthRequest(buf, start, end);
          return;
        case 0x53 /* S */: {
          const p = decodeParameterStatus(buf, start, end);
          this.params.set(p.name, p.value);
          return;
        }
        case 0x4b /* K */: {
          const k = decodeBackendKeyData(buf, start, end);
          this.processId = k.processId;
          this.secretKey = k.secretKey;
          return;
        }
        case 0x5a /* Z */:
          this.txStatus = readyStatus(buf, start);
          this.finishLogin(null);
          return;
        case 0x45 /* E */: {
          const fields = decodeErrorFields(buf, start, end);
          const detail = `${fields.get('C') ?? '?????'}: ${fields.get('M') ?? 'login failed'}`;
          this.finishLogin(ProxyError.backendUnavailable(this.label, detail));
          return;
        }
        case 0x4e /* N */:
        case 0x76 /* v: NegotiateProtocolVersion */:
          return;
        default:
          throw ProxyError.backendUnavailable(this.label, `unexpected message '${String.fromCharCode(type)}' during login`);
      }
    } catch (err) {
      this.finishLogin(err instanceof ProxyError ? err : ProxyError.backendUnavailable(this.label, String(err)));
    }
  }

  private onAuthRequest(buf: Buffer, start: number, end: number): void {
    const req = decodeAuthRequest(buf, start, end);
    const password = this.login.password;
    switch (req.code) {
      case 0: // AuthenticationOk
        // A server that skips the SCRAM final message has not proven it knows the password.
        if (this.scram !== null) throw ProxyError.backendUnavailable(this.label, 'SCRAM exchange not completed by the server');
        return;
      case 3: // cleartext
        this.socket.write(serialize.password(this.requirePassword(password)));
        return;
      case 5: // md5 with a 4-byte salt
        this.socket.write(serialize.password(md5Response(this.login.user, this.requirePassword(password), req.data)));
        return;
      case 10: {
        const mechanisms = decodeSaslMechanisms(req.data);
        if (!mechanisms.includes('SCRAM-SHA-256')) {
          throw ProxyError.backendUnavailable(this.label, `no supported SASL mechanism in ${mechanisms.join(', ')}`);
        }
        this.scram = new ScramClient(this.requirePassword(password), { node: this.label });
        this.socket.write(
          serialize.sendSASLInitialResponseMessage('SCRAM-SHA-256', this.scram.clientFirst().toString('utf8')),
        );
        return;
      }
      case 11: {
        if (this.scram === null) throw ProxyError.backendUnavailable(this.label, 'SASL continue without a start');
        const final = this.scram.handleServerFirst(req.data);
        this.socket.write(serialize.sendSCRAMClientFinalMessage(final.toString('utf8')));
        return;
      }
      case 12:
        if (this.scram === null) throw ProxyError.backendUnavailable(this.label, 'SASL final without a start');
        this.scram.verifyServerFinal(req.data);
        this.scram = null;
        return;
      default:
        throw ProxyError.backendUnavailable(this.label, `unsupported authentication request ${req.code}`);
    }
  }

  private requirePassword(password: string | null): string {
    if (password === null) {
      throw ProxyError.backendUnavailable(this.label, `the server asks for a password and none is configured for user "${this.login.user}"`);
    }
    return password;
  }
}
