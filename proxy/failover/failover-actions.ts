// The I/O behind the failover machine's actions (topology/failover/), against real PostgreSQL 15
// nodes: fence, unfence, catch-up, promote, repoint, rejoin; route/pause/resume are handed to the
// proxy through hooks. Each action ends in the event the machine expects (or null), never throws,
// and is skipped when its term is older than the newest term seen (a superseded decision).
//
// Owns: the SQL of each action, its time bounds, and keeping passwords out of logs (primary_conninfo
// is only ever logged redacted). It does not decide anything: that is the machine's job.
//
// Privileges: the actions' user must be a superuser (pg_promote, ALTER SYSTEM, reading
// primary_conninfo, terminating other users' backends, creating replication slots).

import { setTimeout as sleep } from 'node:timers/promises';
import { decodeDataRow, decodeErrorFields } from '../protocol/backend-messages.js';
import { buildQuery } from '../protocol/rewrite.js';
import { ServerConnection } from '../backend/server-connection.js';
import type { Logger } from '../logger.js';
import type { NodeAddress } from '../../topology/config/config-types.js';
import type { FailoverAction, FailoverEvent, NodeId } from '../../topology/failover/failover-types.js';
import { assertNever } from '../../planner/assert-never.js';
import { formatLsn, parseLsn } from '../../topology/lsn.js';
import { formatConninfo, parseConninfo, redactConninfo, withServer, type Conninfo } from './conninfo.js';
import type { RejoinControl } from './rejoin.js';

export interface FailoverNode {
  readonly id: NodeId;
  /** For logs, and the application_name of a replica whose primary_conninfo is built from scratch. */
  readonly name: string;
  readonly address: NodeAddress;
  /** Its data directory when on this machine (rejoin), from the config. */
  readonly dataDir?: string | null;
}

export interface FailoverLogin {
  readonly user: string;
  readonly password: string | null;
  readonly database: string;
}

/** What the proxy does for route / pause-writes / resume-writes (wired by the composition root). */
export interface FailoverHooks {
  /** From now on, writes of this shard go to `primary` (ignore a term older than the last routed). */
  route(primary: NodeId, term: number): void | Promise<void>;
  /** Hold new writes of this shard, and resolve once writes in flight have finished (bounded). */
  pauseWrites(term: number): void | Promise<void>;
  resumeWrites(term: number): void | Promise<void>;
}

export interface FailoverActionsOptions {
  readonly shard: string;
  readonly nodes: readonly FailoverNode[];
  /** A superuser the actions log in as. */
  readonly login: FailoverLogin;
  /** Replication login for a replica that has no primary_conninfo yet (a rejoined old primary). */
  readonly replication?: { readonly user: string; readonly password: string | null };
  /** Bound on connecting and on each statement of fence/unfence/repoint (e.g. health.timeoutMs). */
  readonly stepTimeoutMs: number;
  /** Bound on the CHECKPOINT a rejoin runs on the new primary first (e.g. failover.promoteTimeoutMs). */
  readonly checkpointTimeoutMs: number;
  readonly frameBytesMax: number;
  readonly hooks: FailoverHooks;
  /** Local control of nodes whose data directory is on this machine (rejoin); absent: no rejoin. */
  readonly rejoin?: (node: FailoverNode) => RejoinControl | null;
  readonly log: Logger;
  /** The clock the machine runs on (deadlines in actions are on it). */
  readonly now?: () => number;
}

/** An ErrorResponse from a node, with its SQLSTATE. */
export class NodeSqlError extends Error {
  constructor(
    readonly sqlstate: string,
    message: string,
  ) {
    super(message);
    this.name = 'NodeSqlError';
  }
}

/** The statement got no answer in time; the connection was closed. Its effect is unknown. */
export class NodeTimeoutError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'NodeTimeoutError';
  }
}

/** Polling step while waiting for a replica to replay up to a position (not a limit: the deadline is). */
const CATCH_UP_POLL_MS = 10;

/** pg_lsn text, validated (and normalised) before it is put in SQL. */
function checkLsn(text: string | null | undefined): string {
  return formatLsn(parseLsn(text ?? ''));
}

