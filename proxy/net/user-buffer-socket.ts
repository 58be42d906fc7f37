// Sockets that read into a buffer of their own (net's `onread` option) instead of through the Readable
// stream machinery: no 64 KiB allocation and no stream bookkeeping per read, which is a measurable
// share of the proxy's CPU per round trip. The price is that a chunk's bytes are only valid until the
// next read, so a consumer that keeps any of them (a queued write, a message waiting for a server
// connection) says so, and the socket moves on to a fresh buffer.

import net from 'node:net';
import { nodeEndpoint } from '../../topology/node-endpoint.js';

/** Handles one chunk; returns true when any of its bytes stay referenced after the call. */
export type ChunkConsumer = (chunk: Buffer) => boolean;

function userBufferOption(bytes: number, consume: ChunkConsumer): net.OnReadOpts {
  let buffer = Buffer.allocUnsafe(bytes);
  return {
    buffer: () => buffer,
    callback: (nread: number, buf: Uint8Array): boolean => {
      const chunk = Buffer.from(buf.buffer, buf.byteOffset, nread);
      if (consume(chunk)) buffer = Buffer.allocUnsafe(bytes);
      return true;
    },
  };
}

/** net.connect to a node (TCP, or its Unix socket when `host` is a directory), reading into a buffer of `bytes` bytes. */
export function connectWithUserBuffer(host: string, port: number, bytes: number, consume: ChunkConsumer): net.Socket {
  return net.connect({ ...nodeEndpoint(host, port), onread: userBufferOption(bytes, consume) });
}

interface HandleOwner {
  _handle: unknown;
}

/**
 * Moves an accepted connection (from a server created with pauseOnConnect) to a socket that reads into
 * its own buffer. The accepted wrapper is destroyed without closing the descriptor, which keeps the
 * server's connection count right.
 */
export function adoptWithUserBuffer(accepted: net.Socket, bytes: number, consume: ChunkConsumer): net.Socket {
  const owner = accepted as unknown as HandleOwner;
  const handle = owner._handle;
  owner._handle = null;
  accepted.destroy();
  const socket = new net.Socket({ handle, readable: true, writable: true, onread: userBufferOption(bytes, consume) } as net.SocketConstructorOpts);
  socket.resume();
  return socket;
}
