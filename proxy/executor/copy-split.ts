// Splits the data of `COPY t FROM STDIN` (text or CSV) into rows, incrementally, whatever the CopyData
// boundaries, and extracts each row's shard-key field, so that the executor can send every row to the
// shard that owns it. It owns only row boundaries and key text: it never rewrites a row (each shard
// parses the same bytes with the same options) and never opens a connection.
//
// Rows are found exactly as PostgreSQL 15 finds them (CopyReadLineText and CopyReadAttributesText/CSV
// in src/backend/commands/copyfromparse.c; "File Formats" in
// https://www.postgresql.org/docs/15/sql-copy.html), because a shard that saw a row
// boundary elsewhere would load different rows than one server would. Where the code and the docs
// differ, the code wins; each case is named below and pinned by a test:
// - text: `\.` ends the data wherever it appears, not only alone on a line; the bytes before it on
//   that line are the last row, and it must be followed by the data's newline ("end-of-copy marker
//   corrupt" otherwise, also when the data ends right after it). Everything after it is ignored.
// - CSV: `\.` ends the data only as a whole line; otherwise it is data.
// - The first line fixes the newline style (\n, \r\n or \r); another style later is an error (22P04).
// - A backslash before a newline in text format makes the newline data.
// Departures: errors that PostgreSQL reports for a field the proxy does not parse (extra columns, bad
// values, invalid encoding) are left to the shards; the client encoding must be UTF8 (rows are split
// as PostgreSQL does for any ASCII-safe encoding, but the key text is decoded as UTF-8; SJIS, BIG5,
// GBK, GB18030 and UHC, whose second bytes can be a backslash or a quote, are not handled);
// FORCE_NULL/FORCE_NOT_NULL on the key column are the caller's to apply (an unquoted NULL string
// stays `null` here; a quoted one is its text).
//
// HEADER: the header line is never passed to onRow; `header` keeps it. The executor either runs the
// shards' COPY without HEADER, or keeps HEADER (as HEADER MATCH needs) and sends this line first to
// every shard; either way each shard's COPY count is its data rows, and the counts add up.
//
// Memory: a row that lies inside one chunk is handed out as a view of the caller's buffer; only a
// row spanning chunks is assembled into a buffer of its own, bounded by rowBytesMax (54000). The only
// allocation per row is the key string.

import { ProxyError } from '../errors.js';
import { KeyReader } from './copy-key.js';

export interface CopySplitOptions {
  format: 'text' | 'csv';
  /** One byte. */
  delimiter: string;
  /** CSV only: one byte. */
  quote: string;
  /** CSV only: one byte (equal to quote when not given in the COPY statement). */
  escape: string;
  /** The data starts with a header line (text or CSV, as PostgreSQL 15 allows). */
  header: boolean;
  /** The NULL string: `\N` in text and '' in CSV by default. */
  nullString: string;
  /** Index of the shard-key field in each row; null for a reference table (key is always null). */
  keyColumn: number | null;
  /** Longest row (with its terminator) accepted; longer ones fail with 54000. */
  rowBytesMax: number;
}

/**
 * One row: buf[start, end) holds it with its terminator (\n, \r\n or \r). Only the very last row of
 * the data can lack one (data ending without a newline, or text data ending at a `\.` placed after
 * the row's fields); every shard receives it last, before CopyDone, where that is what it means.
 * The bytes stay valid after the call as long as the caller's chunk does (assembled rows are owned).
 * `key` is the de-escaped key field, null for SQL NULL or a reference table.
 */
export type CopyRowHandler = (row: Buffer, start: number, end: number, key: string | null) => void;

const LF = 0x0a;
const CR = 0x0d;
const BACKSLASH = 0x5c;
const DOT = 0x2e;

// Newline style of the data, fixed by the first line (cstate->eol_type).
const EOL_UNKNOWN = 0;
const EOL_NL = 1;
const EOL_CR = 2;
const EOL_CRNL = 3;

