// Templates of writes: INSERT (VALUES rows placed per execution, or INSERT ... SELECT when provably one
// shard), UPDATE and DELETE (by key, else a scatter write of the statement as written), and writes of
// reference tables (broadcast) and unlisted tables (shard 0).
// Owns: the write-specific rules (key updates, ON CONFLICT, column lists, reference-write sources).
// Must not: bind parameters (insert-split.ts does).

import type { Plan } from '../plan.js';
import type { ShardingRules } from '../sharding-rules.js';
import { as, bodyOf, list, str, type Body } from './ast.js';
import { bindInsert, rowKeyOf, SUPPLY_KEY_HINT, type InsertTemplate } from './insert-split.js';
import { keyTypeMissing, SCATTER_HINT, unsupported } from './messages.js';
import { keySourceOf, QueryAnalyzer } from './query-analysis.js';
import { classifyRelation, relationName } from './relations.js';
import { cteWriteProblem, EMPTY_MERGE, fixed, routeOf, UTILITY_WRITE, type Analysis, type Purpose, type TemplateBody } from './template.js';
import { positionalInsert } from './positional-insert.js';

export function writeAnalysis(rules: ShardingRules, body: Body, type: 'UpdateStmt' | 'DeleteStmt', purpose: Purpose, text: string): Analysis {
  const relation = bodyOf(body['relation']);
  if (relation === null) return fixed(UTILITY_WRITE, 'write');
  const rel = relationName(relation);
  const cls = classifyRelation(rules, rel);
  const analyzer = new QueryAnalyzer(rules);
  const { level } = analyzer.write(body, type, null);
  const facts = analyzer.facts(level);
  const cteWrite = cteWriteProblem(facts);
  if (cteWrite !== null) return cteWrite;
  switch (cls.kind) {
    case 'catalog':
      return fixed({ kind: 'broadcast', reason: 'ddl', transactional: true, learned: [] }, 'write');
    case 'reference':
      if (facts.instances.length > 0 || facts.unlisted.length > 0) {
        return fixed(
          unsupported(
            `writing reference table "${rel.name}" from sharded or unlisted tables would give each shard's copy different data`,
            'compute the values first and write them as constants, or make the source a reference table',
          ),
          'write',
          facts.rules,
        );
      }
      if (purpose !== null) return fixed({ kind: 'single', shard: 0, access: 'write' }, 'write');
      return fixed({ kind: 'broadcast', reason: 'reference-write', transactional: true, learned: [] }, 'write');
    case 'unlisted':
      if (facts.instances.length === 0) return fixed({ kind: 'single', shard: 0, access: 'write' }, 'write');
      // Shard 0 only: any multi-shard outcome is reported as the shard-0 conflict.
      return routeOf(rules, facts, 'write', () => ({ kind: 'unsupported', message: 'not reached', hint: '' }), true);
    case 'sharded': {
      if (type === 'UpdateStmt') {
        const setsKey = list(body['targetList']).some((t) => str(as(t, 'ResTarget')?.['name']) === cls.rule.column);
        if (setsKey) {
          return fixed(
            unsupported(
              `UPDATE of shard key "${cls.rule.column}" of table "${rel.name}" would move the row to another shard`,
              'DELETE the row and INSERT it with the new key (in one transaction)',
            ),
            'write',
            facts.rules,
          );
        }
      }
      return routeOf(rules, facts, 'write', () => {
        if (purpose === 'explain') return { kind: 'first' };
        if (purpose === 'explain-analyze') return { kind: 'unsupported', message: 'EXPLAIN ANALYZE of a write on several shards would only show one shard', hint: SCATTER_HINT };
        // Each shard updates its own rows; the statement is sent as written.
        return { kind: 'scatter', sql: text, merge: EMPTY_MERGE };
      });
    }
  }
}

