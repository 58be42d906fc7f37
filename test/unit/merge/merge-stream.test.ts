// Randomized differential tests of MergeStream against the naive model (model.ts): random rows of
// random types, split across 1..4 shards (each shard returns what PostgreSQL would: its own rows
// sorted, DISTINCT, or its partial aggregates), fed in random interleavings with random drains
// (frames.ts), compared with what one database holding every row returns.
import t from 'tap';
import type { AggregateMerge, Merge, MergeColumn, Predicate, SortKey, ValueRef } from '../../../planner/plan.js';
import { DEFAULT_OPTIONS, OID, Rng, dataRow, decodeRows, merge, rowDescription, runMerge, type Column, type ShardResult } from './frames.js';
import {
  compareRowsBy,
  compareValues,
  distinctRows,
  equalValues,
  finalValue,
  groupRows,
  partial,
  randomValue,
  split,
  type AggCol,
  type ColType,
  type KeyRef,
  type Val,
} from './model.js';

const TYPE_OID: Record<ColType, number> = {
  int4: OID.int4,
  int8: OID.int8,
  numeric: OID.numeric,
  float8: OID.float8,
  text: OID.text,
  bool: OID.bool,
  date: OID.date,
};
const ALL_TYPES: ColType[] = ['int4', 'int8', 'numeric', 'float8', 'text', 'bool', 'date'];

function limitRef(rng: Rng, value: number | null, params: { values: (Uint8Array | null)[]; formats: number[]; types: number[] }): ValueRef | null {
  if (value === null) return null;
  if (rng.chance(0.5)) return { kind: 'literal', value: BigInt(value) };
  const index = params.values.length;
  if (rng.chance(0.5)) {
    params.values.push(Buffer.from(String(value)));
    params.formats.push(0);
    params.types.push(0);
  } else {
    const b = Buffer.alloc(8);
    b.writeBigInt64BE(BigInt(value));
    params.values.push(b);
    params.formats.push(1);
    params.types.push(OID.int8);
  }
  return { kind: 'param', index };
}

interface Window {
  limit: number | null;
  offset: number | null;
}

function applyWindow<T>(rows: T[], w: Window): T[] {
  const from = w.offset ?? 0;
  return rows.slice(from, w.limit === null ? undefined : from + w.limit);
}

// ---------------------------------------------------------------------------------------------
// Plain rows: concat and ORDER BY, with hidden sort columns, LIMIT/OFFSET

