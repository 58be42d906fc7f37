// Frontend message decoders, against frames assembled by hand here. Every frame is decoded from
// inside a larger buffer whose following bytes contain NULs, so a decoder that reads past `end`
// gets caught, and every truncation of every valid frame is tried.

import t from 'tap';
import { ProxyError } from '../../../proxy/errors.js';
import {
  decodeBindNames,
  decodeClose,
  decodeCopyFail,
  decodeDescribe,
  decodeExecute,
  decodeFunctionCallOid,
  decodeParse,
  decodePassword,
  decodeQuery,
  decodeSaslInitialResponse,
  decodeSaslResponse,
  decodeStartupPacket,
  parseStartupOptions,
} from '../../../proxy/protocol/client-messages.js';
import { cstr, embedFrontendFrame as embed, i16, i32, startup, typed, u32 } from '../../helpers/wire-bytes.js';

type Decoder<R> = (buf: Buffer, start: number, end: number) => R;

function decode<R>(frame: Buffer, fn: Decoder<R>): R {
  const { buf, start, end } = embed(frame);
  return fn(buf, start, end);
}

/**
 * Every proper prefix of frame must either throw a 08P01 ProxyError or, when `consistent` is given,
 * decode to something it accepts. Returns the failures (empty when all is well).
 */
function truncations<R>(frame: Buffer, fn: Decoder<R>, consistent?: (result: R, length: number) => boolean): string[] {
  const { buf, start } = embed(frame);
  const failures: string[] = [];
  for (let length = 0; length < frame.length; length++) {
    try {
      const result = fn(buf, start, start + length);
      if (consistent === undefined) failures.push(`length ${length}: decoded a truncated frame`);
      else if (!consistent(result, length)) failures.push(`length ${length}: inconsistent result ${JSON.stringify(result)}`);
    } catch (err) {
      if (!(err instanceof ProxyError)) failures.push(`length ${length}: threw ${String(err)}`);
      else if (err.sqlstate !== '08P01') failures.push(`length ${length}: sqlstate ${err.sqlstate}`);
    }
  }
  return failures;
}

function violation(message: RegExp) {
  return { name: 'ProxyError', sqlstate: '08P01', severity: 'FATAL', message };
}
function syntaxError(message: string | RegExp) {
  return { name: 'ProxyError', sqlstate: '42601', severity: 'FATAL', message };
}

// ---------------------------------------------------------------------------------------------
// Startup packets

const PROTOCOL_3_0 = 196608;

void t.test('decodeStartupPacket: StartupMessage', async (t) => {
  const frame = startup(
    i32(PROTOCOL_3_0),
    cstr('user'),
    cstr('alice'),
    cstr('database'),
    cstr('shop'),
    cstr('options'),
    cstr('-c search_path=a,b'),
    cstr('application_name'),
    cstr('naïve ✓'),
    cstr(''),
  );
  const p = decode(frame, decodeStartupPacket);
  t.same(p, {
    kind: 'startup',
    protocolMajor: 3,
    protocolMinor: 0,
    params: new Map([
      ['user', 'alice'],
      ['database', 'shop'],
      ['options', '-c search_path=a,b'],
      ['application_name', 'naïve ✓'],
    ]),
  });
  if (p.kind === 'startup') t.same([...p.params.keys()], ['user', 'database', 'options', 'application_name'], 'order kept');
  t.same(truncations(frame, decodeStartupPacket), []);

  const minimal = startup(i32(PROTOCOL_3_0), cstr(''));
  t.same(decode(minimal, decodeStartupPacket), { kind: 'startup', protocolMajor: 3, protocolMinor: 0, params: new Map() });

  const newer = decode(startup(i32((3 << 16) | 2), cstr('user'), cstr('u'), cstr('_pq_.x'), cstr('1'), cstr('')), decodeStartupPacket);
  t.same(newer, { kind: 'startup', protocolMajor: 3, protocolMinor: 2, params: new Map([['user', 'u'], ['_pq_.x', '1']]) }, 'protocol 3.2 is reported, not refused');

  const dup = decode(startup(i32(PROTOCOL_3_0), cstr('user'), cstr('a'), cstr('user'), cstr('b'), cstr('')), decodeStartupPacket);
  t.same(dup.kind === 'startup' ? dup.params.get('user') : undefined, 'b', 'a repeated key keeps its last value');

  const emptyValue = decode(startup(i32(PROTOCOL_3_0), cstr('options'), cstr(''), cstr('')), decodeStartupPacket);
  t.same(emptyValue.kind === 'startup' ? emptyValue.params : null, new Map([['options', '']]), 'empty value');

  const badUtf8 = decode(startup(i32(PROTOCOL_3_0), cstr('user'), Buffer.from([0xc3, 0x28, 0xff, 0]), cstr('')), decodeStartupPacket);
  t.equal(badUtf8.kind === 'startup' ? badUtf8.params.get('user') : undefined, '\ufffd(\ufffd', 'invalid UTF-8 decodes leniently');
});

