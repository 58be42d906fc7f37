// Expressions over merged aggregates (the planner's MergeExpr: `coalesce(sum(x), 0)`, `sum(a) / count(*)`,
// `round(avg(x), 2)`, `sum(x)::int`, `CASE WHEN count(*) > $1 THEN ... END`), compiled once per query
// against the types of the merged columns and the bound parameters into a function of a merged row.
// Owns type resolution: which operator, cast or common type PostgreSQL picks for the operand types
// (int2 < int4 < int8 < numeric < float4 < float8, the numeric category's implicit casts, float8 its
// preferred type), the type an untyped literal or parameter takes from its context, and the result
// type, which must be the one the shards reported for the expression's placeholder column
// (PostgreSQL's own answer): a disagreement is a 0A000, never a silently different result. Value
// semantics are in expression-values.ts, three-valued logic in logic.ts.
// As PostgreSQL's planner does (eval_const_expressions), subexpressions without columns are computed
// when the query starts (so `sum(x) * (1 / 0)` fails even without rows, and a bound parameter counts
// as a constant, as in a custom plan), except the parts it drops unprocessed: COALESCE arguments
// after the first non-NULL constant, CASE arms after a constant TRUE condition or under a constant
// FALSE one, AND/OR arguments after a constant that decides; and an operator or function with a
// constant NULL operand is NULL without evaluating the others. At run time COALESCE, CASE, AND and OR
// evaluate lazily, every other operation evaluates all its operands and is NULL for a NULL one.

import { ProxyError } from '../../errors.js';
import { assertNever } from '../../../planner/assert-never.js';
import type { BoundParams, CaseWhen, Comparison, MergeCondition, MergeExpr } from '../../../planner/plan.js';
import { decimalOf, scalarOf } from './text-values.js';
import { decimalToBinary, formatDecimal, parseDecimal, roundDecimal, type Decimal } from './decimal.js';
import { floatBinary, intBinary } from './binary-numbers.js';
import { formatFloat4, formatFloat8 } from './float-format.js';
import {
  abs,
  applyNumericTypmod,
  arith,
  compareValues,
  convert,
  equalsInteger,
  inputValue,
  isFloat,
  isInt,
  isNumber,
  isText,
  negate,
  NUMBER_RANK,
  rint,
  type NonNull,
  type NumberType,
  type SqlType,
  type Value,
} from './expression-values.js';
import { allOf, anyOf, holds, type Test } from './logic.js';
import { Oid, typeName, valueType, type ValueType } from './value-types.js';

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
  /** The statement's bound parameters (`$n` in the expression), null for the simple protocol. */
  readonly params: BoundParams | null;
}

interface Compiled {
  readonly type: SqlType;
  readonly eval: (read: FieldReader) => Value;
  /** No column below: evaluated once, when compiled. */
  readonly constant: boolean;
  /**
   * Only for type 'unknown' (a string literal, NULL, a parameter without a declared type): the same
   * node as a value of `to`, the type PostgreSQL gives it from its context.
   */
  readonly as?: (to: SqlType) => Compiled;
}

const NO_ROW: FieldReader = () => null;

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
  bool: Oid.bool,
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
  // An expression PostgreSQL leaves untyped (all its values untyped) is text.
  const c = typed(compile(expr, ctx, true), 'text');
  const resultType = c.type === 'unknown' ? 'text' : c.type;
  if (OID_OF[resultType] !== ctx.result.oid) {
    throw cannot(`pgshard would compute ${typeName(OID_OF[resultType])} where PostgreSQL reports ${typeName(ctx.result.oid)}`);
  }
  const efd = ctx.extraFloatDigits;
  const format = ctx.result.format;
  return (read) => encode(c.eval(read), resultType, format, efd);
}

// ---------------------------------------------------------------------------------------------
// Folding

function constant(type: SqlType, value: Value): Compiled {
  return { type, eval: () => value, constant: true };
}

/**
 * A node whose operands are all constant is evaluated now, as PostgreSQL's planner folds it, unless
 * `fold` is off (a part the planner drops unprocessed).
 */
function folded(type: SqlType, args: readonly Compiled[], evaluate: (read: FieldReader) => Value, fold: boolean): Compiled {
  if (args.every((a) => a.constant)) {
    if (!fold) return { type, eval: evaluate, constant: true };
    const value = evaluate(NO_ROW);
    return constant(type, value);
  }
  return { type, eval: evaluate, constant: false };
}

