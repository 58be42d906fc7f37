import t from 'tap';
import { decodeBind } from '../../../proxy/protocol/client-messages.js';
import { buildBind, buildExecute } from '../../../proxy/protocol/rewrite.js';
import { serialize } from 'pg-protocol';

void t.test('decodeBind reads what a driver serializes, and buildBind writes the same bytes back', async (t) => {
  // pg-protocol's serializer (the driver side) builds the frame independently of our encoder.
  const frame = serialize.bind({ portal: 'p1', statement: 's1', values: ['42', null, Buffer.from([0, 0, 0, 7])], valueMapper: undefined, binary: false });
  const bind = decodeBind(frame, 0, frame.length);
  t.equal(bind.portal, 'p1');
  t.equal(bind.statement, 's1');
  t.strictSame(bind.values.map((v) => (v === null ? null : [...v])), [[0x34, 0x32], null, [0, 0, 0, 7]]);
  t.strictSame(bind.paramFormats, [0, 0, 1], 'pg sends a Buffer value in binary');
  t.strictSame(bind.resultFormats, [0]);
  const rebuilt = buildBind(bind.portal, bind.statement, bind.paramFormats, bind.values, bind.resultFormats);
  t.strictSame(decodeBind(rebuilt, 0, rebuilt.length), bind, 'a rebuilt frame decodes the same');
  // The values are copies: overwriting the source frame does not change them.
  frame.fill(0);
  t.strictSame([...bind.values[0]!], [0x34, 0x32]);
});

void t.test('format codes: none (all text), one (for all), one per value; mismatched counts are malformed', async (t) => {
  const one = buildBind('', '', [1], [Buffer.from([1]), Buffer.from([2])], []);
  // buildBind writes formats as given: one code for two values.
  t.strictSame(decodeBind(one, 0, one.length).paramFormats, [1, 1]);
  const none = buildBind('', '', [], [Buffer.from('a')], [1]);
  t.strictSame(decodeBind(none, 0, none.length).paramFormats, [0]);
  const bad = buildBind('', '', [0, 1, 0], [Buffer.from('a')], []);
  t.throws(() => decodeBind(bad, 0, bad.length), { name: 'ProxyError', sqlstate: '08P01', message: /Bind/ });
  const truncated = one.subarray(0, one.length - 3);
  t.throws(() => decodeBind(truncated, 0, truncated.length), { name: 'ProxyError', sqlstate: '08P01', message: /Bind/ });
});

void t.test('buildExecute matches the driver serialization', async (t) => {
  t.strictSame(buildExecute('p', 0), serialize.execute({ portal: 'p', rows: 0 }));
  t.strictSame(buildExecute('', 10), serialize.execute({ portal: '', rows: 10 }));
});
