// COLLATE in the merge: a sort key (or min/max) with its own collation is ordered by it, whatever the
// database's default: "C", "POSIX", "ucs_basic" by UTF-8 bytes (code points), ICU collations by the
// ICU collator for their locale with a code-point tie-break, "default" by the database's order; a
// collation the merge cannot reproduce is a 0A000 before any row goes out.
import t from 'tap';
import type { MergeColumn, SortKey } from '../../../planner/plan.js';
import { MergeStream } from '../../../proxy/executor/merge/merge-stream.js';
import { collationTextOrder } from '../../../proxy/executor/merge/collations.js';
import { ProxyError } from '../../../proxy/errors.js';
import { DEFAULT_OPTIONS, OID, Rng, dataRow, decodeRows, merge, rowDescription, runMerge, type Column } from './frames.js';

const WORDS = ['b', 'A', 'a', 'B', 'é', 'e', 'z', 'Z', 'å', 'ä', 'ö', 'ß', 'ss', '😀', 'ｱ', 'ﬁ', 'fi', '', 'a b', 'ab'];
const cols: Column[] = [{ name: 'w', oid: OID.text }];

const bytes = (a: string, b: string): number => Buffer.compare(Buffer.from(a), Buffer.from(b));
function icu(locale: string): (a: string, b: string) => number {
  const c = new Intl.Collator(locale);
  return (a, b) => c.compare(a, b) || bytes(a, b);
}

/** Merges WORDS split over three shards, each sorted by `order` as a shard would, ordered by `key`. */
function mergeWords(key: Omit<SortKey, 'column'>, order: (a: string, b: string) => number, databaseLocale: string | null): string[] {
  const sign = key.descending ? -1 : 1;
  const shards = [0, 1, 2].map((s) => {
    const part = WORDS.filter((_, i) => i % 3 === s).sort((a, b) => sign * order(a, b));
    return { description: rowDescription(cols), rows: part.map((w) => dataRow([w])) };
  });
  const spec = merge({ orderBy: [{ column: { hidden: false, index: 0 }, ...key }] });
  const run = runMerge(spec, shards, new Rng(11), { textOrder: databaseLocale === null ? 'bytes' : { locale: databaseLocale } });
  return decodeRows(run.frames).map((r) => r[0] as string);
}

void t.test('COLLATE "C" / "POSIX" / ucs_basic: byte order even when the database orders by a locale', async (t) => {
  for (const collation of ['C', 'POSIX', 'ucs_basic']) {
    const expected = [...WORDS].sort(bytes);
    t.same(mergeWords({ descending: false, nullsFirst: false, collation }, bytes, 'en'), expected, collation);
    t.same(mergeWords({ descending: true, nullsFirst: true, collation }, bytes, 'en'), [...expected].reverse(), `${collation} DESC`);
  }
});

void t.test('ICU collations: the collator of their locale, even when the database orders by bytes', async (t) => {
  for (const [collation, locale] of [['und-x-icu', 'en'], ['en-x-icu', 'en'], ['de-x-icu', 'de'], ['sv-x-icu', 'sv'], ['de-AT-x-icu', 'de-AT']] as const) {
    const expected = [...WORDS].sort(icu(locale));
    t.same(mergeWords({ descending: false, nullsFirst: false, collation }, icu(locale), null), expected, collation);
  }
  const sv = mergeWords({ descending: false, nullsFirst: false, collation: 'sv-x-icu' }, icu('sv'), null);
  t.ok(sv.indexOf('å') > sv.indexOf('z'), 'Swedish: å after z');
  t.same(mergeWords({ descending: false, nullsFirst: false, collation: 'default' }, icu('en'), 'en'), [...WORDS].sort(icu('en')), '"default" is the database order');
  t.same(mergeWords({ descending: false, nullsFirst: false }, bytes, null), [...WORDS].sort(bytes), 'no COLLATE: the database order (bytes here)');
});

void t.test('collations the merge cannot reproduce: 0A000 with a hint, before any row', async (t) => {
  for (const name of ['en_US', 'en_US.utf8', 'my_ci', 'xx-x-icu', 'de-u-ks-level2', 'c']) {
    const m = new MergeStream(merge({ orderBy: [{ column: { hidden: false, index: 0 }, descending: false, nullsFirst: false, collation: name }] }), { ...DEFAULT_OPTIONS, shards: 1 });
    let err: unknown = null;
    try {
      m.describe(0, rowDescription(cols));
    } catch (e) {
      err = e;
    }
    t.ok(err instanceof ProxyError && err.sqlstate === '0A000' && (err.fields.hint ?? '').includes('"C"'), `${name}: ${err instanceof Error ? err.message : 'no error'}`);
  }
  t.same(collationTextOrder('C.utf8', { locale: 'en' }), 'bytes', 'libc C.utf8 is byte order');
  t.same(collationTextOrder('und-x-icu', 'bytes'), { locale: 'en' }, 'ICU root: English, which has no tailoring');
});