/**
 * A strict function or operator (every one here but COALESCE, NULLIF, CASE, AND, OR and IS NULL):
 * NULL for a NULL operand. The planner makes it NULL outright when an operand is a constant NULL,
 * without evaluating the others; the executor evaluates every operand before it looks for NULLs.
 */
function strict(type: SqlType, args: readonly Compiled[], apply: (values: readonly NonNull[]) => Value, fold: boolean): Compiled {
  if (fold && args.some((a) => a.constant && a.eval(NO_ROW) === null)) return constant(type, null);
  const evaluate = (read: FieldReader): Value => {
    const values = args.map((a) => a.eval(read));
    return values.includes(null) ? null : apply(values as NonNull[]);
  };
  return folded(type, args, evaluate, fold);
}

/** An untyped node as a value of `to` (PostgreSQL types literals and parameters by their context); others unchanged. */
function typed(c: Compiled, to: SqlType): Compiled {
  if (c.type !== 'unknown') return c;
  if (c.as === undefined) throw ProxyError.internal('an untyped value that cannot be typed');
  return c.as(to);
}

/** `c` converted to `to` by PostgreSQL's (implicit) cast, a node of its own that the planner folds with its operand. */
function coerce(c: Compiled, to: SqlType, fold: boolean, ctx: ExpressionContext): Compiled {
  if (c.type === to) return c;
  if (c.type === 'unknown') return typed(c, to);
  const from = c.type;
  const efd = ctx.extraFloatDigits;
  return strict(to, [c], ([v]) => convert(v!, from, to, efd), fold);
}

/** The operands of a binary operator: an untyped one takes the other's type, as PostgreSQL resolves operators. */
function resolvePair(left: Compiled, right: Compiled, op: string): [Compiled, Compiled] {
  if (left.type === 'unknown' && right.type === 'unknown') throw cannot(`unknown ${op} unknown (cast one side)`);
  return [typed(left, right.type), typed(right, left.type)];
}

// ---------------------------------------------------------------------------------------------
// Nodes

function compile(e: MergeExpr, ctx: ExpressionContext, fold: boolean): Compiled {
  switch (e.kind) {
    case 'column':
      return compileColumn(e.column.hidden ? ctx.visible + e.column.index : e.column.index, ctx);
    case 'const':
      return compileConst(e.type, e.text);
    case 'param':
      return compileParam(e.index, ctx);
    case 'arith':
      return compileArith(e, ctx, fold);
    case 'negate':
    case 'abs':
      return compileSigned(e.kind, compile(e.arg, ctx, fold), fold);
    case 'cast':
      return compileCast(e.to, compile(e.arg, ctx, fold), fold, ctx);
    case 'typmod':
      return compileTypmod(e, compile(e.arg, ctx, fold), fold);
    case 'coalesce':
      return compileCoalesce(e.args, ctx, fold);
    case 'nullif':
      return compileNullif(compile(e.arg, ctx, fold), compile(e.value, ctx, fold), fold);
    case 'round':
      return compileRound(compile(e.arg, ctx, fold), e.digits, fold, ctx);
    case 'concat':
      return compileConcat(compile(e.left, ctx, fold), compile(e.right, ctx, fold), fold, ctx);
    case 'case':
      return compileCase(e.whens, e.otherwise, ctx, fold);
    default:
      return assertNever(e);
  }
}

function compileColumn(index: number, ctx: ExpressionContext): Compiled {
  const t = ctx.types[index];
  if (t === undefined) throw ProxyError.internal(`an expression refers to column ${index + 1} of ${ctx.types.length}`);
  const type = sqlTypeOf(t.oid);
  if (type === null) throw cannot(`an operand of type ${typeName(t.oid)}`);
  if (!t.inspectable) throw cannot(`an operand of type ${typeName(t.oid)} in binary format`);
  return { type, eval: (read) => decode(read(index), t, type), constant: false };
}

function compileConst(type: (MergeExpr & { kind: 'const' })['type'], text: string | null): Compiled {
  if (type === 'unknown') return { ...constant('unknown', text), as: (to) => constant(to, text === null ? null : inputValue(text, to)) };
  return constant(type, constValue(type, text));
}

/**
 * A bound parameter: a constant of the execution, as PostgreSQL's custom plans fold it, of its
 * declared type or (none declared) of the type its context gives it, read from its text or binary
 * form as the server reads it at Bind.
 */
