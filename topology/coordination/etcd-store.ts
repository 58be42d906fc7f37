// The topology store shared by several proxies through etcd (v3 API, etcd 3.4+).
//
// Keys, under `prefix`:
//   <prefix>/leader            this leader's proxy id, attached to its lease
//   <prefix>/topology/<shard>  a ShardTopology as JSON
//
// Election: every store holds a lease of leaseTtlMs, kept alive here, and campaigns with one
// transaction `if createRevision(leader) == 0 then put leader = id (with the lease)`. A store that
// lost watches the leader key and campaigns again when it is deleted (the leader's lease expired or
// it resigned). The fencing token is the leader key's create revision the store won with: a publish
// is one transaction that commits only while the leader key still holds this id at that create
// revision and the shard's key is still at the revision this store last read. A proxy that was
// paused or cut off can therefore never overwrite a decision made after its lease expired.
//
// The leader also stops acting before its lease can expire on the server: isLeader() holds only until
// leaseTtlMs - margin after the sending of the last keep-alive etcd acknowledged (a monotonic clock,
// and the send time, since etcd renews the lease when it receives the keep-alive, not when we read the
// answer). A timer reports the step-down when that deadline passes.

import { performance } from 'node:perf_hooks';
import {
  Etcd3,
  EtcdLeaseInvalidError,
  type IDuplexStream,
  type IKeyValue,
  type ILeaseKeepAliveRequest,
  type ILeaseKeepAliveResponse,
  type KVClient,
  type WatchBuilder,
  type Watcher,
} from 'etcd3';
import type { Logger } from '../../proxy/logger.js';
import { parseShardTopology, sameTopology, type PublishOutcome, type ShardTopology, type TopologyStore } from './topology-store.js';

export interface EtcdStoreOptions {
  /** etcd client URLs, e.g. http://127.0.0.1:2379. */
  readonly endpoints: readonly string[];
  /** Lease TTL; etcd counts whole seconds, so it is rounded up there (the local deadline keeps leaseTtlMs). */
  readonly leaseTtlMs: number;
  readonly prefix: string;
  /** This proxy's identity: the leader key's value while it leads. */
  readonly proxyId: string;
  readonly log: Logger;
  /** Tries to reach etcd at open before giving up; default 5. */
  readonly connectAttempts?: number;
}

export interface EtcdKeys {
  readonly leader: string;
  /** Ends with '/'; a shard's key is this followed by the shard. */
  readonly topologyPrefix: string;
}

export function etcdKeys(prefix: string): EtcdKeys {
  const base = prefix.replace(/\/+$/, '');
  return { leader: `${base}/leader`, topologyPrefix: `${base}/topology/` };
}

/** What a publish is conditional on: the leader key as this proxy won it. */
export interface Fence {
  readonly proxyId: string;
  /** The leader key's create revision (decimal). */
  readonly token: string;
}

export interface StoredRecord {
  /** The key's mod revision (decimal). */
  readonly revision: string;
  readonly record: ShardTopology;
}

export type FencedWriteResult =
  /** Committed: `revision` is the shard key's mod revision now. */
  | { readonly kind: 'committed'; readonly revision: string }
  /** The leader key does not hold the fence any more. */
  | { readonly kind: 'not-leader' }
  /** The fence holds but the shard's key is not at the expected revision: what it holds now. */
  | { readonly kind: 'moved'; readonly stored: StoredRecord | null };

const MAX_PUBLISH_ATTEMPTS = 5;
const DEFAULT_CONNECT_ATTEMPTS = 5;
const CONNECT_BACKOFF_MS = [200, 400, 800, 1600, 2000] as const;
/** How long open() waits for a watch to be established. */
const WATCH_START_TIMEOUT_MS = 5_000;

const buf = (s: string): Buffer => Buffer.from(s, 'utf8');
const errMessage = (err: unknown): string => (err instanceof Error ? err.message : String(err));
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** scheme://host:port of an endpoint URL: what the client dials, and all that logs and errors show. */
function endpointHost(url: string): string {
  try {
    const u = new URL(url);
    return `${u.protocol}//${u.host}`;
  } catch {
    throw new Error(`etcd topology store: not an endpoint URL: ${JSON.stringify(url.replace(/\/\/[^@/]*@/, '//'))}`);
  }
}

