import t from 'tap';
import { createHash, createHmac, pbkdf2Sync, randomBytes, randomInt } from 'node:crypto';
import { inspect } from 'node:util';
import { ProxyError } from '../../../proxy/errors.js';
import {
  ScramClient,
  ScramServer,
  formatScramVerifier,
  parseScramVerifier,
  saslprep,
  scramSecretFromPassword,
  type ScramSecret,
} from '../../../proxy/session/auth/index.js';

// RFC 7677 section 3.
const RFC = {
  user: 'user',
  password: 'pencil',
  clientNonce: 'rOprNGfwEbeRWgbNEkqO',
  serverNonce: '%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0',
  salt: 'W22ZaJ0SNY7soEsUEjb6gQ==',
  iterations: 4096,
  clientFirst: 'n,,n=user,r=rOprNGfwEbeRWgbNEkqO',
  serverFirst: 'r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096',
  clientFinal:
    'c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=',
  serverFinal: 'v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4=',
};

// Verifiers produced by PostgreSQL 15.x (password_encryption = 'scram-sha-256'), with the passwords
// they were created from. The non-ASCII ones pin down SASLprep: mapping, NFKC, and the fallback to
// the unnormalized password when the prepared string would be prohibited.
const POSTGRES_VERIFIERS: [string, string, string][] = [
  ['ascii', 'pencil', 'SCRAM-SHA-256$4096:15J8bVUL8SA561o0CImF6A==$M49XbQzYUwOlyg/BmRZiySeI+bW3Lzht2lgJxe5Xp/Q=:GUySrlApRobVjnXHoTTeTSmqiiOFA73ATXI+xhn3Avo='],
  ['latin-1 and euro sign', 'pässwörd€', 'SCRAM-SHA-256$4096:DgsH7DDFhgxt466N9KvstA==$T7me89+jnJ/fXqFrZsRXKiqCtJl/vYqG1d586UzV6Ys=:bckxGMeBDz7JmwQs/pS8xti3zGGFRRvnEgH200W166U='],
  ['fullwidth letters (NFKC)', 'ｐｅｎｃｉｌ', 'SCRAM-SHA-256$4096:imnH2jAaSTKPHRdmESM95A==$Qsjc6LxekrGbjOnqJTVCV2PPLS40AtiWNpfjRG+4biI=:CpyVnWyyM8mbVGPkfQqQPW8iAKqzFHHqKnILGQg8vgU='],
  ['no-break space mapped to space', 'pen\u00a0cil\u00e4', 'SCRAM-SHA-256$4096:pCkf3KW75AaRiOa/C2cjBA==$7A9OYvU3rVex2ZrrOOjf5SSDLdjxLXHU9p4S+V8Zn9U=:RRZusBDcfxhSzDUgoCn4vJ1pU+zwl0iukyZN+05KPdE='],
  ['zero-width space mapped to space', 'a\u200bb\u00e4', 'SCRAM-SHA-256$4096:QkoJcOJp2WZo7+6OF/oGqA==$oDZHClCsHOG3RQBZghJcIfcsZ9T5Bzcub4qeaGHY/sg=:H5aAPBAeWVAxgfXMoO80tfnSSJb+8v3y7QzhujbQX9s='],
  ['empty after mapping: unchanged', '\u00ad', 'SCRAM-SHA-256$4096:3qTxkW9/ND1GDU3FPtO5Aw==$W7h0Fi/U8tkbY1SuM9bLHPrA0BvWt6yfUh/pNK59Uoc=:yvHpH/v+VSnPFjYZVirVIadl3PVYNrpu/sGfQ23nUf8='],
  ['control character: unchanged', '\uff50\u0007', 'SCRAM-SHA-256$4096:zo7ejsvmhs4DvotVkrkhbA==$FUe2wMoSTHLSjd1Av2TsFTwvPMV8jz9T/Fvr4+RFq1c=:MoyrlfjjayVuhM53hvhmN88eAI2AKSqnyqnujsVb6/U='],
  ['mixed-direction: unchanged', '\u05d0\ufb01', 'SCRAM-SHA-256$4096:AcBU3cjaZHwFm6Nknw2efQ==$YI2TsbkIBqWaSwJAuX/sKQQRV6lAi5uZo6kNqCUk+yU=:rXJilRzmwEltmRPF4Bz+6gOKp5V65qhKUdOzy/TjpGo='],
  ['right-to-left (NFKC)', '\ufb20\u05d0', 'SCRAM-SHA-256$4096:wDf6Cv5rer6OQkw09Zkzzw==$hTQaIO/OFpXq+QlEQDgCleQX9KwZuCP67lAoRmeHfTk=:mhT9ctiKHn2j7T6isK9BVEzBnGOrHljR1eEAP6Cw6LE='],
  ['unassigned in Unicode 3.2: unchanged', '\u{1f600}\uff50', 'SCRAM-SHA-256$4096:NWgMC2gmEefIgsoV2DYt/A==$I+6Se80fq+fOiBRn7BGE95oC7aAebvZWLdC/7TNYqa8=:jFVf6xXV7XXIddeXo2L/X6ccNYZMZMXPFDNqSdRHtwQ='],
  ['private use: unchanged', '\uff50\ue000', 'SCRAM-SHA-256$4096:CL1uAZL2Ijr7DbrztqviaQ==$ZuQLi9gQUKCSVpo0gL5+EW3WhaIQnFDaUJnRhuDGTwY=:0APBanm/lz/ZQr+322qCy+nXLxLvdvmUyc/JhA1u7iE='],
];

