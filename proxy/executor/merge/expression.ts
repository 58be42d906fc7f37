// Expressions over merged aggregates (the planner's MergeExpr: `coalesce(sum(x), 0)`, `sum(a) / count(*)`,
// `round(avg(x), 2)`, `sum(x)::int`, `CASE WHEN count(*) > $1 THEN ... END`), compiled once per query
// against the types of the merged columns and the bound parameters into a function of a merged row.
// Owns type resolution: which operator, cast or common type PostgreSQL picks for the operand types
// (int2 < int4 < int8 < numeric < float4 < float8, the numeric category's implicit casts, float8 its
// preferred type), the type an untyped literal or parameter takes from its context, and the result
// type, which must be the one the shards reported for the expression's placeholder column
// (PostgreSQL's own answer): a disagreement is a 0A000, never a silently different result. Also the
// result's type modifier (numeric(p, s)), which the client's RowDescription carries: PostgreSQL's
// exprTypmod of the expression as its planner leaves it (below), from the merged columns' own.
// Value semantics are in expression-values.ts, three-valued logic in logic.ts.
// As PostgreSQL's planner does (eval_const_expressions), subexpressions without columns are computed
// when the query starts (so `sum(x) * (1 / 0)` fails even without rows, and a bound parameter counts
// as a constant, as in a custom plan), except the parts it drops unprocessed: COALESCE arguments
// after the first non-NULL constant, CASE arms after a constant TRUE condition or under a constant
// FALSE one, AND/OR arguments after a constant that decides; and an operator or function with a
// constant NULL operand is NULL without evaluating the others. At run time COALESCE, CASE, AND and OR
// evaluate lazily, every other operation evaluates all its operands and is NULL for a NULL one
// (GREATEST, LEAST and IN lists evaluate them all and skip NULLs their own way).
// Type modifiers: a column keeps its own, a cast to numeric(p, s) sets one, CASE, COALESCE, GREATEST
// and LEAST keep the one all their (remaining) alternatives agree on, NULLIF its argument's; every
// other operation and cast has none (-1). They are read after folding, as PostgreSQL describes the
// planned query: a CASE reduced to one arm has that arm's, COALESCE drops its NULL constants.

import { ProxyError } from '../../errors.js';
import { assertNever } from '../../../planner/assert-never.js';
import type { BoundParams, CaseWhen, Comparison, Distinct, InList, MergeCondition, MergeExpr } from '../../../planner/plan.js';
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
import { allOf, anyOf, booleanTest, holds, type Test, type Truth } from './logic.js';
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
  /** Type modifiers of the merged row's columns (-1: none); all -1 when absent. */
  readonly typmods?: readonly number[];
}

/** A compiled expression column: its field from a merged row, and its RowDescription type modifier. */
export interface CompiledExpression {
  readonly evaluate: (read: FieldReader) => Buffer | null;
  readonly typmod: number;
}

/** The compilation's own state: the types PostgreSQL gave untyped parameters so far. */
interface Scope extends ExpressionContext {
  /**
   * An untyped parameter keeps the type its first context gave it, as PostgreSQL's parser fixes it
   * there: the planner repeats an operand where PostgreSQL's parser copies it (x BETWEEN a AND b is
   * x >= a AND x <= b), and the copy reads the parameter as that type.
   */
  readonly inferred: Map<number, SqlType>;
}

