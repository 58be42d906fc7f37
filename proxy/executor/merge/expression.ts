// Expressions over merged aggregates (the planner's MergeExpr: `coalesce(sum(x), 0)`, `sum(a) / count(*)`,
// `round(avg(x), 2)`, `sum(x)::int`), compiled once per query against the types of the merged columns
// into a function of a merged row. Owns type resolution: which operator, cast or common type
// PostgreSQL picks for the operand types (int2 < int4 < int8 < numeric < float4 < float8, the
// numeric category's implicit casts, float8 its preferred type), and the result type, which must
// be the one the shards reported for the expression's placeholder column (PostgreSQL's own answer):
// a disagreement is a 0A000, never a silently different result. Value semantics are in
// expression-values.ts.
// As PostgreSQL's planner does, subexpressions without columns are computed when the query starts
// (so `sum(x) * (1 / 0)` fails even without rows), COALESCE evaluates its arguments lazily, and
// every other operation returns NULL for a NULL operand.

import { ProxyError } from '../../errors.js';
import { assertNever } from '../../../planner/assert-never.js';
import type { MergeExpr } from '../../../planner/plan.js';
import { decimalOf, scalarOf } from './text-values.js';
import { decimalToBinary, formatDecimal, parseDecimal, roundDecimal, type Decimal } from './decimal.js';
import { floatBinary, intBinary } from './binary-numbers.js';
import { formatFloat4, formatFloat8 } from './float-format.js';
import { arith, convert, equalsInteger, isFloat, isInt, isNumber, isText, negate, NUMBER_RANK, rint, type NumberType, type SqlType, type Value } from './expression-values.js';
import { Oid, typeName, type ValueType } from './value-types.js';

/** A merged row's fields (hidden columns included); an expression reads only non-expression columns. */
export type FieldReader = (column: number) => Buffer | null;

export interface ExpressionContext {
  /** Types of the merged row's columns. */
  readonly types: readonly ValueType[];
  readonly visible: number;
  /** The type the shards reported for the expression's own column: PostgreSQL's result type. */
  readonly result: ValueType;
  /** The session's extra_float_digits: floats cast to text print as PostgreSQL prints them. */
  readonly extraFloatDigits: number;
}

interface Compiled {
  readonly type: SqlType;
  readonly eval: (read: FieldReader) => Value;
  /** No column below: evaluated once, when compiled. */
  readonly constant: boolean;
}

const OID_OF: Readonly<Record<Exclude<SqlType, 'unknown'>, number>> = {
  int2: Oid.int2,
  int4: Oid.int4,
  int8: Oid.int8,
  numeric: Oid.numeric,
  float4: Oid.float4,
  float8: Oid.float8,
  text: Oid.text,
  varchar: Oid.varchar,
  bpchar: Oid.bpchar,
};

function sqlTypeOf(oid: number): SqlType | null {
  for (const [t, o] of Object.entries(OID_OF)) if (o === oid) return t as SqlType;
  return null;
}

function cannot(what: string): ProxyError {
  return ProxyError.unsupported(
    `cannot compute an expression over aggregates across shards: ${what}`,
    'Select the aggregates themselves and compute the expression in the client, or run the query on one shard (SET pgshard.shard = n).',
  );
}

/** Compiles `expr` into a function of a merged row giving the column's field in `ctx.result`'s format. */
export function compileExpression(expr: MergeExpr, ctx: ExpressionContext): (read: FieldReader) => Buffer | null {
  const c = compile(expr, ctx);
  const resultType = c.type === 'unknown' ? 'text' : c.type;
  if (OID_OF[resultType] !== ctx.result.oid) {
    throw cannot(`pgshard would compute ${typeName(OID_OF[resultType])} where PostgreSQL reports ${typeName(ctx.result.oid)}`);
  }
  const efd = ctx.extraFloatDigits;
  const format = ctx.result.format;
  return (read) => encode(c.eval(read), resultType, format, efd);
}

function constant(type: SqlType, value: Value): Compiled {
  return { type, eval: () => value, constant: true };
}

/**
 * A node whose operands are all constant is evaluated now, as PostgreSQL's planner folds it, unless
 * `fold` is off (a COALESCE argument the planner drops unprocessed).
 */
