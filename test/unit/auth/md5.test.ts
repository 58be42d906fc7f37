import t from 'tap';
import { createHash, randomBytes } from 'node:crypto';
import { isMd5PasswordHash, md5PasswordHash, md5Response, verifyMd5Response } from '../../../proxy/session/auth/index.js';

// pg_authid.rolpassword values produced by PostgreSQL 15.x with password_encryption = 'md5'.
const POSTGRES_HASHES: [user: string, password: string, stored: string][] = [
  ['postgres', 'secret', 'md553f48b7c4b76a86ce72276c5755f217d'],
  ['postgres2', 'secret', 'md5a99489f2ba8d41137689bf5947f835e0'],
  ['m1', 'secret', 'md5132ecbcbfa11be529b63ea4c4e734056'],
  ['m2', 'pässwörd', 'md59863bf768cd93cc984f0d413a6d4138e'],
];

void t.test('md5PasswordHash reproduces what PostgreSQL stores', async (t) => {
  for (const [user, password, stored] of POSTGRES_HASHES) t.equal(md5PasswordHash(user, password), stored, `${user}`);
  t.match(md5PasswordHash('', ''), /^md5[0-9a-f]{32}$/);
});

void t.test('md5Response: known values (computed independently with Python hashlib)', async (t) => {
  t.equal(md5Response('postgres', 'secret', Buffer.from([1, 2, 3, 4])), 'md5bb41a296aab6baccb36ff243a562abff');
  t.equal(md5Response('m2', 'pässwörd', Buffer.from([0xde, 0xad, 0xbe, 0xef])), 'md50bf3025d2361d0460aa674c281348216');
  // The definition, spelled out: md5(hex(md5(password || user)) || salt).
  const salt = randomBytes(4);
  const inner = createHash('md5').update('hunter2alice').digest('hex');
  const outer = createHash('md5').update(Buffer.concat([Buffer.from(inner), salt])).digest('hex');
  t.equal(md5Response('alice', 'hunter2', salt), `md5${outer}`);
});

void t.test('an already-hashed password is used as the stored hash', async (t) => {
  const salt = randomBytes(4);
  for (const [user, password, stored] of POSTGRES_HASHES) {
    t.equal(md5Response(user, stored, salt), md5Response(user, password, salt), `${user}: hash form`);
    t.ok(verifyMd5Response(user, stored, salt, md5Response(user, password, salt)), `${user}: verify against the stored hash`);
    t.ok(verifyMd5Response(user, password, salt, md5Response(user, stored, salt)), `${user}: verify against the password`);
  }
  t.ok(isMd5PasswordHash('md553f48b7c4b76a86ce72276c5755f217d'));
  t.notOk(isMd5PasswordHash('md553F48B7C4B76A86CE72276C5755F217D'), 'upper-case hex is a plaintext password, as in Postgres');
  t.notOk(isMd5PasswordHash('md553f48b7c4b76a86ce72276c5755f217'), '34 characters');
  t.notOk(isMd5PasswordHash('md553f48b7c4b76a86ce72276c5755f217dd'), '36 characters');
  t.notOk(isMd5PasswordHash('xx553f48b7c4b76a86ce72276c5755f217d'));
  t.notOk(isMd5PasswordHash('SCRAM-SHA-256$4096:abc$def:ghi'));
  const upper = 'md553F48B7C4B76A86CE72276C5755F217D';
  t.equal(md5Response('u', upper, Buffer.alloc(4)), md5Response('u', md5PasswordHash('u', upper), Buffer.alloc(4)));
});

void t.test('verifyMd5Response', async (t) => {
  const salt = randomBytes(4);
  const good = md5Response('alice', 'hunter2', salt);
  t.ok(verifyMd5Response('alice', 'hunter2', salt, good));
  t.notOk(verifyMd5Response('alice', 'hunter3', salt, good), 'wrong password');
  t.notOk(verifyMd5Response('bob', 'hunter2', salt, good), 'other user (the user name is salt)');
  const otherSalt = Buffer.from(salt);
  otherSalt[0] = (otherSalt[0] ?? 0) ^ 1;
  t.notOk(verifyMd5Response('alice', 'hunter2', otherSalt, good), 'other salt (no replay)');
  t.notOk(verifyMd5Response('alice', 'hunter2', salt, good.toUpperCase()), 'case matters');
  t.notOk(verifyMd5Response('alice', 'hunter2', salt, good.slice(3)), 'without the md5 prefix');
  t.notOk(verifyMd5Response('alice', 'hunter2', salt, `${good}0`), 'too long');
  t.notOk(verifyMd5Response('alice', 'hunter2', salt, ''), 'empty');
  t.notOk(verifyMd5Response('alice', 'hunter2', salt, 'hunter2'), 'plaintext password is not a response');
  t.notOk(verifyMd5Response('alice', 'hunter2', salt, `${good.slice(0, 34)}é`), 'non-ASCII of the same length in characters');
  t.notOk(verifyMd5Response('alice', 'hunter2', salt, md5PasswordHash('alice', 'hunter2')), 'the stored hash itself is not a response');
});