const b = (s: string): Buffer => Buffer.from(s, 'latin1');

/** An independent client-final computation (RFC 5802 section 3), for messages ScramClient never sends. */
function clientFinalFor(password: string, secretSalt: Buffer, iterations: number, clientFirstBare: string, serverFirst: string, gs2: string): string {
  const salted = pbkdf2Sync(Buffer.from(password, 'utf8'), secretSalt, iterations, 32, 'sha256');
  const clientKey = createHmac('sha256', salted).update('Client Key').digest();
  const storedKey = createHash('sha256').update(clientKey).digest();
  const nonce = /^r=([^,]+)/.exec(serverFirst)?.[1] ?? '';
  const withoutProof = `c=${Buffer.from(gs2).toString('base64')},r=${nonce}`;
  const sig = createHmac('sha256', storedKey).update(b(`${clientFirstBare},${serverFirst},${withoutProof}`)).digest();
  const proof = Buffer.from(clientKey.map((x, i) => x ^ (sig[i] ?? 0)));
  return `${withoutProof},p=${proof.toString('base64')}`;
}

function rfcSecret(): ScramSecret {
  return scramSecretFromPassword(RFC.password, Buffer.from(RFC.salt, 'base64'), RFC.iterations);
}

function rfcServer(): ScramServer {
  return new ScramServer(RFC.user, rfcSecret(), { nonce: RFC.serverNonce });
}

type TapTest = Parameters<Parameters<typeof t.test>[0]>[0];

/** Asserts that `fn` throws a ProxyError with `sqlstate` (never a TypeError or the like). */
function throwsCode(tt: TapTest, fn: () => unknown, sqlstate: string, what: string): ProxyError | undefined {
  try {
    fn();
  } catch (err) {
    if (!(err instanceof ProxyError)) {
      tt.fail(`${what}: threw a non-ProxyError ${String(err)}`);
      return undefined;
    }
    tt.equal(err.sqlstate, sqlstate, what);
    return err;
  }
  tt.fail(`${what}: did not throw`);
  return undefined;
}

void t.test('RFC 7677 test vector, client side', async (t) => {
  const client = new ScramClient(RFC.password, { nonce: RFC.clientNonce, username: RFC.user });
  t.equal(client.mechanism, 'SCRAM-SHA-256');
  t.equal(client.clientFirst().toString('latin1'), RFC.clientFirst);
  t.equal(client.handleServerFirst(b(RFC.serverFirst)).toString('latin1'), RFC.clientFinal);
  t.notOk(client.completed);
  client.verifyServerFinal(b(RFC.serverFinal));
  t.ok(client.completed);
});

