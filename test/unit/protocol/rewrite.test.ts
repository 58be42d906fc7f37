// Name splicing and proxy-originated frontend frames, against frames assembled by hand here. The
// splices must copy everything except the name byte for byte (including binary parameter values
// full of NULs) and must never read past `end`.

import t from 'tap';
import { ProxyError } from '../../../proxy/errors.js';
import { decodeBindNames, decodeParse } from '../../../proxy/protocol/client-messages.js';
import {
  FLUSH,
  SYNC,
  buildClose,
  buildDescribe,
  buildParse,
  buildQuery,
  renameBindStatement,
  renameDescribeOrClose,
  renameParse,
} from '../../../proxy/protocol/rewrite.js';
import { cstr, embedFrontendFrame as embed, i16, i32, typed, u32 } from '../../helpers/wire-bytes.js';

type Splice = (buf: Buffer, start: number, end: number, name: string) => Buffer;

function splice(frame: Buffer, fn: Splice, name: string): Buffer {
  const { buf, start, end } = embed(frame);
  const copy = Buffer.from(buf);
  const out = fn(buf, start, end, name);
  if (!buf.equals(copy)) throw new Error('the input buffer was modified');
  return out;
}

/**
 * Every proper prefix must throw (08P01 for malformed input; XX000 only for a prefix too short to
 * have a type byte) or give what `expected(length)` says; returns the failures.
 */
function truncations(frame: Buffer, fn: Splice, name: string, expected: (length: number) => Buffer | null): string[] {
  const { buf, start } = embed(frame);
  const failures: string[] = [];
  for (let length = 0; length < frame.length; length++) {
    const want = expected(length);
    try {
      const got = fn(buf, start, start + length, name);
      if (want === null) failures.push(`length ${length}: spliced a frame it should refuse`);
      else if (!got.equals(want)) failures.push(`length ${length}: got ${got.toString('hex')}, want ${want.toString('hex')}`);
    } catch (err) {
      if (!(err instanceof ProxyError)) failures.push(`length ${length}: threw ${String(err)}`);
      else if (want !== null) failures.push(`length ${length}: threw ${err.message}`);
      else if (err.sqlstate !== (length === 0 ? 'XX000' : '08P01')) failures.push(`length ${length}: sqlstate ${err.sqlstate}`);
    }
  }
  return failures;
}

function violation(message: RegExp) {
  return { name: 'ProxyError', sqlstate: '08P01', severity: 'FATAL', message };
}
function internalError(message: RegExp) {
  return { name: 'ProxyError', sqlstate: 'XX000', message };
}

void t.test('renameParse', async (t) => {
  const rest = Buffer.concat([cstr('SELECT $1::int8, $2'), i16(2), u32(20), u32(0xffffffff)]);
  const frame = typed('P', cstr('client_stmt'), rest);
  t.same(splice(frame, renameParse, 'pgs_1'), typed('P', cstr('pgs_1'), rest), 'shorter name');
  t.same(splice(frame, renameParse, 'pgshard_statement_0000000001_ünï'), typed('P', cstr('pgshard_statement_0000000001_ünï'), rest), 'longer UTF-8 name');
  t.same(splice(frame, renameParse, ''), typed('P', cstr(''), rest), 'to the unnamed statement');
  t.same(splice(typed('P', cstr(''), rest), renameParse, 'named'), typed('P', cstr('named'), rest), 'from the unnamed statement');
  t.same(decode(splice(frame, renameParse, 's2'), decodeParse), { name: 's2', query: 'SELECT $1::int8, $2', paramTypes: [20, 0xffffffff] });

  // Only the name is parsed, so a prefix that holds the whole name is spliced verbatim.
  const nameEnd = 5 + 'client_stmt'.length + 1;
  t.same(
    truncations(frame, renameParse, 'x', (length) => (length < nameEnd ? null : typed('P', cstr('x'), frame.subarray(nameEnd, length)))),
    [],
  );
  t.throws(() => splice(typed('P', Buffer.from('abc')), renameParse, 'x'), violation(/invalid Parse message: statement name is not NUL-terminated/));
  t.throws(() => splice(typed('Q', cstr('SELECT 1')), renameParse, 'x'), internalError(/renameParse called on a frame of type 'Q'/));
  t.throws(() => splice(frame, renameParse, 'a\0b'), internalError(/statement name contains a NUL/));
});

function decode<R>(frame: Buffer, fn: (buf: Buffer, start: number, end: number) => R): R {
  return fn(frame, 0, frame.length);
}

