// Finds a free TCP port on 127.0.0.1 by binding port 0 and releasing it. The port can be taken by
// someone else between release and use, so callers must still retry on "address in use" at startup
// (PgNode.start does). Ports handed out by this process are remembered so two nodes started
// concurrently in the same process never get the same one.
import { createServer } from 'node:net';

const LOOPBACK = '127.0.0.1';
const handedOut = new Set<number>();

function bindEphemeral(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.once('error', reject);
    server.listen({ host: LOOPBACK, port: 0, exclusive: true }, () => {
      const addr = server.address();
      if (addr === null || typeof addr === 'string') {
        server.close();
        reject(new Error('freePort: could not read the bound address'));
        return;
      }
      const { port } = addr;
      server.close((err) => (err ? reject(err) : resolve(port)));
    });
  });
}

/** A TCP port on 127.0.0.1 that was free a moment ago and was not returned before by this process. */
export async function freePort(): Promise<number> {
  for (let attempt = 0; attempt < 50; attempt++) {
    const port = await bindEphemeral();
    if (!handedOut.has(port)) {
      handedOut.add(port);
      return port;
    }
  }
  throw new Error('freePort: no unused port found after 50 attempts');
}