function folded(type: SqlType, args: readonly Compiled[], evaluate: (read: FieldReader) => Value, fold: boolean): Compiled {
  if (args.every((a) => a.constant)) {
    if (!fold) return { type, eval: evaluate, constant: true };
    const value = evaluate(() => null);
    return constant(type, value);
  }
  return { type, eval: evaluate, constant: false };
}

function compile(e: MergeExpr, ctx: ExpressionContext, fold = true): Compiled {
  const efd = ctx.extraFloatDigits;
  switch (e.kind) {
    case 'column': {
      const index = e.column.hidden ? ctx.visible + e.column.index : e.column.index;
      const t = ctx.types[index];
      if (t === undefined) throw ProxyError.internal(`an expression refers to column ${index + 1} of ${ctx.types.length}`);
      const type = sqlTypeOf(t.oid);
      if (type === null) throw cannot(`an operand of type ${typeName(t.oid)}`);
      if (!t.inspectable) throw cannot(`an operand of type ${typeName(t.oid)} in binary format`);
      return { type, eval: (read) => decode(read(index), t, type), constant: false };
    }
    case 'const':
      return constant(e.type, constValue(e.type, e.text));
    case 'arith': {
      const left = compile(e.left, ctx, fold);
      const right = compile(e.right, ctx, fold);
      if (!isNumber(left.type) || !isNumber(right.type)) throw cannot(`${left.type} ${e.op} ${right.type}`);
      const type = operatorType(left.type, right.type);
      const op = e.op;
      const lt = left.type;
      const rt = right.type;
      return folded(type, [left, right], (read) => {
        const a = left.eval(read);
        if (a === null) return null;
        const b = right.eval(read);
        if (b === null) return null;
        return arith(op, type, convert(a, lt, type, efd)!, convert(b, rt, type, efd)!);
      }, fold);
    }
    case 'negate': {
      const arg = compile(e.arg, ctx, fold);
      const type = arg.type;
      if (!isNumber(type)) throw cannot(`-${type}`);
      return folded(type, [arg], (read) => {
        const v = arg.eval(read);
        return v === null ? null : negate(type, v);
      }, fold);
    }
    case 'cast': {
      const arg = compile(e.arg, ctx, fold);
      const from = arg.type;
      const to = e.to;
      if (from === 'unknown' && arg.constant && arg.eval(() => null) === null) return constant(to, null);
      const ok = isNumber(from) ? true : isText(from) && to === 'text';
      if (!ok) throw cannot(`a cast from ${from} to ${to}`);
      return folded(to, [arg], (read) => convert(arg.eval(read), from === 'unknown' ? 'text' : from, to, efd), fold);
    }
    case 'coalesce': {
      // The planner simplifies arguments up to the first non-NULL constant and drops the rest
      // unprocessed: those still count for the type, but are never folded (nor reached).
      let reached = fold;
      const args = e.args.map((a) => {
        const c = compile(a, ctx, reached);
        if (c.constant && reached && c.eval(() => null) !== null) reached = false;
        return c;
      });
      const type = commonType(args.map((a) => a.type));
      const froms = args.map((a) => (a.type === 'unknown' ? 'text' : a.type));
      // Lazy: an argument after the first non-NULL one is never evaluated.
      const evaluate = (read: FieldReader): Value => {
        for (let i = 0; i < args.length; i++) {
          const v = args[i]!.eval(read);
          if (v !== null) return convert(v, froms[i]!, type, efd);
        }
        return null;
      };
      return folded(type, args, evaluate, fold);
    }
    case 'nullif': {
      const arg = compile(e.arg, ctx, fold);
      const value = compile(e.value, ctx, fold);
      const type = arg.type;
      if (!isNumber(type) || value.type !== 'int4') throw cannot(`nullif(${type}, ${value.type})`);
      const c = value.eval(() => null) as bigint;
      return folded(type, [arg], (read) => {
        const v = arg.eval(read);
        return v === null || equalsInteger(type, v, c) ? null : v;
      }, fold);
    }
    case 'round': {
      const arg = compile(e.arg, ctx, fold);
      const from = arg.type;
      if (!isNumber(from)) throw cannot(`round(${from})`);
      const digits = e.digits;
      if (digits === null) {
        // round(numeric) stays numeric; integers and floats take round(double precision).
        if (from === 'numeric') return folded('numeric', [arg], (read) => roundOf(arg.eval(read), 0), fold);
        return folded(
          'float8',
          [arg],
          (read) => {
            const v = convert(arg.eval(read), from, 'float8', efd);
            return v === null ? null : rint(v as number);
          },
          fold,
        );
      }
      if (isFloat(from)) throw cannot(`round(${from}, integer)`);
      return folded('numeric', [arg], (read) => roundOf(convert(arg.eval(read), from, 'numeric', efd), digits), fold);
    }
    default:
      return assertNever(e);
  }
}