void t.test('RFC 7677 test vector, server side', async (t) => {
  const server = rfcServer();
  t.same(server.mechanisms, ['SCRAM-SHA-256']);
  t.equal(server.handleClientFirst('SCRAM-SHA-256', b(RFC.clientFirst)).toString('latin1'), RFC.serverFirst);
  t.notOk(server.completed);
  t.equal(server.handleClientFinal(b(RFC.clientFinal)).toString('latin1'), RFC.serverFinal);
  t.ok(server.completed);
});

void t.test('default client-first is n,,n=,r=<18 random bytes in base64>', async (t) => {
  const first = new ScramClient('x').clientFirst().toString('latin1');
  t.match(first, /^n,,n=,r=[A-Za-z0-9+/]{24}$/);
  t.not(first, new ScramClient('x').clientFirst().toString('latin1'));
  const serverFirst = new ScramServer('u', rfcSecret()).handleClientFirst('SCRAM-SHA-256', b('n,,n=,r=abc')).toString('latin1');
  t.match(serverFirst, /^r=abc[A-Za-z0-9+/]{24},s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096$/);
});

void t.test('client and server agree for random passwords, including non-ASCII', async (t) => {
  const pools = [
    'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789 !"#$%&\'()*+,-./:;<=>?@[\\]^_`{|}~=',
    'äöüßéèçñøåÆŒ€£¥©®µ¶',
    'ｐｅｎｃｉｌＡＢＣ１２３ﬁﬂ\u00a0\u2003\u00ad\u200b',
    '日本語中文한국어ελληνικάкириллица',
    '\u{1f600}\u{1f680}\u{10348}\u{1d11e}',
  ];
  for (let i = 0; i < 40; i++) {
    const len = randomInt(1, 24);
    let password = '';
    for (let j = 0; j < len; j++) {
      // Every fifth password is pure ASCII; the others mix characters from all pools.
      const pool = Array.from(pools[i % 5 === 0 ? 0 : randomInt(pools.length)] ?? '');
      password += pool[randomInt(pool.length)] ?? 'x';
    }
    const secret = scramSecretFromPassword(password, randomBytes(16), randomInt(1, 2048));
    const server = new ScramServer('alice', secret);
    const client = new ScramClient(password);
    const serverFinal = server.handleClientFinal(client.handleServerFirst(server.handleClientFirst(client.mechanism, client.clientFirst())));
    client.verifyServerFinal(serverFinal);
    t.ok(client.completed && server.completed, `round trip ${i} (length ${len})`);
  }
});

void t.test('passwords equal under SASLprep are the same password', async (t) => {
  const secret = scramSecretFromPassword('ｐｅｎｃｉｌ', randomBytes(16), 64);
  const server = new ScramServer('alice', secret);
  const client = new ScramClient('pencil');
  client.verifyServerFinal(server.handleClientFinal(client.handleServerFirst(server.handleClientFirst('SCRAM-SHA-256', client.clientFirst()))));
  t.ok(client.completed);
  t.equal(saslprep('ascii\u0007stays'), 'ascii\u0007stays', 'pure ASCII is never touched');
  t.equal(saslprep('ｐｅｎ\u00a0ｃｉｌ\u00ad'), 'pen cil');
});

