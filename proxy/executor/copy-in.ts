// COPY ... FROM STDIN into a sharded or reference table: the client's CopyData stream is cut into rows
// (copy-split.ts), each row goes to the shard owning its key (every shard for a reference table), and
// the shards' COPY counts are summed into one CommandComplete. All shards run the COPY inside the
// transaction the executor opened, so a row refused by one shard undoes the load on all of them.
// Back-pressure: while any shard's socket holds more than limits.writeBufferBytesMax unsent bytes,
// the client socket is paused. Frames sent are built here (never views of a read buffer).

import type { Plan } from '../../planner/plan.js';
import { ProxyError } from '../errors.js';
import { buildQuery } from '../protocol/rewrite.js';
import { decodeCommandTag } from '../protocol/backend-messages.js';
import { decodeCopyFail } from '../protocol/client-messages.js';
import type { WriteCoalescer } from '../session/write-coalescer.js';
import { CopySplitter } from './copy-split.js';
import { mergeCommandTags } from './merge/command-tag.js';
import type { ShardChannel } from './shard-channel.js';
import type { Socket } from 'node:net';
import { T_COPY_DATA, T_COPY_DONE, T_COPY_FAIL } from '../protocol/frontend-types.js';

/** Bytes of rows gathered per shard before they go out as one CopyData frame. */
const FRAME_BYTES = 64 * 1024;

export interface CopyInHost {
  /** The shard (index into the channels) of a key given in its COPY text form; null key is SQL NULL. */
  shardOfKey(key: string | null): number;
  /** The table's column names in order, when the COPY names no columns (read from a shard's catalog). */
  tableColumns(channel: ShardChannel): Promise<string[]>;
  readonly writeBufferBytesMax: number;
  readonly rowBytesMax: number;
  readonly clientSocket: Socket;
}

export class CopyIn {
  private splitter: CopySplitter | null = null;
  private readonly pending: Buffer[][];
  private readonly pendingBytes: number[];
  private headerSent = false;
  private finish: ((err: Buffer | ProxyError | null) => void) | null = null;
  private failure: Buffer | ProxyError | null = null;
  private readonly tags: string[] = [];
  private paused = false;
  private aborted = false;

  constructor(
    private readonly plan: Extract<Plan, { kind: 'copy-in' }>,
    private readonly sql: string,
    private readonly channels: readonly ShardChannel[],
    private readonly host: CopyInHost,
  ) {
    this.pending = channels.map(() => []);
    this.pendingBytes = channels.map(() => 0);
  }

  /**
   * Starts COPY on every shard, tells the client to send its data, and resolves with the summed tag once
   * every shard finished. Rejects with the first shard error frame (or a ProxyError).
   */
  async run(out: WriteCoalescer, flush: () => void): Promise<string> {
    const keyColumn = await this.keyColumn();
    this.splitter = new CopySplitter({
      format: this.plan.format,
      delimiter: this.plan.delimiter,
      quote: this.plan.quote,
      escape: this.plan.escape,
      header: this.plan.header,
      nullString: this.plan.nullString,
      keyColumn,
      rowBytesMax: this.host.rowBytesMax,
    });
    let started = 0;
    let copyInResponse: Buffer | null = null;
    let startupError: Buffer | null = null;
    let announce: (() => void) | null = null;
    const announced = new Promise<void>((resolve) => (announce = resolve));
    const done = this.channels.map((c, i) =>
      c.request([buildQuery(this.sql)], {
        onFrame: (type, buf, start, end) => {
          switch (type) {
            case 0x47 /* G: CopyInResponse */:
              copyInResponse ??= Buffer.from(buf.subarray(start, end));
              if (++started === this.channels.length) announce!();
              break;
            case 0x43 /* C */:
              this.tags[i] = decodeCommandTag(buf, start, end);
              break;
            case 0x45 /* E */: {
              const frame = Buffer.from(buf.subarray(start, end));
              if (started < this.channels.length) {
                startupError ??= frame;
                announce!();
              } else this.fail(frame);
              break;
            }
            default:
              break;
          }
        },
      }),
    );
    await announced;
    if (startupError !== null) {
      // Shards that did enter copy mode are told to leave it; the transaction is rolled back by the caller.
      for (const c of this.channels) c.conn.write(copyFail('COPY failed on another shard'));
      await Promise.all(done);
      throw startupError;
    }
    const finished = new Promise<Buffer | ProxyError | null>((resolve) => (this.finish = resolve));
    out.addBuffer(copyInResponse!);
    flush();
    const result = await finished;
    await Promise.all(done);
    this.resume();
    // A shard may also refuse the data at CopyDone (a constraint checked at the end).
    const err = result ?? this.failure;
    if (err !== null) throw err;
    return mergeCommandTags(this.tags);
  }