/** Decodes a stored topology record; anything invalid is an error naming the key. */
export function decodeRecord(kv: IKeyValue): StoredRecord {
  const key = kv.key.toString('utf8');
  let value: unknown;
  try {
    value = JSON.parse(kv.value.toString('utf8'));
  } catch {
    throw new Error(`etcd key ${key}: not valid JSON`);
  }
  const record = parseShardTopology(value);
  if (record === null) throw new Error(`etcd key ${key}: invalid topology record (expected {term, primary, fenced})`);
  return { revision: kv.mod_revision, record };
}

/**
 * One transaction: if the leader key still holds `fence` and the shard's key is still at `expected`
 * (null: absent), put `value` (null: write nothing, only check). Otherwise reads both keys back in the
 * same transaction, so that the answer is consistent.
 */
export async function fencedWrite(
  kv: KVClient,
  keys: EtcdKeys,
  fence: Fence,
  shard: string,
  expected: string | null,
  value: ShardTopology | null,
): Promise<FencedWriteResult> {
  const leaderKey = buf(keys.leader);
  const shardKey = buf(`${keys.topologyPrefix}${shard}`);
  const res = await kv.txn({
    compare: [
      { key: leaderKey, target: 'Value', result: 'Equal', value: buf(fence.proxyId) },
      { key: leaderKey, target: 'Create', result: 'Equal', create_revision: fence.token },
      expected === null
        ? { key: shardKey, target: 'Create', result: 'Equal', create_revision: 0 }
        : { key: shardKey, target: 'Mod', result: 'Equal', mod_revision: expected },
    ],
    success: value === null ? [] : [{ request_put: { key: shardKey, value: buf(JSON.stringify({ term: value.term, primary: value.primary, fenced: value.fenced, ...(value.candidate != null ? { candidate: value.candidate } : {}) })) } }],
    failure: [{ request_range: { key: leaderKey } }, { request_range: { key: shardKey } }],
  });
  if (res.succeeded) return { kind: 'committed', revision: value === null ? (expected ?? '0') : res.header.revision };
  const leader = res.responses[0]?.response_range?.kvs[0];
  if (leader === undefined || leader.value.toString('utf8') !== fence.proxyId || leader.create_revision !== fence.token) return { kind: 'not-leader' };
  const stored = res.responses[1]?.response_range?.kvs[0];
  return { kind: 'moved', stored: stored === undefined ? null : decodeRecord(stored) };
}

export class EtcdTopologyStore implements TopologyStore {
  private readonly keys: EtcdKeys;
  private readonly ttlMs: number;
  /** The leader steps down this long before its lease could expire on the server. */
  readonly marginMs: number;
  private readonly keepAliveEveryMs: number;
  readonly proxyId: string;
  private readonly log: Logger;

  private leaseId: string | null = null;
  /** performance.now() at the sending of the last keep-alive (or grant) etcd acknowledged. */
  private aliveSince = 0;
  private token: string | null = null;
  private reportedLeader = false;
  private closed = false;
  private frozen = false;
  private keepAliveFailing = false;

  /** Last known record and mod revision per shard (from reads, watch and own writes). */
  private readonly known = new Map<string, { revision: bigint; record: ShardTopology }>();
  private readonly watchers = new Set<(shard: string, record: ShardTopology) => void>();
  private readonly leadershipListeners = new Set<(leader: boolean) => void>();
  private readonly etcdWatchers: Watcher[] = [];

  private keepAliveTimer: NodeJS.Timeout | null = null;
  private deadlineTimer: NodeJS.Timeout | null = null;
  private campaignTimer: NodeJS.Timeout | null = null;
  private campaigning: Promise<void> | null = null;
  private publishing: Promise<unknown> = Promise.resolve();
  private campaignAgain = false;

  private constructor(
    private readonly client: Etcd3,
    private readonly options: EtcdStoreOptions,
  ) {
    this.keys = etcdKeys(options.prefix);
    this.ttlMs = options.leaseTtlMs;
    this.marginMs = Math.max(500, Math.floor(options.leaseTtlMs / 5));
    // At least two keep-alives per leadership window, and the usual three per lease.
    this.keepAliveEveryMs = Math.max(50, Math.floor(Math.min(options.leaseTtlMs / 3, (options.leaseTtlMs - this.marginMs) / 2)));
    this.proxyId = options.proxyId;
    this.log = options.log.child({ component: 'coordination' });
  }