// Where the line scanner is between bytes; all but NORMAL wait for a lookahead byte.
const P_NORMAL = 0;
const P_CR_PEEK = 1; // an unquoted \r while the style is unknown or \r\n: is \n next?
const P_BACKSLASH = 2; // a backslash that may start `\.`
const P_DOT = 3; // `\.` seen
const P_DOT_CR = 4; // `\.\r` seen (\r\n style)
const P_DONE = 5; // after the end-of-data marker or end(): ignore everything

// What one byte did to the current line.
const A_NEXT = 0; // consumed, line goes on
const A_EOL = 1; // consumed, and it was the line's last byte
const A_EOL_BEFORE = 2; // the line ended just before this byte, which starts the next line
const A_END_OF_DATA = 3; // consumed, it completed the end-of-data marker

/** A carry buffer larger than this is dropped after its row, not reused. */
const CARRY_KEEP_BYTES = 1 << 20;

const TEXT_FORBIDDEN_DELIMITERS = '\\.abcdefghijklmnopqrstuvwxyz0123456789';

function oneByte(value: string, what: string): number {
  const bytes = Buffer.from(value, 'utf8');
  // PostgreSQL's own check and wording (ProcessCopyOptions).
  if (bytes.length !== 1) throw ProxyError.unsupported(`COPY ${what} must be a single one-byte character`);
  return bytes[0]!;
}

export class CopySplitter {
  private readonly csv: boolean;
  private readonly delimiter: number;
  private readonly quote: number;
  /** The escape byte of the line scanner: -1 when it equals quote, where PostgreSQL ignores it there. */
  private readonly lineEscape: number;
  private readonly escape: number;
  private readonly nullBytes: Buffer;
  private readonly keyColumn: number | null;
  private readonly rowBytesMax: number;

  private phase = P_NORMAL;
  private eol = EOL_UNKNOWN;
  private inQuote = false;
  private lastWasEsc = false;
  private firstChar = true;
  /** Bytes of the terminator of the line just ended. */
  private termLen = 0;
  /** Bytes of the current line before the backslash that may start `\.`. */
  private markerLen = 0;
  /** Where the current line's bytes start in the chunk being scanned. */
  private segStart = 0;
  /** Bytes of the current line that arrived in earlier chunks. */
  private carry: Buffer = Buffer.alloc(0);
  private carryLen = 0;
  private headerPending: boolean;
  private headerBytes: Buffer | null = null;
  private sawEndMarker = false;
  private failure: unknown = null;
  /** Current line number, counted as PostgreSQL counts it for its error context. */
  private lineNo = 1;
  private rowCount = 0;
  private readonly keys: KeyReader;

  constructor(opts: CopySplitOptions) {
    this.csv = opts.format === 'csv';
    this.delimiter = oneByte(opts.delimiter, 'delimiter');
    if (this.delimiter === LF || this.delimiter === CR) {
      throw ProxyError.unsupported('COPY delimiter cannot be newline or carriage return');
    }
    if (/[\r\n]/.test(opts.nullString)) {
      throw ProxyError.unsupported('COPY null representation cannot use newline or carriage return');
    }
    if (this.csv) {
      this.quote = oneByte(opts.quote, 'quote');
      this.escape = oneByte(opts.escape, 'escape');
      if (this.quote === this.delimiter) throw ProxyError.unsupported('COPY delimiter and quote must be different');
      this.lineEscape = this.escape === this.quote ? -1 : this.escape;
    } else {
      if (TEXT_FORBIDDEN_DELIMITERS.includes(opts.delimiter)) {
        throw ProxyError.unsupported(`COPY delimiter cannot be "${opts.delimiter}"`);
      }
      this.quote = -1;
      this.escape = -1;
      this.lineEscape = -1;
    }
    if (opts.keyColumn !== null && !(Number.isInteger(opts.keyColumn) && opts.keyColumn >= 0)) {
      throw new RangeError(`keyColumn must be a field index, got ${opts.keyColumn}`);
    }
    if (!(Number.isInteger(opts.rowBytesMax) && opts.rowBytesMax > 0)) {
      throw new RangeError(`rowBytesMax must be a positive integer, got ${opts.rowBytesMax}`);
    }
    this.nullBytes = Buffer.from(opts.nullString, 'utf8');
    this.keyColumn = opts.keyColumn;
    this.rowBytesMax = opts.rowBytesMax;
    this.headerPending = opts.header;
    const format = { csv: this.csv, delimiter: this.delimiter, quote: this.quote, escape: this.escape, nullBytes: this.nullBytes };
    this.keys = new KeyReader(format, (message) => this.bad(message));
  }