void t.test('rows, ORDER BY, LIMIT/OFFSET and hidden columns match the model', async (t) => {
  let cases = 0;
  for (let seed = 1; seed <= 400; seed++) {
    const rng = new Rng(seed * 7919);
    // Model row: [id, c1..cn]; id is unique and always the first visible column.
    const n = rng.int(1, 4);
    const types: ColType[] = ['int8', ...Array.from({ length: n }, () => rng.pick(ALL_TYPES))];
    const hidden = rng.int(0, n - 1);
    const visible = types.length - hidden;
    const rows: Val[][] = Array.from({ length: rng.int(0, 60) }, (_, i) => [String(i * 37 - 500), ...types.slice(1).map((ty) => randomValue(ty, rng))]);
    const keys: KeyRef[] = Array.from({ length: rng.int(0, 3) }, () => {
      const desc = rng.chance(0.5);
      return { col: rng.int(1, types.length - 1), desc, nullsFirst: rng.chance(0.2) ? !desc : desc };
    });
    if (keys.length > 0 && rng.chance(0.5)) keys.push({ col: 0, desc: rng.chance(0.5), nullsFirst: false });
    const win: Window = { limit: rng.chance(0.4) ? rng.int(0, 30) : null, offset: rng.chance(0.3) ? rng.int(0, 20) : null };
    const params = { values: [] as (Uint8Array | null)[], formats: [] as number[], types: [] as number[] };
    const spec: Merge = merge({
      hiddenColumns: hidden,
      orderBy: keys.map((k): SortKey => ({
        column: k.col >= visible ? { hidden: true, index: k.col - visible } : { hidden: false, index: k.col },
        descending: k.desc,
        nullsFirst: k.nullsFirst,
      })),
      limit: limitRef(rng, win.limit, params),
      offset: limitRef(rng, win.offset, params),
    });
    const shardCount = rng.int(1, 4);
    const columns: Column[] = types.map((ty, i) => ({ name: `c${i}`, oid: TYPE_OID[ty] }));
    const shards: ShardResult[] = split(rows, shardCount, rng).map((part) => {
      // Every shard runs the ORDER BY (and a pushed-down LIMIT offset+limit) itself.
      const sorted = keys.length > 0 ? rng.shuffle([...part]).sort((a, b) => compareRowsBy(types, keys, a, b)) : part;
      const pushed = keys.length > 0 && win.limit !== null ? sorted.slice(0, (win.offset ?? 0) + win.limit) : sorted;
      return { description: rowDescription(columns), rows: pushed.map((r) => dataRow(r)) };
    });
    const run = runMerge(spec, shards, rng, { params: params.values.length > 0 ? params : null });
    const out = decodeRows(run.frames) as Val[][];
    const byId = new Map(rows.map((r) => [r[0]!, r]));
    const label = `seed ${seed}: ${shardCount} shards, ${rows.length} rows, keys ${JSON.stringify(keys)}, ${JSON.stringify(win)}, hidden ${hidden}`;
    const expected = applyWindow(keys.length > 0 ? [...rows].sort((a, b) => compareRowsBy(types, keys, a, b)) : rows, win);
    let ok = out.length === expected.length && run.stream.rowsEmitted === out.length;
    const seen = new Set<string>();
    for (let i = 0; ok && i < out.length; i++) {
      const full = byId.get(out[i]![0]!);
      // Visible columns pass through byte for byte; hidden ones are gone.
      ok = full !== undefined && !seen.has(out[i]![0]!) && out[i]!.length === visible && out[i]!.every((v, c) => v === full[c]);
      seen.add(out[i]![0]!);
      if (ok && keys.length > 0) ok = compareRowsBy(types, keys, full!, expected[i]!) === 0;
    }
    if (ok && win.limit === null && win.offset === null) ok = seen.size === rows.length;
    if (!ok) {
      t.fail(label, { found: out, wanted: expected.map((r) => r.slice(0, visible)) });
      break;
    }
    if (!run.stream.done) t.fail(`${label}: not done`);
    cases++;
  }
  t.equal(cases, 400, 'every case matched');
});

// ---------------------------------------------------------------------------------------------
// DISTINCT

