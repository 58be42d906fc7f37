// Three pgshard proxies (child processes, each with its own state directory) share one etcd and one
// shard on real PostgreSQL 15 (a primary and 2 replicas, synchronous replication ANY 1).
//
// Proves:
// (a) exactly one proxy leads (SHOW FAILOVER leader), sampled over more than a lease TTL;
// (b) the leader dies (SIGKILL at a control point) in the middle of a failover it started for a
//     kill -9 of the primary, after it published the term without a primary and before it published
//     the new one; another proxy takes over the lease and completes the failover:
//     - at failover-after-promote its candidate was promoted: the new leader adopts that node in the
//       same term (promoting another one would make two primaries, and could lose writes only the
//       promoted node had acknowledged);
//     - at failover-after-publish nothing was promoted: the new leader promotes a replica in the
//       next term.
//     Across every surviving proxy's SHOW FAILOVER (sampled all along), every record etcd committed
//     (watched) and the promotions in the proxies' logs, each term has at most one primary and
//     terms never go back; at the end exactly one node is out of recovery and not fenced, and it is
//     the node every surviving proxy routes to;
// (c) writers through every proxy (rows tagged with the proxy's name), before, during and after the
//     failover: every acknowledged row is on the final primary, no row lands on a node other than
//     the final primary once the failover is over, and the restarted old primary is fenced and
//     gets no write.
//
// One etcd for the file (a key prefix per case). etcd missing is a failure (startEtcd names the
// package), never a skip.

import t, { type Test } from 'tap';
import pg from 'pg';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Etcd3 } from 'etcd3';
import { startEtcd, stopEtcdOnSignals, type EtcdNode } from '../../proxy/demo/etcd-node.js';
import { trackForCleanup, untrackForCleanup, type PgNode } from '../../proxy/demo/postgres-node.js';
import { parseShardTopology, type ShardTopology } from '../../topology/coordination/topology-store.js';
import { DATABASE, sleep, startTestCluster, waitUntil, type ProxyOptions } from '../helpers/proxy-fixture.js';
import { startProxyProcess, type ProxyProcess } from '../helpers/proxy-process.js';

const CHECK_INTERVAL_MS = 300;
const LEASE_TTL_MS = 2_000;
const SHARD_KEY = `${DATABASE}/shard0`;
const SAMPLE_EVERY_MS = 100;

const idOf = (n: PgNode): string => `${n.host}:${n.port}`;
const isLeader = (v: unknown): boolean => v === 't' || v === 'true';
const errText = (err: unknown): string => (err instanceof Error ? err.message : String(err));

interface Named {
  readonly name: string;
  readonly proc: ProxyProcess;
}

/** Inserts rows tagged with its proxy's name, one at a time, reconnecting after errors. */
class TaggedWriter {
  readonly acked: number[] = [];
  readonly ackedAt: number[] = [];
  readonly errors: string[] = [];
  private stopped = false;
  private loop: Promise<void> | null = null;
  private next = 1;
  private client: pg.Client | null = null;

  constructor(
    readonly tag: string,
    private readonly config: pg.ClientConfig,
  ) {}

  start(): void {
    this.loop = (async () => {
      while (!this.stopped) {
        const seq = this.next++;
        try {
          if (this.client === null) {
            const c = new pg.Client({ ...this.config, connectionTimeoutMillis: 5_000, query_timeout: 30_000 });
            c.on('error', () => undefined);
            this.client = c;
            await c.connect();
          }
          await this.client.query('INSERT INTO w (proxy, seq) VALUES ($1, $2)', [this.tag, seq]);
          this.acked.push(seq);
          this.ackedAt.push(Date.now());
        } catch (err) {
          this.errors.push(errText(err));
          const c = this.client;
          this.client = null;
          await c?.end().catch(() => undefined);
          await sleep(50);
        }
      }
    })();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    await this.loop;
    await this.client?.end().catch(() => undefined);
  }
}

