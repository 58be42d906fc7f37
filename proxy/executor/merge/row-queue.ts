// Rows the merge holds, first in first out, each with its sort keys parsed once when it arrives.
// A shard's queue in the ordered merge, and the buffer of finished rows that are sorted after an
// aggregation. Owns storage and the row comparison; which row goes out when is ordered-merge.ts's
// and merge-stream.ts's business.
// Storage is flat to avoid allocating per row: the frames are copied into 64 KiB arena chunks that
// are never written again once a row is in them (so a row handed to the executor stays valid until
// it is written), and slots live in ring-indexed typed arrays: numbers in a Float64Array, exact
// values (bigints, decimals, collated strings) in a plain array, text by offset and length into the
// row's own bytes (compared with Buffer#compare, no decoding).

import { assertNever } from '../../../planner/assert-never.js';
import { compareDecimal, type Decimal } from './decimal.js';
import { truncateDataRow } from './row-codec.js';
import { compareScalar, comparedEnd, decimalOf, scalarOf, type Collation, type Scalar } from './text-values.js';
import type { ValueType } from './value-types.js';

/** One ORDER BY key resolved against the result's columns. */
export interface SortKeySpec {
  /** Column index in the shard rows (hidden columns follow the visible ones). */
  readonly column: number;
  readonly type: ValueType;
  readonly descending: boolean;
  /** Where NULLs go, whatever the direction (already defaulted by the planner). */
  readonly nullsFirst: boolean;
  /** The collator of a 'collated' key (the database's, or the key's own COLLATE); null otherwise. */
  readonly collation: Collation | null;
}

const ARENA_BYTES = 64 * 1024;
/** Rows larger than this get a buffer of their own rather than a slice of a chunk. */
const OWN_BUFFER_BYTES = 16 * 1024;
const INITIAL_CAPACITY = 16;

// Per key and slot: how the key is held.
const KEY_NULL = 0;
const KEY_NUM = 1;
const KEY_OBJ = 2;
const KEY_BYTES = 3;

export class RowQueue {
  /** Physical slot of the first row; slots are indexed modulo the (power of two) capacity. */
  head = 0;
  size = 0;
  /** Bytes of the frames held (for the budget). */
  heldBytes = 0;

  private mask: number;
  bufs: (Buffer | undefined)[];
  starts: Int32Array;
  /** End of the frame as sent on: the full frame, or where the hidden columns begin. */
  ends: Int32Array;
  /** Length of the whole frame copied (hidden columns included), as counted in heldBytes. */
  lengths: Int32Array;
  readonly flags: Uint8Array[] = [];
  readonly nums: Float64Array[] = [];
  readonly objs: unknown[][] = [];
  readonly offs: Int32Array[] = [];
  readonly lens: Int32Array[] = [];

  private arena: Buffer = Buffer.allocUnsafe(0);
  private arenaPos = 0;

  constructor(readonly keys: readonly SortKeySpec[]) {
    const capacity = INITIAL_CAPACITY;
    this.mask = capacity - 1;
    this.bufs = new Array<Buffer | undefined>(capacity);
    this.starts = new Int32Array(capacity);
    this.ends = new Int32Array(capacity);
    this.lengths = new Int32Array(capacity);
    for (let k = 0; k < keys.length; k++) {
      this.flags.push(new Uint8Array(capacity));
      this.nums.push(new Float64Array(capacity));
      this.objs.push(new Array<unknown>(capacity));
      this.offs.push(new Int32Array(capacity));
      this.lens.push(new Int32Array(capacity));
    }
  }

  /** Physical slot of the i-th queued row (0: the head). */
  slot(i: number): number {
    return (this.head + i) & this.mask;
  }

  /**
   * Queues the DataRow src[start, end). `fields` is its layout from readDataRow (offsets into src);
   * `visibleEnd`/`visible` describe the frame without hidden columns (visibleEnd === end: none).
   * With `own`, src is a buffer nobody else writes to and is kept as is instead of copied.
   */
  push(src: Buffer, start: number, end: number, fields: Int32Array, visibleEnd: number, visible: number, own = false): void {
    if (this.size === this.mask + 1) this.grow();
    const slot = (this.head + this.size) & this.mask;
    const length = end - start;
    let buf: Buffer;
    let at: number;
    if (own) {
      buf = src;
      at = start;
    } else if (length > OWN_BUFFER_BYTES) {
      buf = Buffer.allocUnsafe(length);
      src.copy(buf, 0, start, end);
      at = 0;
    } else {
      if (this.arenaPos + length > this.arena.length) {
        this.arena = Buffer.allocUnsafe(ARENA_BYTES);
        this.arenaPos = 0;
      }
      buf = this.arena;
      at = this.arenaPos;
      src.copy(buf, at, start, end);
      this.arenaPos += length;
    }
    const delta = at - start;
    if (visibleEnd !== end) truncateDataRow(buf, at, visibleEnd + delta, visible);
    this.bufs[slot] = buf;
    this.starts[slot] = at;
    this.ends[slot] = visibleEnd + delta;
    this.lengths[slot] = length;
    this.heldBytes += length;
    this.size++;
    const keys = this.keys;
    for (let k = 0; k < keys.length; k++) {
      const spec = keys[k]!;
      const fieldStart = fields[2 * spec.column]! + delta;
      const fieldLength = fields[2 * spec.column + 1]!;
      const flags = this.flags[k]!;
      if (fieldLength < 0) {
        flags[slot] = KEY_NULL;
        continue;
      }
      const t = spec.type;
      const fieldEnd = fieldStart + fieldLength;
      switch (t.key) {
        case 'scalar': {
          const v = scalarOf(t, buf, fieldStart, fieldEnd);
          if (typeof v === 'number') {
            flags[slot] = KEY_NUM;
            this.nums[k]![slot] = v;
          } else {
            flags[slot] = KEY_OBJ;
            this.objs[k]![slot] = v;
          }
          break;
        }
        case 'decimal':
          flags[slot] = KEY_OBJ;
          this.objs[k]![slot] = decimalOf(t, buf, fieldStart, fieldEnd);
          break;
        case 'bytes':
          flags[slot] = KEY_BYTES;
          this.offs[k]![slot] = fieldStart;
          this.lens[k]![slot] = comparedEnd(t, buf, fieldStart, fieldEnd) - fieldStart;
          break;
        case 'collated':
          flags[slot] = KEY_OBJ;
          this.objs[k]![slot] = buf.toString('utf8', fieldStart, comparedEnd(t, buf, fieldStart, fieldEnd));
          break;
        default:
          assertNever(t.key);
      }
    }
  }

