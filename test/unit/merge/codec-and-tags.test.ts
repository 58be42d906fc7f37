// Frame helpers of the merge (DataRow layout, hidden-column truncation, DataRow/RowDescription
// building) against hand-built frames, and the merging of several shards' CommandComplete tags.
import t from 'tap';
import { mergeCommandTags, selectTag } from '../../../proxy/executor/merge/command-tag.js';
import { buildDataRow, clientRowDescription, readDataRow, readRowDescription, truncateDataRow } from '../../../proxy/executor/merge/row-codec.js';
import { OID, dataRow, rowDescription } from './frames.js';

void t.test('readDataRow: field offsets and lengths, NULLs, the end of the visible columns', async (t) => {
  const frame = dataRow(['ab', null, '', 'xyz']);
  const buf = Buffer.concat([Buffer.from('junk'), frame, Buffer.from([0, 0, 0, 0])]);
  const fields = new Int32Array(8);
  const split = readDataRow(buf, 4, 4 + frame.length, 4, fields, 2);
  // D, len(4), count(2) = 7 bytes; then 4 + 'ab'; then -1; then 4 + ''; then 4 + 'xyz'.
  t.same([...fields], [4 + 11, 2, 4 + 17, -1, 4 + 21, 0, 4 + 25, 3]);
  t.equal(split, 4 + 17, 'the hidden part starts at the third column\'s length word');
  t.equal(readDataRow(buf, 4, 4 + frame.length, 4, fields, 4), 4 + frame.length, 'no hidden columns: the frame end');
  for (let cut = 0; cut < frame.length; cut++) {
    t.throws(() => readDataRow(buf, 4, 4 + cut, 4, fields, 4), { name: 'ProxyError', sqlstate: '08P01' }, `truncated at ${cut}`);
  }
  t.throws(() => readDataRow(buf, 4, 4 + frame.length, 3, fields, 3), { name: 'ProxyError', sqlstate: '08P01', message: /4 columns where RowDescription announced 3/ });
  const bad = Buffer.from(frame);
  bad.writeInt32BE(-2, 7 + 4 + 2);
  t.throws(() => readDataRow(bad, 0, bad.length, 4, fields, 4), { name: 'ProxyError', sqlstate: '08P01', message: /negative length/ });
});

void t.test('truncateDataRow drops trailing columns in place; buildDataRow', async (t) => {
  const frame = dataRow(['1', 'two', null, 'hidden']);
  const fields = new Int32Array(8);
  const split = readDataRow(frame, 0, frame.length, 4, fields, 2);
  truncateDataRow(frame, 0, split, 2);
  t.ok(frame.subarray(0, split).equals(dataRow(['1', 'two'])));
  t.ok(buildDataRow([Buffer.from('1'), null, Buffer.alloc(0)]).equals(dataRow(['1', null, ''])));
  t.ok(buildDataRow([]).equals(dataRow([])));
});

void t.test('RowDescription read and rebuilt for the client', async (t) => {
  const frame = rowDescription([
    { name: 'a', oid: OID.int4, typlen: 4, tableOid: 1, attnum: 1 },
    { name: 'ü', oid: OID.int8, typlen: 8, tableOid: 2, attnum: 3, typmod: 7, format: 1 },
    { name: '', oid: OID.text },
  ]);
  const d = readRowDescription(Buffer.concat([Buffer.from('xx'), frame]), 2, 2 + frame.length);
  t.same(
    d.fields.map((f) => [f.typeOid, f.typeSize, f.typeModifier, f.format]),
    [
      [OID.int4, 4, -1, 0],
      [OID.int8, 8, 7, 1],
      [OID.text, -1, -1, 0],
    ],
  );
  t.same(
    d.fields.map((f) => [f.tableOid, f.attnum]),
    [
      [1, 1],
      [2, 3],
      [16384, 1],
    ],
    'table OID and attnum (column collations are looked up by them)',
  );
  t.ok(clientRowDescription(d, 3, new Map()).equals(frame), 'all visible, nothing retyped: the same bytes');
  t.ok(clientRowDescription(d, 1, new Map()).equals(rowDescription([{ name: 'a', oid: OID.int4, typlen: 4, tableOid: 1, attnum: 1 }])));
  const retyped = clientRowDescription(d, 2, new Map([[1, { typeOid: OID.numeric, typeSize: -1 }]]));
  t.ok(
    retyped.equals(
      rowDescription([
        { name: 'a', oid: OID.int4, typlen: 4, tableOid: 1, attnum: 1 },
        { name: 'ü', oid: OID.numeric, typlen: -1, tableOid: 0, attnum: 0, typmod: -1, format: 1 },
      ]),
    ),
  );
  const modified = clientRowDescription(d, 2, new Map([[1, { typeModifier: 655366 }]]));
  t.ok(
    modified.equals(
      rowDescription([
        { name: 'a', oid: OID.int4, typlen: 4, tableOid: 1, attnum: 1 },
        { name: 'ü', oid: OID.int8, typlen: 8, tableOid: 0, attnum: 0, typmod: 655366, format: 1 },
      ]),
    ),
    'only the type modifier (an expression column): type OID and size kept',
  );
  for (let cut = 0; cut < frame.length; cut++) {
    const b = Buffer.from(frame.subarray(0, cut));
    if (cut >= 5) b.writeInt32BE(cut - 1, 1);
    t.throws(() => readRowDescription(b, 0, cut), { name: 'ProxyError', sqlstate: '08P01' }, `truncated at ${cut}`);
  }
});

void t.test('command tags: counts add up, others must agree', async (t) => {
  t.equal(mergeCommandTags(['SELECT 2', 'SELECT 0', 'SELECT 5']), 'SELECT 7');
  t.equal(mergeCommandTags(['INSERT 0 1', 'INSERT 0 2']), 'INSERT 0 3');
  t.equal(mergeCommandTags(['INSERT 16385 1', 'INSERT 0 2']), 'INSERT 0 3', 'a legacy OID becomes 0');
  t.equal(mergeCommandTags(['UPDATE 10', 'UPDATE 0']), 'UPDATE 10');
  t.equal(mergeCommandTags(['DELETE 1', 'DELETE 1']), 'DELETE 2');
  t.equal(mergeCommandTags(['COPY 3', 'COPY 4']), 'COPY 7');
  t.equal(mergeCommandTags(['MERGE 1', 'MERGE 1']), 'MERGE 2');
  t.equal(mergeCommandTags(['UPDATE 9223372036854775807', 'UPDATE 1']), 'UPDATE 9223372036854775808', 'no overflow');
  t.equal(mergeCommandTags(['CREATE TABLE', 'CREATE TABLE']), 'CREATE TABLE');
  t.equal(mergeCommandTags(['SET']), 'SET');
  t.throws(() => mergeCommandTags(['CREATE TABLE', 'ALTER TABLE']), { name: 'ProxyError', sqlstate: 'XX000', message: /different command tags/ });
  t.throws(() => mergeCommandTags(['UPDATE 1', 'DELETE 1']), { name: 'ProxyError', sqlstate: 'XX000' });
  t.throws(() => mergeCommandTags(['FETCH 1', 'FETCH 2']), { name: 'ProxyError', sqlstate: 'XX000' }, 'FETCH counts are not summed');
  t.throws(() => mergeCommandTags([]), { name: 'ProxyError', sqlstate: 'XX000' });
  t.equal(selectTag(12), 'SELECT 12');
});
