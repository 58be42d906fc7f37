// Backend → frontend encoders, compared byte for byte with frames assembled by hand here (and, for
// the constant frames, with hex taken from the protocol documentation's layouts).

import t from 'tap';
import {
  AUTH_CLEARTEXT,
  AUTH_OK,
  BIND_COMPLETE,
  CLOSE_COMPLETE,
  COPY_DONE,
  EMPTY_QUERY_RESPONSE,
  NO_DATA,
  PARSE_COMPLETE,
  PORTAL_SUSPENDED,
  READY_FAILED,
  READY_IDLE,
  READY_IN_TRANSACTION,
  SSL_ACCEPTED,
  SSL_REFUSED,
  authMd5,
  authSasl,
  authSaslContinue,
  authSaslFinal,
  backendKeyData,
  commandComplete,
  dataRow,
  negotiateProtocolVersion,
  notificationResponse,
  parameterStatus,
  readyForQuery,
  rowDescription,
  typeOids,
} from '../../../proxy/protocol/server-messages.js';
import { cstr, i16, i32, typed } from '../../helpers/wire-bytes.js';

function hex(b: Buffer): string {
  return b.toString('hex');
}

function internalError(message: RegExp) {
  return { name: 'ProxyError', sqlstate: 'XX000', message };
}

void t.test('constant frames', async (t) => {
  const cases: [string, Buffer, string][] = [
    ['SSL_REFUSED', SSL_REFUSED, '4e'],
    ['SSL_ACCEPTED', SSL_ACCEPTED, '53'],
    ['AUTH_OK', AUTH_OK, '52' + '00000008' + '00000000'],
    ['AUTH_CLEARTEXT', AUTH_CLEARTEXT, '52' + '00000008' + '00000003'],
    ['PARSE_COMPLETE', PARSE_COMPLETE, '31' + '00000004'],
    ['BIND_COMPLETE', BIND_COMPLETE, '32' + '00000004'],
    ['CLOSE_COMPLETE', CLOSE_COMPLETE, '33' + '00000004'],
    ['NO_DATA', NO_DATA, '6e' + '00000004'],
    ['EMPTY_QUERY_RESPONSE', EMPTY_QUERY_RESPONSE, '49' + '00000004'],
    ['PORTAL_SUSPENDED', PORTAL_SUSPENDED, '73' + '00000004'],
    ['COPY_DONE', COPY_DONE, '63' + '00000004'],
    ['READY_IDLE', READY_IDLE, '5a' + '00000005' + '49'],
    ['READY_IN_TRANSACTION', READY_IN_TRANSACTION, '5a' + '00000005' + '54'],
    ['READY_FAILED', READY_FAILED, '5a' + '00000005' + '45'],
  ];
  for (const [name, buf, want] of cases) t.equal(hex(buf), want, name);
});

void t.test('readyForQuery returns the shared constants', async (t) => {
  t.equal(readyForQuery('I'), READY_IDLE);
  t.equal(readyForQuery('T'), READY_IN_TRANSACTION);
  t.equal(readyForQuery('E'), READY_FAILED);
  t.equal(readyForQuery('I'), readyForQuery('I'), 'same Buffer each call: no allocation');
});

void t.test('authentication requests', async (t) => {
  t.equal(hex(authMd5(Buffer.from([0xde, 0xad, 0xbe, 0xef]))), '52' + '0000000c' + '00000005' + 'deadbeef');
  t.throws(() => authMd5(Buffer.from([1, 2, 3])), internalError(/md5 salt must be 4 bytes, got 3/));
  t.throws(() => authMd5(Buffer.alloc(5)), internalError(/got 5/));

  t.same(authSasl(['SCRAM-SHA-256-PLUS', 'SCRAM-SHA-256']), typed('R', i32(10), cstr('SCRAM-SHA-256-PLUS'), cstr('SCRAM-SHA-256'), Buffer.from([0])));
  t.same(authSasl(['SCRAM-SHA-256']), typed('R', i32(10), cstr('SCRAM-SHA-256'), Buffer.from([0])));
  t.equal(hex(authSasl([])), '52' + '00000009' + '0000000a' + '00', 'an empty list is just the terminator');
  t.throws(() => authSasl(['']), internalError(/SASL mechanism name is empty/), 'an empty name would end the list early');
  t.throws(() => authSasl(['A\0B']), internalError(/contains a NUL/));

  const serverFirst = Buffer.from('r=abc,s=c2FsdA==,i=4096', 'latin1');
  t.same(authSaslContinue(serverFirst), typed('R', i32(11), serverFirst));
  const serverFinal = Buffer.from('v=signature', 'latin1');
  t.same(authSaslFinal(serverFinal), typed('R', i32(12), serverFinal));
  t.equal(hex(authSaslFinal(Buffer.alloc(0))), '52' + '00000008' + '0000000c', 'empty SASL data');
});

void t.test('parameterStatus', async (t) => {
  t.same(parameterStatus('client_encoding', 'UTF8'), typed('S', cstr('client_encoding'), cstr('UTF8')));
  t.same(parameterStatus('application_name', 'naïve ✓'), typed('S', cstr('application_name'), cstr('naïve ✓')), 'UTF-8 counted in bytes');
  t.same(parameterStatus('x', ''), typed('S', cstr('x'), cstr('')), 'empty value');
  t.throws(() => parameterStatus('x', 'a\0b'), internalError(/parameter value contains a NUL/));
  t.throws(() => parameterStatus('a\0', 'b'), internalError(/parameter name contains a NUL/));
});