void t.test('wrong password fails with 28P01 and never reveals the password', async (t) => {
  const password = 'correct horse battery staple';
  const wrong = 'Tr0ub4dor&3-wrong';
  const server = new ScramServer('alice', scramSecretFromPassword(password, randomBytes(16), 128));
  const client = new ScramClient(wrong);
  const final = client.handleServerFirst(server.handleClientFirst('SCRAM-SHA-256', client.clientFirst()));
  const proof = /p=([^,]+)$/.exec(final.toString('latin1'))?.[1] ?? 'missing';
  const err = throwsCode(t, () => server.handleClientFinal(final), '28P01', 'wrong password');
  t.ok(err);
  if (err !== undefined) {
    t.equal(err.severity, 'FATAL');
    t.equal(err.message, 'password authentication failed for user "alice"');
    t.equal(err.fields.detail, 'authentication method: SCRAM-SHA-256');
    const everything = `${err.message} ${JSON.stringify(err.fields)} ${String(err.stack)}`;
    for (const secret of [password, wrong, proof]) t.notOk(everything.includes(secret), 'no secret in the error');
  }
  t.notOk(server.completed);
  throwsCode(t, () => server.handleClientFinal(final), '08P01', 'no second attempt after a failure');
  t.notOk(inspect(client, { showHidden: true, depth: 5 }).includes(wrong), 'inspecting the client does not show its password');
  t.notOk(inspect(server, { showHidden: true, depth: 5 }).includes(password));
});

void t.test('server state machine', async (t) => {
  throwsCode(t, () => rfcServer().handleClientFinal(b(RFC.clientFinal)), '08P01', 'final before first');

  const twice = rfcServer();
  twice.handleClientFirst('SCRAM-SHA-256', b(RFC.clientFirst));
  throwsCode(t, () => twice.handleClientFirst('SCRAM-SHA-256', b(RFC.clientFirst)), '08P01', 'second client-first');
  throwsCode(t, () => twice.handleClientFinal(b(RFC.clientFinal)), '08P01', 'any step after a failure');

  const replay = rfcServer();
  replay.handleClientFirst('SCRAM-SHA-256', b(RFC.clientFirst));
  replay.handleClientFinal(b(RFC.clientFinal));
  throwsCode(t, () => replay.handleClientFinal(b(RFC.clientFinal)), '08P01', 'replayed final');
  t.notOk(replay.completed, 'a protocol violation after success ends the exchange');

  const otherSession = rfcServer();
  otherSession.handleClientFirst('SCRAM-SHA-256', b('n,,n=user,r=someOtherNonce'));
  throwsCode(t, () => otherSession.handleClientFinal(b(RFC.clientFinal)), '08P01', 'final replayed into another exchange (wrong nonce)');

  throwsCode(t, () => rfcServer().handleClientFirst('SCRAM-SHA-256-PLUS', b(RFC.clientFirst)), '08P01', 'mechanism not offered');
  throwsCode(t, () => rfcServer().handleClientFirst('SCRAM-SHA-1', b(RFC.clientFirst)), '08P01', 'unknown mechanism');
});

void t.test('client-first: every truncation, garbage and unsupported features give 08P01', async (t) => {
  // A truncation that still carries a nonce is a well-formed client-first with a different nonce, so
  // the exchange must fail at the final instead; either way it ends in a 08P01, never in success.
  for (let n = 0; n < RFC.clientFirst.length; n++) {
    const server = rfcServer();
    throwsCode(
      t,
      () => {
        server.handleClientFirst('SCRAM-SHA-256', b(RFC.clientFirst.slice(0, n)));
        server.handleClientFinal(b(RFC.clientFinal));
      },
      '08P01',
      `client-first truncated to ${n} bytes`,
    );
  }
  const bad: [string, string][] = [
    ['p=tls-server-end-point,,n=,r=abc', 'channel binding requested'],
    ['p,,n=,r=abc', 'channel binding flag without a type'],
    ['x,,n=,r=abc', 'unknown channel binding flag'],
    ['n,a=admin,n=,r=abc', 'authorization identity'],
    ['n,x,n=,r=abc', 'junk instead of authzid'],
    ['n,,m=ext,n=,r=abc', 'mandatory extension'],
    ['n,,r=abc', 'missing username'],
    ['n,,n=user', 'missing nonce'],
    ['n,,n=user,', 'empty nonce attribute'],
    ['n,,n=user,r=', 'empty nonce'],
    ['n,,n=user,r=a\x7fb', 'non-printable nonce'],
    ['n,,n=user,r=\u00e9', 'non-ASCII nonce'],
    ['n,,n=user,r=abc,', 'trailing comma'],
    ['n,,n=user,r=abc,1=x', 'bad extension name'],
    ['n,,n=user,r=abc,zz', 'extension without "="'],
    ['n,,n=user,r=ab\0c', 'zero byte'],
    ['N,,n=user,r=abc', 'upper-case flag'],
    [',,n=user,r=abc', 'missing flag'],
  ];
  for (const [message, what] of bad) throwsCode(t, () => rfcServer().handleClientFirst('SCRAM-SHA-256', b(message)), '08P01', what);
  for (let i = 0; i < 200; i++) {
    const garbage = randomBytes(randomInt(0, 64));
    if (garbage[0] === 0x6e || garbage[0] === 0x79) garbage[0] = 0x21; // never start with 'n'/'y'
    throwsCode(t, () => rfcServer().handleClientFirst('SCRAM-SHA-256', garbage), '08P01', `garbage client-first ${i}`);
  }
  const withExtension = rfcServer();
  withExtension.handleClientFirst('SCRAM-SHA-256', b('n,,n=ignored,r=abc,x=optional'));
  t.pass('optional extensions in client-first are ignored, as Postgres does');
});

