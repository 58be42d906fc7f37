// Collations of table columns that are not the database default (`name text COLLATE "C"`, ICU
// collations, columns of type name), per shard (table OIDs differ between shards), for the merge of
// an ORDER BY on such a column: RowDescription names a result column's table OID and attnum, and
// the shards sort by the column's collation. Read on a shard the first time a sorted multi-shard
// read reaches it, kept until DDL passes through the proxy. Owns the query and the cache.
// Only user tables are read (OID 16384 and up: FirstNormalObjectId); a lookup that started before
// the cache was cleared is not kept.

import { buildQuery } from '../protocol/rewrite.js';
import type { ShardChannel } from './shard-channel.js';

/** The default collation's OID (DEFAULT_COLLATION_OID): columns with it follow the database. */
const DEFAULT_COLLATION_OID = 100;

const QUERY =
  `SELECT a.attrelid::pg_catalog.int8, a.attnum, c.collname FROM pg_catalog.pg_attribute a ` +
  `JOIN pg_catalog.pg_collation c ON c.oid = a.attcollation ` +
  `WHERE a.attcollation <> ${DEFAULT_COLLATION_OID} AND a.attrelid >= 16384 AND a.attnum > 0 AND NOT a.attisdropped`;

/** "tableOid:attnum" → collation name, for one shard. */
export type ColumnCollations = ReadonlyMap<string, string>;

export const columnKey = (tableOid: number, attnum: number): string => `${tableOid}:${attnum}`;

export class ColumnCollationsCache {
  private readonly byShard = new Map<number, ColumnCollations>();
  private epoch = 0;

  get generation(): number {
    return this.epoch;
  }

  get(shard: number): ColumnCollations | undefined {
    return this.byShard.get(shard);
  }

  remember(shard: number, collations: ColumnCollations, generation: number): void {
    if (generation === this.epoch) this.byShard.set(shard, collations);
  }

  /** DDL ran: a column may have been added, dropped or given another collation. */
  clear(): void {
    this.epoch++;
    this.byShard.clear();
  }
}

/** Reads a shard's non-default column collations; `error` is the shard's ErrorResponse if the query failed. */
export async function readColumnCollations(channel: ShardChannel): Promise<{ collations: Map<string, string>; error: Buffer | null }> {
  const collations = new Map<string, string>();
  let error: Buffer | null = null;
  await channel.request([buildQuery(QUERY)], {
    onFrame(type, buf, start, end) {
      if (type === 0x44 /* D */) {
        const fields: string[] = [];
        let pos = start + 7;
        for (let i = 0; i < 3 && pos + 4 <= end; i++) {
          const length = buf.readInt32BE(pos);
          pos += 4;
          fields.push(length < 0 ? '' : buf.toString('utf8', pos, pos + length));
          pos += Math.max(0, length);
        }
        const [oid, attnum, name] = fields;
        if (oid !== undefined && attnum !== undefined && name !== undefined) collations.set(columnKey(Number(oid), Number(attnum)), name);
      } else if (type === 0x45 /* E */) error ??= Buffer.from(buf.subarray(start, end));
    },
  });
  return { collations, error };
}
