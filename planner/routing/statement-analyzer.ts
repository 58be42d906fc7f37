// One parsed statement → its cached template: a fixed plan, a keyed route (bound per execution), or a
// VALUES insert (rows placed per execution). Dispatches on the statement type; hints are applied here
// because they are part of the text. Everything parameter-independent is decided once per SQL text.
// Owns: statement-type dispatch and the templates of reads, COPY, EXPLAIN, cursors, PREPARE and
// CREATE TABLE AS (writes: write-analysis.ts). Must not: bind parameters (route-template.ts,
// insert-split.ts) or cache (planner.ts).

import type { Access } from '../plan.js';
import type { ShardingRules } from '../sharding-rules.js';
import { as, bodyOf, list, str, unwrap, type Body } from './ast.js';
import { planTableCopy, copyOptions } from './copy.js';
import { isDdlType, MAINTENANCE_TYPES, planDdl, planMaintenance } from './ddl.js';
import { applyHint } from './hint-plan.js';
import { SCATTER_HINT, unsupported } from './messages.js';
import { QueryAnalyzer } from './query-analysis.js';
import { classifyRelation, relationKinds, relationName } from './relations.js';
import { rewriteScatterRead } from './scatter-rewrite.js';
import { cteWriteProblem, fixed, routeOf, UTILITY_READ, UTILITY_WRITE, withoutSharded, type Analysis, type Purpose } from './template.js';
import { planSet, planShow, planTransaction } from './utility.js';
import { bindInsertTemplate, insertAnalysis, writeAnalysis } from './write-analysis.js';

export type { Analysis, TemplateBody } from './template.js';
export { bindInsertTemplate };

/** Functions a no-table SELECT may call and still be served by a replica. */
const READ_ONLY_FUNCTIONS = new Set([
  'now', 'version', 'current_schema', 'current_schemas', 'current_database', 'current_user', 'session_user', 'current_setting',
  'pg_backend_pid', 'statement_timestamp', 'clock_timestamp', 'transaction_timestamp', 'timeofday', 'current_catalog',
  'inet_server_addr', 'inet_server_port', 'pg_postmaster_start_time', 'to_char', 'to_timestamp', 'date_trunc', 'generate_series',
  'format_type', 'pg_is_in_recovery', 'has_table_privilege', 'has_schema_privilege', 'pg_encoding_to_char', 'lower', 'upper',
  'concat', 'length', 'coalesce', 'array_to_string', 'unnest', 'json_build_object', 'jsonb_build_object', 'row_to_json',
  'quote_ident', 'quote_literal', 'md5', 'gen_random_uuid', 'uuid_generate_v4', 'random', 'pg_size_pretty', 'obj_description',
  'col_description', 'pg_get_userbyid', 'pg_table_is_visible', 'pg_get_expr', 'pg_get_indexdef', 'pg_get_constraintdef',
]);

/** Template of one statement, hints applied. Never throws for malformed input: callers catch bugs. */
export function analyseStatement(rules: ShardingRules, node: Record<string, unknown>, text: string): Analysis {
  const a = analyseNode(rules, node, text);
  return applyHint(rules, a, text);
}

/** A statement the parser rejected: sent on so the client gets PostgreSQL's own error. */
export function unparsedStatement(rules: ShardingRules, text: string): Analysis {
  return applyHint(rules, fixed(UTILITY_WRITE, 'write'), text);
}

/** Functions that write or take locks: a query calling them cannot run on a replica. */
const WRITING_FUNCTIONS = /^(nextval|setval|set_config|pg_notify|txid_current|pg_current_xact_id|lo_\w+|pg_(try_)?advisory_\w+|pg_sequence_\w+|dblink_exec|pg_terminate_backend|pg_cancel_backend|pg_reload_conf|pg_switch_wal|pg_create_\w+|pg_drop_\w+)$/;

function callsWritingFunction(functions: ReadonlySet<string>): boolean {
  for (const f of functions) if (WRITING_FUNCTIONS.test(f)) return true;
  return false;
}

