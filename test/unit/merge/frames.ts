// Test support for the merge unit tests: result frames built by hand (with the protocol test byte
// builders, independent of proxy/), a decoder for what the merge sends, a seeded random source, and
// a driver that plays the executor: it feeds every shard's frames to a MergeStream in a random
// interleaving, honours wants(), drains at random moments, and scribbles over each input buffer
// after the call (the merge must have copied what it keeps).
import { MergeStream, type MergeOptions } from '../../../proxy/executor/merge/merge-stream.js';
import type { Merge } from '../../../planner/plan.js';
import { cstr, i16, i32, typed, u32 } from '../../helpers/wire-bytes.js';

export const OID = {
  bool: 16,
  bytea: 17,
  int8: 20,
  int2: 21,
  int4: 23,
  text: 25,
  json: 114,
  float4: 700,
  float8: 701,
  varchar: 1043,
  bpchar: 1042,
  date: 1082,
  timestamp: 1114,
  timestamptz: 1184,
  interval: 1186,
  numeric: 1700,
  uuid: 2950,
} as const;

export interface Column {
  name: string;
  oid: number;
  format?: 0 | 1;
  typlen?: number;
  typmod?: number;
  tableOid?: number;
  attnum?: number;
}

/** RowDescription: Int16 count, then per field name, table OID, attnum, type OID, typlen, typmod, format. */
export function rowDescription(columns: readonly Column[]): Buffer {
  return typed(
    'T',
    i16(columns.length),
    ...columns.flatMap((c) => [
      cstr(c.name),
      u32(c.tableOid ?? 16384),
      i16(c.attnum ?? 1),
      u32(c.oid),
      i16(c.typlen ?? -1),
      i32(c.typmod ?? -1),
      i16(c.format ?? 0),
    ]),
  );
}

export type Field = string | Buffer | null;

/** DataRow: Int16 count, then per field Int32 length (-1 NULL) and the bytes. */
export function dataRow(values: readonly Field[]): Buffer {
  return typed(
    'D',
    i16(values.length),
    ...values.flatMap((v) => {
      if (v === null) return [i32(-1)];
      const b = typeof v === 'string' ? Buffer.from(v, 'utf8') : v;
      return [i32(b.length), b];
    }),
  );
}

/** Decodes DataRow frames into fields (text as strings, or raw Buffers when `binary`). */
export function decodeRows(frames: readonly Buffer[], binary = false): (string | Buffer | null)[][] {
  return frames.map((f) => {
    if (f[0] !== 0x44) throw new Error(`not a DataRow: ${f[0]}`);
    if (f.readInt32BE(1) !== f.length - 1) throw new Error('DataRow length mismatch');
    const n = f.readInt16BE(5);
    const out: (string | Buffer | null)[] = [];
    let pos = 7;
    for (let i = 0; i < n; i++) {
      const len = f.readInt32BE(pos);
      pos += 4;
      if (len < 0) out.push(null);
      else {
        const bytes = Buffer.from(f.subarray(pos, pos + len));
        out.push(binary ? bytes : bytes.toString('utf8'));
        pos += len;
      }
    }
    if (pos !== f.length) throw new Error('DataRow trailing bytes');
    return out;
  });
}

export function binInt8(v: bigint | number): Buffer {
  const b = Buffer.alloc(8);
  b.writeBigInt64BE(BigInt(v));
  return b;
}
export function binInt4(v: number): Buffer {
  const b = Buffer.alloc(4);
  b.writeInt32BE(v);
  return b;
}
export function binInt2(v: number): Buffer {
  const b = Buffer.alloc(2);
  b.writeInt16BE(v);
  return b;
}
export function binFloat8(v: number): Buffer {
  const b = Buffer.alloc(8);
  b.writeDoubleBE(v);
  return b;
}

