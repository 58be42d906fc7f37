// REFERENCE TABLE: declares at runtime a table copied to every shard (writes go to all shards, reads
// to one). Saved through ctx.sharding like SHARD TABLE.

import { tagResult, type ParsedAdminCommand } from './admin-command.js';
import type { TokenReader } from './admin-tokens.js';
import { addRule, readInDatabase, readTableName, refuseExistingRule, resolveDatabase } from './rule-commands.js';

export const REFERENCE_TABLE_SYNTAX = 'REFERENCE TABLE name [IN DATABASE db]';

export interface ReferenceTableStatement {
  readonly table: string;
  readonly database: string | null;
}

/** The grammar of REFERENCE TABLE after its two words; throws 42601. */
export function parseReferenceTable(r: TokenReader): ReferenceTableStatement {
  const table = readTableName(r);
  if (!r.atEnd() && !r.isKeyword('IN')) r.fail('IN DATABASE or end of command', `after the table name ${table}`);
  const database = readInDatabase(r);
  r.expectEnd(`after IN DATABASE ${database ?? ''}`);
  return { table, database };
}

export const referenceTable: ParsedAdminCommand = {
  words: ['REFERENCE', 'TABLE'],
  help: 'REFERENCE TABLE name — copy a table to every shard (rule saved in state.dir)',
  syntax: REFERENCE_TABLE_SYNTAX,
  parse: (r) => {
    const { table, database } = parseReferenceTable(r);
    return async (ctx) => {
      const db = resolveDatabase(ctx, database, 'REFERENCE TABLE', REFERENCE_TABLE_SYNTAX);
      refuseExistingRule(ctx, db.name, table);
      await addRule(ctx, db.name, { reference: table });
      return tagResult('REFERENCE TABLE');
    };
  },
};
