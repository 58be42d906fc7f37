// The values PostgreSQL 15 printed for the merge's value tests (fixtures/pg15-values.json): their
// shape and where they are. generate-fixtures.ts writes them; the tests only read them.
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const FIXTURE_FILE = join(dirname(fileURLToPath(import.meta.url)), 'fixtures', 'pg15-values.json');

export interface AggregateCase {
  type: 'int2' | 'int4' | 'int8' | 'numeric';
  values: string[];
  sum: string;
  avg: string;
  /** numeric_send(avg) in hex. */
  avgSend: string;
}

export interface FloatCase {
  /** The float8 bit pattern (hex); float4 cases hold a float4 value widened to float8. */
  bits: string;
  /** Output text per extra_float_digits setting. */
  text: Record<string, string>;
}

export interface DatetimeCase {
  type: 'date' | 'timestamp' | 'timestamptz' | 'time';
  timeZone: string;
  text: string;
  /** Days (date) or microseconds since 2000-01-01 / midnight; 'infinity' / '-infinity'. */
  value: string;
}

export interface Fixtures {
  postgres: string;
  aggregates: AggregateCase[];
  float8: FloatCase[];
  float4: FloatCase[];
  datetimes: DatetimeCase[];
}

export const EXTRA_FLOAT_DIGITS = ['1', '3', '0', '-3'];

export function loadFixtures(): Fixtures {
  return JSON.parse(readFileSync(FIXTURE_FILE, 'utf8')) as Fixtures;
}

export const EXPRESSION_FIXTURE_FILE = join(dirname(fileURLToPath(import.meta.url)), 'fixtures', 'pg15-expressions.json');

/** An error PostgreSQL raised: SQLSTATE, message and, when it gave one, detail. */
export interface ExpressionError {
  code: string;
  message: string;
  detail?: string;
}

/** A row of an expression group: the operand values as text (null: SQL NULL), and the result text or error. */
export type ExpressionRow = [values: (string | null)[], outcome: string | null | ExpressionError];

/** One expression over operands `a` (and `b`) of `types`, and what PostgreSQL answered for each row. */
export interface ExpressionGroup {
  expr: string;
  /** Operand types, `numeric(p,s)` with its type modifier. */
  types: string[];
  /** pg_typeof of the expression. */
  typeOid?: number;
  /** The output name PostgreSQL gives the expression without AS. */
  name?: string;
  /** The type modifier in the RowDescription of the expression's column (a simple-protocol query). */
  typmod?: number;
  /** PostgreSQL rejected the expression while planning it, before any row. */
  parseError?: ExpressionError;
  rows: ExpressionRow[];
}

export interface ExpressionFixtures {
  postgres: string;
  groups: ExpressionGroup[];
  /** Output names PostgreSQL gives targets without AS (FigureColname), over columns a, b and arr. */
  names: [expr: string, name: string][];
}

export function loadExpressionFixtures(): ExpressionFixtures {
  return JSON.parse(readFileSync(EXPRESSION_FIXTURE_FILE, 'utf8')) as ExpressionFixtures;
}
