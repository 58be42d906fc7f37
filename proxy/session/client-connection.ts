// One client connection from accept to close: SSL/GSS negotiation, the startup packet, authentication
// (SCRAM-SHA-256, md5, trust), the login reply, then every frame to the query relay or the admin
// console. It is the one place that writes a FATAL error and closes a client.
// Reference: https://www.postgresql.org/docs/15/protocol-flow.html#id-1.10.6.7.3

import net from 'node:net';
import tls from 'node:tls';
import { createHmac, randomBytes } from 'node:crypto';
import { LRUCache } from 'lru-cache';
import { asProxyError, errorResponseFrame, ProxyError, SqlState } from '../errors.js';
import { FrameReader, type FrameHandler } from '../protocol/frame-reader.js';
import {
  decodePassword,
  decodeSaslInitialResponse,
  decodeSaslResponse,
  decodeStartupPacket,
  parseStartupOptions,
} from '../protocol/client-messages.js';
import {
  AUTH_OK,
  authMd5,
  authSasl,
  authSaslContinue,
  authSaslFinal,
  backendKeyData,
  negotiateProtocolVersion,
  parameterStatus,
  READY_IDLE,
  SSL_ACCEPTED,
  SSL_REFUSED,
} from '../protocol/server-messages.js';
import { parseScramVerifier, scramSecretFromPassword, ScramServer, verifyMd5Response, type ScramSecret } from './auth/index.js';
import { QueryRelay } from './query-relay.js';
import { initialReadSettings } from '../replicas/read-router.js';
import { applyStartupSettings, type SettingsTarget } from '../replicas/session-settings.js';
import { adoptWithUserBuffer } from '../net/user-buffer-socket.js';
import { AdminSession } from '../admin/admin-session.js';
import type { ClientInfo, ProxyContext } from '../context.js';
import { ADMIN_DATABASE, type UserConfig } from '../../topology/config/config-types.js';

export interface ClientRegistry {
  add(client: ClientConnection): boolean;
  remove(client: ClientConnection): void;
  cancel(processId: number, secretKey: number): void;
}

type Phase = 'startup' | 'auth' | 'login' | 'ready' | 'closed';

type AuthStep =
  | { kind: 'md5'; salt: Buffer }
  | { kind: 'sasl-first' }
  | { kind: 'sasl-final'; server: ScramServer };

let nextClientId = 1;

/** Client messages are small except COPY data, which simply takes more reads. */
const READ_BUFFER_BYTES = 16 * 1024;
/** Derived SCRAM secrets per configured user (PBKDF2 is deliberately slow; do it once). */
const scramSecrets = new WeakMap<UserConfig, ScramSecret>();
/**
 * Secrets for unknown users, so that a probe cannot tell unknown users from wrong passwords: the salt
 * is a keyed hash of the name (stable per name, like a real user's), the password random.
 */
const decoyKey = randomBytes(32);
const decoySecrets = new LRUCache<string, ScramSecret>({ max: 1000 });
function decoySecret(user: string): ScramSecret {
  let secret = decoySecrets.get(user);
  if (secret === undefined) {
    const salt = createHmac('sha256', decoyKey).update(user).digest().subarray(0, 16);
    secret = scramSecretFromPassword(randomBytes(24).toString('base64'), salt);
    decoySecrets.set(user, secret);
  }
  return secret;
}

export class ClientConnection implements FrameHandler {
  readonly id = nextClientId++;
  readonly processId: number;
  /** Unsigned, as the cancel request decoder reads it. */
  readonly secretKey = randomBytes(4).readUInt32BE(0);
  readonly connectedAt = Date.now();
  socket: net.Socket;
  phase: Phase = 'startup';
  info: ClientInfo | null = null;
  relay: QueryRelay | null = null;
  private admin: AdminSession | null = null;
  private readonly reader: FrameReader;
  private tlsActive = false;
  private chunksRead = 0;
  /** The chunk an SSLRequest/GSSENCRequest arrived in: nothing may follow it in the same chunk. */
  private encryptionRequestChunk = -1;
  private authStep: AuthStep | null = null;
  private user: UserConfig | null = null;
  private userName = '';
  private database = '';
  private startupParams = new Map<string, string>();
  private authTimer: NodeJS.Timeout | null;

