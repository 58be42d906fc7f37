// Reads the shard-key field of one COPY row, for copy-split.ts: the field scanners of PostgreSQL 15's
// CopyReadAttributesText and CopyReadAttributesCSV (src/backend/commands/copyfromparse.c), run only up
// to the key field. Owns de-escaping and the NULL test (the raw bytes against the NULL string, and in
// CSV only when unquoted); never allocates but the key string.

export interface KeyFormat {
  csv: boolean;
  delimiter: number;
  /** -1 in text format. */
  quote: number;
  /** -1 in text format. */
  escape: number;
  nullBytes: Buffer;
}

const LF = 0x0a;
const CR = 0x0d;
const BACKSLASH = 0x5c;

export class KeyReader {
  /** Reused for a key field with escapes or quotes. */
  private scratch: Buffer = Buffer.alloc(0);

  /** `bad` makes the error for malformed data (22P04 with the line, from the splitter). */
  constructor(
    private readonly f: KeyFormat,
    private readonly bad: (message: string) => Error,
  ) {}

  /** The de-escaped text of field `field` of the line buf[start, end) (no terminator), or null for NULL. */
  read(buf: Buffer, start: number, end: number, field: number): string | null {
    return this.f.csv ? this.csvKey(buf, start, end, field) : this.textKey(buf, start, end, field);
  }

  private missing(field: number): Error {
    return this.bad(`missing data for column ${field + 1}, the shard key`);
  }

  private scratchOf(bytes: number): Buffer {
    if (this.scratch.length < bytes) this.scratch = Buffer.allocUnsafe(Math.max(bytes, 64, this.scratch.length * 2));
    return this.scratch;
  }

  /** CopyReadAttributesText for fields up to `field`: the de-escaped key, or null when it is the NULL string. */
  private textKey(buf: Buffer, start: number, end: number, field: number): string | null {
    let pos = start;
    for (let f = 0; f < field; f++) {
      pos = textField(buf, pos, end, this.f.delimiter, null);
      if (pos < 0) throw this.missing(field);
    }
    const fieldStart = pos;
    // First pass: find the raw end (PostgreSQL compares the raw bytes with the NULL string).
    let rawEnd = fieldStart;
    let escaped = false;
    while (rawEnd < end) {
      const c = buf[rawEnd]!;
      if (c === this.f.delimiter) break;
      if (c === BACKSLASH) {
        escaped = true;
        break;
      }
      rawEnd++;
    }
    if (!escaped) {
      if (this.isNull(buf, fieldStart, rawEnd)) return null;
      return buf.toString('utf8', fieldStart, rawEnd);
    }
    const out = this.scratchOf(end - fieldStart);
    const after = textField(buf, fieldStart, end, this.f.delimiter, out);
    rawEnd = after < 0 ? lastRawEnd : after - 1;
    if (this.isNull(buf, fieldStart, rawEnd)) return null;
    return out.toString('utf8', 0, outLen);
  }

  /** CopyReadAttributesCSV for fields up to `field`. */
  private csvKey(buf: Buffer, start: number, end: number, field: number): string | null {
    let pos = start;
    for (let f = 0; f < field; f++) {
      pos = this.csvField(buf, pos, end, null);
      if (pos < 0) throw this.missing(field);
    }
    const fieldStart = pos;
    let rawEnd = fieldStart;
    while (rawEnd < end) {
      const c = buf[rawEnd]!;
      if (c === this.f.delimiter || c === this.f.quote) break;
      rawEnd++;
    }
    if (rawEnd === end || buf[rawEnd] === this.f.delimiter) {
      // No quote: the raw bytes are the value.
      if (this.isNull(buf, fieldStart, rawEnd)) return null;
      return buf.toString('utf8', fieldStart, rawEnd);
    }
    const out = this.scratchOf(end - fieldStart);
    this.csvField(buf, fieldStart, end, out);
    return out.toString('utf8', 0, outLen);
  }

