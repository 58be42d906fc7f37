// Expression columns through the whole MergeStream: the placeholder's RowDescription field reaches
// the client as the shards described it (PostgreSQL's type and name), the value is computed from the
// merged aggregates, HAVING filters groups before their select-list expressions are computed (and
// computes its own only as far as it needs them), ORDER BY/LIMIT over expression columns, binary
// results, the 0A000 when the shards' type is not the one the proxy would compute, and the type
// modifier the proxy gives an expression column (numeric(p, s), as PostgreSQL describes it).
import t from 'tap';
import type { Merge, MergeColumn, MergeExpr, Predicate } from '../../../planner/plan.js';
import { MergeStream, type MergeOptions } from '../../../proxy/executor/merge/merge-stream.js';
import { ProxyError } from '../../../proxy/errors.js';
import { decimalFromBinary, formatDecimal } from '../../../proxy/executor/merge/decimal.js';
import { readRowDescription } from '../../../proxy/executor/merge/row-codec.js';
import { DEFAULT_OPTIONS, OID, Rng, dataRow, decodeRows, merge, rowDescription, runMerge, type Column, type Field } from './frames.js';

function shard(columns: readonly Column[], rows: readonly (readonly Field[])[]) {
  return { description: rowDescription(columns), rows: rows.map((r) => dataRow(r)) };
}

const texts = (frames: Buffer[]): (string | null)[][] => decodeRows(frames) as (string | null)[][];
const agg = (columns: MergeColumn[], having: Predicate | null = null) => ({ columns, having });
const hidden = (index: number): MergeExpr => ({ kind: 'column', column: { hidden: true, index } });
const int4 = (v: number): MergeExpr => ({ kind: 'const', type: 'int4', text: String(v) });

function errorOf(fn: () => unknown): ProxyError | null {
  try {
    fn();
    return null;
  } catch (err) {
    if (err instanceof ProxyError) return err;
    throw err;
  }
}

/** Feeds every shard in turn (no interleaving) and drains: errors surface from the call that raised them. */
function feed(spec: Merge, shards: { description: Buffer; rows: Buffer[] }[], options: Partial<MergeOptions> = {}): Buffer[] {
  const m = new MergeStream(spec, { ...DEFAULT_OPTIONS, ...options, shards: shards.length });
  shards.forEach((s, i) => m.describe(i, s.description));
  shards.forEach((s, i) => {
    for (const r of s.rows) m.row(i, r, 0, r.length);
    m.end(i);
  });
  const out: Buffer[] = [];
  m.drain((f) => out.push(f));
  return out;
}

// SELECT coalesce(sum(x), 0), sum(x) / count(*) FROM t: placeholders (int8, int8), then sum, count.
const coalesceCols: Column[] = [
  { name: 'coalesce', oid: OID.int8, typlen: 8, tableOid: 0, attnum: 0 },
  { name: '?column?', oid: OID.int8, typlen: 8, tableOid: 0, attnum: 0 },
  { name: 'pgshard_hidden_1', oid: OID.int8, typlen: 8 },
  { name: 'pgshard_hidden_2', oid: OID.int8, typlen: 8 },
];
const coalesceSpec = merge({
  hiddenColumns: 2,
  aggregate: agg([
    { kind: 'expr', expr: { kind: 'coalesce', args: [hidden(0), int4(0)] } },
    { kind: 'expr', expr: { kind: 'arith', op: '/', left: hidden(0), right: hidden(1) } },
    { kind: 'sum' },
    { kind: 'count' },
  ]),
});

void t.test('the client sees the placeholder fields as the shards described them, with computed values', async (t) => {
  const run = runMerge(coalesceSpec, [shard(coalesceCols, [[null, null, '7', '2']]), shard(coalesceCols, [[null, null, '-2', '1']]), shard(coalesceCols, [[null, null, null, '0']])], new Rng(3));
  t.ok(run.description.equals(rowDescription(coalesceCols.slice(0, 2))), 'RowDescription: names, type OIDs, table OID 0, byte for byte');
  t.same(texts(run.frames), [['5', '1']], 'coalesce(7 + -2, 0) and integer division 5 / 3');
  const empty = runMerge(coalesceSpec, [shard(coalesceCols, [[null, null, null, '0']]), shard(coalesceCols, [[null, null, null, '0']])], new Rng(4));
  t.same(texts(empty.frames), [['0', null]], 'no rows anywhere: coalesce gives 0, NULL / 0 is NULL');
});