  /** The header line that was dropped (with its terminator), or null when none was (yet). */
  get header(): Buffer | null {
    return this.headerBytes;
  }

  /** True once the end-of-data marker `\.` was seen: later bytes are ignored, as PostgreSQL does. */
  get endMarkerSeen(): boolean {
    return this.sawEndMarker;
  }

  /** Data rows handed to onRow so far (the header is not one). */
  get rows(): number {
    return this.rowCount;
  }

  /**
   * Feeds chunk[start, end), the payload of one CopyData message (or part of one). Calls onRow for
   * every row it completes. Throws 22P04 on malformed data and 54000 on a row over rowBytesMax; after
   * a throw the splitter only rethrows (the COPY has failed).
   */
  push(chunk: Buffer, start: number, end: number, onRow: CopyRowHandler): void {
    if (this.failure !== null) throw this.failure;
    if (this.phase === P_DONE) return;
    try {
      this.scan(chunk, start, end, onRow);
    } catch (err) {
      this.failure = err;
      throw err;
    }
  }

  /** The client sent CopyDone: the data ends here; a last line without a newline is a row. */
  end(onRow: CopyRowHandler): void {
    if (this.failure !== null) throw this.failure;
    if (this.phase === P_DONE) return;
    try {
      this.finish(onRow);
    } catch (err) {
      this.failure = err;
      throw err;
    }
  }

  private scan(chunk: Buffer, start: number, end: number, onRow: CopyRowHandler): void {
    const q = this.quote;
    const e = this.lineEscape;
    this.segStart = start;
    let i = start;
    while (i < end) {
      if (this.phase === P_NORMAL) {
        // Ordinary bytes change nothing but these two flags: skip them in a tight loop.
        let j = i;
        let c = chunk[j]!;
        while (c !== LF && c !== CR && c !== BACKSLASH && c !== q && c !== e) {
          if (++j === end) break;
          c = chunk[j]!;
        }
        if (j > i) {
          this.firstChar = false;
          this.lastWasEsc = false;
          i = j;
          if (i === end) break;
        }
      }
      const action = this.step(chunk[i]!, i);
      if (action === A_NEXT) {
        i++;
      } else if (action === A_EOL) {
        i++;
        this.lineEnded(chunk, i, onRow);
      } else if (action === A_EOL_BEFORE) {
        this.lineEnded(chunk, i, onRow);
      } else {
        this.endOfData(chunk, onRow);
        return;
      }
    }
    if (this.segStart < end) this.carryOver(chunk, this.segStart, end);
  }

  private finish(onRow: CopyRowHandler): void {
    const empty = this.carry.subarray(0, 0);
    this.segStart = 0;
    // Where PostgreSQL looks ahead at the end of the data it reads a NUL pad byte, never consumed.
    if (this.phase === P_DOT || this.phase === P_DOT_CR) {
      if (!this.csv) throw this.bad('end-of-copy marker corrupt');
      // CSV: `\.` was data; rescan what followed the backslash, as notEndOfData does.
      const hadCr = this.phase === P_DOT_CR;
      this.phase = P_NORMAL;
      this.firstChar = false;
      this.step(DOT, 0);
      if (hadCr) this.step(CR, 0);
    }
    if (this.phase === P_CR_PEEK) {
      if (this.step(0, 0) !== A_EOL_BEFORE) throw new Error('unreachable: CR lookahead at end of data');
      this.lineEnded(empty, 0, onRow);
    }
    // A backslash as the last byte stays in the line (IF_NEED_REFILL_AND_EOF_BREAK).
    this.phase = P_NORMAL;
    if (this.csv && this.inQuote) throw this.bad('unterminated CSV quoted field');
    if (this.carryLen > 0) {
      this.termLen = 0;
      this.lineEnded(empty, 0, onRow);
    }
    this.phase = P_DONE;
  }

