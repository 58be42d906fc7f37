// Gathers what one side will write to a socket so that each event-loop turn makes one write.
// Frames forwarded untouched are kept as ranges of the chunk they arrived in; consecutive frames of
// one chunk extend a single range, so a chunk full of DataRows becomes one subarray and one write,
// with no allocation per row. Frames the proxy makes are appended as buffers of their own.
// A few small parts (a renamed Bind between forwarded ranges) are copied into one buffer: one plain
// write costs less than Node's cork/writev path, which builds request objects for every chunk.

import type { Writable } from 'node:stream';
import { EMPTY_BUFFER } from '../protocol/wire.js';

/** Up to this many bytes in several parts are copied into one buffer and written once. */
const FLATTEN_BYTES_MAX = 2048;

export class WriteCoalescer {
  private rangeBuf: Buffer | null = null;
  private rangeStart = 0;
  private rangeEnd = 0;
  // parts[0, partsCount): slots past the count hold EMPTY_BUFFER, so no old chunk stays referenced, and the
  // array is reused without truncating it (setting an array's length is a runtime call).
  private readonly parts: Buffer[] = [];
  private partsCount = 0;
  private partsBytes = 0;

  /** Appends buf[start, end), extending the current range when it continues it. */
  addRange(buf: Buffer, start: number, end: number): void {
    if (buf === this.rangeBuf && start === this.rangeEnd) {
      this.rangeEnd = end;
      return;
    }
    this.closeRange();
    this.rangeBuf = buf;
    this.rangeStart = start;
    this.rangeEnd = end;
  }

  addBuffer(buf: Buffer): void {
    this.closeRange();
    this.append(buf);
  }

  get pendingBytes(): number {
    return this.partsBytes + (this.rangeBuf === null ? 0 : this.rangeEnd - this.rangeStart);
  }

  isEmpty(): boolean {
    return this.rangeBuf === null && this.partsCount === 0;
  }

  /** Writes everything gathered; returns the socket's back-pressure verdict (false: wait for 'drain'). */
  flushTo(out: Writable): boolean {
    this.closeRange();
    const parts = this.parts;
    const n = this.partsCount;
    if (n === 0) return true;
    let ok: boolean;
    if (n === 1) {
      ok = out.write(parts[0]!);
    } else if (this.partsBytes <= FLATTEN_BYTES_MAX) {
      const one = Buffer.allocUnsafe(this.partsBytes);
      let at = 0;
      for (let i = 0; i < n; i++) at += parts[i]!.copy(one, at);
      ok = out.write(one);
    } else {
      out.cork();
      for (let i = 0; i < n - 1; i++) out.write(parts[i]!);
      ok = out.write(parts[n - 1]!);
      out.uncork();
    }
    this.dropParts();
    return ok;
  }

  /** Drops everything gathered (the destination is gone). */
  clear(): void {
    this.rangeBuf = null;
    this.dropParts();
  }

  private append(part: Buffer): void {
    this.parts[this.partsCount++] = part;
    this.partsBytes += part.length;
  }

  private dropParts(): void {
    for (let i = 0; i < this.partsCount; i++) this.parts[i] = EMPTY_BUFFER;
    this.partsCount = 0;
    this.partsBytes = 0;
  }

  private closeRange(): void {
    const buf = this.rangeBuf;
    if (buf === null) return;
    const part = this.rangeStart === 0 && this.rangeEnd === buf.length ? buf : buf.subarray(this.rangeStart, this.rangeEnd);
    this.append(part);
    this.rangeBuf = null;
  }
}
