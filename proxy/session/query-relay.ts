// The authenticated client's conversation with Postgres under transaction (or session) pooling.
// Owns: the client's inbox of frames up to a batch boundary (Query, Sync, Flush, FunctionCall), lending
// and returning the server connection, carrying session state and named prepared statements between
// server connections, and the queue of responses it expects so that proxy-made frames (a cached
// ParseComplete, a replayed Parse whose answer the client must not see) interleave exactly where
// Postgres would have put them. Frames it only forwards are never decoded beyond their type byte.
// Message flow reference: https://www.postgresql.org/docs/15/protocol-flow.html

import type { Socket } from 'node:net';
import { asProxyError, errorResponseFrame, ProxyError } from '../errors.js';
import { assertNever } from '../../planner/assert-never.js';
import type { SessionEffect } from '../../planner/session-effects.js';
import type { BackendListener, ServerConnection } from '../backend/server-connection.js';
import type { NodePool } from '../backend/node-pool.js';
import type { StatementDef } from '../backend/statement-registry.js';
import { resetAndRelease } from '../backend/connection-reset.js';
import { oneOffQuery } from '../backend/one-off-query.js';
import { decodeBindNames, decodeClose, decodeDescribe, decodeExecute, decodeParse, decodeQuery } from '../protocol/client-messages.js';
import { decodeCommandTag, decodeDataRow, decodeErrorFields } from '../protocol/backend-messages.js';
import { buildClose, buildParse, buildQuery, renameBindStatement, renameDescribeOrClose } from '../protocol/rewrite.js';
import {
  BIND_COMPLETE,
  CLOSE_COMPLETE,
  commandComplete,
  NO_DATA,
  PARSE_COMPLETE,
  readyForQuery,
} from '../protocol/server-messages.js';
import type { ProxyContext } from '../context.js';
import { SessionState } from './session-state.js';
import { routeBatch, type BatchRoute, type PlannerLike, type StatementLookup } from './batch-router.js';
import type { SessionRouting } from '../../planner/plan.js';
import { WriteCoalescer } from './write-coalescer.js';
import { EMPTY_BUFFER } from '../protocol/wire.js';
import { tracksPositions, type ReadRouter, type ReadSettings, type ReadTarget } from '../replicas/read-router.js';
import type { SettingsTarget } from '../replicas/session-settings.js';
import type { ReadConsistency } from '../../topology/config/config-types.js';
import { parseLsnOrNull, type Lsn } from '../../topology/lsn.js';
import {
  isBatchBoundary,
  T_BIND,
  T_CLOSE,
  T_COPY_DATA,
  T_COPY_DONE,
  T_COPY_FAIL,
  T_DESCRIBE,
  T_EXECUTE,
  T_FLUSH,
  T_FUNCTION_CALL,
  T_PARSE,
  T_QUERY,
  T_SYNC,
} from '../protocol/frontend-types.js';

/** What a pending response belongs to, i.e. which server message ends it. */
const enum Expect {
  Parse,
  Bind,
  DescribeStatement,
  DescribePortal,
  Execute,
  Close,
  Sync,
  Query,
  FunctionCall,
  /** An error the proxy reports in place of a message it rejected. */
  ProxyError,
}

const enum Mode {
  /** The client sent it; the server's answer goes to the client. */
  Forward,
  /** The proxy sent it; the answer is dropped (errors still reach the client). */
  Swallow,
  /** The proxy answers it itself with `synth` when its turn comes. */
  Synth,
}

class Pending {
  expect = Expect.Sync;
  mode = Mode.Forward;
  synth: Buffer | null = null;
  /** Reverts bookkeeping when Postgres skipped or rejected the message. */
  undo: (() => void) | null = null;
  /** For a Query: what each statement does to session state, in order. */
  effects: readonly SessionEffect[] | null = null;
  effectIndex = 0;
  /** For proxy-made Query items: called at its ReadyForQuery with the first error, if any. */
  onDone: ((error: Map<string, string> | null) => void) | null = null;
  /** For proxy-made Query items whose rows the proxy reads (the WAL position after a commit). */
  onRow: ((buf: Buffer, start: number, end: number) => void) | null = null;
  error: Map<string, string> | null = null;

  reset(): void {
    this.onRow = null;
    this.synth = null;
    this.undo = null;
    this.effects = null;
    this.effectIndex = 0;
    this.onDone = null;
    this.error = null;
  }
}

const NONE: SessionEffect = { kind: 'none' };

/** Unsent messages without a boundary after which a server connection is borrowed anyway. */
const EARLY_ACQUIRE_MESSAGES = 64;

/** A server connection whose settings match no client: the next client replays its own. */
const DIRTY_STATE = '\u0000dirty';

/** Asked on the primary after a session's write transaction ends: sync reads wait for replicas to reach it. */
const COMMIT_POSITION_SQL = 'SELECT pg_current_wal_insert_lsn()';

const PRIMARY_TARGET: ReadTarget = { kind: 'primary' };

/** BEGIN / START TRANSACTION ... READ ONLY (not READ WRITE): such a transaction may run on a replica. */
const READ_ONLY_BEGIN = /\bread\s+only\b/i;

export interface RelayHost {
  /** The client socket responses are written to. */
  readonly socket: Socket;
  /** Ends the client connection with a FATAL error. */
  fatal(err: ProxyError): void;
}

/** How a relay on a sharded database picks shards and hands off what one shard cannot run. */
export interface RelayRouting {
  readonly planner: PlannerLike;
  /**
   * Runs batches that need several shards. Called with the batch's frames (owned copies) and, when the
   * client is inside a transaction on one shard, that shard's connection; calls `done` when the client
   * may go on (the executor keeps its connections while a transaction it runs stays open).
   */
  handOff(relay: QueryRelay, frames: OwnedFrame[], adopted: { shard: number; conn: ServerConnection } | null, done: () => void): void;
  /* `relay.batchReads` tells the executor whether the batch only reads (replicas may serve it) and at which consistency. */
  /** Whether the executor holds this client's transaction or an unfinished batch (its messages all go there). */
  holdsTransaction(relay: QueryRelay): boolean;
  /** The client left: the executor gives back (or drops) what it holds for it. */
  closed(relay: QueryRelay): void;
  /** CopyData/CopyDone/CopyFail while the executor runs a COPY (bytes valid during the call only). */
  copyFrame(relay: QueryRelay, type: number, buf: Buffer, start: number, end: number): void;
  /** The server connections the executor is running this client's statement on (for a cancel). */
  running(relay: QueryRelay): readonly ServerConnection[];
}

export interface OwnedFrame {
  readonly type: number;
  readonly buf: Buffer;
}

/**
 * The client's unnamed statement. Only decoded fields are kept: the frame it came in lives in a read
 * buffer that the next read overwrites, so a re-parse on another connection builds a new frame.
 */
interface UnnamedStatement {
  readonly query: string;
  readonly paramTypes: number[];
  readonly effect: SessionEffect;
  /** The client's Parse frame, kept to recognise the same statement parsed again. */
  readonly frame: Buffer;
}

export class QueryRelay implements BackendListener, StatementLookup {
  backend: ServerConnection | null = null;
  /** The shard whose pool `backend` came from. */
  backendShard = 0;
  /** A BEGIN the proxy answered and has not sent yet: it opens the transaction on the first shard used. */
  deferredBegin: string | null = null;
  /** SET pgshard.shard and friends, and the read settings (pgshard.read_consistency...). */
  readonly settings: SettingsTarget;
  /** Transaction status as last reported to the client. */
  txStatus: 'I' | 'T' | 'E' = 'I';
  pinnedReason: string | null;
  readonly state: SessionState;
  queries = 0;
  waitingSince = 0;

