// The HTTP listener of the metrics endpoint (the `metrics:` config section): GET or HEAD on its path
// answers the Prometheus text exposition, any other path 404, any other method 405. It must never take
// the proxy down: bad requests and clients that reset are answered or dropped, a failed collection
// is a 500, and stop() closes every connection (keep-alive ones too) so the port is free at once.

import http from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import type { MetricsConfig } from '../../topology/config/config-types.js';
import type { Logger } from '../logger.js';

/** Bounds a scraper has no reason to come near; they keep a stuck or hostile client from holding sockets. */
const HEADERS_TIMEOUT_MS = 10_000;
const REQUEST_TIMEOUT_MS = 15_000;
const CONNECTIONS_MAX = 64;

export interface MetricsRenderer {
  readonly contentType: string;
  render(): Promise<string>;
}

/** The metrics listener could not bind: the message names `metrics.port` and the address. */
export class MetricsListenError extends Error {
  override readonly name = 'MetricsListenError';
  constructor(
    message: string,
    readonly code: string | undefined,
  ) {
    super(message);
  }
}

export function formatHostPort(host: string, port: number): string {
  return host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`;
}

export class MetricsServer {
  private server: http.Server | null = null;
  private bound: { host: string; port: number } | null = null;

  constructor(
    private readonly settings: Pick<MetricsConfig, 'host' | 'port' | 'path'>,
    private readonly metrics: MetricsRenderer,
    private readonly log: Logger,
  ) {}

  /** The path it serves (fixed at start: RELOAD does not move the endpoint). */
  get path(): string {
    return this.settings.path;
  }

  /** Where it listens, once started (the OS's choice when metrics.port is 0). */
  get address(): { host: string; port: number } | null {
    return this.bound;
  }

  async start(): Promise<{ host: string; port: number }> {
    if (this.server !== null) throw new Error('the metrics server is already started');
    const server = http.createServer((req, res) => this.handle(req, res));
    server.headersTimeout = HEADERS_TIMEOUT_MS;
    server.requestTimeout = REQUEST_TIMEOUT_MS;
    server.maxConnections = CONNECTIONS_MAX;
    server.on('clientError', (err: NodeJS.ErrnoException, socket: Socket) => {
      // Node's advice: a reset or unwritable socket is just dropped; malformed HTTP gets a 400.
      if (err.code === 'ECONNRESET' || !socket.writable) socket.destroy();
      else socket.end('HTTP/1.1 400 Bad Request\r\nConnection: close\r\nContent-Length: 0\r\n\r\n');
    });
    const { host, port } = this.settings;
    await new Promise<void>((resolve, reject) => {
      const failed = (err: NodeJS.ErrnoException) => {
        const why = err.code === 'EADDRINUSE' ? 'the port is already in use' : err.code === 'EACCES' ? 'permission denied' : err.message;
        reject(
          new MetricsListenError(
            `metrics.port: cannot listen on ${formatHostPort(host, port)} for the metrics endpoint: ${why}` +
              ' (choose another metrics.port or metrics.host, or set metrics.enabled: false)',
            err.code,
          ),
        );
      };
      server.once('error', failed);
      server.listen({ host, port }, () => {
        server.off('error', failed);
        resolve();
      });
    });
    server.on('error', (err) => this.log.error({ err }, 'metrics listener error'));
    this.server = server;
    const addr = server.address() as AddressInfo;
    this.bound = { host: addr.address, port: addr.port };
    this.log.info({ host: addr.address, port: addr.port, path: this.settings.path }, 'metrics endpoint listening');
    return this.bound;
  }

  /** Stops listening and closes every connection, in flight or kept alive. Safe to call more than once. */
  async stop(): Promise<void> {
    const server = this.server;
    if (server === null) return;
    this.server = null;
    this.bound = null;
    const closed = new Promise<void>((resolve) => server.close(() => resolve()));
    server.closeAllConnections();
    await closed;
  }

  private handle(req: http.IncomingMessage, res: http.ServerResponse): void {
    // A request body is never read; discarding it keeps a keep-alive connection usable.
    req.resume();
    req.on('error', () => res.destroy());
    res.on('error', (err) => this.log.debug({ err: err.message }, 'metrics response failed'));
    const url = req.url ?? '';
    const query = url.indexOf('?');
    const path = query < 0 ? url : url.slice(0, query);
    if (path !== this.settings.path) return reply(res, 404, 'not found\n');
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.setHeader('Allow', 'GET, HEAD');
      return reply(res, 405, 'method not allowed\n');
    }
    this.metrics.render().then(
      (body) => reply(res, 200, body, this.metrics.contentType),
      (err: unknown) => {
        this.log.warn({ err }, 'metrics collection failed');
        reply(res, 500, 'metrics collection failed\n');
      },
    );
  }
}

function reply(res: http.ServerResponse, status: number, body: string, contentType = 'text/plain; charset=utf-8'): void {
  // The client may have gone while the metrics were collected.
  if (res.destroyed || res.writableEnded) return;
  res.writeHead(status, { 'Content-Type': contentType, 'Content-Length': Buffer.byteLength(body), 'Cache-Control': 'no-store' });
  res.end(body);
}
