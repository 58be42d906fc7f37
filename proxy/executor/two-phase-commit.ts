// Commits a transaction that wrote on several shards atomically: PREPARE TRANSACTION on every writer,
// the commit decision written durably to the decision log, then COMMIT PREPARED on each. Until the
// decision is logged any failure rolls everything back; after it, the transaction is committed even
// if a COMMIT PREPARED fails (the shard or the proxy died): recovery finishes it from the log.
// Control points let tests crash the process at each step (PGSHARD_CONTROL_POINTS).

import { ProxyError } from '../errors.js';
import { buildQuery } from '../protocol/rewrite.js';
import type { ShardChannel } from './shard-channel.js';
import { reachControlPoint } from './control-points.js';
import { decodeErrorFields } from '../protocol/backend-messages.js';

export interface DecisionLogLike {
  logCommit(gid: string, participants: number[]): Promise<void>;
  forget(gid: string): void | Promise<void>;
}

export class TwoPhaseCoordinator {
  constructor(
    private readonly log: DecisionLogLike,
    private readonly makeGid: () => string,
    private readonly onUnfinished: (gid: string, shards: number[]) => void,
  ) {}

  async commit(writers: readonly ShardChannel[]): Promise<void> {
    const gid = this.makeGid();
    const prepared = await Promise.all(writers.map((c) => run(c, `PREPARE TRANSACTION '${gid}'`)));
    const failed = prepared.findIndex((e) => e !== null);
    if (failed >= 0) {
      // A shard refused to prepare (its transaction is gone): undo the others, report its error.
      await Promise.all(writers.map((c, i) => (prepared[i] === null ? run(c, `ROLLBACK PREPARED '${gid}'`) : null)));
      throw ProxyError.fromServer(prepared[failed]!, 'ERROR');
    }
    reachControlPoint('2pc-after-prepare');
    await this.log.logCommit(gid, writers.map((c) => c.shard));
    reachControlPoint('2pc-after-decision');
    let unfinished = false;
    for (const c of writers) {
      const err = await run(c, `COMMIT PREPARED '${gid}'`);
      if (err !== null) unfinished = true;
      reachControlPoint('2pc-after-commit-prepared');
    }
    if (unfinished) this.onUnfinished(gid, writers.map((c) => c.shard));
    else await this.log.forget(gid);
  }
}

/** Runs one proxy-made statement; resolves with the server's error fields, or null. Never rejects. */
async function run(channel: ShardChannel, sql: string): Promise<Map<string, string> | null> {
  let error: Map<string, string> | null = null;
  try {
    await channel.request([buildQuery(sql)], {
      onFrame(type, buf, start, end) {
        if (type === 0x45 /* E */ && error === null) error = decodeErrorFields(buf, start, end);
      },
    });
  } catch (err) {
    return new Map([['C', '08006'], ['M', err instanceof Error ? err.message : String(err)]]);
  }
  return error;
}
