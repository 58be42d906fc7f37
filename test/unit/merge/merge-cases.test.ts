// MergeStream on chosen cases: exact bytes of what the client gets (hidden columns stripped,
// RowDescription retyped), PostgreSQL's own avg/sum text through the whole merge (fixtures), floats,
// NaN/NULL ordering, binary columns, HAVING, limits (54000), back-pressure, LIMIT, and the errors.
import t from 'tap';
import type { BoundParams, Merge, MergeColumn, Predicate } from '../../../planner/plan.js';
import { MergeStream, type MergeOptions } from '../../../proxy/executor/merge/merge-stream.js';
import { decimalFromBinary, formatDecimal } from '../../../proxy/executor/merge/decimal.js';
import { cstr, i16, i32, typed, u32 } from '../../helpers/wire-bytes.js';
import { loadFixtures } from './pg-fixtures.js';
import { DEFAULT_OPTIONS, OID, Rng, binFloat8, binInt4, binInt8, dataRow, decodeRows, merge, rowDescription, runMerge, type Column, type Field } from './frames.js';
import { formatScaled, num } from './model.js';

const fixtures = loadFixtures();

/** One shard's result for runMerge. */
function shard(columns: readonly Column[], rows: readonly (readonly Field[])[]) {
  return { description: rowDescription(columns), rows: rows.map((r) => dataRow(r)) };
}

function texts(frames: Buffer[]): (string | null)[][] {
  return decodeRows(frames) as (string | null)[][];
}

function stream(spec: Merge, shards: number, options: Partial<MergeOptions> = {}): MergeStream {
  return new MergeStream(spec, { ...DEFAULT_OPTIONS, ...options, shards });
}

const agg = (columns: MergeColumn[], having: Predicate | null = null) => ({ columns, having });

// ---------------------------------------------------------------------------------------------
// Bytes the client sees

void t.test('hidden columns are stripped: frames exactly as if the shard had not sent them', async (t) => {
  const cols: Column[] = [
    { name: 'id', oid: OID.int4 },
    { name: 'name', oid: OID.text },
    { name: 'sort1', oid: OID.int8 },
    { name: 'sort2', oid: OID.text },
  ];
  const spec = merge({
    hiddenColumns: 2,
    orderBy: [
      { column: { hidden: true, index: 0 }, descending: false, nullsFirst: false },
      { column: { hidden: true, index: 1 }, descending: true, nullsFirst: true },
    ],
  });
  const run = runMerge(
    spec,
    [
      shard(cols, [['1', 'a', '1', 'z'], ['2', null, '5', 'q'], ['3', 'ccc', null, 'x']]),
      shard(cols, [['4', 'ü', '1', null], ['5', '', '3', 'a']]),
    ],
    new Rng(5),
  );
  const expected = [
    ['4', 'ü'],
    ['1', 'a'],
    ['5', ''],
    ['2', null],
    ['3', 'ccc'],
  ].map((r) => dataRow(r));
  t.equal(run.frames.length, expected.length);
  run.frames.forEach((f, i) => t.ok(f.equals(expected[i]!), `row ${i + 1} bytes: ${f.toString('hex')}`));
  t.ok(run.description.equals(rowDescription(cols.slice(0, 2))), 'RowDescription without the hidden fields, byte for byte');
});

void t.test('RowDescription: avg retyped (numeric for integer input, float8 for float input), the rest copied', async (t) => {
  const cols: Column[] = [
    { name: 'g', oid: OID.text, tableOid: 16400, attnum: 2, typmod: 36 },
    { name: 'avg', oid: OID.int8, typlen: 8, tableOid: 0, attnum: 0 },
    { name: 'favg', oid: OID.float4, typlen: 4, format: 1 },
    { name: 'c1', oid: OID.int8, typlen: 8 },
    { name: 'c2', oid: OID.int8, typlen: 8 },
  ];
  const m = stream(
    merge({
      hiddenColumns: 2,
      aggregate: agg([{ kind: 'group' }, { kind: 'avg', count: { hidden: true, index: 0 } }, { kind: 'avg', count: { hidden: true, index: 1 } }, { kind: 'count' }, { kind: 'count' }]),
    }),
    1,
  );
  m.describe(0, rowDescription(cols));
  const field = (name: string, table: number, attnum: number, oid: number, typlen: number, typmod: number, format: number) => [
    cstr(name), u32(table), i16(attnum), u32(oid), i16(typlen), i32(typmod), i16(format),
  ];
  const expected = typed(
    'T',
    i16(3),
    ...field('g', 16400, 2, OID.text, -1, 36, 0),
    ...field('avg', 0, 0, OID.numeric, -1, -1, 0),
    ...field('favg', 0, 0, OID.float8, 8, -1, 1),
  );
  t.equal(m.rowDescription().toString('hex'), expected.toString('hex'));
});

