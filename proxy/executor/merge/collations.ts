// The text order of an explicit `COLLATE name` in a merged ORDER BY (or min/max argument): which of
// PostgreSQL's collations the merge can reproduce. Owns the name → TextOrder mapping only.
// - "C", "POSIX", "ucs_basic" (and libc's "C.utf8"): UTF-8 byte order, which is exactly their order
//   (ucs_basic sorts by code point, which UTF-8 bytes preserve);
// - "default": the database's own order (as without COLLATE);
// - ICU collations "<locale>-x-icu" ("und-x-icu", "de-x-icu", "sv-x-icu", "de-AT-x-icu"...): the
//   ICU collator built into Node.js for that locale with ICU's default strength, ties broken by code
//   point as PostgreSQL does for deterministic collations. Node's ICU may be a newer version than the
//   server's; the orders agree except for characters whose collation ICU changed between versions.
// Anything else (libc locales such as "en_US", nondeterministic or custom collations) is refused
// with 0A000: glibc's orders cannot be reproduced exactly, and a wrong order must not pass silently.
// Reference: https://www.postgresql.org/docs/15/collation.html

import { ProxyError } from '../../errors.js';
import type { TextOrder } from './value-types.js';

const BYTE_ORDERED: ReadonlySet<string> = new Set(['C', 'POSIX', 'ucs_basic', 'C.utf8', 'C.UTF-8']);

export function collationTextOrder(name: string, databaseOrder: TextOrder): TextOrder {
  if (BYTE_ORDERED.has(name)) return 'bytes';
  if (name === 'default') return databaseOrder;
  const icu = /^([A-Za-z]{2,8}(?:-[A-Za-z0-9]{1,8})*)-x-icu$/.exec(name);
  if (icu !== null) {
    const locale = icu[1]!;
    // "und" is ICU's root collation; Intl resolves "und" to the runtime's default locale instead,
    // so take English, whose collation is the root one without tailoring.
    if (locale === 'und') return { locale: 'en' };
    try {
      if (Intl.Collator.supportedLocalesOf([locale]).length > 0) return { locale };
    } catch {
      // An invalid language tag: refused below.
    }
  }
  throw ProxyError.unsupported(
    `cannot merge text ordered by collation "${name}" from several shards`,
    'pgshard merges text ordered by "C", "POSIX", "ucs_basic", ICU collations ("und-x-icu", "de-x-icu", ...) and the database default; use one of them in COLLATE, or run the query on one shard (SET pgshard.shard = n).',
  );
}
