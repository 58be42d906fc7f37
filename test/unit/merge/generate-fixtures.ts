// Regenerates test/unit/merge/fixtures/pg15-values.json from a real PostgreSQL 15 (run once; the
// fixture is committed): node --import tsx test/unit/merge/generate-fixtures.ts
// It starts a throwaway one-node cluster, or uses the server named by PGSHARD_FIXTURE_HOST (a socket
// directory or host) and PGSHARD_FIXTURE_PORT, as superuser postgres.
//
// What PostgreSQL itself printed, for inputs generated here from a fixed seed:
// - avg()/sum() of int2/int4/int8/numeric value lists (the exact text of numeric_avg/int8_avg and
//   sums, i.e. select_div_scale and div_var's rounding), and numeric_send of every avg;
// - float8out and float4out of bit patterns, powers of two, integers and ties, under
//   extra_float_digits 1 (shortest), 3, 0 and -3 (%.Ng);
// - date/timestamp/timestamptz/time text under several TimeZones with their microseconds since
//   2000-01-01 (extract(epoch ...)), including BC, far-future years and infinity.
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import { withFixturePostgres } from './fixture-postgres.js';
import { EXTRA_FLOAT_DIGITS, FIXTURE_FILE, type AggregateCase, type DatetimeCase, type FloatCase, type Fixtures } from './pg-fixtures.js';

let seed = 0x2468ace;
function rand32(): number {
  seed ^= seed << 13;
  seed ^= seed >>> 17;
  seed ^= seed << 5;
  return seed >>> 0;
}
const randInt = (lo: number, hi: number): number => lo + (rand32() % (hi - lo + 1));
const digits = (n: number): string => Array.from({ length: n }, () => String(randInt(0, 9))).join('');

function randomNumeric(): string {
  const sign = rand32() % 4 === 0 ? '-' : '';
  switch (rand32() % 5) {
    case 0:
      return `${sign}${digits(randInt(1, 30)).replace(/^0+(?=\d)/, '')}`;
    case 1:
      return `${sign}0.${'0'.repeat(randInt(0, 14))}${randInt(1, 9)}`;
    case 2:
      return `${sign}${digits(randInt(1, 6)).replace(/^0+(?=\d)/, '')}.${digits(randInt(1, 25))}`;
    default:
      return `${sign}${digits(randInt(1, 9)).replace(/^0+(?=\d)/, '')}.${digits(randInt(0, 4))}`.replace(/\.$/, '');
  }
}

function randomInt(type: 'int2' | 'int4' | 'int8'): string {
  const max = type === 'int2' ? 32767 : type === 'int4' ? 2147483647 : Number.MAX_SAFE_INTEGER;
  const v = rand32() % 3 === 0 ? randInt(-1000, 1000) : Math.floor((rand32() / 0x100000000) * max) * (rand32() % 2 ? -1 : 1);
  if (type === 'int8' && rand32() % 4 === 0) return `${rand32() % 2 ? '-' : ''}${randInt(1, 9)}${digits(17)}`;
  return String(v);
}

function aggregateInputs(): { type: AggregateCase['type']; values: string[] }[] {
  const cases: { type: AggregateCase['type']; values: string[] }[] = [
    { type: 'int4', values: ['1', '2'] },
    { type: 'int4', values: ['1', '2', '4'] },
    { type: 'numeric', values: ['1.25', '2.5'] },
    { type: 'int4', values: ['-1', '-2'] },
    { type: 'int4', values: ['-1', '-2', '-4'] },
    { type: 'int4', values: ['2147483647', '2147483647', '2147483647'] },
    { type: 'int8', values: ['9223372036854775807', '9223372036854775807'] },
    { type: 'int8', values: ['-9223372036854775808', '-1'] },
    { type: 'int2', values: ['32767', '32767', '-32768'] },
    { type: 'numeric', values: ['1e30', '3'] },
    { type: 'numeric', values: ['0.00001', '0.00002', '0.00004'] },
    { type: 'numeric', values: ['9999.9999', '0.0001'] },
    { type: 'numeric', values: ['0', '0.000'] },
    { type: 'numeric', values: ['-0.5', '0.5', '-0.5'] },
    { type: 'numeric', values: ['NaN', '1'] },
    { type: 'numeric', values: ['Infinity', '1'] },
    { type: 'numeric', values: ['-Infinity', '1'] },
    { type: 'numeric', values: ['Infinity', '-Infinity'] },
    { type: 'numeric', values: ['123456789012345678901234567890.123456789', '-0.000000000000000000001'] },
  ];
  for (let i = 0; i < 250; i++) {
    const n = randInt(1, 9);
    cases.push({ type: 'numeric', values: Array.from({ length: n }, randomNumeric) });
  }
  for (const type of ['int2', 'int4', 'int8'] as const) {
    for (let i = 0; i < 60; i++) cases.push({ type, values: Array.from({ length: randInt(1, 7) }, () => randomInt(type)) });
  }
  return cases;
}

