import t from 'tap';
import { StatementRegistry, PROXY_STATEMENT_PREFIX } from '../../../proxy/backend/statement-registry.js';
import { decodeParse } from '../../../proxy/protocol/client-messages.js';

void t.test('a client name is kept on the server unless another client uses it for other SQL', async (t) => {
  const r = new StatementRegistry();
  const a = r.acquire('s1', 'select 1', []);
  t.equal(a.name, 's1');
  const b = r.acquire('s1', 'select 1', []);
  t.equal(b, a, 'same name and SQL share one definition');
  t.equal(a.refs, 2);
  const c = r.acquire('s1', 'select 2', []);
  t.not(c.name, 's1');
  t.ok(c.name.startsWith(PROXY_STATEMENT_PREFIX));
  const d = r.acquire('other', 'select 2', [23]);
  t.equal(d.name, 'other', 'types are part of the definition');
  const e = r.acquire('s1', 'select 2', []);
  t.equal(e, c, 'a clashing name with the same SQL shares the renamed definition');
  const parsed = decodeParse(c.parseFrame, 0, c.parseFrame.length);
  t.strictSame(parsed, { name: c.name, query: 'select 2', paramTypes: [] }, 'the Parse frame carries the server name');
});

void t.test('client names with the proxy prefix are always renamed', async (t) => {
  const r = new StatementRegistry();
  const a = r.acquire(`${PROXY_STATEMENT_PREFIX}1`, 'select 1', []);
  const b = r.acquire(`${PROXY_STATEMENT_PREFIX}1`, 'select 9', []);
  t.not(a, b);
  t.not(a.name, b.name);
});

void t.test('released definitions are forgotten; a reused name gets a new definition', async (t) => {
  const r = new StatementRegistry();
  const a = r.acquire('s', 'select 1', []);
  r.release(a);
  t.equal(r.size, 0);
  const b = r.acquire('s', 'select 2', []);
  t.not(b, a, 'a server still holding the old definition can tell them apart by identity');
  t.equal(b.name, 's');
});