/** A string literal that reads the same whatever standard_conforming_strings says. */
export function sqlLiteral(value: string): string {
  return `E'${value.replace(/\\/g, '\\\\').replace(/'/g, "''")}'`;
}

const errorText = (err: unknown): string => (err instanceof Error ? err.message : String(err));

export class FailoverActions {
  private readonly byId: ReadonlyMap<NodeId, FailoverNode>;
  private readonly log: Logger;
  private readonly now: () => number;
  /** The newest term of an action run so far: older ones are superseded decisions. */
  private term = 0;

  constructor(private readonly opts: FailoverActionsOptions) {
    this.byId = new Map(opts.nodes.map((n) => [n.id, n]));
    this.log = opts.log.child({ shard: opts.shard, component: 'failover' });
    this.now = opts.now ?? Date.now;
  }

  /** Carries out one action; returns the event to feed back to the machine (null: none expected). */
  async run(action: FailoverAction): Promise<FailoverEvent | null> {
    if (action.term < this.term) {
      this.log.info({ action: describe(action), term: this.term }, 'failover: skipping an action of an older term');
      return null;
    }
    this.term = action.term;
    const started = this.now();
    this.log.info({ action: describe(action) }, `failover: ${action.kind}`);
    const event = await this.execute(action);
    this.log.info({ action: describe(action), ms: this.now() - started, result: event === null ? null : describeEvent(event) }, `failover: ${action.kind} finished`);
    return event;
  }

  private async execute(a: FailoverAction): Promise<FailoverEvent | null> {
    switch (a.kind) {
      case 'route':
        await this.opts.hooks.route(a.primary, a.term);
        return null;
      case 'pause-writes':
        await this.opts.hooks.pauseWrites(a.term);
        return null;
      case 'resume-writes':
        await this.opts.hooks.resumeWrites(a.term);
        return null;
      case 'fence':
        try {
          await this.fence(this.node(a.node));
          return { kind: 'fence-done', term: a.term, node: a.node, applied: true };
        } catch (err) {
          return { kind: 'fence-done', term: a.term, node: a.node, applied: false, error: errorText(err) };
        }
      case 'unfence':
        try {
          await this.unfence(this.node(a.node));
        } catch (err) {
          this.log.warn({ node: a.node, err: errorText(err) }, 'failover: unfence failed (the node stays read-only until reset by hand)');
        }
        return null;
      case 'catch-up':
        try {
          await this.catchUp(this.node(a.node), this.node(a.primary), a.deadlineMs);
          return { kind: 'caught-up', term: a.term, node: a.node };
        } catch (err) {
          return { kind: 'catch-up-failed', term: a.term, node: a.node, error: errorText(err) };
        }
      case 'promote':
        return this.promote(a.term, this.node(a.node), a.deadlineMs);
      case 'repoint':
        try {
          await this.repoint(this.node(a.node), this.node(a.primary));
          return { kind: 'repoint-done', term: a.term, node: a.node, ok: true };
        } catch (err) {
          return { kind: 'repoint-done', term: a.term, node: a.node, ok: false, error: errorText(err) };
        }
      case 'rejoin':
        try {
          await this.rejoinNode(this.node(a.node), this.node(a.primary));
          return { kind: 'rejoin-done', term: a.term, node: a.node, ok: true };
        } catch (err) {
          return { kind: 'rejoin-done', term: a.term, node: a.node, ok: false, error: errorText(err) };
        }
      default:
        return assertNever(a);
    }
  }

  private node(id: NodeId): FailoverNode {
    const n = this.byId.get(id);
    if (n === undefined) throw new Error(`shard ${this.opts.shard}: unknown node ${id}`);
    return n;
  }

  // ----- connections ---------------------------------------------------------------------------

  async connect(node: FailoverNode, timeoutMs = this.opts.stepTimeoutMs): Promise<ServerConnection> {
    return ServerConnection.connect({
      node: node.address,
      nodeName: node.name,
      database: this.opts.login.database,
      user: this.opts.login.user,
      password: this.opts.login.password,
      connectTimeoutMs: Math.max(1, timeoutMs),
      frameBytesMax: this.opts.frameBytesMax,
    });
  }

