import t from 'tap';
import { colocated, literalDatum, paramDatum, placeValue, placeNull, castFamily } from '../../../planner/routing/key-values.js';
import { decodeArrayParam } from '../../../planner/routing/array-param.js';
import { findHint } from '../../../planner/routing/hints.js';
import type { ShardedTableRule } from '../../../planner/sharding-rules.js';
import { int4Binary, int8Binary, makeRules, shardOf, textParams } from './routing-fixtures.js';

const rules = makeRules();
const rule = (name: string): ShardedTableRule => {
  const r = rules.tables.get(name);
  if (r === undefined || r.kind !== 'sharded') throw new Error(name);
  return r;
};
const enc = new TextEncoder();

void t.test('literals decode per key type', async (t) => {
  t.strictSame(literalDatum({ kind: 'int', value: 42n }, null, 'int4'), { kind: 'value', value: 42 });
  t.strictSame(literalDatum({ kind: 'int', value: 40000n }, null, 'int2'), { kind: 'invalid' }, 'beyond int2');
  t.strictSame(literalDatum({ kind: 'int', value: 9007199254740993n }, null, 'int8'), { kind: 'value', value: 9007199254740993n }, 'beyond 2^53 stays bigint');
  t.strictSame(literalDatum({ kind: 'string', text: ' +7 ' }, null, 'int8'), { kind: 'value', value: 7 });
  t.strictSame(literalDatum({ kind: 'string', text: '7x' }, null, 'int8'), { kind: 'invalid' });
  t.strictSame(literalDatum({ kind: 'numeric', text: '3.000' }, null, 'int8'), { kind: 'value', value: 3 });
  t.strictSame(literalDatum({ kind: 'numeric', text: '3.5' }, null, 'int8'), { kind: 'invalid' });
  t.strictSame(literalDatum({ kind: 'numeric', text: '1e3' }, null, 'int8'), { kind: 'unknown' });
  t.strictSame(literalDatum({ kind: 'int', value: 5n }, 'text', 'text'), { kind: 'value', value: '5' }, '5::text for a text key');
  t.strictSame(literalDatum({ kind: 'int', value: 5n }, null, 'text'), { kind: 'unknown' }, 'text = integer is not modelled');
  t.strictSame(literalDatum({ kind: 'string', text: 'x' }, 'int', 'text'), { kind: 'unknown' }, 'cast to another family');
  t.strictSame(literalDatum({ kind: 'bool', value: true }, null, 'int4'), { kind: 'unknown' });
  t.strictSame(literalDatum({ kind: 'null' }, null, 'int4'), { kind: 'null' });
  t.equal(castFamily('bpchar', false), 'other', 'char(n) compares differently');
  t.equal(castFamily('int8', true), 'other', 'arrays');
});

void t.test('parameters decode by format and declared type', async (t) => {
  t.strictSame(paramDatum(textParams('12'), 0, null, 'int4'), { kind: 'value', value: 12 });
  t.strictSame(paramDatum(textParams('-9223372036854775808'), 0, null, 'int8'), { kind: 'value', value: -9223372036854775808n });
  t.strictSame(paramDatum(textParams('9223372036854775808'), 0, null, 'int8'), { kind: 'invalid' }, 'out of int8 range');
  t.strictSame(paramDatum(textParams('12'), 3, null, 'int4'), { kind: 'unknown' }, 'missing parameter');
  t.strictSame(paramDatum(null, 0, null, 'int4'), { kind: 'unknown' }, 'no parameters');
  t.strictSame(paramDatum({ values: [int4Binary(-3)], formats: [1], types: [0] }, 0, null, 'int8'), { kind: 'value', value: -3 });
  t.strictSame(paramDatum({ values: [int8Binary(5n)], formats: [1], types: [20] }, 0, null, 'int4'), { kind: 'value', value: 5 });
  t.strictSame(paramDatum({ values: [int8Binary(1n << 40n)], formats: [1], types: [20] }, 0, null, 'int4'), { kind: 'invalid' }, 'int8 value beyond an int4 key');
  t.strictSame(paramDatum({ values: [new Uint8Array(3)], formats: [1], types: [0] }, 0, null, 'int4'), { kind: 'invalid' }, 'odd length');
  t.strictSame(paramDatum({ values: [enc.encode('42')], formats: [0], types: [25] }, 0, null, 'int4'), { kind: 'unknown' }, 'declared text vs int key, no cast');
  t.strictSame(paramDatum({ values: [enc.encode('42')], formats: [0], types: [25] }, 0, 'int', 'int4'), { kind: 'value', value: 42 }, 'declared text, cast to int in SQL');
  t.strictSame(paramDatum({ values: [enc.encode('42')], formats: [1], types: [25] }, 0, null, 'int4'), { kind: 'unknown' }, 'binary text vs int key');
  t.strictSame(paramDatum({ values: [new Uint8Array([0xff])], formats: [1], types: [25] }, 0, null, 'text'), { kind: 'invalid' }, 'invalid UTF-8');
  t.strictSame(paramDatum({ values: [null], formats: [0], types: [0] }, 0, null, 'uuid'), { kind: 'null' });
});