  /**
   * Connects (bounded retries, then an Error naming the endpoints), takes a lease, starts watching
   * and campaigns once: when it resolves, isLeader() tells whether this proxy won.
   */
  static async open(options: EtcdStoreOptions): Promise<EtcdTopologyStore> {
    if (options.endpoints.length === 0) throw new Error('etcd topology store: no endpoints');
    if (!Number.isInteger(options.leaseTtlMs) || options.leaseTtlMs < 1000) throw new Error('etcd topology store: leaseTtlMs must be an integer >= 1000');
    if (options.proxyId.length === 0) throw new Error('etcd topology store: empty proxy id');
    const callTimeoutMs = Math.min(5_000, Math.max(1_000, options.leaseTtlMs));
    const client = new Etcd3({
      hosts: options.endpoints.map(endpointHost),
      // Streams (watch, keep-alive) live long; every other call is bounded.
      defaultCallOptions: (ctx) => (ctx.isStream ? {} : { deadline: Date.now() + callTimeoutMs }),
    });
    const store = new EtcdTopologyStore(client, options);
    try {
      await store.start();
    } catch (err) {
      await store.close().catch(() => undefined);
      throw err;
    }
    return store;
  }

  // ------------------------------------------------------------------------------ TopologyStore

  async load(): Promise<Map<string, ShardTopology>> {
    const res = await this.client.getAll().prefix(this.keys.topologyPrefix).exec();
    const out = new Map<string, ShardTopology>();
    for (const kv of res.kvs) {
      const shard = kv.key.toString('utf8').slice(this.keys.topologyPrefix.length);
      const stored = decodeRecord(kv);
      this.remember(shard, stored);
      out.set(shard, stored.record);
    }
    return out;
  }

  publish(shard: string, record: ShardTopology): Promise<PublishOutcome> {
    // One at a time, as with the local store: a proxy's publishes apply in the order it made them.
    const run = this.publishing.then(() => this.publishNow(shard, record));
    this.publishing = run.catch(() => undefined);
    return run;
  }

  private async publishNow(shard: string, record: ShardTopology): Promise<PublishOutcome> {
    if (shard.length === 0) throw new Error('publish: empty shard key');
    const wanted = parseShardTopology(record);
    if (wanted === null) throw new Error(`publish: invalid topology record for shard ${JSON.stringify(shard)}`);
    for (let attempt = 0; attempt < MAX_PUBLISH_ATTEMPTS; attempt++) {
      const token = this.token;
      if (!this.isLeader() || token === null) return { kind: 'not-leader' };
      const known = this.known.get(shard);
      // Nothing to write when the known record already is, or beats, the one asked for: the
      // transaction then only checks that it is still current (and that we still lead).
      const write = known === undefined || (!sameTopology(known.record, wanted) && known.record.term <= wanted.term);
      const result = await fencedWrite(this.client.kv, this.keys, { proxyId: this.proxyId, token }, shard, known === undefined ? null : known.revision.toString(), write ? wanted : null);
      switch (result.kind) {
        case 'not-leader':
          if (this.token === token) {
            this.token = null;
            this.log.warn({ token }, 'coordination: etcd refused a publish, the leader key moved on');
            this.refreshLeadership();
          }
          return { kind: 'not-leader' };
        case 'moved':
          if (result.stored === null) this.known.delete(shard);
          else this.remember(shard, result.stored);
          continue;
        case 'committed':
          if (write) {
            this.remember(shard, { revision: result.revision, record: wanted });
            return { kind: 'published' };
          }
          return known !== undefined && !sameTopology(known.record, wanted) ? { kind: 'stale', current: known.record } : { kind: 'published' };
      }
    }
    throw new Error(`publish of shard ${JSON.stringify(shard)}: its record kept changing (${MAX_PUBLISH_ATTEMPTS} attempts)`);
  }

  watch(fn: (shard: string, record: ShardTopology) => void): () => void {
    this.watchers.add(fn);
    return () => {
      this.watchers.delete(fn);
    };
  }

  isLeader(): boolean {
    return !this.closed && this.token !== null && this.leaseId !== null && performance.now() < this.aliveSince + this.ttlMs - this.marginMs;
  }

