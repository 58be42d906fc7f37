// The proxy's version, read once from package.json so there is one place to bump it.

import { readFileSync } from 'node:fs';

function readVersion(): string {
  for (const rel of ['../package.json', '../../package.json']) {
    try {
      const pkg = JSON.parse(readFileSync(new URL(rel, import.meta.url), 'utf8')) as { name?: string; version?: string };
      if (pkg.name === 'pgshard' && typeof pkg.version === 'string') return pkg.version;
    } catch {
      // try the next candidate: sources run from proxy/, the build from dist/proxy/
    }
  }
  return '0.0.0';
}

export const PGSHARD_VERSION = readVersion();
