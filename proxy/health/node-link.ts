// One node's connection for the health checker: queries run one after the other, each bounded by
// a timeout that covers connecting; a query that fails or times out destroys the connection (one
// with an unanswered query is never reused) and the next query connects again. close() resolves
// once no socket of the link is left open.

import { oneOffQuery } from '../backend/one-off-query.js';
import { ServerConnection, type ServerLogin } from '../backend/server-connection.js';
import type { Row } from './check-query.js';

/** One node's connection: serialized queries, each bounded by a timeout that covers connecting. */
export class NodeLink {
  private conn: ServerConnection | null = null;
  /** Bumped whenever the connection is dropped: a connect that finishes later is discarded. */
  private generation = 0;
  private tail: Promise<unknown> = Promise.resolve();
  private readonly connecting = new Set<Promise<unknown>>();
  /** Every connection whose socket has not closed yet (stop() waits for them). */
  private readonly open = new Set<ServerConnection>();
  private closed = false;

  constructor(private readonly login: ServerLogin | null) {}

  query(sql: string, timeoutMs: number): Promise<Row[]> {
    const run = this.tail.then(() => this.run(sql, timeoutMs));
    this.tail = run.catch(() => undefined);
    return run;
  }

  private run(sql: string, timeoutMs: number): Promise<Row[]> {
    if (this.closed) return Promise.reject(new Error('health checks stopped'));
    return new Promise((resolve, reject) => {
      let settled = false;
      const timer = setTimeout(() => {
        if (settled) return;
        settled = true;
        this.drop();
        reject(new Error(`no answer within ${timeoutMs} ms (health.timeoutMs)`));
      }, timeoutMs);
      this.connection(timeoutMs)
        .then((conn) => oneOffQuery(conn, sql))
        .then(
          (rows) => {
            if (settled) return;
            settled = true;
            clearTimeout(timer);
            resolve(rows);
          },
          (err: unknown) => {
            if (settled) return;
            settled = true;
            clearTimeout(timer);
            this.drop();
            reject(err instanceof Error ? err : new Error(String(err)));
          },
        );
    });
  }

  private async connection(timeoutMs: number): Promise<ServerConnection> {
    const current = this.conn;
    if (current !== null && !current.closed && !current.broken) return current;
    this.drop();
    if (this.login === null) throw new Error('no user to log in with');
    const generation = this.generation;
    const pending = ServerConnection.connect({ ...this.login, connectTimeoutMs: timeoutMs });
    this.connecting.add(pending);
    try {
      const conn = await pending;
      if (!conn.closed) {
        this.open.add(conn);
        conn.socket.once('close', () => this.open.delete(conn));
      }
      if (generation !== this.generation || this.closed) {
        conn.destroy();
        throw new Error('connection abandoned');
      }
      this.conn = conn;
      return conn;
    } finally {
      this.connecting.delete(pending);
    }
  }

  /** Destroys the connection (a timed-out or failed one is never reused). */
  drop(): void {
    this.generation++;
    const conn = this.conn;
    this.conn = null;
    conn?.destroy();
  }

  /** Destroys the connection and waits until no socket of this link is left open. */
  async close(): Promise<void> {
    this.closed = true;
    this.drop();
    await Promise.allSettled([...this.connecting]);
    await this.tail;
    await Promise.all(
      [...this.open].map((conn) => {
        conn.destroy();
        return conn.closed ? undefined : new Promise<void>((resolve) => conn.socket.once('close', () => resolve()));
      }),
    );
  }
}
