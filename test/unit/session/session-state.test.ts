import t from 'tap';
import { SessionState, quoteLiteral } from '../../../proxy/session/session-state.js';

void t.test('startup parameters become SETs; framing parameters do not', async (t) => {
  const s = new SessionState(new Map([['user', 'u'], ['database', 'd'], ['application_name', "it's"], ['options', '-c x=1'], ['DateStyle', 'ISO']]));
  t.equal(s.replaySql(), "SET application_name = 'it''s';\nSET \"DateStyle\" = 'ISO'");
  t.equal(quoteLiteral("a'b"), "'a''b'");
});

void t.test('SETs hold after commit, vanish after rollback, and order follows the client', async (t) => {
  const s = new SessionState(new Map());
  const k0 = s.key;
  s.apply({ kind: 'set', name: 'a', statement: 'SET a = 1' });
  t.equal(s.key, k0, 'pending until the transaction ends');
  t.equal(s.endTransaction(false), 'same');
  t.equal(s.key, k0);
  s.apply({ kind: 'set', name: 'a', statement: 'SET a = 1' });
  s.apply({ kind: 'set', name: 'b', statement: 'SET b = 2' });
  t.equal(s.endTransaction(true), 'current');
  t.equal(s.replaySql(), 'SET a = 1;\nSET b = 2');
  s.apply({ kind: 'set', name: 'a', statement: 'SET a = 3' });
  s.endTransaction(true);
  t.equal(s.replaySql(), 'SET b = 2;\nSET a = 3');
  s.apply({ kind: 'reset', name: 'b' });
  t.equal(s.endTransaction(true), 'dirty', 'RESET leaves the server at its login default');
  t.equal(s.replaySql(), 'SET a = 3');
  s.apply({ kind: 'reset-all' });
  s.endTransaction(true);
  t.equal(s.replaySql(), '');
  t.equal(s.endTransaction(true), 'same', 'nothing pending');
});

void t.test('DISCARD ALL returns to the startup parameters', async (t) => {
  const s = new SessionState(new Map([['application_name', 'x']]));
  s.apply({ kind: 'set', name: 'a', statement: 'SET a = 1' });
  s.endTransaction(true);
  s.discardAll();
  t.equal(s.replaySql(), "SET application_name = 'x'");
  t.notOk(s.hasPending);
});