  onLeadership(fn: (leader: boolean) => void): () => void {
    this.leadershipListeners.add(fn);
    return () => {
      this.leadershipListeners.delete(fn);
    };
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    for (const t of [this.keepAliveTimer, this.deadlineTimer, this.campaignTimer]) if (t !== null) clearTimeout(t);
    this.keepAliveTimer = this.deadlineTimer = this.campaignTimer = null;
    // Listeners learn of the step-down before anyone else can take over.
    this.refreshLeadership();
    await bounded(this.campaigning ?? Promise.resolve(), 2_000).catch(() => undefined);
    const lease = this.leaseId;
    this.leaseId = null;
    this.token = null;
    if (lease !== null) {
      // Revoking deletes the leader key at once (when we held it): the next proxy need not wait for the TTL.
      await this.client.leaseClient.leaseRevoke({ ID: lease }).catch((err: unknown) => {
        if (!(err instanceof EtcdLeaseInvalidError)) this.log.warn({ err: errMessage(err) }, 'coordination: could not revoke the lease; it expires on its own');
      });
    }
    await Promise.all(this.etcdWatchers.splice(0).map((w) => bounded(w.cancel(), 1_000).catch(() => undefined)));
    this.watchers.clear();
    this.leadershipListeners.clear();
    this.client.close();
  }

  // ------------------------------------------------------------------------------ extras

  /** The fencing token this proxy leads with, or null. */
  fencingToken(): string | null {
    return this.token;
  }

  /**
   * For tests only: behaves from now on as if this process were frozen (a long pause, a partition):
   * no keep-alive, no campaign. The lease then expires on the server, after isLeader() turned false.
   */
  freezeForTests(): void {
    this.frozen = true;
  }

  // ------------------------------------------------------------------------------ start

  private async start(): Promise<void> {
    await this.connect();
    this.scheduleKeepAlive(this.keepAliveEveryMs);
    this.etcdWatchers.push(
      await this.startWatcher(this.client.watch().key(this.keys.leader), 'leader key', (w) => {
        w.on('put', (kv) => this.onLeaderPut(kv));
        w.on('delete', () => this.onLeaderDeleted());
      }),
    );
    this.etcdWatchers.push(
      await this.startWatcher(this.client.watch().prefix(this.keys.topologyPrefix), 'topology', (w) => {
        w.on('put', (kv) => this.onTopologyPut(kv));
        w.on('delete', (kv) => this.known.delete(kv.key.toString('utf8').slice(this.keys.topologyPrefix.length)));
      }),
    );
    this.requestCampaign();
    await this.campaigning;
    // A safety net for a missed delete event or a failed campaign; cheap (one transaction per TTL).
    this.campaignTimer = setInterval(() => {
      if (this.token === null) this.requestCampaign();
    }, this.ttlMs);
    this.campaignTimer.unref();
  }

  /** The first lease grant doubles as the reachability check. */
  private async connect(): Promise<void> {
    const attempts = Math.max(1, this.options.connectAttempts ?? DEFAULT_CONNECT_ATTEMPTS);
    let cause: unknown;
    for (let i = 0; i < attempts; i++) {
      if (i > 0) await sleep(CONNECT_BACKOFF_MS[Math.min(i - 1, CONNECT_BACKOFF_MS.length - 1)] ?? 2000);
      try {
        await this.grantLease();
        return;
      } catch (err) {
        // The client's circuit breaker hides the real cause after a few failures: keep the real one.
        if (cause === undefined || !/circuit breaker/i.test(errMessage(err))) cause = err;
        this.log.warn({ attempt: i + 1, of: attempts, err: errMessage(err) }, 'coordination: etcd not reachable yet');
      }
    }
    const where = this.options.endpoints.map(endpointHost).join(', ');
    throw new Error(`etcd is unreachable at ${where} (coordination.endpoints) after ${attempts} attempts: ${errMessage(cause)}`);
  }