  /** One byte of the line scanner (CopyReadLineText), given what came before it. */
  private step(c: number, i: number): number {
    switch (this.phase) {
      case P_NORMAL:
        return this.stepNormal(c, i);
      case P_CR_PEEK:
        this.phase = P_NORMAL;
        if (c === LF) {
          this.eol = EOL_CRNL;
          this.termLen = 2;
          return A_EOL;
        }
        if (this.eol === EOL_CRNL) throw this.crInData();
        this.eol = EOL_CR;
        this.termLen = 1;
        return A_EOL_BEFORE;
      case P_BACKSLASH:
        if (c === DOT) {
          this.phase = P_DOT;
          return A_NEXT;
        }
        this.phase = P_NORMAL;
        this.firstChar = false;
        // Text: anything after a backslash is data, even a newline. CSV: the byte is ordinary input.
        return this.csv ? this.stepNormal(c, i) : A_NEXT;
      case P_DOT:
        if (this.eol === EOL_CRNL) {
          if (c === LF) {
            if (!this.csv) throw this.bad('end-of-copy marker does not match previous newline style');
            return this.notEndOfData(c, i);
          }
          if (c !== CR) {
            if (!this.csv) throw this.bad('end-of-copy marker corrupt');
            return this.notEndOfData(c, i);
          }
          this.phase = P_DOT_CR;
          return A_NEXT;
        }
        return this.markerEnd(c, i);
      case P_DOT_CR:
        return this.markerEnd(c, i);
      default:
        throw new Error(`unreachable: scanner phase ${this.phase}`);
    }
  }

  private stepNormal(c: number, i: number): number {
    if (this.csv) {
      if (this.inQuote && c === this.lineEscape) this.lastWasEsc = !this.lastWasEsc;
      if (c === this.quote && !this.lastWasEsc) this.inQuote = !this.inQuote;
      if (c !== this.lineEscape) this.lastWasEsc = false;
      if (this.inQuote && c === (this.eol === EOL_NL ? LF : CR)) this.lineNo++;
    }
    const quoted = this.csv && this.inQuote;
    if (c === CR && !quoted) {
      if (this.eol === EOL_UNKNOWN || this.eol === EOL_CRNL) {
        this.phase = P_CR_PEEK;
        return A_NEXT;
      }
      if (this.eol === EOL_NL) throw this.crInData();
      this.termLen = 1;
      return A_EOL;
    }
    if (c === LF && !quoted) {
      if (this.eol === EOL_CR || this.eol === EOL_CRNL) {
        throw this.csv
          ? this.bad('unquoted newline found in data', 'Use quoted CSV field to represent newline.')
          : this.bad('literal newline found in data', 'Use "\\n" to represent newline.');
      }
      this.eol = EOL_NL;
      this.termLen = 1;
      return A_EOL;
    }
    if (c === BACKSLASH && (!this.csv || this.firstChar)) {
      this.markerLen = this.carryLen + (i - this.segStart);
      this.phase = P_BACKSLASH;
      return A_NEXT;
    }
    this.firstChar = false;
    return A_NEXT;
  }

  /** The byte after `\.` (and after its \r in \r\n style): a newline of the data's style ends the data. */
  private markerEnd(c: number, i: number): number {
    if (c !== CR && c !== LF) {
      if (!this.csv) throw this.bad('end-of-copy marker corrupt');
      return this.notEndOfData(c, i);
    }
    if (
      ((this.eol === EOL_NL || this.eol === EOL_CRNL) && c !== LF) ||
      (this.eol === EOL_CR && c !== CR)
    ) {
      throw this.bad('end-of-copy marker does not match previous newline style');
    }
    return A_END_OF_DATA;
  }

