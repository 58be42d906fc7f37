// Sharding rules added at runtime (admin SHARD TABLE / REFERENCE TABLE), kept in
// `<state.dir>/sharding-rules.json` so they survive a restart, and their merge with the config's rules.
//
// Owns: the file format (a `version` and, per database, `tables` / `referenceTables` in the config's
// own shape), validating it on load with problems that name the file and the entry, and replacing it
// atomically (temp file, fsync, rename, fsync of the directory: after a crash the file is either the
// old one or the new one, never a mix). Must not: know about sockets or admin syntax, or mutate a rules
// snapshot in place (callers get frozen values and rebuild their snapshot after `add`).
//
// One proxy owns a state directory (several proxies share rules through etcd, not this file).

import { randomBytes } from 'node:crypto';
import { mkdir, open, readdir, readFile, rename, rm } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { z } from 'zod';
import { shardingIssues, shardingSchema } from '../config/config-schema.js';
import type { DatabaseConfig, ShardedTableConfig, ShardingConfig } from '../config/config-types.js';
import { formatPath } from '../config/load-config.js';
import { checkRule, ruleKey } from './rule-checks.js';

export const RULES_FILE_NAME = 'sharding-rules.json';
/** The file format this code reads and writes. */
export const RULES_FORMAT_VERSION = 1;
/** Temp files are `<file>.tmp-<pid>-<random>`; one left by a crash is ignored (and removed) on open. */
const TEMP_INFIX = '.tmp-';

export interface ReferenceRule {
  /** `table` or `schema.table`, as in `sharding.referenceTables`. */
  readonly reference: string;
}
export type RuntimeRule = ShardedTableConfig | ReferenceRule;

export function isReferenceRule(rule: RuntimeRule): rule is ReferenceRule {
  return 'reference' in rule;
}

/** The rules of one database that were added at runtime, in the config's shape. */
export interface ShardingConfigPart {
  readonly tables: readonly ShardedTableConfig[];
  readonly referenceTables: readonly string[];
}

const EMPTY_PART: ShardingConfigPart = Object.freeze({ tables: Object.freeze([]), referenceTables: Object.freeze([]) });

/** The rules file cannot be used: unreadable, not JSON, an unknown version, or bad entries (all listed). */
export class RulesFileError extends Error {
  override readonly name = 'RulesFileError';
  constructor(
    readonly file: string,
    /** One line per problem, `path: message`, e.g. `databases.app.tables[1].type (table "orders"): ...`. */
    readonly problems: readonly string[],
  ) {
    super(
      problems.length === 1
        ? `${file}: ${problems[0]!}`
        : `${file}: ${problems.length} problems with the runtime sharding rules:\n${problems.map((p) => `  ${p}`).join('\n')}`,
    );
  }
}

/**
 * A rule that cannot be added. `sqlstate` is the standard code for it: 42710 duplicate_object (the
 * table already has a runtime rule), 42P17 invalid_object_definition (the rule is not valid), 58030
 * io_error (the file could not be written; nothing changed).
 */
export class RuleError extends Error {
  override readonly name = 'RuleError';
  constructor(
    readonly sqlstate: '42710' | '42P17' | '58030',
    message: string,
  ) {
    super(message);
  }
}

// ---------------------------------------------------------------------------------------- the format

const partSchema = z.strictObject({
  tables: shardingSchema.shape.tables,
  referenceTables: shardingSchema.shape.referenceTables,
});

const fileSchema = z.strictObject({
  version: z.literal(RULES_FORMAT_VERSION),
  databases: z.record(z.string().min(1), partSchema),
});

