// Numbers in PostgreSQL's binary format (big-endian integers and IEEE floats), for result values the
// merge computes itself: merged aggregates (aggregate-merge.ts) and expressions over them (expression.ts).

/** int2 / int4 / int8 in `bytes` bytes. */
export function intBinary(bytes: 2 | 4 | 8, v: bigint | number): Buffer {
  const b = Buffer.allocUnsafe(bytes);
  if (bytes === 2) b.writeInt16BE(Number(v));
  else if (bytes === 4) b.writeInt32BE(Number(v));
  else b.writeBigInt64BE(BigInt(v));
  return b;
}

/** float4 or float8. */
export function floatBinary(float4: boolean, x: number): Buffer {
  const b = Buffer.allocUnsafe(float4 ? 4 : 8);
  if (float4) b.writeFloatBE(x);
  else b.writeDoubleBE(x);
  return b;
}