void t.test('decodeStartupPacket: malformed StartupMessage', async (t) => {
  const layout = violation(/^invalid startup packet layout: expected terminator as last byte$/);
  t.throws(() => decode(startup(i32(PROTOCOL_3_0)), decodeStartupPacket), layout, 'no terminator at all');
  t.throws(() => decode(startup(i32(PROTOCOL_3_0), cstr('user'), cstr('a')), decodeStartupPacket), layout, 'pairs but no terminator');
  t.throws(() => decode(startup(i32(PROTOCOL_3_0), cstr('user'), cstr('')), decodeStartupPacket), layout, 'name whose value is the terminator');
  t.throws(() => decode(startup(i32(PROTOCOL_3_0), cstr('user')), decodeStartupPacket), layout, 'name without value');
  t.throws(() => decode(startup(i32(PROTOCOL_3_0), cstr('user'), Buffer.from('alice', 'latin1')), decodeStartupPacket), layout, 'value without NUL');
  t.throws(() => decode(startup(i32(PROTOCOL_3_0), cstr(''), Buffer.from('x')), decodeStartupPacket), layout, 'bytes after the terminator');
  t.throws(() => decode(startup(i32(PROTOCOL_3_0), cstr(''), cstr('')), decodeStartupPacket), layout, 'two terminators');
  t.throws(() => decode(startup(), decodeStartupPacket), violation(/invalid length of startup packet: 4 bytes/), 'no protocol code');
  t.throws(() => decode(startup(Buffer.from([0, 3])), decodeStartupPacket), violation(/invalid length of startup packet/), 'half a protocol code');
});

void t.test('decodeStartupPacket: protocol versions', async (t) => {
  t.throws(
    () => decode(startup(i32(2 << 16), cstr('')), decodeStartupPacket),
    violation(/^unsupported frontend protocol 2\.0: server supports 3\.0 to 3\.0$/),
    'protocol 2.0',
  );
  t.throws(() => decode(startup(i32(4 << 16), cstr('')), decodeStartupPacket), violation(/unsupported frontend protocol 4\.0:/), 'protocol 4.0');
  t.throws(
    () => decode(startup(i32((1234 << 16) | 5681)), decodeStartupPacket),
    violation(/unsupported frontend protocol 1234\.5681: server supports 3\.0 to 3\.0/),
    'unknown special request code',
  );
  t.throws(() => decode(startup(i32(-1)), decodeStartupPacket), violation(/unsupported frontend protocol 65535\.65535/), 'code with the high bit set');
});

