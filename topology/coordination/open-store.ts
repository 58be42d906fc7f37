// Picks the topology store the configuration asks for: a file in state.dir for one proxy, etcd for
// several.

import type { Config } from '../config/config-types.js';
import type { Logger } from '../../proxy/logger.js';
import { EtcdTopologyStore } from './etcd-store.js';
import { LocalTopologyStore } from './local-store.js';
import type { TopologyStore } from './topology-store.js';

export async function openTopologyStore(config: Config, proxyId: string, log: Logger): Promise<TopologyStore> {
  const c = config.coordination;
  switch (c.kind) {
    case 'local':
      return LocalTopologyStore.open(config.state.dir, log);
    case 'etcd':
      return EtcdTopologyStore.open({ endpoints: c.endpoints, leaseTtlMs: c.leaseTtlMs, prefix: c.prefix, proxyId, log });
  }
}