interface Problem {
  path: (string | number)[];
  message: string;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function typeName(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'a list';
  if (typeof value === 'object') return 'an object';
  return `a ${typeof value}`;
}

/** Short wording for zod issues; like the config loader, never quotes the value itself. */
function describeIssue(issue: z.core.$ZodRawIssue): string | undefined {
  switch (issue.code) {
    case 'invalid_type':
      return issue.input === undefined ? 'required' : `expected ${issue.expected === 'int' ? 'an integer' : issue.expected}, got ${typeName(issue.input)}`;
    case 'unrecognized_keys':
      return `unknown key${issue.keys.length === 1 ? '' : 's'} ${issue.keys.map((k) => JSON.stringify(k)).join(', ')}`;
    case 'invalid_value':
      return `must be one of ${issue.values.map((v) => JSON.stringify(v)).join(', ')}`;
    case 'too_small':
      return issue.origin === 'string' || issue.origin === 'array' ? 'must not be empty' : `must be at least ${String(issue.minimum)}`;
    case 'too_big':
      return `must be at most ${String(issue.maximum)}`;
    case 'custom':
    case 'invalid_element':
    case 'invalid_format':
    case 'invalid_key':
    case 'invalid_union':
    case 'not_multiple_of':
      return undefined;
  }
}

/** Every problem of one database's part (raw, as read or about to be written); `at` is its path. */
function partProblems(raw: unknown, at: (string | number)[]): Problem[] {
  const problems: Problem[] = [];
  const parsed = partSchema.safeParse(raw, { error: describeIssue });
  if (!parsed.success) for (const issue of parsed.error.issues) problems.push({ path: [...at, ...(issue.path as (string | number)[])], message: issue.message });
  // Cross-field rules shared with the config file (method/pieces agreement, integer values, no table
  // twice by its written name); shard indexes are checked against the config later (effectiveRules).
  for (const issue of shardingIssues(raw, Number.POSITIVE_INFINITY, at)) problems.push({ path: issue.path, message: issue.message });
  if (!parsed.success) return problems;

  // The planner keys rules by unqualified name: `orders` and `sales.orders` would be one rule.
  const names = [...parsed.data.tables.map((t, i) => [t.name, ['tables', i]] as const), ...parsed.data.referenceTables.map((r, i) => [r, ['referenceTables', i]] as const)];
  const first = new Map<string, string>();
  for (const [name, path] of names) {
    const other = first.get(ruleKey(name));
    if (other === undefined) first.set(ruleKey(name), name);
    else if (other !== name) problems.push({ path: [...at, ...path], message: `${JSON.stringify(name)} and ${JSON.stringify(other)} are the same table to the planner (rules match by table name)` });
  }
  // checkRule repeats some of shardingIssues' checks (in the admin grammar's words): one problem per path.
  const reported = new Set(problems.map((p) => formatPath(p.path)));
  parsed.data.tables.forEach((table, i) => {
    for (const p of checkRule(table, null)) {
      const path = [...at, 'tables', i, ...p.path];
      if (!reported.has(formatPath(path))) problems.push({ path, message: p.message });
    }
  });
  return problems;
}

/** `databases.app.tables[1].type (table "orders"): message` — the entry named by its table too. */
function formatProblems(raw: unknown, problems: Problem[]): string[] {
  const out: string[] = [];
  for (const p of problems) {
    let note = '';
    const [top, db, list, index] = p.path;
    if (top === 'databases' && typeof db === 'string' && (list === 'tables' || list === 'referenceTables') && typeof index === 'number' && isRecord(raw)) {
      const dbs = raw['databases'];
      const entries = isRecord(dbs) && isRecord(dbs[db]) ? dbs[db][list] : undefined;
      const entry: unknown = Array.isArray(entries) ? entries[index] : undefined;
      const name = list === 'tables' ? (isRecord(entry) ? entry['name'] : undefined) : entry;
      if (typeof name === 'string') note = ` (table ${JSON.stringify(name)})`;
    }
    const line = p.path.length === 0 ? p.message : `${formatPath(p.path)}${note}: ${p.message}`;
    if (!out.includes(line)) out.push(line);
  }
  return out;
}

interface FileState {
  readonly databases: ReadonlyMap<string, ShardingConfigPart>;
}

function parseFile(file: string, text: string): FileState {
  if (text.trim() === '') throw new RulesFileError(file, [`the file is empty (expected {"version": ${RULES_FORMAT_VERSION}, "databases": {...}})`]);
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (err) {
    throw new RulesFileError(file, [`not valid JSON: ${err instanceof Error ? err.message : String(err)}`]);
  }
  if (!isRecord(raw)) throw new RulesFileError(file, [`expected a JSON object with "version" and "databases", got ${typeName(raw)}`]);
  const version = raw['version'];
  if (version === undefined) throw new RulesFileError(file, [`version: required (this pgshard writes version ${RULES_FORMAT_VERSION})`]);
  if (version !== RULES_FORMAT_VERSION)
    throw new RulesFileError(file, [
      `version: format ${JSON.stringify(version)} is not one this pgshard reads (it reads version ${RULES_FORMAT_VERSION}); was the file written by a newer pgshard?`,
    ]);

  const problems: Problem[] = [];
  const parsed = fileSchema.safeParse(raw, { error: describeIssue });
  if (!parsed.success) {
    // Entry problems come from partProblems (with the cross-field ones); keep only the file-level ones here.
    for (const issue of parsed.error.issues) if (issue.path.length < 3) problems.push({ path: issue.path as (string | number)[], message: issue.message });
  }
  const dbs = raw['databases'];
  if (isRecord(dbs)) for (const [name, part] of Object.entries(dbs)) problems.push(...partProblems(part, ['databases', name]));
  if (problems.length > 0 || !parsed.success) throw new RulesFileError(file, formatProblems(raw, problems));
  const databases = new Map<string, ShardingConfigPart>();
  for (const [name, part] of Object.entries(parsed.data.databases)) databases.set(name, deepFreeze(part));
  return { databases };
}

function serialize(state: FileState): string {
  const databases: Record<string, ShardingConfigPart> = {};
  for (const [name, part] of state.databases) databases[name] = part;
  return `${JSON.stringify({ version: RULES_FORMAT_VERSION, databases }, null, 2)}\n`;
}

function deepFreeze<T>(value: T): T {
  if (typeof value === 'object' && value !== null && !Object.isFrozen(value)) {
    for (const v of Object.values(value)) deepFreeze(v);
    Object.freeze(value);
  }
  return value;
}

function errorCode(err: unknown): string | undefined {
  return isRecord(err) && typeof err['code'] === 'string' ? err['code'] : undefined;
}

// ------------------------------------------------------------------------------------ atomic writes

/** fsync of a directory makes a rename in it durable; platforms that cannot (EISDIR, EINVAL, EPERM) skip it. */
async function syncDirectory(dir: string): Promise<void> {
  const handle = await open(dir, 'r');
  try {
    await handle.sync();
  } catch (err) {
    if (!['EISDIR', 'EINVAL', 'EPERM', 'EBADF'].includes(errorCode(err) ?? '')) throw err;
  } finally {
    await handle.close();
  }
}

/** Replaces `file` with `text` so that a crash leaves either the old or the new content. */
export async function writeFileAtomically(file: string, text: string): Promise<void> {
  const dir = dirname(file);
  const temp = `${file}${TEMP_INFIX}${process.pid}-${randomBytes(4).toString('hex')}`;
  const handle = await open(temp, 'wx', 0o644);
  try {
    try {
      await handle.writeFile(text, 'utf8');
      await handle.sync();
    } finally {
      await handle.close();
    }
    await rename(temp, file);
  } catch (err) {
    await rm(temp, { force: true });
    throw err;
  }
  await syncDirectory(dir);
}

// ------------------------------------------------------------------------------------------ merging

export interface MergedRules {
  /** The config's rules plus the runtime rules for tables the config says nothing about. */
  readonly effective: ShardingConfig;
  /** Runtime rules left out because the config file has a rule for the same table (the config wins). */
  readonly shadowed: readonly string[];
}

/**
 * The rules a database runs with: the config's, then the runtime ones for other tables. A runtime rule
 * for a table the config also names (by unqualified name, as the planner matches) is shadowed.
 */
export function mergeRules(fromConfig: ShardingConfig, runtime: ShardingConfigPart): MergedRules {
  const inConfig = new Set([...fromConfig.tables.map((t) => ruleKey(t.name)), ...fromConfig.referenceTables.map(ruleKey)]);
  const shadowed: string[] = [];
  const keep = (name: string) => {
    if (!inConfig.has(ruleKey(name))) return true;
    shadowed.push(name);
    return false;
  };
  const tables = runtime.tables.filter((t) => keep(t.name));
  const referenceTables = runtime.referenceTables.filter(keep);
  if (tables.length === 0 && referenceTables.length === 0) return deepFreeze({ effective: fromConfig, shadowed });
  return deepFreeze({
    effective: {
      modulus: fromConfig.modulus,
      tables: [...fromConfig.tables, ...tables],
      referenceTables: [...fromConfig.referenceTables, ...referenceTables],
    },
    shadowed,
  });
}

// ---------------------------------------------------------------------------------------- the store

export class RulesStore {
  private state: FileState;
  /** Adds run one at a time, each writing the file from the state the previous one left. */
  private queue: Promise<unknown> = Promise.resolve();