void t.test('errors are PostgreSQL\'s: overflow and division by zero', async (t) => {
  const overflow = errorOf(() => feed(coalesceSpec, [shard(coalesceCols, [[null, null, '9223372036854775807', '1']]), shard(coalesceCols, [[null, null, '1', '1']])]));
  t.match(overflow, { sqlstate: '22003', message: 'bigint out of range' }, 'the merged sum overflows first, as PostgreSQL\'s');
  const zero = errorOf(() => feed(coalesceSpec, [shard(coalesceCols, [[null, null, '3', '0']])]));
  t.match(zero, { sqlstate: '22012', message: 'division by zero' });
});

// SELECT g, 10 / (g - 5) ... GROUP BY g HAVING g <> 5: groups 4, 5, 6 (int4).
const groupCols: Column[] = [
  { name: 'g', oid: OID.int4, typlen: 4 },
  { name: '?column?', oid: OID.int4, typlen: 4, tableOid: 0, attnum: 0 },
  { name: 'pgshard_hidden_1', oid: OID.int4, typlen: 4 },
  { name: 'pgshard_hidden_2', oid: OID.int8, typlen: 8 },
];
const gMinus5: Predicate = { kind: 'compare', op: '<>', left: { kind: 'column', column: { hidden: false, index: 0 } }, right: { kind: 'literal', text: '5' } };
const groupRows = (s: number): Field[][] => [4, 5, 6].filter((g) => g % 2 === s % 2 || s === 2).map((g) => [String(g), null, String(g - 5), String(s + 1)]);

void t.test('HAVING filters a group before its select-list expressions are computed', async (t) => {
  const spec = (having: Predicate | null): Merge =>
    merge({
      hiddenColumns: 2,
      aggregate: agg([{ kind: 'group' }, { kind: 'expr', expr: { kind: 'arith', op: '/', left: { kind: 'const', type: 'int4', text: '10' }, right: hidden(0) } }, { kind: 'group' }, { kind: 'count' }], having),
      orderBy: [{ column: { hidden: false, index: 0 }, descending: false, nullsFirst: false }],
    });
  const shards = [0, 1, 2].map((s) => shard(groupCols, groupRows(s)));
  t.same(texts(runMerge(spec(gMinus5), shards, new Rng(9)).frames), [['4', '-10'], ['6', '10']], 'group 5 never computed');
  t.match(errorOf(() => feed(spec(null), shards)), { sqlstate: '22012' }, 'without the HAVING, group 5 divides by zero');
});

void t.test('HAVING computes its own expression columns only as far as AND/OR need them', async (t) => {
  // HAVING g <> 5 AND 10 / (g - 5) > 1: the division is not evaluated for group 5.
  const division: Predicate = { kind: 'compare', op: '>', left: { kind: 'column', column: { hidden: true, index: 2 } }, right: { kind: 'literal', text: '1' } };
  const cols: Column[] = [...groupCols.slice(0, 1), groupCols[2]!, groupCols[3]!, { name: 'pgshard_hidden_3', oid: OID.int4, typlen: 4, tableOid: 0, attnum: 0 }];
  const spec = merge({
    hiddenColumns: 3,
    aggregate: agg(
      [{ kind: 'group' }, { kind: 'group' }, { kind: 'count' }, { kind: 'expr', expr: { kind: 'arith', op: '/', left: int4(10), right: hidden(0) } }],
      { kind: 'and', args: [gMinus5, division] },
    ),
    orderBy: [{ column: { hidden: false, index: 0 }, descending: false, nullsFirst: false }],
  });
  const shards = [0, 1].map(() => shard(cols, [4, 5, 6].map((g) => [String(g), String(g - 5), '1', null])));
  t.same(texts(runMerge(spec, shards, new Rng(2)).frames), [['6']], 'only group 6 passes: 10 / 1 > 1');
});