function roundOf(v: Value, digits: number): Value {
  return v === null ? null : roundDecimal(v as Decimal, digits);
}

function constValue(type: SqlType, text: string | null): Value {
  if (text === null) return null;
  switch (type) {
    case 'int4':
    case 'int8':
      return BigInt(text);
    case 'numeric': {
      const d = parseDecimal(text);
      if (d === null) throw ProxyError.internal(`numeric constant ${text} does not parse`);
      return d;
    }
    case 'unknown':
      return text;
    case 'int2':
    case 'float4':
    case 'float8':
    case 'text':
    case 'varchar':
    case 'bpchar':
      throw ProxyError.internal(`a constant of type ${type}`);
    default:
      return assertNever(type);
  }
}

/** The type an arithmetic operator works in (and returns) for these operand types. */
export function operatorType(a: NumberType, b: NumberType): NumberType {
  if (isInt(a) && isInt(b)) return NUMBER_RANK[a] >= NUMBER_RANK[b] ? a : b;
  // float4 op float4 stays float4; any other float operand makes it float8.
  if (isFloat(a) || isFloat(b)) return a === 'float4' && b === 'float4' ? 'float4' : 'float8';
  return 'numeric';
}

/** select_common_type for COALESCE: the highest number type, or one text type; unknowns alone are text. */
export function commonType(types: readonly SqlType[]): SqlType {
  const known = types.filter((t) => t !== 'unknown');
  const first = known[0];
  if (first === undefined) return 'text';
  if (known.every(isNumber)) return known.reduce((a, b) => (NUMBER_RANK[b as NumberType] > NUMBER_RANK[a as NumberType] ? b : a));
  if (known.every((t) => t === first) && isText(first)) return first;
  throw cannot(`coalesce over ${[...new Set(known)].join(' and ')}`);
}

function decode(buf: Buffer | null, t: ValueType, type: SqlType): Value {
  if (buf === null) return null;
  const end = buf.length;
  if (isInt(type)) return BigInt(scalarOf(t, buf, 0, end));
  if (type === 'numeric') return decimalOf(t, buf, 0, end);
  // float4out's shortest text reads back as a double near the float4: round it to the float4 itself.
  if (type === 'float4') return Math.fround(scalarOf(t, buf, 0, end) as number);
  if (type === 'float8') return scalarOf(t, buf, 0, end) as number;
  return buf.toString('utf8');
}

function encode(v: Value, type: Exclude<SqlType, 'unknown'>, format: 0 | 1, efd: number): Buffer | null {
  if (v === null) return null;
  if (format === 0) {
    switch (type) {
      case 'int2':
      case 'int4':
      case 'int8':
        return Buffer.from((v as bigint).toString(), 'latin1');
      case 'numeric':
        return Buffer.from(formatDecimal(v as Decimal), 'latin1');
      case 'float4':
        return Buffer.from(formatFloat4(v as number, efd), 'latin1');
      case 'float8':
        return Buffer.from(formatFloat8(v as number, efd), 'latin1');
      case 'text':
      case 'varchar':
      case 'bpchar':
        return Buffer.from(v as string, 'utf8');
      default:
        return assertNever(type);
    }
  }
  switch (type) {
    case 'int2':
      return intBinary(2, v as bigint);
    case 'int4':
      return intBinary(4, v as bigint);
    case 'int8':
      return intBinary(8, v as bigint);
    case 'numeric':
      return decimalToBinary(v as Decimal);
    case 'float4':
      return floatBinary(true, v as number);
    case 'float8':
      return floatBinary(false, v as number);
    case 'text':
    case 'varchar':
    case 'bpchar':
      return Buffer.from(v as string, 'utf8');
    default:
      return assertNever(type);
  }
}