function floatInputs(single: boolean): number[] {
  const view = new DataView(new ArrayBuffer(8));
  const xs = [0, -0, 1, -1, 0.1, 1 / 3, 2.5, 0.5, 100, 1e-4, 1e-5, 1.5e-5, 123456, 1234567, 1e15, 1e14, 1e16, 1e20, 1e21, 1e-7, NaN, Infinity, -Infinity];
  xs.push(431591630415800832, 35935128, 55947.0625, 3552.15625, 100000000000000.5, 5e-324, 1.7976931348623157e308, 2 ** 53 - 1, 2 ** 53 + 2);
  for (let e = -20; e <= 70; e += 3) xs.push(2 ** e, -(2 ** e) * 3);
  for (let i = 0; i < 150; i++) {
    view.setUint32(0, rand32());
    view.setUint32(4, rand32());
    xs.push(single ? view.getFloat32(0) : view.getFloat64(0));
    xs.push(randInt(-100000000, 100000000) / 2 ** randInt(0, 12));
    xs.push(Number(BigInt(rand32()) * BigInt(rand32())));
  }
  const out = xs.map((x) => (single ? Math.fround(x) : x));
  return out.filter((x) => !single || x === 0 || !Number.isFinite(x) || (Math.abs(x) >= 1.2e-38 && Math.abs(x) <= 3.4e38));
}

function bitsOf(x: number): string {
  const b = Buffer.alloc(8);
  b.writeDoubleBE(x);
  return b.toString('hex');
}

