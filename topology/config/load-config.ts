// Config loading: read YAML/JSON, interpolate ${ENV} references, validate with the schema, report every
// problem at once with its key path, then deep-freeze. Problem messages never contain a config value
// (so never a password): only key paths, types, ranges, allowed values, names and variable names.

import { accessSync, constants as fsConstants, readFileSync, statSync } from 'node:fs';
import { dirname, isAbsolute, resolve } from 'node:path';
import { LineCounter, parseDocument, type YAMLError } from 'yaml';
import type { z } from 'zod';
import { configObjectSchema, crossFieldIssues, knownKeysAt, suggestKey } from './config-schema.js';
import type { Config } from './config-types.js';

export interface ConfigProblem {
  /** Key path such as `databases[0].shards[1].primary.port`; '' or the file name for the whole file. */
  path: string;
  message: string;
}

export class ConfigError extends Error {
  override readonly name = 'ConfigError';
  readonly problems: ConfigProblem[];

  constructor(problems: ConfigProblem[]) {
    super(problems.map(formatProblem).join('\n'));
    this.problems = problems;
  }
}

export function formatProblem(problem: ConfigProblem): string {
  return problem.path === '' ? problem.message : `${problem.path}: ${problem.message}`;
}

/** The placeholder that replaces a password in redactConfig. */
export const REDACTED = '********';

type Path = readonly PropertyKey[];

/** `['databases', 0, 'shards', 1, 'name']` → `databases[0].shards[1].name`. */
export function formatPath(path: Path): string {
  return path
    .map((seg, i) => {
      if (typeof seg === 'number') return `[${seg}]`;
      const s = String(seg);
      if (!/^[A-Za-z_$][\w$-]*$/.test(s)) return `[${JSON.stringify(s)}]`;
      return i === 0 ? s : `.${s}`;
    })
    .join('');
}

function startsWith(path: Path, prefix: Path): boolean {
  return prefix.length <= path.length && prefix.every((seg, i) => seg === path[i]);
}

/**
 * Orders paths like the documentation: known keys in schema order (unknown keys after them, in input
 * order), list entries by index, a parent before its children.
 */