// ---------------------------------------------------------------------------------------------
// PostgreSQL's own aggregate text through the whole merge

void t.test('avg and sum of PostgreSQL fixtures, split across 1..4 shards, print exactly as PostgreSQL', async (t) => {
  const rng = new Rng(77);
  let checked = 0;
  for (const c of fixtures.aggregates) {
    const integer = c.type !== 'numeric';
    // The shard's sum column: sum(int2/int4) is int8, sum(int8) and sum(numeric) are numeric.
    const sumOid = c.type === 'int2' || c.type === 'int4' ? OID.int8 : OID.numeric;
    const cols: Column[] = [
      { name: 'sum', oid: sumOid },
      { name: 'avg', oid: sumOid },
      { name: 'count', oid: OID.int8 },
    ];
    const parts: string[][] = Array.from({ length: rng.int(1, 4) }, () => []);
    for (const v of c.values) parts[rng.int(0, parts.length - 1)]!.push(v);
    const shards = parts.map((part) => {
      let sum: string | null = null;
      if (part.length > 0) {
        if (integer) sum = part.reduce((s, v) => s + BigInt(v), 0n).toString();
        else sum = sumText(part);
      }
      return shard(cols, [[sum, sum, String(part.length)]]);
    });
    const spec = merge({ hiddenColumns: 1, aggregate: agg([{ kind: 'sum' }, { kind: 'avg', count: { hidden: true, index: 0 } }, { kind: 'count' }]) });
    const out = texts(runMerge(spec, shards, rng).frames);
    const wanted = [[c.sum, c.avg]];
    if (JSON.stringify(out) !== JSON.stringify(wanted)) t.same(out, wanted, `${c.type}: ${c.values.join(', ')} in ${parts.length} shards`);
    checked++;
  }
  t.equal(checked, fixtures.aggregates.length, `${checked} PostgreSQL cases`);
});

/** sum(numeric) as a shard prints it: exact, with the largest display scale of the inputs. */
function sumText(values: readonly string[]): string {
  const nums = values.map(num);
  if (nums.some((n) => n.rank === 3) || (nums.some((n) => n.rank === 2) && nums.some((n) => n.rank === 0))) return 'NaN';
  if (nums.some((n) => n.rank === 2)) return 'Infinity';
  if (nums.some((n) => n.rank === 0)) return '-Infinity';
  const s = Math.max(...nums.map((n) => n.s));
  return formatScaled(nums.reduce((acc, n) => acc + n.m * 10n ** BigInt(s - n.s), 0n), s);
}

void t.test('the brief\'s avg examples through the merge', async (t) => {
  const cols: Column[] = [
    { name: 'avg', oid: OID.int8 },
    { name: 'count', oid: OID.int8 },
  ];
  const spec = merge({ hiddenColumns: 1, aggregate: agg([{ kind: 'avg', count: { hidden: true, index: 0 } }, { kind: 'count' }]) });
  const run = (shards: [string | null, string][]) => texts(runMerge(spec, shards.map((r) => shard(cols, [r])), new Rng(3)).frames);
  t.same(run([['1', '1'], ['2', '1']]), [['1.5000000000000000']], 'avg(int4) of 1, 2');
  t.same(run([['3', '2'], ['4', '1']]), [['2.3333333333333333']], 'avg(int4) of 1, 2, 4');
  t.same(run([[null, '0'], [null, '0']]), [[null]], 'avg of nothing is NULL');
  const numeric = [
    { name: 'avg', oid: OID.numeric },
    { name: 'count', oid: OID.int8 },
  ];
  const out = texts(runMerge(spec, [shard(numeric, [['1.25', '1']]), shard(numeric, [['2.5', '1']])], new Rng(4)).frames);
  t.same(out, [['1.8750000000000000']], 'avg(numeric) of 1.25, 2.5');
});