function analyseNode(rules: ShardingRules, node: Record<string, unknown>, text: string): Analysis {
  const u = unwrap(node);
  if (u === null) return fixed(UTILITY_WRITE, 'write');
  const { type, body } = u;
  switch (type) {
    case 'SelectStmt':
      if (bodyOf(body['intoClause']) !== null) return createAs(rules, body, false);
      return selectAnalysis(rules, body, null);
    case 'InsertStmt':
      return insertAnalysis(rules, body, null);
    case 'UpdateStmt':
    case 'DeleteStmt':
      return writeAnalysis(rules, body, type, null, text);
    case 'MergeStmt': {
      const kinds = relationKinds(rules, body);
      if (!kinds.sharded && !kinds.reference) return fixed({ kind: 'single', shard: 0, access: 'write' }, 'write');
      return fixed(unsupported('MERGE with sharded or reference tables is not supported', 'use INSERT ... ON CONFLICT, or route the statement with /* pgshard: shard=N */'), 'write');
    }
    case 'CopyStmt':
      return copyAnalysis(rules, body, text);
    case 'TransactionStmt':
      return fixed(planTransaction(body), 'read', [], true);
    case 'VariableSetStmt': {
      const r = planSet(body);
      return fixed(r.plan, 'read', [], r.control);
    }
    case 'VariableShowStmt': {
      const r = planShow(body);
      return fixed(r.plan, 'read', [], r.control);
    }
    case 'ExplainStmt':
      return explainAnalysis(rules, body, text);
    case 'DiscardStmt':
    case 'DeallocateStmt':
    case 'ListenStmt':
    case 'UnlistenStmt':
    case 'LoadStmt':
    case 'ConstraintsSetStmt':
      return fixed(UTILITY_READ, 'read');
    case 'NotifyStmt':
    case 'FetchStmt':
    case 'ClosePortalStmt':
    case 'ExecuteStmt':
      // They follow the session's connection (a cursor or SQL-prepared statement lives on one).
      return fixed(UTILITY_WRITE, 'write');
    case 'DoStmt':
      // Anonymous blocks are mostly migrations (create a type if missing...): they run everywhere.
      return fixed({ kind: 'broadcast', reason: 'ddl', transactional: true, learned: [] }, 'write');
    case 'CallStmt':
      return fixed({ kind: 'single', shard: 0, access: 'write' }, 'write');
    case 'PrepareStmt':
      return prepareAnalysis(rules, body);
    case 'DeclareCursorStmt':
      return cursorAnalysis(rules, body);
    case 'LockStmt': {
      const kinds = relationKinds(rules, body['relations']);
      if (kinds.sharded || kinds.reference) return fixed({ kind: 'broadcast', reason: 'ddl', transactional: true, learned: [] }, 'write');
      if (kinds.unlisted) return fixed({ kind: 'single', shard: 0, access: 'write' }, 'write');
      return fixed(UTILITY_WRITE, 'write');
    }
    case 'CreateTableAsStmt':
      return createAs(rules, body, true);
    default:
      if (MAINTENANCE_TYPES.has(type)) return fixed(planMaintenance(type, body), 'write');
      if (isDdlType(type)) return fixed(planDdl(rules, type, body), 'write');
      return fixed(UTILITY_WRITE, 'write');
  }
}

/** CREATE TABLE AS / SELECT INTO / CREATE MATERIALIZED VIEW: DDL, unless it would copy partial data. */
function createAs(rules: ShardingRules, body: Body, isCreateAs: boolean): Analysis {
  const into = bodyOf(body['into']);
  const withData = !(isCreateAs && into !== null && into['skipData'] === true);
  const query = isCreateAs ? body['query'] : { ...body, intoClause: undefined };
  const kinds = relationKinds(rules, query);
  if (withData && (kinds.sharded || kinds.unlisted)) {
    return fixed(
      unsupported(
        'CREATE TABLE AS / SELECT INTO / CREATE MATERIALIZED VIEW over sharded or unlisted tables would store different data on each shard',
        'create the table first, then fill it with INSERT ... SELECT (routed by its key), or use WITH NO DATA',
      ),
      'write',
    );
  }
  return fixed({ kind: 'broadcast', reason: 'ddl', transactional: true, learned: [] }, 'write');
}

function selectAnalysis(rules: ShardingRules, body: Body, purpose: Purpose): Analysis {
  const analyzer = new QueryAnalyzer(rules);
  const top = analyzer.select(body, 'top', null, null);
  const facts = analyzer.facts(top);
  const cteWrite = cteWriteProblem(facts);
  if (cteWrite !== null) return cteWrite;
  let access: Access = facts.locking || facts.modifying || callsWritingFunction(facts.functions) ? 'write' : 'read';
  if (facts.instances.length === 0) {
    if (facts.unlisted.length === 0 && !facts.reference && !facts.catalog) {
      for (const f of facts.functions) if (!READ_ONLY_FUNCTIONS.has(f)) access = 'write';
    }
    return fixed(withoutSharded(facts, access), access, facts.rules);
  }
  return routeOf(rules, facts, access, () => {
    switch (purpose) {
      case 'explain':
      case 'explain-analyze':
        return { kind: 'first' };
      case 'cursor':
        return { kind: 'unsupported', message: 'a cursor over rows on several shards is not supported', hint: 'fix the shard key in the cursor query, or SET pgshard.shard = N for the session' };
      case 'copy': {
        const r = rewriteScatterRead(body, top);
        if (r.kind === 'unsupported') return r;
        const m = r.merge;
        if (m.aggregate !== null || m.orderBy.length > 0 || m.limit !== null || m.offset !== null || m.distinct || m.hiddenColumns > 0) {
          return { kind: 'unsupported', message: 'COPY (query) TO STDOUT over several shards cannot sort, limit, aggregate or de-duplicate', hint: 'copy the plain rows and post-process them, or fix the shard key' };
        }
        return { kind: 'copy-out' };
      }
      case null: {
        const r = rewriteScatterRead(body, top);
        return r.kind === 'ok' ? { kind: 'scatter', sql: r.sql, merge: r.merge } : r;
      }
    }
  });
}