  private readonly statements = new Map<string, StatementDef>();
  /** Effects of statements bound into portals, by portal name (only those that have one). */
  private readonly portalEffects = new Map<string, SessionEffect>();
  private errorSinceReady = false;
  private lastUnnamed: UnnamedStatement | null = null;

  // Client frames not yet sent, as parallel arrays reused across batches (no allocation per frame).
  private inTypes: number[] = [];
  private inBufs: Buffer[] = [];
  private inStarts: number[] = [];
  private inEnds: number[] = [];
  private inCount = 0;
  private inHead = 0;
  /** Frames before this index end with a batch boundary and may be sent. */
  private inReady = 0;
  /** Frames before this index live in buffers of their own, not in the socket's read buffer. */
  private inOwned = 0;

  private readonly queue: Pending[] = [];
  private queueHead = 0;
  private readonly spare: Pending[] = [];

  private readonly toServer = new WriteCoalescer();
  private readonly toClient = new WriteCoalescer();
  private acquiring = false;
  private skipUntilSync = false;
  private copyIn = false;
  private closed = false;
  private clientPaused = false;
  private queryTimer: NodeJS.Timeout | null = null;
  private pausedForInbox = false;
  private pausedForServer = false;
  /** A batch failed before it was complete: drop its remaining messages up to Sync. */
  private failedUntilSync = false;
  private serverPaused = false;

  /** Sharded databases: index just past the batch being sent (its boundary); -1 between batches. */
  private batchEnd = -1;
  private handedOff = false;

  /** The pool the next server connection is borrowed from (a replica's for a read); null: the shard's primary. */
  private target: NodePool | null = null;
  /** A sync read waits for a replica to replay the session's last commit. */
  private choosing = false;
  /** What that wait found, for the batch it was for. */
  private chosen: { shard: number; pool: NodePool | null } | null = null;
  /** A write went to the attached primary connection since its WAL position was last asked. */
  private wroteOnPrimary = false;
  /** Its WAL position was asked and has not come back yet. */
  private positionPending = false;

  constructor(
    private readonly host: RelayHost,
    private readonly ctx: ProxyContext,
    readonly pools: readonly NodePool[],
    startupParams: ReadonlyMap<string, string>,
    private readonly sessionPooling: boolean,
    private readonly routing: RelayRouting | null,
    settings: SettingsTarget,
    private readonly readRouter: ReadRouter | null = null,
  ) {
    this.state = new SessionState(startupParams);
    this.pinnedReason = sessionPooling ? 'session pooling' : null;
    this.settings = settings;
  }

  /** SET pgshard.shard: where statements go that name no shard key. */
  get routingSettings(): SessionRouting {
    return this.settings.routing;
  }

  /** The session's read consistency and the WAL positions of its last commits (databases with replicas). */
  get reads(): ReadSettings {
    return this.settings.reads;
  }

  // ---- login ---------------------------------------------------------------------------------

  /** The pool the next connection comes from: the batch's replica, else the shard's primary. */
  get pool(): NodePool {
    return this.target ?? this.pools[this.backendShard]!;
  }

  statement(name: string): StatementDef | undefined {
    return this.statements.get(name);
  }

  /** The client's unnamed statement, if it has one. */
  get unnamedStatement(): { query: string; paramTypes: readonly number[] } | null {
    return this.lastUnnamed;
  }

  /**
   * Records a Parse the executor answered itself (the statement is prepared lazily on whichever shard
   * runs it). Returns the error Postgres would give, or null.
   */
  rememberParse(name: string, query: string, paramTypes: number[]): ProxyError | null {
    if (name === '') {
      this.lastUnnamed = { query, paramTypes, effect: this.ctx.classifier.classify(query)[0] ?? NONE, frame: EMPTY_BUFFER };
      return null;
    }
    const refused = this.refuseNewStatement(name);
    if (refused !== null) return refused;
    const def = this.ctx.statements.acquire(name, query, paramTypes);
    def.effect ??= this.ctx.classifier.classify(query)[0] ?? NONE;
    this.statements.set(name, def);
    return null;
  }

  /** Why a new named statement cannot be prepared (the name is taken, or the session is at its limit), or null. */
  private refuseNewStatement(name: string): ProxyError | null {
    if (this.statements.has(name)) return ProxyError.duplicatePreparedStatement(name);
    const limit = this.ctx.config().limits.preparedPerClientMax;
    if (this.statements.size < limit) return null;
    return ProxyError.limitExceeded(
      `too many prepared statements in this session (limits.preparedPerClientMax = ${limit})`,
      'Close or DEALLOCATE statements that are no longer needed.',
    );
  }

  /** A SET / RESET the executor ran (inside its transaction): it holds once that transaction commits. */
  noteSessionEffect(effect: SessionEffect): void {
    this.state.apply(effect);
  }

  /**
   * The executor's transaction ended: SETs made in it take hold (or vanish), and `conns`, which ran
   * them, are marked with the state they now hold.
   */
  settleSessionState(committed: boolean, conns: readonly ServerConnection[]): void {
    const held = this.state.endTransaction(committed);
    if (held === 'same') return;
    for (const conn of conns) conn.appliedStateKey = held === 'current' ? this.state.key : DIRTY_STATE;
  }

  /** Close of a named statement the executor answered. */
  forgetStatement(name: string): void {
    const def = this.statements.get(name);
    if (def === undefined) return;
    this.statements.delete(name);
    this.ctx.statements.release(def);
  }

  get clientSocket(): Socket {
    return this.host.socket;
  }

  /** SQL that gives `conn` this client's session settings (null: it has them), for the executor's connections. */
  stateReplayFor(conn: ServerConnection): string | null {
    if (conn.appliedStateKey === this.state.key) return null;
    const sql = this.replaySqlFor(conn);
    conn.appliedStateKey = this.state.key;
    return sql === '' ? null : sql;
  }

  /**
   * Borrows a server connection once at login: proves the node is reachable, applies the client's
   * startup parameters (so a bad value fails the login, as in Postgres) and learns the values the
   * server reports. Returns those ParameterStatus values.
   */
  async login(): Promise<Map<string, string>> {
    const conn = await this.pool.acquire(this);
    this.attach(conn, false);
    const replay = this.state.key;
    if (conn.appliedStateKey !== replay) {
      await new Promise<void>((resolve, reject) => {
        this.injectQuery(this.replaySqlFor(conn), (error) => {
          if (error === null) {
            conn.appliedStateKey = replay;
            resolve();
          } else {
            // The server rejected a startup parameter (e.g. an unknown setting in options): fail the login
            // with the server's own code and message, as Postgres would.
            reject(ProxyError.fromServer(error, 'FATAL'));
          }
        });
        this.toServer.flushTo(conn.socket);
      });
    }
    const params = new Map(conn.params);
    this.maybeRelease();
    return params;
  }

  // ---- client side ---------------------------------------------------------------------------

