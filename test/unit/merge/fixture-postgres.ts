// The PostgreSQL the fixture generators ask (generate-fixtures.ts, generate-expression-fixtures.ts):
// PGSHARD_FIXTURE_HOST/PORT when set, else a throwaway local cluster; stopped when `use` is done.
import pg from 'pg';
import { startLocalCluster } from '../../../proxy/demo/local-cluster.js';

export async function withFixturePostgres(use: (client: pg.Client) => Promise<void>): Promise<void> {
  const host = process.env.PGSHARD_FIXTURE_HOST;
  let stop = async (): Promise<void> => undefined;
  let config: pg.ClientConfig;
  if (host !== undefined) {
    config = { host, port: Number(process.env.PGSHARD_FIXTURE_PORT ?? 5432), user: 'postgres', database: 'postgres' };
  } else {
    const cluster = await startLocalCluster({ shards: 1, replicas: 0, users: [], databases: [], log: (line) => console.error(line) });
    const node = cluster.shards[0]!.primary;
    config = { host: node.socketDir, port: node.port, user: cluster.superuser, database: 'postgres' };
    stop = () => cluster.stop();
  }
  try {
    const client = new pg.Client(config);
    await client.connect();
    try {
      await use(client);
    } finally {
      await client.end();
    }
  } finally {
    await stop();
  }
}
