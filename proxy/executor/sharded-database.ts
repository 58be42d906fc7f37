// One client-facing database spread over shards: its rules snapshot and planner, and the executor
// sessions of clients whose batches need several shards. Implements the relay's RelayRouting hook.
// A database with one shard and no rules gets no ShardedDatabase: its relays skip routing entirely.

import type { ShardingRules } from '../../planner/sharding-rules.js';
import type { NodePool } from '../backend/node-pool.js';
import type { ServerConnection } from '../backend/server-connection.js';
import type { ProxyContext } from '../context.js';
import type { PlannerLike } from '../session/batch-router.js';
import type { OwnedFrame, QueryRelay, RelayRouting } from '../session/query-relay.js';
import { asProxyError, ProxyError } from '../errors.js';
import type { ShardedTableRule } from '../../planner/sharding-rules.js';
import { placeNull, placeValue, textDatum } from '../../planner/routing/key-values.js';
import { DistributedSession } from './distributed-session.js';
import type { TwoPhaseCoordinator } from './two-phase-commit.js';

export class ShardedDatabase {
  private readonly sessions = new WeakMap<QueryRelay, DistributedSession>();

  constructor(
    public rules: ShardingRules,
    public planner: PlannerLike,
    private readonly ctx: ProxyContext,
    private readonly twoPhase: TwoPhaseCoordinator,
  ) {}

  /** A new rules snapshot (config reload, SHARD TABLE): statements planned from now on use it. */
  setRules(rules: ShardingRules, planner: PlannerLike): void {
    this.rules = rules;
    this.planner = planner;
  }

  /** The routing hook for one client's relay, over that client's pools (one per shard). */
  routingFor(pools: readonly NodePool[]): RelayRouting {
    // eslint-disable-next-line @typescript-eslint/no-this-alias
    const database = this;
    return {
      get planner() {
        return database.planner;
      },
      handOff: (relay, frames, adopted, done) => this.handOff(relay, pools, frames, adopted, done),
      holdsTransaction: (relay) => this.sessions.get(relay)?.inTransaction ?? false,
      closed: (relay) => {
        this.sessions.get(relay)?.close();
        this.sessions.delete(relay);
      },
      copyFrame: (relay, type, buf, start, end) => this.sessions.get(relay)?.copy?.onClientFrame(type, buf, start, end),
      running: (relay) => this.sessions.get(relay)?.busyConnections() ?? [],
    };
  }

  /** Where a COPY row with this key text goes; rows no shard may hold are refused as Postgres refuses them. */
  shardOfKey(rule: ShardedTableRule, key: string | null): number {
    const keyType = rule.keyType;
    if (keyType === null) {
      throw ProxyError.unsupported(
        `the type of the shard key ${rule.name}.${rule.column} is not known yet`,
        'Declare it in the config (type: int8, text, ...), or create the table through pgshard.',
      );
    }
    let placed: number | 'no-piece' | 'invalid';
    if (key === null) placed = placeNull(this.rules, rule, keyType);
    else {
      const datum = textDatum(key, keyType);
      // A value the key type cannot hold: any shard gives Postgres's own error for it.
      if (datum.kind !== 'value') return 0;
      placed = placeValue(this.rules, rule, keyType, datum.value);
    }
    if (placed === 'invalid') return 0;
    if (placed === 'no-piece') throw ProxyError.noShardForKey(rule.name, key);
    return placed;
  }

  private handOff(
    relay: QueryRelay,
    pools: readonly NodePool[],
    frames: OwnedFrame[],
    adopted: { shard: number; conn: ServerConnection } | null,
    done: () => void,
  ): void {
    let session = this.sessions.get(relay);
    if (session === undefined) {
      // eslint-disable-next-line @typescript-eslint/no-this-alias
      const database = this;
      session = new DistributedSession(relay, {
        ctx: this.ctx,
        get planner() {
          return database.planner;
        },
        pools,
        twoPhase: this.twoPhase,
        shardOfKey: (rule, key) => this.shardOfKey(rule, key),
      });
      this.sessions.set(relay, session);
    }
    if (adopted !== null) session.adopt(adopted.shard, adopted.conn);
    else if (relay.deferredBegin !== null && !session.inTransaction) {
      session.openDeferred(relay.deferredBegin);
      relay.deferredBegin = null;
    }
    const s = session;
    s.runBatch(frames).then(done, (err: unknown) => {
      // A bug or a lost shard: the client cannot trust its session any more.
      s.close();
      this.sessions.delete(relay);
      relay.fail(asProxyError(err));
    });
  }
}