  onClientFrame(type: number, buf: Buffer, start: number, end: number): void {
    if (this.closed) return;
    if (type === T_COPY_DATA || type === T_COPY_DONE || type === T_COPY_FAIL) {
      if (this.handedOff) {
        // A COPY the executor splits across shards.
        this.routing!.copyFrame(this, type, buf, start, end);
        return;
      }
      // Outside COPY IN, Postgres ignores these (a client may still be sending after COPY failed).
      if (!this.copyIn || this.backend === null) return;
      this.toServer.addRange(buf, start, end);
      if (type !== T_COPY_DATA) this.copyIn = false;
      return;
    }
    switch (type) {
      case T_PARSE:
      case T_BIND:
      case T_DESCRIBE:
      case T_EXECUTE:
      case T_CLOSE:
        this.enqueue(type, buf, start, end, false);
        break;
      case T_SYNC:
      case T_FLUSH:
      case T_QUERY:
      case T_FUNCTION_CALL:
        this.enqueue(type, buf, start, end, true);
        break;
      default:
        throw ProxyError.protocolViolation(`invalid frontend message type ${type} ('${String.fromCharCode(type)}')`);
    }
  }

  /**
   * End of one chunk from the client: send what it made ready in one write, and answers the proxy made
   * itself. Returns true when bytes of the chunk stay referenced (waiting in the inbox, or queued
   * behind a server that is not reading).
   */
  onClientChunkEnd(): boolean {
    if (this.closed) return false;
    this.pump();
    this.flushServer();
    this.flushClient();
    if (this.inOwned < this.inCount) this.copyWaitingFrames();
    return this.backend !== null && this.backend.writableLength > 0;
  }

  /**
   * Frames still waiting (for a server connection) point into the socket's read buffer, which the next
   * read overwrites: copy them, all into one small buffer. Cheaper than giving the socket a new read
   * buffer each time many clients wait for few server connections.
   */
  private copyWaitingFrames(): void {
    const from = Math.max(this.inHead, this.inOwned);
    let bytes = 0;
    for (let i = from; i < this.inCount; i++) bytes += this.inEnds[i]! - this.inStarts[i]!;
    const owned = Buffer.allocUnsafe(bytes);
    let at = 0;
    for (let i = from; i < this.inCount; i++) {
      const start = at;
      at += this.inBufs[i]!.copy(owned, at, this.inStarts[i]!, this.inEnds[i]!);
      this.inBufs[i] = owned;
      this.inStarts[i] = start;
      this.inEnds[i] = at;
    }
    this.inOwned = this.inCount;
  }

  private enqueue(type: number, buf: Buffer, start: number, end: number, boundary: boolean): void {
    if (this.failedUntilSync && this.inHead === this.inCount) {
      this.dropFailedFrame(type);
      return;
    }
    const i = this.inCount++;
    this.inTypes[i] = type;
    this.inBufs[i] = buf;
    this.inStarts[i] = start;
    this.inEnds[i] = end;
    if (boundary) this.inReady = this.inCount;
    if (this.inCount - this.inHead > this.ctx.config().limits.pipelineMessagesMax && !this.pausedForInbox) {
      // Waiting for a server connection: stop reading until the inbox drains.
      this.pausedForInbox = true;
      this.updateClientReading();
    }
  }

  /**
   * Sends the inbox. With a server connection attached every frame streams straight through (a batch
   * of thousands of Bind/Execute before one Sync is never held back); without one, frames wait for a
   * batch boundary, or for enough of them to be worth borrowing a connection early.
   */
  private pump(): void {
    while (this.inHead < this.inCount && !this.closed && !this.handedOff && !this.choosing) {
      if (this.routing !== null && this.batchEnd < 0 && !this.routeNextBatch()) return;
      if (this.backend === null) {
        if (this.acquiring) return;
        if (this.inReady <= this.inHead && this.inCount - this.inHead < EARLY_ACQUIRE_MESSAGES) return;
        const conn = this.pool.tryAcquire(this);
        if (conn === null) {
          this.acquireAsync();
          return;
        }
        this.attach(conn, true);
      }
      this.sendFrames();
    }
    if (this.inHead === this.inCount) {
      // Everything sent: reuse the arrays from the start and drop references to old chunks (by
      // overwriting them: truncating an array is a runtime call, and it then has to grow again).
      for (let i = 0; i < this.inCount; i++) this.inBufs[i] = EMPTY_BUFFER;
      this.inHead = this.inCount = this.inReady = this.inOwned = 0;
      this.batchEnd = -1;
      if (this.pausedForInbox) {
        this.pausedForInbox = false;
        this.updateClientReading();
      }
    }
  }

  /**
   * Sharded databases: before the first frame of a batch goes anywhere, decide where the whole batch
   * runs. Returns false when the relay must wait (for the rest of the batch, for answers still
   * outstanding, or for the executor).
   */
  private routeNextBatch(): boolean {
    const routing = this.routing!;
    // A replica chosen for this batch on an earlier attempt (after a wait) holds for this attempt only.
    const chosen = this.chosen;
    this.chosen = null;
    let end = this.inHead;
    while (end < this.inReady && !isBatchBoundary(this.inTypes[end]!)) end++;
    if (routing.holdsTransaction(this)) {
      // The executor is inside a transaction or an unfinished batch: everything goes there, as it comes.
      if (end >= this.inReady) end = this.inCount - 1;
      return this.handOffBatch(end + 1);
    }
    if (end >= this.inReady) {
      // No boundary yet: wait for it, unless the client pipelines more than we hold. Then the batch
      // cannot be routed as a whole: the executor takes it, and the rest of it as it arrives (its
      // statements may fall on several shards, all in the batch's one implicit transaction).
      if (this.inCount - this.inHead < this.ctx.config().limits.pipelineMessagesMax) return false;
      if (this.queueHead < this.queue.length) return false;
      return this.handOffBatch(this.inCount);
    }
    end++;
    const route: BatchRoute = routeBatch(
      routing.planner,
      this.routingSettings,
      this,
      this.lastUnnamed,
      this.inTypes,
      this.inBufs,
      this.inStarts,
      this.inEnds,
      this.inHead,
      end,
    );
    switch (route.kind) {
      case 'shard': {
        const shard = route.shard ?? this.backendShard;
        const conn = this.backend;
        if (conn !== null && (conn.txStatus !== 'I' || this.pinnedReason !== null)) {
          // Inside a transaction (or pinned): the batch runs on the connection that holds it.
          if (shard === this.backendShard) {
            this.noteWrite(shard, route.read);
            this.batchEnd = end;
            return true;
          }
          if (this.queueHead < this.queue.length) return false;
          return this.handOffBatch(end);
        }
        // The WAL position of the last write is on its way: a sync read must choose with it.
        if (this.positionPending && route.read) return false;
        const pool = this.poolForBatch(shard, route.read, chosen, route.consistency ?? null);
        if (pool === null) return false;
        if (conn !== null && (shard !== this.backendShard || conn.owner !== pool)) {
          // Answers still outstanding: wait for them (the connection may go back to the pool).
          if (this.queueHead < this.queue.length) return false;
          if (conn.txStatus !== 'I') return this.handOffBatch(end);
          this.maybeRelease();
        }
        if (this.backend === null) {
          this.backendShard = shard;
          this.target = pool === this.pools[shard] ? null : pool;
        }
        this.noteWrite(shard, route.read);
        this.batchEnd = end;
        return true;
      }
      case 'begin':
        if (this.backend !== null && this.target !== null && this.backend.txStatus === 'I' && this.pinnedReason === null) {
          // Attached to a replica for earlier reads: the transaction must not open there.
          if (this.queueHead < this.queue.length) return false;
          this.maybeRelease();
        }
        if (this.backend === null) this.target = null;
        if (this.backend !== null || this.txStatus !== 'I' || this.pinnedReason !== null || !this.canAnswerLocally(end)) {
          this.batchEnd = end;
          return true;
        }
        this.deferredBegin = route.text;
        this.answerTxLocally(end, 'BEGIN', 'T');
        return true;
      case 'end':
        if (this.backend === null) this.target = null;
        if (this.backend !== null || this.deferredBegin === null || !this.canAnswerLocally(end)) {
          this.batchEnd = end;
          return true;
        }
        // Nothing ran since BEGIN: there is nothing to commit or roll back anywhere.
        this.deferredBegin = null;
        this.answerTxLocally(end, route.commit ? 'COMMIT' : 'ROLLBACK', 'I');
        return true;
      case 'distributed':
        if (this.queueHead < this.queue.length) return false;
        if (this.positionPending && route.read) return false;
        return this.handOffBatch(end, route.read, route.consistency ?? null);
    }
  }