void t.test('DISTINCT with and without ORDER BY matches the model', async (t) => {
  let cases = 0;
  for (let seed = 1; seed <= 300; seed++) {
    const rng = new Rng(seed * 104729);
    const types: ColType[] = Array.from({ length: rng.int(1, 3) }, () => rng.pick(ALL_TYPES));
    const rows: Val[][] = Array.from({ length: rng.int(0, 50) }, () => types.map((ty) => randomValue(ty, rng, 0.15)));
    const cols = types.map((_, i) => i);
    // DISTINCT's ORDER BY keys are output columns (PostgreSQL requires it).
    const keys: KeyRef[] = rng.chance(0.6) ? rng.shuffle([...cols]).slice(0, rng.int(1, types.length)).map((col) => ({ col, desc: rng.chance(0.5), nullsFirst: rng.chance(0.5) })) : [];
    const win: Window = { limit: rng.chance(0.3) ? rng.int(0, 20) : null, offset: rng.chance(0.2) ? rng.int(0, 5) : null };
    const spec = merge({
      distinct: true,
      orderBy: keys.map((k) => ({ column: { hidden: false, index: k.col }, descending: k.desc, nullsFirst: k.nullsFirst })),
      limit: win.limit === null ? null : { kind: 'literal', value: BigInt(win.limit) },
      offset: win.offset === null ? null : { kind: 'literal', value: BigInt(win.offset) },
    });
    const columns: Column[] = types.map((ty, i) => ({ name: `d${i}`, oid: TYPE_OID[ty] }));
    const shardCount = rng.int(1, 4);
    const shards = split(rows, shardCount, rng).map((part) => {
      const own = distinctRows(types, cols, part);
      const sorted = keys.length > 0 ? own.sort((a, b) => compareRowsBy(types, keys, a, b)) : own;
      return { description: rowDescription(columns), rows: sorted.map((r) => dataRow(r)) };
    });
    const run = runMerge(spec, shards, rng);
    const out = decodeRows(run.frames) as Val[][];
    const all = distinctRows(types, cols, rows);
    const expected = applyWindow(keys.length > 0 ? all.sort((a, b) => compareRowsBy(types, keys, a, b)) : all, win);
    const eq = (a: Val[], b: Val[]): boolean => cols.every((c) => equalValues(types[c]!, a[c]!, b[c]!));
    let ok = out.length === expected.length;
    for (let i = 0; ok && i < out.length; i++) {
      ok = out.findIndex((o) => eq(o, out[i]!)) === i && all.some((a) => eq(a, out[i]!));
      if (ok && keys.length > 0) ok = compareRowsBy(types, keys, out[i]!, expected[i]!) === 0;
    }
    if (!ok) {
      t.fail(`seed ${seed}: ${shardCount} shards, keys ${JSON.stringify(keys)}, ${JSON.stringify(win)}`, { found: out, wanted: expected });
      break;
    }
    cases++;
  }
  t.equal(cases, 300, 'every case matched');
});

// ---------------------------------------------------------------------------------------------
// Aggregates

type AggSpec = AggCol & { out: ColType };

