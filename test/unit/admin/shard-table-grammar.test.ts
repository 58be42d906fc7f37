// The SHARD TABLE and REFERENCE TABLE grammars: every form, identifier quoting and folding, values per
// key type, and each bad input's SQLSTATE and message (what was expected where).
import t, { type Test } from 'tap';
import { tokenizeAdmin, TokenReader } from '../../../proxy/admin/admin-tokens.js';
import { parseReferenceTable, REFERENCE_TABLE_SYNTAX } from '../../../proxy/admin/reference-table.js';
import { parseShardTable, SHARD_TABLE_SYNTAX, type ShardTableStatement } from '../../../proxy/admin/shard-table.js';
import type { ProxyError } from '../../../proxy/errors.js';
import type { ShardedTableConfig } from '../../../topology/config/config-types.js';

function reader(sql: string, words: number, command: string, syntax: string): TokenReader {
  const [statement] = tokenizeAdmin(sql);
  return new TokenReader(statement!.tokens.slice(words), command, syntax);
}

const shard = (sql: string): ShardTableStatement => parseShardTable(reader(sql, 2, 'SHARD TABLE', SHARD_TABLE_SYNTAX));
const reference = (sql: string) => parseReferenceTable(reader(sql, 2, 'REFERENCE TABLE', REFERENCE_TABLE_SYNTAX));

const hashRule = (name: string, column: string, type: ShardedTableConfig['type'] = null): ShardedTableConfig => ({
  name, column, type, method: 'hash', ranges: [], lists: [], default: null,
});

void t.test('SHARD TABLE: the shortest form is a hash rule of unknown key type in the only database', async (t) => {
  t.strictSame(shard('SHARD TABLE orders BY customer_id'), { rule: hashRule('orders', 'customer_id'), database: null });
  t.strictSame(shard('shard table orders by customer_id using hash'), { rule: hashRule('orders', 'customer_id'), database: null });
});

void t.test('SHARD TABLE: names fold unless quoted; schema.table; IN DATABASE', async (t) => {
  t.strictSame(shard('SHARD TABLE Sales.Orders BY CustomerId TYPE INT8 IN DATABASE App'), {
    rule: hashRule('sales.orders', 'customerid', 'int8'),
    database: 'app',
  });
  t.strictSame(shard('SHARD TABLE "Sales"."OrderLines"  BY "CustomerId" IN DATABASE "App"').database, 'App');
  t.throws(() => shard('SHARD TABLE "Sales"."Order Lines" BY k'), { sqlstate: '0A000', message: /containing "\." or white space/ });
  t.strictSame(shard('SHARD TABLE "Sales"."Orders" BY "CustomerId"').rule, hashRule('Sales.Orders', 'CustomerId'));
  t.throws(() => shard('SHARD TABLE "a.b" BY k'), { name: 'ProxyError', sqlstate: '0A000' }, 'a dot inside a quoted name cannot be written as schema.table');
  t.strictSame(shard('SHARD TABLE t BY "by" TYPE text').rule, hashRule('t', 'by', 'text'), 'a keyword is fine as a quoted column');
  t.strictSame(shard('SHARD TABLE by BY type TYPE uuid').rule, hashRule('by', 'type', 'uuid'), 'positions decide, as long as the words are unambiguous');
});

void t.test('SHARD TABLE: key types and their aliases', async (t) => {
  const types: [string, ShardedTableConfig['type']][] = [
    ['int2', 'int2'], ['smallint', 'int2'], ['int4', 'int4'], ['int', 'int4'], ['integer', 'int4'],
    ['int8', 'int8'], ['bigint', 'int8'], ['text', 'text'], ['varchar', 'varchar'], ['uuid', 'uuid'],
  ];
  for (const [written, type] of types) t.equal(shard(`SHARD TABLE t BY k TYPE ${written}`).rule.type, type, written);
});

void t.test('SHARD TABLE: clauses after BY come in any order', async (t) => {
  const a = shard("SHARD TABLE t BY k TYPE text USING LIST ('x' ON 0) IN DATABASE app");
  const b = shard("SHARD TABLE t BY k IN DATABASE app USING LIST ('x' ON 0) TYPE text");
  t.strictSame(a, b);
});

