// Checks of one sharded-table rule beyond its shape, and the rule's text form. The config schema checks
// structure (shardedTableSchema) and cross-field basics (shardingIssues); this adds what a placement
// needs to be usable: values that fit the key type, shards that exist, ranges that are not empty and
// do not overlap, list values that appear once. Used by the admin commands (each problem kind has its
// own SQLSTATE there) and by the runtime rules store. Pure: no I/O.

import { parseUuidText } from '../../planner/hash/pg-hash.js';
import type { ShardedTableConfig, ShardKeyTypeName } from '../config/config-types.js';
import { splitRelationName } from './sharding-rules-builder.js';

/** What is wrong: a shard index beyond the database's shards, a value of the wrong type, or a bad placement. */
export type RuleProblemKind = 'undefined-shard' | 'type-mismatch' | 'invalid-definition';

export interface RuleProblem {
  readonly kind: RuleProblemKind;
  /** Path inside the rule, e.g. ['ranges', 1, 'to']. */
  readonly path: readonly (string | number)[];
  readonly message: string;
}

/**
 * The key a rule is found under by the planner: the unqualified relation name (buildShardingRules
 * keys its map by it), so `orders` and `public.orders` are the same table as far as rules go.
 */
export function ruleKey(name: string): string {
  return splitRelationName(name).name;
}

const INTEGER_BOUNDS: Record<'int2' | 'int4' | 'int8', readonly [bigint, bigint]> = {
  int2: [-32768n, 32767n],
  int4: [-2147483648n, 2147483647n],
  int8: [-9223372036854775808n, 9223372036854775807n],
};

export function isIntegerType(type: ShardKeyTypeName | null): type is 'int2' | 'int4' | 'int8' {
  return type === 'int2' || type === 'int4' || type === 'int8';
}

/** An integer as PostgreSQL's int input reads it (surrounding spaces, optional sign). */
const INTEGER_TEXT = /^\s*[+-]?\d+\s*$/;

/** Why `value` cannot be a key of `type`, or undefined when it can. Never throws. */
export function keyValueProblem(value: string | number, type: ShardKeyTypeName): string | undefined {
  if (isIntegerType(type)) {
    if (typeof value === 'number' ? !Number.isSafeInteger(value) : !INTEGER_TEXT.test(value))
      return `${renderValue(value)} is not an integer (the key type is ${type})`;
    const n = BigInt(typeof value === 'number' ? value : value.trim());
    const [min, max] = INTEGER_BOUNDS[type];
    if (n < min || n > max) return `${renderValue(value)} is out of range for ${type} (${min} to ${max})`;
    return undefined;
  }
  if (type === 'uuid') {
    if (typeof value === 'number') return `${renderValue(value)} is not a uuid (the key type is uuid; write it quoted)`;
    try {
      parseUuidText(value);
    } catch {
      return `${renderValue(value)} is not a valid uuid`;
    }
    return undefined;
  }
  if (typeof value === 'string' && value.includes('\u0000')) return `a ${type} value cannot contain the character NUL`;
  return undefined;
}

/**
 * The form a rule stores a valid value in: integers as numbers when a double holds them exactly (else
 * as their digits), text as text, uuids in their standard lower-case form.
 */
export function canonicalValue(value: string | number, type: ShardKeyTypeName): string | number {
  if (isIntegerType(type)) {
    const n = BigInt(typeof value === 'number' ? value : value.trim());
    return n >= BigInt(Number.MIN_SAFE_INTEGER) && n <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(n) : n.toString();
  }
  if (type === 'uuid') {
    const hex = Buffer.from(parseUuidText(String(value))).toString('hex');
    return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
  }
  return String(value);
}

type Comparable = bigint | Buffer;

/** Ordered as the planner orders keys: integers numerically, text by UTF-8 bytes, uuids by their bytes. */
function comparable(value: string | number, type: ShardKeyTypeName): Comparable {
  if (isIntegerType(type)) return BigInt(typeof value === 'number' ? value : value.trim());
  if (type === 'uuid') return Buffer.from(parseUuidText(String(value)));
  return Buffer.from(String(value), 'utf8');
}

function compare(a: Comparable, b: Comparable): number {
  if (typeof a === 'bigint' && typeof b === 'bigint') return a < b ? -1 : a > b ? 1 : 0;
  if (Buffer.isBuffer(a) && Buffer.isBuffer(b)) return Buffer.compare(a, b);
  return 0;
}

// ------------------------------------------------------------------------------------------ text form

/** A value as the admin grammar writes it: integers bare, anything else single-quoted. */
export function renderValue(value: string | number): string {
  return typeof value === 'number' ? String(value) : `'${value.replaceAll("'", "''")}'`;
}

