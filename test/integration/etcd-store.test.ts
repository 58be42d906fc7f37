// Multi-proxy coordination through a real etcd (the Debian etcd-server binary, one member on
// 127.0.0.1): three stores with different proxy ids play three proxies.
//
// - exactly one of them leads, and only its publish is accepted (the others get not-leader);
// - a record the leader publishes reaches every store's watchers within 1 s, in commit order;
// - the leader's close() resigns: another store leads within 2 s, the old one's publish is refused;
// - a leader whose keep-alives stop (frozen process) reports isLeader() false before etcd expires its
//   lease and deletes the leader key; its publish is then refused locally, and etcd itself refuses a
//   write carrying its old fencing token;
// - a publish of a lower term returns the stored record (the leader may revise its own term's record),
//   across leaders too: terms only grow;
// - an invalid record written by someone else is skipped by watchers and refused by load();
// - open() against an address where no etcd listens fails, bounded, with an error naming it.
//
// Each test uses its own key prefix. etcd runs with a 10 ms heartbeat so that its minimum lease TTL
// is 1 s; the stores use 2 s leases (server TTL 2 s, local leadership window 1.5 s).
import t from 'tap';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { Etcd3 } from 'etcd3';
import { startEtcd, stopEtcdOnSignals } from '../../proxy/demo/etcd-node.js';
import { freePort } from '../../proxy/demo/free-port.js';
import { trackForCleanup, untrackForCleanup } from '../../proxy/demo/postgres-node.js';
import { silentLogger } from '../../proxy/logger.js';
import { etcdKeys, EtcdTopologyStore, fencedWrite } from '../../topology/coordination/etcd-store.js';
import type { ShardTopology } from '../../topology/coordination/topology-store.js';

const LEASE_TTL_MS = 2_000;
const rec = (term: number, primary: string | null, fenced: string[] = []): ShardTopology => ({ term, primary, fenced });
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

