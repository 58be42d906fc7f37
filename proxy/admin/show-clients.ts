// SHOW CLIENTS: one row per connected client. Never shows passwords or query parameters.

import type { AdminCommand } from './admin-command.js';
import { rowsResult } from './admin-command.js';

export const showClients: AdminCommand = {
  words: ['SHOW', 'CLIENTS'],
  help: 'SHOW CLIENTS — connected clients, their state and server connection',
  execute: (_ctx, view) =>
    rowsResult(
      [
        { name: 'id', typeOid: 20 },
        { name: 'pid', typeOid: 23 },
        { name: 'user', typeOid: 25 },
        { name: 'database', typeOid: 25 },
        { name: 'application_name', typeOid: 25 },
        { name: 'addr', typeOid: 25 },
        { name: 'tls', typeOid: 16 },
        { name: 'state', typeOid: 25 },
        { name: 'tx_status', typeOid: 25 },
        { name: 'server', typeOid: 20 },
        { name: 'pinned', typeOid: 25 },
        { name: 'queries', typeOid: 20 },
        { name: 'wait_ms', typeOid: 20 },
        { name: 'connected_at', typeOid: 1184 },
      ],
      view.clients().map((c) => [
        c.id, c.processId, c.user, c.database, c.applicationName, c.remote, c.tls ? 't' : 'f', c.state, c.txStatus,
        c.server, c.pinnedReason, c.queries, c.waitingMs, new Date(c.connectedAt).toISOString(),
      ]),
    ),
};