void t.test('client-final: every truncation, garbage, wrong nonce and channel binding give 08P01', async (t) => {
  const afterFirst = (): ScramServer => {
    const server = rfcServer();
    server.handleClientFirst('SCRAM-SHA-256', b(RFC.clientFirst));
    return server;
  };
  for (let n = 0; n < RFC.clientFinal.length; n++) {
    throwsCode(t, () => afterFirst().handleClientFinal(b(RFC.clientFinal.slice(0, n))), '08P01', `client-final truncated to ${n} bytes`);
  }
  const nonce = `${RFC.clientNonce}${RFC.serverNonce}`;
  const proof = 'dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=';
  const bad: [string, string][] = [
    [`c=biws,r=${nonce}x,p=${proof}`, 'nonce with a suffix'],
    [`c=biws,r=${RFC.clientNonce},p=${proof}`, 'client nonce only'],
    [`c=biws,r=${nonce.slice(0, -1)}X,p=${proof}`, 'wrong nonce'],
    [`c=eSws,r=${nonce},p=${proof}`, 'binding data "y,," after a "n,," client-first'],
    [`c=cD10bHMtdW5pcXVlLCw=,r=${nonce},p=${proof}`, 'binding data "p=tls-unique,,"'],
    [`c=biws!,r=${nonce},p=${proof}`, 'binding data not base64'],
    [`c=,r=${nonce},p=${proof}`, 'empty binding data'],
    [`r=${nonce},c=biws,p=${proof}`, 'attributes out of order'],
    [`c=biws,r=${nonce}`, 'missing proof'],
    [`c=biws,r=${nonce},p=${proof},x=1`, 'attribute after the proof'],
    [`c=biws,r=${nonce},p=${proof.slice(0, -4)}`, 'short proof'],
    [`c=biws,r=${nonce},p=${proof}AAAA`, 'long proof'],
    [`c=biws,r=${nonce},p=${proof.replace('+', '-')}`, 'proof not base64'],
    [`c=biws,r=${nonce},p=${proof}\0`, 'zero byte'],
    [`c=biws,r=${nonce},,p=${proof}`, 'empty attribute'],
  ];
  for (const [message, what] of bad) throwsCode(t, () => afterFirst().handleClientFinal(b(message)), '08P01', what);
  for (let i = 0; i < 200; i++) {
    throwsCode(t, () => afterFirst().handleClientFinal(randomBytes(randomInt(0, 160))), '08P01', `garbage client-final ${i}`);
  }
  const ext = afterFirst();
  // The extension is part of the AuthMessage, so the RFC proof no longer matches: 28P01, not 08P01.
  throwsCode(t, () => ext.handleClientFinal(b(`c=biws,r=${nonce},x=ext,p=${proof}`)), '28P01', 'extensions before the proof are accepted');
});

