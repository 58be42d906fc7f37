// The scatter-gather merge the executor drives: shard result frames in, the frames one PostgreSQL
// holding every row would have sent out. Composes the pieces in the order the planner's Merge
// prescribes (aggregate, HAVING, DISTINCT, ORDER BY, OFFSET/LIMIT, hidden columns dropped); owns
// that composition, LIMIT/OFFSET and the per-shard queues' back-pressure, and nothing about I/O:
// the executor feeds frames, calls drain() and reads the flags.
//
// Three shapes, chosen from the Merge:
// - concat (no aggregate, no ORDER BY): rows go out in arrival order, shard after shard;
// - ordered (ORDER BY, no aggregate): streaming k-way merge (ordered-merge.ts); a row goes out as
//   soon as every unfinished shard has a row queued; queues stay small through wants();
// - aggregate: every row is folded into its group as it arrives (aggregate-merge.ts); when all
//   shards have ended the merged rows are filtered (HAVING), their expression columns computed,
//   deduplicated, sorted and sent.
// DISTINCT without ORDER BY holds the set of rows seen; with ORDER BY only the current run of equal
// sort keys. Everything held is budgeted (merge-budget.ts): 54000 past limits.mergeRowsMax/BytesMax.
//
// Buffers: row() copies what it keeps (the frame lives in a socket chunk only during the call).
// drain() hands out ranges of buffers that are never written again, so the executor may keep them
// until its write (e.g. WriteCoalescer.addRange) without copying.

import { assertNever } from '../../../planner/assert-never.js';
import { ProxyError } from '../../errors.js';
import type { BoundParams, Merge, ValueRef } from '../../../planner/plan.js';
import { AggregateMerger, type RowValues } from './aggregate-merge.js';
import { DistinctFilter } from './distinct.js';
import { compileHaving } from './having.js';
import { ENTRY_OVERHEAD_BYTES, MergeBudget } from './merge-budget.js';
import { OrderedMerge } from './ordered-merge.js';
import { buildDataRow, clientRowDescription, readDataRow, readRowDescription, type ResultDescription, type Retype } from './row-codec.js';
import { compareRows, RowQueue, type SortKeySpec } from './row-queue.js';
import { collationFor, type Collation } from './text-values.js';
import { collationTextOrder } from './collations.js';
import { requireInspectable, valueType, type TextOrder, type ValueType } from './value-types.js';

export interface MergeOptions {
  /** Number of shards feeding the merge; shard arguments are positions 0..shards-1. */
  readonly shards: number;
  /** limits.mergeRowsMax: rows held at once (queued rows, groups, DISTINCT values, sorted results). */
  readonly rowsMax: number;
  /** limits.mergeBytesMax: bytes held at once (estimated). */
  readonly bytesMax: number;
  /** The statement's bound parameters (LIMIT $n, OFFSET $n, HAVING ... $n, expressions over aggregates), null for the simple protocol. */
  readonly params: BoundParams | null;
  /** How text sorts: 'bytes' for C/C.UTF-8 clusters, or a locale for Intl.Collator (approximation). */
  readonly textOrder: TextOrder;
  /** The session's extra_float_digits (PostgreSQL's default 1): how computed float results print. */
  readonly extraFloatDigits?: number;
  /** Rows queued for one shard before wants() asks the executor to pause it. Default 256. */
  readonly queueRowsMax?: number;
  /**
   * The collation of a table column (by the shard position that described it, its table OID and
   * attnum) when it is not the database default; undefined for the default. A sort key that is
   * such a column, with no COLLATE of its own, orders by it.
   */
  readonly columnCollation?: (shard: number, tableOid: number, attnum: number) => string | undefined;
}

/** Receives one outgoing DataRow frame as buf[start, end); the range is never written again. */
export type FrameSink = (buf: Buffer, start: number, end: number) => void;

const DEFAULT_QUEUE_ROWS_MAX = 256;

type Shape = 'concat' | 'ordered' | 'aggregate';

/** The shared layout, known once the first RowDescription arrived. */
interface Layout {
  readonly description: ResultDescription;
  /** Column types of the shard rows. */
  readonly types: readonly ValueType[];
  readonly columns: number;
  readonly visible: number;
  readonly clientDescription: Buffer;
  /** Scratch for readDataRow: offset and length per column. */
  readonly fields: Int32Array;
}

export class MergeStream {
  private emitted = 0;
  private satisfied = false;