void t.test('decodeStartupPacket: SSLRequest, GSSENCRequest, CancelRequest', async (t) => {
  const ssl = startup(i32(80877103));
  t.equal(ssl.toString('hex'), '0000000804d2162f', 'hand-built SSLRequest matches the documented bytes');
  t.same(decode(ssl, decodeStartupPacket), { kind: 'ssl' });
  t.same(truncations(ssl, decodeStartupPacket), []);
  t.throws(() => decode(startup(i32(80877103), Buffer.from([0])), decodeStartupPacket), violation(/SSL request: 9 bytes, expected 8/));

  const gss = startup(i32(80877104));
  t.same(decode(gss, decodeStartupPacket), { kind: 'gssenc' });
  t.throws(() => decode(startup(i32(80877104), i32(0)), decodeStartupPacket), violation(/GSSENC request: 12 bytes, expected 8/));

  const cancel = startup(i32(80877102), i32(4242), u32(0xdeadbeef));
  t.same(decode(cancel, decodeStartupPacket), { kind: 'cancel', processId: 4242, secretKey: 0xdeadbeef }, 'keys are unsigned');
  t.same(truncations(cancel, decodeStartupPacket), []);
  t.throws(() => decode(startup(i32(80877102), i32(1)), decodeStartupPacket), violation(/cancel request: 12 bytes, expected 16/));
  t.throws(() => decode(startup(i32(80877102), i32(1), i32(2), i32(3)), decodeStartupPacket), violation(/cancel request: 20 bytes, expected 16/));
});

// ---------------------------------------------------------------------------------------------
// options

void t.test('parseStartupOptions: accepted forms', async (t) => {
  const cases: [string, [string, string][]][] = [
    ['', []],
    ['   \t ', []],
    ['-c search_path=a,b -c statement_timeout=5s', [['search_path', 'a,b'], ['statement_timeout', '5s']]],
    ['--application-name=x', [['application_name', 'x']]],
    ['-c x=a\\ b', [['x', 'a b']]],
    ['-csearch_path=public', [['search_path', 'public']]],
    ['-c DateStyle=ISO', [['datestyle', 'ISO']]],
    ['--DateStyle=ISO,\\ MDY', [['datestyle', 'ISO, MDY']]],
    ['-c work-mem=4MB', [['work_mem', '4MB']]],
    ['-c a=1=2', [['a', '1=2']]],
    ['-c a=', [['a', '']]],
    ['-c a=1 -c a=2', [['a', '2']]],
    ['  -c\ta=1\n\n--b=2\r\f\v-c  c=3  ', [['a', '1'], ['b', '2'], ['c', '3']]],
    ['-c x=back\\\\slash', [['x', 'back\\slash']]],
    ['-c x=trailing\\', [['x', 'trailing']]],
    ['-c x=\\a\\b', [['x', 'ab']]],
    ['-c\\ x=1', [[' x', '1']]],
    ['-c x=a\\\tb', [['x', 'a\tb']]],
    ['-c x=ü', [['x', 'ü']]],
    ['-c a=1 --', [['a', '1']]],
  ];
  for (const [input, want] of cases) {
    t.same(parseStartupOptions(input), new Map(want), JSON.stringify(input));
  }
});

void t.test('parseStartupOptions: refused forms', async (t) => {
  t.throws(() => parseStartupOptions('-d 5'), syntaxError(/^invalid command-line argument for server process: -d$/), '-d 5');
  t.throws(() => parseStartupOptions('-c a=1 -B 100'), syntaxError(/server process: -B$/), 'unknown switch after a good one');
  t.throws(() => parseStartupOptions('foo'), syntaxError(/server process: foo$/), 'bare word');
  t.throws(() => parseStartupOptions('-c a=1 stray'), syntaxError(/server process: stray$/), 'stray word');
  t.throws(() => parseStartupOptions('-c'), syntaxError(/server process: -c$/), '-c without argument');
  t.throws(() => parseStartupOptions('-c search_path'), syntaxError(/^-c search_path requires a value$/), '-c without =');
  t.throws(() => parseStartupOptions('--search_path'), syntaxError(/^--search_path requires a value$/), '-- without =');
  t.throws(() => parseStartupOptions('-c =x'), syntaxError(/has no parameter name/), 'empty name');
  t.throws(() => parseStartupOptions('-- -c a=1'), syntaxError(/server process: -c$/), 'word after --');
  t.throws(() => parseStartupOptions('-'), syntaxError(/server process: -$/), 'lone dash');
  try {
    parseStartupOptions('-d 5');
  } catch (err) {
    t.ok(err instanceof ProxyError, 'is a ProxyError');
    if (err instanceof ProxyError) t.match(err.fields.hint ?? '', /-c name=value/, 'hint says what is accepted');
  }
});