  /**
   * The pool a batch for `shard` borrows from: a replica's for a read outside a transaction (or in a
   * deferred READ ONLY one) when the session's consistency allows it, else the primary's. null: a
   * sync read waits for a replica to replay the session's last commit first (the batch is routed
   * again when the wait ends).
   */
  private poolForBatch(shard: number, read: boolean, chosen: { shard: number; pool: NodePool | null } | null, hinted: ReadConsistency | null): NodePool | null {
    const primary = this.pools[shard]!;
    const router = this.readRouter;
    if (router === null || this.pinnedReason !== null) return primary;
    const begin = this.deferredBegin;
    if (begin !== null ? !READ_ONLY_BEGIN.test(begin) : this.txStatus !== 'I' || !read) return primary;
    if (chosen !== null && chosen.shard === shard) return chosen.pool ?? primary;
    const target = this.readTarget(shard, hinted);
    switch (target.kind) {
      case 'primary':
        return primary;
      case 'replica':
        return target.pool;
      case 'wait':
        this.waitForReplica(router, shard, target.lsn, target.timeoutMs);
        return null;
    }
  }

  /** A write batch on the primary connection: its WAL position is asked once its transaction ends (sync reads). */
  private noteWrite(shard: number, read: boolean): void {
    if (read || this.target !== null || this.readRouter?.hasReplicas(shard) !== true || !tracksPositions(this.reads)) return;
    this.wroteOnPrimary = true;
  }

  /** After a write transaction ended on the attached primary connection: ask its WAL position there. */
  private askCommitPosition(): void {
    this.wroteOnPrimary = false;
    this.positionPending = true;
    const shard = this.backendShard;
    this.injectQuery(COMMIT_POSITION_SQL, () => {
      this.positionPending = false;
    });
    const p = this.queue[this.queue.length - 1]!;
    p.onRow = (buf, start, end) => {
      const value = decodeDataRow(buf, start, end)[0];
      const lsn = value === null || value === undefined ? null : parseLsnOrNull(value.toString('latin1'));
      if (lsn !== null) this.notePosition(shard, lsn);
    };
    this.flushServer();
  }

  private waitForReplica(router: ReadRouter, shard: number, lsn: Lsn, timeoutMs: number): void {
    this.choosing = true;
    this.waitingSince = Date.now();
    const done = (pool: NodePool | null): void => {
      this.choosing = false;
      this.waitingSince = 0;
      this.chosen = { shard, pool };
      if (this.closed) return;
      this.pump();
      this.flushServer();
      this.flushClient();
    };
    router.waitForReplica(shard, this.reads, lsn, timeoutMs).then(done, () => done(null));
  }

  /**
   * The executor ran a batch that may have written on several shards: until their primaries' WAL
   * positions are known, this session's sync reads of those shards go to the primaries.
   */
  private trackExecutorWrites(): void {
    const router = this.readRouter;
    if (router === null || !tracksPositions(this.reads)) return;
    const shards: number[] = [];
    for (let shard = 0; shard < this.pools.length; shard++) if (router.hasReplicas(shard)) shards.push(shard);
    if (shards.length === 0) return;
    // Reads wait for the positions (one short query per shard); the client already has its answer.
    this.positionPending = true;
    void Promise.all(shards.map((shard) => this.fetchPosition(shard))).then(() => {
      this.positionPending = false;
      if (this.closed) return;
      this.pump();
      this.flushServer();
      this.flushClient();
    });
  }

  private async fetchPosition(shard: number): Promise<void> {
    const pool = this.pools[shard]!;
    try {
      const conn = await pool.acquire();
      try {
        const rows = await oneOffQuery(conn, COMMIT_POSITION_SQL);
        const lsn = parseLsnOrNull(rows[0]?.[0] ?? null);
        pool.release(conn);
        if (lsn !== null) {
          this.notePosition(shard, lsn);
          return;
        }
      } catch (err) {
        pool.discard(conn);
        throw err;
      }
    } catch (err) {
      this.ctx.log.debug({ shard, err: err instanceof Error ? err.message : String(err) }, 'could not read the WAL position after a write');
    }
    // Position unknown: the session's sync reads of the shard go to its primary until its next write there.
    this.reads.unknown.add(shard);
  }

  /** Records the WAL position of a commit of this session on `shard` (positions only grow). */
  notePosition(shard: number, lsn: Lsn): void {
    const prev = this.reads.positions[shard] ?? null;
    if (prev === null || lsn > prev) this.reads.positions[shard] = lsn;
    this.reads.unknown.delete(shard);
  }

  /**
   * The executor's pool for a read of `shard` outside a transaction: a replica's when the session's
   * (or the batch's hinted) consistency allows it, after a sync wait if needed; else the primary's.
   */
  async readPool(shard: number, hinted: ReadConsistency | null): Promise<NodePool> {
    const primary = this.pools[shard]!;
    const target = this.readTarget(shard, hinted);
    switch (target.kind) {
      case 'primary':
        return primary;
      case 'replica':
        return target.pool;
      case 'wait':
        return (await this.readRouter!.waitForReplica(shard, this.reads, target.lsn, target.timeoutMs)) ?? primary;
    }
  }

  /** Where a read of `shard` outside a transaction may go (a pinned session stays on the primary). */
  private readTarget(shard: number, hinted: ReadConsistency | null): ReadTarget {
    if (this.readRouter === null || this.pinnedReason !== null) return PRIMARY_TARGET;
    return this.readRouter.choose(shard, this.reads, hinted);
  }


  /** A Parse in the batch the proxy would have to refuse (name taken, limit) needs a server to answer in order. */
  private canAnswerLocally(end: number): boolean {
    for (let i = this.inHead; i < end; i++) {
      if (this.inTypes[i] !== T_PARSE) continue;
      const name = decodeParse(this.inBufs[i]!, this.inStarts[i]!, this.inEnds[i]!).name;
      if (name !== '' && this.refuseNewStatement(name) !== null) return false;
    }
    return true;
  }

