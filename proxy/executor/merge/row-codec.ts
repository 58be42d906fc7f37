// The wire layout of the result frames the merge reads and writes: RowDescription fields, DataRow
// field offsets, DataRows built from values, and the in-place rewrite that drops hidden columns.
// Knows bytes only, never what a value means (text-values.ts) or which rows go out (merge-stream.ts).
// A malformed frame from a shard is a 08P01 naming the server, as in proxy/protocol.
// Reference: https://www.postgresql.org/docs/15/protocol-message-formats.html

import { ProxyError } from '../../errors.js';

const BODY = 5;
const TYPE_DATA_ROW = 0x44; // 'D'
const TYPE_ROW_DESCRIPTION = 0x54; // 'T'
/** Bytes of a RowDescription field after its name: table OID, attnum, type OID, typlen, typmod, format. */
const FIELD_FIXED_BYTES = 18;

function malformed(message: string, problem: string): ProxyError {
  return ProxyError.protocolViolation(`invalid ${message} message from server: ${problem}`);
}

// ---------------------------------------------------------------------------------------------
// RowDescription

export interface ResultField {
  /** The field's bytes in the frame (name, NUL and the fixed part), to copy it unchanged. */
  readonly start: number;
  readonly end: number;
  /** The table and column the field comes from, 0 and 0 for a computed one. */
  readonly tableOid: number;
  readonly attnum: number;
  readonly typeOid: number;
  readonly typeSize: number;
  readonly typeModifier: number;
  readonly format: number;
}

export interface ResultDescription {
  readonly frame: Buffer;
  readonly fields: readonly ResultField[];
}

/** Decodes a RowDescription frame buf[start, end) (type byte and length included). Keeps a copy. */
export function readRowDescription(buf: Buffer, start: number, end: number): ResultDescription {
  const msg = 'RowDescription';
  if (end - start < BODY + 2 || buf[start] !== TYPE_ROW_DESCRIPTION) throw malformed(msg, 'not a RowDescription');
  if (buf.readInt32BE(start + 1) !== end - start - 1) throw malformed(msg, 'length does not match the frame');
  const frame = Buffer.from(buf.subarray(start, end));
  const count = frame.readUInt16BE(BODY);
  const fields: ResultField[] = [];
  let pos = BODY + 2;
  for (let i = 0; i < count; i++) {
    const nul = frame.indexOf(0, pos);
    if (nul < 0 || nul + 1 + FIELD_FIXED_BYTES > frame.length) throw malformed(msg, `truncated field ${i + 1}`);
    const p = nul + 1;
    fields.push({
      start: pos,
      end: p + FIELD_FIXED_BYTES,
      tableOid: frame.readUInt32BE(p),
      attnum: frame.readInt16BE(p + 4),
      typeOid: frame.readUInt32BE(p + 6),
      typeSize: frame.readInt16BE(p + 10),
      typeModifier: frame.readInt32BE(p + 12),
      format: frame.readInt16BE(p + 16),
    });
    pos = p + FIELD_FIXED_BYTES;
  }
  if (pos !== frame.length) throw malformed(msg, `${frame.length - pos} unexpected trailing bytes`);
  return { frame, fields };
}

/**
 * A replacement for a field's type in the client's RowDescription: avg's result type (type OID and
 * size; no type modifier), or only the type modifier of an expression the proxy computes.
 */
export type Retype = { readonly typeOid: number; readonly typeSize: number } | { readonly typeModifier: number };

/**
 * The RowDescription the client gets: the first `visible` fields, each copied byte for byte except
 * those in `retype`, whose type OID and size (or type modifier) change, type modifier otherwise -1,
 * and table OID/attnum 0 (a computed column, as PostgreSQL describes avg()).
 */
