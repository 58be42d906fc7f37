// The one query a health check runs and how its answer is read: roles, LSNs, the last replayed
// transaction's time, the node's clock and the WAL receiver, in one round trip. Pure apart from the
// SQL text; the loop that sends it is health-checker.ts.

import type { HealthSample, NodeRole } from '../../topology/health/node-health.js';
import { parseLsnOrNull } from '../../topology/lsn.js';

/**
 * Everything a check needs, in one round trip. pg_current_wal_lsn() raises an error during recovery,
 * hence the CASE (evaluated lazily: the function is volatile). pg_stat_wal_receiver has at most one
 * row; its details are NULL for roles without pg_read_all_stats (then only pid shows a receiver).
 * Times travel as integer ms since the epoch so no DateStyle/TimeZone setting can change them.
 */
export const CHECK_SQL = [
  'SELECT pg_catalog.pg_is_in_recovery(),',
  ' CASE WHEN pg_catalog.pg_is_in_recovery() THEN NULL ELSE pg_catalog.pg_current_wal_lsn() END,',
  ' pg_catalog.pg_last_wal_receive_lsn(),',
  ' pg_catalog.pg_last_wal_replay_lsn(),',
  ' floor(extract(epoch FROM pg_catalog.pg_last_xact_replay_timestamp()) * 1000)::int8,',
  ' floor(extract(epoch FROM pg_catalog.now()) * 1000)::int8,',
  ' r.pid IS NOT NULL, r.status, r.sender_host, r.sender_port',
  ' FROM (SELECT 1) AS one LEFT JOIN pg_catalog.pg_stat_wal_receiver AS r ON true',
].join('');

/** A replay poll (sync reads waiting for a replica): one column, pg_lsn or NULL. */
export const REPLAY_SQL = 'SELECT pg_catalog.pg_last_wal_replay_lsn()';

/** A result row as text (oneOffQuery). */
export type Row = (string | null)[];

/** Reads CHECK_SQL's row; throws on anything unexpected (the check then fails). */
export function parseCheckRow(row: Row | undefined): HealthSample {
  if (row === undefined || row.length !== 10) throw new Error(`unexpected health check result (${row === undefined ? 'no row' : `${row.length} columns`})`);
  const [recovery, current, receive, replay, replayTs, now, hasReceiver, status, senderHost, senderPort] = row;
  if (recovery !== 't' && recovery !== 'f') throw new Error(`unexpected pg_is_in_recovery() value ${JSON.stringify(recovery)}`);
  const serverNowMs = Number(now);
  if (now === null || !Number.isFinite(serverNowMs)) throw new Error('unexpected now() value');
  const replayTimestampMs = replayTs === null ? null : Number(replayTs);
  if (replayTimestampMs !== null && !Number.isFinite(replayTimestampMs)) throw new Error('unexpected pg_last_xact_replay_timestamp() value');
  const role: NodeRole = recovery === 't' ? 'replica' : 'primary';
  let receiving: boolean | null = false;
  if (hasReceiver === 't') receiving = status === null ? null : status === 'streaming';
  return {
    role,
    currentLsn: role === 'primary' ? parseLsnOrNull(current ?? null) : null,
    receiveLsn: parseLsnOrNull(receive ?? null),
    replayLsn: parseLsnOrNull(replay ?? null),
    replayTimestampMs,
    serverNowMs,
    receiving,
    upstream: senderHost != null && senderPort != null ? `${senderHost}:${senderPort}` : null,
  };
}