void t.test('GS2 "y,," is accepted with matching binding data', async (t) => {
  const secret = scramSecretFromPassword('pw', randomBytes(16), 32);
  const server = new ScramServer('u', secret);
  const clientFirstBare = 'n=,r=clientNonce';
  const serverFirst = server.handleClientFirst('SCRAM-SHA-256', b(`y,,${clientFirstBare}`)).toString('latin1');
  const final = clientFinalFor('pw', secret.salt, secret.iterations, clientFirstBare, serverFirst, 'y,,');
  t.match(final, /^c=eSws,/);
  t.match(server.handleClientFinal(b(final)).toString('latin1'), /^v=[A-Za-z0-9+/]{43}=$/);
  t.ok(server.completed);

  const mismatch = new ScramServer('u', secret);
  const sf = mismatch.handleClientFirst('SCRAM-SHA-256', b(`y,,${clientFirstBare}`)).toString('latin1');
  const wrongBinding = clientFinalFor('pw', secret.salt, secret.iterations, clientFirstBare, sf, 'n,,');
  throwsCode(t, () => mismatch.handleClientFinal(b(wrongBinding)), '08P01', '"n,," binding data after a "y,," client-first');
});

void t.test('the username in client-first is ignored; the startup user is reported', async (t) => {
  const secret = scramSecretFromPassword('pw', randomBytes(16), 32);
  const server = new ScramServer('startup_user', secret);
  const client = new ScramClient('wrong', { username: 'someone,else=x' });
  const first = client.clientFirst().toString('latin1');
  t.equal(first.split(',r=')[0], 'n,,n=someone=2Celse=3Dx', 'client escapes "," and "=" in the username');
  const final = client.handleServerFirst(server.handleClientFirst('SCRAM-SHA-256', b(first)));
  const err = throwsCode(t, () => server.handleClientFinal(final), '28P01', 'wrong password');
  t.equal(err?.message, 'password authentication failed for user "startup_user"');
});

void t.test('client rejects bad server messages with 08006', async (t) => {
  const client = (): ScramClient => {
    const c = new ScramClient(RFC.password, { nonce: RFC.clientNonce, username: RFC.user });
    c.clientFirst();
    return c;
  };
  const nonce = `${RFC.clientNonce}${RFC.serverNonce}`;
  const bad: [string, string][] = [
    [`r=${RFC.clientNonce},s=${RFC.salt},i=4096`, 'server added no nonce'],
    [`r=XXX${RFC.serverNonce},s=${RFC.salt},i=4096`, 'nonce not starting with the client nonce'],
    [`r=${nonce},s=${RFC.salt},i=0`, 'zero iterations'],
    [`r=${nonce},s=${RFC.salt},i=1000001`, 'absurd iteration count'],
    [`r=${nonce},s=${RFC.salt},i=99999999999999999999`, 'huge iteration count'],
    [`r=${nonce},s=${RFC.salt},i=-1`, 'negative iterations'],
    [`r=${nonce},s=${RFC.salt},i=4096x`, 'iterations not a number'],
    [`r=${nonce},s=${RFC.salt},i=`, 'empty iterations'],
    [`r=${nonce},s=${RFC.salt}`, 'missing iterations'],
    [`r=${nonce},i=4096`, 'missing salt'],
    [`r=${nonce},s=,i=4096`, 'empty salt'],
    [`r=${nonce},s=not base64!,i=4096`, 'salt not base64'],
    [`s=${RFC.salt},i=4096`, 'missing nonce'],
    [`m=ext,r=${nonce},s=${RFC.salt},i=4096`, 'mandatory extension'],
    [`r=${nonce},s=${RFC.salt},i=4096,x=1`, 'trailing attribute'],
    ['e=other-error', 'error instead of server-first'],
    ['', 'empty'],
  ];
  for (const [message, what] of bad) {
    const err = throwsCode(t, () => client().handleServerFirst(b(message)), '08006', what);
    t.match(err?.message ?? '', /: SCRAM: /);
  }
  for (let n = 0; n < RFC.serverFirst.length; n++) {
    const truncated = RFC.serverFirst.slice(0, n);
    if (/,i=[0-9]+$/.test(truncated)) {
      t.ok(client().handleServerFirst(b(truncated)), `truncated to ${n} bytes is still well-formed (fewer iterations)`);
    } else {
      throwsCode(t, () => client().handleServerFirst(b(truncated)), '08006', `server-first truncated to ${n} bytes`);
    }
  }
  for (let i = 0; i < 100; i++) throwsCode(t, () => client().handleServerFirst(randomBytes(randomInt(0, 100))), '08006', `garbage ${i}`);

  throwsCode(t, () => new ScramClient('x').handleServerFirst(b(RFC.serverFirst)), '08006', 'server-first before client-first');
  const early = client();
  throwsCode(t, () => early.verifyServerFinal(b(RFC.serverFinal)), '08006', 'server-final before server-first');
  const twice = new ScramClient('x');
  twice.clientFirst();
  throwsCode(t, () => twice.clientFirst(), '08006', 'second clientFirst()');
});

