// CopySplitter must find the rows and key fields PostgreSQL 15 would find, whatever the CopyData
// boundaries. The expected rows of the hand-written cases were checked against a PostgreSQL 15.18
// server (COPY ... FROM STDIN over the protocol); the differential test encodes random rows the way
// PostgreSQL's COPY TO does (CopyAttributeOutText/CSV, written here independently of the splitter).

import t, { type Test } from 'tap';
import { CopySplitter, type CopySplitOptions } from '../../../proxy/executor/copy-split.js';
import { ProxyError, SqlState } from '../../../proxy/errors.js';

const TEXT: CopySplitOptions = {
  format: 'text',
  delimiter: '\t',
  quote: '"',
  escape: '"',
  header: false,
  nullString: '\\N',
  keyColumn: 1,
  rowBytesMax: 1 << 20,
};
const CSV: CopySplitOptions = { ...TEXT, format: 'csv', delimiter: ',', nullString: '' };

interface Row {
  bytes: string;
  key: string | null;
  /** The row was handed out as a view of the chunk passed to push. */
  view: boolean;
}

interface Result {
  rows: Row[];
  header: string | null;
  endMarker: boolean;
}

const bin = (s: string): Buffer => Buffer.from(s, 'latin1');

/** Feeds the chunks (each embedded in a larger buffer, so offsets matter), then ends the data. */
function run(opts: CopySplitOptions, chunks: Buffer[]): Result {
  const splitter = new CopySplitter(opts);
  const rows: Row[] = [];
  let current: Buffer | null = null;
  const onRow = (buf: Buffer, start: number, end: number, key: string | null): void => {
    rows.push({ bytes: buf.toString('latin1', start, end), key, view: buf === current });
  };
  for (const chunk of chunks) {
    const padded = Buffer.concat([bin('#\n"\\'), chunk, bin('\n"\\')]);
    current = padded;
    splitter.push(padded, 4, 4 + chunk.length, onRow);
  }
  current = null;
  splitter.end(onRow);
  if (splitter.rows !== rows.length) throw new Error("rows count disagrees with onRow calls");
  return { rows, header: splitter.header?.toString('latin1') ?? null, endMarker: splitter.endMarkerSeen };
}

function runString(opts: CopySplitOptions, data: string): Result {
  return run(opts, [bin(data)]);
}

/** Strips `view` for comparisons across different chunkings. */
function plain(r: Result): unknown {
  return { rows: r.rows.map((row) => ({ bytes: row.bytes, key: row.key })), header: r.header, endMarker: r.endMarker };
}

/** The SQLSTATE (or error class name) that fn throws, or null. */
function thrown(fn: () => unknown): string | null {
  try {
    fn();
    return null;
  } catch (err) {
    return err instanceof ProxyError ? err.sqlstate : err instanceof Error ? err.name : String(err);
  }
}

/** The error thrown by running data, or null. */
function errorOf(opts: CopySplitOptions, chunks: Buffer[]): ProxyError | null {
  try {
    run(opts, chunks);
    return null;
  } catch (err) {
    if (err instanceof ProxyError) return err;
    throw err;
  }
}

function splitAt(data: Buffer, ...offsets: number[]): Buffer[] {
  const out: Buffer[] = [];
  let prev = 0;
  for (const o of offsets) {
    out.push(data.subarray(prev, o));
    prev = o;
  }
  out.push(data.subarray(prev));
  return out;
}

/** Compares every two-way and (for short data) three-way split with the one-chunk result. */
function everySplit(t: Test, opts: CopySplitOptions, data: string): void {
  const buf = bin(data);
  const whole = plain(run(opts, [buf]));
  const failures: string[] = [];
  for (let i = 0; i <= buf.length; i++) {
    const got = plain(run(opts, splitAt(buf, i)));
    if (JSON.stringify(got) !== JSON.stringify(whole)) failures.push(`split at ${i}`);
    if (buf.length <= 80) {
      for (let j = i; j <= buf.length; j++) {
        const got3 = plain(run(opts, splitAt(buf, i, j)));
        if (JSON.stringify(got3) !== JSON.stringify(whole)) failures.push(`split at ${i},${j}`);
      }
    }
  }
  const bytewise = plain(run(opts, [...buf].map((b) => Buffer.from([b]))));
  if (JSON.stringify(bytewise) !== JSON.stringify(whole)) failures.push('one byte per chunk');
  t.strictSame(failures, [], `${JSON.stringify(data).slice(0, 60)}: every split gives the same rows`);
}

