// SHARD TABLE: adds a sharded-table rule at runtime. The grammar (parseShardTable) is pure; execution
// checks the rule against the running config (database, shard count, existing rules) and saves it
// through ctx.sharding, which persists it and rebuilds the database's routing snapshot.

import type { ListPieceConfig, RangePieceConfig, ShardedTableConfig, ShardKeyTypeName } from '../../topology/config/config-types.js';
import { canonicalValue, checkRule, keyValueProblem, type RuleProblem } from '../../topology/sharding/rule-checks.js';
import { ProxyError } from '../errors.js';
import { tagResult, type ParsedAdminCommand } from './admin-command.js';
import type { TokenReader } from './admin-tokens.js';
import { addRule, readInDatabase, readTableName, refuseExistingRule, resolveDatabase } from './rule-commands.js';

export const SHARD_TABLE_SYNTAX =
  'SHARD TABLE name BY column [TYPE int2|int4|int8|text|varchar|uuid] ' +
  '[USING HASH | USING RANGE (from TO to ON shard, ...) | USING LIST (value, ... ON shard, ...) [DEFAULT shard]] [IN DATABASE db]';

const KEY_TYPES: Readonly<Record<string, ShardKeyTypeName>> = {
  INT2: 'int2', SMALLINT: 'int2',
  INT4: 'int4', INT: 'int4', INTEGER: 'int4',
  INT8: 'int8', BIGINT: 'int8',
  TEXT: 'text', VARCHAR: 'varchar', UUID: 'uuid',
};

/** A value as written, before the key type is known (TYPE may come after USING). */
interface WrittenValue {
  readonly text: string;
  readonly quoted: boolean;
  /** An unquoted number that is not an integer (1.5, 1e3). */
  readonly fractional: boolean;
}

export interface ShardTableStatement {
  readonly rule: ShardedTableConfig;
  /** From IN DATABASE; null: the config's only database. */
  readonly database: string | null;
}

function readValue(r: TokenReader, what: string, where: string): WrittenValue {
  const t = r.peek();
  if (t?.kind === 'string') {
    r.next();
    return { text: t.text, quoted: true, fractional: false };
  }
  if (t?.kind === 'number') {
    r.next();
    return { text: t.text, quoted: false, fractional: !t.integer };
  }
  return r.fail(what, where);
}

/** A range bound: a value, or MINVALUE (lower) / MAXVALUE (upper) for an unbounded end (null). */
function readBound(r: TokenReader, side: 'lower' | 'upper', where: string): WrittenValue | null {
  const unbounded = side === 'lower' ? 'MINVALUE' : 'MAXVALUE';
  const wrong = side === 'lower' ? 'MAXVALUE' : 'MINVALUE';
  if (r.acceptKeyword(unbounded)) return null;
  if (r.isKeyword(wrong))
    throw ProxyError.adminSyntax(`${r.command}: ${wrong} cannot be ${side === 'lower' ? 'a lower' : 'an upper'} bound ${where}; use ${unbounded}`, `Syntax: ${r.syntax}`);
  return readValue(r, `${side === 'lower' ? 'a lower bound' : 'an upper bound'} (a value or ${unbounded})`, where);
}

function shown(v: WrittenValue | null, unbounded: string): string {
  return v === null ? unbounded : v.quoted ? `'${v.text}'` : v.text;
}

interface WrittenRange { from: WrittenValue | null; to: WrittenValue | null; shard: number }
interface WrittenList { values: WrittenValue[]; shard: number }

function readRanges(r: TokenReader): WrittenRange[] {
  r.expectPunct('(', 'after USING RANGE');
  const ranges: WrittenRange[] = [];
  for (;;) {
    const n = ranges.length + 1;
    const from = readBound(r, 'lower', n === 1 ? 'after USING RANGE (' : `at the start of range ${n}`);
    r.expectKeyword('TO', `after the lower bound ${shown(from, 'MINVALUE')}`);
    const to = readBound(r, 'upper', 'after TO');
    r.expectKeyword('ON', `after the upper bound ${shown(to, 'MAXVALUE')}`);
    const shard = r.expectIndex('a shard number (0, 1, ...)', 'after ON');
    ranges.push({ from, to, shard });
    if (r.acceptPunct(')')) return ranges;
    if (!r.acceptPunct(',')) r.fail('"," or ")"', `after ON ${shard}`);
  }
}

function readLists(r: TokenReader): WrittenList[] {
  r.expectPunct('(', 'after USING LIST');
  const lists: WrittenList[] = [];
  let values: WrittenValue[] = [];
  for (;;) {
    const where = values.length > 0 ? 'after ","' : lists.length === 0 ? 'after USING LIST (' : `after ON ${lists[lists.length - 1]!.shard},`;
    const value = readValue(r, 'a value (an integer or a quoted string)', where);
    values.push(value);
    if (r.acceptPunct(',')) continue;
    r.expectKeyword('ON', `after the value ${shown(value, '')}`);
    const shard = r.expectIndex('a shard number (0, 1, ...)', 'after ON');
    lists.push({ values, shard });
    values = [];
    if (r.acceptPunct(')')) return lists;
    if (!r.acceptPunct(',')) r.fail('"," or ")"', `after ON ${shard}`);
  }
}