void t.test('client verifies the server signature', async (t) => {
  const atFinal = (): ScramClient => {
    const c = new ScramClient(RFC.password, { nonce: RFC.clientNonce, username: RFC.user, node: 'shard1' });
    c.clientFirst();
    c.handleServerFirst(b(RFC.serverFirst));
    return c;
  };
  const flipped = Buffer.from(RFC.serverFinal.slice(2), 'base64');
  flipped[0] = (flipped[0] ?? 0) ^ 1;
  const cases: [string, string][] = [
    [`v=${flipped.toString('base64')}`, 'wrong signature'],
    ['e=invalid-proof', 'server error'],
    ['e=other-error', 'server error'],
    ['v=', 'empty signature'],
    ['v=AAAA', 'short signature'],
    [`${RFC.serverFinal},x=1`, 'trailing attribute'],
    [`x${RFC.serverFinal}`, 'garbage'],
    ['', 'empty'],
  ];
  for (const [message, what] of cases) {
    const c = atFinal();
    const err = throwsCode(t, () => c.verifyServerFinal(b(message)), '08006', what);
    t.match(err?.message ?? '', /^could not connect to server shard1: SCRAM: /);
    t.notOk(err?.message.includes(RFC.password));
    t.notOk(c.completed);
  }
  const e = throwsCode(t, () => atFinal().verifyServerFinal(b('e=invalid-proof')), '08006', 'server error is reported');
  t.match(e?.message ?? '', /invalid-proof/);
  for (let n = 0; n < RFC.serverFinal.length; n++) {
    throwsCode(t, () => atFinal().verifyServerFinal(b(RFC.serverFinal.slice(0, n))), '08006', `server-final truncated to ${n} bytes`);
  }
  const ok = atFinal();
  ok.verifyServerFinal(b(RFC.serverFinal));
  t.ok(ok.completed);
  throwsCode(t, () => ok.verifyServerFinal(b(RFC.serverFinal)), '08006', 'server-final twice');
});

