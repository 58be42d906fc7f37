// Runs what one shard cannot: a client's batches while they need several shards, and every batch of a
// transaction that spans shards. Statements run one after another; results of several shards are
// merged (merge/); a transaction that wrote on more than one shard commits with two-phase commit after
// its decision is logged (two-phase-commit.ts). Both query protocols are served to the client; toward
// the shards the executor re-issues each statement itself (unnamed statement and portal).
// Not the hot path: frames from shards are copied, never referenced after their read.

import { assertNever } from '../../planner/assert-never.js';
import type { BoundParams, CatalogFacts, LearnedKeyType, Merge, Plan, SessionRouting, StatementPlan } from '../../planner/plan.js';
import type { ShardedTableRule } from '../../planner/sharding-rules.js';
import { asProxyError, errorResponseFrame, noticeFrame, ProxyError } from '../errors.js';
import { decodeCommandTag } from '../protocol/backend-messages.js';
import { decodeBind, decodeClose, decodeDescribe, decodeExecute, decodeParse, decodeQuery, type BindMessage } from '../protocol/client-messages.js';
import { buildBind, buildDescribe, buildExecute, buildParse, buildQuery, SYNC } from '../protocol/rewrite.js';
import {
  BIND_COMPLETE,
  CLOSE_COMPLETE,
  commandComplete,
  dataRow,
  EMPTY_QUERY_RESPONSE,
  PARSE_COMPLETE,
  readyForQuery,
  rowDescription,
  typeOids,
} from '../protocol/server-messages.js';
import type { OwnedFrame, QueryRelay } from '../session/query-relay.js';
import { WriteCoalescer } from '../session/write-coalescer.js';
import type { ServerConnection } from '../backend/server-connection.js';
import type { NodePool } from '../backend/node-pool.js';
import { ShardChannel } from './shard-channel.js';
import { MergeStream } from './merge/merge-stream.js';
import type { TextOrder } from './merge/value-types.js';
import type { SessionEffect } from '../../planner/session-effects.js';
import { mergeCommandTags } from './merge/command-tag.js';
import type { TwoPhaseCoordinator } from './two-phase-commit.js';
import type { ProxyContext } from '../context.js';
import { columnsKey, factsOf, readTableColumns, type TableColumnsCache } from './table-columns.js';
import { columnKey, readColumnCollations, type ColumnCollations, type ColumnCollationsCache } from './column-collations.js';
import { CopyIn } from './copy-in.js';
import { T_BIND, T_CLOSE, T_DESCRIBE, T_EXECUTE, T_FLUSH, T_PARSE, T_QUERY, T_SYNC } from '../protocol/frontend-types.js';
import { resetSetting, setSetting, showSetting } from '../replicas/session-settings.js';

/** DDL that may create, replace or drop a view. */
const VIEW_DDL = /\bview\b/i;

/** SET LOCAL and SET TRANSACTION: they last for the transaction only. */
const TRANSACTION_SCOPED_SET = /^\s*set\s+(local\s|transaction\s|session\s+characteristics\s)/i;

interface Participant {
  readonly channel: ShardChannel;
  /** BEGIN sent: the shard is inside the client's (or the batch's) transaction. */
  inTransaction: boolean;
  wrote: boolean;
}

/** A statement's failure as the shard reported it (forwarded byte for byte). */
class StatementFailed extends Error {
  constructor(readonly frame: Buffer) {
    super('statement failed');
  }
}

/** How one statement is invoked: simple Query, or a bound portal of the extended protocol. */
interface Invocation {
  readonly sql: string;
  readonly bind: BindMessage | null;
  readonly paramTypes: readonly number[];
  /** Extended protocol: the client asked for the portal's description (RowDescription / NoData). */
  readonly describe: boolean;
}

interface Portal {
  readonly sql: string;
  readonly paramTypes: readonly number[];
  readonly bind: BindMessage;
  readonly plans: readonly StatementPlan[];
}

/** The planner as the executor uses it: it may pass catalog facts a plan `needs` (planner/planner.ts). */
export interface ExecutorPlanner {
  plan(sql: string, params: BoundParams | null, session: SessionRouting, facts?: CatalogFacts | null): readonly StatementPlan[];
}

export interface DistributedHost {
  readonly ctx: ProxyContext;
  readonly planner: ExecutorPlanner;
  /** Tables' columns read from shards, shared by the database's sessions; cleared on DDL. */
  readonly tableColumns: TableColumnsCache;
  /** Non-default column collations per shard, for sorted merges; cleared on DDL. */
  readonly columnCollations: ColumnCollationsCache;
  readonly pools: readonly NodePool[];
  readonly twoPhase: TwoPhaseCoordinator;
  /** The shard of a row whose key has this COPY text form (null: SQL NULL); throws when no shard may hold it. */
  shardOfKey(rule: ShardedTableRule, key: string | null): number;
  /** How the database orders text (its default collation), asked of a shard once. */
  textOrder(channel: ShardChannel): Promise<TextOrder>;
  /** Key types a CREATE TABLE that just succeeded declares for rules that had none. */
  learn(learned: readonly LearnedKeyType[]): void;
  /** Views were created or dropped: the rules learn which ones read sharded tables. */
  viewsChanged(): Promise<void>;
}