void t.test('min/max(x COLLATE name) pick by that collation', async (t) => {
  const spec = (collation?: string) => {
    const min: MergeColumn = collation === undefined ? { kind: 'min' } : { kind: 'min', collation };
    const max: MergeColumn = collation === undefined ? { kind: 'max' } : { kind: 'max', collation };
    return merge({ aggregate: { columns: [min, max], having: null } });
  };
  const two: Column[] = [{ name: 'min', oid: OID.text }, { name: 'max', oid: OID.text }];
  // Each shard already picked its extreme by the same collation.
  const shards = (order: (a: string, b: string) => number) =>
    [0, 1, 2].map((s) => {
      const part = WORDS.filter((_, i) => i % 3 === s).sort(order);
      return { description: rowDescription(two), rows: [dataRow([part[0]!, part[part.length - 1]!])] };
    });
  const run = (collation: string | undefined, order: (a: string, b: string) => number, db: string | null) =>
    decodeRows(runMerge(spec(collation), shards(order), new Rng(2), { textOrder: db === null ? 'bytes' : { locale: db } }).frames)[0];
  const sortedBytes = [...WORDS].sort(bytes);
  const sortedSv = [...WORDS].sort(icu('sv'));
  t.same(run('C', bytes, 'en'), [sortedBytes[0], sortedBytes[sortedBytes.length - 1]], 'min/max COLLATE "C" in an ICU database');
  t.same(run('sv-x-icu', icu('sv'), null), [sortedSv[0], sortedSv[sortedSv.length - 1]], 'min/max COLLATE "sv-x-icu" in a byte-ordered database');
});

void t.test('a sort key that is a table column with a collation of its own orders by it', async (t) => {
  const table: Column[] = [{ name: 'w', oid: OID.text, tableOid: 16500, attnum: 2 }];
  const collationOf = (shard: number, tableOid: number, attnum: number): string | undefined =>
    tableOid === 16500 + shard && attnum === 2 ? 'sv-x-icu' : undefined;
  const run = (columns: Column[][], key: Omit<SortKey, 'column'>, order: (a: string, b: string) => number) => {
    const shards = [0, 1, 2].map((s) => {
      const part = WORDS.filter((_, i) => i % 3 === s).sort(order);
      return { description: rowDescription(columns[s]!), rows: part.map((w) => dataRow([w])) };
    });
    const spec = merge({ orderBy: [{ column: { hidden: false, index: 0 }, ...key }] });
    return decodeRows(runMerge(spec, shards, new Rng(8), { columnCollation: collationOf }).frames).map((r) => r[0] as string);
  };
  // Table OIDs differ between shards: each shard's RowDescription is looked up on that shard.
  const perShard = [0, 1, 2].map((s) => [{ ...table[0]!, tableOid: 16500 + s }]);
  t.same(run(perShard, { descending: false, nullsFirst: false }, icu('sv')), [...WORDS].sort(icu('sv')), "the column's ICU collation");
  t.same(run(perShard, { descending: false, nullsFirst: false, collation: 'C' }, bytes), [...WORDS].sort(bytes), 'an explicit COLLATE wins');
  const computed = [0, 1, 2].map(() => [{ name: 'w', oid: OID.text, tableOid: 0, attnum: 0 }]);
  t.same(run(computed, { descending: false, nullsFirst: false }, bytes), [...WORDS].sort(bytes), 'a computed column: the database order');
  const m = new MergeStream(merge({ orderBy: [{ column: { hidden: false, index: 0 }, descending: false, nullsFirst: false }] }), {
    ...DEFAULT_OPTIONS,
    shards: 1,
    columnCollation: () => 'en_US',
  });
  let err: unknown = null;
  try {
    m.describe(0, rowDescription(table));
  } catch (e) {
    err = e;
  }
  t.match(err, { sqlstate: '0A000', message: /collation "en_US"/ }, 'a column collation the merge cannot reproduce is refused');
});
