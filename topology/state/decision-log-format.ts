// The bytes of the two-phase-commit decision log (decision-log.ts does the I/O). Owns encoding, the
// checksum, and the rule that tells a torn last write (ignored) from corruption (an error): it must
// never drop a decision silently, since a dropped decision rolls back part of a committed transaction.
//
// File: MAGIC, then frames. Frame: u32 payload length, u32 CRC-32 of (length bytes ++ payload), then
// the payload: one or more entries.
//   'C' commit decision: u8 0x43, u8 gid length, gid (ASCII), u16 count, count x u32 shard
//   'D' done (forgotten): u8 0x44, u8 gid length, gid
// The writer issues one frame per write() and fsyncs it before the next write, so at most the last
// frame can be torn by a crash: a bad frame with a good frame anywhere after it is corruption.

import zlib from 'node:zlib';

/** "PGS2PC", NUL, format version 1. */
export const MAGIC = Buffer.from([0x50, 0x47, 0x53, 0x32, 0x50, 0x43, 0x00, 0x01]);
export const FRAME_HEADER_BYTES = 8;
/** A frame the writer makes stays under this; anything longer on disk is garbage. */
export const FRAME_PAYLOAD_BYTES_MAX = 1 << 20;

const ENTRY_COMMIT = 0x43;
const ENTRY_DONE = 0x44;

export type Entry = { kind: 'commit'; gid: string; participants: readonly number[] } | { kind: 'done'; gid: string };