export class DistributedSession {
  private readonly participants = new Map<number, Participant>();
  private readonly out = new WriteCoalescer();
  /** The client opened a transaction block (BEGIN) that is not finished. */
  inTransaction = false;
  /** A statement failed inside the block: everything but ROLLBACK gets 25P02 until it ends. */
  private failed = false;
  private beginText = 'BEGIN';
  private readonly savepoints: string[] = [];
  /** DDL on views ran in the open transaction: re-read the sharded views when it commits. */
  private viewsDirty = false;
  /**
   * DDL ran in the open transaction (explicit, or the one a DDL statement runs in): columns read now
   * may not be committed, so they are kept for this session only (txColumns) until it ends.
   */
  private ddlInTransaction = false;
  private readonly txColumns = new Map<string, readonly string[] | null>();
  /** SET / RESET statements of the open transaction, replayed on shards that join it later. */
  private readonly pendingSettings: string[] = [];
  private readonly portals = new Map<string, Portal>();
  /** Extended protocol: an error was reported; messages are skipped up to Sync. */
  private skipping = false;
  /** Extended protocol: statements ran since the last Sync (their implicit transaction is open). */
  private executedSinceSync = 0;
  /** COPY FROM STDIN in progress: client CopyData goes here. */
  copy: CopyIn | null = null;

  constructor(
    private readonly relay: QueryRelay,
    private readonly host: DistributedHost,
  ) {}

  /**
   * The client's next messages must come here: a transaction block is open, or an extended-protocol
   * batch has not reached its Sync (its statements share one implicit transaction).
   */
  get holdsSession(): boolean {
    if (this.inTransaction || this.skipping || this.executedSinceSync > 0 || this.portals.size > 0) return true;
    for (const p of this.participants.values()) if (p.inTransaction) return true;
    return false;
  }

  /** Takes over the relay's open transaction on one shard (it becomes the first participant). */
  adopt(shard: number, conn: ServerConnection): void {
    this.participants.set(shard, { channel: new ShardChannel(shard, conn), inTransaction: conn.txStatus !== 'I', wrote: true });
    if (conn.txStatus !== 'I') {
      this.inTransaction = true;
      this.failed = conn.txStatus === 'E';
    }
  }

  /** Starts from a BEGIN the relay answered itself: the block is open, no shard has seen it yet. */
  openDeferred(beginText: string): void {
    this.inTransaction = true;
    this.beginText = beginText;
  }

  async runBatch(frames: readonly OwnedFrame[]): Promise<void> {
    for (let i = 0; i < frames.length; i++) {
      const f = frames[i]!;
      const buf = f.buf;
      if (this.skipping && f.type !== T_SYNC) continue;
      try {
        switch (f.type) {
          case T_QUERY:
            await this.runQuery(decodeQuery(buf, 0, buf.length));
            break;
          case T_PARSE: {
            const msg = decodeParse(buf, 0, buf.length);
            const err = this.relay.rememberParse(msg.name, msg.query, msg.paramTypes);
            if (err !== null) throw err;
            this.out.addBuffer(PARSE_COMPLETE);
            break;
          }
          case T_BIND:
            this.bindPortal(decodeBind(buf, 0, buf.length));
            this.out.addBuffer(BIND_COMPLETE);
            break;
          case T_DESCRIBE: {
            const d = decodeDescribe(buf, 0, buf.length);
            const next = frames[i + 1];
            // A Describe right before the Execute of the same portal is answered with the rows' own description.
            const answeredByExecute = d.target === 'P' && next !== undefined && next.type === T_EXECUTE && decodeExecute(next.buf, 0, next.buf.length).portal === d.name;
            if (answeredByExecute) {
              await this.executePortal(d.name, true, next.buf);
              i++;
            } else await this.describe(d.target, d.name);
            break;
          }
          case T_EXECUTE:
            await this.executePortal(decodeExecute(buf, 0, buf.length).portal, false, buf);
            break;
          case T_CLOSE: {
            const c = decodeClose(buf, 0, buf.length);
            if (c.target === 'S') this.relay.forgetStatement(c.name);
            else this.portals.delete(c.name);
            this.out.addBuffer(CLOSE_COMPLETE);
            break;
          }
          case T_SYNC:
            await this.sync();
            break;
          case T_FLUSH:
            break;
          default:
            throw ProxyError.unsupported('the function call protocol is not supported for statements that span shards', 'Call the function with SELECT.');
        }
      } catch (err) {
        // A protocol violation ends the session (FATAL), as on the relay's path.
        if (err instanceof ProxyError && err.severity === 'FATAL') throw err;
        await this.extendedError(err);
      }
      this.flush();
    }
    this.flush();
  }

  private status(): 'I' | 'T' | 'E' {
    return this.inTransaction ? (this.failed ? 'E' : 'T') : 'I';
  }

  private flush(): void {
    if (!this.out.isEmpty()) this.out.flushTo(this.relay.clientSocket);
  }

  // ---- simple protocol ---------------------------------------------------------------------

  /** One simple Query: its statements in order, one implicit transaction unless a block is open. */
  private async runQuery(sql: string): Promise<void> {
    const plans = this.host.planner.plan(sql, null, this.relay.routingSettings);
    if (plans.length === 0) {
      this.out.addBuffer(EMPTY_QUERY_RESPONSE);
      this.ready();
      return;
    }
    const implicit = !this.inTransaction;
    try {
      for (const [i, planned] of plans.entries()) {
        // Facts a plan needs are read when it runs: earlier statements of the string may be DDL.
        const sp = await this.withCatalogFacts(planned, i, sql, null);
        await this.runStatement(sp, { sql: sp.text, bind: null, paramTypes: [], describe: true }, implicit && plans.length > 1);
      }
      if (implicit) await this.endTransaction(true);
    } catch (err) {
      this.out.addBuffer(err instanceof StatementFailed ? err.frame : errorResponseFrame(asProxyError(err)));
      if (implicit || !this.inTransaction) await this.endTransaction(false);
      else this.failed = true;
    }
    this.ready();
  }

  private ready(): void {
    this.out.addBuffer(readyForQuery(this.status()));
    this.relay.txStatus = this.status();
    if (!this.inTransaction) this.releaseAll();
  }