async function waitUntil(what: string, timeoutMs: number, check: () => boolean): Promise<void> {
  const deadline = performance.now() + timeoutMs;
  while (!check()) {
    if (performance.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(2);
  }
}

stopEtcdOnSignals(['SIGINT', 'SIGTERM', 'SIGHUP', 'SIGALRM']);
const dir = await mkdtemp(join(tmpdir(), 'pgshard-etcd-'));
trackForCleanup('dir', dir);
const removeDir = async (): Promise<void> => {
  await rm(dir, { recursive: true, force: true });
  untrackForCleanup('dir', dir);
};
let etcd: Awaited<ReturnType<typeof startEtcd>>;
try {
  etcd = await startEtcd({ dir });
} catch (err) {
  await removeDir();
  throw err;
}
const raw = new Etcd3({ hosts: etcd.endpoint });
t.teardown(async () => {
  raw.close();
  await etcd.stop();
  await removeDir();
});

let prefixes = 0;
interface TestLike {
  teardown(fn: () => unknown): void;
}

/** Opens stores `ids` under a fresh prefix (concurrently: they race for the leader key); closed at teardown. */
async function openStores(t: TestLike, ids: string[]): Promise<{ prefix: string; stores: EtcdTopologyStore[] }> {
  const prefix = `/pgshard-test-${++prefixes}`;
  const settled = await Promise.allSettled(ids.map((proxyId) => EtcdTopologyStore.open({ endpoints: [etcd.endpoint], leaseTtlMs: LEASE_TTL_MS, prefix, proxyId, log: silentLogger() })));
  const stores: EtcdTopologyStore[] = [];
  for (const s of settled) if (s.status === 'fulfilled') stores.push(s.value);
  t.teardown(() => Promise.all(stores.map((s) => s.close())));
  const failed = settled.find((s): s is PromiseRejectedResult => s.status === 'rejected');
  if (failed) throw failed.reason;
  return { prefix, stores };
}

const leadersOf = (stores: EtcdTopologyStore[]): EtcdTopologyStore[] => stores.filter((s) => s.isLeader());

function onlyLeader(stores: EtcdTopologyStore[]): EtcdTopologyStore {
  const leaders = leadersOf(stores);
  if (leaders.length !== 1) throw new Error(`expected exactly one leader, found ${leaders.length}`);
  return leaders[0]!;
}

void t.test('exactly one of three proxies leads, and only its publish is accepted', async (t) => {
  const { stores } = await openStores(t, ['proxy-a', 'proxy-b', 'proxy-c']);
  // Sampled over more than a lease TTL: keep-alives keep the leader, nobody else takes over.
  for (let i = 0; i < 12; i++) {
    t.equal(leadersOf(stores).length, 1, `one leader (sample ${i})`);
    await sleep(200);
  }
  const leader = onlyLeader(stores);
  const followers = stores.filter((s) => s !== leader);
  for (const f of followers) t.same(await f.publish('app/shard0', rec(1, 'h1:5432')), { kind: 'not-leader' }, 'a follower may not publish');
  t.same(await leader.publish('app/shard0', rec(1, 'h0:5432')), { kind: 'published' });
  for (const s of stores) t.same(await s.load(), new Map([['app/shard0', rec(1, 'h0:5432')]]), 'every proxy reads the leader\'s record');
  t.ok(leader.fencingToken() !== null && followers.every((f) => f.fencingToken() === null), 'only the leader holds a fencing token');
});

void t.test('a published record reaches every proxy\'s watchers within 1 s, in commit order', async (t) => {
  const { stores } = await openStores(t, ['proxy-a', 'proxy-b', 'proxy-c']);
  const leader = onlyLeader(stores);
  const seen = stores.map(() => [] as { shard: string; term: number; at: number }[]);
  stores.forEach((s, i) => s.watch((shard, r) => seen[i]!.push({ shard, term: r.term, at: performance.now() })));
  const latencies: number[] = [];
  for (let term = 1; term <= 5; term++) {
    const sent = performance.now();
    t.same(await leader.publish('app/shard0', rec(term, `h${term}:5432`)), { kind: 'published' });
    await waitUntil(`term ${term} at every watcher`, 1_000, () => seen.every((list) => list.some((e) => e.term === term)));
    for (const list of seen) latencies.push(list.find((e) => e.term === term)!.at - sent);
  }
  const max = Math.max(...latencies);
  t.ok(max < 1_000, `watch delivery: max ${max.toFixed(1)} ms, median ${latencies.sort((a, b) => a - b)[Math.floor(latencies.length / 2)]!.toFixed(1)} ms (publish call to callback, ${latencies.length} deliveries)`);
  for (const list of seen) t.same(list.map((e) => e.term), [1, 2, 3, 4, 5], 'each record once, in commit order (the leader\'s own watchers included)');
  // A burst, not awaited one by one: still in order everywhere.
  const burst = [6, 7, 8, 9].map((term) => leader.publish('app/shard1', rec(term, 'x')));
  t.same((await Promise.all(burst)).map((o) => o.kind), ['published', 'published', 'published', 'published']);
  await waitUntil('the burst at every watcher', 1_000, () => seen.every((list) => list.filter((e) => e.shard === 'app/shard1').length === 4));
  for (const list of seen) t.same(list.filter((e) => e.shard === 'app/shard1').map((e) => e.term), [6, 7, 8, 9]);
});

void t.test('the leader\'s close() hands leadership to another proxy at once', async (t) => {
  const { stores } = await openStores(t, ['proxy-a', 'proxy-b', 'proxy-c']);
  const old = onlyLeader(stores);
  const oldToken = old.fencingToken();
  t.same(await old.publish('app/shard0', rec(1, 'h0:5432')), { kind: 'published' });
  const others = stores.filter((s) => s !== old);
  let tookOver = 0;
  for (const s of others) s.onLeadership((leader) => {
    if (leader && tookOver === 0) tookOver = performance.now();
  });
  const closing = performance.now();
  await old.close();
  await waitUntil('another leader', 2_000, () => tookOver !== 0);
  const failoverMs = tookOver - closing;
  t.ok(failoverMs < 2_000, `leadership moved ${failoverMs.toFixed(1)} ms after close() began`);
  const next = onlyLeader(others);
  t.ok(BigInt(next.fencingToken()!) > BigInt(oldToken!), 'the new fencing token is greater');
  t.same(await old.publish('app/shard0', rec(2, 'h1:5432')), { kind: 'not-leader' }, 'the old leader may not publish');
  t.same(await next.publish('app/shard0', rec(2, 'h1:5432')), { kind: 'published' }, 'the new one may');
});

void t.test('a frozen leader steps down before its lease expires, and is fenced after', async (t) => {
  const { prefix, stores } = await openStores(t, ['proxy-a', 'proxy-b', 'proxy-c']);
  const keys = etcdKeys(prefix);
  const frozen = onlyLeader(stores);
  const oldToken = frozen.fencingToken()!;
  t.same(await frozen.publish('app/shard0', rec(1, 'h0:5432')), { kind: 'published' });
  let steppedDown = 0;
  frozen.onLeadership((leader) => {
    if (!leader && steppedDown === 0) steppedDown = performance.now();
  });
  let deleted = 0;
  let leaderWhenDeleted: boolean | null = null;
  let successor = 0;
  const watcher = await raw.watch().key(keys.leader).create();
  t.teardown(() => watcher.cancel());
  watcher.on('delete', () => {
    deleted = performance.now();
    leaderWhenDeleted = frozen.isLeader();
  });
  watcher.on('put', () => {
    if (deleted !== 0 && successor === 0) successor = performance.now();
  });
  const frozeAt = performance.now();
  frozen.freezeForTests();
  await waitUntil('etcd to expire the frozen leader\'s lease', 3 * LEASE_TTL_MS, () => deleted !== 0);
  t.equal(leaderWhenDeleted, false, 'when etcd deleted the leader key, the frozen store no longer claimed to lead');
  t.ok(steppedDown !== 0 && steppedDown < deleted, `stepped down ${(steppedDown - frozeAt).toFixed(0)} ms after freezing, etcd deleted its key ${(deleted - frozeAt).toFixed(0)} ms after (${(deleted - steppedDown).toFixed(0)} ms later)`);
  await waitUntil('a successor', 2_000, () => successor !== 0 && leadersOf(stores).length === 1);
  t.ok(successor - deleted < 1_000, `a successor won ${(successor - deleted).toFixed(1)} ms after the key was deleted`);
  const next = onlyLeader(stores);
  t.not(next, frozen);
  t.equal(frozen.fencingToken(), null, 'the frozen store saw its key go');
  t.same(await frozen.publish('app/shard0', rec(2, 'h1:5432')), { kind: 'not-leader' }, 'its publish is refused');
  // What a publish already past the local check when the process froze would send: etcd refuses it.
  const late = await fencedWrite(raw.kv, keys, { proxyId: frozen.proxyId, token: oldToken }, 'app/shard0', null, rec(2, 'h1:5432'));
  t.same(late, { kind: 'not-leader' }, 'etcd refuses a write carrying the old fencing token');
  t.same(await next.load(), new Map([['app/shard0', rec(1, 'h0:5432')]]), 'nothing was overwritten');
  t.same(await next.publish('app/shard0', rec(2, 'h1:5432')), { kind: 'published' }, 'the successor publishes');
});

void t.test('a lower term is stale, the same term is revised: terms only grow', async (t) => {
  const { prefix, stores } = await openStores(t, ['proxy-a', 'proxy-b', 'proxy-c']);
  const leader = onlyLeader(stores);
  const terms: number[] = [];
  stores[0]!.watch((_shard, r) => terms.push(r.term));
  t.same(await leader.publish('app/shard0', rec(3, 'h1:5432', ['h0:5432'])), { kind: 'published' });
  t.same(await leader.publish('app/shard0', rec(2, 'h2:5432')), { kind: 'stale', current: rec(3, 'h1:5432', ['h0:5432']) }, 'lower term');
  t.same(await leader.publish('app/shard0', rec(3, 'h2:5432', ['h0:5432'])), { kind: 'published' }, 'same term: the leader revises its decision');
  t.same(await leader.publish('app/shard0', rec(3, 'h1:5432', ['h0:5432'])), { kind: 'published' }, 'and back');
  t.same(await leader.publish('app/shard0', rec(3, 'h1:5432', ['h0:5432'])), { kind: 'published' }, 'same record: idempotent');
  // Someone else (an operator, another tool) moved the record on: the stale answer is the current record.
  await raw.put(`${etcdKeys(prefix).topologyPrefix}app/shard0`).value(JSON.stringify(rec(7, 'h2:5432', ['h0:5432', 'h1:5432'])));
  t.same(await leader.publish('app/shard0', rec(5, 'h0:5432')), { kind: 'stale', current: rec(7, 'h2:5432', ['h0:5432', 'h1:5432']) }, 'stale against the record etcd holds now');
  t.same(await leader.publish('app/shard0', rec(8, 'h1:5432', ['h2:5432'])), { kind: 'published' }, 'a higher term wins after a re-read');
  // A new leader that never read the record still cannot go back.
  await leader.close();
  await waitUntil('a new leader', 2_000, () => leadersOf(stores).length === 1);
  const next = onlyLeader(stores);
  t.same(await next.publish('app/shard0', rec(4, 'h0:5432')), { kind: 'stale', current: rec(8, 'h1:5432', ['h2:5432']) }, 'the new leader is told the current record');
  await waitUntil('the watcher to catch up', 1_000, () => terms.includes(8));
  t.same(terms, [3, 3, 3, 7, 8], 'watched terms never go back');
  t.same((await next.load()).get('app/shard0'), rec(8, 'h1:5432', ['h2:5432']));
});

void t.test('an invalid record is skipped by watchers and refused by load()', async (t) => {
  const { prefix, stores } = await openStores(t, ['proxy-a']);
  const store = stores[0]!;
  const seen: string[] = [];
  store.watch((shard, r) => seen.push(`${shard}@${r.term}`));
  const keys = etcdKeys(prefix);
  await raw.put(`${keys.topologyPrefix}app/bad`).value('{"term": "one"}');
  t.same(await store.publish('app/good', rec(1, 'h0:5432')), { kind: 'published' });
  await waitUntil('the valid record', 1_000, () => seen.length > 0);
  t.same(seen, ['app/good@1'], 'only the valid record is delivered');
  await t.rejects(store.load(), { message: `etcd key ${keys.topologyPrefix}app/bad: invalid topology record (expected {term, primary, fenced})` });
});

void t.test('open() fails, bounded, with an error naming the endpoint when etcd is unreachable', async (t) => {
  const port = await freePort();
  const started = performance.now();
  await t.rejects(
    EtcdTopologyStore.open({ endpoints: [`http://127.0.0.1:${port}`], leaseTtlMs: 1_000, prefix: '/nowhere', proxyId: 'proxy-a', log: silentLogger(), connectAttempts: 3 }),
    { message: new RegExp(`^etcd is unreachable at http://127\\.0\\.0\\.1:${port} \\(coordination\\.endpoints\\) after 3 attempts: `) },
  );
  const elapsed = performance.now() - started;
  t.ok(elapsed < 10_000, `gave up after ${elapsed.toFixed(0)} ms`);
});
