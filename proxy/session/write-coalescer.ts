// Gathers what one side will write to a socket so that each event-loop turn makes one write.
// Frames forwarded untouched are kept as ranges of the chunk they arrived in; consecutive frames of
// one chunk extend a single range, so a chunk full of DataRows becomes one subarray and one write,
// with no allocation per row. Frames the proxy makes are appended as buffers of their own.

import type { Writable } from 'node:stream';

export class WriteCoalescer {
  private rangeBuf: Buffer | null = null;
  private rangeStart = 0;
  private rangeEnd = 0;
  private readonly parts: Buffer[] = [];
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
    this.parts.push(buf);
    this.partsBytes += buf.length;
  }

  get pendingBytes(): number {
    return this.partsBytes + (this.rangeBuf === null ? 0 : this.rangeEnd - this.rangeStart);
  }

  isEmpty(): boolean {
    return this.rangeBuf === null && this.parts.length === 0;
  }

  /** Writes everything gathered; returns the socket's back-pressure verdict (false: wait for 'drain'). */
  flushTo(out: Writable): boolean {
    this.closeRange();
    const parts = this.parts;
    const n = parts.length;
    if (n === 0) return true;
    let ok: boolean;
    if (n === 1) {
      ok = out.write(parts[0]!);
    } else {
      out.cork();
      for (let i = 0; i < n - 1; i++) out.write(parts[i]!);
      ok = out.write(parts[n - 1]!);
      out.uncork();
    }
    parts.length = 0;
    this.partsBytes = 0;
    return ok;
  }

  /** Drops everything gathered (the destination is gone). */
  clear(): void {
    this.rangeBuf = null;
    this.parts.length = 0;
    this.partsBytes = 0;
  }

  private closeRange(): void {
    const buf = this.rangeBuf;
    if (buf === null) return;
    const part = this.rangeStart === 0 && this.rangeEnd === buf.length ? buf : buf.subarray(this.rangeStart, this.rangeEnd);
    this.parts.push(part);
    this.partsBytes += part.length;
    this.rangeBuf = null;
  }
}