  private async withConnection<T>(node: FailoverNode, fn: (conn: ServerConnection) => Promise<T>): Promise<T> {
    const conn = await this.connect(node);
    try {
      return await fn(conn);
    } finally {
      conn.destroy();
    }
  }

  // ----- fence / unfence -------------------------------------------------------------------------

  /**
   * Makes a (former) primary refuse writes: default_transaction_read_only = on for every session
   * that starts from now on (persisted by ALTER SYSTEM, so a restart keeps it), then terminates the
   * client sessions that started before, waiting for them to be gone.
   */
  async fence(node: FailoverNode): Promise<void> {
    const t = this.opts.stepTimeoutMs;
    await this.withConnection(node, async (conn) => {
      await query(conn, 'ALTER SYSTEM SET default_transaction_read_only = on', t);
      await query(conn, 'SELECT pg_reload_conf()', t);
      // This session gets the postmaster's SIGHUP too: once it sees the new value, every session
      // forked from now on starts read-only.
      const deadline = this.now() + t;
      for (;;) {
        const [row] = await query(conn, 'SHOW default_transaction_read_only', t);
        if (row?.[0] === 'on') break;
        if (this.now() > deadline) throw new NodeTimeoutError(`${node.name}: the configuration reload did not take effect within ${t} ms`);
        await sleep(CATCH_UP_POLL_MS);
      }
      const [terminated] = await query(
        conn,
        `SELECT count(*) FILTER (WHERE pg_terminate_backend(pid, ${Math.max(1, t)})), count(*) FROM pg_stat_activity ` +
          `WHERE backend_type = 'client backend' AND pid <> pg_backend_pid()`,
        2 * t,
      );
      this.log.info({ node: node.id, terminated: terminated?.[0], sessions: terminated?.[1] }, 'failover: fenced (read-only, client sessions terminated)');
    });
  }

  async unfence(node: FailoverNode): Promise<void> {
    const t = this.opts.stepTimeoutMs;
    await this.withConnection(node, async (conn) => {
      await query(conn, 'ALTER SYSTEM RESET default_transaction_read_only', t);
      await query(conn, 'SELECT pg_reload_conf()', t);
    });
  }

  // ----- switchover catch-up ------------------------------------------------------------------------

  /**
   * Waits until `target` has replayed everything `primary` wrote. Writes are paused and the primary
   * fenced: pg_switch_wal() flushes what its last sessions committed (asynchronous commits included)
   * and closes the segment, then the target's replay LSN must reach the primary's current LSN.
   */
  async catchUp(target: FailoverNode, primary: FailoverNode, deadlineMs: number): Promise<void> {
    const left = (): number => deadlineMs - this.now();
    const p = await this.connect(primary, left());
    try {
      const tc = await this.connect(target, left());
      try {
        await query(p, 'SELECT pg_switch_wal()', Math.max(1, left()));
        for (;;) {
          const [cur] = await query(p, 'SELECT pg_current_wal_lsn()', Math.max(1, left()));
          const lsn = checkLsn(cur?.[0]);
          const [r] = await query(tc, `SELECT coalesce(pg_last_wal_replay_lsn() >= '${lsn}'::pg_lsn, false), pg_last_wal_replay_lsn()`, Math.max(1, left()));
          if (r?.[0] === 't') {
            this.log.info({ target: target.id, lsn }, 'failover: switchover target caught up');
            return;
          }
          if (left() <= CATCH_UP_POLL_MS) throw new NodeTimeoutError(`${target.name} replayed ${r?.[1] ?? 'nothing'}, ${primary.name} is at ${lsn}`);
          await sleep(CATCH_UP_POLL_MS);
        }
      } finally {
        tc.destroy();
      }
    } finally {
      p.destroy();
    }
  }

  // ----- promote ---------------------------------------------------------------------------------

