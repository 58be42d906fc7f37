// Incremental framing of a PostgreSQL v3 byte stream, in either direction.
// Owns only frame boundaries and size limits: it never decodes a body and never copies a frame that
// lies wholly inside one chunk (the handler gets the chunk and offsets, so pass-through can forward
// ranges of the original bytes). Only a frame that straddles chunks is assembled into its own buffer.
// Protocol reference: https://www.postgresql.org/docs/15/protocol-overview.html#PROTOCOL-MESSAGE-CONCEPTS

import { ProxyError } from '../errors.js';

export interface FrameHandler {
  /**
   * One whole frame: buf[start, end) holds the type byte (absent in startup mode, where type is 0),
   * the Int32 length and the body. The bytes stay valid after the call (chunks are never reused).
   */
  onFrame(type: number, buf: Buffer, start: number, end: number): void;
}

/** Postgres's own cap on a startup packet (MAX_STARTUP_PACKET_LENGTH in pqcomm.h). */
export const STARTUP_FRAME_BYTES_MAX = 10000;

export class FrameReader {
  /** In startup mode frames have no type byte (StartupMessage, SSLRequest, CancelRequest...). */
  startupMode: boolean;
  private readonly header = Buffer.alloc(5);
  private headerFilled = 0;
  private assembling: Buffer | null = null;
  private assembled = 0;
  private assemblingType = 0;

  constructor(
    private readonly frameBytesMax: number,
    startupMode = false,
  ) {
    this.startupMode = startupMode;
  }

  /** True when bytes of an incomplete frame are held (e.g. data sent after SSLRequest before the answer). */
  hasBufferedBytes(): boolean {
    return this.headerFilled > 0 || this.assembling !== null;
  }

  /** Feeds one chunk; calls the handler for every frame it completes. Throws 08P01 on a bad length. */
  push(chunk: Buffer, handler: FrameHandler): void {
    let off = 0;
    const len = chunk.length;
    if (this.headerFilled > 0 || this.assembling !== null) {
      off = this.continuePartial(chunk, handler);
      if (off < 0) return;
    }
    while (off < len) {
      const headerBytes = this.startupMode ? 4 : 5;
      if (len - off < headerBytes) {
        chunk.copy(this.header, 0, off, len);
        this.headerFilled = len - off;
        return;
      }
      const type = this.startupMode ? 0 : chunk[off]!;
      const total = this.frameLength(type, chunk.readInt32BE(off + headerBytes - 4), headerBytes);
      if (len - off >= total) {
        off += total;
        handler.onFrame(type, chunk, off - total, off);
      } else {
        this.assembling = Buffer.allocUnsafe(total);
        this.assemblingType = type;
        this.assembled = chunk.copy(this.assembling, 0, off, len);
        return;
      }
    }
  }

  /** Completes a header and/or frame begun in an earlier chunk; returns the offset after it, or -1. */
  private continuePartial(chunk: Buffer, handler: FrameHandler): number {
    let off = 0;
    if (this.assembling === null) {
      const headerBytes = this.startupMode ? 4 : 5;
      const need = headerBytes - this.headerFilled;
      const take = Math.min(need, chunk.length);
      chunk.copy(this.header, this.headerFilled, 0, take);
      this.headerFilled += take;
      off = take;
      if (this.headerFilled < headerBytes) return -1;
      const type = this.startupMode ? 0 : this.header[0]!;
      const total = this.frameLength(type, this.header.readInt32BE(headerBytes - 4), headerBytes);
      this.assembling = Buffer.allocUnsafe(total);
      this.assemblingType = type;
      this.header.copy(this.assembling, 0, 0, headerBytes);
      this.assembled = headerBytes;
      this.headerFilled = 0;
    }
    const frame = this.assembling;
    const copied = chunk.copy(frame, this.assembled, off);
    this.assembled += copied;
    off += copied;
    if (this.assembled < frame.length) return -1;
    this.assembling = null;
    handler.onFrame(this.assemblingType, frame, 0, frame.length);
    return off;
  }

  private frameLength(type: number, declared: number, headerBytes: number): number {
    const limit = this.startupMode ? Math.min(STARTUP_FRAME_BYTES_MAX, this.frameBytesMax) : this.frameBytesMax;
    if (declared < 4) {
      throw ProxyError.protocolViolation(`invalid message length ${declared}`);
    }
    if (declared > limit) {
      const what = this.startupMode ? 'startup packet' : `message of type '${String.fromCharCode(type)}'`;
      throw ProxyError.protocolViolation(`${what} of ${declared} bytes exceeds the limit of ${limit} bytes`);
    }
    return declared + headerBytes - 4;
  }
}
