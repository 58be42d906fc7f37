// docker/pgshard.yaml must stay a valid config for the compose topology (no Docker engine here).
import t from 'tap';
import { readFileSync } from 'node:fs';
import { parse } from 'yaml';
import { loadConfigFile } from '../../topology/config/load-config.js';

void t.test('docker/pgshard.yaml is valid and matches compose.yaml', async (t) => {
  const config = loadConfigFile(new URL('../../docker/pgshard.yaml', import.meta.url).pathname);
  const compose = parse(readFileSync(new URL('../../docker/compose.yaml', import.meta.url), 'utf8')) as {
    services: Record<string, unknown>;
  };
  const services = Object.keys(compose.services);
  const db = config.databases[0]!;
  t.equal(db.shards.length, 2, 'two shards, like the demo');
  for (const shard of db.shards) {
    t.ok(services.includes(shard.primary.host), `${shard.primary.host} is a compose service`);
    t.equal(shard.replicas.length, 1, 'one replica per shard, like the demo');
    for (const r of shard.replicas) t.ok(services.includes(r.host), `${r.host} is a compose service`);
  }
  t.ok(services.includes('pgshard'));
});
