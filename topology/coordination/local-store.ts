// The topology store of a single proxy: `<state.dir>/topology.json`, replaced atomically on every
// publish (temp file, fsync, rename, fsync of the directory), so that after a crash the proxy restarts
// from either the previous decision or the new one, never from a torn file. This proxy is always the
// leader: nobody else may write the state directory (several proxies coordinate through etcd).
//
// Watchers hear of every change, in publish order; republishing the record already stored changes
// nothing, writes nothing and notifies nobody (as with etcd, where it commits no new revision).

import { mkdir, readdir, readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import type { Logger } from '../../proxy/logger.js';
import { writeFileAtomically } from '../sharding/rules-store.js';
import { parseShardTopology, sameTopology, type PublishOutcome, type ShardTopology, type TopologyStore } from './topology-store.js';

export const TOPOLOGY_FILE_NAME = 'topology.json';
const FORMAT_VERSION = 1;
/** writeFileAtomically's temp files are `<file>.tmp-<pid>-<random>`. */
const TEMP_INFIX = '.tmp-';

interface TopologyFile {
  readonly version: number;
  readonly shards: Record<string, ShardTopology>;
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

async function readRecords(file: string): Promise<Map<string, ShardTopology>> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return new Map();
    throw err;
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (err) {
    throw new Error(`${file}: not valid JSON (${err instanceof Error ? err.message : String(err)})`);
  }
  if (!isRecord(parsed) || parsed['version'] !== FORMAT_VERSION || !isRecord(parsed['shards'])) {
    throw new Error(`${file}: expected {"version": ${FORMAT_VERSION}, "shards": {...}}`);
  }
  const records = new Map<string, ShardTopology>();
  for (const [shard, value] of Object.entries(parsed['shards'])) {
    const record = parseShardTopology(value);
    if (record === null) throw new Error(`${file}: shard ${JSON.stringify(shard)}: invalid topology record (expected {term, primary, fenced})`);
    records.set(shard, record);
  }
  return records;
}

function serialize(records: ReadonlyMap<string, ShardTopology>): string {
  const shards: Record<string, ShardTopology> = {};
  for (const [shard, r] of [...records].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) {
    shards[shard] = { term: r.term, primary: r.primary, fenced: [...r.fenced], ...(r.candidate != null ? { candidate: r.candidate } : {}) };
  }
  const file: TopologyFile = { version: FORMAT_VERSION, shards };
  return `${JSON.stringify(file, null, 2)}\n`;
}

export class LocalTopologyStore implements TopologyStore {
  private readonly watchers = new Set<(shard: string, record: ShardTopology) => void>();
  /** Publishes run one at a time: each one's stale check must see the previous one's result. */
  private queue: Promise<unknown> = Promise.resolve();
  private closed = false;

  private constructor(
    readonly file: string,
    private records: ReadonlyMap<string, ShardTopology>,
    private readonly log: Logger | undefined,
  ) {}

  /** Reads `<dir>/topology.json` (absent = nothing published yet); a corrupt file is an error naming it. */
  static async open(dir: string, log?: Logger): Promise<LocalTopologyStore> {
    await mkdir(dir, { recursive: true });
    const file = join(dir, TOPOLOGY_FILE_NAME);
    // A crash between writing a temp file and renaming it leaves the temp file: never the truth.
    for (const name of await readdir(dir)) {
      if (name.startsWith(`${TOPOLOGY_FILE_NAME}${TEMP_INFIX}`)) await rm(join(dir, name), { force: true }).catch(() => undefined);
    }
    return new LocalTopologyStore(file, await readRecords(file), log);
  }

  load(): Promise<Map<string, ShardTopology>> {
    return Promise.resolve(new Map(this.records));
  }

  publish(shard: string, record: ShardTopology): Promise<PublishOutcome> {
    const run = this.queue.then(() => this.publishNow(shard, record));
    this.queue = run.catch(() => undefined);
    return run;
  }

  private async publishNow(shard: string, record: ShardTopology): Promise<PublishOutcome> {
    if (this.closed) throw new Error('topology store is closed');
    if (shard.length === 0) throw new Error('publish: empty shard key');
    const checked = parseShardTopology(record);
    if (checked === null) throw new Error(`publish: invalid topology record for shard ${JSON.stringify(shard)}`);
    const current = this.records.get(shard);
    if (current !== undefined) {
      if (sameTopology(current, checked)) return { kind: 'published' };
      if (current.term > checked.term) return { kind: 'stale', current };
    }
    const next = new Map(this.records);
    next.set(shard, checked);
    await writeFileAtomically(this.file, serialize(next));
    this.records = next;
    for (const fn of this.watchers) {
      try {
        fn(shard, checked);
      } catch (err) {
        // One failing subscriber must not hide the record from the others.
        this.log?.error({ shard, err: err instanceof Error ? err.message : String(err) }, 'topology store: a watcher threw');
      }
    }
    return { kind: 'published' };
  }

  watch(fn: (shard: string, record: ShardTopology) => void): () => void {
    this.watchers.add(fn);
    return () => {
      this.watchers.delete(fn);
    };
  }

  isLeader(): boolean {
    return true;
  }

  onLeadership(_fn: (leader: boolean) => void): () => void {
    // Leadership of a single proxy never changes while it runs.
    return () => undefined;
  }

  async close(): Promise<void> {
    this.closed = true;
    this.watchers.clear();
    await this.queue;
  }
}
