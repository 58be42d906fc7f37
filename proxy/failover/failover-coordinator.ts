// Connects the failover machines to the running proxy: one FailoverRunner per physical shard (shards
// of several databases on the same primary share one), fed by the health checker's results; its
// route / pause / resume actions move the shard's primary pools (PoolRegistry) and the checker's idea
// of the primary; its decisions are published to the topology store (a local file, or etcd shared by
// several proxies) before they take effect elsewhere.
//
// Several proxies: only the store's leader feeds its machines and runs actions. A follower's machines
// rest at the last published record; a newer record (watch) resets them and moves its pools. When a
// proxy becomes leader it resets its machines from the store, then acts on what its checks see.
//
// A record without a primary is a failover another proxy decided and had not finished (published
// before its promotion, and replaced once the new primary is routed). A proxy that takes over such a
// record first finds out what that proxy left behind: an unfenced node out of recovery is the one it
// promoted in that term and becomes the primary; when every unfenced node answers as a replica, the
// election goes on in the next term; nodes that do not answer within failover.promoteTimeoutMs may
// have been promoted and are fenced.
//
// While a shard has no primary to write to (failover decided, promotion under way, switchover
// catching up) its primary pools are on hold: sessions wait up to failover.waitMs for the new primary
// instead of failing.

import type { Config, DatabaseConfig, UserConfig } from '../../topology/config/config-types.js';
import { initialStateForShard } from '../../topology/failover/initial-state.js';
import { nodeIdOf, type FailoverAction, type FailoverEvent, type FailoverPhase, type FailoverRejection, type FailoverState, type FencedNode, type NodeId, type NodeSample } from '../../topology/failover/failover-types.js';
import { sameTopology, type ShardTopology, type TopologyStore } from '../../topology/coordination/topology-store.js';
import type { HealthChecker, HealthCheckResult } from '../health/health-checker.js';
import type { PoolRegistry } from '../backend/pool-registry.js';
import type { Logger } from '../logger.js';
import { ProxyError } from '../errors.js';
import { reachControlPoint } from '../executor/control-points.js';
import { FailoverActions, type FailoverNode } from './failover-actions.js';
import { FailoverRunner, type ActionRunner } from './failover-runner.js';
import { localRejoin } from './rejoin.js';
import { localServerFor, startFenced } from './local-server.js';

/**
 * Phases in which new statements for the shard's primary wait: it failed checks (suspect: it may be
 * gone, and a statement would only fail on it), or there is no primary that may take writes.
 */
const NO_PRIMARY: ReadonlySet<FailoverPhase> = new Set(['suspect', 'electing', 'catching-up', 'promoting']);
/** While writes are paused for a switchover, how often in-flight writes are looked at. */
const DRAIN_POLL_MS = 10;
/** Server frames of the failover actions' own queries are small. */
const ACTION_FRAME_BYTES_MAX = 1 << 20;

interface Member {
  readonly db: DatabaseConfig;
  readonly shardIndex: number;
}

interface Group {
  /** `database/shard` of the first database using these nodes: the store's key. */
  readonly key: string;
  readonly members: readonly Member[];
  readonly nodes: readonly FailoverNode[];
  readonly runner: FailoverRunner;
  /** The term and node the pools were last pointed at. */
  routedTerm: number;
  routedPrimary: NodeId | null;
  holding: boolean;
  lastPublished: ShardTopology | null;
  publishing: Promise<void>;
  /** The term of a record without a primary adopted from another proxy (its failover may be unfinished). */
  orphanTerm: number | null;
  /** The node that proxy was promoting in that term, if the record names one. */
  orphanCandidate: NodeId | null;
  /** Leader only: resolving an adopted orphan term (see the header); since: when it began. */
  takeover: { readonly term: number; readonly since: number; reported: boolean } | null;
  /** Since start, for SHOW FAILOVER: completed failovers and switchovers, promotions that failed or timed out. */
  readonly counts: { failovers: number; switchovers: number; promoteFailures: number };
  lastChangeSeen: FailoverState['lastChange'];
  /** Nodes being started for their rejoin (see startForRejoin). */
  readonly starting: Set<NodeId>;
}

export interface FailoverStatus {
  readonly shard: string;
  readonly term: number;
  readonly phase: FailoverPhase;
  readonly primary: NodeId | null;
  readonly reason: string;
  readonly fenced: readonly NodeId[];
  readonly leader: boolean;
  readonly lastChange: string | null;
  readonly failovers: number;
  readonly switchovers: number;
  readonly promoteFailures: number;
}

