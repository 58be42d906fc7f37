// Cleans a server connection whose client left between statements (open transaction, pinned session
// state) so it can serve someone else, or drops it when the cleanup does not finish in time.

import { buildQuery } from '../protocol/rewrite.js';
import type { NodePool } from './node-pool.js';
import type { BackendListener, ServerConnection } from './server-connection.js';

export function resetAndRelease(conn: ServerConnection, pool: NodePool, queries: readonly string[], timeoutMs: number): void {
  let remaining = queries.length;
  let failed = false;
  const timer = setTimeout(() => finish(false), timeoutMs);
  timer.unref();
  const finish = (ok: boolean): void => {
    clearTimeout(timer);
    if (conn.listener !== listener) return;
    conn.listener = null;
    if (ok && conn.txStatus === 'I') {
      if (queries.some((q) => /^\s*discard\s+all\s*$/i.test(q))) {
        conn.prepared.clear();
        conn.unnamed = null;
        conn.appliedStateKey = '';
      }
      pool.release(conn);
    } else {
      pool.discard(conn);
    }
  };
  const listener: BackendListener = {
    onBackendFrame(type) {
      if (type === 0x45 /* E */) failed = true;
      else if (type === 0x5a /* Z */ && --remaining === 0) finish(!failed);
    },
    onBackendChunkEnd() {
      return false;
    },
    onBackendClosed() {
      finish(false);
    },
    onBackendDrain() {},
  };
  conn.listener = listener;
  conn.unnamed = null;
  for (const q of queries) conn.write(buildQuery(q));
}
