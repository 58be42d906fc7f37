// Throughput of the scatter-gather merge (proxy/executor/merge), no sockets: shard results are
// pre-built DataRow frames packed into 64 KiB chunks, fed the way the executor feeds them (a chunk
// at a time per shard, pausing a shard while wants() is false, draining after every chunk).
//   npx tsx bench/merge-bench.ts [--rows 1000000] [--rounds 5]
// Cases: a 4-shard ORDER BY on an int8 column (drainRanges, as the executor should call it, and
// drain with a Buffer per row), the same with a text key and a hidden sort column, and a 4-shard
// GROUP BY re-aggregation (count, sum(int8) → numeric, avg(int4) with its hidden count). Prints
// the median rows/s of the input side and the GC pauses of the run (allocation pressure).
import { PerformanceObserver } from 'node:perf_hooks';
import { MergeStream } from '../proxy/executor/merge/merge-stream.js';
import type { Merge } from '../planner/plan.js';
import { machineInfo, uptime } from './machine.js';

const argValue = (name: string, fallback: number): number => {
  const i = process.argv.indexOf(name);
  return i >= 0 ? Number(process.argv[i + 1]) : fallback;
};
const ROWS = argValue('--rows', 1_000_000);
const ROUNDS = argValue('--rounds', 5);
const SHARDS = 4;
const CHUNK_BYTES = 64 * 1024;

let state = 0x9e3779b9;
function rand32(): number {
  state ^= state << 13;
  state ^= state >>> 17;
  state ^= state << 5;
  return state >>> 0;
}

interface Field {
  oid: number;
  name: string;
}

function rowDescription(fields: readonly Field[]): Buffer {
  const parts = fields.map((f) => {
    const name = Buffer.from(`${f.name}\0`);
    const fixed = Buffer.alloc(18);
    fixed.writeUInt32BE(f.oid, 6);
    fixed.writeInt16BE(-1, 10);
    fixed.writeInt32BE(-1, 12);
    return Buffer.concat([name, fixed]);
  });
  const body = Buffer.concat([Buffer.from([fields.length >> 8, fields.length & 0xff]), ...parts]);
  const head = Buffer.alloc(5);
  head[0] = 0x54;
  head.writeInt32BE(body.length + 4, 1);
  return Buffer.concat([head, body]);
}

function dataRow(values: readonly string[]): Buffer {
  let length = 7;
  for (const v of values) length += 4 + Buffer.byteLength(v);
  const out = Buffer.alloc(length);
  out[0] = 0x44;
  out.writeInt32BE(length - 1, 1);
  out.writeUInt16BE(values.length, 5);
  let pos = 7;
  for (const v of values) {
    const n = out.write(v, pos + 4);
    out.writeInt32BE(n, pos);
    pos += 4 + n;
  }
  return out;
}

/** A shard's rows packed into chunks: [chunk, frame starts] as a socket read would deliver them. */
interface Chunk {
  buf: Buffer;
  starts: number[];
  ends: number[];
}

function pack(rows: readonly Buffer[]): Chunk[] {
  const chunks: Chunk[] = [];
  let current: Buffer[] = [];
  let size = 0;
  const flush = (): void => {
    const buf = Buffer.concat(current);
    const starts: number[] = [];
    const ends: number[] = [];
    let pos = 0;
    for (const r of current) {
      starts.push(pos);
      pos += r.length;
      ends.push(pos);
    }
    chunks.push({ buf, starts, ends });
    current = [];
    size = 0;
  };
  for (const r of rows) {
    if (size + r.length > CHUNK_BYTES) flush();
    current.push(r);
    size += r.length;
  }
  if (current.length > 0) flush();
  return chunks;
}

interface Case {
  name: string;
  spec: Merge;
  description: Buffer;
  shards: Chunk[][];
  rows: number;
  ranges: boolean;
}

/** Feeds every shard's chunks round-robin, pausing shards the merge does not want, draining after each chunk. */
function runOnce(c: Case): { ms: number; out: number } {
  const m = new MergeStream(c.spec, { shards: SHARDS, rowsMax: 10_000_000, bytesMax: 2 ** 31, params: null, textOrder: 'bytes' });
  let out = 0;
  const sinkRange = (_buf: Buffer, start: number, end: number): void => {
    out += end - start > 0 ? 1 : 0;
  };
  const sinkFrame = (f: Buffer): void => {
    out += f.length > 0 ? 1 : 0;
  };
  const t0 = process.hrtime.bigint();
  for (let s = 0; s < SHARDS; s++) m.describe(s, c.description);
  const chunkIndex = new Array<number>(SHARDS).fill(0);
  const rowIndex = new Array<number>(SHARDS).fill(0);
  let open = SHARDS;
  while (open > 0) {
    let progressed = false;
    for (let s = 0; s < SHARDS; s++) {
      const chunks = c.shards[s]!;
      if (chunkIndex[s]! >= chunks.length) continue;
      if (!m.wants(s)) continue;
      const chunk = chunks[chunkIndex[s]!]!;
      // The rest of this chunk (a paused socket resumes where it stopped).
      let i = rowIndex[s]!;
      for (; i < chunk.starts.length && m.wants(s); i++) m.row(s, chunk.buf, chunk.starts[i]!, chunk.ends[i]!);
      progressed = true;
      if (i === chunk.starts.length) {
        chunkIndex[s]!++;
        rowIndex[s] = 0;
        if (chunkIndex[s] === chunks.length) {
          m.end(s);
          open--;
        }
      } else rowIndex[s] = i;
      if (c.ranges) m.drainRanges(sinkRange);
      else m.drain(sinkFrame);
    }
    if (!progressed) {
      if (c.ranges) m.drainRanges(sinkRange);
      else m.drain(sinkFrame);
    }
  }
  if (c.ranges) m.drainRanges(sinkRange);
  else m.drain(sinkFrame);
  const ms = Number(process.hrtime.bigint() - t0) / 1e6;
  if (!m.done) throw new Error(`${c.name}: merge not done`);
  return { ms, out };
}