/** `from TO to ON shard`, with MINVALUE / MAXVALUE for unbounded ends. */
export function renderRangePiece(piece: ShardedTableConfig['ranges'][number]): string {
  const from = piece.from === null ? 'MINVALUE' : renderValue(piece.from);
  const to = piece.to === null ? 'MAXVALUE' : renderValue(piece.to);
  return `${from} TO ${to} ON ${piece.shard}`;
}

/** `v1, v2 ON shard` */
export function renderListPiece(piece: ShardedTableConfig['lists'][number]): string {
  return `${piece.values.map(renderValue).join(', ')} ON ${piece.shard}`;
}

// -------------------------------------------------------------------------------------------- checks

/**
 * Every problem of a sharded-table rule that already has the config's shape. `shardCount` null skips
 * the shard-index check (a rules file read before the config says how many shards there are).
 */
export function checkRule(rule: ShardedTableConfig, shardCount: number | null): RuleProblem[] {
  const problems: RuleProblem[] = [];
  const type = rule.type;
  const checkShard = (shard: number, path: (string | number)[]) => {
    if (shardCount !== null && shard >= shardCount)
      problems.push({
        kind: 'undefined-shard',
        path,
        message: `shard ${shard} does not exist (the database has ${shardCount} shard${shardCount === 1 ? '' : 's'}, numbered from 0)`,
      });
  };
  let valuesOk = true;
  const checkValue = (value: string | number | null, path: (string | number)[]) => {
    if (value === null || type === null) return;
    const message = keyValueProblem(value, type);
    if (message === undefined) return;
    valuesOk = false;
    problems.push({ kind: 'type-mismatch', path, message });
  };

  if (rule.method !== 'hash' && type === null)
    problems.push({ kind: 'invalid-definition', path: ['type'], message: `a ${rule.method} rule needs the key type (bounds and values are compared by type)` });

  rule.ranges.forEach((piece, i) => {
    checkValue(piece.from, ['ranges', i, 'from']);
    checkValue(piece.to, ['ranges', i, 'to']);
    checkShard(piece.shard, ['ranges', i, 'shard']);
  });
  rule.lists.forEach((piece, i) => {
    piece.values.forEach((v, j) => checkValue(v, ['lists', i, 'values', j]));
    checkShard(piece.shard, ['lists', i, 'shard']);
  });
  if (rule.default !== null) checkShard(rule.default, ['default']);
  if (type === null || !valuesOk) return problems;

  // Ranges: each non-empty, none overlapping (the planner takes the first match, so an overlap would
  // silently send keys to whichever piece comes first).
  const ranges = rule.ranges.map((piece, i) => ({
    piece,
    i,
    from: piece.from === null ? null : comparable(piece.from, type),
    to: piece.to === null ? null : comparable(piece.to, type),
  }));
  for (const r of ranges) {
    if (r.from !== null && r.to !== null && compare(r.from, r.to) >= 0)
      problems.push({ kind: 'invalid-definition', path: ['ranges', r.i], message: `range ${renderRangePiece(r.piece)} is empty (the lower bound must be below the upper bound)` });
  }
  const sorted = ranges
    .filter((r) => r.from === null || r.to === null || compare(r.from, r.to) < 0)
    .sort((a, b) => (a.from === null ? (b.from === null ? 0 : -1) : b.from === null ? 1 : compare(a.from, b.from)));
  for (let k = 1; k < sorted.length; k++) {
    const prev = sorted[k - 1]!;
    const cur = sorted[k]!;
    const overlaps = prev.to === null || cur.from === null || compare(cur.from, prev.to) < 0;
    if (overlaps) {
      const [first, second] = prev.i < cur.i ? [prev, cur] : [cur, prev];
      problems.push({
        kind: 'invalid-definition',
        path: ['ranges', second.i],
        message: `range ${renderRangePiece(second.piece)} overlaps range ${renderRangePiece(first.piece)}`,
      });
    }
  }

  // Lists: a value in two lists would be placed by whichever comes first.
  const seen = new Map<string, number>();
  rule.lists.forEach((piece, i) => {
    piece.values.forEach((v, j) => {
      const c = comparable(v, type);
      const key = typeof c === 'bigint' ? c.toString() : c.toString('hex');
      const first = seen.get(key);
      if (first === undefined) seen.set(key, i);
      else
        problems.push({
          kind: 'invalid-definition',
          path: ['lists', i, 'values', j],
          message: `value ${renderValue(v)} is listed twice (ON ${rule.lists[first]!.shard} and ON ${piece.shard})`,
        });
    });
  });
  return problems;
}