// ---------------------------------------------------------------------------------------------
// Query phase

void t.test('decodeQuery', async (t) => {
  const frame = typed('Q', cstr('SELECT 1; SELECT \'✓\''));
  t.equal(decode(frame, decodeQuery), "SELECT 1; SELECT '✓'");
  t.equal(decode(typed('Q', cstr('')), decodeQuery), '', 'empty query string');
  t.equal(decode(typed('Q', Buffer.from([0x80, 0x41, 0])), decodeQuery), '\ufffdA', 'invalid UTF-8 decodes leniently');
  t.same(truncations(frame, decodeQuery), []);
  t.throws(() => decode(typed('Q', Buffer.from('SELECT 1')), decodeQuery), violation(/^invalid Query message: query string is not NUL-terminated$/));
  t.throws(() => decode(typed('Q', cstr('SELECT 1'), Buffer.from('x')), decodeQuery), violation(/1 unexpected trailing bytes/));
  t.throws(() => decode(typed('Q'), decodeQuery), violation(/not NUL-terminated/), 'empty body');
});

void t.test('decodeParse', async (t) => {
  const frame = typed('P', cstr('s1'), cstr('SELECT $1, $2, $3'), i16(3), u32(23), u32(0), u32(0xffffffff));
  const want = { name: 's1', query: 'SELECT $1, $2, $3', paramTypes: [23, 0, 4294967295] };
  t.same(decode(frame, decodeParse), want, 'OIDs are unsigned');
  t.same(truncations(frame, decodeParse), []);

  t.same(decode(typed('P', cstr(''), cstr('SELECT 1'), i16(0)), decodeParse), { name: '', query: 'SELECT 1', paramTypes: [] }, 'unnamed, no types');

  // libpq sends up to 65535 parameters, so the count is read unsigned like Postgres does.
  const many = 40000;
  const types = Buffer.alloc(many * 4);
  for (let i = 0; i < many; i++) types.writeUInt32BE(i, i * 4);
  const big = decode(typed('P', cstr('big'), cstr('q'), i16(many - 65536), types), decodeParse);
  t.equal(big.paramTypes.length, many);
  t.equal(big.paramTypes[many - 1], many - 1);

  t.throws(() => decode(typed('P', cstr('s'), cstr('q'), i16(3), u32(1), u32(2)), decodeParse), violation(/invalid Parse message: truncated parameter types/));
  t.throws(() => decode(typed('P', cstr('s'), cstr('q'), i16(-1)), decodeParse), violation(/truncated parameter types/), 'count 0xffff with no types');
  t.throws(() => decode(typed('P', cstr('s'), cstr('q')), decodeParse), violation(/truncated parameter count/));
  t.throws(() => decode(typed('P', cstr('s'), cstr('q'), i16(0), Buffer.from([0])), decodeParse), violation(/1 unexpected trailing bytes/));
  t.throws(() => decode(typed('P', cstr('s'), Buffer.from('q')), decodeParse), violation(/query string is not NUL-terminated/));
  t.throws(() => decode(typed('P', Buffer.from('s')), decodeParse), violation(/statement name is not NUL-terminated/));
});

void t.test('decodeBindNames', async (t) => {
  const frame = typed('B', cstr('portal1'), cstr('stmt1'), i16(1), i16(0), i16(2), i32(2), Buffer.from('42'), i32(-1), i16(1), i16(1));
  t.same(decode(frame, decodeBindNames), { portal: 'portal1', statement: 'stmt1' });
  t.same(decode(typed('B', cstr(''), cstr(''), i16(0), i16(0), i16(0)), decodeBindNames), { portal: '', statement: '' });
  // Only the names are read, so any prefix holding both names decodes to the same names.
  const namesLength = 5 + 'portal1'.length + 1 + 'stmt1'.length + 1;
  t.same(
    truncations(frame, decodeBindNames, (r, length) => length >= namesLength && r.portal === 'portal1' && r.statement === 'stmt1'),
    [],
  );
  t.throws(() => decode(typed('B', cstr('p'), Buffer.from('s')), decodeBindNames), violation(/invalid Bind message: statement name is not NUL-terminated/));
  t.throws(() => decode(typed('B', Buffer.from('p')), decodeBindNames), violation(/portal name is not NUL-terminated/));
});

