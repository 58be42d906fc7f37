// A simple query on a connection nobody else is using (startup work: in-doubt recovery, catalog
// lookups), with its rows as text. Not for client traffic: it buffers the whole result.

import { buildQuery } from '../protocol/rewrite.js';
import { decodeDataRow, decodeErrorFields } from '../protocol/backend-messages.js';
import type { ServerConnection } from './server-connection.js';

export async function oneOffQuery(conn: ServerConnection, sql: string): Promise<(string | null)[][]> {
  return new Promise((resolve, reject) => {
    const rows: (string | null)[][] = [];
    let error: Error | null = null;
    conn.listener = {
      onBackendFrame(type, buf, start, end) {
        if (type === 0x44) rows.push(decodeDataRow(buf, start, end).map((v) => (v === null ? null : v.toString('utf8'))));
        else if (type === 0x45) error ??= new Error(decodeErrorFields(buf, start, end).get('M') ?? 'error');
        else if (type === 0x5a) {
          conn.listener = null;
          if (error !== null) reject(error);
          else resolve(rows);
        }
      },
      onBackendChunkEnd: () => false,
      onBackendClosed: (_c, err) => reject(err),
      onBackendDrain() {},
    };
    conn.write(buildQuery(sql));
  });
}
