// docs/sqlstate.md is the contract for the proxy's own errors: every code in proxy/errors.ts must be
// documented there exactly once, valid, and mean one thing.
import t from 'tap';
import { readFileSync } from 'node:fs';
import { SqlState, ProxyError, errorResponseFrame } from '../../proxy/errors.js';
import { decodeErrorFields } from '../../proxy/protocol/backend-messages.js';

const doc = readFileSync(new URL('../../docs/sqlstate.md', import.meta.url), 'utf8');
const documented = [...doc.matchAll(/^\| `([0-9A-Z]{5})` \|/gm)].map((m) => m[1]!);

void t.test('every proxy SQLSTATE is valid, unique and documented once', async (t) => {
  const codes = Object.values(SqlState);
  t.equal(new Set(codes).size, codes.length, 'no two names share a code');
  for (const code of codes) {
    t.match(code, /^[0-9A-Z]{5}$/, `${code} has the SQLSTATE shape`);
    t.notMatch(code, /^00/, `${code} is not a success class`);
    t.equal(documented.filter((d) => d === code).length, 1, `${code} is in docs/sqlstate.md once`);
  }
  t.equal(documented.length, codes.length, 'the doc lists no code the proxy does not have');
});

void t.test('no ProxyError is built with a code outside the table', async (t) => {
  const known = new Set<string>(Object.values(SqlState));
  const samples = [
    ProxyError.protocolViolation('x'), ProxyError.passwordFailed('u', 'md5'), ProxyError.noSuchUser('u'),
    ProxyError.notAuthorized('x'), ProxyError.unknownDatabase('d'), ProxyError.tooManyClients(1),
    ProxyError.poolTimeout('n', 1), ProxyError.backendUnavailable('n', 'r'), ProxyError.backendLost('n'),
    ProxyError.canceled(), ProxyError.shuttingDown(), ProxyError.unsupported('x'), ProxyError.limitExceeded('x'),
    ProxyError.adminSyntax('x'), ProxyError.duplicatePreparedStatement('s'),
    ProxyError.unknownPreparedStatement('s'), ProxyError.internal('x'),
    ProxyError.adminUnknownDatabase('d', ['a']), ProxyError.duplicateRule('x'), ProxyError.undefinedShard('x'),
    ProxyError.ruleValueMismatch('x'), ProxyError.invalidRule('x'), ProxyError.stateWriteFailed('x'),
  ];
  for (const e of samples) t.ok(known.has(e.sqlstate), `${e.sqlstate} (${e.message}) is documented`);
});

void t.test('ErrorResponse frames carry severity, code, message, detail and hint', async (t) => {
  const err = new ProxyError(SqlState.tooManyConnections, 'no room', 'ERROR', { detail: 'd', hint: 'h' });
  const frame = errorResponseFrame(err);
  t.equal(frame[0], 0x45);
  t.equal(frame.readInt32BE(1), frame.length - 1);
  const fields = decodeErrorFields(frame, 0, frame.length);
  t.strictSame(Object.fromEntries(fields), { S: 'ERROR', V: 'ERROR', C: '53300', M: 'no room', D: 'd', H: 'h' });
  const fatal = decodeErrorFields(errorResponseFrame(ProxyError.protocolViolation('bad')), 0, errorResponseFrame(ProxyError.protocolViolation('bad')).length);
  t.equal(fatal.get('S'), 'FATAL');
  t.equal(fatal.get('C'), '08P01');
});
