// The proxy's own session settings, pgshard.*: read by SET / RESET / SHOW (the executor answers
// them) and by the startup packet (`options=-c pgshard.read_consistency=sync`). One table of names,
// one validation, so both ways behave alike. Errors: 42704 for an unknown name, 22023 for a bad value.

import type { DatabaseConfig, ReadConsistency } from '../../topology/config/config-types.js';
import { READ_CONSISTENCIES } from '../../topology/config/config-schema.js';
import { CausalTokenError, decodeCausalToken, encodeCausalToken, type CausalEntry } from '../../topology/causal-token.js';
import { ProxyError } from '../errors.js';
import type { SessionRouting } from '../../planner/plan.js';
import type { ReadSettings } from './read-router.js';

export const PGSHARD_SETTINGS = ['pgshard.shard', 'pgshard.read_consistency', 'pgshard.max_staleness_ms', 'pgshard.causal_token'] as const;
export type PgshardSetting = (typeof PGSHARD_SETTINGS)[number];

/** What a session's pgshard.* settings act on. */
export interface SettingsTarget {
  readonly database: DatabaseConfig;
  routing: SessionRouting;
  readonly reads: ReadSettings;
  /** The defaults RESET goes back to (config). */
  readonly defaults: { readonly consistency: ReadConsistency; readonly maxStalenessMs: number };
  /** The shard's current failover term (causal tokens carry it). */
  termOf(shard: number): number;
}

function settingName(name: string): PgshardSetting {
  const lower = name.toLowerCase();
  const known = PGSHARD_SETTINGS.find((s) => s === lower);
  if (known === undefined) throw ProxyError.unknownSetting(name);
  return known;
}

const unquote = (v: string): string => v.replace(/^'(.*)'$/s, '$1');

/** SET name = value (null or DEFAULT: RESET). */
export function setSetting(target: SettingsTarget, name: string, raw: string | null): void {
  const setting = settingName(name);
  const value = raw === null ? null : unquote(raw.trim());
  if (value === null || value.toLowerCase() === 'default') {
    resetSetting(target, setting);
    return;
  }
  switch (setting) {
    case 'pgshard.shard': {
      const n = Number(value);
      const shards = target.database.shards.length;
      if (!/^\d+$/.test(value) || n >= shards) throw ProxyError.invalidParameterValue(`pgshard.shard must be a shard number from 0 to ${shards - 1}, not "${value}"`);
      target.routing = { shard: n };
      return;
    }
    case 'pgshard.read_consistency': {
      const level = READ_CONSISTENCIES.find((c) => c === value.toLowerCase());
      if (level === undefined) throw ProxyError.invalidParameterValue(`pgshard.read_consistency must be one of ${READ_CONSISTENCIES.join(', ')}, not "${value}"`);
      target.reads.consistency = level;
      return;
    }
    case 'pgshard.max_staleness_ms': {
      if (!/^\d{1,9}$/.test(value)) throw ProxyError.invalidParameterValue(`pgshard.max_staleness_ms must be a whole number of milliseconds, not "${value}"`);
      target.reads.maxStalenessMs = Number(value);
      return;
    }
    case 'pgshard.causal_token': {
      if (value === '') return;
      let entries: CausalEntry[];
      try {
        entries = decodeCausalToken(value);
      } catch (err) {
        if (err instanceof CausalTokenError) throw ProxyError.invalidParameterValue(err.message);
        throw err;
      }
      // Positions of this database's shards join the session's own (the later one wins).
      target.database.shards.forEach((shard, i) => {
        for (const e of entries) {
          if (e.database !== target.database.name || e.shard !== shard.name) continue;
          const have = target.reads.positions[i] ?? null;
          if (have === null || e.lsn > have) target.reads.positions[i] = e.lsn;
        }
      });
      return;
    }
  }
}

export function resetSetting(target: SettingsTarget, name: string): void {
  const setting = settingName(name);
  switch (setting) {
    case 'pgshard.shard':
      target.routing = { shard: null };
      return;
    case 'pgshard.read_consistency':
      target.reads.consistency = target.defaults.consistency;
      return;
    case 'pgshard.max_staleness_ms':
      target.reads.maxStalenessMs = target.defaults.maxStalenessMs;
      return;
    case 'pgshard.causal_token':
      // Forgetting positions could show a session data older than what it read already: keep them.
      return;
  }
}

/** SHOW name: the value as text. */
export function showSetting(target: SettingsTarget, name: string): string {
  const setting = settingName(name);
  switch (setting) {
    case 'pgshard.shard':
      return target.routing.shard === null ? '' : String(target.routing.shard);
    case 'pgshard.read_consistency':
      return target.reads.consistency;
    case 'pgshard.max_staleness_ms':
      return String(target.reads.maxStalenessMs);
    case 'pgshard.causal_token': {
      // From now on the session's commits are tracked whatever its consistency.
      target.reads.exporting = true;
      const entries: CausalEntry[] = [];
      target.database.shards.forEach((shard, i) => {
        const lsn = target.reads.positions[i];
        if (lsn !== null && lsn !== undefined) entries.push({ database: target.database.name, shard: shard.name, term: target.termOf(i), lsn });
      });
      // No position yet: the empty token (SET of '' imports nothing).
      return entries.length === 0 ? '' : encodeCausalToken(entries);
    }
  }
}

/** Applies pgshard.* settings from the startup packet (removed from `params`: they are not Postgres's). */
export function applyStartupSettings(target: SettingsTarget, params: Map<string, string>): void {
  for (const [name, value] of [...params]) {
    if (!name.toLowerCase().startsWith('pgshard.')) continue;
    params.delete(name);
    setSetting(target, name, value);
  }
}