void t.test('backendKeyData', async (t) => {
  t.equal(hex(backendKeyData(1234, 0xdeadbeef)), '4b' + '0000000c' + '000004d2' + 'deadbeef');
  t.same(backendKeyData(1234, -559038737), backendKeyData(1234, 0xdeadbeef), 'signed and unsigned keys give the same bytes');
  t.equal(hex(backendKeyData(0, 0)), '4b' + '0000000c' + '00000000' + '00000000');
  t.equal(hex(backendKeyData(0xffffffff, -1)), '4b' + '0000000c' + 'ffffffff' + 'ffffffff');
});

void t.test('commandComplete', async (t) => {
  t.same(commandComplete('SELECT 3'), typed('C', cstr('SELECT 3')));
  t.same(commandComplete('INSERT 0 1'), typed('C', cstr('INSERT 0 1')));
  t.equal(hex(commandComplete('')), '43' + '00000005' + '00');
  t.throws(() => commandComplete('SET\0'), internalError(/command tag contains a NUL/));
});

void t.test('negotiateProtocolVersion', async (t) => {
  t.same(negotiateProtocolVersion(0, ['_pq_.compression', '_pq_.x']), typed('v', i32(0), i32(2), cstr('_pq_.compression'), cstr('_pq_.x')));
  t.equal(hex(negotiateProtocolVersion(0, [])), '76' + '0000000c' + '00000000' + '00000000');
  t.same(negotiateProtocolVersion(2, ['_pq_.y']), typed('v', i32(2), i32(1), cstr('_pq_.y')));
});

void t.test('typeOids', async (t) => {
  t.same(typeOids, { bool: 16, int8: 20, int4: 23, text: 25, float8: 701, timestamptz: 1184 });
});

function field(name: string, typeOid: number, typlen: number): Buffer {
  return Buffer.concat([cstr(name), i32(0), i16(0), i32(typeOid), i16(typlen), i32(-1), i16(0)]);
}

void t.test('rowDescription', async (t) => {
  const columns = [
    { name: 'id', typeOid: typeOids.int8 },
    { name: 'n', typeOid: typeOids.int4 },
    { name: 'small', typeOid: 21 },
    { name: 'ok', typeOid: typeOids.bool },
    { name: 'label', typeOid: typeOids.text },
    { name: 'ratio', typeOid: typeOids.float8 },
    { name: 'at', typeOid: typeOids.timestamptz },
    { name: 'naïve', typeOid: typeOids.text },
    { name: 'other', typeOid: 1700 },
  ];
  const want = typed(
    'T',
    i16(columns.length),
    field('id', 20, 8),
    field('n', 23, 4),
    field('small', 21, 2),
    field('ok', 16, 1),
    field('label', 25, -1),
    // As pg_type has them (and as Postgres itself describes such columns).
    field('ratio', 701, 8),
    field('at', 1184, 8),
    field('naïve', 25, -1),
    field('other', 1700, -1),
  );
  t.same(rowDescription(columns), want);
  t.equal(hex(rowDescription([])), '54' + '00000006' + '0000', 'no columns');
  t.throws(() => rowDescription([{ name: 'a\0', typeOid: 25 }]), internalError(/column name contains a NUL/));
});

void t.test('dataRow', async (t) => {
  const want = typed(
    'D',
    i16(6),
    i32(1),
    Buffer.from('1'),
    i32(-1),
    i32(0),
    i32(2),
    Buffer.from('ü'),
    i32(3),
    Buffer.from('a\0b', 'latin1'),
    i32(4),
    Buffer.from('😀'),
  );
  t.same(dataRow(['1', null, '', 'ü', 'a\0b', '😀']), want, 'NULL, empty, multi-byte and NUL-containing values');
  t.equal(hex(dataRow([])), '44' + '00000006' + '0000');
  t.equal(hex(dataRow([null])), '44' + '0000000a' + '0001' + 'ffffffff');
  const long = 'x'.repeat(70000);
  const row = dataRow([long]);
  t.equal(row.readInt32BE(1), 4 + 2 + 4 + 70000);
  t.equal(row.readInt32BE(7), 70000);
  t.equal(row.toString('latin1', 11), long);
});

void t.test('notificationResponse', async (t) => {
  t.same(notificationResponse(4242, 'jobs', '{"id":1}'), typed('A', i32(4242), cstr('jobs'), cstr('{"id":1}')));
  t.same(notificationResponse(0xfffffffe, 'c', ''), typed('A', Buffer.from('fffffffe', 'hex'), cstr('c'), cstr('')), 'unsigned process id');
  t.throws(() => notificationResponse(1, 'c', 'a\0'), internalError(/notification payload contains a NUL/));
});

void t.test('every encoder writes a length that matches its frame', async (t) => {
  const frames: [string, Buffer][] = [
    ['authMd5', authMd5(Buffer.alloc(4))],
    ['authSasl', authSasl(['SCRAM-SHA-256'])],
    ['authSaslContinue', authSaslContinue(Buffer.alloc(33))],
    ['authSaslFinal', authSaslFinal(Buffer.alloc(40))],
    ['parameterStatus', parameterStatus('TimeZone', 'Europe/Zürich')],
    ['backendKeyData', backendKeyData(1, 2)],
    ['commandComplete', commandComplete('DELETE 10')],
    ['negotiateProtocolVersion', negotiateProtocolVersion(0, ['_pq_.a'])],
    ['rowDescription', rowDescription([{ name: 'é', typeOid: 25 }])],
    ['dataRow', dataRow(['ä', null])],
    ['notificationResponse', notificationResponse(1, 'ç', 'ø')],
  ];
  for (const [name, frame] of frames) t.equal(frame.readInt32BE(1), frame.length - 1, name);
});
