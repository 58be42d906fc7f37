// SHOW NODES against a fake context: the columns, one row per node view with LSNs in pg_lsn text,
// booleans as t/f, the check age, and the configured nodes listed as 'unchecked' without a checker.
import t from 'tap';
import type { AdminView } from '../../../proxy/admin/admin-command.js';
import { findAdminCommand, splitAdminStatements } from '../../../proxy/admin/commands.js';
import { SHOW_NODES_COLUMNS } from '../../../proxy/admin/show-nodes.js';
import type { ProxyContext } from '../../../proxy/context.js';
import type { NodeView } from '../../../topology/health/node-health.js';
import { parseConfig } from '../../../topology/config/load-config.js';

const config = parseConfig({
  users: [{ name: 'ops', password: 'pw', admin: true }],
  databases: [
    {
      name: 'appdb',
      shards: [
        { name: 'shard0', primary: { host: '10.0.0.1', port: 5432 }, replicas: [{ host: '10.0.0.2', port: 5433 }] },
        { name: 'shard1', primary: { host: '10.0.0.3', port: 5432 }, replicas: [] },
      ],
    },
  ],
});

const view: AdminView = { pools: () => [], clients: () => [] };

async function run(health: ProxyContext['health'], sql = 'show nodes') {
  const ctx = { config: () => config, health, admin: view } as unknown as ProxyContext;
  const [statement] = splitAdminStatements(sql);
  return findAdminCommand(statement!).execute(ctx, view);
}

function nodeView(over: Partial<NodeView>): NodeView {
  return {
    key: 'appdb/shard0/10.0.0.1:5432',
    database: 'appdb',
    shard: 'shard0',
    address: '10.0.0.1:5432',
    configuredRole: 'primary',
    observedRole: 'primary',
    state: 'up',
    up: true,
    failures: 0,
    promoted: false,
    receiving: null,
    upstream: null,
    currentLsn: 0x16b374d848n,
    receiveLsn: null,
    replayLsn: null,
    lagBytes: null,
    lagMs: null,
    lagAtMs: null,
    routable: false,
    lastCheckAtMs: Date.now() - 250,
    sampledAtMs: Date.now() - 260,
    lastError: null,
    ...over,
  };
}

void t.test('columns and rows from the health snapshot', async (t) => {
  const nodes = [
    nodeView({}),
    nodeView({
      key: 'appdb/shard0/10.0.0.2:5433',
      address: '10.0.0.2:5433',
      configuredRole: 'replica',
      observedRole: 'replica',
      currentLsn: null,
      receiveLsn: 0x16b374d900n,
      replayLsn: 0x16b374d800n,
      receiving: true,
      lagBytes: 72n,
      lagMs: 12.6,
      routable: true,
    }),
    nodeView({
      key: 'appdb/shard1/10.0.0.3:5432',
      shard: 'shard1',
      address: '10.0.0.3:5432',
      observedRole: 'unknown',
      state: 'down',
      up: false,
      failures: 4,
      currentLsn: null,
      lastCheckAtMs: null,
      lastError: 'could not connect to server health appdb/shard1 (10.0.0.3:5432): ECONNREFUSED',
    }),
  ];
  const result = await run({ snapshot: () => nodes });
  t.equal(result.tag, 'SHOW');
  t.strictSame(
    result.columns.map((c) => c.name),
    ['database', 'shard', 'node', 'configured_role', 'observed_role', 'state', 'routable', 'lag_bytes', 'lag_ms', 'current_lsn', 'receive_lsn', 'replay_lsn', 'receiving', 'promoted', 'failures', 'last_check_age_ms', 'last_error'],
  );
  t.equal(result.columns, SHOW_NODES_COLUMNS);
  t.equal(result.rows.length, 3);
  const [p, r, down] = result.rows as (string | null)[][];
  t.strictSame(p!.slice(0, 15), ['appdb', 'shard0', '10.0.0.1:5432', 'primary', 'primary', 'up', 'f', null, null, '16/B374D848', null, null, null, 'f', '0']);
  const age = Number(p![15]);
  t.ok(age >= 250 && age < 5_000, `last check age ${age} ms`);
  t.equal(p![16], null);
  t.strictSame(r!.slice(0, 15), ['appdb', 'shard0', '10.0.0.2:5433', 'replica', 'replica', 'up', 't', '72', '13', null, '16/B374D900', '16/B374D800', 't', 'f', '0']);
  t.strictSame(down!.slice(3, 8), ['primary', 'unknown', 'down', 'f', null]);
  t.equal(down![14], '4');
  t.equal(down![15], null, 'never checked: no age');
  t.match(down![16], /ECONNREFUSED/);
});

void t.test('without a health checker: the configured nodes, unchecked', async (t) => {
  const result = await run(null, 'SHOW NODES;');
  t.strictSame(
    result.rows.map((row) => row.slice(0, 7)),
    [
      ['appdb', 'shard0', '10.0.0.1:5432', 'primary', 'unknown', 'unchecked', 'f'],
      ['appdb', 'shard0', '10.0.0.2:5433', 'replica', 'unknown', 'unchecked', 'f'],
      ['appdb', 'shard1', '10.0.0.3:5432', 'primary', 'unknown', 'unchecked', 'f'],
    ],
  );
  t.ok(result.rows.every((row) => row.length === SHOW_NODES_COLUMNS.length), 'every row has every column');
});

void t.test('SHOW NODES takes no arguments', async (t) => {
  await t.rejects(run(null, 'SHOW NODES extra'), { sqlstate: '42601', message: /SHOW NODES: expected end of command/ });
});