/** The same error at every split offset. */
function everySplitFails(t: Test, opts: CopySplitOptions, data: string, code: string, message: RegExp): void {
  const buf = bin(data);
  const failures: string[] = [];
  for (let i = 0; i <= buf.length; i++) {
    const err = errorOf(opts, splitAt(buf, i));
    if (err === null || err.sqlstate !== code || !message.test(err.message)) {
      failures.push(`split at ${i}: ${err === null ? 'no error' : `${err.sqlstate} ${err.message}`}`);
    }
  }
  t.strictSame(failures, [], `${JSON.stringify(data).slice(0, 60)}: ${code} at every split`);
}

void t.test('text format: rows, keys and escapes', async (t) => {
  const data = 'a\tk1\nb\t\\N\nc\t\\x41\\101\\n\\\\x\\t\nd\tx\\\ty\te\n\\N\t\n';
  const r = runString(TEXT, data);
  t.strictSame(
    r.rows.map((row) => [row.bytes, row.key]),
    [
      ['a\tk1\n', 'k1'],
      ['b\t\\N\n', null],
      ['c\t\\x41\\101\\n\\\\x\\t\n', 'AA\n\\x\t'],
      ['d\tx\\\ty\te\n', 'x\ty'],
      ['\\N\t\n', ''],
    ],
  );
  t.ok(r.rows.every((row) => row.view), 'rows inside one chunk are views of it');
  everySplit(t, TEXT, data);

  const odd = { ...TEXT, keyColumn: 0 };
  // \x without hex digits is a literal x; octal takes at most three digits; \q stands for q; a
  // backslash-newline is a data newline; a trailing backslash is dropped.
  t.strictSame(
    runString(odd, '\\xg\n\\1010\n\\q.x\\\\.\na\\\nb\nab\\').rows.map((row) => row.key),
    ['xg', 'A0', 'q.x\\.', 'a\nb', 'ab'],
  );
  everySplit(t, odd, '\\xg\n\\1010\n\\q.x\\\\.\na\\\nb\nab\\');
  // Multi-byte UTF-8 keys, also when a character is cut between chunks.
  const utf8 = Buffer.from('1\tgrüße ✓ 😀\n2\t\\303\\274\n', 'utf8');
  const keys = (chunks: Buffer[]): unknown => run(TEXT, chunks).rows.map((row) => row.key);
  for (let i = 0; i <= utf8.length; i++) t.strictSame(keys(splitAt(utf8, i)), ['grüße ✓ 😀', 'ü']);
  // A NULL string that is not the default; the comparison is with the raw (escaped) bytes.
  const nulls = { ...TEXT, keyColumn: 0, nullString: 'NULL' };
  t.strictSame(runString(nulls, 'NULL\n\\NULL\nnull\n').rows.map((row) => row.key), [null, 'NULL', 'null']);
  // An empty line is one empty field.
  t.strictSame(runString({ ...TEXT, keyColumn: 0 }, '\n').rows.map((row) => row.key), ['']);
  t.strictSame(runString({ ...TEXT, keyColumn: 0, nullString: '' }, '\n').rows.map((row) => row.key), [null]);
  // Another delimiter, and a delimiter that is also a hex digit: \xAA consumes it.
  t.strictSame(runString({ ...TEXT, delimiter: '|' }, 'a|b\\|c|d\n').rows.map((row) => row.key), ['b|c']);
  t.strictSame(runString({ ...TEXT, delimiter: 'A' }, '\\xAAAk\n').rows.map((row) => row.key), ['k']);
});