void t.test('float aggregates: sum(float4) in float4, avg(float8), printed as float4out/float8out', async (t) => {
  const cols: Column[] = [
    { name: 'sum', oid: OID.float4, typlen: 4 },
    { name: 'avg', oid: OID.float8, typlen: 8 },
    { name: 'count', oid: OID.int8 },
  ];
  const spec = merge({ hiddenColumns: 1, aggregate: agg([{ kind: 'sum' }, { kind: 'avg', count: { hidden: true, index: 0 } }, { kind: 'count' }]) });
  const out = texts(runMerge(spec, [shard(cols, [['0.1', '1e+20', '1']]), shard(cols, [['0.2', '1', '2']])], new Rng(1)).frames);
  t.same(out, [['0.3', '3.333333333333333e+19']], 'float4 0.1 + 0.2 is 0.3 in float4; (1e20 + 1) / 3 in float8');
  const nan = texts(runMerge(spec, [shard(cols, [['NaN', 'Infinity', '1']]), shard(cols, [['1', '-Infinity', '1']])], new Rng(1)).frames);
  t.same(nan, [['NaN', 'NaN']]);
  const m = stream(spec, 2, { extraFloatDigits: 0 });
  m.describe(0, rowDescription(cols));
  m.describe(1, rowDescription(cols));
  m.row(0, ...whole(dataRow(['1', '1', '1'])));
  m.row(1, ...whole(dataRow(['1', '2', '2'])));
  m.end(0);
  m.end(1);
  const frames: Buffer[] = [];
  m.drain((f) => frames.push(f));
  t.same(texts(frames), [['2', '1']], 'extra_float_digits 0');
  t.same(texts(runMerge(spec, [shard(cols, [[null, '1', '1']]), shard(cols, [['-0', '2', '2']])], new Rng(1)).frames), [['-0', '1']], 'sum keeps -0, NULL partials skipped');
});

function whole(frame: Buffer): [Buffer, number, number] {
  return [frame, 0, frame.length];
}

// ---------------------------------------------------------------------------------------------
// Ordering

void t.test('ORDER BY float8 and numeric: NaN above Infinity, NULLS FIRST/LAST in both directions', async (t) => {
  const cols: Column[] = [
    { name: 'f', oid: OID.float8 },
    { name: 'n', oid: OID.numeric },
  ];
  const rows: (string | null)[][] = [['NaN', 'NaN'], ['Infinity', 'Infinity'], [null, null], ['-0', '-1.50'], ['1e+20', '100'], ['-Infinity', '-Infinity'], ['0.5', '0.5']];
  for (const [descending, nullsFirst] of [[false, false], [false, true], [true, true], [true, false]] as const) {
    const spec = merge({ orderBy: [{ column: { hidden: false, index: 0 }, descending, nullsFirst }] });
    const order = ['-Infinity', '-0', '0.5', '1e+20', 'Infinity', 'NaN'];
    const sorted = descending ? [...order].reverse() : order;
    const wanted = nullsFirst ? [null, ...sorted] : [...sorted, null];
    const shards = [0, 1, 2].map((s) => rows.filter((_, i) => i % 3 === s)).map((part) => shard(cols, part.sort((a, b) => wanted.indexOf(a[0]!) - wanted.indexOf(b[0]!))));
    t.same(texts(runMerge(spec, shards, new Rng(9)).frames).map((r) => r[0]), wanted, `float8 ${descending ? 'DESC' : 'ASC'} NULLS ${nullsFirst ? 'FIRST' : 'LAST'}`);
    const nspec = merge({ orderBy: [{ column: { hidden: false, index: 1 }, descending, nullsFirst }] });
    const norder = ['-Infinity', '-1.50', '0.5', '100', 'Infinity', 'NaN'];
    const nsorted = descending ? [...norder].reverse() : norder;
    const nwanted = nullsFirst ? [null, ...nsorted] : [...nsorted, null];
    const nshards = [0, 1].map((s) => rows.filter((_, i) => i % 2 === s)).map((part) => shard(cols, part.sort((a, b) => nwanted.indexOf(a[1]!) - nwanted.indexOf(b[1]!))));
    t.same(texts(runMerge(nspec, nshards, new Rng(10)).frames).map((r) => r[1]), nwanted, `numeric ${descending ? 'DESC' : 'ASC'} NULLS ${nullsFirst ? 'FIRST' : 'LAST'}`);
  }
});

void t.test('text order: UTF-8 bytes by default, a collator when asked', async (t) => {
  const cols: Column[] = [{ name: 's', oid: OID.text }];
  const spec = merge({ orderBy: [{ column: { hidden: false, index: 0 }, descending: false, nullsFirst: false }] });
  const bytes = runMerge(spec, [shard(cols, [['B'], ['a']]), shard(cols, [['b'], ['é']])], new Rng(2));
  t.same(texts(bytes.frames).map((r) => r[0]), ['B', 'a', 'b', 'é']);
  const en = runMerge(spec, [shard(cols, [['a'], ['B']]), shard(cols, [['b'], ['é']])], new Rng(2), { textOrder: { locale: 'en' } });
  t.same(texts(en.frames).map((r) => r[0]), ['a', 'b', 'B', 'é']);
});