function compileParam(index: number, ctx: ExpressionContext): Compiled {
  const p = ctx.params;
  if (p === null || index < 0 || index >= p.values.length) throw ProxyError.internal(`an expression refers to parameter $${index + 1}, which is not bound`);
  const raw = p.values[index] ?? null;
  const bytes = raw === null ? null : Buffer.from(raw.buffer, raw.byteOffset, raw.byteLength);
  const binary = p.formats[index] === 1;
  const valueAs = (type: SqlType): Compiled => constant(type, bytes === null ? null : paramValue(bytes, binary, type));
  const declared = p.types[index] ?? 0;
  // Declared as `unknown`, a parameter is typed by its context as if undeclared.
  if (declared === 0 || declared === Oid.unknown) return { ...valueAs('unknown'), as: valueAs };
  const type = sqlTypeOf(declared);
  if (type === null) throw cannot(`a parameter of type ${typeName(declared)}`);
  return valueAs(type);
}

function paramValue(bytes: Buffer, binary: boolean, type: SqlType): Value {
  if (!binary || type === 'unknown') return inputValue(bytes.toString('utf8'), type);
  return decode(bytes, valueType(OID_OF[type], 1, 'bytes'), type);
}

function compileArith(e: MergeExpr & { kind: 'arith' }, ctx: ExpressionContext, fold: boolean): Compiled {
  const [left, right] = resolvePair(compile(e.left, ctx, fold), compile(e.right, ctx, fold), e.op);
  if (!isNumber(left.type) || !isNumber(right.type)) throw cannot(`${left.type} ${e.op} ${right.type}`);
  const type = operatorType(left.type, right.type);
  // PostgreSQL has % for integers and numeric only.
  if (e.op === '%' && isFloat(type)) throw cannot(`${left.type} % ${right.type}`);
  const op = e.op;
  return strict(type, [coerce(left, type, fold, ctx), coerce(right, type, fold, ctx)], ([a, b]) => arith(op, type, a!, b!), fold);
}

/** Unary minus and abs(): the operand's own type. */
function compileSigned(kind: 'negate' | 'abs', arg: Compiled, fold: boolean): Compiled {
  // `-'1'` is ambiguous to PostgreSQL; abs('1') picks abs(double precision), the preferred type.
  const operand = kind === 'abs' ? typed(arg, 'float8') : arg;
  const type = operand.type;
  if (!isNumber(type)) throw cannot(kind === 'abs' ? `abs(${type})` : `-${type}`);
  return strict(type, [operand], ([v]) => (kind === 'abs' ? abs(type, v!) : negate(type, v!)), fold);
}

function compileCast(to: SqlType, arg: Compiled, fold: boolean, ctx: ExpressionContext): Compiled {
  // A literal or parameter cast is typed so directly (`NULL::int`, `$1::numeric`).
  if (arg.type === 'unknown') return typed(arg, to);
  const from = arg.type;
  if (!isNumber(from) && !(isText(from) && to === 'text')) throw cannot(`a cast from ${from} to ${to}`);
  return coerce(arg, to, fold, ctx);
}

/** The NUMERIC precision and scale PostgreSQL accepts (numerictypmodin; the shards refuse others). */
const MAX_PRECISION = 1000;
const MAX_SCALE = 1000;

function compileTypmod(e: MergeExpr & { kind: 'typmod' }, arg: Compiled, fold: boolean): Compiled {
  if (arg.type !== 'numeric') throw ProxyError.internal(`numeric(${e.precision}, ${e.scale}) of ${arg.type}`);
  const { precision, scale } = e;
  if (precision < 1 || precision > MAX_PRECISION || scale < -MAX_SCALE || scale > MAX_SCALE) throw cannot(`numeric(${precision}, ${scale})`);
  return strict('numeric', [arg], ([v]) => applyNumericTypmod(v as Decimal, precision, scale), fold);
}

function compileCoalesce(exprs: readonly MergeExpr[], ctx: ExpressionContext, fold: boolean): Compiled {
  // The planner simplifies arguments up to the first non-NULL constant and drops the rest
  // unprocessed: those still count for the type, but are never folded (nor reached).
  let reached = fold;
  const args = exprs.map((a) => {
    const c = compile(a, ctx, reached);
    const processed = reached;
    if (c.constant && reached && c.eval(NO_ROW) !== null) reached = false;
    return { c, processed };
  });
  const type = commonType(args.map((a) => a.c.type), 'coalesce');
  const values = args.map((a) => coerce(a.c, type, a.processed, ctx));
  // Lazy: an argument after the first non-NULL one is never evaluated.
  const evaluate = (read: FieldReader): Value => {
    for (const v of values) {
      const x = v.eval(read);
      if (x !== null) return x;
    }
    return null;
  };
  return folded(type, values, evaluate, fold);
}