interface Compiled {
  readonly type: SqlType;
  readonly eval: (read: FieldReader) => Value;
  /** No column below: evaluated once, when compiled. */
  readonly constant: boolean;
  /** PostgreSQL's exprTypmod of the node as its planner leaves it; -1 for none. */
  readonly typmod: number;
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
export function compileExpression(expr: MergeExpr, ctx: ExpressionContext): CompiledExpression {
  // An expression PostgreSQL leaves untyped (all its values untyped) is text.
  const c = typed(compile(expr, { ...ctx, inferred: new Map() }, true), 'text');
  const resultType = c.type === 'unknown' ? 'text' : c.type;
  if (OID_OF[resultType] !== ctx.result.oid) {
    throw cannot(`pgshard would compute ${typeName(OID_OF[resultType])} where PostgreSQL reports ${typeName(ctx.result.oid)}`);
  }
  const efd = ctx.extraFloatDigits;
  const format = ctx.result.format;
  return { evaluate: (read) => encode(c.eval(read), resultType, format, efd), typmod: c.typmod };
}

// ---------------------------------------------------------------------------------------------
// Folding

function constant(type: SqlType, value: Value, typmod = -1): Compiled {
  return { type, eval: () => value, constant: true, typmod };
}

/**
 * A node whose operands are all constant is evaluated now, as PostgreSQL's planner folds it, unless
 * `fold` is off (a part the planner drops unprocessed). The constant keeps the node's type modifier.
 */
function folded(type: SqlType, args: readonly Compiled[], evaluate: (read: FieldReader) => Value, fold: boolean, typmod = -1): Compiled {
  if (args.every((a) => a.constant)) {
    if (!fold) return { type, eval: evaluate, constant: true, typmod };
    const value = evaluate(NO_ROW);
    return constant(type, value, typmod);
  }
  return { type, eval: evaluate, constant: false, typmod };
}

/**
 * A strict function or operator (every one here but COALESCE, NULLIF, CASE, AND, OR and IS NULL):
 * NULL for a NULL operand. The planner makes it NULL outright when an operand is a constant NULL,
 * without evaluating the others; the executor evaluates every operand before it looks for NULLs.
 */
function strict(type: SqlType, args: readonly Compiled[], apply: (values: readonly NonNull[]) => Value, fold: boolean, typmod = -1): Compiled {
  if (fold && args.some((a) => a.constant && a.eval(NO_ROW) === null)) return constant(type, null, typmod);
  const evaluate = (read: FieldReader): Value => {
    const values = args.map((a) => a.eval(read));
    return values.includes(null) ? null : apply(values as NonNull[]);
  };
  return folded(type, args, evaluate, fold, typmod);
}

/**
 * exprTypmod of CASE, COALESCE, GREATEST and LEAST: the type modifier every alternative (already
 * converted to the common type: a converted one has none) agrees on, else -1.
 */
function agreedTypmod(alternatives: readonly Compiled[]): number {
  const first = alternatives[0]?.typmod ?? -1;
  return first >= 0 && alternatives.every((a) => a.typmod === first) ? first : -1;
}

/** An untyped node as a value of `to` (PostgreSQL types literals and parameters by their context); others unchanged. */
function typed(c: Compiled, to: SqlType): Compiled {
  if (c.type !== 'unknown') return c;
  if (c.as === undefined) throw ProxyError.internal('an untyped value that cannot be typed');
  return c.as(to);
}

/** `c` converted to `to` by PostgreSQL's (implicit) cast, a node of its own that the planner folds with its operand. */
function coerce(c: Compiled, to: SqlType, fold: boolean, ctx: Scope): Compiled {
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

function compile(e: MergeExpr, ctx: Scope, fold: boolean): Compiled {
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
    case 'plus':
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
    case 'minmax':
      return compileMinMax(e.op, e.args, ctx, fold);
    default:
      return assertNever(e);
  }
}

function compileColumn(index: number, ctx: Scope): Compiled {
  const t = ctx.types[index];
  if (t === undefined) throw ProxyError.internal(`an expression refers to column ${index + 1} of ${ctx.types.length}`);
  const type = sqlTypeOf(t.oid);
  if (type === null) throw cannot(`an operand of type ${typeName(t.oid)}`);
  if (!t.inspectable) throw cannot(`an operand of type ${typeName(t.oid)} in binary format`);
  return { type, eval: (read) => decode(read(index), t, type), constant: false, typmod: ctx.typmods?.[index] ?? -1 };
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
function compileParam(index: number, ctx: Scope): Compiled {
  const p = ctx.params;
  if (p === null || index < 0 || index >= p.values.length) throw ProxyError.internal(`an expression refers to parameter $${index + 1}, which is not bound`);
  const raw = p.values[index] ?? null;
  const bytes = raw === null ? null : Buffer.from(raw.buffer, raw.byteOffset, raw.byteLength);
  const binary = p.formats[index] === 1;
  const valueAs = (type: SqlType): Compiled => constant(type, bytes === null ? null : paramValue(bytes, binary, type));
  const declared = p.types[index] ?? 0;
  // Declared as `unknown`, a parameter is typed by its context as if undeclared; once typed, it keeps that type.
  if (declared === 0 || declared === Oid.unknown) {
    const inferred = ctx.inferred.get(index);
    if (inferred !== undefined) return valueAs(inferred);
    return {
      ...valueAs('unknown'),
      as: (to) => {
        ctx.inferred.set(index, to);
        return valueAs(to);
      },
    };
  }
  const type = sqlTypeOf(declared);
  if (type === null) throw cannot(`a parameter of type ${typeName(declared)}`);
  return valueAs(type);
}

function paramValue(bytes: Buffer, binary: boolean, type: SqlType): Value {
  if (!binary || type === 'unknown') return inputValue(bytes.toString('utf8'), type);
  return decode(bytes, valueType(OID_OF[type], 1, 'bytes'), type);
}

function compileArith(e: MergeExpr & { kind: 'arith' }, ctx: Scope, fold: boolean): Compiled {
  const [left, right] = resolvePair(compile(e.left, ctx, fold), compile(e.right, ctx, fold), e.op);
  if (!isNumber(left.type) || !isNumber(right.type)) throw cannot(`${left.type} ${e.op} ${right.type}`);
  const type = operatorType(left.type, right.type);
  // PostgreSQL has % for integers and numeric only.
  if (e.op === '%' && isFloat(type)) throw cannot(`${left.type} % ${right.type}`);
  const op = e.op;
  return strict(type, [coerce(left, type, fold, ctx), coerce(right, type, fold, ctx)], ([a, b]) => arith(op, type, a!, b!), fold);
}

/** Unary minus, unary plus and abs(): the operand's own type (an operator's or function's result: no type modifier). */
function compileSigned(kind: 'negate' | 'plus' | 'abs', arg: Compiled, fold: boolean): Compiled {
  // `-'1'` is ambiguous to PostgreSQL (interval has a unary minus); `+'1'` and abs('1') pick double
  // precision, the preferred type.
  const operand = kind === 'negate' ? arg : typed(arg, 'float8');
  const type = operand.type;
  if (!isNumber(type)) throw cannot(kind === 'abs' ? `abs(${type})` : `${kind === 'plus' ? '+' : '-'}${type}`);
  const apply = kind === 'abs' ? (v: NonNull) => abs(type, v) : kind === 'negate' ? (v: NonNull) => negate(type, v) : (v: NonNull) => v;
  return strict(type, [operand], ([v]) => apply(v!), fold);
}

function compileCast(to: SqlType, arg: Compiled, fold: boolean, ctx: Scope): Compiled {
  // A literal or parameter cast is typed so directly (`NULL::int`, `$1::numeric`).
  if (arg.type === 'unknown') return typed(arg, to);
  const from = arg.type;
  if (!isNumber(from) && !(isText(from) && to === 'text')) throw cannot(`a cast from ${from} to ${to}`);
  const c = coerce(arg, to, fold, ctx);
  // A cast without a type modifier leaves none, even to the operand's own type (a RelabelType to -1).
  return c.typmod < 0 ? c : { ...c, typmod: -1 };
}

/** numeric(p, s)'s type modifier (make_numeric_typmod; PostgreSQL 15 stores a negative scale in 11 bits). */
function numericTypmod(precision: number, scale: number): number {
  return ((precision << 16) | (scale & 0x7ff)) + 4;
}

/** The NUMERIC precision and scale PostgreSQL accepts (numerictypmodin; the shards refuse others). */
const MAX_PRECISION = 1000;
const MAX_SCALE = 1000;

function compileTypmod(e: MergeExpr & { kind: 'typmod' }, arg: Compiled, fold: boolean): Compiled {
  if (arg.type !== 'numeric') throw ProxyError.internal(`numeric(${e.precision}, ${e.scale}) of ${arg.type}`);
  const { precision, scale } = e;
  if (precision < 1 || precision > MAX_PRECISION || scale < -MAX_SCALE || scale > MAX_SCALE) throw cannot(`numeric(${precision}, ${scale})`);
  return strict('numeric', [arg], ([v]) => applyNumericTypmod(v as Decimal, precision, scale), fold, numericTypmod(precision, scale));
}

function compileCoalesce(exprs: readonly MergeExpr[], ctx: Scope, fold: boolean): Compiled {
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
  return folded(type, values, evaluate, fold, coalesceTypmod(values.filter((_, i) => args[i]!.processed)));
}

/**
 * The type modifier of COALESCE as the planner leaves it: NULL constants dropped, a first non-NULL
 * constant is the whole expression, a later one the last argument kept; all NULL is a NULL without one.
 */
function coalesceTypmod(processed: readonly Compiled[]): number {
  const kept: Compiled[] = [];
  for (const v of processed) {
    if (v.constant && v.eval(NO_ROW) === null) continue;
    kept.push(v);
    if (v.constant) break;
  }
  const [first] = kept;
  if (first === undefined) return -1;
  return kept.length === 1 && first.constant ? first.typmod : agreedTypmod(kept);
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
  }, fold, operand.typmod);
}

