// One client-facing database spread over shards: its rules snapshot and planner, and the executor
// sessions of clients whose batches need several shards. Implements the relay's RelayRouting hook.
// A database with one shard and no rules gets no ShardedDatabase: its relays skip routing entirely.

import type { ShardingRules } from '../../planner/sharding-rules.js';
import type { NodePool } from '../backend/node-pool.js';
import type { ServerConnection } from '../backend/server-connection.js';
import type { ProxyContext } from '../context.js';
import type { OwnedFrame, QueryRelay, RelayRouting } from '../session/query-relay.js';
import { asProxyError, ProxyError } from '../errors.js';
import type { ShardedTableRule } from '../../planner/sharding-rules.js';
import type { LearnedKeyType } from '../../planner/plan.js';
import { placeNull, placeValue, textDatum } from '../../planner/routing/key-values.js';
import { DistributedSession, type ExecutorPlanner } from './distributed-session.js';
import { TableColumnsCache } from './table-columns.js';
import { ColumnCollationsCache } from './column-collations.js';
import type { TwoPhaseCoordinator } from './two-phase-commit.js';
import type { TextOrder } from './merge/value-types.js';
import type { ShardChannel } from './shard-channel.js';
import { buildQuery } from '../protocol/rewrite.js';

export class ShardedDatabase {
  private readonly sessions = new WeakMap<QueryRelay, DistributedSession>();
  /** Tables' columns read from shard 0, for INSERTs without a column list; cleared by DDL. */
  private readonly tableColumns = new TableColumnsCache();
  /** Non-default column collations per shard, for sorted merges; cleared by DDL. */
  private readonly columnCollations = new ColumnCollationsCache();

  constructor(
    public rules: ShardingRules,
    public planner: ExecutorPlanner,
    private readonly ctx: ProxyContext,
    private readonly twoPhase: TwoPhaseCoordinator,
    /** Key types a CREATE TABLE taught (the next rules snapshot includes them). */
    private readonly learn: (learned: readonly LearnedKeyType[]) => void,
    /** A DDL statement created or dropped views: re-read which ones read sharded tables. */
    private readonly viewsChanged: () => Promise<void>,
  ) {}

  /** A new rules snapshot (config reload, SHARD TABLE): statements planned from now on use it. */
  setRules(rules: ShardingRules, planner: ExecutorPlanner): void {
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
      holdsTransaction: (relay) => this.sessions.get(relay)?.holdsSession ?? false,
      closed: (relay) => {
        this.sessions.get(relay)?.close();
        this.sessions.delete(relay);
      },
      copyFrame: (relay, type, buf, start, end) => this.sessions.get(relay)?.copy?.onClientFrame(type, buf, start, end),
      running: (relay) => this.sessions.get(relay)?.busyConnections() ?? [],
    };
  }

  private collation: Promise<TextOrder> | null = null;

  /**
   * The database's default text order, from a shard's lc_collate: byte order for C, POSIX and C.UTF-8
   * (exactly what Postgres does there), otherwise the locale's ICU collation (an approximation of
   * glibc's, documented in scatter-gather.md). Asked once per database.
   */
  textOrder(channel: ShardChannel): Promise<TextOrder> {
    this.collation ??= askCollation(channel).catch((err: unknown) => {
      this.collation = null;
      throw err;
    });
    return this.collation;
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
        tableColumns: this.tableColumns,
        columnCollations: this.columnCollations,
        shardOfKey: (rule, key) => this.shardOfKey(rule, key),
        textOrder: (channel) => this.textOrder(channel),
        learn: (learned) => this.learn(learned),
        viewsChanged: () => this.viewsChanged(),
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

/** lc_collate of the shard's database, as a merge text order. */
async function askCollation(channel: ShardChannel): Promise<TextOrder> {
  let value = '';
  await channel.request([buildQuery('SHOW lc_collate')], {
    onFrame(type, buf, start, end) {
      // DataRow with one column: length at +7, value from +11.
      if (type === 0x44 && end - start > 11) value = buf.toString('utf8', start + 11, end);
    },
  });
  return collationOrder(value);
}

/** C, POSIX and C.UTF-8 (any spelling of the encoding) sort by bytes; others by their locale. */
export function collationOrder(lcCollate: string): TextOrder {
  if (/^(C|POSIX)(\.utf-?8)?$/i.test(lcCollate.trim()) || lcCollate.trim() === '') return 'bytes';
  const locale = lcCollate.split('.')[0]!.replace('_', '-');
  return { locale };
}
