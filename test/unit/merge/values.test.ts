// Value semantics of the merge against what PostgreSQL 15 itself printed (fixtures/pg15-values.json,
// made by generate-fixtures.ts): numeric sums and avg (select_div_scale, rounding, numeric_send),
// float4/float8 output under several extra_float_digits, datetime parsing; then ordering, equality
// and binary decoding by type OID.
import t from 'tap';
import {
  addDecimal,
  base10000Lead,
  compareDecimal,
  decimalEqualityKey,
  decimalFromBinary,
  decimalFromText,
  decimalToBinary,
  divideDecimal,
  finite,
  formatDecimal,
  parseDecimal,
  type Decimal,
} from '../../../proxy/executor/merge/decimal.js';
import { formatFloat4, formatFloat8 } from '../../../proxy/executor/merge/float-format.js';
import { parseDate, parseTime, parseTimestamp } from '../../../proxy/executor/merge/datetime.js';
import { Collation, compareKeys, compareScalar, equalityKey, keyOf, scalarOf } from '../../../proxy/executor/merge/text-values.js';
import { valueType } from '../../../proxy/executor/merge/value-types.js';
import { EXTRA_FLOAT_DIGITS, loadFixtures } from './pg-fixtures.js';
import { OID, binFloat8, binInt2, binInt4, binInt8 } from './frames.js';

const fixtures = loadFixtures();

function dec(text: string): Decimal {
  const d = parseDecimal(text);
  if (d === null) throw new Error(`not a decimal: ${text}`);
  return d;
}

void t.test('fixtures come from PostgreSQL 15', async (t) => {
  t.match(fixtures.postgres, /^15\./);
  t.ok(fixtures.aggregates.length > 300 && fixtures.float8.length > 300 && fixtures.float4.length > 300 && fixtures.datetimes.length > 300);
});

void t.test('sum and avg print exactly as PostgreSQL (select_div_scale, div_var rounding, dscale)', async (t) => {
  let checked = 0;
  for (const c of fixtures.aggregates) {
    let sum: Decimal | null = null;
    for (const v of c.values) sum = sum === null ? dec(v) : addDecimal(sum, dec(v));
    const avg = divideDecimal(sum!, finite(BigInt(c.values.length), 0));
    const label = `${c.type} ${c.values.join(', ')}`;
    if (formatDecimal(sum!) !== c.sum) t.equal(formatDecimal(sum!), c.sum, `sum of ${label}`);
    if (formatDecimal(avg) !== c.avg) t.equal(formatDecimal(avg), c.avg, `avg of ${label}`);
    const send = decimalToBinary(avg).toString('hex');
    if (send !== c.avgSend) t.equal(send, c.avgSend, `numeric_send of avg of ${label}`);
    const back = decimalFromBinary(Buffer.from(c.avgSend, 'hex'), 0, c.avgSend.length / 2);
    if (back === null || formatDecimal(back) !== c.avg) t.fail(`numeric_recv of ${c.avgSend}`);
    checked++;
  }
  t.equal(checked, fixtures.aggregates.length, `${checked} PostgreSQL cases`);
});

void t.test('the brief\'s avg examples', async (t) => {
  const avg = (values: string[]): string => {
    const sum = values.map(dec).reduce((a, b) => addDecimal(a, b));
    return formatDecimal(divideDecimal(sum, finite(BigInt(values.length), 0)));
  };
  t.equal(avg(['1', '2']), '1.5000000000000000');
  t.equal(avg(['1', '2', '4']), '2.3333333333333333');
  t.equal(avg(['1.25', '2.5']), '1.8750000000000000');
  t.equal(avg(['-1', '-2', '-4']), '-2.3333333333333333', 'negative quotients round away from zero');
  t.equal(avg(['2', '-1', '1']), '0.66666666666666666667', 'a quotient below 1: more fraction digits');
  t.equal(avg(['1000000000000000000000000000000', '3']), '500000000000000000000000000002', 'large: scale 0, half rounds up');
  t.equal(avg(['0.001', '0.002']), '0.00150000000000000000', 'dscale and weight of small values');
  t.equal(avg(['10.000000000000000000001', '0']), '5.000000000000000000001', 'input display scale wins when larger');
});