  // ---- extended protocol -------------------------------------------------------------------

  private bindPortal(bind: BindMessage): void {
    const stmt = bind.statement === '' ? this.relay.unnamedStatement : this.relay.statement(bind.statement) ?? null;
    if (stmt === null) throw ProxyError.unknownPreparedStatement(bind.statement);
    const params: BoundParams = { values: bind.values, formats: bind.paramFormats, types: stmt.paramTypes };
    const plans = this.host.planner.plan(stmt.query, params, this.relay.routingSettings);
    if (plans.length > 1) throw ProxyError.unsupported('cannot insert multiple commands into a prepared statement', 'Send one statement per Parse.');
    this.portals.set(bind.portal, { sql: stmt.query, paramTypes: stmt.paramTypes, bind, plans });
  }

  private async executePortal(name: string, describe: boolean, executeFrame: Buffer): Promise<void> {
    const portal = this.portals.get(name);
    if (portal === undefined) throw ProxyError.unknownPortal(name);
    if (decodeExecute(executeFrame, 0, executeFrame.length).maxRows > 0) {
      throw ProxyError.unsupported('fetching a multi-shard result in chunks (Execute with a row limit) is not supported', 'Fetch all rows at once, or fix the shard key.');
    }
    const planned = portal.plans[0];
    if (planned === undefined) {
      this.out.addBuffer(EMPTY_QUERY_RESPONSE);
      return;
    }
    this.executedSinceSync++;
    const params: BoundParams = { values: portal.bind.values, formats: portal.bind.paramFormats, types: portal.paramTypes };
    const sp = await this.withCatalogFacts(planned, 0, portal.sql, params);
    // Statements between two Syncs form one implicit transaction: more than one needs BEGIN on each shard.
    await this.runStatement(sp, { sql: portal.sql, bind: portal.bind, paramTypes: portal.paramTypes, describe }, !this.inTransaction && this.executedSinceSync > 1);
    if (name === '') this.portals.delete(name);
  }

  /** Describe of a statement or of a portal whose rows are not fetched next: asked of one shard. */
  private async describe(target: 'S' | 'P', name: string): Promise<void> {
    let sql: string;
    let types: readonly number[];
    let bind: BindMessage | null = null;
    if (target === 'S') {
      const stmt = name === '' ? this.relay.unnamedStatement : this.relay.statement(name) ?? null;
      if (stmt === null) throw ProxyError.unknownPreparedStatement(name);
      sql = stmt.query;
      types = stmt.paramTypes;
    } else {
      const portal = this.portals.get(name);
      if (portal === undefined) throw ProxyError.unknownPortal(name);
      sql = portal.sql;
      types = portal.paramTypes;
      bind = portal.bind;
    }
    const p = await this.participant(this.anyShard(), false);
    const frames = [buildParse('', sql, [...types])];
    if (bind !== null) frames.push(buildBind('', '', bind.paramFormats, bind.values, bind.resultFormats), buildDescribe('P', ''));
    else frames.push(buildDescribe('S', ''));
    frames.push(SYNC);
    let error: Buffer | null = null;
    const out = this.out;
    await p.channel.request(frames, {
      onFrame(type, buf, start, end) {
        if (type === 0x74 /* t */ || type === 0x54 /* T */ || type === 0x6e /* n */) out.addBuffer(Buffer.from(buf.subarray(start, end)));
        else if (type === 0x45) error ??= Buffer.from(buf.subarray(start, end));
      },
    });
    if (error !== null) throw new StatementFailed(error);
  }

  private async sync(): Promise<void> {
    if (this.skipping) {
      this.skipping = false;
      if (!this.inTransaction) await this.endTransaction(false);
    } else if (!this.inTransaction) {
      try {
        await this.endTransaction(true);
      } catch (err) {
        this.out.addBuffer(err instanceof StatementFailed ? err.frame : errorResponseFrame(asProxyError(err)));
      }
    }
    this.executedSinceSync = 0;
    // Portals live until their transaction ends: outside a block, that is this Sync.
    if (this.inTransaction) this.portals.delete('');
    else this.portals.clear();
    this.ready();
  }

  /** An error inside an extended batch: reported now, the rest skipped up to Sync, as Postgres does. */
  private async extendedError(err: unknown): Promise<void> {
    this.out.addBuffer(err instanceof StatementFailed ? err.frame : errorResponseFrame(asProxyError(err)));
    if (this.inTransaction) this.failed = true;
    this.skipping = true;
  }

  // ---- statements --------------------------------------------------------------------------

  /**
   * A plan that `needs` catalog facts (an INSERT without a column list needs its table's columns),
   * planned again with them: from this session's transaction when its own DDL may have changed them,
   * else from the database's cache, else read from shard 0 (the first shard's catalog) inside the
   * session's transaction, if one is open, so its own DDL is seen.
   */
  private async withCatalogFacts(sp: StatementPlan, index: number, sql: string, params: BoundParams | null): Promise<StatementPlan> {
    const plan = sp.plan;
    if (plan.kind !== 'unsupported' || plan.needs === undefined || this.failed) return sp;
    const { schema, table } = plan.needs;
    const key = columnsKey(schema, table);
    const cache = this.host.tableColumns;
    let columns: readonly string[] | null | undefined = this.txColumns.has(key) ? this.txColumns.get(key) : this.ddlInTransaction ? undefined : cache.get(schema, table);
    if (columns === undefined) {
      const generation = cache.generation;
      const p = await this.participant(0, false);
      const read = await readTableColumns(p.channel, schema, table);
      if (read.error !== null) throw new StatementFailed(read.error);
      const found = read.columns;
      columns = found;
      if (this.ddlInTransaction) this.txColumns.set(key, found);
      else if (found !== null) cache.remember(schema, table, found, generation);
    }
    const facts = factsOf(new Map<string, readonly string[] | null>([[key, columns]]));
    return this.host.planner.plan(sql, params, this.relay.routingSettings, facts)[index] ?? sp;
  }