void t.test('SHARD TABLE: USING RANGE with MINVALUE / MAXVALUE, integer and text bounds', async (t) => {
  t.strictSame(shard('SHARD TABLE readings BY sensor TYPE int4 USING RANGE (MINVALUE TO 100 ON 0, 100 TO 200 ON 1, 200 TO MAXVALUE ON 2)').rule, {
    name: 'readings', column: 'sensor', type: 'int4', method: 'range',
    ranges: [{ from: null, to: 100, shard: 0 }, { from: 100, to: 200, shard: 1 }, { from: 200, to: null, shard: 2 }],
    lists: [], default: null,
  });
  t.strictSame(shard("SHARD TABLE t BY k TYPE int8 USING RANGE ('-5' TO ' 7 ' ON 0)").rule.ranges, [{ from: -5, to: 7, shard: 0 }], 'quoted integers are read as PostgreSQL reads them');
  t.strictSame(
    shard('SHARD TABLE t BY k TYPE int8 USING RANGE (-9223372036854775808 TO 9223372036854775807 ON 0)').rule.ranges,
    [{ from: '-9223372036854775808', to: '9223372036854775807', shard: 0 }],
    'int8 bounds beyond 2^53 keep every digit',
  );
  t.strictSame(shard("SHARD TABLE t BY k TYPE text USING RANGE (MINVALUE TO 'm' ON 0, 'm' TO MAXVALUE ON 1)").rule.ranges, [
    { from: null, to: 'm', shard: 0 }, { from: 'm', to: null, shard: 1 },
  ]);
  t.strictSame(shard('SHARD TABLE t BY k TYPE text USING RANGE (1 TO 2 ON 0)').rule.ranges, [{ from: '1', to: '2', shard: 0 }], 'a number for a text key is its text');
});

void t.test('SHARD TABLE: USING LIST with several values per shard and a DEFAULT', async (t) => {
  t.strictSame(shard("SHARD TABLE events BY region TYPE text USING LIST ('eu', 'it''s' ON 0, 'us', 'ca' ON 2) DEFAULT 1").rule, {
    name: 'events', column: 'region', type: 'text', method: 'list', ranges: [],
    lists: [{ values: ['eu', "it's"], shard: 0 }, { values: ['us', 'ca'], shard: 2 }], default: 1,
  });
  t.strictSame(shard('SHARD TABLE t BY k TYPE int2 USING LIST (1, 2 ON 0, -3 ON 1)').rule.lists, [{ values: [1, 2], shard: 0 }, { values: [-3], shard: 1 }]);
  t.strictSame(
    shard("SHARD TABLE t BY k TYPE uuid USING LIST ('{123E4567E89B12D3A456426614174000}' ON 0)").rule.lists,
    [{ values: ['123e4567-e89b-12d3-a456-426614174000'], shard: 0 }],
    'uuids in any form PostgreSQL reads are stored in the standard form',
  );
});

/** Asserts that `sql` fails with `sqlstate` and a message matching `message`. */
function refused(t: Test, sql: string, sqlstate: string, message: RegExp | string) {
  t.throws(() => shard(sql), { sqlstate, message }, sql);
}