  private readonly shape: Shape;
  private readonly textOrder: TextOrder;
  private readonly params: BoundParams | null;
  private readonly budget: MergeBudget;
  private readonly collation: Collation | null;
  private readonly limit: number;
  private readonly offset: number;
  private skipped = 0;
  private readonly queueRowsMax: number;
  private readonly extraFloatDigits: number;
  private readonly columnCollation: MergeOptions['columnCollation'];
  private readonly ended: Uint8Array;
  private endedCount = 0;
  private readonly described: Uint8Array;
  private describedOrEnded = 0;

  private layout: Layout | null = null;
  private closed = false;
  private queues: RowQueue[] = [];
  private ordered: OrderedMerge | null = null;
  private aggregator: AggregateMerger | null = null;
  private having: ((row: RowValues) => boolean) | null = null;
  private distinct: DistinctFilter | null = null;
  /** ORDER BY + DISTINCT: the last row sent, to notice where a run of equal sort keys ends. */
  private previous: RowQueue | null = null;
  /** Aggregate shape: finished rows (all columns) and the order they go out in. */
  private results: RowQueue | null = null;
  private resultOrder: number[] | null = null;
  private resultPos = 0;

  constructor(
    private readonly spec: Merge,
    opts: MergeOptions,
  ) {
    if (!Number.isInteger(opts.shards) || opts.shards < 1) throw ProxyError.internal(`merge over ${opts.shards} shards`);
    this.shape = spec.aggregate !== null ? 'aggregate' : spec.orderBy.length > 0 ? 'ordered' : 'concat';
    this.budget = new MergeBudget(opts.rowsMax, opts.bytesMax);
    this.collation = collationFor(opts.textOrder);
    this.textOrder = opts.textOrder;
    this.params = opts.params;
    this.queueRowsMax = opts.queueRowsMax ?? DEFAULT_QUEUE_ROWS_MAX;
    this.extraFloatDigits = opts.extraFloatDigits ?? 1;
    this.columnCollation = opts.columnCollation;
    this.ended = new Uint8Array(opts.shards);
    this.described = new Uint8Array(opts.shards);
    const limit = countOf(spec.limit, opts.params, 'LIMIT');
    this.limit = limit === null ? Infinity : limit;
    this.offset = countOf(spec.offset, opts.params, 'OFFSET') ?? 0;
    if (this.limit === 0) this.satisfied = true;
  }

  /** DataRows sent to the client so far (the count of the final "SELECT n" tag). */
  get rowsEmitted(): number {
    return this.emitted;
  }

  /**
   * The LIMIT is reached: nothing more will go out, rows still arriving are discarded. The executor
   * may cancel the shards' statements (it must still read their responses to the end).
   */
  get limitReached(): boolean {
    return this.satisfied;
  }

  /** Everything that will ever go out has gone out: all shards ended and drained, or the LIMIT reached. */
  get done(): boolean {
    if (this.limitReached) return true;
    if (this.endedCount < this.ended.length) return false;
    switch (this.shape) {
      case 'concat':
        return this.queues.every((q) => q.size === 0);
      case 'ordered':
        return this.ordered === null || this.ordered.exhausted;
      case 'aggregate':
        return this.resultOrder !== null && this.resultPos >= this.resultOrder.length;
      default:
        assertNever(this.shape);
    }
  }

  /**
   * A shard's RowDescription, buf[start, end) with type byte and length. The first one fixes the
   * layout; later ones must have the same column count, type OIDs and formats (0A000 otherwise).
   * Throws 0A000 when a column the merge must read is binary of a type it cannot decode.
   */
  describe(shard: number, buf: Buffer, start = 0, end: number = buf.length): void {
    this.checkShard(shard);
    const d = readRowDescription(buf, start, end);
    if (this.described[shard] === 0 && this.ended[shard] === 0) this.describedOrEnded++;
    this.described[shard] = 1;
    if (this.layout !== null) {
      this.checkAgrees(this.layout.description, d);
      return;
    }
    this.layout = this.setUp(d, shard);
  }

  /** The RowDescription frame for the client: hidden columns removed, avg columns retyped, expressions' type modifiers set. */
  rowDescription(): Buffer {
    if (this.layout === null) throw ProxyError.internal('merge has no RowDescription yet');
    return this.layout.clientDescription;
  }