void t.test('binary columns: int sort keys, int8 aggregates, avg sent as binary numeric', async (t) => {
  const cols: Column[] = [
    { name: 'k', oid: OID.int4, format: 1, typlen: 4 },
    { name: 'v', oid: OID.text },
  ];
  const spec = merge({ orderBy: [{ column: { hidden: false, index: 0 }, descending: true, nullsFirst: true }] });
  const run = runMerge(spec, [shard(cols, [[binInt4(300), 'a'], [binInt4(-2), 'b']]), shard(cols, [[null, 'n'], [binInt4(70000), 'c'], [binInt4(1), 'd']])], new Rng(3));
  t.same(texts(run.frames).map((r) => r[1]), ['n', 'c', 'a', 'd', 'b']);
  t.ok(run.frames[1]!.equals(dataRow([binInt4(70000), 'c'])), 'binary field passed through untouched');

  const acols: Column[] = [
    { name: 'g', oid: OID.int8, format: 1, typlen: 8 },
    { name: 'count', oid: OID.int8, format: 1, typlen: 8 },
    { name: 'avg', oid: OID.int8, format: 1, typlen: 8 },
    { name: 'max', oid: OID.float8, format: 1, typlen: 8 },
    { name: 'n', oid: OID.int8, format: 1, typlen: 8 },
  ];
  const aspec = merge({
    hiddenColumns: 1,
    aggregate: agg([{ kind: 'group' }, { kind: 'count' }, { kind: 'avg', count: { hidden: true, index: 0 } }, { kind: 'max' }, { kind: 'count' }]),
    orderBy: [{ column: { hidden: false, index: 0 }, descending: false, nullsFirst: false }],
  });
  const arun = runMerge(
    aspec,
    [
      shard(acols, [[binInt8(2n ** 60n), binInt8(2), binInt8(3), binFloat8(2.5), binInt8(2)], [binInt8(-1), binInt8(1), binInt8(1), binFloat8(NaN), binInt8(1)]]),
      shard(acols, [[binInt8(2n ** 60n), binInt8(5), binInt8(4), binFloat8(-1), binInt8(1)]]),
    ],
    new Rng(4),
  );
  const out = decodeRows(arun.frames, true) as Buffer[][];
  t.equal(out.length, 2);
  t.equal(out[0]![0]!.readBigInt64BE(0), -1n);
  t.equal(out[1]![0]!.readBigInt64BE(0), 2n ** 60n);
  t.equal(out[1]![1]!.readBigInt64BE(0), 7n, 'count summed, sent as binary int8');
  const avg = out[1]![2]!;
  t.equal(formatDecimal(decimalFromBinary(avg, 0, avg.length)!), '2.3333333333333333', 'avg of 7 / 3 as binary numeric');
  t.equal(out[1]![3]!.readDoubleBE(0), 2.5);
  t.ok(Number.isNaN(out[0]![3]!.readDoubleBE(0)));
  const desc = arun.description;
  t.equal(desc.readUInt32BE(desc.indexOf('avg\0') + 4 + 6), OID.numeric, 'avg column described as numeric');
});

// ---------------------------------------------------------------------------------------------
// Aggregation edge cases

void t.test('ungrouped aggregates yield exactly one row', async (t) => {
  const cols: Column[] = [
    { name: 'count', oid: OID.int8 },
    { name: 'sum', oid: OID.numeric },
    { name: 'min', oid: OID.text },
    { name: 'bool_and', oid: OID.bool },
  ];
  const spec = merge({ aggregate: agg([{ kind: 'count' }, { kind: 'sum' }, { kind: 'min' }, { kind: 'bool_and' }]) });
  t.same(texts(runMerge(spec, [shard(cols, [['0', null, null, null]]), shard(cols, [['0', null, null, null]])], new Rng(1)).frames), [['0', null, null, null]]);
  t.same(texts(runMerge(spec, [shard(cols, []), shard(cols, [])], new Rng(1)).frames), [['0', null, null, null]], 'no shard sent a row');
  t.same(texts(runMerge(spec, [shard(cols, [['2', '1.5', 'b', 't']]), shard(cols, [['0', null, null, null]]), shard(cols, [['1', '-3', 'a', 'f']])], new Rng(1)).frames), [
    ['3', '-1.5', 'a', 'f'],
  ]);
  const grouped = merge({ aggregate: agg([{ kind: 'group' }, { kind: 'sum' }, { kind: 'min' }, { kind: 'bool_and' }]) });
  t.same(texts(runMerge(grouped, [shard(cols, []), shard(cols, [])], new Rng(1)).frames), [], 'grouped: no rows, no groups');
  const having = merge({
    aggregate: agg([{ kind: 'count' }, { kind: 'sum' }, { kind: 'min' }, { kind: 'bool_and' }], {
      kind: 'compare',
      op: '>',
      left: { kind: 'column', column: { hidden: false, index: 0 } },
      right: { kind: 'literal', text: '0' },
    }),
  });
  t.same(texts(runMerge(having, [shard(cols, [['0', null, null, null]])], new Rng(1)).frames), [], 'HAVING can drop the one row');
});

