// primary_conninfo handling: libpq's keyword/value grammar (quotes, backslashes, spaces around =),
// URIs, re-aiming at another server while keeping everything else, and redaction for logs.

import t from 'tap';
import { ConninfoError, formatConninfo, parseConninfo, redactConninfo, withServer } from '../../../proxy/failover/conninfo.js';
import { sqlLiteral } from '../../../proxy/failover/failover-actions.js';

void t.test('keyword/value strings as pg_basebackup -R and the harness write them', async (t) => {
  const text = "user=postgres passfile='/tmp/x y/.pgpass' channel_binding=prefer host=127.0.0.1 port=5433 sslmode=prefer application_name='shard0-replica1'";
  const info = parseConninfo(text);
  t.strictSame(Object.fromEntries(info), {
    user: 'postgres',
    passfile: '/tmp/x y/.pgpass',
    channel_binding: 'prefer',
    host: '127.0.0.1',
    port: '5433',
    sslmode: 'prefer',
    application_name: 'shard0-replica1',
  });
  t.strictSame(Object.fromEntries(parseConninfo(formatConninfo(info))), Object.fromEntries(info), 'round trip');
  t.strictSame(Object.fromEntries(parseConninfo("  a = 1   b='it\\'s' c=back\\\\slash d='' ")), { a: '1', b: "it's", c: 'back\\slash', d: '' });
  t.throws(() => parseConninfo('host'), ConninfoError);
  t.throws(() => parseConninfo("host='open"), ConninfoError);
});

void t.test('URIs', async (t) => {
  const info = parseConninfo('postgresql://rep%40l:p%3Ass@10.0.0.1:5432/postgres?application_name=r1&sslmode=require');
  t.strictSame(Object.fromEntries(info), { user: 'rep@l', password: 'p:ss', host: '10.0.0.1', port: '5432', dbname: 'postgres', application_name: 'r1', sslmode: 'require' });
  t.throws(() => parseConninfo('postgresql://[bad'), ConninfoError);
});

void t.test('withServer replaces host and port, drops hostaddr, keeps the rest', async (t) => {
  const info = withServer(parseConninfo("hostaddr=10.0.0.9 host=old port=1 user=rep password='s3cret' application_name=r2"), '127.0.0.1', 6543);
  t.strictSame(Object.fromEntries(info), { host: '127.0.0.1', port: '6543', user: 'rep', password: 's3cret', application_name: 'r2' });
});

void t.test('redaction never lets a password through', async (t) => {
  const red = redactConninfo("host=h password='it\\'s \\'secret\\'' user=u");
  t.notMatch(red, /secret/);
  t.match(red, /password='\*{8}'/);
  t.notMatch(redactConninfo('postgresql://u:topsecret@h/db'), /topsecret/);
  t.equal(redactConninfo("password='unterminated"), '(unparsable connection string)');
});

void t.test('SQL literals survive quotes and backslashes whatever standard_conforming_strings is', async (t) => {
  t.equal(sqlLiteral("a'b\\c"), "E'a''b\\\\c'");
});
