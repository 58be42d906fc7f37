// Type bytes of the frontend (client → server) messages the proxy looks at, in one place.
// Reference: https://www.postgresql.org/docs/15/protocol-message-formats.html

export const T_PARSE = 0x50; // P
export const T_BIND = 0x42; // B
export const T_DESCRIBE = 0x44; // D
export const T_EXECUTE = 0x45; // E
export const T_CLOSE = 0x43; // C
export const T_SYNC = 0x53; // S
export const T_FLUSH = 0x48; // H
export const T_QUERY = 0x51; // Q
export const T_FUNCTION_CALL = 0x46; // F
export const T_COPY_DATA = 0x64; // d
export const T_COPY_DONE = 0x63; // c
export const T_COPY_FAIL = 0x66; // f

/** A message after which the client's batch may be sent as a whole (it asks for answers). */
export function isBatchBoundary(type: number): boolean {
  return type === T_SYNC || type === T_QUERY || type === T_FUNCTION_CALL || type === T_FLUSH;
}
