// SELECT DISTINCT across shards: every shard already returns distinct rows, so only duplicates
// between shards remain. A row passes the first time its visible columns are seen, compared with
// PostgreSQL's equality (1.0 = 1.00, -0 = 0, char(n) without trailing spaces; text byte for byte).
// Owns the set of seen rows and its budget. With ORDER BY the caller clears the set whenever the
// sort key changes (duplicates are equal in every visible column, and DISTINCT's ORDER BY keys are
// visible columns, so they arrive next to each other): the set then holds one run of equal keys.
// Without ORDER BY the set holds every distinct row and is bounded by the merge limits.

import { ENTRY_OVERHEAD_BYTES, type MergeBudget } from './merge-budget.js';
import { equalityKey } from './text-values.js';
import type { ValueType } from './value-types.js';

export class DistinctFilter {
  private readonly seen = new Set<string>();
  private heldBytes = 0;

  /** `types` are the visible columns' types; only they take part. */
  constructor(
    private readonly types: readonly ValueType[],
    private readonly budget: MergeBudget,
  ) {}

  /** Whether the row (field layout from readDataRow) is seen for the first time; remembers it. */
  firstSeen(buf: Buffer, fields: Int32Array): boolean {
    const key = this.key(buf, fields);
    if (this.seen.has(key)) return false;
    const bytes = ENTRY_OVERHEAD_BYTES + 2 * key.length;
    this.budget.take(1, bytes, 'DISTINCT values');
    this.heldBytes += bytes;
    this.seen.add(key);
    return true;
  }

  /** Forgets every row seen (a new run of sort keys began, or the merge ended). */
  clear(): void {
    this.budget.give(this.seen.size, this.heldBytes);
    this.seen.clear();
    this.heldBytes = 0;
  }

  private key(buf: Buffer, fields: Int32Array): string {
    const types = this.types;
    let key = '';
    for (let i = 0; i < types.length; i++) {
      const length = fields[2 * i + 1]!;
      if (length < 0) {
        key += 'N';
        continue;
      }
      const k = equalityKey(types[i]!, buf, fields[2 * i]!, fields[2 * i]! + length);
      key += `V${k.length}:${k}`;
    }
    return key;
  }
}
