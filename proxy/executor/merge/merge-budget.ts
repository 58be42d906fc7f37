// The memory a merge may hold, counted as rows and bytes: rows queued per shard, aggregation groups,
// DISTINCT keys, finished rows waiting to be sorted. Everything that holds rows takes from one
// budget and gives back when it lets go; exceeding limits.mergeRowsMax or limits.mergeBytesMax is a
// 54000 error, never an out-of-memory crash. Byte counts are estimates of what JS holds (data plus
// a fixed overhead per entry), not exact heap sizes.

import { ProxyError } from '../../errors.js';

/** Estimated bytes JS spends per held entry beyond its data (object headers, map slots, arrays). */
export const ENTRY_OVERHEAD_BYTES = 64;

export class MergeBudget {
  rows = 0;
  bytes = 0;

  constructor(
    readonly rowsMax: number,
    readonly bytesMax: number,
  ) {}

  /** Takes rows and bytes for `what` ("aggregation groups", "DISTINCT values", ...); throws 54000 past a limit. */
  take(rows: number, bytes: number, what: string): void {
    this.rows += rows;
    this.bytes += bytes;
    if (this.rows > this.rowsMax) {
      throw ProxyError.limitExceeded(
        `multi-shard query needs to hold more than ${this.rowsMax} rows in the proxy (${what})`,
        'Raise limits.mergeRowsMax, or make the query hold fewer rows in the proxy: fewer groups or DISTINCT values, a LIMIT after ORDER BY, or route it to one shard.',
      );
    }
    if (this.bytes > this.bytesMax) {
      throw ProxyError.limitExceeded(
        `multi-shard query needs to hold more than ${this.bytesMax} bytes in the proxy (${what})`,
        'Raise limits.mergeBytesMax, or make the query hold fewer rows in the proxy: fewer groups or DISTINCT values, a LIMIT after ORDER BY, or route it to one shard.',
      );
    }
  }

  give(rows: number, bytes: number): void {
    this.rows -= rows;
    this.bytes -= bytes;
  }
}