export class DecisionLogError extends Error {
  override readonly name = 'DecisionLogError';
  constructor(
    readonly path: string,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

// ---------------------------------------------------------------------------------------- checksum

const CRC_TABLE = (() => {
  const table = new Int32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    table[n] = c;
  }
  return table;
})();

/** CRC-32 (IEEE, as zlib), continuing from `crc`: the fallback for Node before 20.15 lacks zlib.crc32. */
export function crc32Table(data: Uint8Array, crc = 0): number {
  let c = ~crc;
  for (let i = 0; i < data.length; i++) c = CRC_TABLE[(c ^ data[i]!) & 0xff]! ^ (c >>> 8);
  return ~c >>> 0;
}

type Crc32 = (data: Uint8Array, value?: number) => number;
const nativeCrc32 = (zlib as unknown as { crc32?: Crc32 }).crc32;
export const crc32: Crc32 = typeof nativeCrc32 === 'function' ? nativeCrc32 : crc32Table;

function frameCrc(buf: Buffer, at: number, payloadLength: number): number {
  return crc32(buf.subarray(at + FRAME_HEADER_BYTES, at + FRAME_HEADER_BYTES + payloadLength), crc32(buf.subarray(at, at + 4)));
}

// ---------------------------------------------------------------------------------------- encoding

export function entryBytes(entry: Entry): number {
  const gid = entry.gid.length; // gids are ASCII (checked by the writer)
  return entry.kind === 'commit' ? 2 + gid + 2 + 4 * entry.participants.length : 2 + gid;
}

/** One frame holding the entries (their encoded size must be at most FRAME_PAYLOAD_BYTES_MAX). */
export function encodeFrame(entries: readonly Entry[]): Buffer {
  let payload = 0;
  for (const e of entries) payload += entryBytes(e);
  const frame = Buffer.allocUnsafe(FRAME_HEADER_BYTES + payload);
  frame.writeUInt32BE(payload, 0);
  let pos = FRAME_HEADER_BYTES;
  for (const e of entries) {
    frame[pos++] = e.kind === 'commit' ? ENTRY_COMMIT : ENTRY_DONE;
    frame[pos++] = e.gid.length;
    pos += frame.write(e.gid, pos, 'latin1');
    if (e.kind === 'commit') {
      pos = frame.writeUInt16BE(e.participants.length, pos);
      for (const shard of e.participants) pos = frame.writeUInt32BE(shard, pos);
    }
  }
  frame.writeUInt32BE(frameCrc(frame, 0, payload), 4);
  return frame;
}

/** A whole file: MAGIC and the commit decisions, in frames of bounded size. */
export function encodeSnapshot(decisions: Iterable<readonly [string, readonly number[]]>): Buffer {
  const parts: Buffer[] = [MAGIC];
  let batch: Entry[] = [];
  let bytes = 0;
  for (const [gid, participants] of decisions) {
    const entry: Entry = { kind: 'commit', gid, participants };
    const size = entryBytes(entry);
    if (bytes + size > FRAME_PAYLOAD_BYTES_MAX && batch.length > 0) {
      parts.push(encodeFrame(batch));
      batch = [];
      bytes = 0;
    }
    batch.push(entry);
    bytes += size;
  }
  if (batch.length > 0) parts.push(encodeFrame(batch));
  return Buffer.concat(parts);
}

// ---------------------------------------------------------------------------------------- decoding

/** The entries of a valid frame at `at`, with its end; null when no valid frame starts there. */
function frameAt(buf: Buffer, at: number): { end: number; entries: Entry[] } | null {
  if (buf.length - at < FRAME_HEADER_BYTES) return null;
  const payload = buf.readUInt32BE(at);
  if (payload === 0 || payload > FRAME_PAYLOAD_BYTES_MAX || at + FRAME_HEADER_BYTES + payload > buf.length) return null;
  if (frameCrc(buf, at, payload) !== buf.readUInt32BE(at + 4)) return null;
  const end = at + FRAME_HEADER_BYTES + payload;
  const entries: Entry[] = [];
  let pos = at + FRAME_HEADER_BYTES;
  while (pos < end) {
    const kind = buf[pos]!;
    if (kind !== ENTRY_COMMIT && kind !== ENTRY_DONE) return null;
    if (pos + 2 > end) return null;
    const gidLength = buf[pos + 1]!;
    pos += 2;
    if (gidLength === 0 || pos + gidLength > end) return null;
    const gid = buf.toString('latin1', pos, pos + gidLength);
    pos += gidLength;
    if (kind === ENTRY_DONE) {
      entries.push({ kind: 'done', gid });
      continue;
    }
    if (pos + 2 > end) return null;
    const count = buf.readUInt16BE(pos);
    pos += 2;
    if (pos + 4 * count > end) return null;
    const participants: number[] = [];
    for (let i = 0; i < count; i++, pos += 4) participants.push(buf.readUInt32BE(pos));
    entries.push({ kind: 'commit', gid, participants });
  }
  return { end, entries };
}

export interface ParsedLog {
  /** Commit decisions not followed by a done entry, in log order. */
  pending: Map<string, number[]>;
  /** Where the valid frames end: later bytes are a torn last write. */
  validEnd: number;
  frames: number;
}

/**
 * Reads a whole log file. A bad frame at the end is a torn write and is ignored (validEnd says where
 * to cut); a bad frame followed by a good one, or a bad MAGIC, throws a DecisionLogError.
 */
export function parseLog(buf: Buffer, path: string): ParsedLog {
  if (buf.length < MAGIC.length || !buf.subarray(0, MAGIC.length).equals(MAGIC)) {
    throw new DecisionLogError(
      path,
      `${path} is not a pgshard decision log (format 1): it does not start with the expected header. ` +
        'Do not delete it: move it aside only after resolving every prepared transaction by hand.',
    );
  }
  const pending = new Map<string, number[]>();
  let pos = MAGIC.length;
  let frames = 0;
  while (pos < buf.length) {
    const frame = frameAt(buf, pos);
    if (frame === null) {
      for (let later = pos + 1; later + FRAME_HEADER_BYTES <= buf.length; later++) {
        if (frameAt(buf, later) !== null) {
          throw new DecisionLogError(
            path,
            `decision log ${path} is corrupt at byte ${pos} (frame ${frames + 1}), with valid records after it: ` +
              'commit decisions may be lost. Restore the file from a backup, or resolve the prepared ' +
              'transactions by hand (pg_prepared_xacts) before moving it aside.',
          );
        }
      }
      return { pending, validEnd: pos, frames };
    }
    for (const e of frame.entries) {
      if (e.kind === 'commit') pending.set(e.gid, [...e.participants]);
      else pending.delete(e.gid);
    }
    pos = frame.end;
    frames++;
  }
  return { pending, validEnd: pos, frames };
}