void t.test('decodeDescribe and decodeClose', async (t) => {
  for (const [type, fn, label] of [
    ['D', decodeDescribe, 'Describe'],
    ['C', decodeClose, 'Close'],
  ] as const) {
    const s = typed(type, Buffer.from('S'), cstr('stmt_7'));
    const p = typed(type, Buffer.from('P'), cstr(''));
    t.same(decode(s, fn), { target: 'S', name: 'stmt_7' }, `${label} statement`);
    t.same(decode(p, fn), { target: 'P', name: '' }, `${label} unnamed portal`);
    t.same(decode(typed(type, Buffer.from('S'), cstr('')), fn), { target: 'S', name: '' }, `${label} unnamed statement`);
    t.throws(() => decode(typed(type, Buffer.from('P'), cstr(''), Buffer.from([0])), fn), violation(/unexpected trailing bytes/), `${label} unnamed, trailing byte`);
    t.throws(() => decode(typed(type, Buffer.from('X'), cstr('')), fn), violation(/target must be/), `${label} unnamed, bad target`);
    t.same(truncations(s, fn), [], `${label} truncations`);
    t.same(truncations(p, fn), [], `${label} truncations, empty name`);
    t.throws(() => decode(typed(type, Buffer.from('X'), cstr('n')), fn), violation(new RegExp(`invalid ${label} message: target must be 'S' or 'P', got byte 88`)));
    t.throws(() => decode(typed(type, Buffer.from('s'), cstr('n')), fn), violation(/target must be/), `${label}: lower-case target`);
    t.throws(() => decode(typed(type, Buffer.from('S'), Buffer.from('n')), fn), violation(/name is not NUL-terminated/));
    t.throws(() => decode(typed(type, Buffer.from('S'), cstr('n'), Buffer.from([0])), fn), violation(/unexpected trailing bytes/));
    t.throws(() => decode(typed(type), fn), violation(/truncated target/));
  }
});

void t.test('decodeExecute', async (t) => {
  const frame = typed('E', cstr('c1'), i32(100));
  t.same(decode(frame, decodeExecute), { portal: 'c1', maxRows: 100 });
  t.same(decode(typed('E', cstr(''), i32(0)), decodeExecute), { portal: '', maxRows: 0 });
  t.same(decode(typed('E', cstr(''), i32(-5)), decodeExecute), { portal: '', maxRows: 0 }, 'negative means no limit, as 0');
  t.same(decode(typed('E', cstr(''), i32(0x7fffffff)), decodeExecute), { portal: '', maxRows: 0x7fffffff });
  t.same(truncations(frame, decodeExecute), []);
  t.throws(() => decode(typed('E', cstr('c1'), i16(1)), decodeExecute), violation(/invalid Execute message: truncated row limit/));
  t.throws(() => decode(typed('E', cstr('c1'), i32(1), Buffer.from([0])), decodeExecute), violation(/unexpected trailing bytes/));
});

void t.test('decodeCopyFail', async (t) => {
  const frame = typed('f', cstr('aborted by user'));
  t.equal(decode(frame, decodeCopyFail), 'aborted by user');
  t.same(truncations(frame, decodeCopyFail), []);
  t.throws(() => decode(typed('f', cstr('x'), cstr('y')), decodeCopyFail), violation(/invalid CopyFail message: 2 unexpected trailing bytes/));
});

void t.test('decodeFunctionCallOid', async (t) => {
  const frame = typed('F', u32(0x80000001), i16(0), i16(0), i16(0));
  t.equal(decode(frame, decodeFunctionCallOid), 0x80000001, 'OID is unsigned');
  t.equal(decode(typed('F', u32(1259)), decodeFunctionCallOid), 1259);
  t.same(truncations(frame, decodeFunctionCallOid, (oid, length) => length >= 9 && oid === 0x80000001), []);
  t.throws(() => decode(typed('F', i16(1)), decodeFunctionCallOid), violation(/invalid FunctionCall message: truncated function OID/));
});