export interface FailoverCoordinatorOptions {
  readonly config: Config;
  readonly log: Logger;
  readonly pools: PoolRegistry;
  readonly health: HealthChecker;
  readonly store: TopologyStore;
}

function actionsUser(config: Config): UserConfig {
  const name = config.failover.user ?? config.health.user;
  return (name === null ? undefined : config.users.find((u) => u.name === name)) ?? config.users[0]!;
}

function recordOf(s: FailoverState): ShardTopology {
  const record = { term: s.term, primary: s.primary, fenced: s.fenced.map((f) => f.node) };
  const candidate = s.primary === null ? (s.attempt?.candidate ?? null) : null;
  return candidate === null ? record : { ...record, candidate };
}

export class FailoverCoordinator {
  private readonly groups: Group[] = [];
  /** `database/shard` of every member → its group (health results arrive per database). */
  private readonly byShard = new Map<string, Group>();
  private readonly log: Logger;
  private readonly unsubscribe: (() => void)[] = [];
  private leading = false;
  private stopped = false;

  constructor(private readonly opts: FailoverCoordinatorOptions) {
    this.log = opts.log.child({ component: 'failover' });
  }

  /** Builds the machines from the config and the store, routes persisted primaries, starts following. */
  async start(): Promise<void> {
    const { config, store } = this.opts;
    const records = await store.load();
    const byPrimary = new Map<string, Member[]>();
    for (const db of config.databases) {
      db.shards.forEach((shard, shardIndex) => {
        const id = nodeIdOf(shard.primary);
        const list = byPrimary.get(id) ?? [];
        list.push({ db, shardIndex });
        byPrimary.set(id, list);
      });
    }
    for (const members of byPrimary.values()) {
      const first = members[0]!;
      const shard = first.db.shards[first.shardIndex]!;
      const key = `${first.db.name}/${shard.name}`;
      const record = records.get(key);
      const initial = initialStateForShard(shard, config, Date.now(), record === undefined || record.primary === null ? undefined : { term: record.term, primary: record.primary, fenced: record.fenced });
      const nodes: FailoverNode[] = [shard.primary, ...shard.replicas].map((node, i) => ({
        id: nodeIdOf(node),
        name: i === 0 ? `${shard.name}-primary` : `${shard.name}-replica${i}`,
        address: { host: node.host, port: node.port },
        dataDir: node.dataDir,
      }));
      // eslint-disable-next-line prefer-const
      let group: Group;
      const actions = this.actionsFor(key, first.db, nodes, () => group);
      const runner = new FailoverRunner({
        initial,
        actions,
        log: this.log,
        onTransition: (event, result) => {
          this.count(group, event, result.state);
          this.afterTransition(group, result.state);
        },
      });
      group = { key, members, nodes, runner, routedTerm: 0, routedPrimary: nodeIdOf(shard.primary), holding: false, lastPublished: record ?? null, publishing: Promise.resolve(), orphanTerm: null, orphanCandidate: null, takeover: null, counts: { failovers: 0, switchovers: 0, promoteFailures: 0 }, lastChangeSeen: initial.lastChange, starting: new Set() };
      this.groups.push(group);
      for (const m of members) this.byShard.set(`${m.db.name}/${m.db.shards[m.shardIndex]!.name}`, group);
      if (record !== undefined) this.follow(group, record);
    }
    const onCheck = (r: HealthCheckResult): void => this.onCheck(r);
    this.opts.health.on('check', onCheck);
    this.unsubscribe.push(store.watch((shard, record) => this.onRecord(shard, record)));
    this.unsubscribe.push(store.onLeadership((leader) => void this.onLeadership(leader)));
    if (store.isLeader()) await this.onLeadership(true);
  }

  stop(): void {
    this.stopped = true;
    for (const u of this.unsubscribe.splice(0)) u();
    for (const g of this.groups) g.runner.stop();
  }

  /** Admin FAILOVER shard [FORCE]. */
  failover(shard: string, force: boolean): FailoverRejection | null {
    const g = this.adminGroup(shard);
    return g.runner.dispatch({ kind: 'failover', force }).rejection;
  }

  /** Admin SWITCHOVER shard TO node. */
  switchover(shard: string, target: string): FailoverRejection | null {
    const g = this.adminGroup(shard);
    return g.runner.dispatch({ kind: 'switchover', target }).rejection;
  }

