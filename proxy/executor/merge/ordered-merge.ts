// Streaming k-way merge of per-shard row queues that are each already in ORDER BY order (every
// shard runs the ORDER BY itself). A row can go out only once every shard that has not finished has
// a row queued (the smallest of those heads is then the smallest row still to come). Owns the
// choice of the next shard only: the queues are row-queue.ts's, and what happens to the row the
// caller's. A binary min-heap of shard indexes keyed by their head rows, ties broken by shard index
// so equal rows come out in a deterministic order; O(log k) comparisons per row, no allocation.

import { compareRows, type RowQueue } from './row-queue.js';

export class OrderedMerge {
  /** Shards with at least one queued row, as a heap on their head rows. */
  private readonly heap: Int32Array;
  private heapSize = 0;
  private readonly inHeap: Uint8Array;
  private readonly ended: Uint8Array;
  /** Shards neither ended nor with a queued row: while any, nothing can be emitted. */
  private waiting: number;

  constructor(private readonly queues: readonly RowQueue[]) {
    this.heap = new Int32Array(queues.length);
    this.inHeap = new Uint8Array(queues.length);
    this.ended = new Uint8Array(queues.length);
    this.waiting = queues.length;
  }

  /** A row was queued for shard s (call after every push). */
  pushed(s: number): void {
    if (this.inHeap[s] === 1) return;
    this.inHeap[s] = 1;
    if (this.ended[s] === 0) this.waiting--;
    this.heap[this.heapSize] = s;
    this.siftUp(this.heapSize++);
  }

  /** Shard s sent its last row. */
  shardEnded(s: number): void {
    if (this.ended[s] === 1) return;
    this.ended[s] = 1;
    if (this.inHeap[s] === 0) this.waiting--;
  }

  /** The shard whose head row goes out next, or -1 when some unfinished shard has no row queued yet. */
  next(): number {
    if (this.waiting > 0 || this.heapSize === 0) return -1;
    return this.heap[0]!;
  }

  /** The head row of shard s (the one next() returned) was taken off its queue. */
  advanced(s: number): void {
    if (this.queues[s]!.size > 0) {
      this.siftDown(0);
      return;
    }
    this.inHeap[s] = 0;
    const last = this.heap[--this.heapSize]!;
    if (this.heapSize > 0) {
      this.heap[0] = last;
      this.siftDown(0);
    }
    if (this.ended[s] === 0) this.waiting++;
  }

  /** Whether every shard ended and every queued row was taken. */
  get exhausted(): boolean {
    return this.heapSize === 0 && this.waiting === 0;
  }

  private less(x: number, y: number): boolean {
    const qx = this.queues[x]!;
    const qy = this.queues[y]!;
    const c = compareRows(qx, qx.head, qy, qy.head);
    return c < 0 || (c === 0 && x < y);
  }

  private siftUp(i: number): void {
    const heap = this.heap;
    const item = heap[i]!;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      const p = heap[parent]!;
      if (!this.less(item, p)) break;
      heap[i] = p;
      i = parent;
    }
    heap[i] = item;
  }

  private siftDown(i: number): void {
    const heap = this.heap;
    const n = this.heapSize;
    const item = heap[i]!;
    for (;;) {
      let child = 2 * i + 1;
      if (child >= n) break;
      if (child + 1 < n && this.less(heap[child + 1]!, heap[child]!)) child++;
      if (!this.less(heap[child]!, item)) break;
      heap[i] = heap[child]!;
      i = child;
    }
    heap[i] = item;
  }
}
