// Finishes two-phase commits a previous run of this proxy left in doubt (it died between PREPARE and
// the last COMMIT PREPARED): reads pg_prepared_xacts on every shard of every sharded database, commits
// the transactions whose decision is in the log, rolls back this proxy's others (presumed abort,
// topology/state/in-doubt.ts), then forgets decisions no shard holds any more. Runs before the proxy
// accepts clients, so nobody sees a transaction committed on one shard and still prepared on another.
// A COMMIT PREPARED must come from the transaction's owner (or a superuser): each configured user
// resolves its own transactions.

import type { Config } from '../../topology/config/config-types.js';
import type { DecisionLog } from '../../topology/state/decision-log.js';
import { finishedDecisions, resolveInDoubt, type PreparedXact } from '../../topology/state/in-doubt.js';
import { ServerConnection } from '../backend/server-connection.js';
import { oneOffQuery } from '../backend/one-off-query.js';
import { serverLogin } from '../backend/server-login.js';
import type { Logger } from '../logger.js';

export interface RecoveryReport {
  committed: number;
  rolledBack: number;
  forgotten: number;
  /** Shards (database/shard) that could not be read: their transactions stay in doubt until the next run. */
  unreachable: string[];
}

export async function recoverInDoubt(config: Config, log: DecisionLog, proxyId: string, logger: Logger): Promise<RecoveryReport> {
  const report: RecoveryReport = { committed: 0, rolledBack: 0, forgotten: 0, unreachable: [] };
  const decisions = log.pending();
  const logged = new Set(decisions.map((d) => d.gid));
  /** Prepared transactions seen and left as they are (another proxy's, or not resolvable by us). */
  const remaining: PreparedXact[] = [];
  /** Shard indexes read in every sharded database (participants are shard indexes). */
  let queriedEverywhere: Set<number> | null = null;
  for (const db of config.databases) {
    if (db.shards.length === 1 && db.sharding.tables.length === 0 && db.sharding.referenceTables.length === 0) continue;
    const queried = new Set<number>();
    for (const [shard, shardConfig] of db.shards.entries()) {
      let reachable = true;
      for (const user of config.users) {
        let conn: ServerConnection | null = null;
        try {
          conn = await ServerConnection.connect(serverLogin(config, db, user, shardConfig.primary, `${db.name}/${shardConfig.name}/primary`));
          const rows = await oneOffQuery(
            conn,
            "SELECT gid, (extract(epoch FROM now() - prepared) * 1000)::bigint FROM pg_catalog.pg_prepared_xacts WHERE database = current_database() AND owner = current_user AND gid LIKE 'pgshard\\_%'",
          );
          const now = Date.now();
          const prepared = rows.map(([gid, ageMs]) => ({ shard, gid: gid ?? '', preparedAtMs: now - Number(ageMs) }));
          const resolutions = resolveInDoubt({ proxyId, logged, prepared, nowMs: now, minAgeMs: 0 });
          const resolving = new Set(resolutions.map((r) => r.gid));
          remaining.push(...prepared.filter((p) => !resolving.has(p.gid)));
          for (const r of resolutions) {
            await oneOffQuery(conn, `${r.action === 'commit' ? 'COMMIT' : 'ROLLBACK'} PREPARED '${r.gid}'`);
            if (r.action === 'commit') report.committed++;
            else report.rolledBack++;
            logger.warn({ database: db.name, shard, gid: r.gid, action: r.action }, 'in-doubt transaction resolved');
          }
        } catch (err) {
          // A user that cannot log in to this shard owns nothing there; an unreachable shard is remembered.
          const message = err instanceof Error ? err.message : String(err);
          if (/28P01|28000|password|authentication|does not exist/i.test(message)) continue;
          reachable = false;
          logger.warn({ database: db.name, shard, err: message }, 'in-doubt recovery could not read a shard');
        } finally {
          conn?.destroy();
        }
      }
      if (reachable) queried.add(shard);
      else report.unreachable.push(`${db.name}/${shardConfig.name}`);
    }
    const before: Set<number> | null = queriedEverywhere as Set<number> | null;
    queriedEverywhere = before === null ? queried : new Set([...before].filter((s) => queried.has(s)));
  }
  if (queriedEverywhere !== null) {
    for (const gid of finishedDecisions({ decisions, prepared: remaining, queriedShards: queriedEverywhere })) {
      log.forget(gid);
      report.forgotten++;
    }
  }
  return report;
}