void t.test('SHARD TABLE syntax errors are 42601 and say what was expected where', async (t) => {
  const cases: [string, string][] = [
    ['SHARD TABLE', 'expected a table name after SHARD TABLE, got end of command'],
    ["SHARD TABLE 'orders' BY k", "expected a table name after SHARD TABLE, got 'orders'"],
    ["SHARD TABLE s.'t' BY k", `expected a table name after "s.", got 't'`],
    ['SHARD TABLE a.b.c BY k', 'expected BY after the table name a.b, got "."'],
    ['SHARD TABLE t', 'expected BY after the table name t, got end of command'],
    ['SHARD TABLE t USING HASH', 'expected BY after the table name t, got "USING"'],
    ['SHARD TABLE t BY', 'expected the shard key column after BY, got end of command'],
    ['SHARD TABLE t BY 5', 'expected the shard key column after BY, got 5'],
    ['SHARD TABLE t BY k, j', 'expected TYPE, USING or IN DATABASE after the column k, got ","'],
    ['SHARD TABLE t BY k TYPE', 'expected a key type (int2, int4, int8, text, varchar or uuid) after TYPE, got end of command'],
    ['SHARD TABLE t BY k TYPE numeric', 'expected a key type (int2, int4, int8, text, varchar or uuid) after TYPE, got "numeric"'],
    ['SHARD TABLE t BY k TYPE int8 extra', 'expected TYPE, USING or IN DATABASE after TYPE int8, got "extra"'],
    ['SHARD TABLE t BY k USING', 'expected HASH, RANGE or LIST after USING, got end of command'],
    ['SHARD TABLE t BY k USING MODULO', 'expected HASH, RANGE or LIST after USING, got "MODULO"'],
    ['SHARD TABLE t BY k USING HASH (4)', 'expected TYPE, USING or IN DATABASE after USING HASH, got "("'],
    ['SHARD TABLE t BY k TYPE int4 USING RANGE', 'expected "(" after USING RANGE, got end of command'],
    ['SHARD TABLE t BY k TYPE int4 USING RANGE ()', 'expected a lower bound (a value or MINVALUE) after USING RANGE (, got ")"'],
    ['SHARD TABLE t BY k TYPE int4 USING RANGE (1 ON 0)', 'expected TO after the lower bound 1, got "ON"'],
    ['SHARD TABLE t BY k TYPE int4 USING RANGE (1 TO ON 0)', 'expected an upper bound (a value or MAXVALUE) after TO, got "ON"'],
    ['SHARD TABLE t BY k TYPE int4 USING RANGE (1 TO 2)', 'expected ON after the upper bound 2, got ")"'],
    ['SHARD TABLE t BY k TYPE int4 USING RANGE (1 TO 2 ON)', 'expected a shard number (0, 1, ...) after ON, got ")"'],
    ['SHARD TABLE t BY k TYPE int4 USING RANGE (1 TO 2 ON -1)', 'expected a shard number (0, 1, ...) after ON, got -1'],
    ["SHARD TABLE t BY k TYPE int4 USING RANGE (1 TO 2 ON '0')", "expected a shard number (0, 1, ...) after ON, got '0'"],
    ['SHARD TABLE t BY k TYPE int4 USING RANGE (1 TO 2 ON 0', 'expected "," or ")" after ON 0, got end of command'],
    ['SHARD TABLE t BY k TYPE int4 USING RANGE (1 TO 2 ON 0 3 TO 4 ON 1)', 'expected "," or ")" after ON 0, got 3'],
    ['SHARD TABLE t BY k TYPE int4 USING RANGE (1 TO 2 ON 0, )', 'expected a lower bound (a value or MINVALUE) at the start of range 2, got ")"'],
    ['SHARD TABLE t BY k TYPE int4 USING RANGE (MAXVALUE TO 2 ON 0)', 'MAXVALUE cannot be a lower bound after USING RANGE (; use MINVALUE'],
    ['SHARD TABLE t BY k TYPE int4 USING RANGE (1 TO MINVALUE ON 0)', 'MINVALUE cannot be an upper bound after TO; use MAXVALUE'],
    ['SHARD TABLE t BY k TYPE int4 USING RANGE (NULL TO 2 ON 0)', 'expected a lower bound (a value or MINVALUE) after USING RANGE (, got "NULL"'],
    ['SHARD TABLE t BY k TYPE text USING LIST', 'expected "(" after USING LIST, got end of command'],
    ["SHARD TABLE t BY k TYPE text USING LIST ('a')", `expected ON after the value 'a', got ")"`],
    ["SHARD TABLE t BY k TYPE text USING LIST ('a', ON 0)", 'expected a value (an integer or a quoted string) after ",", got "ON"'],
    ["SHARD TABLE t BY k TYPE text USING LIST ('a' ON 0, ON 1)", 'expected a value (an integer or a quoted string) after ON 0,, got "ON"'],
    ["SHARD TABLE t BY k TYPE text USING LIST (eu ON 0)", 'expected a value (an integer or a quoted string) after USING LIST (, got "eu"'],
    ["SHARD TABLE t BY k TYPE text USING LIST ('a' ON 0) DEFAULT", 'expected a shard number (0, 1, ...) after DEFAULT, got end of command'],
    ["SHARD TABLE t BY k TYPE text USING LIST ('a' ON 0) IN DATABASE app DEFAULT 1", 'DEFAULT goes right after USING LIST (...)'],
    ['SHARD TABLE t BY k USING HASH DEFAULT 1', 'DEFAULT goes right after USING LIST (...)'],
    ['SHARD TABLE t BY k TYPE int8 TYPE int4', 'TYPE is given twice'],
    ["SHARD TABLE t BY k TYPE text USING LIST ('a' ON 0) DEFAULT 0 DEFAULT 1", 'DEFAULT is given twice'],
    ['SHARD TABLE t BY k USING HASH USING HASH', 'USING is given twice'],
    ['SHARD TABLE t BY k IN DATABASE a IN DATABASE b', 'IN DATABASE is given twice'],
    ['SHARD TABLE t BY k IN', 'expected DATABASE after IN, got end of command'],
    ['SHARD TABLE t BY k IN DATABASE', 'expected a database name after IN DATABASE, got end of command'],
    ["SHARD TABLE t BY k IN DATABASE 'app'", "expected a database name after IN DATABASE, got 'app'"],
    ['SHARD TABLE t BY k USING RANGE (1 TO 2 ON 0)', 'expected TYPE with USING RANGE (bounds are compared as the key type)'],
    ["SHARD TABLE t BY k USING LIST ('a' ON 0)", 'expected TYPE with USING LIST (values are compared as the key type)'],
  ];
  for (const [sql, message] of cases) {
    const err = t.throws(() => shard(sql), { name: 'ProxyError', sqlstate: '42601' }, sql) as ProxyError;
    t.equal(err.message, `SHARD TABLE: ${message}`, sql);
    t.equal(err.fields.hint, `Syntax: ${SHARD_TABLE_SYNTAX}`, `${sql}: the hint gives the syntax`);
  }
});