  private async startWatcher(builder: WatchBuilder, what: string, attach: (w: Watcher) => void): Promise<Watcher> {
    const w = builder.watcher();
    // An 'error' without a listener would throw from the emitter and end the process.
    w.on('error', (err) => this.log.warn({ watch: what, err: errMessage(err) }, 'coordination: etcd watch error'));
    w.on('disconnected', (err) => {
      if (!this.closed) this.log.warn({ watch: what, err: errMessage(err) }, 'coordination: etcd watch disconnected, reconnecting');
    });
    attach(w);
    try {
      await bounded(new Promise<void>((resolve) => w.once('connected', () => resolve())), WATCH_START_TIMEOUT_MS);
    } catch {
      await bounded(w.cancel(), 1_000).catch(() => undefined);
      throw new Error(`etcd watch on the ${what} was not established within ${WATCH_START_TIMEOUT_MS} ms`);
    }
    return w;
  }

  // ------------------------------------------------------------------------------ lease

  private async grantLease(): Promise<void> {
    const sentAt = performance.now();
    const res = await this.client.leaseClient.leaseGrant({ TTL: Math.ceil(this.ttlMs / 1000) });
    if (this.closed) {
      await this.client.leaseClient.leaseRevoke({ ID: res.ID }).catch(() => undefined);
      throw new Error('topology store is closed');
    }
    this.leaseId = res.ID;
    this.aliveSince = sentAt;
  }

  private scheduleKeepAlive(delayMs: number): void {
    if (this.closed) return;
    this.keepAliveTimer = setTimeout(() => void this.keepAliveTick(), delayMs);
    this.keepAliveTimer.unref();
  }

  private async keepAliveTick(): Promise<void> {
    const sentAt = performance.now();
    const lease = this.leaseId;
    if (lease !== null && !this.frozen) {
      try {
        const alive = await this.keepAliveOnce(lease, this.keepAliveEveryMs);
        if (this.keepAliveFailing) this.log.info('coordination: etcd answers keep-alives again');
        this.keepAliveFailing = false;
        if (this.closed || this.leaseId !== lease) {
          // closed, or replaced meanwhile: this answer is about nothing we hold
        } else if (alive) {
          this.aliveSince = Math.max(this.aliveSince, sentAt);
        } else {
          this.log.warn('coordination: the lease expired on etcd; taking a new one');
          this.leaseId = null;
          this.token = null;
          this.requestCampaign();
        }
      } catch (err) {
        if (!this.closed && !this.keepAliveFailing) this.log.warn({ err: errMessage(err) }, 'coordination: etcd keep-alive failed');
        this.keepAliveFailing = true;
      }
      this.refreshLeadership();
    }
    this.scheduleKeepAlive(Math.max(0, sentAt + this.keepAliveEveryMs - performance.now()));
  }

  /** One keep-alive on its own stream; true when the lease is alive, false when etcd says it expired. */
  private keepAliveOnce(lease: string, timeoutMs: number): Promise<boolean> {
    return new Promise<boolean>((resolve, reject) => {
      let stream: IDuplexStream<ILeaseKeepAliveRequest, ILeaseKeepAliveResponse> | null = null;
      let done = false;
      const finish = (err: Error | null, alive: boolean): void => {
        if (done) return;
        done = true;
        clearTimeout(timer);
        // end() first: a cancelled stream that is still writable makes the client reset its connection.
        stream?.end();
        if (err !== null) stream?.cancel();
        if (err !== null) reject(err);
        else resolve(alive);
      };
      const timer = setTimeout(() => finish(new Error(`no keep-alive answer within ${timeoutMs} ms`), false), timeoutMs);
      this.client.leaseClient.leaseKeepAlive().then(
        (s) => {
          stream = s;
          s.on('error', (err) => finish(err, false));
          if (done) {
            s.end();
            s.cancel();
            return;
          }
          s.on('data', (res) => finish(null, Number(res.TTL) > 0));
          s.write({ ID: lease });
        },
        (err: unknown) => finish(err instanceof Error ? err : new Error(String(err)), false),
      );
    });
  }

  // ------------------------------------------------------------------------------ election

  private requestCampaign(): void {
    if (this.closed || this.frozen) return;
    if (this.campaigning !== null) {
      this.campaignAgain = true;
      return;
    }
    this.campaigning = this.campaignLoop().finally(() => {
      this.campaigning = null;
    });
  }