  /**
   * Each participant's non-default column collations (by position), for a sorted merge: from the
   * database's cache, else read on the participant itself (in its transaction, if one is open; not
   * kept when this transaction's own DDL may have changed them).
   */
  private async columnCollationsOf(participants: readonly Participant[]): Promise<ColumnCollations[]> {
    const cache = this.host.columnCollations;
    return Promise.all(
      participants.map(async (p) => {
        const shard = p.channel.shard;
        const known = this.ddlInTransaction ? undefined : cache.get(shard);
        if (known !== undefined) return known;
        const generation = cache.generation;
        const read = await readColumnCollations(p.channel);
        if (read.error !== null) throw new StatementFailed(read.error);
        if (!this.ddlInTransaction) cache.remember(shard, read.collations, generation);
        return read.collations;
      }),
    );
  }

  /** limits.queryTimeoutMs: a statement still running then is canceled on every shard it runs on (57014). */
  private async runStatement(sp: StatementPlan, inv: Invocation, batchTransaction: boolean): Promise<void> {
    const ms = this.host.ctx.config().limits.queryTimeoutMs;
    const timer =
      ms === 0
        ? null
        : setTimeout(() => {
            const busy = this.busyConnections();
            if (busy.length > 0) this.host.ctx.log.info({ shards: busy.length, timeoutMs: ms }, 'query timeout: canceling');
            for (const conn of busy) this.host.ctx.cancelBackend(conn);
          }, ms);
    try {
      await this.runPlan(sp, inv, batchTransaction);
    } finally {
      if (timer !== null) clearTimeout(timer);
    }
  }

  private async runPlan(sp: StatementPlan, inv: Invocation, batchTransaction: boolean): Promise<void> {
    const plan: Plan = sp.plan;
    if (this.failed && !(plan.kind === 'transaction' && (plan.action.kind === 'rollback' || plan.action.kind === 'rollback-to' || plan.action.kind === 'commit'))) {
      throw ProxyError.inFailedTransaction();
    }
    switch (plan.kind) {
      case 'single':
        await this.forward(plan.shard, inv, plan.access === 'write' || batchTransaction);
        return;
      case 'any': {
        const effect = this.host.ctx.classifier.classify(inv.sql)[0];
        if (effect !== undefined && effect.kind !== 'none') {
          await this.sessionEffect(effect, inv);
          return;
        }
        if (TRANSACTION_SCOPED_SET.test(inv.sql)) {
          // SET LOCAL / SET TRANSACTION: every shard of the transaction needs it, the session keeps nothing.
          await this.onEveryParticipant(inv);
          this.pendingSettings.push(inv.sql);
          return;
        }
        await this.forward(this.anyShard(), inv, batchTransaction);
        return;
      }
      case 'scatter':
        if (plan.access === 'read' && !batchTransaction && !this.inTransaction) await this.scatterRead(plan.shards, { ...inv, sql: plan.sql }, plan.merge);
        else if (plan.access === 'read') await this.scatterRead(plan.shards, { ...inv, sql: plan.sql }, plan.merge, true);
        else await this.onShards(plan.shards.map((shard) => ({ shard, inv: { ...inv, sql: plan.sql } })), 'sum', false);
        return;
      case 'broadcast':
        if (!plan.transactional && this.inTransaction) {
          throw ProxyError.unsupported(`${firstWord(inv.sql)} cannot run inside a transaction block`, 'Run it outside BEGIN ... COMMIT.');
        }
        await this.onShards(this.allShards().map((shard) => ({ shard, inv })), plan.reason === 'reference-write' ? 'first' : 'same', !plan.transactional);
        if (plan.learned.length > 0) this.host.learn(plan.learned);
        // Views made or dropped are looked up once their transaction commits (endTransaction).
        if (plan.reason === 'ddl' && VIEW_DDL.test(inv.sql)) this.viewsDirty = true;
        if (plan.reason === 'ddl') {
          // Any table's columns may have changed: read them again, and again once this commits.
          this.host.tableColumns.clear();
          this.host.columnCollations.clear();
          this.txColumns.clear();
          if (plan.transactional) this.ddlInTransaction = true;
        }
        return;
      case 'split-insert':
        await this.onShards(
          plan.parts.map((part) => ({
            shard: part.shard,
            inv: {
              sql: part.sql,
              describe: inv.describe,
              paramTypes: part.params.map((i) => inv.paramTypes[i] ?? 0),
              bind: inv.bind === null ? null : subsetBind(inv.bind, part.params),
            },
          })),
          'sum',
          false,
        );
        return;
      case 'transaction':
        await this.transactionControl(plan.action, sp.text);
        return;
      case 'pgshard-setting':
        this.setting(plan);
        return;
      case 'unsupported':
        throw ProxyError.unsupported(plan.message, plan.hint);
      case 'copy-in':
        if (inv.bind !== null) throw ProxyError.unsupported('COPY through the extended protocol', 'Send COPY as a simple query.');
        await this.copyIn(plan, inv.sql);
        return;
      case 'copy-out':
        await this.copyOut(plan.shards, inv.sql);
        return;
      default:
        assertNever(plan);
    }
  }

