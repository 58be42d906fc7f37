// The single-proxy topology store: records in <state.dir>/topology.json, replaced atomically, the
// publish rules of the TopologyStore interface (newer term wins, same record is idempotent, anything
// else is stale), watchers told after each change, the records found again after a reopen, and a
// corrupt file refused with an error naming the file and the shard.
import t from 'tap';
import { readFileSync } from 'node:fs';
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { LocalTopologyStore, TOPOLOGY_FILE_NAME } from '../../../topology/coordination/local-store.js';
import type { ShardTopology } from '../../../topology/coordination/topology-store.js';

async function stateDir(t: { teardown(fn: () => Promise<void>): void }): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'pgshard-topology-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

const rec = (term: number, primary: string | null, fenced: string[] = []): ShardTopology => ({ term, primary, fenced });

void t.test('no file yet: nothing published, and this proxy leads', async (t) => {
  const dir = join(await stateDir(t), 'nested');
  const store = await LocalTopologyStore.open(dir);
  t.teardown(() => store.close());
  t.same([...(await store.load())], []);
  t.equal(store.isLeader(), true);
  t.same(await readdir(dir), [], 'opening writes nothing');
});

void t.test('publish: newer and equal terms win, the same record is idempotent, a lower term is stale', async (t) => {
  const store = await LocalTopologyStore.open(await stateDir(t));
  t.teardown(() => store.close());
  t.same(await store.publish('app/shard0', rec(1, 'h0:5432')), { kind: 'published' });
  t.same(await store.publish('app/shard0', rec(1, 'h0:5432')), { kind: 'published' }, 'same record again');
  t.same(await store.publish('app/shard0', rec(1, 'h1:5432')), { kind: 'published' }, 'equal term: the leader revises its decision');
  t.same(await store.publish('app/shard0', rec(0, 'h0:5432')), { kind: 'stale', current: rec(1, 'h1:5432') }, 'lower term');
  t.same(await store.publish('app/shard0', rec(2, null, ['h0:5432'])), { kind: 'published' }, 'higher term');
  t.same(await store.publish('app/shard0', rec(3, 'h1:5432', ['h0:5432'])), { kind: 'published' });
  t.same(await store.publish('app/shard1', rec(1, 'h2:5432')), { kind: 'published' }, 'shards are independent');
  t.same(
    [...(await store.load())].sort(),
    [['app/shard0', rec(3, 'h1:5432', ['h0:5432'])], ['app/shard1', rec(1, 'h2:5432')]],
  );
  await t.rejects(store.publish('app/shard0', { term: -1, primary: null, fenced: [] }), /invalid topology record/);
  await t.rejects(store.publish('', rec(9, null)), /empty shard key/);
});

void t.test('watchers hear of each change after it is durable, in order', async (t) => {
  const dir = await stateDir(t);
  const store = await LocalTopologyStore.open(dir);
  t.teardown(() => store.close());
  const seen: [string, number, unknown][] = [];
  // Watchers run right after the rename: what the file holds then is what they were told.
  const onDisk = (shard: string): unknown => (JSON.parse(readFileSync(join(dir, TOPOLOGY_FILE_NAME), 'utf8')) as { shards: Record<string, ShardTopology> }).shards[shard]?.primary;
  const stop = store.watch((shard, r) => seen.push([shard, r.term, onDisk(shard)]));
  store.watch(() => {
    throw new Error('a broken watcher');
  });
  // Queued at once: they still run one after the other.
  const outcomes = await Promise.all([
    store.publish('app/shard0', rec(1, 'a')),
    store.publish('app/shard0', rec(2, 'b')),
    store.publish('app/shard0', rec(2, 'b')),
    store.publish('app/shard0', rec(1, 'c')),
    store.publish('app/shard1', rec(5, 'd')),
  ]);
  t.same(outcomes.map((o) => o.kind), ['published', 'published', 'published', 'stale', 'published']);
  t.same(seen, [['app/shard0', 1, 'a'], ['app/shard0', 2, 'b'], ['app/shard1', 5, 'd']], 'the file already held each record when its watcher ran; no event for a no-op');
  stop();
  await store.publish('app/shard0', rec(3, 'e'));
  t.equal(seen.length, 3, 'unsubscribed');
});

void t.test('records survive a reopen; the file is replaced whole', async (t) => {
  const dir = await stateDir(t);
  const first = await LocalTopologyStore.open(dir);
  await first.publish('app/shard0', rec(4, 'h1:5432', ['h0:5432']));
  await first.publish('other/s', rec(1, null));
  await first.publish('third/s', { term: 2, primary: null, fenced: ['h0:5432'], candidate: 'h1:5432' });
  await first.close();
  // What a crash between writing the temp file and renaming it leaves behind: never read.
  await writeFile(join(dir, `${TOPOLOGY_FILE_NAME}.tmp-1-deadbeef`), '{"version": 1, "shards": {"app/shard0": {"term": 99, "primary": "x", "fenced": []}}}');
  const again = await LocalTopologyStore.open(dir);
  t.teardown(() => again.close());
  t.same(
    await again.load(),
    new Map([
      ['app/shard0', rec(4, 'h1:5432', ['h0:5432'])],
      ['other/s', rec(1, null)],
      ['third/s', { term: 2, primary: null, fenced: ['h0:5432'], candidate: 'h1:5432' }],
    ]),
    'the candidate of a promotion under way survives too',
  );
  t.same(await readdir(dir), [TOPOLOGY_FILE_NAME], 'the leftover temp file is removed');
  t.same(await again.publish('app/shard0', rec(3, 'h2:5432')), { kind: 'stale', current: rec(4, 'h1:5432', ['h0:5432']) }, 'terms keep growing across restarts');
  const text = await readFile(join(dir, TOPOLOGY_FILE_NAME), 'utf8');
  t.same(JSON.parse(text), {
    version: 1,
    shards: { 'app/shard0': rec(4, 'h1:5432', ['h0:5432']), 'other/s': rec(1, null), 'third/s': { term: 2, primary: null, fenced: ['h0:5432'], candidate: 'h1:5432' } },
  });
});

void t.test('a corrupt file is refused, naming the file and the shard', async (t) => {
  const dir = await stateDir(t);
  const file = join(dir, TOPOLOGY_FILE_NAME);
  await writeFile(file, '{"version": 1, "shards": {"app/shard0": {"term": 1, "primary": "h", "fenced": []}, "app/shard1": {"term": "2", "primary": null, "fenced": []}}}');
  const openError = async (): Promise<string> => {
    try {
      await LocalTopologyStore.open(dir);
    } catch (err) {
      return err instanceof Error ? err.message : String(err);
    }
    return 'opened';
  };
  let message = await openError();
  t.ok(message.includes(file) && message.includes('"app/shard1"') && message.includes('invalid topology record'), message);
  await writeFile(file, '{"version": 1, "shards": ');
  message = await openError();
  t.ok(message.includes(file) && message.includes('not valid JSON'), message);
  await writeFile(file, '{"version": 2, "shards": {}}');
  message = await openError();
  t.ok(message.includes(file) && message.includes('"version": 1'), message);
});
