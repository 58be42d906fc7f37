// Live column names of tables (attnum order, dropped columns left out), read from a shard's catalog
// for the plans that need them (an INSERT without a column list: which value is the shard key), and
// kept per database until DDL passes through the proxy. Owns the lookup query and the cache; the
// session decides which connection asks and when the cache is cleared (distributed-session.ts).
// A lookup that started before the cache was cleared is not kept: it may have read the old columns.

import type { CatalogFacts } from '../../planner/plan.js';
import { buildQuery } from '../protocol/rewrite.js';
import type { ShardChannel } from './shard-channel.js';

const quoteIdent = (s: string): string => `"${s.replace(/"/g, '""')}"`;
const quoteLiteral = (s: string): string => `'${s.replace(/'/g, "''")}'`;

export function columnsKey(schema: string | null, table: string): string {
  return `${schema ?? ''}\u0000${table}`;
}

export class TableColumnsCache {
  private readonly known = new Map<string, readonly string[]>();
  /** Bumped by every clear(): lookups started under an older one are not kept. */
  private epoch = 0;

  get generation(): number {
    return this.epoch;
  }

  get(schema: string | null, table: string): readonly string[] | undefined {
    return this.known.get(columnsKey(schema, table));
  }

  remember(schema: string | null, table: string, columns: readonly string[], generation: number): void {
    if (generation === this.epoch) this.known.set(columnsKey(schema, table), columns);
  }

  /** DDL ran: any table may have changed (ALTER TABLE, DROP/CREATE TABLE, DO blocks...). */
  clear(): void {
    this.epoch++;
    this.known.clear();
  }
}

/** CatalogFacts over fixed answers (the ones a session looked up for one statement). */
export function factsOf(columns: ReadonlyMap<string, readonly string[] | null>): CatalogFacts {
  return { tableColumns: (schema, table) => columns.get(columnsKey(schema, table)) };
}

/**
 * The table's live columns in attnum order, as the connection sees it (its search_path for an
 * unqualified name, its open transaction's own DDL); null when no such table exists there.
 * Resolves with `error` set to the shard's ErrorResponse frame when the query itself failed.
 */
export async function readTableColumns(channel: ShardChannel, schema: string | null, table: string): Promise<{ columns: string[] | null; error: Buffer | null }> {
  const relation = schema === null ? quoteIdent(table) : `${quoteIdent(schema)}.${quoteIdent(table)}`;
  const sql =
    `SELECT a.attname, c.oid IS NULL FROM (SELECT pg_catalog.to_regclass(${quoteLiteral(relation)}) AS oid) c ` +
    `LEFT JOIN pg_catalog.pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped ORDER BY a.attnum`;
  const columns: string[] = [];
  let missing = false;
  let error: Buffer | null = null;
  await channel.request([buildQuery(sql)], {
    onFrame(type, buf, start, end) {
      if (type === 0x44 /* D */) {
        // DataRow: Int16 count, then Int32 length + bytes per field.
        let pos = start + 7;
        const nameLength = buf.readInt32BE(pos);
        pos += 4;
        const name = nameLength < 0 ? null : buf.toString('utf8', pos, pos + nameLength);
        pos += Math.max(0, nameLength);
        const noTable = buf.readInt32BE(pos) === 1 && buf[pos + 4] === 0x74; /* 't' */
        if (noTable) missing = true;
        else if (name !== null) columns.push(name);
      } else if (type === 0x45 /* E */) error ??= Buffer.from(buf.subarray(start, end));
    },
  });
  return { columns: missing ? null : columns, error };
}