  /** A shard's DataRow buf[start, end); the bytes are only read during the call. */
  row(shard: number, buf: Buffer, start: number, end: number): void {
    this.checkShard(shard);
    if (this.ended[shard] === 1) throw ProxyError.internal(`merge got a row from shard position ${shard} after its end`);
    if (this.limitReached || this.closed) return;
    const layout = this.layout;
    if (layout === null) throw ProxyError.internal('merge got a DataRow before any RowDescription');
    const fields = layout.fields;
    const visibleEnd = readDataRow(buf, start, end, layout.columns, fields, layout.visible);
    switch (this.shape) {
      case 'aggregate':
        this.aggregator!.add(buf, fields);
        return;
      case 'concat':
        // Duplicates are dropped on arrival: rows go out in arrival order anyway.
        if (this.distinct !== null && !this.distinct.firstSeen(buf, fields)) return;
        this.enqueue(shard, buf, start, end, visibleEnd);
        return;
      case 'ordered':
        this.enqueue(shard, buf, start, end, visibleEnd);
        this.ordered!.pushed(shard);
        return;
      default:
        assertNever(this.shape);
    }
  }

  /** The shard's CommandComplete arrived: it sends no more rows. */
  end(shard: number): void {
    this.checkShard(shard);
    if (this.ended[shard] === 1) return;
    if (this.described[shard] === 0) this.describedOrEnded++;
    this.ended[shard] = 1;
    this.endedCount++;
    if (this.ordered !== null) this.ordered.shardEnded(shard);
    if (this.shape === 'aggregate' && this.endedCount === this.ended.length && !this.limitReached && !this.closed) this.finishAggregate();
  }

  /**
   * Whether the client's RowDescription is settled: every shard has described its result (or ended
   * without one). Rows may arrive and queue before; drain only once ready.
   */
  get ready(): boolean {
    return this.layout !== null && this.describedOrEnded === this.ended.length;
  }

  /** Sends every row that can go out now, each as its own Buffer (a view; never written again). */
  drain(out: (frame: Buffer) => void): void {
    this.drainRanges((buf, start, end) => out(start === 0 && end === buf.length ? buf : buf.subarray(start, end)));
  }

  /**
   * Sends every row that can go out now as ranges of longer buffers (no allocation per row; suits
   * WriteCoalescer.addRange, which also joins consecutive rows of one buffer into one write).
   */
  drainRanges(out: FrameSink): void {
    // Nothing goes out before the client can have had its RowDescription, nor after close().
    if (this.limitReached || this.closed || !this.ready) return;
    this.drainShape(out);
    // Reaching the LIMIT ends the merge: nothing held is needed any more.
    if (this.limitReached) this.close();
  }

  private drainShape(out: FrameSink): void {
    switch (this.shape) {
      case 'concat':
        for (const q of this.queues) {
          while (q.size > 0 && !this.limitReached) {
            const slot = q.head;
            this.emit(out, q.bufs[slot]!, q.starts[slot]!, q.ends[slot]!);
            this.budget.give(1, q.shift());
          }
        }
        return;
      case 'ordered':
        this.drainOrdered(out);
        return;
      case 'aggregate': {
        const order = this.resultOrder;
        const results = this.results;
        if (order === null || results === null) return;
        while (this.resultPos < order.length && !this.limitReached) {
          const slot = order[this.resultPos++]!;
          this.emit(out, results.bufs[slot]!, results.starts[slot]!, results.ends[slot]!);
        }
        if (this.resultPos >= order.length || this.limitReached) this.releaseResults();
        return;
      }
      default:
        assertNever(this.shape);
    }
  }

  /** Whether the executor should keep reading from the shard (false: pause it until a drain). */
  wants(shard: number): boolean {
    this.checkShard(shard);
    if (this.limitReached || this.shape === 'aggregate') return true;
    const q = this.queues[shard];
    return q === undefined || q.size < this.queueRowsMax;
  }

  /**
   * Lets go of everything held (after an error, a cancel, or when the executor abandons the merge).
   * Afterwards rows and drains do nothing.
   */
  close(): void {
    this.closed = true;
    this.releaseQueues();
    this.aggregator?.release();
    this.distinct?.clear();
    this.previous?.clear();
    this.releaseResults();
  }

  // -------------------------------------------------------------------------------------------

  private checkShard(shard: number): void {
    if (!Number.isInteger(shard) || shard < 0 || shard >= this.ended.length) {
      throw ProxyError.internal(`merge has no shard position ${shard}`);
    }
  }

  private checkAgrees(first: ResultDescription, d: ResultDescription): void {
    const differ = (what: string): ProxyError =>
      ProxyError.unsupported(
        `shards returned different result columns for one query (${what})`,
        'The table definitions differ between shards: apply the same DDL on every shard.',
      );
    if (d.fields.length !== first.fields.length) throw differ(`${first.fields.length} and ${d.fields.length} columns`);
    for (let i = 0; i < d.fields.length; i++) {
      const a = first.fields[i]!;
      const b = d.fields[i]!;
      if (a.typeOid !== b.typeOid) throw differ(`column ${i + 1} has type OIDs ${a.typeOid} and ${b.typeOid}`);
      if (a.format !== b.format) throw differ(`column ${i + 1} has formats ${a.format} and ${b.format}`);
    }
  }