void t.test('ORDER BY and LIMIT over an expression column; DISTINCT over computed values', async (t) => {
  // SELECT g, sum(v) - 10 AS d ... ORDER BY d DESC LIMIT 2
  const cols: Column[] = [
    { name: 'g', oid: OID.text },
    { name: 'd', oid: OID.numeric, tableOid: 0, attnum: 0 },
    { name: 'pgshard_hidden_1', oid: OID.numeric },
  ];
  const spec = merge({
    hiddenColumns: 1,
    aggregate: agg([{ kind: 'group' }, { kind: 'expr', expr: { kind: 'arith', op: '-', left: hidden(0), right: int4(10) } }, { kind: 'sum' }]),
    orderBy: [{ column: { hidden: false, index: 1 }, descending: true, nullsFirst: true }],
    limit: { kind: 'literal', value: 2n },
  });
  const shards = [
    shard(cols, [['a', null, '1.5'], ['b', null, '20'], ['c', null, null]]),
    shard(cols, [['a', null, '100.25'], ['d', null, '-3']]),
  ];
  t.same(texts(runMerge(spec, shards, new Rng(5)).frames), [['c', null], ['a', '91.75']], 'NULLS FIRST for DESC, then the largest');
  // SELECT DISTINCT sum(v) - 10 ... GROUP BY g: 10 - 10 and 10.0 - 10 are one value.
  const distinctCols: Column[] = [cols[1]!, { name: 'pgshard_hidden_1', oid: OID.text }, { name: 'pgshard_hidden_2', oid: OID.numeric }];
  const distinct = merge({
    hiddenColumns: 2,
    aggregate: agg([{ kind: 'expr', expr: { kind: 'arith', op: '-', left: hidden(1), right: int4(10) } }, { kind: 'group' }, { kind: 'sum' }]),
    distinct: true,
  });
  const out = texts(runMerge(distinct, [shard(distinctCols, [[null, 'a', '10'], [null, 'b', '10.0'], [null, 'c', '11']])], new Rng(5)).frames);
  t.same(out.map((r) => (r[0] === '0.0' ? '0' : r[0])).sort(), ['0', '1'], 'DISTINCT compares computed values as PostgreSQL\'s = does');
});

void t.test('an expression column in binary format', async (t) => {
  const cols: Column[] = [
    { name: 'round', oid: OID.numeric, format: 1, tableOid: 0, attnum: 0 },
    { name: 'pgshard_hidden_1', oid: OID.int8, typlen: 8, format: 1 },
    { name: 'pgshard_hidden_2', oid: OID.numeric, format: 1 },
  ];
  const numeric = (text: string): Buffer => {
    // numeric_send of a small positive value with dscale 1: digits in base 10000.
    const [whole, frac = ''] = text.split('.');
    const b = Buffer.alloc(8 + 4);
    b.writeInt16BE(2, 0);
    b.writeInt16BE(0, 2);
    b.writeUInt16BE(0, 4);
    b.writeInt16BE(frac.length, 6);
    b.writeInt16BE(Number(whole), 8);
    b.writeInt16BE(Number(frac.padEnd(4, '0')), 10);
    return b;
  };
  const int8 = (v: bigint): Buffer => {
    const b = Buffer.alloc(8);
    b.writeBigInt64BE(v);
    return b;
  };
  // round(avg(x), 2) with avg merged from sum and count.
  const spec = merge({
    hiddenColumns: 2,
    aggregate: agg([{ kind: 'expr', expr: { kind: 'round', arg: hidden(1), digits: 2 } }, { kind: 'count' }, { kind: 'avg', count: { hidden: true, index: 0 } }]),
  });
  const out = runMerge(spec, [shard(cols, [[null, int8(2n), numeric('1.5')]]), shard(cols, [[null, int8(1n), numeric('2.5')]])], new Rng(6));
  const field = decodeRows(out.frames, true)[0]![0] as Buffer;
  t.equal(formatDecimal(decimalFromBinary(field, 0, field.length)!), '1.33', 'numeric_send of round(4.0 / 3, 2)');
});