  status(): FailoverStatus[] {
    return this.groups.map((g) => {
      const s = g.runner.state;
      const last = s.lastChange;
      return {
        shard: g.key,
        term: s.term,
        phase: s.phase,
        primary: s.primary,
        reason: s.reason,
        fenced: s.fenced.map((f) => f.node),
        leader: this.leading,
        lastChange: last === null ? null : `${last.kind} term ${last.term}: ${last.from} → ${last.to} in ${last.tookMs} ms`,
        failovers: g.counts.failovers,
        switchovers: g.counts.switchovers,
        promoteFailures: g.counts.promoteFailures,
      };
    });
  }

  /** Resolves once every machine is idle (tests). */
  async idle(): Promise<void> {
    for (const g of this.groups) await g.runner.idle();
  }

  // ---------------------------------------------------------------------------------- internals

  private adminGroup(shard: string): Group {
    if (!this.leading) {
      throw ProxyError.notInPrerequisiteState('this proxy is not the coordination leader', 'Run the command on the leader proxy (SHOW FAILOVER shows which one leads).');
    }
    const exact = this.byShard.get(shard);
    if (exact !== undefined) return exact;
    const matches = new Set([...this.byShard].filter(([k]) => k.slice(k.indexOf('/') + 1) === shard).map(([, g]) => g));
    if (matches.size === 1) return [...matches][0]!;
    const known = [...this.byShard.keys()].join(', ');
    throw ProxyError.undefinedShard(matches.size === 0 ? `shard "${shard}" does not exist (known: ${known})` : `shard "${shard}" is ambiguous: name it as database/shard (${known})`);
  }

  private actionsFor(key: string, db: DatabaseConfig, nodes: readonly FailoverNode[], group: () => Group): ActionRunner {
    const { config } = this.opts;
    const user = actionsUser(config);
    const io = new FailoverActions({
      shard: key,
      nodes,
      login: { user: user.serverUser ?? user.name, password: user.serverPassword ?? user.password, database: db.backendDatabase },
      stepTimeoutMs: config.health.timeoutMs,
      checkpointTimeoutMs: config.failover.promoteTimeoutMs,
      frameBytesMax: ACTION_FRAME_BYTES_MAX,
      log: this.log,
      // failover.rejoin: a fenced old primary whose data directory is on this machine is rewound.
      ...(config.failover.rejoin ? { rejoin: (node: FailoverNode) => (node.dataDir ? localRejoin(localServerFor(node.dataDir)) : null) } : {}),
      hooks: {
        route: (primary, term) => this.route(group(), primary, term),
        pauseWrites: () => this.pauseWrites(group()),
        resumeWrites: () => this.resumeWrites(group()),
      },
    });
    return {
      run: async (action: FailoverAction): Promise<FailoverEvent | null> => {
        if (!this.opts.store.isLeader()) {
          this.log.warn({ shard: key, action: action.kind, term: action.term }, 'failover: not the leader any more, action dropped');
          return null;
        }
        if (action.kind === 'promote') {
          if (!(await this.published(group(), action.term))) {
            // Another proxy decided a newer term, or the lease is gone: promoting now could make a second primary.
            return { kind: 'promote-failed', term: action.term, node: action.node, error: 'the decision could not be published to the topology store' };
          }
          reachControlPoint('failover-after-publish');
        }
        const event = await io.run(action);
        if (action.kind === 'fence') reachControlPoint('failover-after-fence');
        else if (action.kind === 'promote') reachControlPoint('failover-after-promote');
        return event;
      },
    };
  }

  private onCheck(r: HealthCheckResult): void {
    if (!this.leading || this.stopped) return;
    const g = this.byShard.get(`${r.node.database}/${r.node.shard}`);
    // Shards shared by several databases are checked once per database: the first one feeds the machine.
    if (g === undefined || g.members[0]!.db.name !== r.node.database) return;
    const node = r.node.address;
    if (r.outcome.kind === 'failure') {
      g.runner.dispatch({ kind: 'check-failed', node, error: r.outcome.error });
      this.startForRejoin(g, node);
    } else {
      const s = r.outcome.sample;
      const sample: NodeSample = {
        role: s.role,
        currentLsn: s.currentLsn,
        receiveLsn: s.receiveLsn,
        replayLsn: s.replayLsn,
        receiving: s.receiving,
        upstream: s.upstream,
      };
      g.runner.dispatch({ kind: 'sample', node, sample });
    }
    if (g.takeover !== null) this.resolveTakeover(g);
  }

