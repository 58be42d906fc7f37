// PostgreSQL's MD5 password authentication. pg_authid stores 'md5' + hex(md5(password + user)); the
// server sends a 4-byte random salt and the client answers 'md5' + hex(md5(hex-part + salt)). Weak by
// design (the stored hash is a password equivalent); supported for compatibility with existing roles.

import { createHash, timingSafeEqual } from 'node:crypto';

const MD5_HASH = /^md5[0-9a-f]{32}$/;

function md5Hex(...parts: Buffer[]): string {
  const hash = createHash('md5');
  for (const part of parts) hash.update(part);
  return hash.digest('hex');
}

/** True when `text` is a stored MD5 hash ('md5' + 32 lowercase hex digits), as Postgres decides it. */
export function isMd5PasswordHash(text: string): boolean {
  return MD5_HASH.test(text);
}

/** What Postgres stores for `user`'s `password` under password_encryption = md5. */
export function md5PasswordHash(user: string, password: string): string {
  return `md5${md5Hex(Buffer.from(password, 'utf8'), Buffer.from(user, 'utf8'))}`;
}

/**
 * The PasswordMessage a client sends for AuthenticationMD5Password with `salt`. `passwordOrHash` is
 * either the plaintext password or an already stored 'md5…' hash (a plaintext password that happens to
 * look exactly like such a hash is taken as the hash, which is also what Postgres does).
 */
export function md5Response(user: string, passwordOrHash: string, salt: Buffer): string {
  const stored = isMd5PasswordHash(passwordOrHash) ? passwordOrHash : md5PasswordHash(user, passwordOrHash);
  return `md5${md5Hex(Buffer.from(stored.slice(3), 'ascii'), salt)}`;
}

/** Checks a client's MD5 response in constant time (for responses of the expected length). */
export function verifyMd5Response(user: string, passwordOrHash: string, salt: Buffer, response: string): boolean {
  const expected = Buffer.from(md5Response(user, passwordOrHash, salt), 'ascii');
  const actual = Buffer.from(response, 'utf8');
  if (actual.length !== expected.length) {
    timingSafeEqual(expected, expected); // same work as a same-length mismatch
    return false;
  }
  return timingSafeEqual(actual, expected);
}