void t.test('the shards\' type for the placeholder must be the one the proxy computes', async (t) => {
  const cols: Column[] = [
    { name: '?column?', oid: OID.numeric, tableOid: 0, attnum: 0 },
    { name: 'pgshard_hidden_1', oid: OID.int8 },
  ];
  const spec = merge({ hiddenColumns: 1, aggregate: agg([{ kind: 'expr', expr: { kind: 'arith', op: '/', left: hidden(0), right: int4(2) } }, { kind: 'count' }]) });
  const m = new MergeStream(spec, { ...DEFAULT_OPTIONS, shards: 1 });
  t.match(errorOf(() => m.describe(0, rowDescription(cols))), { sqlstate: '0A000', message: /pgshard would compute int8 where PostgreSQL reports numeric/ });
});

void t.test('floats cast to text follow extra_float_digits', async (t) => {
  const cols: Column[] = [
    { name: 'text', oid: OID.text, tableOid: 0, attnum: 0 },
    { name: 'pgshard_hidden_1', oid: OID.float8, typlen: 8 },
  ];
  const spec = merge({ hiddenColumns: 1, aggregate: agg([{ kind: 'expr', expr: { kind: 'cast', to: 'text', arg: { kind: 'arith', op: '/', left: hidden(0), right: int4(3) } } }, { kind: 'max' }]) });
  t.same(texts(feed(spec, [shard(cols, [[null, '1']])])), [['0.3333333333333333']]);
  t.same(texts(feed(spec, [shard(cols, [[null, '1']])], { extraFloatDigits: -3 })), [['0.333333333333']]);
});

void t.test('CASE over a grouped condition the shards computed, with a bound parameter', async (t) => {
  // SELECT status, CASE status WHEN 'paid' THEN sum(total) * $1 ELSE 0 END ... GROUP BY status:
  // the shards return `status = 'paid'` (a hidden group column) and sum(total); the proxy merges
  // the sums and computes the CASE, $1 typed as sum's numeric.
  const cols: Column[] = [
    { name: 'status', oid: OID.text },
    { name: 'case', oid: OID.numeric, tableOid: 0, attnum: 0 },
    { name: 'pgshard_hidden_1', oid: OID.bool, typlen: 1 },
    { name: 'pgshard_hidden_2', oid: OID.numeric },
  ];
  const spec = merge({
    hiddenColumns: 2,
    aggregate: agg([
      { kind: 'group' },
      {
        kind: 'expr',
        expr: {
          kind: 'case',
          whens: [{ condition: { kind: 'truth', arg: hidden(0) }, result: { kind: 'arith', op: '*', left: hidden(1), right: { kind: 'param', index: 0 } } }],
          otherwise: int4(0),
        },
      },
      { kind: 'group' },
      { kind: 'sum' },
    ]),
    orderBy: [{ column: { hidden: false, index: 0 }, descending: false, nullsFirst: false }],
  });
  const shards = [shard(cols, [['paid', null, 't', '10.50'], ['open', null, 'f', '3']]), shard(cols, [['paid', null, 't', '1.25'], ['void', null, 'f', null]])];
  const params = { values: [Buffer.from('2')], formats: [0], types: [0] };
  t.same(texts(runMerge(spec, shards, new Rng(8), { params }).frames), [['open', '0'], ['paid', '23.50'], ['void', '0']], '(10.50 + 1.25) * 2 for paid, 0 elsewhere');
  t.same(texts(runMerge(spec, shards, new Rng(8), { params: { ...params, values: [null] } }).frames), [['open', '0'], ['paid', null], ['void', '0']], 'a NULL parameter');
});