  private count(g: Group, event: FailoverEvent, state: FailoverState): void {
    if (event.kind === 'promote-failed' || event.kind === 'promote-timeout') g.counts.promoteFailures++;
    const change = state.lastChange;
    if (change === g.lastChangeSeen) return;
    g.lastChangeSeen = change;
    if (change === null) return;
    if (change.kind === 'failover') g.counts.failovers++;
    else g.counts.switchovers++;
  }

  /**
   * failover.rejoin: a fenced old primary that is down and whose data directory is here is started
   * (read-only from its first moment) so that the machine can fence it for good and rewind it; left
   * down, it would wait for an operator to start it. Once per node while it stays down.
   */
  private startForRejoin(g: Group, id: NodeId): void {
    const s = g.runner.state;
    if (!this.opts.config.failover.rejoin || g.starting.has(id)) return;
    if (!s.rejoins.some((r) => r.node === id && r.status === 'waiting')) return;
    const dataDir = g.nodes.find((n) => n.id === id)?.dataDir ?? null;
    if (dataDir === null) return;
    g.starting.add(id);
    this.log.warn({ shard: g.key, node: id }, 'failover: starting the fenced old primary read-only, to rewind it');
    startFenced(dataDir).then(
      () => g.starting.delete(id),
      (err: unknown) => {
        // Tried once; an operator starts it (it is then fenced and rewound as it answers).
        this.log.error({ shard: g.key, node: id, err: err instanceof Error ? err.message.slice(0, 500) : String(err) }, 'failover: could not start the old primary for its rejoin');
      },
    );
  }

  private afterTransition(g: Group, state: FailoverState): void {
    // Holding only makes sense where a replica can take over: a shard without one fails as its primary does.
    const hold = this.opts.config.failover.enabled && g.nodes.length > 1 && (state.writesPaused || state.primary === null || NO_PRIMARY.has(state.phase));
    if (!hold && state.primary !== null && state.primary !== g.routedPrimary && state.term >= g.routedTerm) {
      // The machine has a new primary: route now (the route action that follows finds it done), so that
      // waiters released from the hold go to the new primary rather than the old one.
      this.route(g, state.primary, state.term);
    }
    this.setHold(g, hold);
    if (this.leading) this.publish(g, recordOf(state));
  }

  private setHold(g: Group, hold: boolean): void {
    if (hold === g.holding) return;
    g.holding = hold;
    const waitMs = this.opts.config.failover.waitMs;
    for (const m of g.members) {
      if (hold) {
        const shard = m.db.shards[m.shardIndex]!;
        this.opts.pools.holdPrimary(m.db, m.shardIndex, {
          waitMs,
          timeoutError: () => ProxyError.backendUnavailable(`${m.db.name}/${shard.name}`, `no primary: the failover did not finish within failover.waitMs (${waitMs} ms)`),
        });
      } else {
        this.opts.pools.resumePrimary(m.db, m.shardIndex);
      }
    }
    this.log.info({ shard: g.key, hold }, hold ? 'failover: writes of the shard wait for its new primary' : 'failover: writes of the shard flow again');
  }

  private route(g: Group, primary: NodeId, term: number): void {
    if (term < g.routedTerm) return;
    const node = g.nodes.find((n) => n.id === primary);
    if (node === undefined) return;
    const moved = g.routedPrimary !== primary;
    g.routedTerm = term;
    g.routedPrimary = primary;
    for (const m of g.members) {
      this.opts.pools.routePrimary(m.db, m.shardIndex, node.address);
      this.opts.health.setPrimary(`${m.db.name}/${m.db.shards[m.shardIndex]!.name}`, primary);
    }
    g.holding = false;
    if (moved) this.log.warn({ shard: g.key, primary, term }, 'failover: writes routed to a new primary');
  }

  private async pauseWrites(g: Group): Promise<void> {
    this.setHold(g, true);
    // Let writes already running finish (bounded): the old primary is fenced next. The bound is a
    // slice of the promotion's own, which this wait must not use up.
    const deadline = Date.now() + Math.min(this.opts.config.failover.waitMs / 2, this.opts.config.failover.promoteTimeoutMs / 4);
    const busy = (): boolean => g.members.some((m) => this.opts.pools.primaryBusy(m.db, m.shardIndex));
    while (busy() && Date.now() < deadline) await new Promise((r) => setTimeout(r, DRAIN_POLL_MS));
  }

