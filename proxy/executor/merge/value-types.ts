// Which PostgreSQL types the scatter-gather merge understands, keyed by type OID and wire format
// (0 text, 1 binary). Owns the classification only: a column's `family` says how its values are
// ordered and combined, `key` says how a parsed value is held for comparisons. Parsing, comparing
// and formatting live in text-values.ts and the per-representation modules it uses.
// Types not listed here are ordered by their raw bytes (documented in docs/scatter-gather.md);
// their binary form cannot be inspected at all (0A000 when a merge would have to look inside).
// Reference: https://www.postgresql.org/docs/15/datatype.html (OIDs from pg_type.dat).

import { assertNever } from '../../../planner/assert-never.js';
import { ProxyError } from '../../errors.js';

/** Built-in type OIDs (pg_type.dat). */
export const Oid = {
  bool: 16,
  bytea: 17,
  char: 18,
  name: 19,
  int8: 20,
  int2: 21,
  int4: 23,
  text: 25,
  oid: 26,
  json: 114,
  float4: 700,
  float8: 701,
  unknown: 705,
  bpchar: 1042,
  varchar: 1043,
  date: 1082,
  time: 1083,
  timestamp: 1114,
  timestamptz: 1184,
  numeric: 1700,
  uuid: 2950,
} as const;

/**
 * How values of a column behave in comparisons and aggregates.
 * - int: int2/int4/int8/oid; float4/float8 (NaN above every number, -0 = 0); numeric (exact, NaN
 *   highest, ±Infinity); bool (false < true); date/timestamp/timestamptz/time (ISO text or binary);
 * - text: text/varchar/unknown (the session's text order: bytes or a collator);
 * - bpchar: char(n), compared without trailing spaces as PostgreSQL does;
 * - bytes: everything else, ordered by raw bytes (uuid, bytea hex, name and "char" are exactly right
 *   this way; interval, json, arrays... are not, see docs/scatter-gather.md).
 */
export type Family =
  | 'int'
  | 'float4'
  | 'float8'
  | 'numeric'
  | 'bool'
  | 'date'
  | 'timestamp'
  | 'timestamptz'
  | 'time'
  | 'text'
  | 'bpchar'
  | 'bytes';

/**
 * How a parsed value is held for comparisons:
 * - scalar: a JS number (or a bigint beyond 2^53): ints, floats, bool, dates and times;
 * - decimal: a Decimal (numeric);
 * - bytes: the field's bytes themselves (bpchar without its trailing spaces);
 * - collated: a JS string compared with Intl.Collator (text under a non-C textOrder).
 */
export type KeyKind = 'scalar' | 'decimal' | 'bytes' | 'collated';

export interface ValueType {
  readonly oid: number;
  readonly format: 0 | 1;
  readonly family: Family;
  readonly key: KeyKind;
  /** Whether the merge can look inside values of this column (parse, compare, combine). */
  readonly inspectable: boolean;
}

/** The order text columns use: UTF-8 byte order (C, C.UTF-8 collations) or an ICU-like collator. */
export type TextOrder = 'bytes' | { readonly locale: string };

function familyOf(oid: number): Family {
  switch (oid) {
    case Oid.int2:
    case Oid.int4:
    case Oid.int8:
    case Oid.oid:
      return 'int';
    case Oid.float4:
      return 'float4';
    case Oid.float8:
      return 'float8';
    case Oid.numeric:
      return 'numeric';
    case Oid.bool:
      return 'bool';
    case Oid.date:
      return 'date';
    case Oid.timestamp:
      return 'timestamp';
    case Oid.timestamptz:
      return 'timestamptz';
    case Oid.time:
      return 'time';
    case Oid.text:
    case Oid.varchar:
    case Oid.unknown:
      return 'text';
    case Oid.bpchar:
      return 'bpchar';
    default:
      return 'bytes';
  }
}

/** Types whose binary send format the merge decodes (bytes-ordered ones send their text bytes or raw bytes). */
const BINARY_OK: ReadonlySet<number> = new Set<number>([
  Oid.int2, Oid.int4, Oid.int8, Oid.oid, Oid.float4, Oid.float8, Oid.numeric, Oid.bool,
  Oid.date, Oid.timestamp, Oid.timestamptz, Oid.time,
  Oid.text, Oid.varchar, Oid.unknown, Oid.bpchar, Oid.name, Oid.char, Oid.uuid, Oid.bytea,
]);

export function valueType(oid: number, format: number, textOrder: TextOrder): ValueType {
  if (format !== 0 && format !== 1) {
    throw ProxyError.protocolViolation(`invalid RowDescription message from server: format code ${format}`);
  }
  const family = familyOf(oid);
  let key: KeyKind;
  switch (family) {
    case 'int':
    case 'float4':
    case 'float8':
    case 'bool':
    case 'date':
    case 'timestamp':
    case 'timestamptz':
    case 'time':
      key = 'scalar';
      break;
    case 'numeric':
      key = 'decimal';
      break;
    case 'text':
    case 'bpchar':
      key = textOrder === 'bytes' ? 'bytes' : 'collated';
      break;
    case 'bytes':
      key = 'bytes';
      break;
    default:
      return assertNever(family);
  }
  return { oid, format, family, key, inspectable: format === 0 || BINARY_OK.has(oid) };
}

const TYPE_NAMES: ReadonlyMap<number, string> = new Map(Object.entries(Oid).map(([name, oid]) => [oid as number, name]));

/** A readable type name for messages: the built-in name, or "type OID n". */
export function typeName(oid: number): string {
  return TYPE_NAMES.get(oid) ?? `type OID ${oid}`;
}

/** The 0A000 for a binary column of a type the merge cannot decode, naming what needed it. */
export function binaryUnsupported(t: ValueType, column: number, use: string): ProxyError {
  return ProxyError.unsupported(
    `cannot merge results of several shards: column ${column + 1} (${typeName(t.oid)}) is in binary format and is needed for ${use}`,
    'pgshard decodes binary results of int2, int4, int8, oid, float4, float8, numeric, bool, date, time, timestamp, timestamptz, text, varchar, char(n), name, uuid and bytea; request text format for this column, or run the query on one shard (SET pgshard.shard = n).',
  );
}

/** Throws binaryUnsupported unless the merge can look inside values of t. */
export function requireInspectable(t: ValueType, column: number, use: string): void {
  if (!t.inspectable) throw binaryUnsupported(t, column, use);
}