void t.test('line endings: \\n, \\r\\n and \\r, fixed by the first line', async (t) => {
  const crlf = 'a\tk1\r\nb\tk2\r\nc\tk3';
  t.strictSame(
    runString(TEXT, crlf).rows.map((row) => [row.bytes, row.key]),
    [['a\tk1\r\n', 'k1'], ['b\tk2\r\n', 'k2'], ['c\tk3', 'k3']],
    'the last row may lack a newline',
  );
  everySplit(t, TEXT, crlf);
  const cr = 'a\tk1\rb\tk2\rc\tk3\r';
  t.strictSame(runString(TEXT, cr).rows.map((row) => row.bytes), ['a\tk1\r', 'b\tk2\r', 'c\tk3\r']);
  everySplit(t, TEXT, cr);
  // A lone \r at the very end decides the style only at the end of the data.
  t.strictSame(run(TEXT, [bin('a\tk\r')]).rows.map((row) => row.bytes), ['a\tk\r']);
  everySplitFails(t, TEXT, 'a\tk\r\nb\tk\n', '22P04', /^literal newline found in data$/);
  everySplitFails(t, TEXT, 'a\tk\nb\tk\r\n', '22P04', /^literal carriage return found in data$/);
  everySplitFails(t, TEXT, 'a\tk\r\nb\tk\rc\tk\r\n', '22P04', /^literal carriage return found in data$/);
  everySplitFails(t, CSV, 'a,k\r\nb,k\n', '22P04', /^unquoted newline found in data$/);
  everySplitFails(t, CSV, 'a,k\nb,k\r\n', '22P04', /^unquoted carriage return found in data$/);
  // An escaped \r is data, the \n after it ends the line, and fixes the style to \n.
  everySplitFails(t, { ...TEXT, keyColumn: 0 }, 'a\\\r\nb\r\n', '22P04', /^literal carriage return found in data$/);
  const err = errorOf(TEXT, [bin('a\tk\nb\tk\r\n')]);
  t.equal(err?.fields.detail, 'COPY data, line 2');
  t.equal(err?.fields.hint, 'Use "\\r" to represent carriage return.');
});

void t.test('CSV: quotes, doubled quotes, ESCAPE, newlines in quotes, NULL', async (t) => {
  const data = 'a,"k,1"\nb,\nc,""\nd,"x""y"\ne,"multi\nline\r\n"\nf,x"y,z"w,tail\n"g\nh",plain\n';
  t.strictSame(
    runString(CSV, data).rows.map((row) => [row.bytes, row.key]),
    [
      ['a,"k,1"\n', 'k,1'],
      ['b,\n', null],
      ['c,""\n', ''],
      ['d,"x""y"\n', 'x"y'],
      ['e,"multi\nline\r\n"\n', 'multi\nline\r\n'],
      ['f,x"y,z"w,tail\n', 'xy,zw'],
      ['"g\nh",plain\n', 'plain'],
    ],
  );
  everySplit(t, CSV, data);
  const esc = { ...CSV, quote: "'", escape: '\\' };
  const escData = "a,'it\\'s',x\nb,'back\\\\',y\nc,'a\\b',z\nd,'\\'\n',w\n";
  t.strictSame(runString(esc, escData).rows.map((row) => row.key), ["it's", 'back\\', 'a\\b', "'\n"]);
  everySplit(t, esc, escData);
  // Quoted text equal to the NULL string is a value; FORCE_NULL is the caller's to apply.
  const nulls = { ...CSV, nullString: 'NA' };
  t.strictSame(runString(nulls, 'a,NA\nb,"NA"\nc,\n').rows.map((row) => row.key), [null, 'NA', '']);
  everySplitFails(t, CSV, 'a,"unterminated\n', '22P04', /^unterminated CSV quoted field$/);
  everySplitFails(t, CSV, 'a,b\nc,"d\ne', '22P04', /^unterminated CSV quoted field$/);
  // Only the key field and those before it are parsed: extra columns are the shard's to report.
  t.strictSame(runString({ ...CSV, keyColumn: 0 }, 'k,x,y,z\n').rows.map((row) => row.key), ['k']);
  // A quote opened anywhere in a field quotes the newline after it, as PostgreSQL's line reader does.
  everySplitFails(t, { ...CSV, keyColumn: 0 }, 'k,x"y\n', '22P04', /^unterminated CSV quoted field$/);
});

