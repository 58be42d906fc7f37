// The read router over a fake health view and real pools (never connected: choosing a pool does not
// connect): the session's consistency or a hint decides, sync reads stick to the replica they read
// last while it qualifies (monotonic reads), a change of replica needs one known to be as far, and a
// shard whose position is unknown sends sync reads (only) to the primary.

import t from 'tap';
import type { NodeView } from '../../../topology/health/node-health.js';
import type { HealthChecker } from '../../../proxy/health/health-checker.js';
import { replicaView } from '../../helpers/node-views.js';
import { PoolRegistry } from '../../../proxy/backend/pool-registry.js';
import { ReadRouter, initialReadSettings, type ReadSettings } from '../../../proxy/replicas/read-router.js';
import { parseConfig } from '../../../topology/config/load-config.js';
import { silentLogger } from '../../../proxy/logger.js';

const config = parseConfig({
  users: [{ name: 'app', password: 'x' }],
  databases: [
    {
      name: 'db',
      shards: [{ name: 's0', primary: { host: '127.0.0.1', port: 1 }, replicas: [{ host: '127.0.0.1', port: 2 }, { host: '127.0.0.1', port: 3 }] }],
    },
  ],
});
const db = config.databases[0]!;
const user = config.users[0]!;

function view(port: number, replayLsn: bigint, over: Partial<NodeView> = {}): NodeView {
  return replicaView('db', 's0', `127.0.0.1:${port}`, Date.now(), { receiveLsn: replayLsn, replayLsn, ...over });
}

void t.test('choice by consistency, hints, stickiness and unknown positions', async (t) => {
  const pools = new PoolRegistry(config, silentLogger());
  t.teardown(() => pools.closeAll());
  let views: NodeView[] = [];
  const health = { shardSnapshot: () => views } as unknown as HealthChecker;
  const router = new ReadRouter(db, user, pools, () => health, () => config);
  const r2 = pools.node(db, user, 0, { host: '127.0.0.1', port: 2 });
  const r3 = pools.node(db, user, 0, { host: '127.0.0.1', port: 3 });
  const reads: ReadSettings = initialReadSettings(config);

  views = [view(2, 100n), view(3, 100n)];
  t.same(router.choose(0, { ...reads, consistency: 'strong' }, null), { kind: 'primary' }, 'strong: primary');
  t.same(router.choose(0, reads, 'strong'), { kind: 'primary' }, 'a strong hint wins over the session');
  const first = router.choose(0, reads, null);
  t.equal(first.kind, 'replica');
  const sticky = first.kind === 'replica' ? first.pool : null;
  for (let i = 0; i < 10; i++) {
    const again = router.choose(0, reads, null);
    t.equal(again.kind === 'replica' ? again.pool : null, sticky, `sync read ${i} stays on the replica read last`);
  }
  const other = sticky === r2 ? r3 : r2;
  const otherPort = other === r2 ? 2 : 3;
  const stickyPort = otherPort === 2 ? 3 : 2;

  // The replica read last drops out; the other one is known to be behind what the session saw.
  views = [view(stickyPort, 200n, { routable: false }), view(otherPort, 100n)];
  reads.lastReplica[0] = { address: `127.0.0.1:${stickyPort}`, replayed: 200n };
  t.match(router.choose(0, reads, null), { kind: 'wait', lsn: 200n }, 'a replica behind what the session saw is not read: the read waits for it');
  views = [view(stickyPort, 200n, { routable: false }), view(otherPort, 250n)];
  t.same(router.choose(0, reads, null), { kind: 'replica', pool: other }, 'once it is known to be as far, it serves');
  t.equal(reads.lastReplica[0]?.address, `127.0.0.1:${otherPort}`, 'and becomes the one read last');

  // A commit position beyond every replica: wait, then (the caller) the primary.
  reads.positions[0] = 900n;
  t.match(router.choose(0, reads, null), { kind: 'wait', lsn: 900n });
  t.same(router.choose(0, reads, 'async'), { kind: 'replica', pool: other }, 'async ignores positions');

  reads.unknown.add(0);
  t.same(router.choose(0, reads, null), { kind: 'primary' }, 'position unknown: sync reads go to the primary');
  t.equal(router.choose(0, reads, 'async').kind, 'replica', 'async reads do not care');
});
