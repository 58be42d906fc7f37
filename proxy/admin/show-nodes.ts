// SHOW NODES: one row per configured node (per database and shard) with what the health checker
// knows: roles, up/down, lag, LSNs, whether reads may go there, failures and the last error.
// Reads ctx.health only; without a running checker it lists the configured nodes as 'unchecked'.

import type { ColumnSpec } from '../protocol/server-messages.js';
import type { ProxyContext } from '../context.js';
import type { NodeView } from '../../topology/health/node-health.js';
import { formatLsnOrNull } from '../../topology/lsn.js';
import type { AdminCommand } from './admin-command.js';
import { rowsResult } from './admin-command.js';

const TEXT = 25;
const BOOL = 16;
const INT4 = 23;
const INT8 = 20;

export const SHOW_NODES_COLUMNS: readonly ColumnSpec[] = [
  { name: 'database', typeOid: TEXT },
  { name: 'shard', typeOid: TEXT },
  { name: 'node', typeOid: TEXT },
  { name: 'configured_role', typeOid: TEXT },
  { name: 'observed_role', typeOid: TEXT },
  { name: 'state', typeOid: TEXT },
  { name: 'routable', typeOid: BOOL },
  { name: 'lag_bytes', typeOid: INT8 },
  { name: 'lag_ms', typeOid: INT8 },
  { name: 'current_lsn', typeOid: TEXT },
  { name: 'receive_lsn', typeOid: TEXT },
  { name: 'replay_lsn', typeOid: TEXT },
  { name: 'receiving', typeOid: BOOL },
  { name: 'promoted', typeOid: BOOL },
  { name: 'failures', typeOid: INT4 },
  { name: 'last_check_age_ms', typeOid: INT8 },
  { name: 'last_error', typeOid: TEXT },
];

const bool = (v: boolean | null): string | null => (v === null ? null : v ? 't' : 'f');

function nodeRow(n: NodeView, nowMs: number): (string | number | null)[] {
  return [
    n.database,
    n.shard,
    n.address,
    n.configuredRole,
    n.observedRole,
    n.state,
    bool(n.routable),
    n.lagBytes === null ? null : n.lagBytes.toString(),
    n.lagMs === null ? null : Math.round(n.lagMs),
    formatLsnOrNull(n.currentLsn),
    formatLsnOrNull(n.receiveLsn),
    formatLsnOrNull(n.replayLsn),
    bool(n.receiving),
    bool(n.promoted),
    n.failures,
    n.lastCheckAtMs === null ? null : Math.max(0, Math.round(nowMs - n.lastCheckAtMs)),
    n.lastError,
  ];
}

/** The configured nodes, for a proxy whose health checks are not running. */
function uncheckedRows(ctx: ProxyContext): (string | number | null)[][] {
  const rows: (string | number | null)[][] = [];
  for (const db of ctx.config().databases) {
    for (const shard of db.shards) {
      const members = [
        { role: 'primary', a: shard.primary },
        ...shard.replicas.map((a) => ({ role: 'replica', a })),
      ];
      for (const { role, a } of members) {
        rows.push([db.name, shard.name, `${a.host}:${a.port}`, role, 'unknown', 'unchecked', 'f', null, null, null, null, null, null, 'f', 0, null, null]);
      }
    }
  }
  return rows;
}

export const showNodes: AdminCommand = {
  words: ['SHOW', 'NODES'],
  help: 'SHOW NODES — every node: roles, up/down, replica lag, LSNs, read routing, last error',
  execute: (ctx) => {
    const health = ctx.health;
    const now = Date.now();
    const rows = health === null ? uncheckedRows(ctx) : health.snapshot().map((n) => nodeRow(n, now));
    return rowsResult(SHOW_NODES_COLUMNS, rows);
  },
};