function comparePaths(a: Path, b: Path): number {
  for (let i = 0; i < Math.min(a.length, b.length); i++) {
    const x = a[i];
    const y = b[i];
    if (x === y) continue;
    if (typeof x === 'number' && typeof y === 'number') return x - y;
    const known = knownKeysAt(a.slice(0, i)) ?? [];
    const rank = (k: PropertyKey | undefined) => {
      const r = known.indexOf(String(k));
      return r < 0 ? known.length : r;
    };
    return rank(x) - rank(y);
  }
  return a.length - b.length;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

// ----------------------------------------------------------------------------------------- ${ENV}

// `$${` is a literal `${`; `${NAME}` is replaced by the variable; `${NAME:-fallback}` falls back when
// NAME is unset or empty.
const REFERENCE = /\$\$\{|\$\{([^}]*)\}/g;
const REFERENCE_BODY = /^([A-Za-z_][A-Za-z0-9_]*)(?::-(.*))?$/s;

interface EnvProblem {
  path: Path;
  message: string;
}

function interpolateString(value: string, path: Path, env: NodeJS.ProcessEnv, problems: EnvProblem[]): string {
  return value.replace(REFERENCE, (match: string, body: string | undefined) => {
    if (match === '$${') return '${';
    const m = REFERENCE_BODY.exec(body ?? '');
    if (m === null) {
      // Do not echo the reference: it may be part of a password that happens to contain "${".
      problems.push({
        path,
        message: 'invalid environment variable reference (expected ${NAME} or ${NAME:-default}; write $${ for a literal ${)',
      });
      return match;
    }
    const name = m[1] ?? '';
    const fallback = m[2];
    const v = env[name];
    if (fallback !== undefined) return v === undefined || v === '' ? fallback : v;
    if (v === undefined) {
      problems.push({ path, message: `environment variable ${name} is not set` });
      return match;
    }
    return v;
  });
}

/** A copy of `value` with ${NAME} references in every string value (not keys) replaced. */
function interpolate(
  value: unknown,
  path: Path,
  env: NodeJS.ProcessEnv,
  problems: EnvProblem[],
  ancestors: Set<object>,
): unknown {
  if (typeof value === 'string') return interpolateString(value, path, env, problems);
  if (typeof value !== 'object' || value === null) return value;
  if (ancestors.has(value)) {
    problems.push({ path, message: 'cyclic reference' });
    return null;
  }
  ancestors.add(value);
  try {
    if (Array.isArray(value)) return value.map((v: unknown, i) => interpolate(v, [...path, i], env, problems, ancestors));
    // Object.fromEntries defines properties, so a "__proto__" key stays an (unknown) key.
    return Object.fromEntries(
      Object.entries(value).map(([k, v]) => [k, interpolate(v, [...path, k], env, problems, ancestors)]),
    );
  } finally {
    ancestors.delete(value);
  }
}

// -------------------------------------------------------------------------------------- messages

function typeName(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'a list';
  switch (typeof value) {
    case 'string':
      return 'a string';
    case 'number':
      return Number.isFinite(value) ? 'a number' : 'a non-finite number';
    case 'boolean':
      return 'a boolean';
    case 'object':
      return 'a mapping';
    case 'undefined':
      return 'nothing';
    case 'bigint':
    case 'symbol':
    case 'function':
      return `a ${typeof value}`;
  }
  return 'a value';
}

const EXPECTED: Record<string, string> = {
  string: 'a string',
  number: 'a number',
  int: 'an integer',
  boolean: 'true or false',
  object: 'a mapping (key: value)',
  array: 'a list',
};

/**
 * Our wording for zod's issues. It only ever mentions the type of the input, never the input itself.
 * Returning undefined keeps zod's message (custom issues carry their own).
 */
function describeIssue(issue: z.core.$ZodRawIssue): string | undefined {
  switch (issue.code) {
    case 'invalid_type': {
      if (issue.input === undefined) return 'required';
      if (issue.expected === 'int' && typeof issue.input === 'number' && Number.isFinite(issue.input))
        return 'must be an integer';
      return `expected ${EXPECTED[issue.expected] ?? issue.expected}, got ${typeName(issue.input)}`;
    }
    case 'too_small': {
      const min = Number(issue.minimum);
      if (issue.origin === 'array') return min <= 1 ? 'must not be empty' : `must have at least ${min} entries`;
      if (issue.origin === 'string') return min <= 1 ? 'must not be empty' : `must be at least ${min} characters`;
      return issue.inclusive === false ? `must be greater than ${min}` : `must be at least ${min}`;
    }
    case 'too_big': {
      const max = Number(issue.maximum);
      if (issue.origin === 'array') return `must have at most ${max} entries`;
      if (issue.origin === 'string') return `must be at most ${max} characters`;
      return issue.inclusive === false ? `must be less than ${max}` : `must be at most ${max}`;
    }
    case 'invalid_value':
      return `must be one of ${issue.values.map((v) => JSON.stringify(v)).join(', ')}`;
    case 'unrecognized_keys':
      return 'unknown key';
    case 'invalid_union':
    case 'invalid_key':
    case 'invalid_element':
    case 'invalid_format':
    case 'not_multiple_of':
    case 'custom':
      return undefined;
  }
}

function zodProblems(issues: readonly z.core.$ZodIssue[]): { path: Path; message: string }[] {
  const out: { path: Path; message: string }[] = [];
  for (const issue of issues) {
    if (issue.code === 'unrecognized_keys') {
      const known = knownKeysAt(issue.path);
      for (const key of issue.keys) {
        const suggestion = known === undefined ? undefined : suggestKey(key, known);
        out.push({
          path: [...issue.path, key],
          message: suggestion === undefined ? 'unknown key' : `unknown key (did you mean "${suggestion}"?)`,
        });
      }
      continue;
    }
    // z.number().int() also checks the safe-integer range; that message only adds noise next to ours.
    const safeIntRange =
      (issue.code === 'too_big' || issue.code === 'too_small') && issue.origin === 'int' &&
      issues.some((other) => other !== issue && formatPath(other.path) === formatPath(issue.path));
    if (safeIntRange) continue;
    out.push({ path: issue.path, message: issue.message });
  }
  return out;
}

// -------------------------------------------------------------------------------------- validation

interface FileContext {
  /** The config file's name, used as the path of problems about the whole file. */
  file: string;
  /** Relative TLS file names are resolved against this directory. */
  dir: string;
}

function describeFsError(err: unknown): string {
  const code = isRecord(err) ? err['code'] : undefined;
  switch (code) {
    case 'ENOENT':
      return 'no such file';
    case 'EACCES':
    case 'EPERM':
      return 'permission denied';
    case 'EISDIR':
      return 'is a directory';
    default:
      return err instanceof Error ? err.message : String(err);
  }
}

/** Problem with a file the config refers to, or undefined when it is a readable regular file. */
function unreadableFile(file: string): string | undefined {
  try {
    if (!statSync(file).isFile()) return `${JSON.stringify(file)} is not a regular file`;
    accessSync(file, fsConstants.R_OK);
    return undefined;
  } catch (err) {
    return `cannot read ${JSON.stringify(file)}: ${describeFsError(err)}`;
  }
}

function deepFreeze<T>(value: T): T {
  if (typeof value === 'object' && value !== null && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const v of Object.values(value)) deepFreeze(v);
  }
  return value;
}