  /**
   * CSV only: `\.` was not the end marker. PostgreSQL rewinds to just after the backslash, so the
   * dot (and the \r consumed in \r\n style) are scanned again as ordinary input, then this byte.
   */
  private notEndOfData(c: number, i: number): number {
    const hadCr = this.phase === P_DOT_CR;
    this.phase = P_NORMAL;
    this.firstChar = false;
    if (this.step(DOT, i) !== A_NEXT) throw new Error('unreachable: replayed dot ended a line');
    if (hadCr && this.step(CR, i) !== A_NEXT) throw new Error('unreachable: replayed CR ended a line');
    return this.step(c, i);
  }

  private crInData(): ProxyError {
    return this.csv
      ? this.bad('unquoted carriage return found in data', 'Use quoted CSV field to represent carriage return.')
      : this.bad('literal carriage return found in data', 'Use "\\r" to represent carriage return.');
  }

  private bad(message: string, hint?: string): ProxyError {
    return ProxyError.badCopyData(message, `COPY data, line ${this.lineNo}`, hint);
  }

  /** Keeps the start of a line that continues in the next chunk, within rowBytesMax. */
  private carryOver(chunk: Buffer, start: number, end: number): void {
    const need = this.carryLen + (end - start);
    this.checkRowBytes(need);
    if (need > this.carry.length) {
      const grown = Buffer.allocUnsafe(Math.min(Math.max(need, this.carry.length * 2, 256), this.rowBytesMax));
      this.carry.copy(grown, 0, 0, this.carryLen);
      this.carry = grown;
    }
    chunk.copy(this.carry, this.carryLen, start, end);
    this.carryLen = need;
  }

  private checkRowBytes(bytes: number): void {
    if (bytes > this.rowBytesMax) {
      throw ProxyError.limitExceeded(
        `COPY row at line ${this.lineNo} is longer than limits.copyRowBytesMax (${this.rowBytesMax} bytes)`,
        'Raise limits.copyRowBytesMax, or load the long rows another way.',
      );
    }
  }

  /** The line in [carry, chunk[segStart, end)) ended (terminator included). */
  private lineEnded(chunk: Buffer, end: number, onRow: CopyRowHandler): void {
    const start = this.segStart;
    this.segStart = end;
    this.emit(chunk, start, end, this.termLen, onRow);
    this.firstChar = true;
    this.inQuote = false;
    this.lastWasEsc = false;
    this.lineNo++;
  }

  /** The end-of-data marker is complete: the bytes before it on its line (if any) are the last row. */
  private endOfData(chunk: Buffer, onRow: CopyRowHandler): void {
    this.phase = P_DONE;
    this.sawEndMarker = true;
    if (this.markerLen === 0) return;
    const inChunk = this.markerLen - this.carryLen;
    if (inChunk >= 0) {
      this.emit(chunk, this.segStart, this.segStart + inChunk, 0, onRow);
    } else {
      // The backslash arrived in an earlier chunk: the row is a prefix of what was carried.
      this.carryLen = this.markerLen;
      this.emit(chunk, 0, 0, 0, onRow);
    }
  }

  private emit(chunk: Buffer, start: number, end: number, termLen: number, onRow: CopyRowHandler): void {
    let buf = chunk;
    let s = start;
    let e = end;
    if (this.carryLen > 0) {
      const total = this.carryLen + (end - start);
      this.checkRowBytes(total);
      buf = Buffer.allocUnsafe(total);
      this.carry.copy(buf, 0, 0, this.carryLen);
      chunk.copy(buf, this.carryLen, start, end);
      s = 0;
      e = total;
      this.carryLen = 0;
      // Do not keep a buffer sized for one huge row for the rest of the COPY.
      if (this.carry.length > CARRY_KEEP_BYTES) this.carry = Buffer.alloc(0);
    } else {
      this.checkRowBytes(end - start);
    }
    if (this.headerPending) {
      this.headerPending = false;
      this.headerBytes = Buffer.from(buf.subarray(s, e));
      return;
    }
    const key = this.keyColumn === null ? null : this.keys.read(buf, s, e - termLen, this.keyColumn);
    this.rowCount++;
    onRow(buf, s, e, key);
  }
}