  /**
   * SET / RESET while the executor holds the session: run inside the transaction on every shard taking
   * part (shards joining later get it too), and held by the session once the transaction commits.
   * What cannot follow the client across connections (LISTEN, temp tables, ...) is refused here.
   */
  private async sessionEffect(effect: SessionEffect, inv: Invocation): Promise<void> {
    switch (effect.kind) {
      case 'set':
      case 'reset':
      case 'reset-all': {
        await this.onEveryParticipant(inv);
        this.pendingSettings.push(inv.sql);
        this.relay.noteSessionEffect(effect);
        return;
      }
      case 'discard-all':
      case 'deallocate':
      case 'pin':
        throw ProxyError.unsupported(
          `${firstWord(inv.sql)} is not supported while a statement or transaction spans several shards`,
          'Run it outside the multi-shard transaction (before BEGIN or after COMMIT).',
        );
      case 'none':
        return;
      default:
        assertNever(effect);
    }
  }

  /** Runs inv inside the transaction on every shard taking part (one at least); the client sees one answer. */
  private async onEveryParticipant(inv: Invocation): Promise<void> {
    if (this.participants.size === 0) await this.participant(this.anyShard(), true);
    const open = [...this.participants.values()];
    for (const p of open) if (!p.inTransaction) await this.participant(p.channel.shard, true);
    let first = true;
    for (const p of open) {
      // The client sees one shard's answer (CommandComplete, notices); the others run it silently.
      if (first) await this.forwardOn(p, inv);
      else await this.silent(p, inv.sql);
      first = false;
    }
  }

  private anyShard(): number {
    for (const shard of this.participants.keys()) return shard;
    return 0;
  }

  private allShards(): number[] {
    return this.host.pools.map((_, i) => i);
  }

  /** The connection for `shard`, joining the transaction (BEGIN, savepoints) when one is open or `transactional`. */
  private async participant(shard: number, transactional: boolean): Promise<Participant> {
    let p = this.participants.get(shard);
    if (p === undefined) {
      let pool = this.host.pools[shard];
      if (pool === undefined) throw ProxyError.unsupported(`shard ${shard} does not exist`, 'Shards are numbered from 0.');
      // A batch that only reads, outside a transaction block: a replica may serve each shard's part.
      const reads = this.relay.batchReads;
      if (reads !== null && !this.inTransaction && !transactional) pool = await this.relay.readPool(shard, reads.consistency);
      const conn = await pool.acquire(this.relay);
      p = { channel: new ShardChannel(shard, conn), inTransaction: false, wrote: false };
      this.participants.set(shard, p);
      const replay = this.relay.stateReplayFor(conn);
      if (replay !== null) await this.silent(p, replay);
    }
    if ((this.inTransaction || transactional) && !p.inTransaction) {
      const setup = [this.inTransaction ? this.beginText : 'BEGIN', ...this.savepoints.map((s) => `SAVEPOINT ${quoteIdent(s)}`), ...this.pendingSettings];
      await this.silent(p, setup.join(';\n'));
      p.inTransaction = true;
    }
    return p;
  }

  /** Runs proxy-made SQL whose answers the client must not see; a failure fails the statement. */
  private async silent(p: Participant, sql: string): Promise<void> {
    let error: Buffer | null = null;
    await p.channel.request([buildQuery(sql)], {
      onFrame(type, buf, start, end) {
        if (type === 0x45 /* E */ && error === null) error = Buffer.from(buf.subarray(start, end));
      },
    });
    if (error !== null) throw new StatementFailed(error);
  }

  /** The frames that run `inv` on a shard: a simple Query, or Parse/Bind/Describe/Execute/Sync. */
  private requestFor(inv: Invocation, describe: boolean): Buffer[] {
    if (inv.bind === null) return [buildQuery(inv.sql)];
    const b = inv.bind;
    const frames = [buildParse('', inv.sql, [...inv.paramTypes]), buildBind('', '', b.paramFormats, b.values, b.resultFormats)];
    if (describe) frames.push(buildDescribe('P', ''));
    frames.push(buildExecute('', 0), SYNC);
    return frames;
  }

  /** One statement on one shard, its answers forwarded (copied), except ReadyForQuery and protocol acks. */
  private async forward(shard: number, inv: Invocation, transactional: boolean): Promise<void> {
    const p = await this.participant(shard, transactional);
    if (transactional || this.inTransaction) p.wrote = true;
    await this.forwardOn(p, inv);
  }

  private async forwardOn(p: Participant, inv: Invocation): Promise<void> {
    let error: Buffer | null = null;
    const out = this.out;
    const socket = this.relay.clientSocket;
    await p.channel.request(this.requestFor(inv, inv.describe), {
      onFrame(type, buf, start, end) {
        switch (type) {
          case 0x5a /* Z */:
          case 0x31 /* ParseComplete */:
          case 0x32 /* BindComplete */:
            return;
          case 0x45 /* E */:
            error ??= Buffer.from(buf.subarray(start, end));
            return;
          default:
            if (error === null) out.addBuffer(Buffer.from(buf.subarray(start, end)));
        }
      },
      onChunkEnd() {
        if (!out.isEmpty()) out.flushTo(socket);
        return false;
      },
    });
    if (error !== null) throw new StatementFailed(error);
  }