function validate(input: unknown, env: NodeJS.ProcessEnv, fileContext: FileContext | undefined): Config {
  if (input === undefined || input === null)
    throw new ConfigError([
      { path: fileContext?.file ?? '', message: 'the configuration is empty (expected a mapping with "users" and "databases")' },
    ]);

  const envProblems: EnvProblem[] = [];
  const raw = interpolate(input, [], env, envProblems, new Set());
  const skipped = envProblems.map((p) => p.path);
  const isSkipped = (path: Path) => skipped.some((prefix) => startsWith(path, prefix));

  // TLS files: resolve relative names against the config file's directory, then check they are readable.
  const tlsProblems: { path: Path; message: string }[] = [];
  if (fileContext !== undefined && isRecord(raw) && isRecord(raw['listen']) && isRecord(raw['listen']['tls'])) {
    const tls = raw['listen']['tls'];
    for (const key of ['certFile', 'keyFile']) {
      const file = tls[key];
      const path = ['listen', 'tls', key];
      if (typeof file !== 'string' || file === '' || isSkipped(path)) continue;
      const absolute = isAbsolute(file) ? file : resolve(fileContext.dir, file);
      tls[key] = absolute;
      const problem = unreadableFile(absolute);
      if (problem !== undefined) tlsProblems.push({ path, message: problem });
    }
  }

  // Cross-field rules run on the (interpolated) input rather than inside zod, which skips refinements
  // after some failures: every problem is reported in one go.
  const result = configObjectSchema.safeParse(raw, { error: describeIssue });
  const schemaProblems = [...(result.success ? [] : zodProblems(result.error.issues)), ...crossFieldIssues(raw)].filter(
    (p) => !isSkipped(p.path),
  );

  const problems: ConfigProblem[] = [];
  const seen = new Set<string>();
  const all = [...envProblems, ...schemaProblems, ...tlsProblems].sort((a, b) => comparePaths(a.path, b.path));
  for (const p of all) {
    const problem = { path: formatPath(p.path), message: p.message };
    const key = formatProblem(problem);
    if (seen.has(key)) continue;
    seen.add(key);
    problems.push(problem);
  }
  if (problems.length > 0 || !result.success) throw new ConfigError(problems);
  const config = result.data;
  // The state directory, like TLS files, is relative to the config file (to the working directory
  // for a config given as an object).
  const stateDir = resolve(fileContext?.dir ?? '.', config.state.dir);
  return deepFreeze({ ...config, state: { dir: stateDir } });
}