void t.test('renameBindStatement', async (t) => {
  // Binary parameter values full of NULs and bytes that look like names: copied, never read.
  const rest = Buffer.concat([
    i16(2),
    i16(1),
    i16(0),
    i16(3),
    i32(8),
    Buffer.from([0, 0, 0, 0, 0, 0, 0, 42]),
    i32(-1),
    i32(4),
    Buffer.from('s1\0\0', 'latin1'),
    i16(1),
    i16(1),
  ]);
  const frame = typed('B', cstr('portal_a'), cstr('client_stmt'), rest);
  t.same(splice(frame, renameBindStatement, 'pgs_9'), typed('B', cstr('portal_a'), cstr('pgs_9'), rest));
  t.same(splice(frame, renameBindStatement, 'a_much_longer_statement_name_ü'), typed('B', cstr('portal_a'), cstr('a_much_longer_statement_name_ü'), rest));
  t.same(splice(typed('B', cstr(''), cstr(''), rest), renameBindStatement, 's'), typed('B', cstr(''), cstr('s'), rest), 'unnamed portal and statement');
  t.same(decode(splice(frame, renameBindStatement, 'z'), decodeBindNames), { portal: 'portal_a', statement: 'z' });

  const namesEnd = 5 + 'portal_a'.length + 1 + 'client_stmt'.length + 1;
  t.same(
    truncations(frame, renameBindStatement, 'n', (length) =>
      length < namesEnd ? null : typed('B', cstr('portal_a'), cstr('n'), frame.subarray(namesEnd, length)),
    ),
    [],
  );
  t.throws(() => splice(typed('B', cstr('p'), Buffer.from('s')), renameBindStatement, 'x'), violation(/invalid Bind message: statement name is not NUL-terminated/));
  t.throws(() => splice(typed('P', cstr('p'), cstr('s')), renameBindStatement, 'x'), internalError(/renameBindStatement called on a frame of type 'P'/));
});

void t.test('renameDescribeOrClose', async (t) => {
  for (const type of ['D', 'C']) {
    for (const target of ['S', 'P']) {
      const frame = typed(type, Buffer.from(target), cstr('old_name'));
      const label = `${type} ${target}`;
      t.same(splice(frame, renameDescribeOrClose, 'new'), typed(type, Buffer.from(target), cstr('new')), label);
      t.same(splice(frame, renameDescribeOrClose, ''), typed(type, Buffer.from(target), cstr('')), `${label} to unnamed`);
      t.same(truncations(frame, renameDescribeOrClose, 'new', () => null), [], `${label} truncations`);
    }
  }
  t.throws(() => splice(typed('D', Buffer.from('X'), cstr('n')), renameDescribeOrClose, 'x'), violation(/invalid Describe message: target must be 'S' or 'P', got byte 88/));
  t.throws(() => splice(typed('C', Buffer.from('S'), cstr('n'), Buffer.from('!')), renameDescribeOrClose, 'x'), violation(/invalid Close message: 1 unexpected trailing bytes/));
  t.throws(() => splice(typed('C'), renameDescribeOrClose, 'x'), violation(/invalid Close message: truncated target/));
  t.throws(() => splice(typed('E', cstr(''), i32(0)), renameDescribeOrClose, 'x'), internalError(/renameDescribeOrClose called on a frame of type 'E'/));
});

void t.test('buildParse', async (t) => {
  t.same(buildParse('s1', 'SELECT $1, $2', [23, 0xffffffff]), typed('P', cstr('s1'), cstr('SELECT $1, $2'), i16(2), u32(23), u32(0xffffffff)));
  t.same(buildParse('', 'SELECT 1', []), typed('P', cstr(''), cstr('SELECT 1'), i16(0)));
  t.same(buildParse('ü', "SELECT 'ñ'", [0]), typed('P', cstr('ü'), cstr("SELECT 'ñ'"), i16(1), u32(0)));
  t.same(buildParse('n', 'q', [-1]), typed('P', cstr('n'), cstr('q'), i16(1), u32(0xffffffff)), 'a signed OID gives the same bits');

  const many = Array.from({ length: 40000 }, (_, i) => i);
  const big = decode(buildParse('big', 'q', many), decodeParse);
  t.equal(big.paramTypes.length, 40000, 'counts above 32767 round-trip (unsigned Int16)');
  t.equal(big.paramTypes[39999], 39999);
  t.throws(() => buildParse('n', 'q', new Array<number>(65536).fill(0)), internalError(/too many parameter types: 65536/));
  t.throws(() => buildParse('n', 'SELECT 1\0', []), internalError(/query contains a NUL/));
});

void t.test('buildDescribe, buildClose', async (t) => {
  t.equal(buildDescribe('S', 'pgs_1').toString('hex'), '44' + '0000000b' + '53' + Buffer.from('pgs_1\0').toString('hex'));
  t.same(buildDescribe('P', ''), typed('D', Buffer.from('P'), cstr('')));
  t.same(buildClose('S', 'pgs_1'), typed('C', Buffer.from('S'), cstr('pgs_1')));
  t.same(buildClose('P', 'cur'), typed('C', Buffer.from('P'), cstr('cur')));
  t.throws(() => buildClose('S', '\0'), internalError(/name contains a NUL/));
});

void t.test('SYNC, FLUSH, buildQuery', async (t) => {
  t.equal(SYNC.toString('hex'), '53' + '00000004');
  t.equal(FLUSH.toString('hex'), '48' + '00000004');
  t.equal(buildQuery('DISCARD ALL').toString('hex'), '51' + '00000010' + Buffer.from('DISCARD ALL\0').toString('hex'));
  t.same(buildQuery("SET application_name = 'ü'"), typed('Q', cstr("SET application_name = 'ü'")));
  t.same(buildQuery(''), typed('Q', cstr('')));
  t.throws(() => buildQuery('SELECT 1;\0DROP'), internalError(/query contains a NUL/));
});