void t.test('SHARD TABLE values that do not fit the key type are 42804', async (t) => {
  refused(t, "SHARD TABLE t BY k TYPE int4 USING LIST ('ten' ON 0)", '42804', "SHARD TABLE t: 'ten' is not an integer (the key type is int4)");
  refused(t, 'SHARD TABLE t BY k TYPE int4 USING LIST (1.5 ON 0)', '42804', 'SHARD TABLE t: 1.5 is not an integer (the key type is int4)');
  refused(t, 'SHARD TABLE t BY k TYPE int2 USING RANGE (0 TO 40000 ON 0)', '42804', 'SHARD TABLE t: 40000 is out of range for int2 (-32768 to 32767)');
  refused(t, 'SHARD TABLE t BY k TYPE int4 USING RANGE (0 TO 2147483648 ON 0)', '42804', /2147483648 is out of range for int4/);
  refused(t, 'SHARD TABLE t BY k TYPE int8 USING RANGE (0 TO 9223372036854775808 ON 0)', '42804', /is out of range for int8/);
  refused(t, "SHARD TABLE t BY k TYPE uuid USING LIST ('not-a-uuid' ON 0)", '42804', "SHARD TABLE t: 'not-a-uuid' is not a valid uuid");
  refused(t, 'SHARD TABLE t BY k TYPE uuid USING LIST (12 ON 0)', '42804', /12 is not a uuid \(write a uuid quoted/);
});

void t.test('SHARD TABLE placements that cannot work are 42P17', async (t) => {
  refused(t, 'SHARD TABLE t BY k TYPE int4 USING RANGE (10 TO 10 ON 0)', '42P17', 'SHARD TABLE t: range 10 TO 10 ON 0 is empty (the lower bound must be below the upper bound)');
  refused(t, "SHARD TABLE t BY k TYPE text USING RANGE ('b' TO 'a' ON 0)", '42P17', /range 'b' TO 'a' ON 0 is empty/);
  refused(t, 'SHARD TABLE t BY k TYPE int4 USING RANGE (0 TO 10 ON 0, 5 TO 20 ON 1)', '42P17', 'SHARD TABLE t: range 5 TO 20 ON 1 overlaps range 0 TO 10 ON 0');
  refused(t, 'SHARD TABLE t BY k TYPE int4 USING RANGE (100 TO MAXVALUE ON 1, MINVALUE TO 101 ON 0)', '42P17', /range MINVALUE TO 101 ON 0 overlaps range 100 TO MAXVALUE ON 1/);
  refused(t, "SHARD TABLE t BY k TYPE text USING LIST ('a' ON 0, 'b', 'a' ON 1)", '42P17', "SHARD TABLE t: value 'a' is listed twice (ON 0 and ON 1)");
  refused(t, "SHARD TABLE t BY k TYPE int4 USING LIST (1 ON 0, '01' ON 1)", '42P17', /value 1 is listed twice/);
  t.doesNotThrow(() => shard('SHARD TABLE t BY k TYPE int4 USING RANGE (MINVALUE TO 0 ON 0, 10 TO 20 ON 1)'), 'gaps between ranges are allowed (rows there are refused)');
});

void t.test('REFERENCE TABLE: name, optional IN DATABASE, errors', async (t) => {
  t.strictSame(reference('REFERENCE TABLE countries'), { table: 'countries', database: null });
  t.strictSame(reference('REFERENCE TABLE Public."Countries" IN DATABASE "App"'), { table: 'public.Countries', database: 'App' });
  const cases: [string, string][] = [
    ['REFERENCE TABLE', 'expected a table name after REFERENCE TABLE, got end of command'],
    ['REFERENCE TABLE t BY k', 'expected IN DATABASE or end of command after the table name t, got "BY"'],
    ['REFERENCE TABLE t IN app', 'expected DATABASE after IN, got "app"'],
    ['REFERENCE TABLE t IN DATABASE app extra', 'expected end of command after IN DATABASE app, got "extra"'],
  ];
  for (const [sql, message] of cases) {
    const err = t.throws(() => reference(sql), { name: 'ProxyError', sqlstate: '42601' }, sql) as ProxyError;
    t.equal(err.message, `REFERENCE TABLE: ${message}`, sql);
    t.equal(err.fields.hint, `Syntax: ${REFERENCE_TABLE_SYNTAX}`);
  }
});