  /** `accepted` comes from a server created with pauseOnConnect. */
  constructor(
    accepted: net.Socket,
    private readonly ctx: ProxyContext,
    private readonly registry: ClientRegistry,
  ) {
    this.processId = this.id & 0x7fffffff;
    this.reader = new FrameReader(ctx.config().limits.frameBytesMax, true);
    // Without TLS the socket reads into its own buffer (the fast path); a TLS upgrade needs the
    // ordinary stream socket, so with TLS configured reads go through 'data' events.
    const socket =
      ctx.tls === null ? adoptWithUserBuffer(accepted, READ_BUFFER_BYTES, (chunk) => this.onData(chunk)) : accepted;
    this.socket = socket;
    socket.setNoDelay(true);
    this.attachSocket(socket, socket === accepted);
    if (socket === accepted) socket.resume();
    this.authTimer = setTimeout(
      () => this.fatal(new ProxyError(SqlState.queryCanceled, 'canceling authentication due to timeout', 'FATAL')),
      ctx.config().limits.authTimeoutMs,
    );
    this.authTimer.unref();
  }

  get remote(): string {
    return `${this.socket.remoteAddress ?? '?'}:${this.socket.remotePort ?? '?'}`;
  }

  private attachSocket(socket: net.Socket, streamReads: boolean): void {
    if (streamReads) socket.on('data', (chunk: Buffer) => this.onData(chunk));
    socket.on('drain', () => this.relay?.onClientDrain());
    socket.on('error', () => {
      /* 'close' follows */
    });
    socket.on('close', () => this.onClose());
  }

  /** Returns true when bytes of the chunk stay referenced after the call. */
  private onData(chunk: Buffer): boolean {
    this.chunksRead++;
    try {
      this.reader.push(chunk, this);
      return this.relay?.onClientChunkEnd() ?? false;
    } catch (err) {
      this.fail(err);
      return true;
    }
  }

  onFrame(type: number, buf: Buffer, start: number, end: number): void {
    if (type === 0x58 /* X: Terminate */ && this.phase !== 'startup') {
      // A client may give up at any point after the startup packet (e.g. psql at a password prompt).
      this.close();
      return;
    }
    switch (this.phase) {
      case 'ready':
        if (this.relay !== null) {
          this.relay.onClientFrame(type, buf, start, end);
        } else {
          this.admin!.onFrame(type, buf, start, end);
        }
        return;
      case 'startup':
        this.onStartupPacket(buf, start, end);
        return;
      case 'auth':
        if (type !== 0x70 /* p */) {
          throw ProxyError.protocolViolation(`expected a password response, got message type '${String.fromCharCode(type)}'`);
        }
        this.onAuthResponse(buf, start, end);
        return;
      case 'login':
        // The client must wait for ReadyForQuery; anything sent meanwhile is queued by Postgres clients
        // only after login, so this is a protocol violation.
        throw ProxyError.protocolViolation('message received before login completed');
      case 'closed':
        return;
    }
  }

  private onStartupPacket(buf: Buffer, start: number, end: number): void {
    if (this.encryptionRequestChunk === this.chunksRead) {
      // Bytes sent with the encryption request, before its answer, could have been injected by a man in
      // the middle (CVE-2021-23214): Postgres refuses them, so does the proxy.
      throw ProxyError.protocolViolation('received unencrypted data after SSL request');
    }
    const packet = decodeStartupPacket(buf, start, end);
    switch (packet.kind) {
      case 'ssl':
        this.encryptionRequestChunk = this.chunksRead;
        this.negotiateTls();
        return;
      case 'gssenc':
        this.encryptionRequestChunk = this.chunksRead;
        this.socket.write(SSL_REFUSED);
        return;
      case 'cancel':
        this.registry.cancel(packet.processId, packet.secretKey);
        this.close();
        return;
      case 'startup':
        this.onStartup(packet.protocolMinor, packet.params);
        return;
    }
  }