/** xorshift32: deterministic test input. */
export class Rng {
  constructor(private state: number) {
    if (this.state === 0) this.state = 1;
  }
  next(): number {
    let x = this.state;
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    this.state = x >>> 0;
    return this.state;
  }
  int(lo: number, hi: number): number {
    return lo + (this.next() % (hi - lo + 1));
  }
  chance(p: number): boolean {
    return this.next() / 0x100000000 < p;
  }
  pick<T>(xs: readonly T[]): T {
    return xs[this.next() % xs.length]!;
  }
  shuffle<T>(xs: T[]): T[] {
    for (let i = xs.length - 1; i > 0; i--) {
      const j = this.next() % (i + 1);
      [xs[i], xs[j]] = [xs[j]!, xs[i]!];
    }
    return xs;
  }
}

export interface ShardResult {
  description: Buffer;
  rows: readonly Buffer[];
}

export interface MergeRun {
  stream: MergeStream;
  description: Buffer;
  /** Emitted frames as handed out (views, not copies: they must stay intact until the end). */
  frames: Buffer[];
  /** Whether every shard was fed to its end (false when the LIMIT stopped the run early). */
  fedAll: boolean;
}

export const DEFAULT_OPTIONS: Omit<MergeOptions, 'shards'> = {
  rowsMax: 1_000_000,
  bytesMax: 256 * 1024 * 1024,
  params: null,
  textOrder: 'bytes',
};

/**
 * Plays the executor: every shard's RowDescription, rows and end in a random interleaving. A row
 * frame is embedded in a larger buffer that is overwritten right after row() returns. Stops early
 * once the stream says the LIMIT is reached (as the executor would cancel), when `stopAtLimit`.
 */
export function runMerge(
  spec: Merge,
  shards: readonly ShardResult[],
  rng: Rng,
  options: Partial<MergeOptions> = {},
  stopAtLimit = true,
): MergeRun {
  const stream = new MergeStream(spec, { ...DEFAULT_OPTIONS, ...options, shards: shards.length });
  const frames: Buffer[] = [];
  const sink = (buf: Buffer, start: number, end: number): void => {
    frames.push(buf.subarray(start, end));
  };
  const drain = (): void => (rng.chance(0.5) ? stream.drainRanges(sink) : stream.drain((f) => frames.push(f)));
  // -1: RowDescription next; 0..n-1: that row next; n: end next; n + 1: finished.
  const pos = shards.map(() => -1);
  let describedAll = false;
  let fedAll = true;
  for (;;) {
    const open = shards.map((_, s) => s).filter((s) => pos[s]! <= shards[s]!.rows.length);
    if (open.length === 0) break;
    if (stopAtLimit && stream.limitReached && stream.ready) {
      fedAll = false;
      break;
    }
    const able = open.filter((s) => pos[s]! < 0 || pos[s]! >= shards[s]!.rows.length || stream.wants(s));
    if (able.length === 0) {
      drain();
      const again = open.filter((s) => stream.wants(s));
      if (again.length === 0) throw new Error('merge stalled: no shard wanted and draining freed nothing');
      continue;
    }
    const s = rng.pick(able);
    const shard = shards[s]!;
    const p = pos[s]!;
    if (p < 0) {
      stream.describe(s, Buffer.from(shard.description));
    } else if (p < shard.rows.length) {
      const frame = shard.rows[p]!;
      const before = rng.int(0, 16);
      const chunk = Buffer.alloc(before + frame.length + rng.int(0, 16), 0x44);
      frame.copy(chunk, before);
      stream.row(s, chunk, before, before + frame.length);
      chunk.fill(0xee);
    } else {
      stream.end(s);
    }
    pos[s] = p + 1;
    if (!describedAll && stream.ready) describedAll = true;
    if (describedAll && rng.chance(0.3)) drain();
  }
  drain();
  return { stream, description: stream.rowDescription(), frames, fedAll };
}

/** A Merge with defaults for what a test does not set. */
export function merge(partial: Partial<Merge>): Merge {
  return { hiddenColumns: 0, aggregate: null, distinct: false, orderBy: [], limit: null, offset: null, ...partial };
}