  /** Answers a batch holding one BEGIN / COMMIT / ROLLBACK (simple or extended protocol) without a server. */
  private answerTxLocally(end: number, tag: string, status: 'I' | 'T'): void {
    for (let i = this.inHead; i < end; i++) {
      const type = this.inTypes[i]!;
      const buf = this.inBufs[i]!;
      const start = this.inStarts[i]!;
      const frameEnd = this.inEnds[i]!;
      switch (type) {
        case T_QUERY:
          this.toClient.addBuffer(commandComplete(tag));
          this.toClient.addBuffer(readyForQuery(status));
          break;
        case T_PARSE: {
          // Prepared lazily on whichever connection first runs it (canAnswerLocally checked the name).
          const msg = decodeParse(buf, start, frameEnd);
          this.rememberParse(msg.name, msg.query, msg.paramTypes);
          this.toClient.addBuffer(PARSE_COMPLETE);
          break;
        }
        case T_BIND:
          this.toClient.addBuffer(BIND_COMPLETE);
          break;
        case T_DESCRIBE:
          this.toClient.addBuffer(NO_DATA);
          break;
        case T_EXECUTE:
          this.toClient.addBuffer(commandComplete(tag));
          break;
        case T_SYNC:
          this.toClient.addBuffer(readyForQuery(status));
          break;
        default:
          break;
      }
    }
    this.txStatus = status;
    this.inHead = end;
  }

  /** Gives the batch (and the open transaction's connection, if any) to the distributed executor. */
  /** The batch being handed to the executor only reads: it may read from replicas, at this level (null: the session's). */
  batchReads: { readonly consistency: ReadConsistency | null } | null = null;

  private handOffBatch(end: number, read = false, consistency: ReadConsistency | null = null): boolean {
    // Only a batch that ends its implicit transaction (Sync, Query) may read from replicas: after a
    // Flush, the statements that follow in the same transaction would reuse those connections.
    const last = this.inTypes[end - 1];
    this.batchReads = read && (last === T_SYNC || last === T_QUERY) ? { consistency } : null;
    const frames: OwnedFrame[] = [];
    for (let i = this.inHead; i < end; i++) {
      frames.push({ type: this.inTypes[i]!, buf: Buffer.from(this.inBufs[i]!.subarray(this.inStarts[i]!, this.inEnds[i]!)) });
    }
    this.inHead = end;
    let adopted: { shard: number; conn: ServerConnection } | null = null;
    const conn = this.backend;
    // An open transaction moves to the executor with its connection; a connection the client is only
    // pinned to (LISTEN, temp tables...) stays with the relay.
    if (conn !== null && conn.txStatus !== 'I') {
      this.stopQueryTimer();
      this.backend = null;
      conn.listener = null;
      adopted = { shard: this.backendShard, conn };
    }
    this.handedOff = true;
    this.flushClient();
    this.routing!.handOff(this, frames, adopted, () => {
      this.handedOff = false;
      if (this.closed) return;
      if (!read) this.trackExecutorWrites();
      this.pump();
      this.flushServer();
      this.flushClient();
    });
    return false;
  }

  /** The client socket is read unless the inbox is full or the server is not taking our writes. */
  private updateClientReading(): void {
    const pause = this.pausedForInbox || this.pausedForServer;
    if (pause === this.clientPaused) return;
    this.clientPaused = pause;
    if (pause) this.host.socket.pause();
    else this.host.socket.resume();
  }

  private acquireAsync(): void {
    this.acquiring = true;
    this.waitingSince = Date.now();
    let inCall = true;
    this.pool.acquireThen((err, conn) => {
      // Answered at once (pool closing, or a redirected pool with an idle connection): finish outside
      // pump(), which called us. Otherwise a release() hands the connection over, synchronously.
      if (inCall) queueMicrotask(() => this.acquired(err, conn));
      else this.acquired(err, conn);
    }, this);
    inCall = false;
  }

  private acquired(err: ProxyError | null, conn: ServerConnection | null): void {
    this.acquiring = false;
    this.waitingSince = 0;
    if (err !== null) {
      if (this.closed) return;
      this.failBatch(err);
    } else {
      if (this.closed) {
        this.pool.release(conn!);
        return;
      }
      this.attach(conn!, true);
    }
    try {
      this.pump();
      this.flushServer();
    } catch (e) {
      // This runs inside whoever released the connection (another client's answer being read): a
      // failure here is this client's, not theirs.
      this.fail(asProxyError(e));
    }
  }

  /** No server connection could be had: answer the next batch with the error, as Postgres would. */
  private failBatch(err: ProxyError): void {
    this.toClient.addBuffer(errorResponseFrame(err));
    this.failedUntilSync = true;
    while (this.inHead < this.inCount && this.failedUntilSync) {
      const type = this.inTypes[this.inHead]!;
      this.inHead++;
      this.dropFailedFrame(type);
    }
    this.flushClient();
  }

  /** Drops a frame of a failed batch; its boundary gets the ReadyForQuery Postgres would send. */
  private dropFailedFrame(type: number): void {
    if (type === T_SYNC || type === T_QUERY || type === T_FUNCTION_CALL) {
      this.toClient.addBuffer(readyForQuery(this.txStatus));
      this.failedUntilSync = false;
    }
  }

  private attach(conn: ServerConnection, replayState: boolean): void {
    this.backend = conn;
    conn.listener = this;
    if (replayState && conn.appliedStateKey !== this.state.key) {
      this.injectQuery(this.replaySqlFor(conn), null);
      conn.appliedStateKey = this.state.key;
    }
    if (this.deferredBegin !== null) {
      // The client's BEGIN, answered earlier, opens the transaction on the shard that runs its first statement.
      this.injectQuery(this.deferredBegin, null);
      this.deferredBegin = null;
    }
  }

  private replaySqlFor(conn: ServerConnection): string {
    const replay = this.state.replaySql();
    // A connection another client changed is first returned to its login defaults.
    return conn.appliedStateKey === '' ? replay : replay === '' ? 'RESET ALL' : `RESET ALL;\n${replay}`;
  }

  private sendFrames(): void {
    const conn = this.backend!;
    const stop = this.routing === null ? this.inCount : Math.min(this.batchEnd, this.inCount);
    while (this.inHead < stop && this.backend === conn) {
      const i = this.inHead++;
      this.sendFrame(conn, this.inTypes[i]!, this.inBufs[i]!, this.inStarts[i]!, this.inEnds[i]!);
    }
    if (this.inHead >= this.batchEnd) this.batchEnd = -1;
  }