  /**
   * Queues a reference to the row in `slot` of `other` (a queue with the same sort keys): its bytes
   * are shared, not copied, which is safe because queued bytes are never written again.
   */
  pushSlotFrom(other: RowQueue, slot: number): void {
    if (this.size === this.mask + 1) this.grow();
    const to = (this.head + this.size) & this.mask;
    this.bufs[to] = other.bufs[slot];
    this.starts[to] = other.starts[slot]!;
    this.ends[to] = other.ends[slot]!;
    this.lengths[to] = 0;
    for (let k = 0; k < this.keys.length; k++) {
      this.flags[k]![to] = other.flags[k]![slot]!;
      this.nums[k]![to] = other.nums[k]![slot]!;
      this.objs[k]![to] = other.objs[k]![slot];
      this.offs[k]![to] = other.offs[k]![slot]!;
      this.lens[k]![to] = other.lens[k]![slot]!;
    }
    this.size++;
  }

  /** Drops the head row (after it was sent on or discarded); returns its frame length. */
  shift(): number {
    const slot = this.head;
    const length = this.lengths[slot]!;
    this.bufs[slot] = undefined;
    for (let k = 0; k < this.keys.length; k++) {
      if (this.flags[k]![slot] === KEY_OBJ) this.objs[k]![slot] = undefined;
    }
    this.head = (this.head + 1) & this.mask;
    this.size--;
    this.heldBytes -= length;
    return length;
  }

  /** Drops every row. */
  clear(): void {
    while (this.size > 0) this.shift();
  }

  private grow(): void {
    const old = this.mask + 1;
    const capacity = old * 2;
    const order = (i: number): number => (this.head + i) & this.mask;
    const bufs = new Array<Buffer | undefined>(capacity);
    const starts = new Int32Array(capacity);
    const ends = new Int32Array(capacity);
    const lengths = new Int32Array(capacity);
    for (let i = 0; i < this.size; i++) {
      const s = order(i);
      bufs[i] = this.bufs[s];
      starts[i] = this.starts[s]!;
      ends[i] = this.ends[s]!;
      lengths[i] = this.lengths[s]!;
    }
    this.bufs = bufs;
    this.starts = starts;
    this.ends = ends;
    this.lengths = lengths;
    for (let k = 0; k < this.keys.length; k++) {
      const flags = new Uint8Array(capacity);
      const nums = new Float64Array(capacity);
      const objs = new Array<unknown>(capacity);
      const offs = new Int32Array(capacity);
      const lens = new Int32Array(capacity);
      for (let i = 0; i < this.size; i++) {
        const s = order(i);
        flags[i] = this.flags[k]![s]!;
        nums[i] = this.nums[k]![s]!;
        objs[i] = this.objs[k]![s];
        offs[i] = this.offs[k]![s]!;
        lens[i] = this.lens[k]![s]!;
      }
      this.flags[k] = flags;
      this.nums[k] = nums;
      this.objs[k] = objs;
      this.offs[k] = offs;
      this.lens[k] = lens;
    }
    this.head = 0;
    this.mask = capacity - 1;
  }
}

/**
 * Compares the row in slot sa of queue a with the row in slot sb of queue b by the queues' sort keys
 * (both queues must share them): -1, 0 or 1 in output order. NULLS FIRST/LAST is a position, not
 * flipped by DESC.
 */
export function compareRows(a: RowQueue, sa: number, b: RowQueue, sb: number): number {
  const keys = a.keys;
  for (let k = 0; k < keys.length; k++) {
    const spec = keys[k]!;
    const fa = a.flags[k]![sa]!;
    const fb = b.flags[k]![sb]!;
    if (fa === KEY_NULL || fb === KEY_NULL) {
      if (fa === fb) continue;
      return (fa === KEY_NULL) === spec.nullsFirst ? -1 : 1;
    }
    let c: number;
    switch (spec.type.key) {
      case 'scalar': {
        const x = fa === KEY_NUM ? a.nums[k]![sa]! : (a.objs[k]![sa] as Scalar);
        const y = fb === KEY_NUM ? b.nums[k]![sb]! : (b.objs[k]![sb] as Scalar);
        c = compareScalar(x, y);
        break;
      }
      case 'decimal':
        c = compareDecimal(a.objs[k]![sa] as Decimal, b.objs[k]![sb] as Decimal);
        break;
      case 'bytes': {
        const oa = a.offs[k]![sa]!;
        const ob = b.offs[k]![sb]!;
        c = a.bufs[sa]!.compare(b.bufs[sb]!, ob, ob + b.lens[k]![sb]!, oa, oa + a.lens[k]![sa]!);
        break;
      }
      case 'collated':
        c = spec.collation!.compare(a.objs[k]![sa] as string, b.objs[k]![sb] as string);
        break;
      default:
        assertNever(spec.type.key);
    }
    if (c !== 0) return spec.descending ? -c : c;
  }
  return 0;
}