void t.test('HEADER: the first line is dropped and kept aside', async (t) => {
  const data = 'id,name\r\n1,"a\r\nb"\r\n2,c\r\n';
  const r = runString({ ...CSV, header: true, keyColumn: 0 }, data);
  t.equal(r.header, 'id,name\r\n');
  t.strictSame(r.rows.map((row) => row.key), ['1', '2']);
  everySplit(t, { ...CSV, header: true, keyColumn: 0 }, data);
  const text = runString({ ...TEXT, header: true }, 'h1\th2\n1\t2\n');
  t.equal(text.header, 'h1\th2\n');
  t.strictSame(text.rows.map((row) => row.key), ['2']);
  const none = runString({ ...TEXT, header: true }, '');
  t.equal(none.header, null, 'no data: no header line was dropped');
  t.strictSame(none.rows, []);
  // The header line is read like any line: a text `\.` in it ends the data (no rows).
  t.strictSame(runString({ ...TEXT, header: true }, 'h\\.\nx\ty\n').rows, []);
});

void t.test('end-of-data marker', async (t) => {
  const text = 'a\tk1\n\\.\nignored\tk2\nand "this\n';
  const r = runString(TEXT, text);
  t.strictSame(r.rows.map((row) => row.key), ['k1']);
  t.ok(r.endMarker);
  everySplit(t, TEXT, text);
  // Text: `\.` ends the data anywhere on a line; what precedes it is the last row, sent without newline.
  const mid = runString({ ...TEXT, keyColumn: 0 }, 'x\nabc\\.\nz\n');
  t.strictSame(mid.rows.map((row) => [row.bytes, row.key]), [['x\n', 'x'], ['abc', 'abc']]);
  everySplit(t, { ...TEXT, keyColumn: 0 }, 'x\nabc\\.\nz\n');
  everySplit(t, TEXT, 'x\tk\r\n\\.\r\nz\n');
  everySplit(t, TEXT, 'x\tk\r\\.\rz\n');
  everySplit(t, TEXT, '\\.\r\n');
  everySplitFails(t, TEXT, 'x\tk\n\\.', '22P04', /^end-of-copy marker corrupt$/);
  everySplitFails(t, TEXT, 'x\tk\nabc\\.x\n', '22P04', /^end-of-copy marker corrupt$/);
  everySplitFails(t, TEXT, 'x\tk\r\n\\.\n', '22P04', /^end-of-copy marker does not match previous newline style$/);
  everySplitFails(t, TEXT, 'x\tk\r\\.\n', '22P04', /^end-of-copy marker does not match previous newline style$/);
  everySplitFails(t, TEXT, 'x\tk\r\n\\.x', '22P04', /^end-of-copy marker corrupt$/);
  // \\. is an escaped backslash and a dot, not the marker.
  t.strictSame(runString({ ...TEXT, keyColumn: 0 }, '\\\\.\n').rows.map((row) => row.key), ['\\.']);

  // CSV: `\.` is the marker only alone on its line; elsewhere (and at the very end) it is data.
  const csv = { ...CSV, keyColumn: 0 };
  t.strictSame(runString(csv, 'x\n\\.\nmore\n').rows.map((row) => row.key), ['x']);
  t.strictSame(runString(csv, 'x\n\\.').rows.map((row) => [row.bytes, row.key]), [['x\n', 'x'], ['\\.', '\\.']]);
  t.strictSame(runString(csv, '\\.x,y\n"\\."\n').rows.map((row) => row.key), ['\\.x', '\\.']);
  t.strictSame(runString(CSV, 'x,y\n\\.,"q\nq"\n').rows.map((row) => row.key), ['y', 'q\nq']);
  for (const data of ['x\n\\.\nmore\n', 'x\n\\.', '\\.x,y\n"\\."\n', 'x\r\n\\.\r\nz\r\n', 'x\r\n\\.']) {
    everySplit(t, csv, data);
  }
  everySplitFails(t, csv, 'x\r\n\\.\nmore\r\n', '22P04', /^unquoted newline found in data$/);
  everySplitFails(t, csv, 'x\r\n\\.\r\r\n', '22P04', /^end-of-copy marker does not match previous newline style$/);
  everySplitFails(t, csv, 'x\r\n\\.\rx\r\n', '22P04', /^unquoted carriage return found in data$/);
  everySplitFails(t, csv, 'x\r\n\\.\r', '22P04', /^unquoted carriage return found in data$/);

  // Bytes after the marker are ignored, also in later pushes and at end().
  const splitter = new CopySplitter(TEXT);
  const keys: (string | null)[] = [];
  const onRow = (_b: Buffer, _s: number, _e: number, key: string | null): void => void keys.push(key);
  splitter.push(bin('a\tk\n\\.\n'), 0, 7, onRow);
  splitter.push(bin('"unterminated\tk\r'), 0, 16, onRow);
  splitter.end(onRow);
  t.strictSame(keys, ['k']);
});