// ---------------------------------------------------------------------------------------------
// Authentication

void t.test('decodePassword', async (t) => {
  const frame = typed('p', cstr('md5a3556571e93b0d20722ba62be61e8c2d'));
  t.equal(decode(frame, decodePassword), 'md5a3556571e93b0d20722ba62be61e8c2d');
  t.equal(decode(typed('p', cstr('')), decodePassword), '', 'empty password');
  t.equal(decode(typed('p', cstr('pässwörd')), decodePassword), 'pässwörd');
  t.same(truncations(frame, decodePassword), []);
  for (const bad of [typed('p', Buffer.from('hunter2')), typed('p', cstr('hunter2'), Buffer.from('hunter2'))]) {
    try {
      decode(bad, decodePassword);
      t.fail('malformed password message decoded');
    } catch (err) {
      t.ok(err instanceof ProxyError && err.sqlstate === '08P01', 'malformed password message is 08P01');
      t.notMatch(err instanceof Error ? err.message : '', /hunter2/, 'the error never echoes the password');
    }
  }
});

void t.test('decodeSaslInitialResponse', async (t) => {
  const clientFirst = Buffer.from('n,,n=,r=rOprNGfwEbeRWgbNEkqO', 'latin1');
  const frame = typed('p', cstr('SCRAM-SHA-256'), i32(clientFirst.length), clientFirst);
  const { buf, start, end } = embed(frame);
  const r = decodeSaslInitialResponse(buf, start, end);
  t.equal(r.mechanism, 'SCRAM-SHA-256');
  t.same(r.data, clientFirst);
  t.equal(r.data.buffer, buf.buffer, 'data is a view, not a copy');
  t.same(truncations(frame, decodeSaslInitialResponse), []);

  const none = decode(typed('p', cstr('SCRAM-SHA-256-PLUS'), i32(-1)), decodeSaslInitialResponse);
  t.equal(none.mechanism, 'SCRAM-SHA-256-PLUS');
  t.equal(none.data.length, 0, 'length -1 means no data');
  t.equal(decode(typed('p', cstr('X'), i32(0)), decodeSaslInitialResponse).data.length, 0, 'explicit empty data');

  t.throws(() => decode(typed('p', cstr('M'), i32(-2)), decodeSaslInitialResponse), violation(/invalid SASLInitialResponse message: negative data length -2/));
  t.throws(() => decode(typed('p', cstr('M'), i32(10), Buffer.from('short')), decodeSaslInitialResponse), violation(/truncated data/));
  t.throws(() => decode(typed('p', cstr('M'), i32(2), Buffer.from('abc')), decodeSaslInitialResponse), violation(/1 unexpected trailing bytes/));
  t.throws(() => decode(typed('p', cstr('M'), i32(-1), Buffer.from('a')), decodeSaslInitialResponse), violation(/1 unexpected trailing bytes/));
  t.throws(() => decode(typed('p', cstr('M')), decodeSaslInitialResponse), violation(/truncated data length/));
  t.throws(() => decode(typed('p', Buffer.from('SCRAM')), decodeSaslInitialResponse), violation(/mechanism name is not NUL-terminated/));
});

void t.test('decodeSaslResponse', async (t) => {
  const clientFinal = Buffer.from('c=biws,r=abc,p=xyz=', 'latin1');
  const frame = typed('p', clientFinal);
  const { buf, start, end } = embed(frame);
  const data = decodeSaslResponse(buf, start, end);
  t.same(data, clientFinal);
  t.equal(data.buffer, buf.buffer, 'a view, not a copy');
  t.equal(decode(typed('p'), decodeSaslResponse).length, 0, 'empty body');
  t.same(truncations(frame, decodeSaslResponse, (d, length) => length >= 5 && d.equals(clientFinal.subarray(0, length - 5))), []);
});
