// SHOW POOLS: one row per (node, database, user) pool with its connection counts and waiters.

import type { AdminCommand } from './admin-command.js';
import { rowsResult } from './admin-command.js';

export const showPools: AdminCommand = {
  words: ['SHOW', 'POOLS'],
  help: 'SHOW POOLS — server connection pools: active, idle, waiting clients',
  execute: (_ctx, view) =>
    rowsResult(
      [
        { name: 'pool', typeOid: 25 },
        { name: 'database', typeOid: 25 },
        { name: 'user', typeOid: 25 },
        { name: 'server_active', typeOid: 23 },
        { name: 'server_idle', typeOid: 23 },
        { name: 'server_connecting', typeOid: 23 },
        { name: 'client_waiting', typeOid: 23 },
        { name: 'max_wait_ms', typeOid: 20 },
        { name: 'size_max', typeOid: 23 },
        { name: 'acquired', typeOid: 20 },
        { name: 'timeouts', typeOid: 20 },
        { name: 'connect_errors', typeOid: 20 },
        { name: 'busy_ms', typeOid: 20 },
        { name: 'waits', typeOid: 20 },
        { name: 'wait_ms', typeOid: 20 },
        { name: 'deadlocks', typeOid: 20 },
      ],
      view.pools().map((p) => {
        const s = p.stats();
        return [s.name, s.database, s.user, s.active, s.idle, s.connecting, s.waiting, s.maxWaitMs, s.sizeMax, s.acquired, s.timeouts, s.connectErrors, s.busyMs, s.waited, s.waitedMs, s.deadlocks];
      }),
    ),
};