function orderedCase(name: string, ranges: boolean, text: boolean): Case {
  const perShard = ROWS / SHARDS;
  const shards: Chunk[][] = [];
  for (let s = 0; s < SHARDS; s++) {
    // Each shard's keys ascend with random gaps, so the shards interleave finely.
    let key = rand32() % 1000;
    const rows: Buffer[] = [];
    for (let i = 0; i < perShard; i++) {
      key += 1 + (rand32() % 7);
      const k = 1_000_000_000_000 + key;
      rows.push(text ? dataRow([String(i), `${s}-payload`, `k${String(k).padStart(16, '0')}`]) : dataRow([String(k), `${s}-payload-${i}`]));
    }
    shards.push(pack(rows));
  }
  const spec: Merge = {
    hiddenColumns: text ? 1 : 0,
    aggregate: null,
    distinct: false,
    orderBy: [{ column: text ? { hidden: true, index: 0 } : { hidden: false, index: 0 }, descending: false, nullsFirst: false }],
    limit: null,
    offset: null,
  };
  const fields = text
    ? [{ name: 'i', oid: 20 }, { name: 'p', oid: 25 }, { name: 'k', oid: 25 }]
    : [{ name: 'k', oid: 20 }, { name: 'p', oid: 25 }];
  return { name, spec, description: rowDescription(fields), shards, rows: ROWS, ranges };
}

function groupCase(groups: number): Case {
  const perShard = ROWS / SHARDS;
  const shards: Chunk[][] = [];
  for (let s = 0; s < SHARDS; s++) {
    const rows: Buffer[] = [];
    for (let i = 0; i < perShard; i++) {
      const g = rand32() % groups;
      const count = 1 + (rand32() % 100);
      rows.push(dataRow([String(g), String(count), String(BigInt(rand32()) * 1000003n), String(rand32() % 100000), String(count)]));
    }
    shards.push(pack(rows));
  }
  const spec: Merge = {
    hiddenColumns: 1,
    aggregate: {
      columns: [{ kind: 'group' }, { kind: 'count' }, { kind: 'sum' }, { kind: 'avg', count: { hidden: true, index: 0 } }, { kind: 'count' }],
      having: null,
    },
    distinct: false,
    orderBy: [{ column: { hidden: false, index: 0 }, descending: false, nullsFirst: false }],
    limit: null,
    offset: null,
  };
  const fields = [
    { name: 'g', oid: 23 },
    { name: 'count', oid: 20 },
    { name: 'sum', oid: 1700 },
    { name: 'avg', oid: 20 },
    { name: 'n', oid: 20 },
  ];
  return { name: `GROUP BY int4 (${groups} groups): count, sum(int8), avg(int4), ORDER BY g`, spec, description: rowDescription(fields), shards, rows: ROWS, ranges: true };
}

let gcCount = 0;
let gcMs = 0;
const observer = new PerformanceObserver((list) => {
  for (const e of list.getEntries()) {
    gcCount++;
    gcMs += e.duration;
  }
});
observer.observe({ entryTypes: ['gc'] });

const m = machineInfo();
console.log(`${m.cpus} × ${m.cpuModel}, ${m.memoryGiB} GiB, node ${m.node}; ${uptime()}`);
console.log(`${ROWS} input rows over ${SHARDS} shards, ${CHUNK_BYTES / 1024} KiB chunks, median of ${ROUNDS} rounds after a warm-up\n`);
console.log('| case | rows/s (median) | ms | rows out | GCs per round | GC ms per round |');
console.log('|---|---:|---:|---:|---:|---:|');
const cases: (() => Case)[] = [
  () => orderedCase('ORDER BY int8 (drainRanges)', true, false),
  () => orderedCase('ORDER BY int8 (drain, a Buffer per row)', false, false),
  () => orderedCase('ORDER BY hidden text column (drainRanges)', true, true),
  () => groupCase(1000),
  () => groupCase(100_000),
];
for (const make of cases) {
  const c = make();
  runOnce(c);
  // GC entries arrive asynchronously: let those of building the input and the warm-up pass first.
  await new Promise((resolve) => setTimeout(resolve, 50));
  const times: number[] = [];
  let out = 0;
  gcCount = 0;
  gcMs = 0;
  for (let r = 0; r < ROUNDS; r++) {
    const result = runOnce(c);
    times.push(result.ms);
    out = result.out;
  }
  await new Promise((resolve) => setTimeout(resolve, 10)); // let the GC observer report
  times.sort((a, b) => a - b);
  const ms = times[Math.floor(times.length / 2)]!;
  console.log(
    `| ${c.name} | ${Math.round((c.rows / ms) * 1000).toLocaleString('en-US')} | ${ms.toFixed(0)} | ${out} | ${(gcCount / ROUNDS).toFixed(1)} | ${(gcMs / ROUNDS).toFixed(1)} |`,
  );
}
observer.disconnect();
