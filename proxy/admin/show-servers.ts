// SHOW SERVERS: one row per server connection in every pool.

import type { AdminCommand } from './admin-command.js';
import { rowsResult } from './admin-command.js';

export const showServers: AdminCommand = {
  words: ['SHOW', 'SERVERS'],
  help: 'SHOW SERVERS — server connections, their node, state and backend pid',
  execute: (_ctx, view) => {
    const rows: (string | number | boolean | null)[][] = [];
    const now = Date.now();
    for (const pool of view.pools()) {
      for (const { conn, state } of pool.connections()) {
        rows.push([
          conn.id, pool.name, conn.login.database, conn.login.user, `${conn.login.node.host}:${conn.login.node.port}`,
          state, conn.txStatus, conn.processId, conn.prepared.size, Math.round((now - conn.createdAt) / 1000),
        ]);
      }
    }
    return rowsResult(
      [
        { name: 'id', typeOid: 20 },
        { name: 'pool', typeOid: 25 },
        { name: 'database', typeOid: 25 },
        { name: 'user', typeOid: 25 },
        { name: 'addr', typeOid: 25 },
        { name: 'state', typeOid: 25 },
        { name: 'tx_status', typeOid: 25 },
        { name: 'backend_pid', typeOid: 23 },
        { name: 'prepared', typeOid: 23 },
        { name: 'age_s', typeOid: 20 },
      ],
      rows,
    );
  },
};
