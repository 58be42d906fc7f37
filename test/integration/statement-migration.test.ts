// Statements the client prepared must follow it to whichever server connection serves it next, with
// exactly the SQL it parsed (the proxy reads client data into a reused buffer, so nothing it keeps
// may point into that buffer). Two clients share a pool of 2 server connections and keep swapping.
import t from 'tap';
import { startProxyFixture, DATABASE, USERS } from '../helpers/proxy-fixture.js';
import { RawClient, parse, bind, execute, sync, query, dataRowValues, type Message } from '../helpers/raw-client.js';

const fx = await startProxyFixture(t, { pool: { sizeMax: 2 } });

async function login(): Promise<RawClient> {
  const c = await RawClient.connect(fx.port);
  await c.login('app', DATABASE, USERS.app.password);
  return c;
}

function rows(messages: Message[]): (string | null)[][] {
  return messages.filter((m) => m.type === 'D').map((m) => dataRowValues(m.body));
}

void t.test('the unnamed statement is re-parsed from its own SQL on another connection', async (t) => {
  const a = await login();
  const b = await login();
  const holder = await login();
  // a parses the unnamed statement, then lets its connection go (status idle after Sync).
  a.write(parse('', 'select $1::int + 1000 as v'), sync());
  const parsed = await a.readUntil('Z');
  t.strictSame(parsed.map((m) => m.type), ['1', 'Z']);
  // Others keep both connections busy and overwrite whatever a's bytes were read into.
  holder.write(query('begin; select pg_backend_pid()'));
  await holder.readUntil('Z');
  b.write(parse('', "select 'garbage-' || repeat('x', 200) as v, $1::text as w"), bind('', '', ['9']), execute(), sync());
  t.equal(rows(await b.readUntil('Z'))[0]?.[1], '9');
  holder.write(query('commit'));
  await holder.readUntil('Z');
  // a binds its unnamed statement: wherever it runs, it must be a's SQL.
  for (let i = 0; i < 5; i++) {
    a.write(bind('', '', [String(i)]), execute(), sync());
    const result = await a.readUntil('Z');
    t.strictSame(rows(result), [[String(1000 + i)]], `bind ${i} runs a's statement`);
    b.write(query('select 1'));
    await b.readUntil('Z');
  }
  await Promise.all([a.end(), b.end(), holder.end()]);
});

void t.test('named statements interleaved across clients keep their own SQL', async (t) => {
  const clients = await Promise.all([login(), login(), login(), login()]);
  clients.forEach((c, i) => c.write(parse('s', `select $1::int * ${i + 2} as v`), sync()));
  for (const c of clients) await c.readUntil('Z');
  for (let round = 0; round < 10; round++) {
    await Promise.all(
      clients.map(async (c, i) => {
        c.write(bind('', 's', [String(round)]), execute(), sync());
        const r = rows(await c.readUntil('Z'));
        t.strictSame(r, [[String(round * (i + 2))]], `round ${round}, client ${i}`);
      }),
    );
  }
  await Promise.all(clients.map((c) => c.end()));
});