void t.test('group keys compare by value: 1.0 = 1.00, -0 = 0, NULLs form one group, char(n) padding', async (t) => {
  const cols: Column[] = [
    { name: 'n', oid: OID.numeric },
    { name: 'count', oid: OID.int8 },
  ];
  const spec = merge({ aggregate: agg([{ kind: 'group' }, { kind: 'count' }]), orderBy: [{ column: { hidden: false, index: 1 }, descending: false, nullsFirst: false }] });
  const out = texts(runMerge(spec, [shard(cols, [['1.0', '1'], [null, '1']]), shard(cols, [['1.00', '2'], [null, '3']])], new Rng(1)).frames);
  t.equal(out.length, 2);
  t.equal(out[0]![1], '3');
  t.ok(out[0]![0] === '1.0' || out[0]![0] === '1.00', 'one group for 1.0 and 1.00, shown as either');
  t.same(out[1], [null, '4']);
  const fcols: Column[] = [
    { name: 'f', oid: OID.float8 },
    { name: 'count', oid: OID.int8 },
  ];
  t.equal(texts(runMerge(spec, [shard(fcols, [['-0', '1']]), shard(fcols, [['0', '1']]), shard(fcols, [['NaN', '1']]), shard(fcols, [['NaN', '1']])], new Rng(1)).frames).length, 2);
  const ccols: Column[] = [
    { name: 'c', oid: OID.bpchar },
    { name: 'count', oid: OID.int8 },
  ];
  t.same(texts(runMerge(spec, [shard(ccols, [['ab  ', '1']]), shard(ccols, [['ab  ', '1']])], new Rng(1)).frames), [['ab  ', '2']]);
});

void t.test('sums that leave their type fail as PostgreSQL does (22003)', async (t) => {
  const cols: Column[] = [{ name: 'sum', oid: OID.int8 }];
  const spec = merge({ aggregate: agg([{ kind: 'sum' }]) });
  t.throws(() => runMerge(spec, [shard(cols, [['9223372036854775807']]), shard(cols, [['1']])], new Rng(1)), { name: 'ProxyError', sqlstate: '22003', message: 'bigint out of range' });
  t.same(texts(runMerge(spec, [shard(cols, [['9223372036854775807']]), shard(cols, [['-1']])], new Rng(1)).frames), [['9223372036854775806']]);
  const fcols: Column[] = [{ name: 'sum', oid: OID.float8 }];
  t.throws(() => runMerge(spec, [shard(fcols, [['1.7e+308']]), shard(fcols, [['1.7e+308']])], new Rng(1)), { name: 'ProxyError', sqlstate: '22003', message: 'value out of range: overflow' });
});

// ---------------------------------------------------------------------------------------------
// HAVING