  private negotiateTls(): void {
    if (this.reader.hasBufferedBytes()) {
      throw ProxyError.protocolViolation('received unencrypted data after SSL request');
    }
    const secureContext = this.ctx.tls;
    if (secureContext === null || this.tlsActive) {
      this.socket.write(SSL_REFUSED);
      return;
    }
    this.socket.write(SSL_ACCEPTED);
    const raw = this.socket;
    raw.removeAllListeners('data');
    raw.removeAllListeners('drain');
    raw.removeAllListeners('close');
    const secure = new tls.TLSSocket(raw, { isServer: true, secureContext });
    this.tlsActive = true;
    this.socket = secure;
    this.attachSocket(secure, true);
  }

  private onStartup(protocolMinor: number, params: Map<string, string>): void {
    const user = params.get('user');
    if (user === undefined || user === '') {
      throw new ProxyError(SqlState.invalidAuthorization, 'no PostgreSQL user name specified in startup packet', 'FATAL');
    }
    if (params.has('replication') && params.get('replication') !== 'false' && params.get('replication') !== '0') {
      throw new ProxyError(SqlState.featureNotSupported, 'replication connections are not supported by pgshard', 'FATAL');
    }
    const unsupported = [...params.keys()].filter((k) => k.startsWith('_pq_.'));
    if (protocolMinor > 0 || unsupported.length > 0) this.socket.write(negotiateProtocolVersion(0, unsupported));
    const options = params.get('options');
    if (options !== undefined) {
      for (const [name, value] of parseStartupOptions(options)) params.set(name, value);
    }
    this.userName = user;
    this.database = params.get('database') || user;
    this.startupParams = params;
    this.reader.startupMode = false;
    if (!this.registry.add(this)) {
      throw ProxyError.tooManyClients(this.ctx.config().limits.clientsMax);
    }
    const config = this.ctx.config();
    this.user = config.users.find((u) => u.name === user) ?? null;
    const method = this.user?.auth ?? 'scram-sha-256';
    this.phase = 'auth';
    switch (method) {
      case 'trust':
        this.authenticated();
        return;
      case 'md5': {
        const salt = randomBytes(4);
        this.authStep = { kind: 'md5', salt };
        this.socket.write(authMd5(salt));
        return;
      }
      case 'scram-sha-256':
        this.authStep = { kind: 'sasl-first' };
        this.socket.write(authSasl(['SCRAM-SHA-256']));
        return;
    }
  }

  private onAuthResponse(buf: Buffer, start: number, end: number): void {
    const step = this.authStep;
    if (step === null) throw ProxyError.protocolViolation('unexpected password message');
    switch (step.kind) {
      case 'md5': {
        const response = decodePassword(buf, start, end);
        const password = this.user?.password ?? null;
        if (password === null || !verifyMd5Response(this.userName, password, step.salt, response)) {
          throw ProxyError.passwordFailed(this.userName, 'md5');
        }
        this.authenticated();
        return;
      }
      case 'sasl-first': {
        const { mechanism, data } = decodeSaslInitialResponse(buf, start, end);
        const server = new ScramServer(this.userName, this.scramSecret());
        this.authStep = { kind: 'sasl-final', server };
        this.socket.write(authSaslContinue(server.handleClientFirst(mechanism, data)));
        return;
      }
      case 'sasl-final': {
        const final = step.server.handleClientFinal(decodeSaslResponse(buf, start, end));
        if (this.user === null) throw ProxyError.noSuchUser(this.userName);
        this.socket.write(authSaslFinal(final));
        this.authenticated();
        return;
      }
    }
  }

  private scramSecret(): ScramSecret {
    const user = this.user;
    if (user === null || user.password === null) return decoySecret(this.userName);
    let secret = scramSecrets.get(user);
    if (secret === undefined) {
      secret = parseScramVerifier(user.password) ?? scramSecretFromPassword(user.password);
      scramSecrets.set(user, secret);
    }
    return secret;
  }