  private setUp(d: ResultDescription, shard: number): Layout {
    const spec = this.spec;
    const columns = d.fields.length;
    const visible = columns - spec.hiddenColumns;
    if (spec.hiddenColumns < 0 || visible < 0) {
      throw ProxyError.internal(`merge expects ${spec.hiddenColumns} hidden columns of ${columns}`);
    }
    const types = d.fields.map((f) => valueType(f.typeOid, f.format, this.textOrder));
    // The rows after aggregation: the aggregate's result types; otherwise the shard rows themselves.
    let rowTypes: readonly ValueType[] = types;
    let retype: ReadonlyMap<number, Retype> = new Map();
    if (spec.aggregate !== null) {
      const typmods = d.fields.map((f) => f.typeModifier);
      this.aggregator = new AggregateMerger(spec.aggregate, types, typmods, visible, this.budget, this.collation, this.textOrder, this.extraFloatDigits, this.params);
      rowTypes = this.aggregator.layout.types;
      retype = this.aggregator.layout.retype;
      if (spec.aggregate.having !== null) {
        const aggregator = this.aggregator;
        this.having = compileHaving(spec.aggregate.having, {
          types: rowTypes,
          visible,
          params: this.params,
          collation: this.collation,
          read: (row, column) => aggregator.field(row, column),
        });
      }
    }
    const keys: SortKeySpec[] = spec.orderBy.map((k) => {
      const column = k.column.hidden ? visible + k.column.index : k.column.index;
      const rowType = rowTypes[column];
      if (rowType === undefined || column < 0) throw ProxyError.internal(`ORDER BY refers to column ${column + 1} of ${columns}`);
      requireInspectable(rowType, column, 'ORDER BY');
      // An explicit COLLATE, else the collation of the table column the key is, orders this key
      // instead of the database's default.
      const name = k.collation ?? this.columnCollationOf(d, column, rowType, shard);
      if (name === undefined) return { column, type: rowType, descending: k.descending, nullsFirst: k.nullsFirst, collation: this.collation };
      const order = collationTextOrder(name, this.textOrder);
      const type = valueType(rowType.oid, rowType.format, order);
      return { column, type, descending: k.descending, nullsFirst: k.nullsFirst, collation: collationFor(order) };
    });
    if (spec.distinct) {
      for (let i = 0; i < visible; i++) requireInspectable(rowTypes[i]!, i, 'DISTINCT');
      this.distinct = new DistinctFilter(rowTypes.slice(0, visible), this.budget);
      if (this.shape === 'ordered') this.previous = new RowQueue(keys);
    }
    switch (this.shape) {
      case 'concat':
      case 'ordered':
        for (let s = 0; s < this.ended.length; s++) this.queues.push(new RowQueue(keys));
        if (this.shape === 'ordered') {
          this.ordered = new OrderedMerge(this.queues);
          for (let s = 0; s < this.ended.length; s++) if (this.ended[s] === 1) this.ordered.shardEnded(s);
        }
        break;
      case 'aggregate':
        this.results = new RowQueue(keys);
        break;
      default:
        assertNever(this.shape);
    }
    return {
      description: d,
      types,
      columns,
      visible,
      clientDescription: clientRowDescription(d, visible, retype),
      fields: new Int32Array(2 * Math.max(1, columns)),
    };
  }

  /** The non-default collation of the table column a text sort key comes from, if it is one. */
  private columnCollationOf(d: ResultDescription, column: number, type: ValueType, shard: number): string | undefined {
    const field = d.fields[column];
    if (this.columnCollation === undefined || field === undefined || field.tableOid === 0) return undefined;
    if (type.family !== 'text' && type.family !== 'bpchar') return undefined;
    return this.columnCollation(shard, field.tableOid, field.attnum);
  }

  private enqueue(shard: number, buf: Buffer, start: number, end: number, visibleEnd: number): void {
    const layout = this.layout!;
    this.budget.take(1, end - start, 'rows queued per shard');
    this.queues[shard]!.push(buf, start, end, layout.fields, visibleEnd, layout.visible);
  }