  /** CopyData / CopyDone / CopyFail from the client (bytes valid only during the call). */
  onClientFrame(type: number, buf: Buffer, start: number, end: number): void {
    if (this.finish === null || this.splitter === null || this.aborted) return;
    try {
      switch (type) {
        case T_COPY_DATA:
          this.splitter.push(buf, start + 5, end, this.onRow);
          this.sendPending(false);
          return;
        case T_COPY_DONE:
          this.splitter.end(this.onRow);
          this.sendPending(true);
          for (const c of this.channels) c.conn.write(COPY_DONE);
          this.settle(null);
          return;
        case T_COPY_FAIL: {
          const reason = decodeCopyFail(buf, start, end);
          for (const c of this.channels) c.conn.write(copyFail(reason));
          // Each shard answers with its own 57014 error; the first one is the client's answer.
          this.aborted = true;
          return;
        }
        default:
          return;
      }
    } catch (err) {
      this.fail(err instanceof ProxyError ? err : ProxyError.internal(String(err)));
    }
  }

  private readonly onRow = (row: Buffer, start: number, end: number, key: string | null): void => {
    if (this.aborted) return;
    if (!this.headerSent) {
      this.headerSent = true;
      const header = this.splitter?.header ?? null;
      // The statement keeps HEADER: every shard skips one header line, so each gets a copy.
      if (header !== null) for (let s = 0; s < this.channels.length; s++) this.queue(s, header, 0, header.length);
    }
    if (this.plan.table.kind === 'reference') {
      for (let s = 0; s < this.channels.length; s++) this.queue(s, row, start, end);
      return;
    }
    this.queue(this.host.shardOfKey(key), row, start, end);
  };

  private queue(shard: number, row: Buffer, start: number, end: number): void {
    // Copied now: the row may be a view of the client's read buffer.
    this.pending[shard]!.push(Buffer.from(row.subarray(start, end)));
    this.pendingBytes[shard]! += end - start;
    if (this.pendingBytes[shard]! >= FRAME_BYTES) this.sendShard(shard);
  }

  private sendPending(all: boolean): void {
    for (let s = 0; s < this.channels.length; s++) if (all || this.pendingBytes[s]! >= FRAME_BYTES) this.sendShard(s);
    // At the end of each client chunk, whatever is gathered goes out (rows never wait for more input).
    if (!all) for (let s = 0; s < this.channels.length; s++) if (this.pendingBytes[s]! > 0) this.sendShard(s);
  }

  private sendShard(shard: number): void {
    const rows = this.pending[shard]!;
    if (rows.length === 0) return;
    const bytes = this.pendingBytes[shard]!;
    const frame = Buffer.allocUnsafe(5 + bytes);
    frame[0] = T_COPY_DATA;
    frame.writeInt32BE(4 + bytes, 1);
    let at = 5;
    for (const r of rows) at += r.copy(frame, at);
    rows.length = 0;
    this.pendingBytes[shard] = 0;
    const channel = this.channels[shard]!;
    channel.conn.write(frame);
    if (channel.conn.writableLength > this.host.writeBufferBytesMax && !this.paused) {
      this.paused = true;
      this.host.clientSocket.pause();
      channel.conn.socket.once('drain', () => this.resume());
    }
  }

  private resume(): void {
    if (!this.paused) return;
    this.paused = false;
    this.host.clientSocket.resume();
  }

  private fail(err: Buffer | ProxyError): void {
    if (this.failure !== null) return;
    this.failure = err;
    if (!this.aborted) {
      this.aborted = true;
      // The other shards must leave copy mode: their partial loads are rolled back with the transaction.
      for (const c of this.channels) c.conn.write(copyFail('COPY failed on another shard'));
    }
    this.settle(err);
  }

  private settle(err: Buffer | ProxyError | null): void {
    const finish = this.finish;
    if (finish === null) return;
    this.finish = null;
    finish(err ?? this.failure);
  }

  /** The client left mid-COPY. */
  abort(): void {
    if (this.finish === null) return;
    this.fail(ProxyError.canceled('COPY abandoned: the client disconnected'));
  }

  private async keyColumn(): Promise<number | null> {
    const table = this.plan.table;
    if (table.kind === 'reference') return null;
    const columns = this.plan.columns ?? (await this.host.tableColumns(this.channels[0]!));
    const at = columns.indexOf(table.column);
    if (at < 0) {
      throw ProxyError.unsupported(
        `COPY into ${table.name} must include its shard key column "${table.column}"`,
        'Add the key column to the COPY column list: pgshard needs it to place each row.',
      );
    }
    return at;
  }
}

const COPY_DONE = Buffer.from([T_COPY_DONE, 0, 0, 0, 4]);

function copyFail(reason: string): Buffer {
  const body = Buffer.from(`${reason}\0`, 'utf8');
  const frame = Buffer.allocUnsafe(5 + body.length);
  frame[0] = T_COPY_FAIL;
  frame.writeInt32BE(4 + body.length, 1);
  body.copy(frame, 5);
  return frame;
}