void t.test('decimal parsing, ordering, equality keys', async (t) => {
  t.same(dec(' +1.50e2 '), finite(150n, 0), 'numeric_in exponent lowers the scale');
  t.same(dec('1.5e-2'), finite(15n, 3));
  t.same(dec('.5'), finite(5n, 1));
  t.equal(parseDecimal('1.2.3'), null);
  t.equal(parseDecimal(''), null);
  t.equal(formatDecimal(dec('-0.00')), '0.00', 'no negative zero');
  const buf = Buffer.from('xx-123456789012345678901234.5678yy');
  t.equal(formatDecimal(decimalFromText(buf, 2, buf.length - 2)!), '-123456789012345678901234.5678');
  const ordered = ['-Infinity', '-1e20', '-1.5', '-0.0001', '0', '0.00001', '1', '1.0000000000000000000001', '12', 'Infinity', 'NaN'];
  for (let i = 0; i < ordered.length; i++) {
    for (let j = 0; j < ordered.length; j++) {
      const c = compareDecimal(dec(ordered[i]!), dec(ordered[j]!));
      if (c !== Math.sign(i - j)) t.fail(`${ordered[i]} vs ${ordered[j]}: ${c}`);
    }
  }
  t.equal(compareDecimal(dec('1.0'), dec('1.00')), 0);
  t.equal(compareDecimal(dec('NaN'), dec('NaN')), 0);
  t.equal(decimalEqualityKey(dec('1.0')), decimalEqualityKey(dec('1.000')));
  t.equal(decimalEqualityKey(dec('-0.0')), decimalEqualityKey(dec('0')));
  t.not(decimalEqualityKey(dec('10')), decimalEqualityKey(dec('1')));
  t.same(base10000Lead(5n, 1), { weight: -1, firstDigit: 5000 }, '0.5 is digit 5000 at weight -1');
  t.same(base10000Lead(12345n, 0), { weight: 1, firstDigit: 1 });
  t.same(base10000Lead(1n, 5), { weight: -2, firstDigit: 1000 }, '0.00001');
  t.same(addDecimal(dec('Infinity'), dec('-Infinity')).special, dec('NaN').special);
  t.same(addDecimal(dec('1.5'), dec('2.25')), finite(375n, 2));
  for (const text of ['0', '0.000', '-1', '12345678.90123', '0.00000001', 'NaN', 'Infinity', '-Infinity', '-9999.9999']) {
    const b = decimalToBinary(dec(text));
    t.equal(formatDecimal(decimalFromBinary(b, 0, b.length)!), formatDecimal(dec(text)), `binary round trip of ${text}`);
  }
});

void t.test('float8out and float4out as PostgreSQL prints them', async (t) => {
  let checked = 0;
  for (const [cases, format, name] of [
    [fixtures.float8, formatFloat8, 'float8'],
    [fixtures.float4, formatFloat4, 'float4'],
  ] as const) {
    for (const c of cases) {
      const x = Buffer.from(c.bits, 'hex').readDoubleBE(0);
      for (const efd of EXTRA_FLOAT_DIGITS) {
        const mine = format(x, Number(efd));
        if (mine !== c.text[efd]) t.equal(mine, c.text[efd], `${name} ${x} extra_float_digits=${efd}`);
        checked++;
      }
    }
  }
  t.ok(checked > 4000, `${checked} PostgreSQL outputs`);
  t.equal(formatFloat8(1e20), '1e+20');
  t.equal(formatFloat8(-0), '-0');
  t.equal(formatFloat8(NaN), 'NaN');
  t.equal(formatFloat8(-Infinity), '-Infinity');
  t.equal(formatFloat8(1e-5), '1e-05');
  t.equal(formatFloat8(123456789012345), '123456789012345');
  t.equal(formatFloat8(431591630415800832), '4.3159163041580083e+17', 'a decimal on the interval boundary is not taken');
  t.equal(formatFloat4(Math.fround(55947.0625)), '55947.062', 'float4 ties round to even');
  t.equal(formatFloat4(Math.fround(1234567)), '1.234567e+06');
});

void t.test('datetimes parse to PostgreSQL\'s own epoch microseconds', async (t) => {
  let checked = 0;
  for (const c of fixtures.datetimes) {
    const expected = c.value === 'infinity' ? Infinity : c.value === '-infinity' ? -Infinity : BigInt(c.value);
    let got: number | bigint | null;
    switch (c.type) {
      case 'date':
        got = parseDate(c.text);
        break;
      case 'time':
        got = parseTime(c.text);
        break;
      case 'timestamp':
      case 'timestamptz':
        got = parseTimestamp(c.text, c.type === 'timestamptz');
        break;
    }
    const same = typeof expected === 'bigint' ? got !== null && BigInt(got) === expected : got === expected;
    if (!same) t.fail(`${c.type} ${c.text} (${c.timeZone}): ${String(got)} != ${String(expected)}`);
    checked++;
  }
  t.equal(checked, fixtures.datetimes.length, `${checked} PostgreSQL values`);
  t.equal(parseDate('01/02/2024'), null, 'DateStyle SQL is not read');
  t.equal(parseTimestamp('2024-01-02 03:04:05', true), null, 'timestamptz needs its offset');
});

