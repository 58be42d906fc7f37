// The admin command table and its parser: words match case-insensitively, a trailing ';' is ignored.

import { ProxyError } from '../errors.js';
import type { AdminCommand } from './admin-command.js';
import { reload } from './reload.js';
import { showClients } from './show-clients.js';
import { showConfig } from './show-config.js';
import { showPools } from './show-pools.js';
import { showServers } from './show-servers.js';
import { showVersion } from './show-version.js';

export const ADMIN_COMMANDS: readonly AdminCommand[] = [showVersion, showPools, showClients, showServers, showConfig, reload];

/** Splits an admin query string into statements, then words. Empty statements are dropped. */
export function splitAdminStatements(sql: string): string[][] {
  return sql
    .split(';')
    .map((s) => s.trim())
    .filter((s) => s.length > 0)
    .map((s) => s.split(/\s+/).map((w) => w.toUpperCase()));
}

export function findAdminCommand(words: readonly string[]): AdminCommand {
  const cmd = ADMIN_COMMANDS.find((c) => c.words.length === words.length && c.words.every((w, i) => w === words[i]));
  if (cmd !== undefined) return cmd;
  const isShow = words[0] === 'SHOW';
  throw ProxyError.adminSyntax(
    isShow ? `unrecognized SHOW target "${(words[1] ?? '').toLowerCase()}"` : `unrecognized admin command "${words.join(' ').toLowerCase()}"`,
    `Commands: ${ADMIN_COMMANDS.map((c) => c.words.join(' ')).join(', ')}.`,
  );
}
