// The shape every admin console command shares, and what commands may look at.
// Commands are pure apart from the ProxyContext and AdminView they are given.

import type { ColumnSpec } from '../protocol/server-messages.js';
import type { ProxyContext } from '../context.js';
import type { NodePool } from '../backend/node-pool.js';

export interface ClientView {
  readonly id: number;
  readonly processId: number;
  readonly user: string;
  readonly database: string;
  readonly applicationName: string;
  readonly remote: string;
  readonly connectedAt: number;
  readonly tls: boolean;
  readonly state: string;
  readonly txStatus: string;
  readonly server: number | null;
  readonly pinnedReason: string | null;
  readonly queries: number;
  readonly waitingMs: number;
}

/** Live state the admin commands report on, supplied by the proxy server. */
export interface AdminView {
  pools(): readonly NodePool[];
  clients(): readonly ClientView[];
}

export interface AdminResult {
  readonly columns: readonly ColumnSpec[];
  readonly rows: readonly (readonly (string | null)[])[];
  readonly tag: string;
}

export interface AdminCommand {
  /** The words that name it, upper case, e.g. ['SHOW', 'POOLS']. */
  readonly words: readonly string[];
  readonly help: string;
  execute(ctx: ProxyContext, view: AdminView): Promise<AdminResult> | AdminResult;
}

export function textColumns(...names: string[]): ColumnSpec[] {
  return names.map((name) => ({ name, typeOid: 25 }));
}

export function rowsResult(columns: readonly ColumnSpec[], rows: (string | number | boolean | null)[][]): AdminResult {
  return {
    columns,
    rows: rows.map((r) => r.map((v) => (v === null ? null : String(v)))),
    tag: `SHOW`,
  };
}