// ------------------------------------------------------------------------------------------- API

/**
 * Validates a config object (e.g. parsed YAML), interpolates ${NAME} references from `env`, fills in
 * defaults and returns a deep-frozen Config. Throws a ConfigError listing every problem.
 */
export function parseConfig(input: unknown, env: NodeJS.ProcessEnv = process.env): Config {
  return validate(input, env, undefined);
}

/**
 * Reads a YAML (or JSON) config file and validates it like parseConfig. Relative TLS file names are
 * resolved against the file's directory and must be readable. Throws a ConfigError listing every problem.
 */
export function loadConfigFile(path: string, env: NodeJS.ProcessEnv = process.env): Config {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    throw new ConfigError([{ path, message: `cannot read the config file: ${describeFsError(err)}` }]);
  }

  const lineCounter = new LineCounter();
  const doc = parseDocument(text, { lineCounter, prettyErrors: false });
  // yaml's warnings (e.g. an unknown tag: an unquoted password starting with "!") are errors here: the
  // value would silently not be what was written.
  const yamlErrors: YAMLError[] = [...doc.errors, ...doc.warnings].sort((a, b) => a.pos[0] - b.pos[0]);
  if (yamlErrors.length > 0)
    throw new ConfigError(
      yamlErrors.map((err) => {
        const { line, col } = lineCounter.linePos(err.pos[0]);
        return { path, message: `YAML syntax error at line ${line}, column ${col}: ${yamlErrorReason(err)}` };
      }),
    );

  let input: unknown;
  try {
    input = doc.toJS();
  } catch (err) {
    throw new ConfigError([{ path, message: `invalid YAML: ${err instanceof Error ? err.message.split('\n')[0] : String(err)}` }]);
  }
  return validate(input, env, { file: path, dir: dirname(resolve(path)) });
}

// Reasons for yaml errors whose message may quote the source (which may hold a password).
const YAML_REASONS: Partial<Record<YAMLError['code'], string>> = {
  TAG_RESOLVE_FAILED: 'unknown tag (quote a value that starts with "!")',
  BAD_DQ_ESCAPE: 'invalid escape sequence in a double-quoted string (single-quoted strings keep backslashes)',
  BAD_SCALAR_START: 'a plain value cannot start with this character (quote the value)',
  BAD_PROP_ORDER: 'anchors and tags must come after the indicator',
  BAD_DIRECTIVE: 'invalid directive',
};

/**
 * yaml's reason for an error, unless it might quote the source: we ask for its messages without the
 * source excerpt (prettyErrors: false), but some messages still embed a token (a tag, an escape, ...),
 * and a token may be part of a password. Only messages made of words and plain punctuation are kept.
 */
function yamlErrorReason(err: YAMLError): string {
  const message = err.message.split('\n')[0] ?? '';
  if (err.code === 'MISSING_CHAR' || /^[\w ,.()[\]{}-]+$/.test(message)) return message;
  return YAML_REASONS[err.code] ?? 'invalid YAML (quote values that contain special characters)';
}

/** Every problem of a config file; [] when it is valid. Backs `pgshard check-config FILE`. */
export function checkConfigFile(path: string, env: NodeJS.ProcessEnv = process.env): ConfigProblem[] {
  try {
    loadConfigFile(path, env);
    return [];
  } catch (err) {
    if (err instanceof ConfigError) return err.problems;
    throw err;
  }
}

/** A plain (unfrozen) copy of the config with every password replaced by REDACTED, for SHOW CONFIG and logs. */
export function redactConfig(config: Config): unknown {
  return {
    ...structuredClone(config),
    users: config.users.map((user) => ({
      ...user,
      password: user.password === null ? null : REDACTED,
      serverPassword: user.serverPassword === null ? null : REDACTED,
    })),
  };
}