void t.test('reference tables, missing key fields, options', async (t) => {
  const ref = runString({ ...TEXT, keyColumn: null }, 'a\tb\nc\n');
  t.strictSame(ref.rows.map((row) => [row.bytes, row.key]), [['a\tb\n', null], ['c\n', null]]);
  const missing = errorOf(TEXT, [bin('a\tk\nonly\n')]);
  t.equal(missing?.sqlstate, '22P04');
  t.equal(missing?.message, 'missing data for column 2, the shard key');
  t.equal(missing?.fields.detail, 'COPY data, line 2');
  t.equal(errorOf({ ...CSV, keyColumn: 2 }, [bin('a,"b,c"\n')])?.sqlstate, '22P04');
  t.equal(thrown(() => new CopySplitter({ ...TEXT, delimiter: '||' })), '0A000');
  t.equal(thrown(() => new CopySplitter({ ...TEXT, delimiter: '§' })), '0A000', 'one character, two bytes');
  t.equal(thrown(() => new CopySplitter({ ...TEXT, delimiter: '\\' })), '0A000');
  t.equal(thrown(() => new CopySplitter({ ...CSV, delimiter: '"' })), '0A000');
  t.equal(thrown(() => new CopySplitter({ ...TEXT, nullString: 'a\nb' })), '0A000');
  t.throws(() => new CopySplitter({ ...TEXT, keyColumn: -1 }), RangeError);
  t.throws(() => new CopySplitter({ ...TEXT, rowBytesMax: 0 }), RangeError);
  t.equal(ProxyError.badCopyData('x').sqlstate, SqlState.badCopyFileFormat);
  t.equal(SqlState.badCopyFileFormat, '22P04');
});

void t.test('rowBytesMax: rows longer than the limit fail with 54000, however they arrive', async (t) => {
  const opts = { ...TEXT, rowBytesMax: 10 };
  // 10 bytes with the newline: accepted, in one chunk or byte by byte.
  everySplit(t, opts, '1234\tk789\n12\tk\n');
  everySplitFails(t, opts, '1\tk\n12345\tk7890\n', '54000', /^COPY row at line 2 is longer than limits\.copyRowBytesMax \(10 bytes\)$/);
  everySplitFails(t, opts, '12345\tk7890', '54000', /longer than/);
  everySplitFails(t, { ...opts, header: true }, '12345678901\n1\tk\n', '54000', /line 1/);
  const err = errorOf(opts, [bin('12345\tk7890')]);
  t.match(err?.fields.hint, /limits\.copyRowBytesMax/);
  t.notMatch(err?.message ?? '', /k7890/, 'the row itself is not in the message');

  // A long row spanning many chunks is assembled once; the splitter fails as soon as it is too long.
  const splitter = new CopySplitter(opts);
  const noRow = (): void => {
    t.fail('no row expected');
  };
  splitter.push(bin('123456'), 0, 6, noRow);
  t.equal(thrown(() => splitter.push(bin('78901'), 0, 5, noRow)), '54000');
  t.equal(thrown(() => splitter.push(bin('\n'), 0, 1, noRow)), '54000', 'a failed splitter keeps failing');
  t.equal(thrown(() => splitter.end(noRow)), '54000');
});

