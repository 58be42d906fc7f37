// Where a PostgreSQL node listens, as net.connect wants it. A node `host` that is an absolute path
// is a Unix-socket directory, as in libpq: the socket is `<dir>/.s.PGSQL.<port>`. A proxy on the
// database's machine saves the TCP stack on that hop (about 2 µs of system time per round trip on
// loopback, docs/benchmarks.md).

/** Longest socket path Linux accepts (sun_path is 108 bytes with its terminating NUL). */
export const UNIX_SOCKET_PATH_BYTES_MAX = 107;

export function isSocketDirectory(host: string): boolean {
  return host.startsWith('/');
}

export function unixSocketPath(dir: string, port: number): string {
  return `${dir.replace(/\/+$/, '')}/.s.PGSQL.${port}`;
}

export type NodeEndpoint = { readonly path: string } | { readonly host: string; readonly port: number };

export function nodeEndpoint(host: string, port: number): NodeEndpoint {
  return isSocketDirectory(host) ? { path: unixSocketPath(host, port) } : { host, port };
}
