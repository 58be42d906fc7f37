// This proxy's identity, stable across restarts: it names the proxy's prepared transactions
// (gid.ts), so that after a crash the restarted proxy recognises and resolves its own. Kept in the
// state directory, created once (atomically: temp file + fsync + rename).

import { mkdir, open, readFile, rename } from 'node:fs/promises';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { PROXY_ID_PATTERN } from './gid.js';

export async function loadProxyId(dir: string): Promise<string> {
  const path = join(dir, 'proxy-id');
  try {
    const id = (await readFile(path, 'utf8')).trim();
    if (!PROXY_ID_PATTERN.test(id)) throw new Error(`${path} does not hold a valid proxy id (${PROXY_ID_PATTERN.source})`);
    return id;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
  }
  await mkdir(dir, { recursive: true });
  const id = `p${randomBytes(6).toString('hex')}`;
  const tmp = `${path}.tmp`;
  const file = await open(tmp, 'w', 0o600);
  try {
    await file.writeFile(`${id}\n`);
    await file.sync();
  } finally {
    await file.close();
  }
  await rename(tmp, path);
  const d = await open(dir, 'r');
  try {
    await d.sync();
  } finally {
    await d.close();
  }
  return id;
}
