// The session-level settings a client expects on whichever server connection serves it: its startup
// parameters and the SETs it ran. Under transaction pooling the proxy compares a connection's applied
// state key with the client's and, when they differ, replays the client's state before its query.
// A SET inside a transaction only takes effect when that transaction commits, as in Postgres.

import { assertNever } from '../../planner/assert-never.js';
import type { SessionEffect } from '../../planner/session-effects.js';

/** Startup parameters that are protocol framing, not settings. */
const NOT_SETTINGS = new Set(['user', 'database', 'options', 'replication']);

export function quoteLiteral(value: string): string {
  return `'${value.replace(/'/g, "''")}'`;
}

function quoteIdent(name: string): string {
  return /^[a-z_][a-z0-9_.]*$/.test(name) ? name : `"${name.replace(/"/g, '""')}"`;
}

export class SessionState {
  /** name → SET statement that establishes the client's value. */
  private readonly startup = new Map<string, string>();
  private readonly sets = new Map<string, string>();
  private pending: SessionEffect[] = [];
  private cachedKey: string | null = null;

  constructor(startupParams: ReadonlyMap<string, string>) {
    for (const [name, value] of startupParams) {
      if (NOT_SETTINGS.has(name) || name.startsWith('_pq_.')) continue;
      this.startup.set(name, `SET ${quoteIdent(name)} = ${quoteLiteral(value)}`);
    }
  }

  /** Identifies the state; equal keys mean a connection needs no replay. */
  get key(): string {
    this.cachedKey ??= [...this.startup.values(), ...this.sets.values()].join(';\n');
    return this.cachedKey;
  }

  /** SQL that takes a connection from its login defaults to this state ('' when there is nothing). */
  replaySql(): string {
    return this.key;
  }

  /** Whether effects await their transaction's outcome. */
  get hasPending(): boolean {
    return this.pending.length > 0;
  }

  /** Records an effect whose statement completed; it holds once its transaction commits. */
  apply(effect: SessionEffect): void {
    this.pending.push(effect);
  }

  /**
   * The transaction ended. Returns what the server connection that ran it now holds:
   * 'same' (nothing changed), 'current' (exactly this state) or 'dirty' (a RESET took a startup
   * value back to the server's login default, so the next client must replay).
   */
  endTransaction(committed: boolean): 'same' | 'current' | 'dirty' {
    const pending = this.pending;
    if (pending.length === 0) return 'same';
    this.pending = [];
    if (!committed) return 'same';
    let dirty = false;
    for (const e of pending) {
      this.applyNow(e);
      if (e.kind === 'reset' || e.kind === 'reset-all') dirty = true;
    }
    return dirty ? 'dirty' : 'current';
  }

  /** DISCARD ALL: back to the startup parameters. */
  discardAll(): void {
    this.sets.clear();
    this.pending = [];
    this.cachedKey = null;
  }

  private applyNow(effect: SessionEffect): void {
    switch (effect.kind) {
      case 'set':
        this.sets.delete(effect.name); // re-insert so replay order follows the client's order
        this.sets.set(effect.name, effect.statement);
        break;
      case 'reset':
        this.sets.delete(effect.name);
        // RESET returns to the session default, which for a startup parameter is the startup value.
        break;
      case 'reset-all':
        this.sets.clear();
        break;
      case 'discard-all':
        this.discardAll();
        break;
      case 'none':
      case 'deallocate':
      case 'pin':
        return;
      default:
        assertNever(effect);
    }
    this.cachedKey = null;
  }
}