interface Seen {
  readonly source: string;
  readonly term: number;
  readonly primary: string | null;
  readonly phase: string;
  readonly leader: boolean;
  readonly at: number;
}

/** Polls SHOW FAILOVER on every live proxy, keeping everything it saw. */
class FailoverSampler {
  readonly seen: Seen[] = [];
  private readonly clients = new Map<string, pg.Client>();
  private stopped = false;
  private loop: Promise<void> | null = null;

  constructor(private readonly proxies: () => readonly Named[]) {}

  start(): void {
    this.loop = (async () => {
      while (!this.stopped) {
        await Promise.all(this.proxies().map((p) => this.sample(p)));
        await sleep(SAMPLE_EVERY_MS);
      }
    })();
  }

  /** One SHOW FAILOVER on `p` now (also recorded). */
  async sample(p: Named): Promise<Seen | null> {
    if (!p.proc.alive()) return null;
    try {
      let c = this.clients.get(p.name);
      if (c === undefined) {
        c = new pg.Client({ ...p.proc.clientConfig('admin', 'pgshard'), connectionTimeoutMillis: 2_000, query_timeout: 2_000 });
        c.on('error', () => undefined);
        this.clients.set(p.name, c);
        await c.connect();
      }
      const row = (await c.query('SHOW FAILOVER')).rows.find((r: Record<string, string>) => r['shard'] === SHARD_KEY) as Record<string, string> | undefined;
      if (row === undefined) return null;
      const s: Seen = {
        source: p.name,
        term: Number(row['term']),
        primary: row['primary'] === '' ? null : (row['primary'] ?? null),
        phase: row['phase'] ?? '',
        leader: isLeader(row['leader']),
        at: Date.now(),
      };
      this.seen.push(s);
      return s;
    } catch {
      const c = this.clients.get(p.name);
      this.clients.delete(p.name);
      await c?.end().catch(() => undefined);
      return null;
    }
  }

  async stop(): Promise<void> {
    this.stopped = true;
    await this.loop;
    await Promise.all([...this.clients.values()].map((c) => c.end().catch(() => undefined)));
    this.clients.clear();
  }
}

/** The promotions a proxy's log says it carried out: term → node. */
function promotionsInLog(stderr: string): { term: number; node: string }[] {
  const out: { term: number; node: string }[] = [];
  for (const line of stderr.split('\n')) {
    if (!line.startsWith('{')) continue;
    let rec: Record<string, unknown>;
    try {
      rec = JSON.parse(line) as Record<string, unknown>;
    } catch {
      continue;
    }
    if (rec['msg'] !== 'failover: promote finished' || typeof rec['result'] !== 'string' || !rec['result'].startsWith('promote-succeeded')) continue;
    const m = /^promote (\S+) \(term (\d+)\)$/.exec(String(rec['action']));
    if (m !== null) out.push({ term: Number(m[2]), node: m[1]! });
  }
  return out;
}

/** The last failover log lines of a proxy, for failure messages. */
function failoverLog(p: Named, lines = 25): string {
  const picked = p.proc
    .stderr()
    .split('\n')
    .filter((l) => l.includes('"component":"failover"') || l.includes('"component":"coordination"'))
    .slice(-lines)
    .map((l) => {
      try {
        const r = JSON.parse(l) as Record<string, unknown>;
        const { msg, time, pid: _pid, hostname: _h, level: _l, ...rest } = r;
        return `${String(time)} ${String(msg)} ${JSON.stringify(rest)}`;
      } catch {
        return l;
      }
    });
  return `--- ${p.name} ---\n${picked.join('\n')}`;
}

async function nodeState(n: PgNode): Promise<{ inRecovery: boolean; readOnly: boolean }> {
  const rows = await n.sql("SELECT pg_is_in_recovery() AS r, current_setting('default_transaction_read_only') AS ro");
  return { inRecovery: rows[0]?.['r'] === true, readOnly: rows[0]?.['ro'] === 'on' };
}