function compileNullif(arg: Compiled, value: Compiled, fold: boolean): Compiled {
  // nullif($1, 0) compares $1 = 0, which types $1 as the integer.
  const operand = typed(arg, value.type);
  const type = operand.type;
  if (!isNumber(type) || value.type !== 'int4') throw cannot(`nullif(${type}, ${value.type})`);
  const c = value.eval(NO_ROW) as bigint;
  return folded(type, [operand], (read) => {
    const v = operand.eval(read);
    return v === null || equalsInteger(type, v, c) ? null : v;
  }, fold);
}

function compileRound(arg: Compiled, digits: number | null, fold: boolean, ctx: ExpressionContext): Compiled {
  // round('2.5') is round(double precision), the preferred type; round('2.5', 1) the only round(numeric, int).
  const operand = typed(arg, digits === null ? 'float8' : 'numeric');
  const from = operand.type;
  if (!isNumber(from)) throw cannot(`round(${from})`);
  if (digits === null) {
    // round(numeric) stays numeric; integers and floats take round(double precision).
    if (from === 'numeric') return strict('numeric', [operand], ([v]) => roundDecimal(v as Decimal, 0), fold);
    return strict('float8', [coerce(operand, 'float8', fold, ctx)], ([v]) => rint(v as number), fold);
  }
  if (isFloat(from)) throw cannot(`round(${from}, integer)`);
  return strict('numeric', [coerce(operand, 'numeric', fold, ctx)], ([v]) => roundDecimal(v as Decimal, digits), fold);
}

/** `a || b` over text: textcat, after char(n) lost its padding in the cast to text. */
function compileConcat(left: Compiled, right: Compiled, fold: boolean, ctx: ExpressionContext): Compiled {
  const a = typed(left, 'text');
  const b = typed(right, 'text');
  if (!isText(a.type) || !isText(b.type)) throw cannot(`${a.type} || ${b.type} (cast the operand to text)`);
  return strict('text', [coerce(a, 'text', fold, ctx), coerce(b, 'text', fold, ctx)], ([x, y]) => (x as string) + (y as string), fold);
}

/**
 * CASE, as the planner simplifies it: conditions in order; a constant FALSE or NULL one drops its
 * arm unprocessed, a constant TRUE one makes its arm the value and drops everything after it. Every
 * result counts for the common type; each is converted to it in its own arm.
 */
function compileCase(whens: readonly CaseWhen[], otherwiseExpr: MergeExpr | null, ctx: ExpressionContext, fold: boolean): Compiled {
  let reached = fold;
  const arms = whens.map((w) => {
    const condition = compileCondition(w.condition, ctx, reached);
    const known = reached && condition.constant ? condition.eval(NO_ROW) : undefined;
    const processed = reached && (known === undefined || known === true);
    if (known === true) reached = false;
    return { condition, result: compile(w.result, ctx, processed), processed };
  });
  const otherwise = otherwiseExpr === null ? null : compile(otherwiseExpr, ctx, reached);
  const type = commonType([...arms.map((a) => a.result.type), ...(otherwise === null ? [] : [otherwise.type])], 'CASE');
  const conditions = arms.map((a) => a.condition);
  const results = arms.map((a) => coerce(a.result, type, a.processed, ctx));
  const fallback = otherwise === null ? constant(type, null) : coerce(otherwise, type, reached, ctx);
  const evaluate = (read: FieldReader): Value => {
    for (let i = 0; i < conditions.length; i++) if (conditions[i]!.eval(read) === true) return results[i]!.eval(read);
    return fallback.eval(read);
  };
  return folded(type, [...conditions, ...results, fallback], evaluate, fold);
}

// ---------------------------------------------------------------------------------------------
// Conditions (type bool)

