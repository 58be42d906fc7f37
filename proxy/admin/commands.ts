// The admin command table and its parser. A statement's leading unquoted words name the command
// (case-insensitively; the longest match wins); a command without arguments must be exactly its words,
// one with arguments parses the rest. Statements are separated by ';' outside quotes.

import { ProxyError } from '../errors.js';
import type { AdminCommand, AdminInvocation } from './admin-command.js';
import { describeToken, TokenReader, tokenizeAdmin, type AdminStatement } from './admin-tokens.js';
import { failover, showFailover, switchover } from './failover-commands.js';
import { referenceTable } from './reference-table.js';
import { reload } from './reload.js';
import { shardTable } from './shard-table.js';
import { showClients } from './show-clients.js';
import { showConfig } from './show-config.js';
import { showNodes } from './show-nodes.js';
import { showPools } from './show-pools.js';
import { showServers } from './show-servers.js';
import { showTables } from './show-tables.js';
import { showVersion } from './show-version.js';

export const ADMIN_COMMANDS: readonly AdminCommand[] = [
  showVersion, showPools, showClients, showServers, showNodes, showConfig, showTables, showFailover, reload, shardTable, referenceTable,
  failover, switchover,
];

/** Splits an admin query string into statements of tokens. Empty statements are dropped; throws 42601 on an unterminated quote. */
export function splitAdminStatements(sql: string): AdminStatement[] {
  return tokenizeAdmin(sql);
}

function commandList(): string {
  return `Commands: ${ADMIN_COMMANDS.map((c) => c.words.join(' ')).join(', ')}.`;
}

/** The command a statement names, with its arguments parsed. Throws 42601 for an unknown command or bad arguments. */
export function findAdminCommand(statement: AdminStatement): AdminInvocation {
  const { tokens } = statement;
  const wordAt = (i: number) => {
    const t = tokens[i];
    return t?.kind === 'word' ? t.upper : undefined;
  };
  let best: AdminCommand | undefined;
  for (const c of ADMIN_COMMANDS) {
    if (c.words.every((w, i) => wordAt(i) === w) && (best === undefined || c.words.length > best.words.length)) best = c;
  }
  if (best !== undefined) {
    const command = best;
    const name = command.words.join(' ');
    if ('parse' in command) {
      const execute = command.parse(new TokenReader(tokens.slice(command.words.length), name, command.syntax));
      return { command, execute };
    }
    if (tokens.length === command.words.length) return { command, execute: (ctx, view) => command.execute(ctx, view) };
    throw ProxyError.adminSyntax(`${name}: expected end of command after ${name}, got ${describeToken(tokens[command.words.length])}`, `${name} takes no arguments.`);
  }
  if (wordAt(0) === 'SHOW') {
    const target = tokens[1];
    throw ProxyError.adminSyntax(`unrecognized SHOW target "${target === undefined ? '' : target.raw.toLowerCase()}"`, commandList());
  }
  const text = statement.text.replace(/\s+/g, ' ').toLowerCase();
  throw ProxyError.adminSyntax(`unrecognized admin command "${text.length > 60 ? `${text.slice(0, 57)}...` : text}"`, commandList());
}