void t.test('verifier parse/format', async (t) => {
  for (let i = 0; i < 20; i++) {
    const secret = scramSecretFromPassword(randomBytes(8).toString('hex'), randomBytes(randomInt(1, 33)), randomInt(1, 64));
    const text = formatScramVerifier(secret);
    t.same(parseScramVerifier(text), secret, `round trip ${i}`);
    t.equal(formatScramVerifier(parseScramVerifier(text) as ScramSecret), text);
  }
  const literal = POSTGRES_VERIFIERS[0]?.[2] ?? '';
  const parsed = parseScramVerifier(literal);
  t.ok(parsed);
  t.equal(parsed?.iterations, 4096);
  t.equal(parsed?.salt.toString('hex'), 'd7927c6d550bf12039eb5a34088985e8');
  t.equal(parsed?.storedKey.toString('base64'), 'M49XbQzYUwOlyg/BmRZiySeI+bW3Lzht2lgJxe5Xp/Q=');
  t.equal(parsed?.serverKey.toString('base64'), 'GUySrlApRobVjnXHoTTeTSmqiiOFA73ATXI+xhn3Avo=');

  const [, , stored, server] = /^SCRAM-SHA-256\$4096:([^$]+)\$([^:]+):(.+)$/.exec(literal) ?? [];
  const notVerifiers = [
    '',
    'pencil',
    'md553f48b7c4b76a86ce72276c5755f217d',
    literal.replace('SCRAM-SHA-256', 'SCRAM-SHA-1'),
    literal.replace('$4096:', '$0:'),
    literal.replace('$4096:', '$-1:'),
    literal.replace('$4096:', '$:'),
    literal.replace('$4096:', '$99999999999:'),
    literal.replace('$4096:', '$4096'),
    literal.replace('15J8bVUL8SA561o0CImF6A==', ''),
    literal.replace('15J8bVUL8SA561o0CImF6A==', '15J8bVUL8SA561o0CImF6A='),
    literal.replace('15J8bVUL8SA561o0CImF6A==', '15J8bVUL 8SA561o0CImF6A=='),
    literal.replace(stored ?? '?', 'AAAA'),
    literal.replace(server ?? '?', `${server ?? ''}AAAA`),
    literal.replace(`:${server ?? '?'}`, ''),
    `${literal}$`,
    `${literal}\n`,
    ` ${literal}`,
  ];
  for (const text of notVerifiers) t.equal(parseScramVerifier(text), null, `not a verifier: ${JSON.stringify(text.slice(0, 40))}`);
});

void t.test('derivation reproduces verifiers made by PostgreSQL 15', async (t) => {
  for (const [what, password, verifier] of POSTGRES_VERIFIERS) {
    const parsed = parseScramVerifier(verifier);
    if (parsed === null) {
      t.fail(`unparsable: ${what}`);
      continue;
    }
    t.equal(formatScramVerifier(scramSecretFromPassword(password, parsed.salt, parsed.iterations)), verifier, what);
  }
});

void t.test('a PostgreSQL verifier authenticates a ScramClient with the password', async (t) => {
  for (const [what, password, verifier] of POSTGRES_VERIFIERS.slice(0, 3)) {
    const secret = parseScramVerifier(verifier);
    if (secret === null) {
      t.fail(what);
      continue;
    }
    const server = new ScramServer('u', secret);
    const client = new ScramClient(password);
    client.verifyServerFinal(server.handleClientFinal(client.handleServerFirst(server.handleClientFirst('SCRAM-SHA-256', client.clientFirst()))));
    t.ok(client.completed && server.completed, what);
  }
});

void t.test('scramSecretFromPassword defaults and argument checks', async (t) => {
  const secret = scramSecretFromPassword('pencil');
  t.equal(secret.iterations, 4096);
  t.equal(secret.salt.length, 16);
  t.equal(secret.storedKey.length, 32);
  t.equal(secret.serverKey.length, 32);
  t.not(scramSecretFromPassword('pencil').salt.toString('hex'), secret.salt.toString('hex'), 'random salt');
  t.same(rfcSecret(), scramSecretFromPassword(RFC.password, Buffer.from(RFC.salt, 'base64'), 4096), 'deterministic for a given salt');
  t.throws(() => scramSecretFromPassword('x', randomBytes(16), 0), RangeError);
  t.throws(() => scramSecretFromPassword('x', randomBytes(16), 1.5), RangeError);
  t.throws(() => scramSecretFromPassword('x', Buffer.alloc(0)), RangeError);
  t.throws(() => new ScramServer('u', secret, { nonce: 'has,comma' }), RangeError);
  t.throws(() => new ScramClient('x', { nonce: '' }), RangeError);
});