  /**
   * pg_promote(wait => true) bounded by the machine's deadline. promote-failed only when the node
   * certainly did not start promoting (not reached, or an error answer); promote-timeout when the
   * outcome is unknown (it may still finish on its own).
   */
  async promote(term: number, node: FailoverNode, deadlineMs: number): Promise<FailoverEvent> {
    const remaining = deadlineMs - this.now();
    if (remaining <= 0) return { kind: 'promote-timeout', term, node: node.id };
    let conn: ServerConnection;
    try {
      conn = await this.connect(node, Math.min(remaining, this.opts.stepTimeoutMs));
    } catch (err) {
      return { kind: 'promote-failed', term, node: node.id, error: errorText(err) };
    }
    try {
      // Whole seconds, rounded down: pg_promote answers `f` before the machine's deadline passes.
      const waitSeconds = Math.max(1, Math.floor((deadlineMs - this.now()) / 1000));
      const [row] = await query(conn, `SELECT pg_promote(wait => true, wait_seconds => ${waitSeconds})`, waitSeconds * 1000 + this.opts.stepTimeoutMs);
      if (row?.[0] === 't') return { kind: 'promote-succeeded', term, node: node.id };
      return { kind: 'promote-timeout', term, node: node.id };
    } catch (err) {
      if (err instanceof NodeSqlError) {
        // 55000 "recovery is not in progress": it is a primary already.
        if (err.sqlstate === '55000' && (await this.inRecovery(node).catch(() => true)) === false) {
          return { kind: 'promote-succeeded', term, node: node.id };
        }
        return { kind: 'promote-failed', term, node: node.id, error: err.message };
      }
      return { kind: 'promote-timeout', term, node: node.id };
    } finally {
      conn.destroy();
    }
  }

  async inRecovery(node: FailoverNode): Promise<boolean> {
    return this.withConnection(node, async (conn) => {
      const [row] = await query(conn, 'SELECT pg_is_in_recovery()', this.opts.stepTimeoutMs);
      return row?.[0] === 't';
    });
  }

  // ----- repoint ---------------------------------------------------------------------------------

  /**
   * Points a replica at a new primary: its primary_conninfo with host and port replaced (everything
   * else kept), its replication slot created on the new primary if it uses one, then a reload.
   * PostgreSQL 13+ restarts the WAL receiver on a changed primary_conninfo, and the default
   * recovery_target_timeline = 'latest' follows the new primary's timeline.
   */
  async repoint(replica: FailoverNode, primary: FailoverNode): Promise<void> {
    const t = this.opts.stepTimeoutMs;
    await this.withConnection(replica, async (conn) => {
      const [row] = await query(
        conn,
        `SELECT pg_is_in_recovery(), current_setting('primary_conninfo'), current_setting('primary_slot_name')`,
        t,
      );
      const [inRecovery, current, slot] = row ?? [];
      if (inRecovery !== 't') throw new Error(`${replica.name} is not a replica (not in recovery): it needs a rejoin`);
      if (slot !== undefined && slot !== null && slot !== '') await this.ensureSlot(primary, slot);
      const info = this.conninfoFor(replica, primary, current ?? '');
      const text = formatConninfo(info);
      await query(conn, `ALTER SYSTEM SET primary_conninfo = ${sqlLiteral(text)}`, t);
      await query(conn, 'SELECT pg_reload_conf()', t);
      this.log.info({ node: replica.id, primary: primary.id, conninfo: redactConninfo(text), slot: slot ?? null }, 'failover: replica re-pointed');
    });
  }

  /** The replica's own conninfo aimed at the new primary; built from `replication` when it has none. */
  conninfoFor(replica: FailoverNode, primary: FailoverNode, current: string): Conninfo {
    if (current.trim() !== '') return withServer(parseConninfo(current), primary.address.host, primary.address.port);
    const login = this.opts.replication ?? { user: this.opts.login.user, password: this.opts.login.password };
    const info: Conninfo = new Map([['user', login.user]]);
    if (login.password !== null) info.set('password', login.password);
    info.set('application_name', replica.name);
    return withServer(info, primary.address.host, primary.address.port);
  }