async function generate(client: pg.Client): Promise<Fixtures> {
  const version = (await client.query<{ v: string }>(`SELECT current_setting('server_version') AS v`)).rows[0]!.v;
  const aggregates: AggregateCase[] = [];
  for (const c of aggregateInputs()) {
    const r = await client.query<{ sum: string; avg: string; send: string }>(
      `SELECT sum(x)::text AS sum, avg(x)::text AS avg, encode(numeric_send(avg(x)), 'hex') AS send FROM unnest($1::${c.type}[]) AS x`,
      [c.values],
    );
    const row = r.rows[0]!;
    aggregates.push({ ...c, sum: row.sum, avg: row.avg, avgSend: row.send });
  }
  const floats = async (single: boolean): Promise<FloatCase[]> => {
    const xs = floatInputs(single);
    const cases: FloatCase[] = xs.map((x) => ({ bits: bitsOf(x), text: {} }));
    for (const efd of EXTRA_FLOAT_DIGITS) {
      await client.query(`SET extra_float_digits = ${efd}`);
      // Sent as exact decimal expansions: float8in reads them back to exactly the same double.
      const r = await client.query<{ t: string }>(
        `SELECT (${single ? 'v::float8::float4' : 'v::float8'})::text AS t FROM unnest($1::text[]) WITH ORDINALITY AS u(v, o) ORDER BY o`,
        [xs.map(literal)],
      );
      r.rows.forEach((row, i) => (cases[i]!.text[efd] = row.t));
    }
    await client.query('RESET extra_float_digits');
    return cases;
  };
  const float8 = await floats(false);
  const float4 = await floats(true);
  const datetimes: DatetimeCase[] = [];
  for (const timeZone of ['UTC', 'Europe/Amsterdam', 'America/St_Johns', 'Asia/Kolkata']) {
    await client.query(`SET TimeZone = '${timeZone}'`);
    const r = await client.query<{ ts: string; tstz: string; d: string; tm: string; us: string | null; ustz: string | null; days: string | null; tmus: string }>(
      `WITH s AS (
         SELECT (timestamp '4713-01-01 00:00:00 BC' + make_interval(secs => ((i * 7919) % 1000) / 1000.0 * 9.2e12))::timestamp(6) AS t FROM generate_series(1, 60) i
         UNION ALL SELECT timestamp '1900-01-01' + make_interval(secs => i * 98765432.123457) FROM generate_series(1, 60) i
         UNION ALL VALUES (timestamp 'infinity'), (timestamp '-infinity'), (timestamp '0001-01-01 00:00:00 BC'), (timestamp '2000-01-01 00:00:00'))
       SELECT t::text AS ts, t::timestamptz::text AS tstz, t::date::text AS d, t::time::text AS tm,
              CASE WHEN isfinite(t) THEN ((extract(epoch FROM t) - 946684800) * 1000000)::numeric(40,0)::text END AS us,
              CASE WHEN isfinite(t) THEN ((extract(epoch FROM t::timestamptz) - 946684800) * 1000000)::numeric(40,0)::text END AS ustz,
              CASE WHEN isfinite(t) THEN (t::date - date '2000-01-01')::text END AS days,
              (extract(epoch FROM t::time) * 1000000)::numeric(40,0)::text AS tmus
         FROM s`,
    );
    for (const row of r.rows) {
      const inf = row.ts.endsWith('infinity') ? row.ts : null;
      datetimes.push({ type: 'timestamptz', timeZone, text: row.tstz, value: inf ?? row.ustz! });
      if (timeZone !== 'UTC') continue;
      datetimes.push({ type: 'timestamp', timeZone, text: row.ts, value: inf ?? row.us! });
      datetimes.push({ type: 'date', timeZone, text: row.d, value: inf ?? row.days! });
      if (inf === null) datetimes.push({ type: 'time', timeZone, text: row.tm, value: row.tmus });
    }
  }
  return { postgres: version, aggregates, float8, float4, datetimes };
}

function literal(x: number): string {
  if (Number.isNaN(x)) return 'NaN';
  if (x === Infinity) return 'Infinity';
  if (x === -Infinity) return '-Infinity';
  return Object.is(x, -0) ? '-0' : exactDecimal(x);
}

/** The exact decimal value of a finite double (every binary fraction has a finite expansion). */
function exactDecimal(x: number): string {
  const view = new DataView(new ArrayBuffer(8));
  view.setFloat64(0, x);
  const bits = view.getBigUint64(0);
  const negative = bits >> 63n === 1n;
  const biased = Number((bits >> 52n) & 0x7ffn);
  let m = bits & 0xfffffffffffffn;
  let e = biased - 1075;
  if (biased === 0) e = -1074;
  else m |= 0x10000000000000n;
  let text: string;
  if (e >= 0) text = (m << BigInt(e)).toString();
  else {
    // m / 2^-e = m × 5^-e / 10^-e
    const scaled = (m * 5n ** BigInt(-e)).toString().padStart(-e + 1, '0');
    text = `${scaled.slice(0, scaled.length + e)}.${scaled.slice(scaled.length + e)}`;
  }
  return negative ? `-${text}` : text;
}

async function main(): Promise<void> {
  await withFixturePostgres(async (client) => {
    const fixtures = await generate(client);
    mkdirSync(dirname(FIXTURE_FILE), { recursive: true });
    writeFileSync(FIXTURE_FILE, JSON.stringify(fixtures, null, 0).replace(/\},\{/g, '},\n{') + '\n');
    console.error(
      `PostgreSQL ${fixtures.postgres}: ${fixtures.aggregates.length} aggregates, ${fixtures.float8.length} float8, ` +
        `${fixtures.float4.length} float4, ${fixtures.datetimes.length} datetimes`,
    );
  });
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  await main();
}