  /**
   * Scans one CSV field from pos: returns the position after its delimiter, or -1 when the line ended
   * inside it. With `out`, writes the value there (length in outLen).
   */
  private csvField(buf: Buffer, pos: number, end: number, out: Buffer | null): number {
    const delim = this.f.delimiter;
    const quote = this.f.quote;
    const esc = this.f.escape;
    let o = 0;
    for (;;) {
      // Outside quotes.
      for (;;) {
        if (pos >= end) {
          outLen = o;
          return -1;
        }
        const c = buf[pos++]!;
        if (c === delim) {
          outLen = o;
          return pos;
        }
        if (c === quote) break;
        if (out !== null) out[o++] = c;
      }
      // Inside quotes.
      for (;;) {
        if (pos >= end) throw this.bad('unterminated CSV quoted field');
        const c = buf[pos++]!;
        if (c === esc && pos < end) {
          const next = buf[pos]!;
          if (next === esc || next === quote) {
            if (out !== null) out[o++] = next;
            pos++;
            continue;
          }
        }
        if (c === quote) break;
        if (out !== null) out[o++] = c;
      }
    }
  }

  private isNull(buf: Buffer, start: number, end: number): boolean {
    const n = this.f.nullBytes;
    if (end - start !== n.length) return false;
    for (let k = 0; k < n.length; k++) if (buf[start + k] !== n[k]) return false;
    return true;
  }
}

// Out-parameters of the field scanners (module state is safe: scanning never yields).
let outLen = 0;
let lastRawEnd = 0;

function isOctal(c: number): boolean {
  return c >= 0x30 && c <= 0x37;
}

function hexValue(c: number): number {
  if (c >= 0x30 && c <= 0x39) return c - 0x30;
  if (c >= 0x61 && c <= 0x66) return c - 0x61 + 10;
  if (c >= 0x41 && c <= 0x46) return c - 0x41 + 10;
  return -1;
}

/**
 * Scans one text-format field from pos (CopyReadAttributesText): returns the position after its
 * delimiter, or -1 when the line ended first (then lastRawEnd is where the raw field ends). With
 * `out`, writes the de-escaped value there (length in outLen).
 */
function textField(buf: Buffer, pos: number, end: number, delim: number, out: Buffer | null): number {
  let o = 0;
  for (;;) {
    const rawEnd = pos;
    if (pos >= end) {
      outLen = o;
      lastRawEnd = rawEnd;
      return -1;
    }
    let c = buf[pos++]!;
    if (c === delim) {
      outLen = o;
      return pos;
    }
    if (c === BACKSLASH) {
      if (pos >= end) {
        // A trailing backslash is dropped, and the raw field ends before it.
        outLen = o;
        lastRawEnd = rawEnd;
        return -1;
      }
      c = buf[pos++]!;
      if (isOctal(c)) {
        let val = c - 0x30;
        if (pos < end && isOctal(buf[pos]!)) {
          val = (val << 3) + (buf[pos++]! - 0x30);
          if (pos < end && isOctal(buf[pos]!)) val = (val << 3) + (buf[pos++]! - 0x30);
        }
        c = val & 0xff;
      } else if (c === 0x78 /* x */) {
        if (pos < end && hexValue(buf[pos]!) >= 0) {
          let val = hexValue(buf[pos++]!);
          if (pos < end && hexValue(buf[pos]!) >= 0) val = (val << 4) + hexValue(buf[pos++]!);
          c = val & 0xff;
        }
      } else {
        switch (c) {
          case 0x62: c = 0x08; break; // \b
          case 0x66: c = 0x0c; break; // \f
          case 0x6e: c = LF; break; // \n
          case 0x72: c = CR; break; // \r
          case 0x74: c = 0x09; break; // \t
          case 0x76: c = 0x0b; break; // \v
          default: break; // any other byte stands for itself
        }
      }
    }
    if (out !== null) out[o++] = c;
  }
}