function copyAnalysis(rules: ShardingRules, body: Body, text: string): Analysis {
  const query = unwrap(body['query']);
  if (query === null) {
    const plan = planTableCopy(rules, body);
    const rel = bodyOf(body['relation']);
    const cls = rel === null ? null : classifyRelation(rules, relationName(rel));
    return fixed(plan, body['is_from'] === true ? 'write' : 'read', cls?.kind === 'sharded' ? [cls.rule] : []);
  }
  if (query.type !== 'SelectStmt') {
    // COPY (INSERT/UPDATE/DELETE ... RETURNING) TO STDOUT: one shard only.
    const inner = analyseNode(rules, { [query.type]: query.body }, text);
    return onlySingle(inner, 'COPY (data-modifying statement) TO STDOUT over several shards is not supported');
  }
  const binary = copyOptions(body).format === 'binary';
  const inner = selectAnalysis(rules, query.body, 'copy');
  if (!binary) return inner;
  return onlySingle(inner, 'COPY (query) TO STDOUT (FORMAT binary) over several shards is not supported');
}

/** Keeps single/any outcomes of an inner statement; anything wider becomes unsupported. */
function onlySingle(inner: Analysis, message: string): Analysis {
  const hint = 'fix the shard key so the statement runs on one shard, or route it with /* pgshard: shard=N */';
  switch (inner.body.kind) {
    case 'fixed': {
      const k = inner.body.plan.kind;
      if (k === 'single' || k === 'any' || k === 'unsupported') return inner;
      return fixed(unsupported(message, hint), inner.access, inner.rules);
    }
    case 'route':
      return { ...inner, body: { kind: 'route', route: { ...inner.body.route, multi: () => ({ kind: 'unsupported', message, hint }) } } };
    case 'insert':
    case 'positional-insert':
      return fixed(unsupported(message, hint), inner.access, inner.rules);
  }
}

function explainAnalysis(rules: ShardingRules, body: Body, text: string): Analysis {
  const analyze = list(body['options']).some((o) => {
    const d = as(o, 'DefElem');
    if (d === null || str(d['defname']) !== 'analyze') return false;
    const arg = as(d['arg'], 'String');
    return arg === null || !['false', 'off', '0'].includes((str(arg['sval']) ?? '').toLowerCase());
  });
  const purpose: Purpose = analyze ? 'explain-analyze' : 'explain';
  const q = unwrap(body['query']);
  if (q === null) return fixed(UTILITY_READ, 'read');
  let inner: Analysis;
  switch (q.type) {
    case 'SelectStmt':
      inner = bodyOf(q.body['intoClause']) !== null ? createAs(rules, q.body, false) : selectAnalysis(rules, q.body, purpose);
      break;
    case 'InsertStmt':
      inner = insertAnalysis(rules, q.body, purpose);
      break;
    case 'UpdateStmt':
    case 'DeleteStmt':
      inner = writeAnalysis(rules, q.body, q.type, purpose, text);
      break;
    default:
      inner = analyseNode(rules, { [q.type]: q.body }, text);
  }
  if (inner.body.kind === 'fixed') {
    const p = inner.body.plan;
    switch (p.kind) {
      case 'single':
      case 'any':
      case 'unsupported':
        return inner;
      case 'scatter':
        return fixed({ kind: 'single', shard: p.shards[0] ?? 0, access: p.access }, p.access, inner.rules);
      case 'broadcast':
      case 'copy-in':
      case 'copy-out':
      case 'pgshard-setting':
      case 'split-insert':
      case 'transaction':
        if (analyze) return fixed(unsupported('EXPLAIN ANALYZE of a statement that runs on several shards is not supported', SCATTER_HINT), 'write', inner.rules);
        return fixed({ kind: 'single', shard: 0, access: 'read' }, 'read', inner.rules);
    }
  }
  return inner;
}

function prepareAnalysis(rules: ShardingRules, body: Body): Analysis {
  const kinds = relationKinds(rules, body['query']);
  if (kinds.sharded || kinds.reference) {
    return fixed(
      unsupported('SQL-level PREPARE of a statement on sharded or reference tables is not supported', 'use protocol-level prepared statements (Parse/Bind), which pgshard routes on every execution'),
      'write',
    );
  }
  if (kinds.unlisted) return fixed({ kind: 'single', shard: 0, access: 'write' }, 'write');
  return fixed(UTILITY_WRITE, 'write');
}

function cursorAnalysis(rules: ShardingRules, body: Body): Analysis {
  const q = as(body['query'], 'SelectStmt');
  if (q === null) return fixed(UTILITY_WRITE, 'write');
  return selectAnalysis(rules, q, 'cursor');
}