  private async campaignLoop(): Promise<void> {
    do {
      this.campaignAgain = false;
      try {
        await this.campaignOnce();
      } catch (err) {
        if (this.closed) return;
        if (err instanceof EtcdLeaseInvalidError) {
          // The lease expired under us: a new one, and one more try.
          this.leaseId = null;
          this.token = null;
          this.campaignAgain = true;
        } else {
          this.log.warn({ err: errMessage(err) }, 'coordination: campaign for the leader key failed; retrying later');
        }
      }
      this.refreshLeadership();
    } while (this.campaignAgain && !this.closed && !this.frozen);
  }

  private async campaignOnce(): Promise<void> {
    if (this.leaseId === null) {
      await this.grantLease();
      this.log.info('coordination: took a new lease');
    }
    const lease = this.leaseId;
    if (lease === null || this.closed) return;
    const key = buf(this.keys.leader);
    const res = await this.client.kv.txn({
      compare: [{ key, target: 'Create', result: 'Equal', create_revision: 0 }],
      success: [{ request_put: { key, value: buf(this.proxyId), lease } }],
      failure: [{ request_range: { key } }],
    });
    if (this.closed || this.leaseId !== lease) return;
    if (res.succeeded) {
      this.token = res.header.revision;
      this.log.info({ token: this.token }, 'coordination: won the leader key');
      return;
    }
    const holder = res.responses[0]?.response_range?.kvs[0];
    if (holder !== undefined && holder.value.toString('utf8') === this.proxyId && holder.lease === lease) {
      // Still ours (we only lost touch for a while): same key, same token.
      this.token = holder.create_revision;
    } else {
      this.token = null;
    }
  }

  private onLeaderPut(kv: IKeyValue): void {
    if (this.token !== null && (kv.value.toString('utf8') !== this.proxyId || kv.create_revision !== this.token)) {
      this.token = null;
      this.refreshLeadership();
    }
  }

  private onLeaderDeleted(): void {
    if (this.token !== null) {
      this.token = null;
      this.refreshLeadership();
    }
    this.requestCampaign();
  }

  /** Reports a change of isLeader() and keeps the step-down timer at the current deadline. */
  private refreshLeadership(): void {
    const leader = this.isLeader();
    if (this.deadlineTimer !== null) clearTimeout(this.deadlineTimer);
    this.deadlineTimer = null;
    if (leader) {
      const remaining = this.aliveSince + this.ttlMs - this.marginMs - performance.now();
      this.deadlineTimer = setTimeout(() => this.refreshLeadership(), Math.max(0, Math.ceil(remaining)) + 1);
      this.deadlineTimer.unref();
    }
    if (leader === this.reportedLeader) return;
    this.reportedLeader = leader;
    if (leader) this.log.info({ token: this.token }, 'coordination: this proxy is the leader');
    else this.log.warn('coordination: this proxy is not the leader (any more)');
    for (const fn of [...this.leadershipListeners]) {
      try {
        fn(leader);
      } catch (err) {
        this.log.error({ err: errMessage(err) }, 'coordination: a leadership listener threw');
      }
    }
  }

  // ------------------------------------------------------------------------------ topology

  private onTopologyPut(kv: IKeyValue): void {
    const shard = kv.key.toString('utf8').slice(this.keys.topologyPrefix.length);
    let stored: StoredRecord;
    try {
      stored = decodeRecord(kv);
    } catch (err) {
      this.log.error({ shard, err: errMessage(err) }, 'coordination: ignoring an invalid topology record');
      return;
    }
    this.remember(shard, stored);
    for (const fn of [...this.watchers]) {
      try {
        fn(shard, stored.record);
      } catch (err) {
        this.log.error({ shard, err: errMessage(err) }, 'coordination: a topology watcher threw');
      }
    }
  }

  /** Keeps the newest record seen per shard (watch events may arrive after a read or write of the same one). */
  private remember(shard: string, stored: StoredRecord): void {
    const revision = BigInt(stored.revision);
    const known = this.known.get(shard);
    if (known === undefined || known.revision < revision) this.known.set(shard, { revision, record: stored.record });
  }
}

/** Rejects when `p` has not settled within `ms`. */
function bounded<T>(p: Promise<T>, ms: number): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms`)), ms);
    p.then(
      (v) => {
        clearTimeout(timer);
        resolve(v);
      },
      (err: unknown) => {
        clearTimeout(timer);
        reject(err instanceof Error ? err : new Error(String(err)));
      },
    );
  });
}