  /** The physical slot a replica streams through, on its new primary (slots are not replicated). */
  async ensureSlot(primary: FailoverNode, slot: string): Promise<void> {
    if (!/^[a-z0-9_]{1,63}$/.test(slot)) throw new Error(`unexpected replication slot name ${JSON.stringify(slot)}`);
    const t = this.opts.stepTimeoutMs;
    await this.withConnection(primary, async (conn) => {
      await query(
        conn,
        `SELECT pg_create_physical_replication_slot('${slot}', true) WHERE NOT EXISTS (SELECT 1 FROM pg_replication_slots WHERE slot_name = '${slot}')`,
        t,
      );
    });
  }

  // ----- rejoin ----------------------------------------------------------------------------------

  private async rejoinNode(node: FailoverNode, primary: FailoverNode): Promise<void> {
    const control = this.opts.rejoin?.(node) ?? null;
    if (control === null) throw new Error(`${node.name}: no local data directory to rewind (rejoin needs one)`);
    // pg_rewind reads the source's timeline from its control file, which a freshly promoted primary
    // updates only at its first checkpoint (after a promotion it comes unhurried).
    await this.withConnection(primary, (conn) => query(conn, 'CHECKPOINT', this.opts.checkpointTimeoutMs));
    const source = withServer(new Map([['dbname', this.opts.login.database], ['user', this.opts.login.user]]), primary.address.host, primary.address.port);
    const standby = this.conninfoFor(node, primary, '');
    await control.rejoin({
      sourceConninfo: formatConninfo(source),
      sourcePassword: this.opts.login.password,
      primaryConninfo: formatConninfo(standby),
    });
    // Back as a standby: the fence (read-only) is not needed any more, and would follow it if it
    // were ever promoted. A repoint creates its replication slot on the primary if it uses one.
    await this.unfence(node);
    await this.repoint(node, primary);
  }
}

// ----- one statement on a private connection --------------------------------------------------------

/**
 * Runs a simple query and returns its rows as text; an ErrorResponse rejects with its SQLSTATE, and
 * no answer within timeoutMs closes the connection and rejects with NodeTimeoutError.
 */
export function query(conn: ServerConnection, sql: string, timeoutMs: number): Promise<(string | null)[][]> {
  return new Promise((resolve, reject) => {
    const rows: (string | null)[][] = [];
    let error: NodeSqlError | null = null;
    const timer = setTimeout(() => {
      conn.listener = null;
      conn.destroy();
      reject(new NodeTimeoutError(`${conn.label}: no answer within ${timeoutMs} ms`));
    }, timeoutMs);
    conn.listener = {
      onBackendFrame(type, buf, start, end) {
        if (type === 0x44) rows.push(decodeDataRow(buf, start, end).map((v) => (v === null ? null : v.toString('utf8'))));
        else if (type === 0x45) {
          const f = decodeErrorFields(buf, start, end);
          error ??= new NodeSqlError(f.get('C') ?? 'XX000', `${conn.label}: ${f.get('M') ?? 'error'}`);
        } else if (type === 0x5a) {
          clearTimeout(timer);
          conn.listener = null;
          if (error !== null) reject(error);
          else resolve(rows);
        }
      },
      onBackendChunkEnd: () => false,
      onBackendClosed: (_c, err) => {
        clearTimeout(timer);
        reject(err);
      },
      onBackendDrain() {},
    };
    conn.write(buildQuery(sql));
  });
}

/** An action for logs (no passwords in actions; node ids only). */
function describe(a: FailoverAction): string {
  switch (a.kind) {
    case 'pause-writes':
    case 'resume-writes':
      return `${a.kind} term ${a.term}`;
    case 'route':
      return `route writes to ${a.primary} (term ${a.term})`;
    case 'fence':
    case 'unfence':
      return `${a.kind} ${a.node} (term ${a.term})`;
    case 'catch-up':
      return `catch-up ${a.node} with ${a.primary} (term ${a.term})`;
    case 'promote':
      return `promote ${a.node} (term ${a.term})`;
    case 'repoint':
    case 'rejoin':
      return `${a.kind} ${a.node} to ${a.primary} (term ${a.term})`;
    default:
      return assertNever(a);
  }
}

function describeEvent(e: FailoverEvent): string {
  return 'node' in e ? `${e.kind} ${e.node}${'error' in e && e.error !== undefined ? `: ${e.error}` : ''}` : e.kind;
}
