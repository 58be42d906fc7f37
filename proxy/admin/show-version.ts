// SHOW VERSION: the proxy's version, like pgbouncer's.

import type { AdminCommand } from './admin-command.js';
import { rowsResult, textColumns } from './admin-command.js';

export const showVersion: AdminCommand = {
  words: ['SHOW', 'VERSION'],
  help: 'SHOW VERSION — the proxy version',
  execute: (ctx) => rowsResult(textColumns('version'), [[`pgshard ${ctx.version}`]]),
};