  private drainOrdered(out: FrameSink): void {
    const merge = this.ordered;
    if (merge === null) return;
    const distinct = this.distinct;
    const previous = this.previous;
    const layout = this.layout!;
    for (;;) {
      const s = merge.next();
      if (s < 0) return;
      const q = this.queues[s]!;
      const slot = q.head;
      const buf = q.bufs[slot]!;
      let send = true;
      if (distinct !== null && previous !== null) {
        if (previous.size > 0 && compareRows(q, slot, previous, previous.head) !== 0) distinct.clear();
        readDataRow(buf, q.starts[slot]!, q.ends[slot]!, layout.visible, layout.fields, layout.visible);
        send = distinct.firstSeen(buf, layout.fields);
        previous.clear();
        previous.pushSlotFrom(q, slot);
      }
      if (send) this.emit(out, buf, q.starts[slot]!, q.ends[slot]!);
      this.budget.give(1, q.shift());
      merge.advanced(s);
      if (this.limitReached) return;
    }
  }

  /** OFFSET, then LIMIT, then out. */
  private emit(out: FrameSink, buf: Buffer, start: number, end: number): void {
    if (this.skipped < this.offset) {
      this.skipped++;
      return;
    }
    out(buf, start, end);
    this.emitted++;
    if (this.emitted >= this.limit) this.satisfied = true;
  }

  /** All shards ended: merged rows → HAVING → DISTINCT → sorted, ready for drain(). */
  private finishAggregate(): void {
    const layout = this.layout;
    if (layout === null) throw ProxyError.internal('aggregate merge ended without a RowDescription');
    const rows = this.aggregator!.finish();
    const results = this.results!;
    const fields = layout.fields;
    const having = this.having;
    const distinct = this.distinct;
    for (const values of rows) {
      if (having !== null && !having(values)) continue;
      const frame = buildDataRow(this.aggregator!.complete(values));
      const visibleEnd = readDataRow(frame, 0, frame.length, layout.columns, fields, layout.visible);
      if (distinct !== null && !distinct.firstSeen(frame, fields)) continue;
      this.budget.take(1, frame.length + ENTRY_OVERHEAD_BYTES, 'aggregated rows');
      results.push(frame, 0, frame.length, fields, visibleEnd, layout.visible, true);
    }
    distinct?.clear();
    const order = Array.from({ length: results.size }, (_, i) => results.slot(i));
    if (this.spec.orderBy.length > 0) order.sort((x, y) => compareRows(results, x, results, y));
    this.resultOrder = order;
    this.resultPos = 0;
  }

  private releaseQueues(): void {
    for (const q of this.queues) {
      const rows = q.size;
      const bytes = q.heldBytes;
      q.clear();
      this.budget.give(rows, bytes);
    }
  }

  private releaseResults(): void {
    const results = this.results;
    if (results === null || results.size === 0) return;
    const rows = results.size;
    const bytes = results.heldBytes + rows * ENTRY_OVERHEAD_BYTES;
    results.clear();
    this.budget.give(rows, bytes);
  }
}

/** LIMIT/OFFSET as a row count: null for none (LIMIT ALL, LIMIT NULL, OFFSET NULL). */
function countOf(ref: ValueRef | null, params: BoundParams | null, clause: 'LIMIT' | 'OFFSET'): number | null {
  if (ref === null) return null;
  let value: bigint | null;
  switch (ref.kind) {
    case 'literal':
      value = ref.value;
      break;
    case 'param':
      value = paramCount(ref.index, params, clause);
      break;
    default:
      assertNever(ref);
  }
  if (value === null) return null;
  // A negative count makes every shard fail with PostgreSQL's own error before any row arrives.
  return value < 0n ? 0 : Number(value);
}

function paramCount(index: number, params: BoundParams | null, clause: string): bigint | null {
  if (params === null || index < 0 || index >= params.values.length) {
    throw ProxyError.internal(`${clause} refers to parameter $${index + 1}, which is not bound`);
  }
  const raw = params.values[index];
  if (raw === null || raw === undefined) return null;
  const bytes = Buffer.from(raw.buffer, raw.byteOffset, raw.byteLength);
  const bad = (): ProxyError =>
    ProxyError.unsupported(`${clause} parameter $${index + 1} is not an integer pgshard can read`, `Bind ${clause} as an int8 or int4 value.`);
  if (params.formats[index] === 1) {
    if (bytes.length === 8) return bytes.readBigInt64BE(0);
    if (bytes.length === 4) return BigInt(bytes.readInt32BE(0));
    if (bytes.length === 2) return BigInt(bytes.readInt16BE(0));
    throw bad();
  }
  const text = bytes.toString('utf8').trim();
  if (!/^[+-]?\d+$/.test(text)) throw bad();
  return BigInt(text);
}