  private sendFrame(conn: ServerConnection, type: number, buf: Buffer, start: number, end: number): void {
    if (this.skipUntilSync) {
      if (type !== T_SYNC) return;
      this.skipUntilSync = false;
    }
    switch (type) {
      case T_QUERY:
        this.sendQuery(conn, buf, start, end);
        return;
      case T_PARSE:
        this.sendParse(conn, buf, start, end);
        return;
      case T_BIND: {
        const { portal, statement } = decodeBindNames(buf, start, end);
        const def = this.resolveStatement(conn, statement);
        if (def === undefined) return;
        const effect = def === null ? (statement === '' ? this.lastUnnamed?.effect ?? NONE : NONE) : def.effect ?? NONE;
        if (effect.kind !== 'none') this.portalEffects.set(portal, effect);
        else if (this.portalEffects.size > 0) this.portalEffects.delete(portal);
        if (def === null || def.name === statement) this.toServer.addRange(buf, start, end);
        else this.toServer.addBuffer(renameBindStatement(buf, start, end, def.name));
        this.push(Expect.Bind, Mode.Forward);
        return;
      }
      case T_DESCRIBE: {
        const d = decodeDescribe(buf, start, end);
        if (d.target === 'P') {
          this.toServer.addRange(buf, start, end);
          this.push(Expect.DescribePortal, Mode.Forward);
          return;
        }
        const def = this.resolveStatement(conn, d.name);
        if (def === undefined) return;
        if (def === null || def.name === d.name) this.toServer.addRange(buf, start, end);
        else this.toServer.addBuffer(renameDescribeOrClose(buf, start, end, def.name));
        this.push(Expect.DescribeStatement, Mode.Forward);
        return;
      }
      case T_EXECUTE: {
        this.toServer.addRange(buf, start, end);
        const p = this.push(Expect.Execute, Mode.Forward);
        if (this.portalEffects.size > 0) {
          const effect = this.portalEffects.get(decodeExecute(buf, start, end).portal);
          if (effect !== undefined) p.effects = [effect];
        }
        return;
      }
      case T_CLOSE: {
        const c = decodeClose(buf, start, end);
        if (c.target === 'S' && c.name !== '') {
          // Other clients may share the server-side statement: forget it here and answer ourselves.
          const def = this.statements.get(c.name);
          if (def !== undefined) {
            this.statements.delete(c.name);
            this.ctx.statements.release(def);
          }
          const p = this.push(Expect.Close, Mode.Synth);
          p.synth = CLOSE_COMPLETE;
          if (def !== undefined) {
            p.undo = () => {
              def.refs++;
              this.statements.set(c.name, def);
            };
          }
          this.flushSynthAtHead();
          return;
        }
        this.toServer.addRange(buf, start, end);
        this.push(Expect.Close, Mode.Forward);
        return;
      }
      case T_SYNC:
        this.toServer.addRange(buf, start, end);
        this.push(Expect.Sync, Mode.Forward);
        return;
      case T_FLUSH:
        this.toServer.addRange(buf, start, end);
        return;
      case T_FUNCTION_CALL:
        this.toServer.addRange(buf, start, end);
        this.push(Expect.FunctionCall, Mode.Forward);
        return;
      default:
        throw ProxyError.internal(`unexpected frame type ${type} in the inbox`);
    }
  }

  private sendQuery(conn: ServerConnection, buf: Buffer, start: number, end: number): void {
    this.queries++;
    const sql = decodeQuery(buf, start, end);
    const effects = this.ctx.classifier.classify(sql);
    if (effects.length === 1 && this.txStatus === 'I' && this.pinnedReason === null) {
      const only = effects[0]!;
      if (only.kind === 'discard-all' || (only.kind === 'deallocate' && (only.name === null || this.statements.has(only.name)))) {
        // Protocol-level statements live in the proxy; DISCARD ALL / DEALLOCATE act on them here so that
        // other clients' statements on the shared server connection survive.
        this.answerLocally(only);
        return;
      }
    }
    this.toServer.addRange(buf, start, end);
    // A simple Query replaces the server's unnamed statement (it uses it internally).
    conn.unnamed = null;
    const p = this.push(Expect.Query, Mode.Forward);
    p.effects = effects;
  }

  private answerLocally(effect: SessionEffect & { kind: 'discard-all' | 'deallocate' }): void {
    let tag: string;
    if (effect.kind === 'discard-all') {
      this.dropAllStatements();
      this.state.discardAll();
      tag = 'DISCARD ALL';
    } else if (effect.name === null) {
      this.dropAllStatements();
      tag = 'DEALLOCATE ALL';
    } else {
      const def = this.statements.get(effect.name);
      if (def !== undefined) {
        this.statements.delete(effect.name);
        this.ctx.statements.release(def);
      }
      tag = 'DEALLOCATE';
    }
    const p = this.push(Expect.Query, Mode.Synth);
    p.synth = Buffer.concat([commandComplete(tag), readyForQuery('I')]);
    this.flushSynthAtHead();
    const conn = this.backend;
    if (conn !== null && conn.appliedStateKey !== this.state.key) {
      // DISCARD ALL changed the client's settings while it holds a connection: bring it in line now.
      this.injectQuery(this.replaySqlFor(conn), null);
      conn.appliedStateKey = this.state.key;
    }
    if (this.queueHead === this.queue.length) this.maybeRelease();
  }

  private dropAllStatements(): void {
    for (const def of this.statements.values()) this.ctx.statements.release(def);
    this.statements.clear();
    this.lastUnnamed = null;
  }

  private sendParse(conn: ServerConnection, buf: Buffer, start: number, end: number): void {
    // An unnamed Parse is sent anew before each execution by most drivers (pgbench -M extended,
    // node-postgres): recognised by its bytes, it is not decoded and classified again.
    const same = this.lastUnnamed;
    if (same !== null && end - start === same.frame.length && buf.compare(same.frame, 0, same.frame.length, start, end) === 0) {
      conn.unnamed = same;
      this.toServer.addRange(buf, start, end);
      this.push(Expect.Parse, Mode.Forward);
      return;
    }
    const msg = decodeParse(buf, start, end);
    if (msg.name === '') {
      const unnamed: UnnamedStatement = {
        query: msg.query,
        paramTypes: msg.paramTypes,
        effect: this.ctx.classifier.classify(msg.query)[0] ?? NONE,
        frame: Buffer.from(buf.subarray(start, end)),
      };
      this.lastUnnamed = unnamed;
      conn.unnamed = unnamed;
      this.toServer.addRange(buf, start, end);
      this.push(Expect.Parse, Mode.Forward);
      return;
    }
    const refused = this.refuseNewStatement(msg.name);
    if (refused !== null) {
      this.proxyError(refused);
      return;
    }
    const def = this.ctx.statements.acquire(msg.name, msg.query, msg.paramTypes);
    def.effect ??= this.ctx.classifier.classify(msg.query)[0] ?? NONE;
    this.statements.set(msg.name, def);
    const forget = (): void => {
      if (this.statements.get(msg.name) === def) {
        this.statements.delete(msg.name);
        this.ctx.statements.release(def);
      }
    };
    if (conn.prepared.get(def.name) === def) {
      touch(conn.prepared, def);
      const p = this.push(Expect.Parse, Mode.Synth);
      p.synth = PARSE_COMPLETE;
      p.undo = forget;
      this.flushSynthAtHead();
      return;
    }
    this.makeRoom(conn, def);
    if (def.name === msg.name) this.toServer.addRange(buf, start, end);
    else this.toServer.addBuffer(def.parseFrame);
    conn.prepared.set(def.name, def);
    const p = this.push(Expect.Parse, Mode.Forward);
    p.undo = () => {
      forget();
      if (conn.prepared.get(def.name) === def) conn.prepared.delete(def.name);
    };
  }

  /**
   * The server-side statement for a client's statement name, prepared on conn if it is not yet.
   * null: the unnamed statement or a name we do not know (sent as is, so Postgres answers it);
   * undefined: the proxy answered with an error and the batch is being skipped.
   */
  private resolveStatement(conn: ServerConnection, name: string): StatementDef | null | undefined {
    if (name === '') {
      const unnamed = this.lastUnnamed;
      if (unnamed !== null && conn.unnamed !== unnamed) {
        // The unnamed statement was parsed on another connection (or overwritten): parse it again.
        this.toServer.addBuffer(buildParse('', unnamed.query, unnamed.paramTypes));
        conn.unnamed = unnamed;
        this.push(Expect.Parse, Mode.Swallow);
      }
      return null;
    }
    const def = this.statements.get(name);
    if (def === undefined) {
      this.proxyError(ProxyError.unknownPreparedStatement(name));
      return undefined;
    }
    if (conn.prepared.get(def.name) === def) {
      touch(conn.prepared, def);
      return def;
    }
    this.makeRoom(conn, def);
    this.toServer.addBuffer(def.parseFrame);
    conn.prepared.set(def.name, def);
    const p = this.push(Expect.Parse, Mode.Swallow);
    p.undo = () => {
      if (conn.prepared.get(def.name) === def) conn.prepared.delete(def.name);
    };
    return def;
  }