export function insertAnalysis(rules: ShardingRules, body: Body, purpose: Purpose): Analysis {
  const relation = bodyOf(body['relation']);
  if (relation === null) return fixed(UTILITY_WRITE, 'write');
  const rel = relationName(relation);
  const cls = classifyRelation(rules, rel);
  const analyzer = new QueryAnalyzer(rules);
  const { level, target, source } = analyzer.insert(body);
  const cteWrite = cteWriteProblem(analyzer.facts(level));
  if (cteWrite !== null) return cteWrite;
  switch (cls.kind) {
    case 'catalog':
      return fixed({ kind: 'broadcast', reason: 'ddl', transactional: true, learned: [] }, 'write');
    case 'reference': {
      const facts = analyzer.facts(level);
      if (facts.instances.length > 0 || facts.unlisted.length > 0) {
        return fixed(
          unsupported(
            `INSERT into reference table "${rel.name}" from sharded or unlisted tables would give each shard's copy different data`,
            'insert constants, or make the source a reference table',
          ),
          'write',
          facts.rules,
        );
      }
      if (purpose !== null) return fixed({ kind: 'single', shard: 0, access: 'write' }, 'write');
      return fixed({ kind: 'broadcast', reason: 'reference-write', transactional: true, learned: [] }, 'write');
    }
    case 'unlisted': {
      const facts = analyzer.facts(level);
      if (facts.instances.length === 0) return fixed({ kind: 'single', shard: 0, access: 'write' }, 'write');
      // Shard 0 only: any multi-shard outcome is reported as the shard-0 conflict.
      return routeOf(rules, facts, 'write', () => ({ kind: 'unsupported', message: 'not reached', hint: '' }), true);
    }
    case 'sharded':
      break;
  }
  const rule = cls.rule;
  const keyType = rule.keyType;
  if (keyType === null) return fixed(keyTypeMissing(rule), 'write', [rule]);
  const conflict = bodyOf(body['onConflictClause']);
  if (conflict !== null && list(conflict['targetList']).some((t) => str(as(t, 'ResTarget')?.['name']) === rule.column)) {
    return fixed(
      unsupported(`ON CONFLICT DO UPDATE of shard key "${rule.column}" of table "${rel.name}" would move the row to another shard`, 'leave the key out of DO UPDATE SET'),
      'write',
      [rule],
    );
  }
  const cols = list(body['cols']).map((c) => str(as(c, 'ResTarget')?.['name']) ?? '');
  const select = as(body['selectStmt'], 'SelectStmt');
  if (select === null) {
    return fixed(unsupported(`INSERT ... DEFAULT VALUES into sharded table "${rel.name}" has no shard key value`, SUPPLY_KEY_HINT), 'write', [rule]);
  }
  const facts0 = analyzer.facts(level);
  const valuesOnly = source === null && facts0.instances.length === 1 && facts0.unlisted.length === 0 && list(select['valuesLists']).length > 0;
  if (cols.length === 0 && valuesOnly) {
    // Which value is the key depends on the table's columns: planned per execution, once known.
    const explain = purpose === 'explain' ? 'plain' : purpose === 'explain-analyze' ? 'analyze' : null;
    const insert = positionalInsert(rule, keyType, rel, body, explain);
    return { body: { kind: 'positional-insert', insert }, control: false, access: 'write', rules: [rule], hinted: false };
  }
  if (cols.length === 0) {
    return fixed(
      unsupported(`INSERT into sharded table "${rel.name}" without a column list`, `name the columns, including shard key "${rule.column}": INSERT INTO ${rel.name} (${rule.column}, ...) VALUES ...`),
      'write',
      [rule],
    );
  }
  const keyIndex = cols.indexOf(rule.column);
  if (keyIndex < 0) {
    return fixed(unsupported(`INSERT into sharded table "${rel.name}" does not set shard key "${rule.column}"`, SUPPLY_KEY_HINT), 'write', [rule]);
  }
  const facts = analyzer.facts(level);
  const rows = list(select['valuesLists']);
  if (source === null && facts.instances.length === 1 && facts.unlisted.length === 0 && rows.length > 0) {
    const keys = rows.map((row) => rowKeyOf(rules, rule, keyType, keySourceOf(list(as(row, 'List')?.['items'])[keyIndex])));
    const t: InsertTemplate = { rule, keyType, rows: keys, stmt: body, parts: new Map() };
    const bad = keys.find((k) => k.kind === 'unsupported');
    if (bad !== undefined && bad.kind === 'unsupported') return fixed(unsupported(bad.message, bad.hint), 'write', [rule]);
    const explain = purpose === 'explain' ? 'plain' : purpose === 'explain-analyze' ? 'analyze' : null;
    if (keys.some((k) => k.kind === 'param')) return { body: { kind: 'insert', insert: t, explain }, control: false, access: 'write', rules: [rule], hinted: false };
    return fixed(explainInsert(bindInsert(rules, t, null, 'write'), explain), 'write', [rule]);
  }
  // INSERT ... SELECT (or VALUES reading tables): only when every row provably lands on one shard.
  if (target !== null) {
    let keyExpr: unknown = undefined;
    if (source !== null) {
      if ((str(select['op']) ?? 'SETOP_NONE') === 'SETOP_NONE') keyExpr = as(list(select['targetList'])[keyIndex], 'ResTarget')?.['val'];
    } else if (rows.length === 1) {
      keyExpr = list(as(rows[0], 'List')?.['items'])[keyIndex];
    }
    const value = keySourceOf(keyExpr);
    if (value !== null) analyzer.restrict(target, [value]);
    else if (source !== null) {
      const col = analyzer.keyColumn(keyExpr, source);
      if (col !== null && analyzer.colocatedInstances(target, col.instance)) analyzer.restrict(target, [{ kind: 'instance', instance: col.instance }]);
    }
  }
  return routeOf(rules, analyzer.facts(level), 'write', () => ({
    kind: 'unsupported',
    message: `INSERT ... SELECT into sharded table "${rel.name}" whose rows may belong to several shards`,
    hint: 'make the selected key a constant or parameter (or a co-located key fixed to one value), or insert per shard with /* pgshard: shard=N */',
  }), true);
}

function explainInsert(plan: Plan, explain: 'plain' | 'analyze' | null): Plan {
  if (explain === null || plan.kind !== 'split-insert') return plan;
  if (explain === 'analyze') return unsupported('EXPLAIN ANALYZE of an INSERT whose rows go to several shards', 'explain one row at a time');
  return { kind: 'single', shard: plan.parts[0]?.shard ?? 0, access: 'write' };
}

export function bindInsertTemplate(rules: ShardingRules, body: Extract<TemplateBody, { kind: 'insert' }>, params: Parameters<typeof bindInsert>[2]): Plan {
  return explainInsert(bindInsert(rules, body.insert, params, 'write'), body.explain);
}