void t.test('HAVING: three-valued logic, parameters in text and binary, column against column', async (t) => {
  const cols: Column[] = [
    { name: 'g', oid: OID.text },
    { name: 'sum', oid: OID.numeric },
    { name: 'count', oid: OID.int8 },
    { name: 'max', oid: OID.date },
  ];
  const shards = [
    shard(cols, [['a', '1.5', '1', '2024-01-01'], ['b', null, '2', null], ['c', '10', '5', '0044-03-15 BC']]),
    shard(cols, [['a', '2', '2', '2023-06-01'], ['d', '-4', '1', 'infinity']]),
  ];
  const col = (index: number) => ({ kind: 'column' as const, column: { hidden: false, index } });
  const run = (having: Predicate, params: BoundParams | null = null): string[] => {
    const spec = merge({
      aggregate: agg([{ kind: 'group' }, { kind: 'sum' }, { kind: 'count' }, { kind: 'max' }], having),
      orderBy: [{ column: { hidden: false, index: 0 }, descending: false, nullsFirst: false }],
    });
    return texts(runMerge(spec, shards, new Rng(8), { params }).frames).map((r) => r[0]!);
  };
  t.same(run({ kind: 'compare', op: '>', left: col(1), right: { kind: 'literal', text: '3.4' } }), ['a', 'c'], 'sum > 3.4 (NULL sum is unknown)');
  t.same(run({ kind: 'not', arg: { kind: 'compare', op: '>', left: col(1), right: { kind: 'literal', text: '3.4' } } }), ['d'], 'NOT unknown stays unknown');
  t.same(run({ kind: 'is-null', negated: false, arg: col(1) }), ['b']);
  t.same(
    run({ kind: 'or', args: [{ kind: 'compare', op: '<', left: col(1), right: { kind: 'literal', text: '0' } }, { kind: 'compare', op: '>=', left: col(2), right: { kind: 'literal', text: '3' } }] }),
    ['a', 'c', 'd'],
  );
  t.same(run({ kind: 'compare', op: '<', left: col(1), right: col(2) }), ['d'], 'numeric sum < int8 count');
  t.same(run({ kind: 'compare', op: '<', left: col(3), right: { kind: 'literal', text: '2000-01-01' } }), ['c'], 'dates, BC');
  t.same(run({ kind: 'compare', op: '=', left: { kind: 'literal', text: 'x' }, right: col(0) }), [], 'constant on the left');
  const text: BoundParams = { values: [Buffer.from('3')], formats: [0], types: [0] };
  t.same(run({ kind: 'compare', op: '=', left: col(2), right: { kind: 'param', index: 0 } }, text), ['a'], 'count = $1 (text)');
  const binary: BoundParams = { values: [binInt8(5)], formats: [1], types: [OID.int8] };
  t.same(run({ kind: 'compare', op: '<>', left: col(2), right: { kind: 'param', index: 0 } }, binary), ['a', 'b', 'd'], 'count <> $1 (binary int8)');
  const nul: BoundParams = { values: [null], formats: [0], types: [0] };
  t.same(run({ kind: 'compare', op: '=', left: col(2), right: { kind: 'param', index: 0 } }, nul), [], 'count = NULL is unknown');
  t.throws(() => run({ kind: 'compare', op: '=', left: col(0), right: col(2) }), { name: 'ProxyError', sqlstate: '0A000' }, 'text against int8');
  t.throws(() => run({ kind: 'compare', op: '=', left: col(2), right: { kind: 'literal', text: 'many' } }), { name: 'ProxyError', sqlstate: '0A000' });
});

// ---------------------------------------------------------------------------------------------
// Limits, back-pressure, LIMIT

void t.test('holding more than mergeRowsMax / mergeBytesMax is 54000 naming the config key', async (t) => {
  const cols: Column[] = [
    { name: 'g', oid: OID.int4 },
    { name: 'count', oid: OID.int8 },
  ];
  const rows = Array.from({ length: 50 }, (_, i) => [String(i), '1']);
  const spec = merge({ aggregate: agg([{ kind: 'group' }, { kind: 'count' }]) });
  t.throws(() => runMerge(spec, [shard(cols, rows)], new Rng(1), { rowsMax: 20 }), {
    sqlstate: '54000',
    message: /more than 20 rows .*aggregation groups/,
    fields: { hint: /limits\.mergeRowsMax/ },
  });
  t.throws(() => runMerge(spec, [shard(cols, rows)], new Rng(1), { bytesMax: 2000 }), { name: 'ProxyError', sqlstate: '54000', fields: { hint: /limits\.mergeBytesMax/ } });
  t.equal(texts(runMerge(spec, [shard(cols, rows), shard(cols, rows)], new Rng(1), { rowsMax: 60 }).frames).length, 50, 'at the limit it works');
  const distinct = merge({ distinct: true });
  const d = stream(distinct, 1, { rowsMax: 30 });
  d.describe(0, rowDescription(cols));
  t.throws(() => {
    for (const r of rows) {
      d.row(0, ...whole(dataRow(r)));
      d.drain(() => undefined);
    }
  }, { name: 'ProxyError', sqlstate: '54000', message: /DISTINCT values|rows queued per shard/ }, 'the DISTINCT set counts (with the queued row)');
  // Queues: one shard sends wide rows while the other sends nothing (the executor ignores wants()).
  const ordered = merge({ orderBy: [{ column: { hidden: false, index: 0 }, descending: false, nullsFirst: false }] });
  const m = stream(ordered, 2, { bytesMax: 100_000 });
  m.describe(0, rowDescription(cols));
  m.describe(1, rowDescription(cols));
  const wide = dataRow(['1', 'x'.repeat(10_000)]);
  t.throws(() => {
    for (let i = 0; i < 20; i++) m.row(0, wide, 0, wide.length);
  }, { name: 'ProxyError', sqlstate: '54000', message: /rows queued per shard/ });
});