  /** A read on several shards: rows stream through the merge. */
  private async scatterRead(shards: readonly number[], inv: Invocation, merge: Merge, transactional = false): Promise<void> {
    const limits = this.host.ctx.config().limits;
    const bind = inv.bind;
    const participants = await Promise.all(shards.map((s) => this.participant(s, transactional)));
    const textOrder = await this.host.textOrder(participants[0]!.channel);
    const collations = merge.orderBy.length > 0 ? await this.columnCollationsOf(participants) : null;
    const stream = new MergeStream(merge, {
      shards: shards.length,
      rowsMax: limits.mergeRowsMax,
      bytesMax: limits.mergeBytesMax,
      params: bind === null ? null : { values: bind.values, formats: bind.paramFormats, types: inv.paramTypes },
      textOrder,
      extraFloatDigits: extraFloatDigitsOf(this.relay.state.key),
      ...(collations === null ? {} : { columnCollation: (position: number, tableOid: number, attnum: number) => collations[position]?.get(columnKey(tableOid, attnum)) }),
    });
    let error: Buffer | null = null;
    let described = false;
    const out = this.out;
    const socket = this.relay.clientSocket;
    // Ranges the merge hands out stay valid until written: no copy per row, consecutive rows in one write.
    const emit = (buf: Buffer, start: number, end: number): void => out.addRange(buf, start, end);
    // Back-pressure: a shard whose rows wait in the merge (it is ahead of the others), or every shard
    // while the client is not reading, is paused; rows then wait in Postgres, not here.
    const paused = participants.map(() => false);
    const clientLimit = limits.writeBufferBytesMax;
    let waitingForClient = false;
    let finished = false;
    const regulate = (): void => {
      // After the statement the connections may serve someone else: never touch them again.
      if (finished) return;
      const clientSlow = socket.writableLength > clientLimit;
      participants.forEach((p, i) => {
        const pause = error === null && (clientSlow || !stream.wants(i));
        if (pause === paused[i]) return;
        paused[i] = pause;
        if (pause) p.channel.conn.pause();
        else p.channel.conn.resume();
      });
      if (clientSlow && !waitingForClient) {
        waitingForClient = true;
        socket.once('drain', () => {
          waitingForClient = false;
          if (!finished) pump();
        });
      }
    };
    const pump = (): boolean => {
      if (error === null) {
        try {
          if (!described && stream.ready) {
            described = true;
            if (inv.describe) out.addBuffer(stream.rowDescription());
          }
          if (described) stream.drainRanges(emit);
        } catch (err) {
          error = errorResponseFrame(asProxyError(err));
        }
      }
      if (!out.isEmpty()) out.flushTo(socket);
      regulate();
      return false;
    };
    // Per-column result formats name the client's columns only; the hidden ones come as text.
    const frames = this.requestFor(hiddenFormats(inv, merge.hiddenColumns), true);
    await Promise.all(
      participants.map((p, i) =>
        p.channel.request(frames, {
          onFrame(type, buf, start, end) {
            if (error !== null) return;
            try {
              switch (type) {
                case 0x54 /* T */:
                  stream.describe(i, Buffer.from(buf.subarray(start, end)));
                  break;
                case 0x44 /* D */:
                  stream.row(i, buf, start, end);
                  break;
                case 0x43 /* C */:
                  stream.end(i);
                  break;
                case 0x45 /* E */:
                  error = Buffer.from(buf.subarray(start, end));
                  break;
                default:
                  break;
              }
            } catch (err) {
              error = errorResponseFrame(asProxyError(err));
            }
          },
          onChunkEnd: pump,
        }),
      ),
    );
    pump();
    finished = true;
    participants.forEach((p, i) => {
      if (paused[i]) p.channel.conn.resume();
      paused[i] = false;
    });
    if (error !== null) {
      stream.close();
      throw new StatementFailed(error);
    }
    out.addBuffer(commandComplete(`SELECT ${stream.rowsEmitted}`));
  }

  /**
   * A write (or DDL) on several shards, inside a transaction on each (so it commits atomically) unless
   * `outsideTransaction`. RETURNING rows are concatenated; command tags summed ('sum'), taken from one
   * shard ('first': reference tables hold the same rows everywhere) or required to agree ('same': DDL).
   */
  private async onShards(work: readonly { shard: number; inv: Invocation }[], tags: 'sum' | 'first' | 'same', outsideTransaction: boolean): Promise<void> {
    const participants = await Promise.all(work.map((w) => this.participant(w.shard, !outsideTransaction)));
    const collected: string[] = [];
    const errors: (Buffer | null)[] = work.map(() => null);
    let described = false;
    const out = this.out;
    await Promise.all(
      participants.map((p, i) => {
        if (!outsideTransaction) p.wrote = true;
        const inv = work[i]!.inv;
        return p.channel.request(this.requestFor(inv, inv.describe), {
          onFrame(type, buf, start, end) {
            switch (type) {
              case 0x54 /* T */:
              case 0x6e /* n */:
                if (!described) out.addBuffer(Buffer.from(buf.subarray(start, end)));
                described = true;
                break;
              case 0x44 /* D */:
                if (tags !== 'first' || i === 0) out.addBuffer(Buffer.from(buf.subarray(start, end)));
                break;
              case 0x43 /* C */:
                collected[i] = decodeCommandTag(buf, start, end);
                break;
              case 0x45 /* E */:
                errors[i] ??= Buffer.from(buf.subarray(start, end));
                break;
              default:
                break;
            }
          },
        });
      }),
    );
    const failed = errors.findIndex((e) => e !== null);
    if (failed >= 0) {
      if (outsideTransaction && errors.some((e) => e === null)) {
        // Not undoable (VACUUM, CREATE INDEX CONCURRENTLY...): say exactly which shards it reached.
        const ok = work.filter((_, i) => errors[i] === null).map((w) => w.shard);
        out.addBuffer(noticeFrame(`the statement succeeded on shard(s) ${ok.join(', ')} and failed on the others`, 'WARNING'));
      }
      throw new StatementFailed(errors[failed]!);
    }
    const tag = tags === 'first' ? collected[0] ?? '' : mergeCommandTags(collected);
    out.addBuffer(commandComplete(tag));
  }

  // ---- COPY --------------------------------------------------------------------------------

