// A seeded random soak of the relay under transaction pooling: many node-postgres clients share a
// pool of a few server connections and run a random mix of simple and extended queries, named
// prepared statements, transactions that commit or roll back, SET values read back later, errors,
// large results read in full, and disconnects in the middle of a result. Every answer is checked
// against what it must be; afterwards no server connection is left lent and a fresh client sees
// exactly the committed rows. A failing seed reproduces (PGSHARD_SOAK_SEED=n).
import pg from 'pg';
import t, { type Test } from 'tap';
import { startProxyFixture, waitUntil } from '../helpers/proxy-fixture.js';
import { seededRandom } from '../helpers/seeded-random.js';

const SEED = Number(process.env.PGSHARD_SOAK_SEED ?? 20261124);
const CLIENTS = 12;
const STEPS_PER_CLIENT = 120;

const fx = await startProxyFixture(t, { pool: { sizeMax: 3, acquireTimeoutMs: 30_000 } });

const setup = new pg.Client(fx.clientConfig());
await setup.connect();
await setup.query('CREATE TABLE soak (client int, step int, note text, PRIMARY KEY (client, step))');
await setup.end();

/** What one client expects to find in `soak` at the end: its committed steps. */
const committed = new Map<number, Set<number>>();

type Step = (c: pg.Client, client: number, step: number) => Promise<void>;

