// `key = ANY($n)`: the elements of an array parameter as key values. Text format is PostgreSQL's array
// literal ({1,2,"x y",NULL}); binary format is array_send's layout (ndim, has-null flag, element type
// OID, then per dimension size and lower bound, then each element as int32 length + bytes, -1 = NULL).
// Only one-dimensional arrays of the key's family are understood; anything else is null ("unknown":
// the caller scatters). Owns: array decoding. Must not: place values.

import type { BoundParams } from '../plan.js';
import type { KeyType } from '../hash/pg-hash.js';
import { binaryInt, keyFamily, textDatum, type KeyDatum, type KeyFamily } from './key-values.js';

/** Element type OIDs of array types, by family. */
const ELEMENT_FAMILY: ReadonlyMap<number, KeyFamily> = new Map<number, KeyFamily>([
  [21, 'int'], [23, 'int'], [20, 'int'], [25, 'text'], [1043, 'text'], [2950, 'uuid'],
]);

const NULL_DATUM: KeyDatum = { kind: 'null' };
const utf8 = new TextDecoder('utf-8', { fatal: true });

export function decodeArrayParam(params: BoundParams, index: number, keyType: KeyType): KeyDatum[] | null {
  const bytes = params.values[index];
  if (bytes === undefined) return null;
  if (bytes === null) return [];
  try {
    return (params.formats[index] ?? 0) === 1 ? binaryArray(bytes, keyType) : textArray(utf8.decode(bytes), keyType);
  } catch {
    return null;
  }
}

function binaryArray(bytes: Uint8Array, keyType: KeyType): KeyDatum[] | null {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const ndim = view.getInt32(0);
  if (ndim === 0) return [];
  if (ndim !== 1) return null;
  const elemType = view.getUint32(8);
  const family = keyFamily(keyType);
  if (ELEMENT_FAMILY.get(elemType) !== family) return null;
  const count = view.getInt32(12);
  let at = 20;
  const out: KeyDatum[] = [];
  for (let i = 0; i < count; i++) {
    const len = view.getInt32(at);
    at += 4;
    if (len < 0) {
      out.push(NULL_DATUM);
      continue;
    }
    if (at + len > bytes.length) return null;
    const el = bytes.subarray(at, at + len);
    at += len;
    switch (family) {
      case 'int':
        out.push(binaryInt(el, keyType));
        break;
      case 'text':
        out.push({ kind: 'value', value: utf8.decode(el) });
        break;
      case 'uuid':
        out.push(el.length === 16 ? { kind: 'value', value: el } : { kind: 'invalid' });
        break;
    }
  }
  return out;
}

/** A one-dimensional array literal; null for anything else (dimensions, nested braces). */
function textArray(text: string, keyType: KeyType): KeyDatum[] | null {
  const s = text.trim();
  if (s[0] !== '{' || s[s.length - 1] !== '}') return null;
  const out: KeyDatum[] = [];
  let i = 1;
  const end = s.length - 1;
  while (i < end) {
    while (i < end && /\s/.test(s[i] ?? '')) i++;
    if (i >= end) break;
    let element: string;
    let quoted = false;
    if (s[i] === '"') {
      quoted = true;
      i++;
      element = '';
      while (i < end && s[i] !== '"') {
        if (s[i] === '\\') i++;
        element += s[i] ?? '';
        i++;
      }
      if (s[i] !== '"') return null;
      i++;
    } else if (s[i] === '{') {
      return null;
    } else {
      const start = i;
      while (i < end && s[i] !== ',') {
        if (s[i] === '\\' || s[i] === '{' || s[i] === '"') return null;
        i++;
      }
      element = s.slice(start, i).trim();
    }
    while (i < end && /\s/.test(s[i] ?? '')) i++;
    if (i < end) {
      if (s[i] !== ',') return null;
      i++;
    }
    out.push(!quoted && element.toUpperCase() === 'NULL' ? NULL_DATUM : textDatum(element, keyType));
  }
  return out;
}