  private authenticated(): void {
    this.authStep = null;
    const user = this.user;
    if (user === null) throw ProxyError.noSuchUser(this.userName);
    this.phase = 'login';
    this.socket.write(AUTH_OK);
    this.info = {
      id: this.id,
      user: this.userName,
      database: this.database,
      applicationName: this.startupParams.get('application_name') ?? '',
      remote: this.remote,
      connectedAt: this.connectedAt,
      tls: this.tlsActive,
    };
    if (this.database === ADMIN_DATABASE) {
      if (!user.admin) {
        throw ProxyError.notAuthorized(`user "${this.userName}" is not an admin of pgshard`);
      }
      this.admin = new AdminSession(this.socket, this.ctx, this.info);
      this.finishLogin(this.admin.parameters());
      return;
    }
    const database = this.ctx.config().databases.find((d) => d.name === this.database);
    if (database === undefined) throw ProxyError.unknownDatabase(this.database);
    const pools = this.ctx.poolsFor(database, user);
    const routing = this.ctx.routingFor(database, pools);
    const config = this.ctx.config();
    const settings: SettingsTarget = {
      database,
      routing: { shard: null },
      reads: initialReadSettings(config),
      defaults: { consistency: config.reads.consistency, maxStalenessMs: config.reads.maxStalenessMs },
      termOf: (shard) => this.ctx.termOf(database, shard),
    };
    // -c pgshard.read_consistency=... in the startup packet: the proxy's, never sent to a server.
    applyStartupSettings(settings, this.startupParams);
    const relay = new QueryRelay(this, this.ctx, pools, this.startupParams, config.pool.mode === 'session', routing, settings, this.ctx.readRouterFor(database, user));
    this.relay = relay;
    relay.login().then(
      (params) => {
        if (this.phase === 'closed') return;
        this.finishLogin(params);
      },
      (err: unknown) => this.fail(err),
    );
  }

  private finishLogin(params: ReadonlyMap<string, string>): void {
    if (this.authTimer !== null) clearTimeout(this.authTimer);
    this.authTimer = null;
    const frames: Buffer[] = [];
    for (const [name, value] of params) frames.push(parameterStatus(name, value));
    frames.push(backendKeyData(this.processId, this.secretKey), READY_IDLE);
    this.socket.write(Buffer.concat(frames));
    this.phase = 'ready';
    this.ctx.log.debug({ client: this.id, user: this.userName, database: this.database, remote: this.remote }, 'client logged in');
  }

  /** Sends a FATAL error and closes: the one exit for failures that end a client session. */
  fatal(err: ProxyError): void {
    if (this.phase === 'closed') return;
    const fatal = err.severity === 'FATAL' ? err : new ProxyError(err.sqlstate, err.message, 'FATAL', err.fields);
    if (this.socket.writable) this.socket.write(errorResponseFrame(fatal));
    this.close();
  }

  private fail(err: unknown): void {
    const e = asProxyError(err);
    if (e.sqlstate === SqlState.internalError) {
      this.ctx.log.error({ client: this.id, err }, 'internal error; closing the client');
    } else if (this.phase === 'auth' || this.phase === 'startup') {
      this.ctx.log.info({ client: this.id, user: this.userName, remote: this.remote, sqlstate: e.sqlstate }, e.message);
    } else {
      this.ctx.log.debug({ client: this.id, sqlstate: e.sqlstate }, e.message);
    }
    if (e.severity === 'FATAL' || this.phase !== 'ready') {
      this.fatal(e);
      return;
    }
    // A non-fatal error that escaped the relay is a proxy bug for this client only.
    this.fatal(new ProxyError(e.sqlstate, e.message, 'FATAL', e.fields));
  }

  close(): void {
    if (this.phase === 'closed') return;
    this.phase = 'closed';
    if (this.authTimer !== null) clearTimeout(this.authTimer);
    this.relay?.close();
    this.registry.remove(this);
    this.socket.end();
    // A client that never reads must not hold the socket open forever.
    setTimeout(() => this.socket.destroy(), 1000).unref();
  }

  private onClose(): void {
    this.close();
  }
}