void t.test('GROUP BY re-aggregation, HAVING, ORDER BY, LIMIT match the model', async (t) => {
  let cases = 0;
  for (let seed = 1; seed <= 300; seed++) {
    const rng = new Rng(seed * 15485863);
    // Model row: groups g0 (int4), g1 (text), g2 (bool); inputs v3 int4, v4 numeric, v5 text, v6 int8, v7 bool, v8 float8 (exact quarters).
    const types: ColType[] = ['int4', 'text', 'bool', 'int4', 'numeric', 'text', 'int8', 'bool', 'float8'];
    const rows: Val[][] = Array.from({ length: rng.int(0, 80) }, () => [
      String(rng.int(0, 4)),
      rng.pick(['x', 'y', 'é']),
      rng.pick(['t', 'f']),
      randomValue('int4', rng, 0.2),
      randomValue('numeric', rng, 0.2),
      randomValue('text', rng, 0.2),
      randomValue('int8', rng, 0.2),
      randomValue('bool', rng, 0.2),
      rng.chance(0.2) ? null : String(rng.int(-20, 20) / 4),
    ]);
    const groupCols = [0, 1, 2].filter(() => rng.chance(0.5));
    const aggPool: AggSpec[] = [
      { kind: 'count*', input: 0, out: 'int8' },
      { kind: 'count', input: 4, out: 'int8' },
      { kind: 'sum', input: 3, out: 'int8' },
      { kind: 'sum', input: 4, out: 'numeric' },
      { kind: 'sum', input: 6, out: 'numeric' },
      { kind: 'min', input: 5, out: 'text' },
      { kind: 'max', input: 6, out: 'int8' },
      { kind: 'min', input: 4, out: 'numeric' },
      { kind: 'avg', input: 3, out: 'int8' },
      { kind: 'avg', input: 4, out: 'numeric' },
      { kind: 'avg', input: 8, out: 'float8' },
      { kind: 'sum', input: 8, out: 'float8' },
      { kind: 'bool_and', input: 7, out: 'bool' },
      { kind: 'bool_or', input: 7, out: 'bool' },
    ];
    const aggs = rng.shuffle([...aggPool]).slice(0, rng.int(1, 6));
    // min(numeric) keeps the input text: with 1.0 and 1.00 in one group the winner is arbitrary in
    // PostgreSQL too, so the model compares it by value below.
    // Shard result columns: visible [groups..., aggs...], hidden [count for each avg..., count(*) for ORDER BY].
    const visibleCount = groupCols.length + aggs.length;
    const avgs = aggs.map((a, i) => (a.kind === 'avg' ? i : -1)).filter((i) => i >= 0);
    const hiddenCount = avgs.length + 1;
    const mergeColumns: MergeColumn[] = [
      ...groupCols.map((): MergeColumn => ({ kind: 'group' })),
      ...aggs.map((a): MergeColumn => {
        if (a.kind === 'avg') return { kind: 'avg', count: { hidden: true, index: avgs.indexOf(aggs.indexOf(a)) } };
        if (a.kind === 'count*') return { kind: 'count' };
        return { kind: a.kind };
      }),
      ...avgs.map((): MergeColumn => ({ kind: 'count' })),
      { kind: 'count' },
    ];
    // The client's types: avg of integers is numeric (the shard column holds the int8 sum).
    const outTypes: ColType[] = [...groupCols.map((c) => types[c]!), ...aggs.map((a) => (a.kind === 'avg' && a.out === 'int8' ? 'numeric' : a.out))];
    const columns: Column[] = [
      ...groupCols.map((c) => ({ name: `g${c}`, oid: TYPE_OID[types[c]!] })),
      ...aggs.map((a) => ({ name: a.kind, oid: TYPE_OID[a.out] })),
      ...avgs.map(() => ({ name: 'count', oid: OID.int8 })),
      { name: 'count', oid: OID.int8 },
    ];
    const shardRow = (group: Val[][], key: Val[]): Val[] => [
      ...key,
      ...aggs.map((a) => partial(types, a, group).value),
      ...avgs.map((i) => partial(types, aggs[i]!, group).count),
      String(group.length),
    ];
    // HAVING on count(*) (hidden) and on a visible aggregate.
    const threshold = rng.int(0, 6);
    const aggIndex = rng.int(0, aggs.length - 1);
    const having: Predicate | null = rng.chance(0.5)
      ? {
          kind: 'or',
          args: [
            { kind: 'compare', op: rng.pick(['>', '>=', '<', '=', '<>'] as const), left: { kind: 'column', column: { hidden: true, index: avgs.length } }, right: { kind: 'literal', text: String(threshold) } },
            { kind: 'is-null', negated: rng.chance(0.5), arg: { kind: 'column', column: { hidden: false, index: groupCols.length + aggIndex } } },
          ],
        }
      : null;
    const evalHaving = (groupSize: number, aggValue: Val): boolean => {
      if (having === null || having.kind !== 'or') return true;
      const cmp = having.args[0]!;
      const isNull = having.args[1]!;
      if (cmp.kind !== 'compare' || isNull.kind !== 'is-null') throw new Error('model');
      const c = Math.sign(groupSize - threshold);
      const first = { '>': c > 0, '>=': c >= 0, '<': c < 0, '<=': c <= 0, '=': c === 0, '<>': c !== 0 }[cmp.op];
      return first || (isNull.negated ? aggValue !== null : aggValue === null);
    };
    // ORDER BY: count(*) (hidden) or an aggregate, then every group column (unique per group).
    const keys: SortKey[] = [];
    const modelKeys: KeyRef[] = [];
    if (rng.chance(0.7)) {
      const byAgg = rng.chance(0.5) ? aggIndex : -1;
      const desc = rng.chance(0.5);
      keys.push({ column: byAgg < 0 ? { hidden: true, index: avgs.length } : { hidden: false, index: groupCols.length + byAgg }, descending: desc, nullsFirst: desc });
      modelKeys.push({ col: byAgg < 0 ? visibleCount : groupCols.length + byAgg, desc, nullsFirst: desc });
      groupCols.forEach((_, i) => {
        const d = rng.chance(0.5);
        keys.push({ column: { hidden: false, index: i }, descending: d, nullsFirst: !d });
        modelKeys.push({ col: i, desc: d, nullsFirst: !d });
      });
    }
    const win: Window = { limit: rng.chance(0.3) ? rng.int(0, 5) : null, offset: rng.chance(0.2) ? rng.int(0, 3) : null };
    const aggregate: AggregateMerge = { columns: mergeColumns, having };
    const spec = merge({
      hiddenColumns: hiddenCount,
      aggregate,
      orderBy: keys,
      limit: win.limit === null ? null : { kind: 'literal', value: BigInt(win.limit) },
      offset: win.offset === null ? null : { kind: 'literal', value: BigInt(win.offset) },
    });
    const shardCount = rng.int(1, 4);
    const shards: ShardResult[] = split(rows, shardCount, rng).map((part) => {
      // A grouped shard returns one row per group it has; an ungrouped one always one row.
      const groups = groupCols.length === 0 ? [part] : groupRows(groupCols, part);
      return {
        description: rowDescription(columns),
        rows: rng.shuffle(groups.map((g) => dataRow(shardRow(g, groupCols.map((c) => g[0]![c]!))))),
      };
    });
    const run = runMerge(spec, shards, rng);
    const out = decodeRows(run.frames) as Val[][];
    // Expected: the aggregates over all rows; rows carry [visible..., count(*)] for ordering.
    const allGroups = groupCols.length === 0 ? [rows] : groupRows(groupCols, rows);
    let expected = allGroups
      .map((g): Val[] => [...groupCols.map((c) => g[0]![c]!), ...aggs.map((a) => finalValue(types, a, g)), String(g.length)])
      .filter((r) => evalHaving(Number(r[visibleCount]), r[groupCols.length + aggIndex]!));
    const sortTypes: ColType[] = [...outTypes, 'int8'];
    if (modelKeys.length > 0) expected.sort((a, b) => compareRowsBy(sortTypes, modelKeys, a, b));
    const unwindowed = expected.map((r) => r.slice(0, visibleCount));
    expected = applyWindow(expected, win).map((r) => r.slice(0, visibleCount));
    const same = (a: Val[], b: Val[]): boolean =>
      a.length === b.length && a.every((v, i) => (outTypes[i] === 'numeric' && aggs[i - groupCols.length]?.kind === 'min' ? equalValues('numeric', v, b[i]!) : v === b[i]));
    let ok = out.length === expected.length;
    if (ok && keys.length > 0) ok = out.every((r, i) => same(r, expected[i]!));
    // Without ORDER BY a LIMIT may keep any of the groups: each output row is one of them, once.
    else if (ok) ok = out.every((r, i) => unwindowed.some((e) => same(r, e)) && out.findIndex((o) => same(o, r)) === i);
    if (!ok) {
      t.fail(`seed ${seed}: ${shardCount} shards, groups ${JSON.stringify(groupCols)}, aggs ${JSON.stringify(aggs)}, ${JSON.stringify(win)}`, {
        found: out,
        wanted: expected,
      });
      break;
    }
    cases++;
  }
  t.equal(cases, 300, 'every case matched');
});

void t.test('the model itself orders like PostgreSQL on a few known pairs', async (t) => {
  t.equal(compareValues('float8', 'NaN', 'Infinity'), 1);
  t.equal(compareValues('numeric', '1.0', '1.00'), 0);
  t.equal(compareValues('date', '0001-12-31 BC', '0001-01-01'), -1);
  t.equal(compareValues('text', 'é', 'z'), 1);
  t.same(DEFAULT_OPTIONS.textOrder, 'bytes');
});