async function runClient(t: Test, client: number, random: () => number): Promise<void> {
  committed.set(client, new Set());
  let c = new pg.Client(fx.clientConfig());
  await c.connect();
  let workMem: string | null = null;
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(random() * xs.length)]!;
  const steps: Record<string, Step> = {
    simple: async (c, client, step) => {
      const r = await c.query(`SELECT ${client} AS client, ${step} AS step, repeat('s', ${step % 50}) AS pad`);
      if (r.rows[0].client !== client || r.rows[0].step !== step || r.rows[0].pad.length !== step % 50) throw new Error(`simple: wrong row ${JSON.stringify(r.rows[0])}`);
    },
    extended: async (c, client, step) => {
      const r = await c.query('SELECT $1::int AS client, $2::int AS step, md5($2::text) AS h', [client, step]);
      if (r.rows[0].client !== client || r.rows[0].step !== step || r.rows[0].h.length !== 32) throw new Error(`extended: wrong row ${JSON.stringify(r.rows[0])}`);
    },
    prepared: async (c, client, step) => {
      // The same name on every client: the proxy must keep each client's statements apart.
      const r = await c.query({ name: `soak_q${step % 3}`, text: `SELECT $1::int + ${step % 3} AS v, $2::text AS who`, values: [step, `c${client}`] });
      if (r.rows[0].v !== step + (step % 3) || r.rows[0].who !== `c${client}`) throw new Error(`prepared: wrong row ${JSON.stringify(r.rows[0])}`);
    },
    commit: async (c, client, step) => {
      await c.query('BEGIN');
      await c.query('INSERT INTO soak VALUES ($1, $2, $3)', [client, step, 'committed']);
      const seen = await c.query('SELECT count(*)::int AS n FROM soak WHERE client = $1', [client]);
      await c.query('COMMIT');
      committed.get(client)!.add(step);
      if (seen.rows[0].n !== committed.get(client)!.size) throw new Error(`commit: saw ${seen.rows[0].n} rows inside the transaction, expected ${committed.get(client)!.size}`);
    },
    rollback: async (c, client, step) => {
      await c.query('BEGIN');
      await c.query('INSERT INTO soak VALUES ($1, $2, $3)', [client, step, 'rolled back']);
      await c.query('ROLLBACK');
    },
    failedTransaction: async (c, client, step) => {
      await c.query('BEGIN');
      await c.query('INSERT INTO soak VALUES ($1, $2, $3)', [client, step, 'aborted']);
      const err = await c.query('SELECT 1 / 0').then(() => null, (e: { code?: string }) => e);
      if (err?.code !== '22012') throw new Error(`failedTransaction: expected 22012, got ${String(err?.code)}`);
      const blocked = await c.query('SELECT 1').then(() => null, (e: { code?: string }) => e);
      if (blocked?.code !== '25P02') throw new Error(`failedTransaction: expected 25P02, got ${String(blocked?.code)}`);
      await c.query('ROLLBACK');
    },
    error: async (c) => {
      const err = await c.query('SELECT * FROM no_such_table_soak').then(() => null, (e: { code?: string }) => e);
      if (err?.code !== '42P01') throw new Error(`error: expected 42P01, got ${String(err?.code)}`);
    },
    set: async (c, client, step) => {
      workMem = `${64 + ((client * 131 + step) % 900)}kB`;
      await c.query(`SET work_mem = '${workMem}'`);
    },
    show: async (c) => {
      const r = await c.query('SHOW work_mem');
      const expected = workMem ?? '4MB';
      if (r.rows[0].work_mem !== expected) throw new Error(`show: work_mem is ${r.rows[0].work_mem}, this client set ${expected}`);
    },
    large: async (c, _client, step) => {
      const n = 5000 + step;
      const r = await c.query(`SELECT i, md5(i::text) AS h FROM generate_series(1, ${n}) i`);
      if (r.rows.length !== n) throw new Error(`large: ${r.rows.length} rows, expected ${n}`);
      for (let i = 0; i < r.rows.length; i += 997) {
        if (r.rows[i].i !== i + 1) throw new Error(`large: row ${i} is ${JSON.stringify(r.rows[i])}`);
      }
    },
    disconnectMidResult: async (c) => {
      // Ask for a large result and drop the connection while it streams; the next client must not
      // inherit that server connection's unread rows.
      c.on('error', () => undefined); // the client reports its own connection ending
      const q = c.query('SELECT i, repeat(md5(i::text), 4) FROM generate_series(1, 200000) i').catch(() => undefined);
      await new Promise((resolve) => setTimeout(resolve, 2 + Math.floor(random() * 5)));
      (c as unknown as { connection: { stream: { destroy(): void } } }).connection.stream.destroy();
      await q;
    },
  };
  const names = Object.keys(steps);
  for (let step = 0; step < STEPS_PER_CLIENT; step++) {
    const name = pick(names);
    try {
      await steps[name]!(c, client, step);
    } catch (err) {
      t.fail(`client ${client} step ${step} (${name}): ${(err as Error).message}`);
      throw err;
    }
    if (name === 'disconnectMidResult') {
      await c.end().catch(() => undefined);
      c = new pg.Client(fx.clientConfig());
      await c.connect();
      workMem = null;
    }
  }
  await c.end();
}

void t.test(`seed ${SEED}: ${CLIENTS} clients x ${STEPS_PER_CLIENT} random steps through 3 server connections`, async (t) => {
  const base = seededRandom(SEED);
  await Promise.all(Array.from({ length: CLIENTS }, (_, i) => runClient(t, i, seededRandom(Math.floor(base() * 2 ** 32)))));
  const check = new pg.Client(fx.clientConfig());
  await check.connect();
  t.teardown(() => check.end());
  const rows = await check.query<{ client: number; step: number; note: string }>('SELECT client, step, note FROM soak ORDER BY client, step');
  const expected = [...committed.entries()].flatMap(([client, stepSet]) => [...stepSet].sort((a, b) => a - b).map((step) => ({ client, step, note: 'committed' })));
  t.same(rows.rows, expected, 'exactly the committed rows are there');
  await waitUntil(
    'every server connection back in the pool',
    () => fx.proxy.context.admin.pools().every((p) => p.stats().active === 0),
    10_000,
  );
  const stats = fx.proxy.context.admin.pools().map((p) => p.stats());
  t.ok(stats.every((s) => s.active + s.idle + s.connecting <= 3), `never more than 3 server connections: ${JSON.stringify(stats.map((s) => [s.active, s.idle]))}`);
});
