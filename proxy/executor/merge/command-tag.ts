// The one CommandComplete tag a client gets for a statement that ran on several shards. Row counts
// add up for the commands that report one (SELECT n, INSERT 0 n, UPDATE n, DELETE n, COPY n,
// MERGE n); every other tag (CREATE TABLE, SET, BEGIN, and FETCH n / MOVE n, whose per-shard
// counts have no single-database meaning) must be the same on every shard. Owns tag arithmetic only; a scatter SELECT's count
// comes from the rows actually sent (MergeStream.rowsEmitted), not from the shards' tags.
// Reference: https://www.postgresql.org/docs/15/protocol-message-formats.html (CommandComplete)

import { ProxyError } from '../../errors.js';

/** Commands whose tag ends with a row count, and the words before the count. */
const COUNTED = /^(SELECT|INSERT 0|UPDATE|DELETE|COPY|MERGE) (\d+)$/;
/** INSERT's legacy OID word: PostgreSQL 12+ always sends 0, older servers an OID for one-row inserts. */
const INSERT_WITH_OID = /^INSERT (\d+) (\d+)$/;

function parse(tag: string): { command: string; rows: bigint } | null {
  const m = COUNTED.exec(tag);
  if (m !== null) return { command: m[1]!, rows: BigInt(m[2]!) };
  const insert = INSERT_WITH_OID.exec(tag);
  if (insert !== null) return { command: 'INSERT 0', rows: BigInt(insert[2]!) };
  return null;
}

/** The merged tag of several shards' tags (at least one). Throws XX000 when the shards disagree. */
export function mergeCommandTags(tags: readonly string[]): string {
  const first = tags[0];
  if (first === undefined) throw ProxyError.internal('no command tag to merge');
  const counted = parse(first);
  if (counted === null) {
    for (const tag of tags) {
      if (tag !== first) throw disagree(first, tag);
    }
    return first;
  }
  let rows = 0n;
  for (const tag of tags) {
    const p = parse(tag);
    if (p === null || p.command !== counted.command) throw disagree(first, tag);
    rows += p.rows;
  }
  return `${counted.command} ${rows}`;
}

/** The tag of a row-returning command that sent `rows` rows (the scatter SELECT's final tag). */
export function selectTag(rows: number): string {
  return `SELECT ${rows}`;
}

function disagree(a: string, b: string): ProxyError {
  return ProxyError.internal(`shards answered one statement with different command tags: "${a}" and "${b}"`);
}