function compileCondition(c: MergeCondition, ctx: ExpressionContext, fold: boolean): Compiled {
  switch (c.kind) {
    case 'and':
    case 'or':
      return compileConnective(c.kind, c.args, ctx, fold);
    case 'not':
      return strict('bool', [compileCondition(c.arg, ctx, fold)], ([v]) => !v, fold);
    case 'compare':
      return compileCompare(c, ctx, fold);
    case 'is-null': {
      const arg = compile(c.arg, ctx, fold);
      const negated = c.negated;
      return folded('bool', [arg], (read) => (arg.eval(read) === null) !== negated, fold);
    }
    case 'truth': {
      const arg = typed(compile(c.arg, ctx, fold), 'bool');
      if (arg.type !== 'bool') throw cannot(`${arg.type} as a condition`);
      return arg;
    }
    default:
      return assertNever(c);
  }
}

/**
 * AND/OR: the planner simplifies the arguments in order and stops at the first constant that
 * decides (FALSE for AND, TRUE for OR); the whole condition is then that constant and the arguments
 * after it are never processed.
 */
function compileConnective(kind: 'and' | 'or', conditions: readonly MergeCondition[], ctx: ExpressionContext, fold: boolean): Compiled {
  const decisive = kind === 'or';
  let reached = fold;
  let decided = false;
  const args = conditions.map((a) => {
    const c = compileCondition(a, ctx, reached);
    if (reached && c.constant && c.eval(NO_ROW) === decisive) {
      decided = true;
      reached = false;
    }
    return c;
  });
  if (decided) return constant('bool', decisive);
  const tests = args.map((a) => a.eval as Test<FieldReader>);
  return folded('bool', args, kind === 'and' ? allOf(tests) : anyOf(tests), fold);
}

function compileCompare(c: Comparison<MergeExpr>, ctx: ExpressionContext, fold: boolean): Compiled {
  const [left, right] = resolvePair(compile(c.left, ctx, fold), compile(c.right, ctx, fold), c.op);
  // Text compares by a collation the merge does not know (the column's may not be the database's).
  if (!isNumber(left.type) || !isNumber(right.type)) throw cannot(`${left.type} ${c.op} ${right.type} (pgshard compares numbers)`);
  const type = comparisonType(left.type, right.type);
  const op = c.op;
  return strict('bool', [coerce(left, type, fold, ctx), coerce(right, type, fold, ctx)], ([a, b]) => holds(op, compareValues(type, a!, b!)), fold);
}

// ---------------------------------------------------------------------------------------------
// Types

function constValue(type: 'int4' | 'int8' | 'numeric' | 'bool', text: string | null): Value {
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
    case 'bool':
      return text === 'true';
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

/**
 * The type two numbers compare in: integers across widths and numeric exactly (the cross-type
 * operators and numeric's implicit casts); with any float, float8 (float84 and the like: PostgreSQL
 * prefers the category's preferred type, even for real against real, which compares the same).
 */
export function comparisonType(a: NumberType, b: NumberType): NumberType {
  if (isFloat(a) || isFloat(b)) return 'float8';
  return isInt(a) && isInt(b) ? 'int8' : 'numeric';
}

/**
 * select_common_type for COALESCE and CASE: the highest number type, or one text type; unknowns
 * alone are text. Anything else (two text types, booleans) is refused rather than guessed.
 */
export function commonType(types: readonly SqlType[], construct: 'coalesce' | 'CASE'): SqlType {
  const known = types.filter((t) => t !== 'unknown');
  const first = known[0];
  if (first === undefined) return 'text';
  if (known.every(isNumber)) return known.reduce((a, b) => (NUMBER_RANK[b as NumberType] > NUMBER_RANK[a as NumberType] ? b : a));
  if (known.every((t) => t === first) && isText(first)) return first;
  throw cannot(`${construct} over ${[...new Set(known)].join(' and ')}`);
}

function decode(buf: Buffer | null, t: ValueType, type: SqlType): Value {
  if (buf === null) return null;
  const end = buf.length;
  if (isInt(type)) return BigInt(scalarOf(t, buf, 0, end));
  if (type === 'numeric') return decimalOf(t, buf, 0, end);
  // float4out's shortest text reads back as a double near the float4: round it to the float4 itself.
  if (type === 'float4') return Math.fround(scalarOf(t, buf, 0, end) as number);
  if (type === 'float8') return scalarOf(t, buf, 0, end) as number;
  if (type === 'bool') return scalarOf(t, buf, 0, end) === 1;
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
      case 'bool':
        return Buffer.from(v === true ? 't' : 'f', 'latin1');
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
    case 'bool':
      return Buffer.from([v === true ? 1 : 0]);
    default:
      return assertNever(type);
  }
}