export function clientRowDescription(d: ResultDescription, visible: number, retype: ReadonlyMap<number, Retype>): Buffer {
  let length = BODY + 2;
  for (let i = 0; i < visible; i++) {
    const f = d.fields[i]!;
    length += f.end - f.start;
  }
  const out = Buffer.allocUnsafe(length);
  out[0] = TYPE_ROW_DESCRIPTION;
  out.writeInt32BE(length - 1, 1);
  out.writeUInt16BE(visible, BODY);
  let pos = BODY + 2;
  for (let i = 0; i < visible; i++) {
    const f = d.fields[i]!;
    d.frame.copy(out, pos, f.start, f.end);
    pos += f.end - f.start;
    const r = retype.get(i);
    if (r !== undefined) {
      const fixed = pos - FIELD_FIXED_BYTES;
      out.writeUInt32BE(0, fixed);
      out.writeInt16BE(0, fixed + 4);
      if ('typeOid' in r) {
        out.writeUInt32BE(r.typeOid, fixed + 6);
        out.writeInt16BE(r.typeSize, fixed + 10);
      }
      out.writeInt32BE('typeModifier' in r ? r.typeModifier : -1, fixed + 12);
    }
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// DataRow

/**
 * Reads the field layout of the DataRow buf[start, end) into `fields`: fields[2i] is the offset of
 * field i's bytes, fields[2i + 1] its length or -1 for NULL. The row must have `count` fields.
 * Returns the offset where field `split` starts (its length word), i.e. the end of the first `split`
 * fields: the frame end of the row without hidden columns.
 */
export function readDataRow(buf: Buffer, start: number, end: number, count: number, fields: Int32Array, split: number): number {
  const msg = 'DataRow';
  if (end - start < BODY + 2 || buf[start] !== TYPE_DATA_ROW) throw malformed(msg, 'not a DataRow');
  if (buf.readInt32BE(start + 1) !== end - start - 1) throw malformed(msg, 'length does not match the frame');
  const n = buf.readUInt16BE(start + BODY);
  if (n !== count) throw malformed(msg, `${n} columns where RowDescription announced ${count}`);
  let pos = start + BODY + 2;
  let splitAt = end;
  for (let i = 0; i < count; i++) {
    if (i === split) splitAt = pos;
    if (pos + 4 > end) throw malformed(msg, `truncated length of column ${i + 1}`);
    const length = buf.readInt32BE(pos);
    pos += 4;
    if (length < 0) {
      if (length !== -1) throw malformed(msg, `negative length of column ${i + 1}`);
      fields[2 * i] = pos;
      fields[2 * i + 1] = -1;
      continue;
    }
    if (pos + length > end) throw malformed(msg, `truncated column ${i + 1}`);
    fields[2 * i] = pos;
    fields[2 * i + 1] = length;
    pos += length;
  }
  if (pos !== end) throw malformed(msg, `${end - pos} unexpected trailing bytes`);
  return splitAt;
}

/**
 * Rewrites, in place, the header of the DataRow at buf[start, ...) so that it ends at `visibleEnd`
 * with `visible` columns: the hidden columns are the frame's tail, so dropping them is a new length
 * and column count. The bytes after visibleEnd stay as they are (still readable as sort keys).
 */
export function truncateDataRow(buf: Buffer, start: number, visibleEnd: number, visible: number): void {
  buf.writeInt32BE(visibleEnd - start - 1, start + 1);
  buf.writeUInt16BE(visible, start + BODY);
}

/** A DataRow frame of the given field values (null: SQL NULL). */
export function buildDataRow(values: readonly (Buffer | null)[]): Buffer {
  let length = BODY + 2;
  for (const v of values) length += 4 + (v === null ? 0 : v.length);
  const out = Buffer.allocUnsafe(length);
  out[0] = TYPE_DATA_ROW;
  out.writeInt32BE(length - 1, 1);
  out.writeUInt16BE(values.length, BODY);
  let pos = BODY + 2;
  for (const v of values) {
    if (v === null) {
      out.writeInt32BE(-1, pos);
      pos += 4;
    } else {
      out.writeInt32BE(v.length, pos);
      v.copy(out, pos + 4);
      pos += 4 + v.length;
    }
  }
  return out;
}