/** Reads a written value as a key of `type` (throws 42804 when it cannot be one). */
function typedValue(v: WrittenValue, type: ShardKeyTypeName, table: string): string | number {
  const value: string | number = v.quoted ? v.text : v.fractional ? v.text : Number.isSafeInteger(Number(v.text)) ? Number(v.text) : v.text;
  let problem: string | undefined;
  if (!v.quoted && v.fractional && (type === 'int2' || type === 'int4' || type === 'int8')) problem = `${v.text} is not an integer (the key type is ${type})`;
  else if (!v.quoted && type === 'uuid') problem = `${v.text} is not a uuid (write a uuid quoted, e.g. '123e4567-e89b-12d3-a456-426614174000')`;
  else problem = keyValueProblem(value, type);
  if (problem !== undefined) throw ProxyError.ruleValueMismatch(`SHARD TABLE ${table}: ${problem}`);
  return canonicalValue(value, type);
}

function ruleError(table: string, problem: RuleProblem): ProxyError {
  const message = `SHARD TABLE ${table}: ${problem.message}`;
  switch (problem.kind) {
    case 'undefined-shard':
      return ProxyError.undefinedShard(message);
    case 'type-mismatch':
      return ProxyError.ruleValueMismatch(message);
    case 'invalid-definition':
      return ProxyError.invalidRule(message);
  }
}

/** The grammar of SHARD TABLE after its two words. Throws 42601 (syntax), 42804 (a value of the wrong type), 42P17 (empty or overlapping ranges, a value listed twice). */
export function parseShardTable(r: TokenReader): ShardTableStatement {
  const name = readTableName(r);
  r.expectKeyword('BY', `after the table name ${name}`);
  const column = r.expectIdentifier('the shard key column', 'after BY');
  let type: ShardKeyTypeName | null = null;
  let method: 'hash' | 'range' | 'list' | null = null;
  let ranges: WrittenRange[] = [];
  let lists: WrittenList[] = [];
  let defaultShard: number | null = null;
  let database: string | null = null;
  let seenDatabase = false;
  let after = `after the column ${column}`;
  const once = (clause: string, seen: boolean) => {
    if (seen) throw ProxyError.adminSyntax(`${r.command}: ${clause} is given twice`, `Syntax: ${r.syntax}`);
  };
  while (!r.atEnd()) {
    if (r.acceptKeyword('TYPE')) {
      once('TYPE', type !== null);
      const t = r.peek();
      const found = t?.kind === 'word' ? KEY_TYPES[t.upper] : undefined;
      if (found === undefined) r.fail('a key type (int2, int4, int8, text, varchar or uuid)', 'after TYPE');
      r.next();
      type = found;
      after = `after TYPE ${found}`;
    } else if (r.acceptKeyword('USING')) {
      once('USING', method !== null);
      if (r.acceptKeyword('HASH')) {
        method = 'hash';
        after = 'after USING HASH';
      } else if (r.acceptKeyword('RANGE')) {
        method = 'range';
        ranges = readRanges(r);
        after = 'after the ranges';
      } else if (r.acceptKeyword('LIST')) {
        method = 'list';
        lists = readLists(r);
        after = 'after the lists';
        if (r.acceptKeyword('DEFAULT')) {
          defaultShard = r.expectIndex('a shard number (0, 1, ...)', 'after DEFAULT');
          after = `after DEFAULT ${defaultShard}`;
        }
      } else {
        r.fail('HASH, RANGE or LIST', 'after USING');
      }
    } else if (r.isKeyword('IN')) {
      once('IN DATABASE', seenDatabase);
      database = readInDatabase(r);
      seenDatabase = true;
      after = `after IN DATABASE ${database ?? ''}`;
    } else if (r.isKeyword('DEFAULT')) {
      once('DEFAULT', defaultShard !== null);
      throw ProxyError.adminSyntax(`${r.command}: DEFAULT goes right after USING LIST (...)`, `Syntax: ${r.syntax}`);
    } else {
      r.fail('TYPE, USING or IN DATABASE', after);
    }
  }
  const resolved = method ?? 'hash';
  if (resolved !== 'hash' && type === null)
    throw ProxyError.adminSyntax(
      `${r.command}: expected TYPE with USING ${resolved.toUpperCase()} (${resolved === 'range' ? 'bounds' : 'values'} are compared as the key type)`,
      `Syntax: ${r.syntax}`,
    );
  const keyType = type;
  const value = (v: WrittenValue) => typedValue(v, keyType!, name);
  const rule: ShardedTableConfig = {
    name,
    column,
    type,
    method: resolved,
    ranges: ranges.map((p): RangePieceConfig => ({ from: p.from === null ? null : value(p.from), to: p.to === null ? null : value(p.to), shard: p.shard })),
    lists: lists.map((p): ListPieceConfig => ({ values: p.values.map(value), shard: p.shard })),
    default: defaultShard,
  };
  const problem = checkRule(rule, null)[0];
  if (problem !== undefined) throw ruleError(name, problem);
  return { rule, database };
}

export const shardTable: ParsedAdminCommand = {
  words: ['SHARD', 'TABLE'],
  help: 'SHARD TABLE name BY column ... — shard a table (rule saved in state.dir)',
  syntax: SHARD_TABLE_SYNTAX,
  parse: (r) => {
    const { rule, database } = parseShardTable(r);
    return async (ctx) => {
      const db = resolveDatabase(ctx, database, 'SHARD TABLE', SHARD_TABLE_SYNTAX);
      const problem = checkRule(rule, db.shards.length).find((p) => p.kind === 'undefined-shard');
      if (problem !== undefined) throw ruleError(rule.name, problem);
      refuseExistingRule(ctx, db.name, rule.name);
      await addRule(ctx, db.name, rule);
      return tagResult('SHARD TABLE');
    };
  },
};
