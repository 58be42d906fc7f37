// Backend message decoders, against frames assembled by hand here. Frames are decoded from inside
// a larger buffer whose following bytes contain NULs (so reading past `end` is caught), and every
// truncation of every valid frame is tried.

import t from 'tap';
import { ProxyError, errorResponseFrame } from '../../../proxy/errors.js';
import {
  decodeAuthRequest,
  decodeBackendKeyData,
  decodeCommandTag,
  decodeDataRow,
  decodeErrorFields,
  decodeNotification,
  decodeParameterStatus,
  decodeRowDescription,
  decodeSaslMechanisms,
  readyStatus,
} from '../../../proxy/protocol/backend-messages.js';
import { authSasl, dataRow, rowDescription } from '../../../proxy/protocol/server-messages.js';
import { cstr, embedBackendFrame as embed, i16, i32, typed, u32 } from '../../helpers/wire-bytes.js';

type Decoder<R> = (buf: Buffer, start: number, end: number) => R;

function decode<R>(frame: Buffer, fn: Decoder<R>): R {
  const { buf, start, end } = embed(frame);
  return fn(buf, start, end);
}

/** Every proper prefix must throw a 08P01 ProxyError or, when `consistent` is given, satisfy it. */
function truncations<R>(frame: Buffer, fn: Decoder<R>, consistent?: (result: R, length: number) => boolean): string[] {
  const { buf, start } = embed(frame);
  const failures: string[] = [];
  for (let length = 0; length < frame.length; length++) {
    try {
      const result = fn(buf, start, start + length);
      if (consistent === undefined) failures.push(`length ${length}: decoded a truncated frame`);
      else if (!consistent(result, length)) failures.push(`length ${length}: inconsistent result`);
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

void t.test('decodeErrorFields', async (t) => {
  const frame = typed(
    'E',
    cstr('SERROR'),
    cstr('VERROR'),
    cstr('C42P01'),
    cstr('Mrelation "ünïcode" does not exist'),
    cstr('P15'),
    cstr('Fparse_relation.c'),
    cstr('L1392'),
    cstr('RparserOpenTable'),
    Buffer.from([0]),
  );
  t.same(
    decode(frame, decodeErrorFields),
    new Map([
      ['S', 'ERROR'],
      ['V', 'ERROR'],
      ['C', '42P01'],
      ['M', 'relation "ünïcode" does not exist'],
      ['P', '15'],
      ['F', 'parse_relation.c'],
      ['L', '1392'],
      ['R', 'parserOpenTable'],
    ]),
  );
  t.same(truncations(frame, decodeErrorFields), []);

  const notice = typed('N', cstr('SNOTICE'), cstr('C00000'), cstr('M'), Buffer.from([0]));
  t.same(decode(notice, decodeErrorFields), new Map([['S', 'NOTICE'], ['C', '00000'], ['M', '']]), 'NoticeResponse, empty message');
  t.same(decode(typed('E', Buffer.from([0])), decodeErrorFields), new Map(), 'no fields at all');
  t.same(decode(typed('E', cstr('Ma'), cstr('Mb'), Buffer.from([0])), decodeErrorFields).get('M'), 'b', 'a repeated field keeps its last value');

  // What proxy/errors.ts sends must read back (the proxy sometimes relays its own errors).
  const own = errorResponseFrame(new ProxyError('53300', 'too many', 'FATAL', { detail: 'd', hint: 'h' }));
  t.same(
    decode(own, decodeErrorFields),
    new Map([['S', 'FATAL'], ['V', 'FATAL'], ['C', '53300'], ['M', 'too many'], ['D', 'd'], ['H', 'h']]),
  );

  t.throws(() => decode(typed('E', cstr('SERROR')), decodeErrorFields), violation(/missing terminator/), 'no final terminator');
  t.throws(() => decode(typed('E'), decodeErrorFields), violation(/missing terminator/), 'empty body');
  t.throws(() => decode(typed('E', Buffer.from('SERROR')), decodeErrorFields), violation(/field 'S' is not NUL-terminated/));
  t.throws(() => decode(typed('E', Buffer.from([0, 0x41])), decodeErrorFields), violation(/1 unexpected trailing bytes/));
});

void t.test('decodeParameterStatus', async (t) => {
  const frame = typed('S', cstr('TimeZone'), cstr('Europe/Zürich'));
  t.same(decode(frame, decodeParameterStatus), { name: 'TimeZone', value: 'Europe/Zürich' });
  t.same(decode(typed('S', cstr('application_name'), cstr('')), decodeParameterStatus), { name: 'application_name', value: '' });
  t.same(truncations(frame, decodeParameterStatus), []);
  t.throws(() => decode(typed('S', cstr('a'), cstr('b'), cstr('c')), decodeParameterStatus), violation(/invalid ParameterStatus message from server: 2 unexpected trailing bytes/));
  t.throws(() => decode(typed('S', cstr('a')), decodeParameterStatus), violation(/parameter value is not NUL-terminated/));
});

void t.test('decodeBackendKeyData', async (t) => {
  const frame = typed('K', i32(31337), u32(0xcafebabe));
  t.same(decode(frame, decodeBackendKeyData), { processId: 31337, secretKey: 0xcafebabe }, 'unsigned secret');
  t.same(decode(typed('K', i32(-1), i32(-2)), decodeBackendKeyData), { processId: 0xffffffff, secretKey: 0xfffffffe });
  t.same(truncations(frame, decodeBackendKeyData), []);
  t.throws(() => decode(typed('K', i32(1), Buffer.alloc(32)), decodeBackendKeyData), violation(/28 unexpected trailing bytes/), 'a protocol 3.2 long key');
});

void t.test('decodeAuthRequest and decodeSaslMechanisms', async (t) => {
  t.same(decode(typed('R', i32(0)), decodeAuthRequest), { code: 0, data: Buffer.alloc(0) }, 'AuthenticationOk');
  t.same(decode(typed('R', i32(3)), decodeAuthRequest), { code: 3, data: Buffer.alloc(0) }, 'cleartext');

  const md5 = typed('R', i32(5), Buffer.from([1, 2, 3, 4]));
  const { buf, start, end } = embed(md5);
  const r = decodeAuthRequest(buf, start, end);
  t.equal(r.code, 5);
  t.same(r.data, Buffer.from([1, 2, 3, 4]), 'md5 salt');
  t.equal(r.data.buffer, buf.buffer, 'data is a view, not a copy');
  t.same(truncations(md5, decodeAuthRequest, (x, length) => length >= 9 && x.code === 5 && x.data.equals(Buffer.from([1, 2, 3, 4]).subarray(0, length - 9))), []);
  t.throws(() => decode(typed('R', i16(0)), decodeAuthRequest), violation(/invalid authentication request message from server: truncated code/));

  const sasl = typed('R', i32(10), cstr('SCRAM-SHA-256-PLUS'), cstr('SCRAM-SHA-256'), Buffer.from([0]));
  const s = decode(sasl, decodeAuthRequest);
  t.equal(s.code, 10);
  t.same(decodeSaslMechanisms(s.data), ['SCRAM-SHA-256-PLUS', 'SCRAM-SHA-256']);
  t.same(decodeSaslMechanisms(Buffer.from([0])), [], 'empty list');
  t.same(decodeSaslMechanisms(decode(authSasl(['X-1', 'Y']), decodeAuthRequest).data), ['X-1', 'Y'], 'reads what authSasl writes');

  const list = Buffer.concat([cstr('SCRAM-SHA-256'), Buffer.from([0])]);
  const failures: string[] = [];
  for (let n = 0; n < list.length; n++) {
    try {
      decodeSaslMechanisms(list.subarray(0, n));
      failures.push(`length ${n}: decoded`);
    } catch (err) {
      if (!(err instanceof ProxyError) || err.sqlstate !== '08P01') failures.push(`length ${n}: ${String(err)}`);
    }
  }
  t.same(failures, [], 'every truncation of the mechanism list throws 08P01');
  t.throws(() => decodeSaslMechanisms(Buffer.alloc(0)), violation(/missing terminator/));
  t.throws(() => decodeSaslMechanisms(Buffer.from('SCRAM', 'latin1')), violation(/mechanism name is not NUL-terminated/));
  t.throws(() => decodeSaslMechanisms(Buffer.from([0x41, 0, 0, 0x42])), violation(/1 unexpected trailing bytes/));
});

void t.test('decodeCommandTag', async (t) => {
  const frame = typed('C', cstr('INSERT 0 5'));
  t.equal(decode(frame, decodeCommandTag), 'INSERT 0 5');
  t.equal(decode(typed('C', cstr('')), decodeCommandTag), '');
  t.same(truncations(frame, decodeCommandTag), []);
  t.throws(() => decode(typed('C', cstr('A'), cstr('B')), decodeCommandTag), violation(/invalid CommandComplete message from server: 2 unexpected trailing bytes/));
});

void t.test('readyStatus', async (t) => {
  for (const status of ['I', 'T', 'E'] as const) {
    const { buf, start } = embed(typed('Z', Buffer.from(status)));
    t.equal(readyStatus(buf, start), status);
  }
  const { buf, start } = embed(typed('Z', Buffer.from('X')));
  t.throws(() => readyStatus(buf, start), violation(/unknown transaction status byte 88/));
  const short = typed('Z');
  t.throws(() => readyStatus(short, 0), violation(/unknown transaction status \(missing\)/), 'no status byte in the buffer');
});

void t.test('decodeRowDescription', async (t) => {
  const frame = typed(
    'T',
    i16(3),
    cstr('id'),
    u32(16384),
    i16(1),
    u32(20),
    i16(8),
    i32(-1),
    i16(0),
    cstr('price'),
    u32(0xfffffff0),
    i16(-2),
    u32(1700),
    i16(-1),
    i32(655366),
    i16(1),
    cstr('ñame'),
    u32(0),
    i16(0),
    u32(0x80000000),
    i16(-1),
    i32(-1),
    i16(0),
  );
  t.same(decode(frame, decodeRowDescription), [
    { name: 'id', tableOid: 16384, columnAttr: 1, typeOid: 20, typeSize: 8, typeModifier: -1, format: 0 },
    { name: 'price', tableOid: 0xfffffff0, columnAttr: -2, typeOid: 1700, typeSize: -1, typeModifier: 655366, format: 1 },
    { name: 'ñame', tableOid: 0, columnAttr: 0, typeOid: 0x80000000, typeSize: -1, typeModifier: -1, format: 0 },
  ]);
  t.same(decode(typed('T', i16(0)), decodeRowDescription), [], 'no columns');
  t.same(truncations(frame, decodeRowDescription), []);
  t.throws(() => decode(typed('T', i16(2), cstr('a'), Buffer.alloc(18)), decodeRowDescription), violation(/name of field 2 is not NUL-terminated/));
  t.throws(() => decode(typed('T', i16(1), cstr('a'), Buffer.alloc(17)), decodeRowDescription), violation(/truncated field 1/));
  t.throws(() => decode(typed('T', i16(0), Buffer.from([0])), decodeRowDescription), violation(/1 unexpected trailing bytes/));

  const roundTrip = decode(rowDescription([{ name: 'n', typeOid: 23 }, { name: 'txt', typeOid: 25 }]), decodeRowDescription);
  t.same(roundTrip.map((f) => [f.name, f.typeOid, f.typeSize, f.typeModifier, f.format]), [
    ['n', 23, 4, -1, 0],
    ['txt', 25, -1, -1, 0],
  ], 'reads what rowDescription writes');
});

void t.test('decodeDataRow', async (t) => {
  const frame = typed('D', i16(5), i32(3), Buffer.from('abc'), i32(-1), i32(0), i32(3), Buffer.from([0, 1, 0]), i32(2), Buffer.from('é'));
  const { buf, start, end } = embed(frame);
  const row = decodeDataRow(buf, start, end);
  t.same(row, [Buffer.from('abc'), null, Buffer.alloc(0), Buffer.from([0, 1, 0]), Buffer.from('é')]);
  t.ok(row.every((v) => v === null || v.buffer === buf.buffer), 'values are views into the frame');
  t.same(truncations(frame, decodeDataRow), []);
  t.same(decode(typed('D', i16(0)), decodeDataRow), [], 'no columns');
  t.throws(() => decode(typed('D', i16(1), i32(-2)), decodeDataRow), violation(/negative length -2 of column 1/));
  t.throws(() => decode(typed('D', i16(2), i32(-1)), decodeDataRow), violation(/truncated length of column 2/));
  t.throws(() => decode(typed('D', i16(1), i32(5), Buffer.from('abc')), decodeDataRow), violation(/truncated value of column 1/));
  t.throws(() => decode(typed('D', i16(1), i32(0), Buffer.from('x')), decodeDataRow), violation(/1 unexpected trailing bytes/));
  t.throws(() => decode(typed('D', i16(1), i32(0x7fffffff)), decodeDataRow), violation(/truncated value/), 'huge length');

  const roundTrip = decode(dataRow(['1', null, 'x y']), decodeDataRow);
  t.same(roundTrip.map((v) => (v === null ? null : v.toString())), ['1', null, 'x y'], 'reads what dataRow writes');
});

void t.test('decodeNotification', async (t) => {
  const frame = typed('A', u32(0x80000001), cstr('jobs'), cstr('{"id": "ü"}'));
  t.same(decode(frame, decodeNotification), { processId: 0x80000001, channel: 'jobs', payload: '{"id": "ü"}' });
  t.same(decode(typed('A', i32(7), cstr('c'), cstr('')), decodeNotification), { processId: 7, channel: 'c', payload: '' });
  t.same(truncations(frame, decodeNotification), []);
  t.throws(() => decode(typed('A', i32(7), cstr('c')), decodeNotification), violation(/invalid NotificationResponse message from server: payload is not NUL-terminated/));
  t.throws(() => decode(typed('A', i32(7), cstr('c'), cstr('p'), Buffer.from('z')), decodeNotification), violation(/1 unexpected trailing bytes/));
  t.throws(() => decode(typed('A', i16(7)), decodeNotification), violation(/truncated process id/));
});
