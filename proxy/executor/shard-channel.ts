// One shard's server connection as the distributed executor uses it: send a request (frames ending
// in Sync or a simple Query), hand every answer frame to a sink, resolve at ReadyForQuery. Slower than
// the relay's streaming pass-through and simpler: the executor runs statements one after another.
// Back-pressure: the sink may pause the socket while the client is slow; rows then wait in Postgres.

import type { ProxyError } from '../errors.js';
import type { BackendListener, ServerConnection } from '../backend/server-connection.js';

export interface FrameSink {
  onFrame(type: number, buf: Buffer, start: number, end: number): void;
  /**
   * End of one socket chunk: the moment to flush what the frames produced. Returns true when ranges of
   * the chunk are still queued (on a slow client socket), so the connection reads into a new buffer.
   */
  onChunkEnd?(): boolean;
}

export class ShardChannel implements BackendListener {
  private sink: FrameSink | null = null;
  /** The sink of a request whose ReadyForQuery came in the chunk being read: it still gets onChunkEnd. */
  private finishedSink: FrameSink | null = null;
  private resolve: (() => void) | null = null;
  private reject: ((err: ProxyError) => void) | null = null;
  lost: ProxyError | null = null;

  constructor(
    readonly shard: number,
    readonly conn: ServerConnection,
  ) {
    conn.listener = this;
  }

  /** A request is waiting for its ReadyForQuery. */
  get busy(): boolean {
    return this.resolve !== null;
  }

  /** Sends `frames` (already ending in Sync or a Query) and resolves once their ReadyForQuery arrived. */
  request(frames: readonly Buffer[], sink: FrameSink): Promise<void> {
    if (this.lost !== null) return Promise.reject(this.lost);
    return new Promise<void>((resolve, reject) => {
      this.sink = sink;
      this.resolve = resolve;
      this.reject = reject;
      for (const f of frames) this.conn.write(f);
    });
  }

  onBackendFrame(type: number, buf: Buffer, start: number, end: number): void {
    const sink = this.sink;
    if (sink === null) return; // NoticeResponse/ParameterStatus between requests
    sink.onFrame(type, buf, start, end);
    if (type === 0x5a /* Z */) {
      const resolve = this.resolve!;
      this.finishedSink = sink;
      this.sink = null;
      this.resolve = this.reject = null;
      resolve();
    }
  }

  onBackendChunkEnd(): boolean {
    // The request's promise settles after this (a microtask), so its sink sees the end of its last chunk.
    const sink = this.sink ?? this.finishedSink;
    this.finishedSink = null;
    return sink?.onChunkEnd?.() ?? false;
  }

  onBackendClosed(_conn: ServerConnection, err: ProxyError): void {
    this.lost = err;
    const reject = this.reject;
    this.sink = null;
    this.resolve = this.reject = null;
    reject?.(err);
  }

  onBackendDrain(): void {}

  detach(): void {
    if (this.conn.listener === this) this.conn.listener = null;
  }
}