void t.test('placement under hash, range and list rules', async (t) => {
  t.equal(placeValue(rules, rule('users'), 'int8', 42), shardOf('int8', 42));
  t.equal(placeValue(rules, rule('users'), 'int8', 42n), shardOf('int8', 42));
  t.equal(placeValue(rules, rule('ranged'), 'int8', 100), 1, 'from is inclusive');
  t.equal(placeValue(rules, rule('ranged'), 'int8', 199n), 1, 'to is exclusive');
  t.equal(placeValue(rules, rule('ranged'), 'int8', 300), 'no-piece');
  t.equal(placeValue(rules, rule('listed'), 'text', 'eu'), 1);
  t.equal(placeValue(rules, rule('listed'), 'text', 'EU'), 'no-piece', 'list values are exact');
  const utf8Range: ShardedTableRule = {
    kind: 'sharded', name: 'r', schema: null, column: 'k', keyType: 'text',
    method: { kind: 'range', pieces: [{ from: null, to: '\uff61', shard: 0 }, { from: '\uff61', to: null, shard: 1 }] },
  };
  t.equal(placeValue(rules, utf8Range, 'text', '\u{1f600}'), 1, 'UTF-8 byte order, not UTF-16 code units');
  t.equal(placeNull(rules, rule('users'), 'int8'), shardOf('int8', null));
  t.equal(placeNull(rules, rule('ranged'), 'int8'), 'no-piece');
  const withDefault: ShardedTableRule = { ...rule('listed'), method: { kind: 'list', pieces: [], defaultShard: 3 } };
  t.equal(placeValue(rules, withDefault, 'text', 'zz'), 3);
  t.equal(placeNull(rules, withDefault, 'text'), 3);
});

void t.test('co-location of rules', async (t) => {
  t.ok(colocated(rule('users'), rule('orders')), 'int8 hash + int8 hash');
  t.ok(colocated(rule('users'), rule('pgbench_accounts')), 'int8 + int4 hash alike');
  t.notOk(colocated(rule('users'), rule('accounts')), 'int vs text');
  t.ok(colocated(rule('accounts'), rule('tenants_text')), 'text + varchar');
  t.notOk(colocated(rule('users'), rule('ranged')), 'hash vs range');
  t.ok(colocated(rule('ranged'), rule('ranged_twin')), 'identical pieces');
  t.notOk(colocated(rule('ranged'), rule('words')), 'different pieces');
  t.notOk(colocated(rule('pending'), rule('users')), 'unknown key type');
});

void t.test('array parameters', async (t) => {
  t.strictSame(decodeArrayParam(textParams('{1, 2 ,"3",NULL}'), 0, 'int8'), [
    { kind: 'value', value: 1 }, { kind: 'value', value: 2 }, { kind: 'value', value: 3 }, { kind: 'null' },
  ]);
  t.strictSame(decodeArrayParam(textParams('{"a,b","c\\"d",NULL,"NULL"}'), 0, 'text'), [
    { kind: 'value', value: 'a,b' }, { kind: 'value', value: 'c"d' }, { kind: 'null' }, { kind: 'value', value: 'NULL' },
  ]);
  t.strictSame(decodeArrayParam(textParams('{}'), 0, 'int4'), []);
  t.equal(decodeArrayParam(textParams('{{1,2},{3,4}}'), 0, 'int4'), null, 'two dimensions: not understood');
  t.equal(decodeArrayParam(textParams('[1:2]={1,2}'), 0, 'int4'), null, 'explicit bounds: not understood');
  const bin = new Uint8Array(20 + 8);
  const v = new DataView(bin.buffer);
  v.setInt32(0, 1);
  v.setUint32(8, 23);
  v.setInt32(12, 2);
  v.setInt32(16, 1);
  v.setInt32(20, 4);
  v.setInt32(24, 77);
  t.equal(decodeArrayParam({ values: [bin], formats: [1], types: [1007] }, 0, 'int4'), null, 'truncated binary array');
  const good = new Uint8Array(20 + 8 + 4);
  good.set(bin);
  const g = new DataView(good.buffer);
  g.setInt32(28, -1);
  t.strictSame(decodeArrayParam({ values: [good], formats: [1], types: [1007] }, 0, 'int4'), [{ kind: 'value', value: 77 }, { kind: 'null' }]);
  g.setUint32(8, 25);
  t.equal(decodeArrayParam({ values: [good], formats: [1], types: [1009] }, 0, 'int4'), null, 'text[] for an int key');
});

void t.test('hint syntax', async (t) => {
  t.strictSame(findHint('select /* pgshard: shard=3 */ 1'), { kind: 'shard', shard: 3 });
  t.strictSame(findHint('select /* PGSHARD: Shard = 3 */ 1'), { kind: 'shard', shard: 3 });
  t.strictSame(findHint("select 1 /* pgshard: key='it''s' */"), { kind: 'key', value: "it's" });
  t.strictSame(findHint('select 1 /* pgshard: key=abc-1 */'), { kind: 'key', value: 'abc-1' });
  t.strictSame(findHint('select 1 /* pgshard: nonsense */'), { kind: 'invalid', text: 'pgshard: nonsense' });
  t.strictSame(findHint('select 1 /* pgshard: replica=1 */'), { kind: 'invalid', text: 'pgshard: replica=1' });
  t.strictSame(findHint('select 1 /* a pgshard: shard=1 mention */'), null, 'not at the start of the comment');
  t.strictSame(findHint('select "pgshard: shard=1" from t'), null, 'quoted identifier');
});