  private constructor(
    /** The rules file: `<dir>/sharding-rules.json`. */
    readonly file: string,
    state: FileState,
  ) {
    this.state = state;
  }

  /**
   * Opens (creating the directory if needed) and validates the rules file; a missing file means no
   * runtime rules. Temp files a crash left behind are ignored and removed. Throws RulesFileError.
   */
  static async open(dir: string): Promise<RulesStore> {
    const file = join(dir, RULES_FILE_NAME);
    try {
      await mkdir(dir, { recursive: true });
    } catch (err) {
      throw new RulesFileError(file, [`the state directory cannot be created: ${errorCode(err) ?? String(err)}`]);
    }
    let names: string[];
    try {
      names = await readdir(dir);
    } catch (err) {
      throw new RulesFileError(file, [`the state directory cannot be read: ${errorCode(err) ?? String(err)}`]);
    }
    for (const name of names) {
      if (name.startsWith(`${RULES_FILE_NAME}${TEMP_INFIX}`)) await rm(join(dir, name), { force: true }).catch(() => undefined);
    }
    let text: string;
    try {
      text = await readFile(file, 'utf8');
    } catch (err) {
      if (errorCode(err) === 'ENOENT') return new RulesStore(file, { databases: new Map() });
      throw new RulesFileError(file, [`cannot be read: ${errorCode(err) ?? String(err)}`]);
    }
    return new RulesStore(file, parseFile(file, text));
  }