async function countRows(n: PgNode): Promise<number> {
  return (await n.sql('SELECT count(*)::int AS n FROM w', DATABASE))[0]?.['n'] as number;
}

stopEtcdOnSignals(['SIGINT', 'SIGTERM', 'SIGHUP', 'SIGALRM']);
const etcdDir = await mkdtemp(join(tmpdir(), 'pgshard-multi-etcd-'));
trackForCleanup('dir', etcdDir);
const removeEtcdDir = async (): Promise<void> => {
  await rm(etcdDir, { recursive: true, force: true });
  untrackForCleanup('dir', etcdDir);
};
let etcd: EtcdNode;
try {
  etcd = await startEtcd({ dir: etcdDir });
} catch (err) {
  await removeEtcdDir();
  throw err;
}
const raw = new Etcd3({ hosts: etcd.endpoint });
t.teardown(async () => {
  raw.close();
  await etcd.stop();
  await removeEtcdDir();
});

type Point = 'failover-after-promote' | 'failover-after-publish';

const scenario = (point: Point) => async (t: Test): Promise<void> => {
  const promoting = point === 'failover-after-promote';
  const started = Date.now();
  const elapsed = (): string => `${((Date.now() - started) / 1000).toFixed(1)} s`;
  const PREFIX = `/pgshard-multi-proxy/${point}`;
  const committed: ShardTopology[] = [];
  const watcher = await raw.watch().key(`${PREFIX}/topology/${SHARD_KEY}`).create();
  t.teardown(() => watcher.cancel());
  watcher.on('put', (kv) => {
    const r = parseShardTopology(JSON.parse(kv.value.toString('utf8')));
    if (r !== null) committed.push(r);
  });

  const cluster = await startTestCluster(t, { replicas: 2, synchronous: true, settings: { wal_retrieve_retry_interval: '200ms' } });
  const shard = cluster.shards[0]!;
  const [oldPrimary, replica1, replica2] = [shard.primary, shard.replicas[0]!, shard.replicas[1]!];
  const nodes = [oldPrimary, replica1, replica2];
  await oldPrimary.sql('CREATE TABLE w (proxy text NOT NULL, seq int NOT NULL, PRIMARY KEY (proxy, seq)); GRANT ALL ON w TO app', DATABASE);
  t.comment(`cluster and etcd up after ${elapsed()}`);

  const options = (name: string): ProxyOptions => ({
    health: { intervalMs: CHECK_INTERVAL_MS, timeoutMs: 500, failuresBeforeDown: 3, user: 'admin' },
    failover: { user: 'admin', replication: 'sync', waitMs: 20_000, promoteTimeoutMs: 10_000 },
    reads: { consistency: 'strong' },
    coordination: { kind: 'etcd', endpoints: [etcd.endpoint], leaseTtlMs: LEASE_TTL_MS, prefix: PREFIX },
    stateDir: join(cluster.dir, `state-${name}`),
    captureLogs: true,
  });

  const proxies: Named[] = [];
  const sampler = new FailoverSampler(() => proxies);
  t.teardown(() => sampler.stop());
  const writers: TaggedWriter[] = [];
  t.teardown(() => Promise.all(writers.map((w) => w.stop())));
  const allLogs = (): string => proxies.map((p) => failoverLog(p)).join('\n');

  // A alone first, so that it wins the lease; only A is armed to die at the control point.
  const a: Named = { name: 'A', proc: await startProxyProcess(t, cluster, options('A'), { PGSHARD_CONTROL_POINTS: point }) };
  proxies.push(a);
  await waitUntil('proxy A leads', async () => (await sampler.sample(a))?.leader === true, 10_000);
  const [b, c] = await Promise.all(
    ['B', 'C'].map(async (name): Promise<Named> => ({ name, proc: await startProxyProcess(t, cluster, options(name)) })),
  );
  proxies.push(b!, c!);
  const survivors = [b!, c!];
  for (const p of survivors) p.proc.onCrash((d) => t.fail(`proxy ${p.name} crashed: ${d}`));
  sampler.start();
  t.comment(`three proxies up after ${elapsed()}`);

  await t.test('(a) exactly one proxy leads', async (t) => {
    // Over more than a lease TTL: keep-alives keep A leading, nobody else claims it.
    for (let i = 0; i < 12; i++) {
      const rows = await Promise.all(proxies.map((p) => sampler.sample(p)));
      t.ok(rows.every((r) => r !== null), `every proxy answers SHOW FAILOVER (sample ${i})`);
      t.same(rows.filter((r) => r?.leader === true).map((r) => r?.source), ['A'], `A and only A leads (sample ${i})`);
      await sleep(200);
    }
  });

  for (const p of proxies) {
    const w = new TaggedWriter(p.name, p.proc.clientConfig('app'));
    writers.push(w);
    w.start();
  }
  await waitUntil('writes flow through every proxy', () => writers.every((w) => w.acked.length >= 30), 15_000).catch((err: unknown) => {
    throw new Error(`${errText(err)}: ${writers.map((w) => `${w.tag}: ${w.errors.slice(-2).join(' | ')}`).join('; ')}`);
  });

  await oldPrimary.kill9();
  // After kill9() returned: every process of the old primary is gone.
  const killedAt = Date.now();
  t.comment(`primary killed after ${elapsed()}`);

  let promotedByA: PgNode | undefined;
  let finalPrimary: PgNode | undefined;

  await t.test(`(b) the leader dies at ${point}; another proxy completes the failover`, async (t) => {
    await waitUntil('A to exit', () => !a.proc.alive(), 20_000).catch((err: unknown) => {
      throw new Error(`${errText(err)}\n${failoverLog(a)}`);
    });
    t.equal((await a.proc.exited).signal, 'SIGKILL', `A died at the control point ${point}`);
    const diedAt = Date.now();
    // Before anyone else can lead (the dead leader's lease lives up to its TTL): what A left behind.
    const after = await Promise.all([replica1, replica2].map(async (n) => ({ n, s: await nodeState(n) })));
    promotedByA = after.find((x) => !x.s.inRecovery)?.n;
    const aPromotions = promotionsInLog(a.proc.stderr());
    const orphan = [...committed].reverse().find((r) => r.primary === null);
    t.ok(orphan !== undefined && orphan.fenced.includes(idOf(oldPrimary)), `A published term ${orphan?.term} without a primary, the old primary fenced`);
    if (promoting) {
      t.equal(aPromotions.length, 1, `A's log shows one completed promotion: ${JSON.stringify(aPromotions)}`);
      t.ok(promotedByA !== undefined && aPromotions[0]?.node === idOf(promotedByA), `the node A promoted is out of recovery (${promotedByA?.name ?? 'none'})`);
      t.equal(aPromotions[0]?.term, orphan?.term, 'in the term it published');
    } else {
      t.same(aPromotions, [], 'A promoted nothing');
      t.equal(promotedByA, undefined, 'both replicas are still in recovery');
    }
    t.comment(`A died ${diedAt - killedAt} ms after the kill; it had promoted ${promotedByA?.name ?? 'nothing'} in term ${orphan?.term ?? '?'}`);

    await waitUntil(
      'another proxy leads and both survivors route to one new primary',
      async () => {
        const rows = await Promise.all(survivors.map((p) => sampler.sample(p)));
        if (rows.some((r) => r === null) || rows.filter((r) => r!.leader).length !== 1) return false;
        const [x, y] = rows as Seen[];
        return x!.primary !== null && x!.primary !== idOf(oldPrimary) && x!.primary === y!.primary && x!.term === y!.term && ['done', 'normal', 'repointing'].includes(x!.phase);
      },
      30_000,
    ).catch((err: unknown) => {
      throw new Error(`${errText(err)}\n${allLogs()}`);
    });
    const status = (await sampler.sample(b!))!;
    finalPrimary = nodes.find((n) => idOf(n) === status.primary);
    const newLeader = (await Promise.all(survivors.map((p) => sampler.sample(p)))).find((r) => r?.leader === true)?.source;
    t.ok(finalPrimary !== undefined, `the survivors route to ${finalPrimary?.name} in term ${status.term}, leader ${newLeader}`);
    if (promoting) {
      // A's promotion stands: the new leader adopts it in A's term rather than promoting another node.
      t.equal(finalPrimary, promotedByA, `the new leader took over ${promotedByA?.name ?? 'nothing'}, the node A promoted`);
      t.equal(status.term, orphan?.term, 'in the term A promoted it in');
    } else {
      t.ok(finalPrimary === replica1 || finalPrimary === replica2, 'the new leader promoted a replica');
      t.equal(status.term, (orphan?.term ?? 0) + 1, 'in the term after the one A published');
    }
    const leaderAt = sampler.seen.find((s) => s.source !== 'A' && s.leader)?.at ?? 0;
    t.comment(`new leader seen ${leaderAt - diedAt} ms after A died; failover complete ${Date.now() - killedAt} ms after the kill`);
    const stored = (await raw.getAll().prefix(`${PREFIX}/topology/`).json()) as Record<string, unknown>;
    const record = parseShardTopology(stored[`${PREFIX}/topology/${SHARD_KEY}`]);
    t.same(record === null ? null : { term: record.term, primary: record.primary }, { term: status.term, primary: status.primary }, 'etcd holds the decision the survivors follow');
    t.ok(record?.fenced.includes(idOf(oldPrimary)), 'the old primary is fenced in the record');
  });

  await t.test('(c) writes: every acknowledged row on the final primary, none on another node after the failover', async (t) => {
    if (finalPrimary === undefined) return t.fail('no final primary');
    const fp = finalPrimary;
    const mark = writers.map((w) => w.acked.length);
    await waitUntil('writes flow again through B and C', () => survivors.every((p) => {
      const i = writers.findIndex((w) => w.tag === p.name);
      return writers[i]!.acked.length >= mark[i]! + 30;
    }), 20_000).catch((err: unknown) => {
      throw new Error(`${errText(err)}: ${writers.map((w) => `${w.tag}: ${w.errors.slice(-2).join(' | ')}`).join('; ')}\n${allLogs()}`);
    });
    const firstAfter = writers.flatMap((w) => w.ackedAt.filter((at) => at > killedAt)).sort((x, y) => x - y)[0];
    t.comment(`first write acknowledged ${(firstAfter ?? killedAt) - killedAt} ms after the kill`);

    // The old primary comes back: the leader fences it (read-only) and it never takes a routed write.
    await oldPrimary.start();
    await waitUntil('the restarted old primary is fenced', async () => (await nodeState(oldPrimary)).readOnly, 15_000).catch((err: unknown) => {
      throw new Error(`${errText(err)}\n${allLogs()}`);
    });
    const others = nodes.filter((n) => n !== fp);
    // Nodes that are not replicas of the final primary: their row count must not move any more.
    const standalone: PgNode[] = [];
    for (const n of others) if (!(await nodeState(n)).inRecovery) standalone.push(n);
    const before = await Promise.all(standalone.map(countRows));
    const mark2 = writers.map((w) => w.acked.length);
    await waitUntil('more writes through B and C', () => survivors.every((p) => {
      const i = writers.findIndex((w) => w.tag === p.name);
      return writers[i]!.acked.length >= mark2[i]! + 30;
    }), 15_000);
    const afterCounts = await Promise.all(standalone.map(countRows));
    t.same(afterCounts, before, `no write reached ${standalone.map((n) => n.name).join(', ') || 'another node'} (counts ${before.join(', ')})`);

    await Promise.all(writers.map((w) => w.stop()));
    const rows = await fp.sql('SELECT proxy, seq FROM w', DATABASE);
    const present = new Set(rows.map((r) => `${String(r['proxy'])}/${String(r['seq'])}`));
    for (const w of writers) {
      const missing = w.acked.filter((seq) => !present.has(`${w.tag}/${seq}`));
      t.same(missing, [], `all ${w.acked.length} rows acknowledged through ${w.tag} are on ${fp.name}`);
    }
    // A row on a node out of recovery that the final primary lacks was written to a second primary.
    for (const n of standalone.filter((x) => x !== oldPrimary)) {
      const extra = (await n.sql('SELECT proxy, seq FROM w', DATABASE)).filter((r) => !present.has(`${String(r['proxy'])}/${String(r['seq'])}`));
      t.same(extra, [], `${n.name} holds no row the final primary lacks`);
    }
  });

  await t.test('one primary per term, terms only grow, one writable node', async (t) => {
    await sampler.stop();
    const fp = finalPrimary;
    const byTerm = new Map<number, Set<string>>();
    const add = (term: number, primary: string | null, what: string): void => {
      if (primary === null) return;
      const set = byTerm.get(term) ?? new Set<string>();
      set.add(`${primary} (${what})`);
      byTerm.set(term, set);
    };
    for (const s of sampler.seen) add(s.term, s.primary, `SHOW FAILOVER on ${s.source}`);
    for (const r of committed) add(r.term, r.primary, 'etcd');
    for (const p of promotionsInLog(a.proc.stderr())) add(p.term, p.node, 'promoted by A');
    for (const p of survivors) for (const pr of promotionsInLog(p.proc.stderr())) add(pr.term, pr.node, `promoted by ${p.name}`);
    for (const [term, set] of [...byTerm].sort((x, y) => x[0] - y[0])) {
      const primaries = new Set([...set].map((s) => s.split(' ')[0]));
      t.equal(primaries.size, 1, `term ${term}: one primary (${[...set].join(', ')})`);
    }
    for (const source of ['A', 'B', 'C']) {
      const terms = sampler.seen.filter((s) => s.source === source).map((s) => s.term);
      t.ok(terms.every((x, i) => i === 0 || terms[i - 1]! <= x), `terms seen on ${source} never go back (${[...new Set(terms)].join(' → ')})`);
    }
    const etcdTerms = committed.map((r) => r.term);
    t.ok(etcdTerms.length > 0 && etcdTerms.every((x, i) => i === 0 || etcdTerms[i - 1]! <= x), `terms committed to etcd never go back (${etcdTerms.join(' → ')})`);
    t.ok(sampler.seen.some((s) => s.source !== 'A' && s.leader), 'a surviving proxy became the leader');

    const states = await Promise.all(nodes.map(async (n) => ({ n, s: await nodeState(n) })));
    const writable = states.filter((x) => !x.s.inRecovery && !x.s.readOnly).map((x) => x.n);
    t.same(writable.map((n) => n.name), fp === undefined ? [] : [fp.name], `exactly one node is out of recovery and not fenced: the final primary (${states.map((x) => `${x.n.name}: ${x.s.inRecovery ? 'replica' : 'primary'}${x.s.readOnly ? ', read-only' : ''}`).join('; ')})`);
    if (promotedByA !== undefined && promotedByA !== fp) {
      const s = states.find((x) => x.n === promotedByA)!.s;
      t.ok(s.inRecovery || s.readOnly, `${promotedByA.name}, promoted by A, is fenced or a replica again`);
    }
    t.comment(`whole test ${elapsed()}`);
  });
};

void t.test('three proxies, one etcd: the leader dies after its promotion (failover-after-promote)', scenario('failover-after-promote'));
void t.test('three proxies, one etcd: the leader dies before its promotion (failover-after-publish)', scenario('failover-after-publish'));