void t.test('back-pressure: wants() turns false at queueRowsMax and back after a drain', async (t) => {
  const cols: Column[] = [{ name: 'k', oid: OID.int4 }];
  const spec = merge({ orderBy: [{ column: { hidden: false, index: 0 }, descending: false, nullsFirst: false }] });
  const m = stream(spec, 2, { queueRowsMax: 8 });
  m.describe(0, rowDescription(cols));
  m.describe(1, rowDescription(cols));
  t.ok(m.ready);
  let i = 0;
  while (m.wants(0)) {
    const f = dataRow([String(i++)]);
    m.row(0, f, 0, f.length);
  }
  t.equal(i, 8);
  const out: Buffer[] = [];
  m.drain((f) => out.push(f));
  t.equal(out.length, 0, 'nothing can go out while shard 1 has no row');
  const f = dataRow(['3']);
  m.row(1, f, 0, f.length);
  m.drain((fr) => out.push(fr));
  t.same(texts(out).map((r) => r[0]), ['0', '1', '2', '3', '3'], 'rows until the other shard\'s queue is empty again');
  t.ok(m.wants(0));
  m.end(1);
  m.drain((fr) => out.push(fr));
  t.notOk(m.done);
  m.end(0);
  m.drain((fr) => out.push(fr));
  t.ok(m.done);
  t.same(texts(out).map((r) => r[0]), ['0', '1', '2', '3', '3', '4', '5', '6', '7']);
  t.equal(m.rowsEmitted, 9);
});

void t.test('nothing goes out before every shard described, nor after close()', async (t) => {
  const cols: Column[] = [{ name: 'k', oid: OID.int4 }];
  const m = stream(merge({}), 2);
  m.describe(0, rowDescription(cols));
  m.row(0, ...whole(dataRow(['1'])));
  const out: Buffer[] = [];
  m.drain((f) => out.push(f));
  t.equal(out.length, 0, 'shard 1 has not described yet');
  t.notOk(m.ready);
  m.describe(1, rowDescription(cols));
  t.ok(m.ready);
  m.drain((f) => out.push(f));
  t.equal(out.length, 1);
  m.row(1, ...whole(dataRow(['2'])));
  m.close();
  m.drain((f) => out.push(f));
  m.row(0, ...whole(dataRow(['3'])));
  t.equal(out.length, 1, 'closed: rows ignored, nothing sent');
  const early = stream(merge({}), 2);
  early.describe(0, rowDescription(cols));
  early.end(1);
  t.ok(early.ready, 'a shard that ended without a RowDescription does not hold the others up');
});

void t.test('LIMIT: rows stop at the limit, the flag tells the executor, later rows are ignored', async (t) => {
  const cols: Column[] = [{ name: 'k', oid: OID.int8 }];
  const spec = merge({ orderBy: [{ column: { hidden: false, index: 0 }, descending: false, nullsFirst: false }], limit: { kind: 'literal', value: 3n }, offset: { kind: 'literal', value: 1n } });
  const m = stream(spec, 2);
  m.describe(0, rowDescription(cols));
  m.describe(1, rowDescription(cols));
  const out: Buffer[] = [];
  for (const [s, v] of [[0, '1'], [1, '2'], [0, '3'], [1, '4'], [0, '5'], [1, '6']] as const) {
    const f = dataRow([v]);
    m.row(s, f, 0, f.length);
    m.drain((fr) => out.push(fr));
  }
  t.ok(m.limitReached);
  t.ok(m.done, 'done before the shards ended');
  t.same(texts(out).map((r) => r[0]), ['2', '3', '4']);
  const late = dataRow(['0']);
  m.row(0, late, 0, late.length);
  m.end(0);
  m.end(1);
  m.drain((fr) => out.push(fr));
  t.equal(out.length, 3);
  t.equal(m.rowsEmitted, 3);
  const zero = stream(merge({ limit: { kind: 'literal', value: 0n } }), 1);
  t.ok(zero.limitReached && zero.done, 'LIMIT 0 is done at once');
  const params: BoundParams = { values: [null, Buffer.from(' 2 ')], formats: [0, 0], types: [0, 0] };
  const all = runMerge(merge({ limit: { kind: 'param', index: 0 }, offset: { kind: 'param', index: 1 } }), [shard(cols, [['1'], ['2'], ['3']])], new Rng(1), { params });
  t.same(texts(all.frames), [['3']], 'LIMIT NULL is no limit; OFFSET $2 from text');
});

// ---------------------------------------------------------------------------------------------
// Errors