  private async copyIn(plan: Extract<Plan, { kind: 'copy-in' }>, sql: string): Promise<void> {
    const shards = this.allShards();
    const participants = await Promise.all(shards.map((s) => this.participant(s, true)));
    for (const p of participants) p.wrote = true;
    const limits = this.host.ctx.config().limits;
    const table = plan.table;
    const copy = new CopyIn(plan, sql, participants.map((p) => p.channel), {
      shardOfKey: (key) => (table.kind === 'sharded' ? this.host.shardOfKey(table, key) : 0),
      tableColumns: (channel) => tableColumns(channel, table.schema, table.name),
      writeBufferBytesMax: limits.writeBufferBytesMax,
      rowBytesMax: limits.copyRowBytesMax,
      clientSocket: this.relay.clientSocket,
    });
    this.copy = copy;
    try {
      const tag = await copy.run(this.out, () => this.flush());
      this.out.addBuffer(commandComplete(tag));
    } catch (err) {
      if (err instanceof Buffer) throw new StatementFailed(err);
      throw err;
    } finally {
      this.copy = null;
    }
  }

  private async copyOut(shards: readonly number[], sql: string): Promise<void> {
    const participants = await Promise.all(shards.map((s) => this.participant(s, false)));
    let header = false;
    let error: Buffer | null = null;
    const tags: string[] = [];
    const out = this.out;
    const socket = this.relay.clientSocket;
    // One shard at a time: rows of a COPY have no order to keep, and the client sees one stream.
    for (const [i, p] of participants.entries()) {
      await p.channel.request([buildQuery(sql)], {
        onFrame(type, buf, start, end) {
          switch (type) {
            case 0x48 /* H: CopyOutResponse */:
              if (!header) out.addBuffer(Buffer.from(buf.subarray(start, end)));
              header = true;
              break;
            case 0x64 /* d */:
              if (error === null) out.addBuffer(Buffer.from(buf.subarray(start, end)));
              break;
            case 0x43 /* C */:
              tags[i] = decodeCommandTag(buf, start, end);
              break;
            case 0x45 /* E */:
              error ??= Buffer.from(buf.subarray(start, end));
              break;
            default:
              break;
          }
        },
        onChunkEnd() {
          if (!out.isEmpty()) out.flushTo(socket);
          return false;
        },
      });
      if (error !== null) throw new StatementFailed(error);
    }
    out.addBuffer(Buffer.from([0x63, 0, 0, 0, 4])); // CopyDone
    out.addBuffer(commandComplete(mergeCommandTags(tags)));
  }

  // ---- transactions ------------------------------------------------------------------------

  private async transactionControl(action: Extract<Plan, { kind: 'transaction' }>['action'], text: string): Promise<void> {
    switch (action.kind) {
      case 'begin':
        if (this.inTransaction) {
          this.out.addBuffer(noticeFrame('there is already a transaction in progress', 'WARNING', '25001'));
        } else {
          this.inTransaction = true;
          this.beginText = text;
        }
        this.out.addBuffer(commandComplete('BEGIN'));
        return;
      case 'commit': {
        if (!this.inTransaction) this.out.addBuffer(noticeFrame('there is no transaction in progress', 'WARNING', '25P01'));
        const wasFailed = this.failed;
        await this.endTransaction(!wasFailed);
        this.out.addBuffer(commandComplete(wasFailed ? 'ROLLBACK' : 'COMMIT'));
        return;
      }
      case 'rollback':
        if (!this.inTransaction) this.out.addBuffer(noticeFrame('there is no transaction in progress', 'WARNING', '25P01'));
        await this.endTransaction(false);
        this.out.addBuffer(commandComplete('ROLLBACK'));
        return;
      case 'savepoint':
        if (!this.inTransaction) throw ProxyError.noActiveTransaction('SAVEPOINT can only be used in transaction blocks');
        for (const p of this.participants.values()) if (p.inTransaction) await this.silent(p, text);
        this.savepoints.push(action.name);
        this.out.addBuffer(commandComplete('SAVEPOINT'));
        return;
      case 'release':
      case 'rollback-to': {
        const at = this.savepoints.lastIndexOf(action.name);
        if (at < 0) throw ProxyError.unknownSavepoint(action.name);
        for (const p of this.participants.values()) if (p.inTransaction) await this.silent(p, text);
        this.savepoints.length = action.kind === 'release' ? at : at + 1;
        if (action.kind === 'rollback-to') this.failed = false;
        this.out.addBuffer(commandComplete(action.kind === 'release' ? 'RELEASE' : 'ROLLBACK'));
        return;
      }
      case 'two-phase':
        throw ProxyError.unsupported(
          'PREPARE TRANSACTION / COMMIT PREPARED across shards are issued by pgshard itself',
          'Use COMMIT: pgshard commits multi-shard transactions with two-phase commit.',
        );
      default:
        assertNever(action);
    }
  }