void t.test('scalar comparisons by type OID', async (t) => {
  const txt = (oid: number, s: string) => {
    const ty = valueType(oid, 0, 'bytes');
    const b = Buffer.from(s);
    return keyOf(ty, b, 0, b.length);
  };
  const cmp = (oid: number, a: string, b: string): number => compareKeys(valueType(oid, 0, 'bytes'), txt(oid, a), txt(oid, b), null);
  t.equal(cmp(OID.float8, 'NaN', 'Infinity'), 1, 'NaN above Infinity');
  t.equal(cmp(OID.float8, 'NaN', 'NaN'), 0);
  t.equal(cmp(OID.float8, '-0', '0'), 0);
  t.equal(cmp(OID.float8, '-Infinity', '-1e+308'), -1);
  t.equal(cmp(OID.int8, '9223372036854775807', '9223372036854775806'), 1, 'beyond 2^53 exactly');
  t.equal(cmp(OID.int8, '-9223372036854775808', '-9007199254740993'), -1);
  t.equal(cmp(OID.int8, '9007199254740993', '9007199254740992'), 1);
  t.equal(cmp(OID.bool, 'f', 't'), -1);
  t.equal(cmp(OID.text, 'é', 'z'), 1, 'UTF-8 byte order');
  t.equal(cmp(OID.text, 'a', 'ab'), -1);
  t.equal(cmp(OID.bpchar, 'ab  ', 'ab'), 0, 'char(n) ignores trailing spaces');
  t.equal(cmp(OID.bpchar, 'ab ', 'ab!'), -1);
  t.equal(cmp(OID.date, '0001-12-31 BC', '0001-01-01'), -1, 'BC before AD');
  t.equal(cmp(OID.date, 'infinity', '294276-12-31'), 1);
  t.equal(cmp(OID.date, '-infinity', '4713-01-01 BC'), -1);
  t.equal(cmp(OID.timestamptz, '2024-01-01 01:00:00+01', '2024-01-01 00:00:00+00'), 0, 'same instant, other offset');
  t.equal(cmp(OID.timestamptz, '2024-01-01 00:00:00.000001+00', '2024-01-01 00:00:00+00'), 1);
  t.equal(cmp(OID.numeric, '2', '10'), -1, 'numeric is not text');
  t.equal(cmp(OID.uuid, '00000000-0000-0000-0000-00000000000a', '00000000-0000-0000-0000-000000000009'), 1);
  t.equal(compareScalar(1, 1n), 0, 'number and bigint compare by value');
  t.throws(() => txt(OID.int4, '12x'), { name: 'ProxyError', sqlstate: '0A000' });
  t.throws(() => txt(OID.timestamp, 'Mon Jan 01 00:00:00 2024'), { name: 'ProxyError', sqlstate: '0A000', fields: { hint: /DateStyle = ISO/ } });
});

void t.test('collated text: collator first, code points on ties', async (t) => {
  const c = new Collation('en');
  t.equal(c.compare('a', 'B'), -1, 'en: a before B (bytes would say B first)');
  t.equal(c.compare('B', 'b'), 1);
  t.equal(c.compare('x', 'x'), 0);
  const ty = valueType(OID.text, 0, { locale: 'en' });
  t.equal(ty.key, 'collated');
  t.equal(valueType(19, 0, { locale: 'en' }).key, 'bytes', 'name always sorts in C order');
});

void t.test('binary fields of the supported types', async (t) => {
  const bin = (oid: number, b: Buffer) => scalarOf(valueType(oid, 1, 'bytes'), b, 0, b.length);
  t.equal(bin(OID.int2, binInt2(-5)), -5);
  t.equal(bin(OID.int4, binInt4(-70000)), -70000);
  t.equal(bin(OID.int8, binInt8(2n ** 62n)), 2n ** 62n);
  t.equal(bin(OID.int8, binInt8(42)), 42);
  t.equal(bin(26, Buffer.from([0xff, 0xff, 0xff, 0xff])), 4294967295, 'oid is unsigned');
  t.equal(bin(OID.float8, binFloat8(-2.5)), -2.5);
  t.equal(bin(OID.bool, Buffer.from([1])), 1);
  const b = Buffer.alloc(8);
  b.writeBigInt64BE(0x7fffffffffffffffn);
  t.equal(bin(OID.timestamptz, b), Infinity, 'timestamp infinity');
  t.throws(() => bin(OID.int4, binInt2(1)), { name: 'ProxyError', sqlstate: '0A000' }, 'wrong width');
  t.notOk(valueType(OID.interval, 1, 'bytes').inspectable, 'binary interval cannot be read');
  t.ok(valueType(OID.interval, 0, 'bytes').inspectable, 'text interval is ordered by bytes');
});

void t.test('equality keys follow PostgreSQL equality', async (t) => {
  const key = (oid: number, s: string, format: 0 | 1 = 0, raw?: Buffer) => {
    const b = raw ?? Buffer.from(s);
    return equalityKey(valueType(oid, format, 'bytes'), b, 0, b.length);
  };
  t.equal(key(OID.numeric, '1.0'), key(OID.numeric, '1.00'));
  t.equal(key(OID.float8, '-0'), key(OID.float8, '0'));
  t.equal(key(OID.float8, 'NaN'), key(OID.float8, 'NaN'));
  t.equal(key(OID.float8, '', 1, binFloat8(-0)), key(OID.float8, '', 1, binFloat8(0)));
  t.equal(key(OID.bpchar, 'a  '), key(OID.bpchar, 'a'));
  t.not(key(OID.text, 'a '), key(OID.text, 'a'));
  t.not(key(OID.numeric, '1.01'), key(OID.numeric, '1.1'));
});