  private resumeWrites(g: Group): void {
    const s = g.runner.state;
    if (s.primary !== null && s.primary !== g.routedPrimary) this.route(g, s.primary, s.term);
    this.setHold(g, false);
  }

  /** Queues a publish of the group's record when it changed (leader only; in order). */
  private publish(g: Group, record: ShardTopology): void {
    if (g.lastPublished !== null && sameTopology(g.lastPublished, record)) return;
    if (g.lastPublished !== null && record.term < g.lastPublished.term) return;
    g.lastPublished = record;
    g.publishing = g.publishing.then(async () => {
      try {
        const outcome = await this.opts.store.publish(g.key, record);
        switch (outcome.kind) {
          case 'published':
            return;
          case 'stale':
            this.log.warn({ shard: g.key, term: record.term, current: outcome.current.term }, 'failover: the store holds a newer decision; following it');
            this.follow(g, outcome.current);
            return;
          case 'not-leader':
            this.log.warn({ shard: g.key, term: record.term }, 'failover: publish refused, this proxy is not the leader');
            return;
        }
      } catch (err) {
        this.log.error({ shard: g.key, err: err instanceof Error ? err.message : String(err) }, 'failover: publishing the topology failed');
      }
    });
  }

  /** Whether the record of `term` (or a later one of this proxy) is durably published. */
  private async published(g: Group, term: number): Promise<boolean> {
    this.publish(g, recordOf(g.runner.state));
    await g.publishing;
    const current = (await this.opts.store.load()).get(g.key);
    return this.opts.store.isLeader() && current !== undefined && current.term >= term && g.runner.state.term === current.term;
  }

  private onRecord(shard: string, record: ShardTopology): void {
    const g = this.groups.find((x) => x.key === shard);
    if (g === undefined) return;
    if (this.leading && record.term <= g.runner.state.term) return;
    this.follow(g, record);
  }

  /** Adopts a published decision: the machine rests at it and the pools point where it says. */
  private follow(g: Group, record: ShardTopology): void {
    if (record.term < g.routedTerm) return;
    const m = g.members[0]!;
    const shard = m.db.shards[m.shardIndex]!;
    const s = g.runner.state;
    if (record.primary !== null && (record.term > s.term || (record.term === s.term && s.primary === null))) {
      g.runner.reset(initialStateForShard(shard, this.opts.config, Date.now(), { term: record.term, primary: record.primary, fenced: record.fenced }));
      g.orphanTerm = null;
      g.takeover = null;
    } else if (record.primary === null && record.term > s.term) {
      // Without this the machine would keep an older term (and reuse it), miss the nodes the other
      // proxy fenced, and route back to the replaced primary.
      g.runner.reset(this.orphanState(g, record, Date.now()));
      g.orphanTerm = record.term;
      g.orphanCandidate = record.candidate ?? null;
    }
    if (record.primary === null) {
      this.setHold(g, true);
      g.routedTerm = record.term;
    } else {
      this.route(g, record.primary, record.term);
      this.setHold(g, false);
    }
    g.lastPublished = record;
  }

  /**
   * The machine's state for a record without a primary made by another proxy: that term's attempt,
   * with its fenced nodes, writes held, and no candidate, so that it decides nothing on its own
   * (phase promoting with no candidate ignores samples and admin commands) until resolveTakeover().
   */
  private orphanState(g: Group, record: ShardTopology, now: number): FailoverState {
    const m = g.members[0]!;
    const shard = m.db.shards[m.shardIndex]!;
    const s = g.runner.state;
    const prior = s.primary ?? s.attempt?.from ?? null;
    // The machine fences the primary it replaces last (after any earlier one).
    const from = prior !== null && record.fenced.includes(prior) ? prior : (record.fenced[record.fenced.length - 1] ?? prior ?? nodeIdOf(shard.primary));
    const base = initialStateForShard(shard, this.opts.config, now, { term: record.term, primary: from, fenced: record.fenced });
    return {
      ...base,
      primary: null,
      phase: 'promoting',
      reason: `term ${record.term}: another proxy is replacing ${from}; waiting for the new primary it publishes`,
      writesPaused: true,
      attempt: { kind: 'failover', from, candidate: null, tried: [], retryAtMs: null, force: false, manual: false, firstTerm: record.term, startedAtMs: now, deadlineMs: null },
    };
  }