void t.test('errors: disagreeing shards, unreadable binary, misuse, malformed frames', async (t) => {
  const cols: Column[] = [{ name: 'k', oid: OID.int4 }];
  const ordered = merge({ orderBy: [{ column: { hidden: false, index: 0 }, descending: false, nullsFirst: false }] });
  const m = stream(ordered, 2);
  m.describe(0, rowDescription(cols));
  t.throws(() => m.describe(1, rowDescription([{ name: 'k', oid: OID.int8 }])), { name: 'ProxyError', sqlstate: '0A000', message: /different result columns/ });
  const m2 = stream(ordered, 2);
  m2.describe(0, rowDescription(cols));
  t.throws(() => m2.describe(1, rowDescription([...cols, { name: 'x', oid: OID.text }])), { name: 'ProxyError', sqlstate: '0A000' });
  t.throws(() => stream(ordered, 1).describe(0, rowDescription([{ name: 'i', oid: OID.interval, format: 1 }])), {
    sqlstate: '0A000',
    message: /binary format .*ORDER BY/,
    fields: { hint: /int2, int4, int8/ },
  });
  t.doesNotThrow(() => stream(merge({}), 1).describe(0, rowDescription([{ name: 'i', oid: OID.interval, format: 1 }])), 'passed through untouched: fine');
  t.throws(() => stream(merge({ aggregate: agg([{ kind: 'sum' }]) }), 1).describe(0, rowDescription([{ name: 's', oid: OID.interval }])), {
    sqlstate: '0A000',
    message: /sum\(\) over type OID 1186/,
  });
  t.throws(() => stream(ordered, 1).row(0, ...whole(dataRow(['1']))), { name: 'ProxyError', sqlstate: 'XX000' }, 'a row before any RowDescription');
  const m3 = stream(ordered, 1);
  m3.describe(0, rowDescription(cols));
  t.throws(() => m3.row(0, ...whole(dataRow(['1', '2']))), { name: 'ProxyError', sqlstate: '08P01', message: /2 columns where RowDescription announced 1/ });
  const bad = dataRow(['1']);
  t.throws(() => m3.row(0, bad, 0, bad.length - 1), { name: 'ProxyError', sqlstate: '08P01' });
  t.throws(() => m3.row(3, bad, 0, bad.length), { name: 'ProxyError', sqlstate: 'XX000' }, 'no such shard');
  t.throws(() => stream(merge({ hiddenColumns: 2 }), 1).describe(0, rowDescription(cols)), { name: 'ProxyError', sqlstate: 'XX000' });
  t.throws(() => stream(merge({ limit: { kind: 'param', index: 0 } }), 1), { name: 'ProxyError', sqlstate: 'XX000' }, 'LIMIT $1 without parameters');
  t.throws(() => stream(merge({ limit: { kind: 'param', index: 0 } }), 1, { params: { values: [Buffer.from('ten')], formats: [0], types: [0] } }), { name: 'ProxyError', sqlstate: '0A000' });
  const rowsTimestamp = stream(merge({ orderBy: [{ column: { hidden: false, index: 0 }, descending: false, nullsFirst: false }] }), 1);
  rowsTimestamp.describe(0, rowDescription([{ name: 't', oid: OID.timestamp }]));
  t.throws(() => rowsTimestamp.row(0, ...whole(dataRow(['Mon Jan 01 00:00:00 2024']))), { name: 'ProxyError', sqlstate: '0A000', fields: { hint: /DateStyle/ } });
});

void t.test('DISTINCT + ORDER BY across shards keeps one of each, in order', async (t) => {
  const cols: Column[] = [
    { name: 'a', oid: OID.int4 },
    { name: 'b', oid: OID.numeric },
  ];
  const spec = merge({ distinct: true, orderBy: [{ column: { hidden: false, index: 0 }, descending: false, nullsFirst: false }] });
  const out = texts(
    runMerge(
      spec,
      [shard(cols, [['1', '1.0'], ['1', '2'], ['2', '5'], [null, null]]), shard(cols, [['1', '2.00'], ['1', '3'], ['2', '5'], [null, null]]), shard(cols, [['1', '1']])],
      new Rng(12),
    ).frames,
  );
  t.same(out.map((r) => r[0]), ['1', '1', '1', '2', null], JSON.stringify(out));
  const b = out.slice(0, 3).map((r) => Number(r[1]));
  t.same(b.sort(), [1, 2, 3], '1.0 = 1 and 2 = 2.00 are duplicates');
  t.same(out[3], ['2', '5']);
  t.same(out[4], [null, null]);
});