void t.test('rows spanning chunks are owned copies; others are views', async (t) => {
  const r = run(TEXT, [bin('a\tk1\nb\tk'), bin('2\nc\tk3\n')]);
  t.strictSame(r.rows.map((row) => [row.bytes, row.key, row.view]), [
    ['a\tk1\n', 'k1', true],
    ['b\tk2\n', 'k2', false],
    ['c\tk3\n', 'k3', true],
  ]);
  // The assembled row stays intact when the caller reuses its chunk buffers.
  const splitter = new CopySplitter(TEXT);
  const kept: Buffer[] = [];
  const chunk = Buffer.alloc(8);
  const feed = (s: string): void => {
    chunk.write(s, 'latin1');
    splitter.push(chunk, 0, s.length, (buf, start, end) => kept.push(Buffer.from(buf.subarray(start, end))));
  };
  feed('x\tlong');
  feed('er\n');
  t.equal(kept[0]?.toString('latin1'), 'x\tlonger\n');
});

// ---------------------------------------------------------------------------------------------------
// Differential test: random tables encoded as PostgreSQL's COPY TO would, split at random points.

/** Deterministic PRNG so failures reproduce (mulberry32). */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let x = Math.imul(a ^ (a >>> 15), 1 | a);
    x = (x + Math.imul(x ^ (x >>> 7), 61 | x)) ^ x;
    return ((x ^ (x >>> 14)) >>> 0) / 4294967296;
  };
}

const ALPHABET = ['a', 'b', 'Z', '0', '7', ' ', ',', ';', '|', '\t', '\n', '\r', '"', "'", '\\', '.', 'N', 'x', 'é', '✓', '😀', '\b', '\f', '\v', '\x01'];

function randomValue(rand: () => number): string | null {
  const r = rand();
  if (r < 0.12) return null;
  if (r < 0.18) return '';
  if (r < 0.22) return '\\.';
  if (r < 0.25) return '\\N';
  const n = 1 + Math.floor(rand() * 8);
  let s = '';
  for (let i = 0; i < n; i++) s += ALPHABET[Math.floor(rand() * ALPHABET.length)]!;
  return s;
}

/**
 * CopyAttributeOutText, with the equivalent octal and hex escapes used at random. Those escape all the
 * bytes of a character or none: PostgreSQL checks the encoding of the data before de-escaping it.
 */
function encodeText(value: string, delim: string, rand: () => number): string {
  let out = '';
  for (const ch of value) {
    const bytes = [...Buffer.from(ch, 'utf8')];
    const roll = rand();
    if (roll < 0.05) {
      out += bytes.map((b) => '\\' + b.toString(8).padStart(3, '0')).join('');
    } else if (roll < 0.1) {
      out += bytes.map((b) => '\\x' + b.toString(16).padStart(2, '0')).join('');
    } else if (ch === '\\' || ch === delim) {
      out += '\\' + ch;
    } else if (bytes.length === 1 && bytes[0]! < 0x20) {
      const named: Record<number, string> = { 8: 'b', 12: 'f', 10: 'n', 13: 'r', 9: 't', 11: 'v' };
      const name = named[bytes[0]!];
      out += name === undefined ? ch : '\\' + name;
    } else {
      out += Buffer.from(ch, 'utf8').toString('latin1');
    }
  }
  return out;
}