  private async endTransaction(commit: boolean): Promise<void> {
    const open = [...this.participants.values()].filter((p) => p.inTransaction);
    this.inTransaction = false;
    this.failed = false;
    this.savepoints.length = 0;
    const settings = this.pendingSettings.length > 0;
    this.pendingSettings.length = 0;
    if (this.ddlInTransaction) {
      // Other sessions may have read the columns again before this transaction's DDL committed.
      this.host.tableColumns.clear();
      this.host.columnCollations.clear();
      this.ddlInTransaction = false;
      this.txColumns.clear();
    }
    if (open.length === 0) {
      this.viewsDirty = false;
      return;
    }
    let committed = false;
    try {
      if (!commit) {
        await Promise.all(open.map((p) => this.silent(p, 'ROLLBACK').catch(() => undefined)));
        return;
      }
      const writers = open.filter((p) => p.wrote);
      if (writers.length <= 1) {
        // One shard wrote: its COMMIT decides; read-only participants just end their transaction.
        await Promise.all(open.map((p) => this.silent(p, 'COMMIT')));
        committed = true;
        return;
      }
      const readers = open.filter((p) => !p.wrote);
      await Promise.all(readers.map((p) => this.silent(p, 'COMMIT')));
      await this.host.twoPhase.commit(writers.map((p) => p.channel));
      committed = true;
    } catch (err) {
      // Whatever is still open must not survive: roll it back.
      await Promise.all(open.filter((p) => p.channel.conn.txStatus !== 'I').map((p) => this.silent(p, 'ROLLBACK').catch(() => undefined)));
      throw err;
    } finally {
      for (const p of open) {
        p.inTransaction = false;
        p.wrote = false;
      }
      // SETs of the transaction hold on every shard that ran them once it committed.
      if (settings) this.relay.settleSessionState(committed, open.map((p) => p.channel.conn));
      if (this.viewsDirty) {
        this.viewsDirty = false;
        // Before the client hears COMMIT: its next statement already plans with the new views.
        if (committed) await this.host.viewsChanged();
      }
    }
  }

  private setting(plan: Extract<Plan, { kind: 'pgshard-setting' }>): void {
    const target = this.relay.settings;
    switch (plan.command) {
      case 'set':
        setSetting(target, plan.name, plan.value);
        this.out.addBuffer(commandComplete('SET'));
        return;
      case 'reset':
        resetSetting(target, plan.name);
        this.out.addBuffer(commandComplete('RESET'));
        return;
      case 'show': {
        const value = showSetting(target, plan.name);
        this.out.addBuffer(rowDescription([{ name: plan.name.toLowerCase(), typeOid: typeOids.text }]));
        this.out.addBuffer(dataRow([value]));
        this.out.addBuffer(commandComplete('SHOW'));
        return;
      }
      default:
        assertNever(plan.command);
    }
  }

  /** Connections with a request in flight (what a CancelRequest must reach). */
  busyConnections(): ServerConnection[] {
    return [...this.participants.values()].filter((p) => p.channel.busy).map((p) => p.channel.conn);
  }

  /** Every connection back to its pool (clean) or discarded. */
  releaseAll(): void {
    for (const [shard, p] of this.participants) {
      p.channel.detach();
      if (p.channel.lost !== null) continue;
      const pool = this.host.pools[shard]!;
      if (p.channel.conn.txStatus === 'I') pool.release(p.channel.conn);
      else pool.discard(p.channel.conn);
    }
    this.participants.clear();
  }

  /** The client left: drop every connection (a transaction left open dies with it). */
  close(): void {
    this.copy?.abort();
    for (const [shard, p] of this.participants) {
      p.channel.detach();
      if (p.channel.lost === null) this.host.pools[shard]!.discard(p.channel.conn);
    }
    this.participants.clear();
  }
}

/**
 * The session's extra_float_digits, from the SETs and startup parameters it replays on every
 * connection (the last one wins); PostgreSQL's default 1 when it has none.
 */
export function extraFloatDigitsOf(sessionState: string): number {
  let value = 1;
  for (const m of sessionState.matchAll(/(?:^|;\n)\s*set\s+(?:session\s+)?"?extra_float_digits"?\s*(?:=|to)\s*'?\s*(-?\d+|default)\s*'?\s*;?\s*(?=;\n|$)/gi)) {
    value = m[1]!.toLowerCase() === 'default' ? 1 : Number(m[1]);
  }
  return Number.isFinite(value) ? Math.max(-15, Math.min(3, value)) : 1;
}

/** An invocation whose per-column result formats also cover the merge's hidden columns. */
function hiddenFormats(inv: Invocation, hidden: number): Invocation {
  const b = inv.bind;
  if (b === null || hidden === 0 || b.resultFormats.length <= 1) return inv;
  return { ...inv, bind: { ...b, resultFormats: [...b.resultFormats, ...new Array<number>(hidden).fill(0)] } };
}

/** A Bind carrying only the parameters a split INSERT part uses, renumbered from $1. */
function subsetBind(bind: BindMessage, indexes: readonly number[]): BindMessage {
  return {
    portal: '',
    statement: '',
    paramFormats: indexes.map((i) => bind.paramFormats[i] ?? 0),
    values: indexes.map((i) => bind.values[i] ?? null),
    resultFormats: bind.resultFormats,
  };
}

function quoteIdent(name: string): string {
  return `"${name.replace(/"/g, '""')}"`;
}

function firstWord(sql: string): string {
  return (sql.trim().split(/\s+/)[0] ?? 'this statement').toUpperCase();
}

/** A table's column names in order, from a shard's catalog (for COPY without a column list). */
async function tableColumns(channel: ShardChannel, schema: string | null, name: string): Promise<string[]> {
  const relation = schema === null ? quoteIdent(name) : `${quoteIdent(schema)}.${quoteIdent(name)}`;
  const literal = `'${relation.replace(/'/g, "''")}'`;
  const columns: string[] = [];
  let error: Buffer | null = null;
  await channel.request(
    [buildQuery(`SELECT attname FROM pg_catalog.pg_attribute WHERE attrelid = ${literal}::pg_catalog.regclass AND attnum > 0 AND NOT attisdropped ORDER BY attnum`)],
    {
      onFrame(type, buf, start, end) {
        if (type === 0x44 /* D */) columns.push(buf.toString('utf8', start + 11, end));
        else if (type === 0x45) error ??= Buffer.from(buf.subarray(start, end));
      },
    },
  );
  if (error !== null) throw new StatementFailed(error);
  return columns;
}