  /** This proxy now leads a shard whose last decision another proxy left unfinished. */
  private startTakeover(g: Group): void {
    const now = Date.now();
    const s = g.runner.state;
    // Only what the checks see from now on counts: the other proxy may have promoted a node since.
    g.runner.reset({
      ...s,
      nodes: s.nodes.map((n) => ({ ...n, failures: 0, last: null, lastAtMs: null })),
      reason: `term ${s.term}: taken over from another proxy; looking for the node it promoted`,
      attempt: s.attempt === null ? null : { ...s.attempt, startedAtMs: now },
    });
    g.takeover = { term: s.term, since: now, reported: false };
    this.log.warn({ shard: g.key, term: s.term }, 'failover: taking over a failover another proxy left unfinished');
  }

  /**
   * Finishes a takeover once the checks tell enough: the unfenced node out of recovery is adopted as
   * the term's primary; when all unfenced nodes are replicas (or the silent ones are fenced after
   * promoteTimeoutMs), the machine elects a candidate in the next term.
   */
  private resolveTakeover(g: Group): void {
    const tk = g.takeover!;
    const s = g.runner.state;
    if (s.term !== tk.term || s.phase !== 'promoting' || s.attempt === null || s.attempt.candidate !== null) {
      g.takeover = null;
      return;
    }
    const now = Date.now();
    const fenced = new Set(s.fenced.map((f) => f.node));
    const open = s.nodes.filter((n) => !fenced.has(n.id));
    const primaries = open.filter((n) => n.last?.role === 'primary');
    if (primaries.length > 1) {
      if (!tk.reported) this.log.error({ shard: g.key, term: s.term, primaries: primaries.map((n) => n.id) }, 'failover: several unfenced nodes are out of recovery; writes stay on hold until all but one are stopped or fenced');
      tk.reported = true;
      return;
    }
    let next: FailoverState;
    if (primaries.length === 1) {
      const primary = primaries[0]!.id;
      next = {
        ...s,
        primary,
        phase: 'done',
        reason: `term ${s.term}: ${primary}, promoted by another proxy, taken over as the primary`,
        blocked: null,
        attempt: null,
        writesPaused: false,
        // The other replicas still follow the replaced primary: re-pointed as they answer.
        repoints: open.filter((n) => n.id !== primary).map((n) => ({ node: n.id, status: 'waiting' as const })),
        lastChange: { kind: 'failover', term: s.term, from: s.attempt.from, to: primary, atMs: now, tookMs: now - tk.since },
      };
      this.log.warn({ shard: g.key, term: s.term, primary }, 'failover: took over the node another proxy promoted');
    } else {
      const silent = open.filter((n) => n.last === null);
      // The node the other proxy was promoting may still finish: wait for it as for a promotion.
      const candidate = open.find((n) => n.id === g.orphanCandidate && n.last !== null) ?? null;
      if ((silent.length > 0 || candidate !== null) && now < tk.since + this.opts.config.failover.promoteTimeoutMs) return;
      // A node that never answered may yet be promoted: fenced for good, like a promotion that timed
      // out. The candidate, answering as a replica a whole promotion bound after the other proxy died,
      // was never told to promote: it stays a candidate (fencing it could lose the writes only it has).
      const more: FencedNode[] = silent.map((n) => ({ node: n.id, term: s.term, applied: false, inFlight: false }));
      next = { ...s, phase: 'electing', reason: `term ${s.term}: the other proxy promoted no node${more.length > 0 ? ` (fenced, silent: ${more.map((f) => f.node).join(', ')})` : ''}; electing a new primary`, fenced: [...s.fenced, ...more] };
      this.log.warn({ shard: g.key, term: s.term, fenced: more.map((f) => f.node) }, 'failover: the failover taken over promoted no node; electing anew');
    }
    g.takeover = null;
    g.orphanTerm = null;
    g.orphanCandidate = null;
    g.runner.reset(next);
    this.afterTransition(g, next);
  }

  private async onLeadership(leader: boolean): Promise<void> {
    if (this.stopped || leader === this.leading) return;
    if (!leader) {
      this.leading = false;
      this.log.warn('failover: this proxy is no longer the coordination leader');
      return;
    }
    // Act only from the latest published decisions.
    const records = await this.opts.store.load();
    for (const g of this.groups) {
      const record = records.get(g.key);
      if (record !== undefined && record.term > g.runner.state.term) this.follow(g, record);
      if (g.orphanTerm !== null && g.orphanTerm === g.runner.state.term) this.startTakeover(g);
    }
    this.leading = true;
    this.log.info('failover: this proxy leads failovers');
  }
}
