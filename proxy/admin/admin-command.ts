// The shape every admin console command shares, and what commands may look at.
// Commands are pure apart from the ProxyContext and AdminView they are given.

import type { ColumnSpec } from '../protocol/server-messages.js';
import type { ProxyContext } from '../context.js';
import type { NodePool } from '../backend/node-pool.js';
import type { TokenReader } from './admin-tokens.js';

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

/** Runs a command (with its arguments, once parsed). */
export type AdminExecute = (ctx: ProxyContext, view: AdminView) => Promise<AdminResult> | AdminResult;

interface AdminCommandBase {
  /** The words that name it, upper case, e.g. ['SHOW', 'POOLS']. */
  readonly words: readonly string[];
  readonly help: string;
}

/** A command without arguments: its words and nothing else. */
export interface PlainAdminCommand extends AdminCommandBase {
  execute(ctx: ProxyContext, view: AdminView): Promise<AdminResult> | AdminResult;
}

/** A command with arguments after its words. */
export interface ParsedAdminCommand extends AdminCommandBase {
  /** The full syntax, the hint of its syntax errors. */
  readonly syntax: string;
  /**
   * Reads the arguments (the tokens after `words`) and returns what to run. Throws 42601 saying what
   * was expected where; checks that need the running proxy (database names, existing rules) belong in
   * the returned function.
   */
  parse(args: TokenReader): AdminExecute;
}

export type AdminCommand = PlainAdminCommand | ParsedAdminCommand;

/** A command found in a statement, its arguments parsed: ready to run. */
export interface AdminInvocation {
  readonly command: AdminCommand;
  execute(ctx: ProxyContext, view: AdminView): Promise<AdminResult> | AdminResult;
}

export function textColumns(...names: string[]): ColumnSpec[] {
  return names.map((name) => ({ name, typeOid: 25 }));
}

/** A command's result without rows: just its CommandComplete tag (e.g. `SHARD TABLE`). */
export function tagResult(tag: string): AdminResult {
  return { columns: [], rows: [], tag };
}

export function rowsResult(columns: readonly ColumnSpec[], rows: (string | number | boolean | null)[][]): AdminResult {
  return {
    columns,
    rows: rows.map((r) => r.map((v) => (v === null ? null : String(v)))),
    tag: `SHOW`,
  };
}
