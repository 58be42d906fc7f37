// Names prepared statements on server connections under transaction pooling.
// A client's statement keeps its own name on the server whenever no other client uses that name for
// different SQL (the common case: drivers derive names from the SQL or number them identically), so
// Bind/Describe need no rewriting on the hot path. Only a clash gets a proxy-made name.
// Definitions are shared by every client that prepares the same (name, SQL, types); a server connection
// knows which definition each of its names holds, so a reused name never runs stale SQL.

import type { SessionEffect } from '../../planner/session-effects.js';
import { buildParse } from '../protocol/rewrite.js';

export interface StatementDef {
  /** The name the statement has on server connections. */
  readonly name: string;
  readonly query: string;
  readonly paramTypes: readonly number[];
  /** A Parse frame with the server-side name, built once. */
  readonly parseFrame: Buffer;
  refs: number;
  /** What executing it does to session state (classified once, on first use). */
  effect: SessionEffect | null;
}

/** Names the proxy makes start with this; a client name with this prefix is always renamed. */
export const PROXY_STATEMENT_PREFIX = 'pgshard_';

function defKey(query: string, paramTypes: readonly number[]): string {
  return paramTypes.length === 0 ? query : `${paramTypes.join(',')}\u0000${query}`;
}

export class StatementRegistry {
  private readonly byName = new Map<string, StatementDef>();
  /** Proxy-named definitions by SQL, so clashing clients with the same SQL still share one. */
  private readonly renamedByKey = new Map<string, StatementDef>();
  private nextId = 1;

  get size(): number {
    return this.byName.size;
  }

  /** The definition a client's Parse(name, query, types) maps to; takes a reference. */
  acquire(clientName: string, query: string, paramTypes: readonly number[]): StatementDef {
    const existing = this.byName.get(clientName);
    if (existing !== undefined && existing.query === query && sameTypes(existing.paramTypes, paramTypes)) {
      existing.refs++;
      return existing;
    }
    if (existing === undefined && !clientName.startsWith(PROXY_STATEMENT_PREFIX)) {
      return this.add(clientName, query, paramTypes, null);
    }
    const key = defKey(query, paramTypes);
    const renamed = this.renamedByKey.get(key);
    if (renamed !== undefined) {
      renamed.refs++;
      return renamed;
    }
    return this.add(`${PROXY_STATEMENT_PREFIX}${this.nextId++}`, query, paramTypes, key);
  }

  /** Drops a client's reference; an unreferenced definition is forgotten (servers may keep it). */
  release(def: StatementDef): void {
    def.refs--;
    if (def.refs > 0) return;
    if (this.byName.get(def.name) === def) this.byName.delete(def.name);
    const key = defKey(def.query, def.paramTypes);
    if (this.renamedByKey.get(key) === def) this.renamedByKey.delete(key);
  }

  private add(name: string, query: string, paramTypes: readonly number[], renamedKey: string | null): StatementDef {
    const def: StatementDef = {
      name,
      query,
      paramTypes: [...paramTypes],
      parseFrame: buildParse(name, query, [...paramTypes]),
      refs: 1,
      effect: null,
    };
    this.byName.set(name, def);
    if (renamedKey !== null) this.renamedByKey.set(renamedKey, def);
    return def;
  }
}

function sameTypes(a: readonly number[], b: readonly number[]): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}