/** CopyAttributeOutCSV (with FORCE_QUOTE at random). Returns latin1-of-utf8 bytes, like encodeText. */
function encodeCsv(value: string, o: CopySplitOptions, singleColumn: boolean, rand: () => number): string {
  const s = Buffer.from(value, 'utf8').toString('latin1');
  const needsQuote =
    rand() < 0.1 ||
    value === o.nullString ||
    (singleColumn && value === '\\.') ||
    [...s].some((c) => c === o.delimiter || c === o.quote || c === '\n' || c === '\r');
  if (!needsQuote) return s;
  let out = o.quote;
  for (const c of s) out += c === o.quote || c === o.escape ? o.escape + c : c;
  return out + o.quote;
}

interface Dataset {
  opts: CopySplitOptions;
  data: string;
  lines: string[];
  keys: (string | null)[];
  header: string | null;
}

function dataset(rand: () => number): Dataset {
  const csv = rand() < 0.5;
  const pick = <T>(xs: T[]): T => xs[Math.floor(rand() * xs.length)]!;
  const quote = pick(['"', "'"]);
  const opts: CopySplitOptions = {
    format: csv ? 'csv' : 'text',
    delimiter: csv ? pick([',', ';', '\t', '|']) : pick(['\t', ',', '|']),
    quote,
    escape: csv ? pick([quote, '\\']) : quote,
    header: rand() < 0.3,
    nullString: csv ? pick(['', 'NULL']) : '\\N',
    keyColumn: 0,
    rowBytesMax: 1 << 20,
  };
  const cols = 1 + Math.floor(rand() * 4);
  opts.keyColumn = Math.floor(rand() * cols);
  const eol = pick(['\n', '\r\n', '\r']);
  const lines: string[] = [];
  const keys: (string | null)[] = [];
  const encode = (v: string | null): string => {
    if (v === null) return opts.nullString;
    return csv ? encodeCsv(v, opts, cols === 1, rand) : encodeText(v, opts.delimiter, rand);
  };
  const header = opts.header ? Array.from({ length: cols }, (_, i) => `c${i}`).join(opts.delimiter) + eol : null;
  const rows = Math.floor(rand() * 12);
  for (let r = 0; r < rows; r++) {
    const values = Array.from({ length: cols }, () => randomValue(rand));
    const line = values.map(encode).join(opts.delimiter);
    lines.push(line + eol);
    keys.push(values[opts.keyColumn]!);
  }
  let data = (header ?? '') + lines.join('');
  const ending = rand();
  if (ending < 0.25) {
    data += '\\.' + eol + 'after the end marker,"\\.\r\n';
  } else if (ending < 0.5 && lines.length > 0 && lines.at(-1) !== eol) {
    // The last row without its newline (not an empty line: that would be no row at all).
    lines[lines.length - 1] = lines.at(-1)!.slice(0, -eol.length);
    data = data.slice(0, -eol.length);
  }
  return { opts, data, lines, keys, header };
}

void t.test('differential: random rows encoded like PostgreSQL come back, split anywhere', async (t) => {
  const rand = prng(20240615);
  const failures: string[] = [];
  for (let n = 0; n < 600; n++) {
    const ds = dataset(rand);
    const buf = bin(ds.data);
    const cuts: number[] = [];
    const pieces = Math.floor(rand() * 6);
    for (let i = 0; i < pieces; i++) cuts.push(Math.floor(rand() * (buf.length + 1)));
    cuts.sort((a, b) => a - b);
    let got: Result;
    try {
      got = run(ds.opts, splitAt(buf, ...cuts));
    } catch (err) {
      failures.push(`#${n} ${JSON.stringify(ds.data)}: ${String(err)}`);
      continue;
    }
    const want = { rows: ds.lines.map((bytes, i) => ({ bytes, key: ds.keys[i]! })), header: ds.header };
    const have = { rows: got.rows.map((r) => ({ bytes: r.bytes, key: r.key })), header: got.header };
    if (JSON.stringify(have) !== JSON.stringify(want)) {
      failures.push(`#${n} ${JSON.stringify(ds.opts)} ${JSON.stringify(ds.data)} cuts ${cuts.join(',')}`);
    }
    if (failures.length > 5) break;
  }
  t.strictSame(failures, []);
});
