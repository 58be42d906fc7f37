// COPY: options with PostgreSQL's defaults (text: tab delimiter, \N null; csv: ',' delimiter, '"'
// quote, escape = quote, '' null), and the plan for a COPY naming a table. COPY (query) TO STDOUT is
// routed by its query (statement-analyzer.ts), with the multi-shard outcome turned into copy-out.
// Owns: COPY option parsing and table COPY routing. Must not: split rows (the executor does).

import type { Plan } from '../plan.js';
import type { ShardingRules } from '../sharding-rules.js';
import { as, bodyOf, constOf, constText, list, str, type Body } from './ast.js';
import { classifyRelation, relationName } from './relations.js';
import { keyTypeMissing } from './messages.js';

export interface CopyOptions {
  readonly format: 'text' | 'csv' | 'binary';
  readonly delimiter: string;
  readonly quote: string;
  readonly escape: string;
  readonly header: boolean;
  readonly nullString: string;
}

function optionText(arg: unknown): string | null {
  const s = as(arg, 'String');
  if (s !== null) return str(s['sval']);
  const c = constOf(arg);
  if (c === null) {
    const i = as(arg, 'Integer');
    return i === null ? null : String(typeof i['ival'] === 'number' ? i['ival'] : 0);
  }
  return constText(c);
}

function optionBool(arg: unknown): boolean {
  if (arg === undefined) return true;
  const b = as(arg, 'Boolean');
  if (b !== null) return b['boolval'] === true;
  const t = (optionText(arg) ?? 'true').toLowerCase();
  return !['false', 'off', '0', 'no'].includes(t);
}

export function copyOptions(stmt: Body): CopyOptions {
  let format: CopyOptions['format'] = 'text';
  let delimiter: string | null = null;
  let quote: string | null = null;
  let escape: string | null = null;
  let header = false;
  let nullString: string | null = null;
  for (const o of list(stmt['options'])) {
    const d = as(o, 'DefElem');
    if (d === null) continue;
    const arg = d['arg'];
    switch (str(d['defname']) ?? '') {
      case 'format': {
        const f = (optionText(arg) ?? 'text').toLowerCase();
        format = f === 'csv' ? 'csv' : f === 'binary' ? 'binary' : 'text';
        break;
      }
      case 'delimiter':
        delimiter = optionText(arg);
        break;
      case 'quote':
        quote = optionText(arg);
        break;
      case 'escape':
        escape = optionText(arg);
        break;
      case 'null':
        nullString = optionText(arg);
        break;
      case 'header':
        // true, false, or MATCH (which still means "the first line is a header").
        header = optionBool(arg);
        break;
      default:
        break;
    }
  }
  const csv = format === 'csv';
  const q = quote ?? '"';
  return {
    format,
    delimiter: delimiter ?? (csv ? ',' : '\t'),
    quote: q,
    // Text format has no QUOTE/ESCAPE options; its escape character is the backslash.
    escape: csv ? (escape ?? q) : '\\',
    header,
    nullString: nullString ?? (csv ? '' : '\\N'),
  };
}

const FILE_HINT = 'use COPY ... FROM STDIN / TO STDOUT (psql: \\copy) so the proxy can route the rows';
const BINARY_HINT = 'use FORMAT text or FORMAT csv';

/** The plan of `COPY table ...`; the `query` form is handled by the caller. */
export function planTableCopy(rules: ShardingRules, stmt: Body): Plan {
  const relation = bodyOf(stmt['relation']);
  if (relation === null) return { kind: 'any', access: 'read', reason: 'utility' };
  const rel = relationName(relation);
  const cls = classifyRelation(rules, rel);
  const from = stmt['is_from'] === true;
  const file = str(stmt['filename']) !== null || stmt['is_program'] === true;
  const opts = copyOptions(stmt);
  switch (cls.kind) {
    case 'unlisted':
      return { kind: 'single', shard: 0, access: from ? 'write' : 'read' };
    case 'catalog':
      return from ? { kind: 'single', shard: 0, access: 'write' } : { kind: 'any', access: 'read', reason: 'catalog' };
    case 'reference':
    case 'sharded': {
      const what = cls.kind === 'sharded' ? 'sharded' : 'reference';
      if (file) {
        if (!from && cls.kind === 'reference') return { kind: 'any', access: 'read', reason: 'reference-read' };
        return { kind: 'unsupported', message: `COPY ${from ? 'FROM' : 'TO'} a server file or program is not supported for ${what} table "${rel.name}"`, hint: FILE_HINT };
      }
      if (!from) {
        if (cls.kind === 'reference') return { kind: 'any', access: 'read', reason: 'reference-read' };
        if (opts.format === 'binary') return { kind: 'unsupported', message: `COPY ... TO STDOUT (FORMAT binary) from sharded table "${rel.name}" is not supported`, hint: BINARY_HINT };
        return { kind: 'copy-out', shards: Array.from({ length: rules.shardCount }, (_, i) => i) };
      }
      if (opts.format === 'binary') return { kind: 'unsupported', message: `COPY ... FROM STDIN (FORMAT binary) into ${what} table "${rel.name}" is not supported`, hint: BINARY_HINT };
      const attlist = list(stmt['attlist']).map((a) => str(as(a, 'String')?.['sval']) ?? '');
      if (cls.kind === 'sharded') {
        if (cls.rule.keyType === null) return keyTypeMissing(cls.rule);
        if (attlist.length > 0 && !attlist.includes(cls.rule.column)) {
          return {
            kind: 'unsupported',
            message: `COPY into sharded table "${rel.name}" must include its shard key column "${cls.rule.column}"`,
            hint: `add "${cls.rule.column}" to the COPY column list`,
          };
        }
      }
      return {
        kind: 'copy-in',
        table: cls.rule,
        columns: attlist.length > 0 ? attlist : null,
        format: opts.format,
        delimiter: opts.delimiter,
        quote: opts.quote,
        escape: opts.escape,
        header: opts.header,
        nullString: opts.nullString,
      };
    }
  }
}