function compileRound(arg: Compiled, digits: number | null, fold: boolean, ctx: Scope): Compiled {
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
function compileConcat(left: Compiled, right: Compiled, fold: boolean, ctx: Scope): Compiled {
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
function compileCase(whens: readonly CaseWhen[], otherwiseExpr: MergeExpr | null, ctx: Scope, fold: boolean): Compiled {
  let reached = fold;
  const arms = whens.map((w) => {
    const condition = compileCondition(w.condition, ctx, reached);
    const known = reached && condition.constant ? condition.eval(NO_ROW) : undefined;
    const processed = reached && (known === undefined || known === true);
    if (known === true) reached = false;
    return { condition, result: compile(w.result, ctx, processed), processed, known };
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
  // As the planner leaves it: the arms under a condition that is not constant, and the ELSE (or
  // the arm under the first constant TRUE one); with no such arm, the CASE is that ELSE alone.
  const kept = results.filter((_, i) => arms[i]!.processed && arms[i]!.known === undefined);
  const decided = arms.findIndex((a) => a.known === true);
  const last = decided >= 0 ? results[decided]! : fallback;
  const typmod = kept.length === 0 ? last.typmod : agreedTypmod([...kept, last]);
  return folded(type, [...conditions, ...results, fallback], evaluate, fold, typmod);
}

/**
 * GREATEST / LEAST: every argument evaluated, in their common type (numbers: the order is their
 * btree order, NaN above every number); NULLs skipped, NULL when all are; between equal values the
 * first one stays. Folded only when every argument is constant (no NULL shortcut).
 */
function compileMinMax(op: 'greatest' | 'least', exprs: readonly MergeExpr[], ctx: Scope, fold: boolean): Compiled {
  const compiled = exprs.map((a) => compile(a, ctx, fold));
  const type = commonType(compiled.map((a) => a.type), op);
  if (!isNumber(type)) throw cannot(`${op}() over ${type} (pgshard compares numbers)`);
  const args = compiled.map((a) => coerce(a, type, fold, ctx));
  const sign = op === 'greatest' ? 1 : -1;
  const evaluate = (read: FieldReader): Value => {
    const values = args.map((a) => a.eval(read));
    let result: Value = null;
    for (const v of values) if (v !== null && (result === null || sign * compareValues(type, v, result) > 0)) result = v;
    return result;
  };
  return folded(type, args, evaluate, fold, agreedTypmod(args));
}

// ---------------------------------------------------------------------------------------------
// Conditions (type bool)

function compileCondition(c: MergeCondition, ctx: Scope, fold: boolean): Compiled {
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
    case 'in-list':
      return compileInList(c, ctx, fold);
    case 'distinct':
      return compileDistinct(c, ctx, fold);
    case 'bool-test': {
      // Folded when its argument is constant; never NULL.
      const arg = compileCondition(c.arg, ctx, fold);
      const test = c.test;
      return folded('bool', [arg], (read) => booleanTest(test, arg.eval(read) as Truth), fold);
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
function compileConnective(kind: 'and' | 'or', conditions: readonly MergeCondition[], ctx: Scope, fold: boolean): Compiled {
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

/**
 * The operands of a comparison operator between `left` and `right` (typed, an untyped one as the
 * other side), converted to the type PostgreSQL's operator compares them in. Numbers only: text
 * compares by a collation the merge does not know (the column's may not be the database's).
 */
function comparable(left: Compiled, right: Compiled, op: string, fold: boolean, ctx: Scope): { left: Compiled; right: Compiled; type: NumberType } {
  const [l, r] = resolvePair(left, right, op);
  if (!isNumber(l.type) || !isNumber(r.type)) throw cannot(`${l.type} ${op} ${r.type} (pgshard compares numbers)`);
  const type = comparisonType(l.type, r.type);
  return { left: coerce(l, type, fold, ctx), right: coerce(r, type, fold, ctx), type };
}

function compileCompare(c: Comparison<MergeExpr>, ctx: Scope, fold: boolean): Compiled {
  const { left, right, type } = comparable(compile(c.left, ctx, fold), compile(c.right, ctx, fold), c.op, fold, ctx);
  const op = c.op;
  return strict('bool', [left, right], ([a, b]) => holds(op, compareValues(type, a!, b!)), fold);
}

/** IS DISTINCT FROM: the `=` operator's comparison, NULL equal to NULL and distinct from anything else; never NULL. */
function compileDistinct(c: Distinct<MergeExpr>, ctx: Scope, fold: boolean): Compiled {
  const { left, right, type } = comparable(compile(c.left, ctx, fold), compile(c.right, ctx, fold), 'IS DISTINCT FROM', fold, ctx);
  // Not strict: folded only when both sides are constant.
  return folded('bool', [left, right], (read) => {
    const a = left.eval(read);
    const b = right.eval(read);
    return a === null || b === null ? (a === null) !== (b === null) : !holds('=', compareValues(type, a, b));
  }, fold);
}

/**
 * `x IN (v1, v2...)` over items without columns: PostgreSQL's `x = ANY (ARRAY[v1, v2...])` (NOT IN:
 * `x <> ALL (...)`). The items are converted to the common type of x and the items (x first: untyped
 * items take its type), then each compares with x by the `=` (`<>`) between x's type and that one:
 * `real_col IN (0.1, 0.2)` compares with 0.1 as a real. Every operand is evaluated, x first; the
 * result is as OR-ed (AND-ed) comparisons: NULL when x is, or when no item decides and one is NULL.
 */
function compileInList(c: InList<MergeExpr>, ctx: Scope, fold: boolean): Compiled {
  const arg = compile(c.arg, ctx, fold);
  const items = c.items.map((i) => compile(i, ctx, fold));
  const what = c.negated ? 'NOT IN' : 'IN';
  const common = commonType([arg.type, ...items.map((i) => i.type)], what);
  if (!isNumber(common)) throw cannot(`${what} over ${common} (pgshard compares numbers)`);
  const elements = items.map((i) => coerce(i, common, fold, ctx));
  const op = c.negated ? '<>' : '=';
  // An untyped subject is typed as the elements (PostgreSQL's operator lookup with one side unknown).
  const subject = typed(arg, common);
  const compared = elements.map((e) => comparable(subject, e, op, fold, ctx));
  const [first] = compared;
  if (first === undefined) throw ProxyError.internal('an IN list without items');
  // The subject converted once (every element has the same type); each test reads the subject
  // (position 0) and its element (position i + 1) among the values.
  const operands = [first.left, ...compared.map((k) => k.right)];
  const tests = compared.map(({ type }, i): Test<readonly Value[]> => (values) => {
    const x = values[0] ?? null;
    const v = values[i + 1] ?? null;
    return x === null || v === null ? null : holds(op, compareValues(type, x, v));
  });
  const combined = c.negated ? allOf(tests) : anyOf(tests);
  return folded('bool', operands, (read) => combined(operands.map((o) => o.eval(read))), fold);
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
 * select_common_type for COALESCE, CASE, GREATEST, LEAST and an IN list: the highest number type, or
 * one text type; unknowns alone are text. Anything else (two text types, booleans) is refused rather
 * than guessed.
 */
export function commonType(types: readonly SqlType[], construct: 'coalesce' | 'CASE' | 'greatest' | 'least' | 'IN' | 'NOT IN'): SqlType {
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