  /** Databases that have runtime rules (possibly ones the config no longer has). */
  databases(): readonly string[] {
    return [...this.state.databases.keys()];
  }

  /** The rules added at runtime for `database` (frozen; empty when none). */
  rulesFor(database: string): ShardingConfigPart {
    return this.state.databases.get(database) ?? EMPTY_PART;
  }

  /**
   * The rules `db` runs with (mergeRules of its config and runtime rules). Throws RulesFileError when a
   * runtime rule places rows on a shard the config does not have (the shard count went down): routing
   * without that rule would silently read the wrong shard.
   */
  effectiveRules(db: DatabaseConfig): MergedRules {
    const runtime = this.rulesFor(db.name);
    const merged = mergeRules(db.sharding, runtime);
    const problems: Problem[] = [];
    runtime.tables.forEach((table, i) => {
      if (merged.shadowed.includes(table.name)) return;
      for (const p of checkRule(table, db.shards.length))
        if (p.kind === 'undefined-shard') problems.push({ path: ['databases', db.name, 'tables', i, ...p.path], message: p.message });
    });
    if (problems.length > 0) throw new RulesFileError(this.file, formatProblems({ version: RULES_FORMAT_VERSION, databases: { [db.name]: runtime } }, problems));
    return merged;
  }

  /**
   * Adds a rule for `database` and saves the file before the rule is visible in rulesFor. Throws
   * RuleError: 42710 when the table already has a runtime rule, 42P17 when the rule is invalid, 58030
   * when the file cannot be written (then nothing changed). Whether the config already has a rule for
   * the table is the caller's check (the store does not know the config).
   */
  add(database: string, rule: RuntimeRule): Promise<void> {
    const run = this.queue.then(() => this.addNow(database, rule));
    this.queue = run.catch(() => undefined);
    return run;
  }

  private async addNow(database: string, rule: RuntimeRule): Promise<void> {
    if (database === '') throw new RuleError('42P17', 'the database name is empty');
    const current = this.rulesFor(database);
    const name = isReferenceRule(rule) ? rule.reference : rule.name;
    if (typeof name !== 'string') throw new RuleError('42P17', 'the rule has no table name');
    const existing = [...current.tables.map((t) => t.name), ...current.referenceTables].find((n) => ruleKey(n) === ruleKey(name));
    if (existing !== undefined)
      throw new RuleError('42710', `table ${JSON.stringify(ruleKey(name))} already has a runtime sharding rule in database ${JSON.stringify(database)} (for ${JSON.stringify(existing)})`);
    const candidate = isReferenceRule(rule)
      ? { tables: current.tables, referenceTables: [...current.referenceTables, rule.reference] }
      : { tables: [...current.tables, rule], referenceTables: current.referenceTables };
    const problems = partProblems(candidate, ['databases', database]);
    if (problems.length > 0) throw new RuleError('42P17', `invalid sharding rule: ${formatProblems({ databases: { [database]: candidate } }, problems).join('; ')}`);
    const part = deepFreeze(partSchema.parse(candidate));
    const databases = new Map(this.state.databases);
    databases.set(database, part);
    const next: FileState = { databases };
    try {
      await writeFileAtomically(this.file, serialize(next));
    } catch (err) {
      const reason = err instanceof Error ? err.message : String(err);
      throw new RuleError('58030', `could not save the rule to ${this.file}: ${reason}`);
    }
    this.state = next;
  }
}