  /** Frees the statement's name on conn and keeps conn under preparedPerBackendMax. */
  private makeRoom(conn: ServerConnection, def: StatementDef): void {
    const stale = conn.prepared.get(def.name);
    if (stale !== undefined && stale !== def) this.closeOnServer(conn, def.name);
    const max = this.ctx.config().pool.preparedPerBackendMax;
    while (conn.prepared.size >= max) {
      const oldest = conn.prepared.keys().next().value as string;
      this.closeOnServer(conn, oldest);
    }
  }

  private closeOnServer(conn: ServerConnection, name: string): void {
    conn.prepared.delete(name);
    this.toServer.addBuffer(buildClose('S', name));
    this.push(Expect.Close, Mode.Swallow);
  }

  /** An error the proxy raises inside an extended-protocol batch: reported in order, rest skipped to Sync. */
  private proxyError(err: ProxyError): void {
    const p = this.push(Expect.ProxyError, Mode.Synth);
    p.synth = errorResponseFrame(err);
    this.skipUntilSync = true;
    this.flushSynthAtHead();
  }

  /** Sends a proxy-made simple query whose results the client must not see. */
  private injectQuery(sql: string, onDone: ((error: Map<string, string> | null) => void) | null): void {
    this.toServer.addBuffer(buildQuery(sql));
    if (this.backend !== null) this.backend.unnamed = null;
    const p = this.push(Expect.Query, Mode.Swallow);
    p.onDone = onDone;
  }

  private push(expect: Expect, mode: Mode): Pending {
    const p = this.spare.pop() ?? new Pending();
    p.expect = expect;
    p.mode = mode;
    this.queue.push(p);
    return p;
  }

  private flushServer(): void {
    const conn = this.backend;
    if (conn === null || this.toServer.isEmpty()) return;
    if (this.queryTimer === null && this.queueHead < this.queue.length) this.startQueryTimer(conn);
    const ok = this.toServer.flushTo(conn.socket);
    if (!ok && conn.writableLength > this.ctx.config().limits.writeBufferBytesMax && !this.pausedForServer) {
      // The server is not keeping up (e.g. a large COPY IN): stop reading the client until it drains.
      this.pausedForServer = true;
      this.updateClientReading();
    }
  }

  /** limits.queryTimeoutMs: a request still unanswered by then is canceled on the server (57014). */
  private startQueryTimer(conn: ServerConnection): void {
    const ms = this.ctx.config().limits.queryTimeoutMs;
    if (ms === 0) return;
    this.queryTimer = setTimeout(() => {
      this.queryTimer = null;
      if (this.backend === conn && this.queueHead < this.queue.length) {
        this.ctx.log.info({ server: conn.id, timeoutMs: ms }, 'query timeout: canceling');
        this.ctx.cancelBackend(conn);
      }
    }, ms);
  }

  private stopQueryTimer(): void {
    if (this.queryTimer !== null) {
      clearTimeout(this.queryTimer);
      this.queryTimer = null;
    }
  }

  onBackendDrain(): void {
    if (this.pausedForServer) {
      this.pausedForServer = false;
      this.updateClientReading();
    }
  }

  /** The client socket drained: read from the server again. */
  onClientDrain(): void {
    if (this.serverPaused) {
      this.serverPaused = false;
      this.backend?.resume();
    }
  }

  // ---- server side ---------------------------------------------------------------------------

  onBackendFrame(type: number, buf: Buffer, start: number, end: number): void {
    // DataRow first: it is the frame that arrives by the million.
    if (type === 0x44 /* D */) {
      const head = this.queue[this.queueHead];
      if (head === undefined || head.mode !== Mode.Swallow) this.toClient.addRange(buf, start, end);
      else if (head.onRow !== null) head.onRow(buf, start, end);
      return;
    }
    this.flushSynthAtHead();
    const head = this.queue[this.queueHead];
    if (head === undefined) {
      // Between requests a server only sends asynchronous messages (notifications, notices, status).
      this.toClient.addRange(buf, start, end);
      return;
    }
    const forward = head.mode !== Mode.Swallow;
    switch (type) {
      case 0x43 /* C: CommandComplete */:
        if (forward) this.toClient.addRange(buf, start, end);
        if (head.expect === Expect.Query) {
          this.onStatementComplete(head, buf, start, end);
        } else if (head.expect === Expect.Execute) {
          if (head.effects !== null || this.state.hasPending) this.onStatementComplete(head, buf, start, end);
          this.pop();
        }
        return;
      case 0x5a /* Z: ReadyForQuery */:
        this.copyIn = false;
        this.onReady(head, buf, start, end);
        return;
      case 0x45 /* E: ErrorResponse */:
        // A failed COPY FROM leaves copy mode on the server; what the client still sends is ignored.
        this.copyIn = false;
        this.onError(head, buf, start, end);
        return;
      case 0x31 /* 1: ParseComplete */:
      case 0x32 /* 2: BindComplete */:
      case 0x33 /* 3: CloseComplete */:
      case 0x6e /* n: NoData */:
      case 0x73 /* s: PortalSuspended */:
        if (forward) this.toClient.addRange(buf, start, end);
        if (head.expect !== Expect.Query) this.pop();
        return;
      case 0x54 /* T: RowDescription */:
        if (forward) this.toClient.addRange(buf, start, end);
        if (head.expect === Expect.DescribeStatement || head.expect === Expect.DescribePortal) this.pop();
        return;
      case 0x49 /* I: EmptyQueryResponse */:
        if (forward) this.toClient.addRange(buf, start, end);
        if (head.expect === Expect.Execute) this.pop();
        else if (head.expect === Expect.Query) head.effectIndex++;
        return;
      case 0x47 /* G: CopyInResponse */:
      case 0x57 /* W: CopyBothResponse */:
        this.copyIn = true;
        this.toClient.addRange(buf, start, end);
        return;
      case 0x53 /* S: ParameterStatus */:
        // Values set by a replay are the client's own; forwarding them would only repeat what it knows.
        if (forward) this.toClient.addRange(buf, start, end);
        return;
      default:
        // t, H, d, c, V, A, N...: part of the current answer, forwarded as they are.
        if (forward) this.toClient.addRange(buf, start, end);
        return;
    }
  }

  private onStatementComplete(head: Pending, buf: Buffer, start: number, end: number): void {
    const effects = head.effects;
    const i = head.effectIndex++;
    if (head.mode === Mode.Swallow) return;
    const effect = effects === null ? undefined : effects.length === 1 ? effects[0] : effects[i];
    if (effect === undefined || effect.kind === 'none') {
      if (this.state.hasPending) this.trackTransactionEnd(decodeCommandTag(buf, start, end));
      return;
    }
    this.applyEffect(effect);
  }