void t.test('% and numeric(p, s) over merged sums, with PostgreSQL\'s errors', async (t) => {
  // SELECT sum(x) % 7, sum(x)::numeric(4,1): int8 sums of int4 columns.
  const cols: Column[] = [
    { name: '?column?', oid: OID.int8, typlen: 8, tableOid: 0, attnum: 0 },
    { name: 'sum', oid: OID.numeric, tableOid: 0, attnum: 0 },
    { name: 'pgshard_hidden_1', oid: OID.int8, typlen: 8 },
  ];
  const spec = merge({
    hiddenColumns: 1,
    aggregate: agg([
      { kind: 'expr', expr: { kind: 'arith', op: '%', left: hidden(0), right: int4(7) } },
      { kind: 'expr', expr: { kind: 'typmod', arg: { kind: 'cast', to: 'numeric', arg: hidden(0) }, precision: 4, scale: 1 } },
      { kind: 'sum' },
    ]),
  });
  t.same(texts(feed(spec, [shard(cols, [[null, null, '-500']]), shard(cols, [[null, null, '-22']])])), [['-4', '-522.0']], '-522 % 7 keeps the sign of the dividend');
  const overflow = errorOf(() => feed(spec, [shard(cols, [[null, null, '999']]), shard(cols, [[null, null, '1']])]));
  t.match(overflow, { sqlstate: '22003', message: 'numeric field overflow', fields: { detail: 'A field with precision 4, scale 1 must round to an absolute value less than 10^3.' } });
});

void t.test('the RowDescription carries the type modifier PostgreSQL gives the expression, not the placeholder\'s', async (t) => {
  // SELECT g, CASE WHEN count(*) > 0 THEN g ELSE g END, sum(x)::numeric(10,2),
  //        CASE WHEN true THEN sum(x)::numeric(6,1) END, coalesce(g, 0) ... GROUP BY g
  // with g numeric(10,3): the shards describe every placeholder without a type modifier (a CASE
  // without ELSE has none); PostgreSQL itself reports numeric(10,3), numeric(10,2), numeric(6,1)
  // (the CASE reduced to its arm) and numeric (0 converted to numeric has none).
  const g = ((10 << 16) | 3) + 4;
  const cols: Column[] = [
    { name: 'g', oid: OID.numeric, typmod: g },
    { name: 'g', oid: OID.numeric, tableOid: 0, attnum: 0 },
    { name: 'sum', oid: OID.numeric, tableOid: 0, attnum: 0 },
    { name: 'sum', oid: OID.numeric, tableOid: 0, attnum: 0 },
    { name: 'coalesce', oid: OID.numeric, tableOid: 0, attnum: 0 },
    { name: 'pgshard_hidden_1', oid: OID.int8, typlen: 8 },
    { name: 'pgshard_hidden_2', oid: OID.numeric },
  ];
  const visible = (index: number): MergeExpr => ({ kind: 'column', column: { hidden: false, index } });
  const typmod = (arg: MergeExpr, precision: number, scale: number): MergeExpr => ({ kind: 'typmod', arg: { kind: 'cast', to: 'numeric', arg }, precision, scale });
  const spec = merge({
    hiddenColumns: 2,
    aggregate: agg([
      { kind: 'group' },
      { kind: 'expr', expr: { kind: 'case', whens: [{ condition: { kind: 'compare', op: '>', left: hidden(0), right: int4(0) }, result: visible(0) }], otherwise: visible(0) } },
      { kind: 'expr', expr: typmod(hidden(1), 10, 2) },
      { kind: 'expr', expr: { kind: 'case', whens: [{ condition: { kind: 'truth', arg: { kind: 'const', type: 'bool', text: 'true' } }, result: typmod(hidden(1), 6, 1) }], otherwise: null } },
      { kind: 'expr', expr: { kind: 'coalesce', args: [visible(0), int4(0)] } },
      { kind: 'count' },
      { kind: 'sum' },
    ]),
  });
  const run = runMerge(spec, [shard(cols, [['1.500', null, null, null, null, '2', '10.25']]), shard(cols, [['1.500', null, null, null, null, '1', '0.5']])], new Rng(11));
  const described = readRowDescription(run.description, 0, run.description.length);
  t.same(described.fields.map((f) => f.typeModifier), [g, g, ((10 << 16) | 2) + 4, ((6 << 16) | 1) + 4, -1]);
  t.same(described.fields.map((f) => f.typeOid), [OID.numeric, OID.numeric, OID.numeric, OID.numeric, OID.numeric], 'the types are the shards\'');
  t.same(texts(run.frames), [['1.500', '1.500', '10.75', '10.8', '1.500']]);
});