  /** COMMIT / ROLLBACK inside a query string settle SETs made in their transaction. */
  private trackTransactionEnd(tag: string): void {
    if (tag === 'COMMIT' || tag === 'PREPARE TRANSACTION') this.endTransaction(true);
    else if (tag === 'ROLLBACK') this.endTransaction(false);
  }

  private endTransaction(committed: boolean): void {
    const held = this.state.endTransaction(committed);
    const conn = this.backend;
    if (conn === null || held === 'same') return;
    conn.appliedStateKey = held === 'current' ? this.state.key : DIRTY_STATE;
  }

  private applyEffect(effect: SessionEffect): void {
    const conn = this.backend!;
    switch (effect.kind) {
      case 'set':
      case 'reset':
      case 'reset-all':
        // Holds once the transaction commits (an implicit one ends at ReadyForQuery).
        this.state.apply(effect);
        return;
      case 'discard-all':
        // Only reaches the server for a pinned client; it resets that whole server session.
        this.dropAllStatements();
        this.state.discardAll();
        conn.prepared.clear();
        conn.unnamed = null;
        conn.appliedStateKey = '';
        this.pinnedReason = this.sessionPooling ? 'session pooling' : null;
        return;
      case 'deallocate':
        if (effect.name === null) {
          this.dropAllStatements();
          conn.prepared.clear();
        } else {
          const def = this.statements.get(effect.name);
          if (def !== undefined) {
            this.statements.delete(effect.name);
            this.ctx.statements.release(def);
          }
          conn.prepared.delete(effect.name);
        }
        return;
      case 'pin':
        if (this.pinnedReason === null) {
          this.pinnedReason = effect.reason;
          this.ctx.log.debug({ reason: effect.reason }, 'client pinned to its server connection');
        }
        return;
      case 'none':
        return;
      default:
        assertNever(effect);
    }
  }

  private onReady(head: Pending, buf: Buffer, start: number, end: number): void {
    const status = this.backend!.txStatus;
    if (head.mode === Mode.Swallow) {
      head.onDone?.(head.error);
    } else {
      this.toClient.addRange(buf, start, end);
      this.txStatus = status;
      // Outside a transaction block every statement has committed or rolled back by now.
      if (status === 'I' && this.state.hasPending) this.endTransaction(!this.errorSinceReady);
      this.errorSinceReady = false;
      if (status === 'I' && this.wroteOnPrimary) this.askCommitPosition();
    }
    this.pop();
    this.flushSynthAtHead();
    if (this.queueHead === this.queue.length) {
      this.stopQueryTimer();
      this.maybeRelease();
      // A batch for another shard may be waiting for this one to finish.
      if (this.routing !== null && this.inHead < this.inCount && !this.handedOff) {
        this.pump();
        this.flushServer();
      }
    }
  }

  private onError(head: Pending, buf: Buffer, start: number, end: number): void {
    // Errors always reach the client, even for a message the proxy made: its request failed with it.
    if (head.onDone !== null) {
      head.error ??= decodeErrorFields(buf, start, end);
    } else {
      this.toClient.addRange(buf, start, end);
    }
    if (head.expect === Expect.Query || head.expect === Expect.FunctionCall) return;
    // Extended protocol: Postgres skips every message up to Sync; so do our expectations.
    this.errorSinceReady = true;
    let p = this.queue[this.queueHead];
    while (p !== undefined && !(p.expect === Expect.Sync && p.mode === Mode.Forward)) {
      p.undo?.();
      this.recycle(p);
      this.queueHead++;
      p = this.queue[this.queueHead];
    }
  }

  private pop(): void {
    const p = this.queue[this.queueHead]!;
    this.queueHead++;
    this.recycle(p);
    if (this.queueHead === this.queue.length) {
      this.queue.length = 0;
      this.queueHead = 0;
    }
  }

  private recycle(p: Pending): void {
    p.reset();
    if (this.spare.length < 64) this.spare.push(p);
  }

  /** Emits proxy-made answers that have reached the head of the queue. */
  private flushSynthAtHead(): void {
    let p = this.queue[this.queueHead];
    while (p !== undefined && p.mode === Mode.Synth) {
      this.toClient.addBuffer(p.synth!);
      if (p.expect === Expect.Query) this.txStatus = 'I';
      this.pop();
      p = this.queue[this.queueHead];
    }
  }

  onBackendChunkEnd(): boolean {
    this.flushClient();
    return this.host.socket.writableLength > 0;
  }

  private flushClient(): void {
    if (this.toClient.isEmpty()) return;
    const ok = this.toClient.flushTo(this.host.socket);
    if (!ok && this.backend !== null && !this.serverPaused) {
      // A slow client: stop reading the server so rows wait in Postgres, not in our memory.
      if (this.host.socket.writableLength > this.ctx.config().limits.writeBufferBytesMax) {
        this.serverPaused = true;
        this.backend.pause();
      }
    }
  }

  /** Returns the server connection to the pool when nothing ties the client to it any more. */
  private maybeRelease(): void {
    const conn = this.backend;
    if (conn === null || this.pinnedReason !== null || this.copyIn) return;
    if (this.queueHead !== this.queue.length || conn.txStatus !== 'I') return;
    this.flushClient();
    this.backend = null;
    if (this.serverPaused) {
      this.serverPaused = false;
      conn.resume();
    }
    this.pool.release(conn);
  }

  onBackendClosed(_conn: ServerConnection, err: ProxyError): void {
    this.backend = null;
    this.stopQueryTimer();
    if (this.closed) return;
    // The transaction, or the statements in flight, are gone with the server session: the client
    // must not continue as if nothing happened.
    this.flushClient();
    this.host.fatal(new ProxyError(err.sqlstate, err.message, 'FATAL'));
  }

  /** Ends the client's connection with a FATAL version of err (the executor lost its footing). */
  fail(err: ProxyError): void {
    this.host.fatal(new ProxyError(err.sqlstate, err.message, 'FATAL'));
  }

  /** Targets for a CancelRequest: the server connections running this client's query (several in the executor). */
  cancelTargets(): readonly ServerConnection[] {
    if (this.handedOff) return this.routing!.running(this);
    return this.backend !== null && this.queueHead < this.queue.length ? [this.backend] : [];
  }

  /** The client went away: hand the server connection back, cleaned, or drop it. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.routing?.closed(this);
    this.stopQueryTimer();
    this.toClient.clear();
    this.dropAllStatements();
    const conn = this.backend;
    this.backend = null;
    if (conn === null) return;
    conn.listener = null;
    if (this.serverPaused) conn.resume();
    if (this.queueHead !== this.queue.length || this.copyIn) {
      // Mid-query: the server is still answering someone who left; never lend it to another client.
      this.pool.discard(conn);
      return;
    }
    const cleanup: string[] = [];
    if (conn.txStatus !== 'I') cleanup.push('ROLLBACK');
    if (this.pinnedReason !== null) cleanup.push(this.ctx.config().pool.resetQuery);
    if (cleanup.length === 0) {
      this.pool.release(conn);
      return;
    }
    resetAndRelease(conn, this.pool, cleanup, this.ctx.config().pool.acquireTimeoutMs);
  }
}

function touch(prepared: Map<string, StatementDef>, def: StatementDef): void {
  // Re-inserting keeps the Map in least-recently-used order; with one statement there is no order to keep.
  if (prepared.size > 1) {
    prepared.delete(def.name);
    prepared.set(def.name, def);
  }
}
