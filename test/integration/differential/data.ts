// The differential suite's data: a deterministic generator (fixed seed, no Date.now, no Math.random) of
// every table's rows as text values, and their rendering as multi-row INSERT statements (literal or
// with $n parameters) and as COPY text-format input. The same rows are loaded into the oracle and,
// through the proxy, into the shards. Values are chosen to trap a proxy that merges naively: non-ASCII
// text (including a character above U+FFFF next to ones in U+E000-U+FFFF, which sort differently by
// UTF-16 code unit than by code point), NaN and ±Infinity floats, BC and infinite dates, int8 keys
// beyond 2^53 and at both ends of the range, text keys with tabs, newlines, backslashes and an empty
// string, and NULLs in every nullable column.
import { seededRandom } from '../../helpers/seeded-random.js';

/** A value as PostgreSQL prints it in text format; null is SQL NULL. */
export type Cell = string | null;

/** How a column's values are written in SQL: bare (numbers, booleans) or as a quoted literal. */
export type LiteralStyle = 'bare' | 'quoted';

export interface Column {
  readonly name: string;
  readonly style: LiteralStyle;
}

export interface TableData {
  readonly name: string;
  readonly columns: readonly Column[];
  /** The columns that identify a row (its primary key), for ORDER BY in whole-table reads. */
  readonly key: readonly string[];
  readonly rows: Cell[][];
}

export interface Dataset {
  readonly countries: TableData;
  readonly customers: TableData;
  readonly orders: TableData;
  readonly products: TableData;
  readonly sessions: TableData;
  readonly regionsEvents: TableData;
  readonly readings: TableData;
  /** Every table, in load order (countries first: nothing references it by constraint, but it reads well). */
  readonly all: readonly TableData[];
}

export const DEFAULT_SEED = 0x5eed_2024;

/** mulberry32 (test/helpers/seeded-random.ts): the same seed gives the same data everywhere. */
export const prng = seededRandom;

class Gen {
  constructor(readonly next: () => number) {}
  /** Integer in [lo, hi]. */
  int(lo: number, hi: number): number {
    return lo + Math.floor(this.next() * (hi - lo + 1));
  }
  chance(p: number): boolean {
    return this.next() < p;
  }
  pick<T>(items: readonly T[]): T {
    const item = items[Math.floor(this.next() * items.length)];
    if (item === undefined) throw new Error('pick from an empty list');
    return item;
  }
  /** A decimal with `scale` digits after the point, from integer units in [lo, hi]. */
  decimal(lo: number, hi: number, scale: number): string {
    const units = this.int(lo, hi);
    const neg = units < 0;
    const digits = String(Math.abs(units)).padStart(scale + 1, '0');
    const whole = digits.slice(0, digits.length - scale);
    const frac = digits.slice(digits.length - scale);
    return `${neg ? '-' : ''}${whole}${scale > 0 ? `.${frac}` : ''}`;
  }
  /** A timestamptz literal in UTC between 2020 and 2024, with microseconds. */
  timestamp(): string {
    const base = Date.UTC(2020, 0, 1) / 1000;
    const secs = base + this.int(0, 5 * 365 * 86400);
    const d = new Date(secs * 1000).toISOString().slice(0, 19).replace('T', ' ');
    return `${d}.${String(this.int(0, 999_999)).padStart(6, '0')}+00`;
  }
  date(fromYear: number, toYear: number): string {
    const base = Date.UTC(fromYear, 0, 1) / 86_400_000;
    const days = this.int(0, (toYear - fromYear + 1) * 365 - 1);
    return new Date((base + days) * 86_400_000).toISOString().slice(0, 10);
  }
  float(): string {
    // Three decimals' worth of precision, sometimes huge or tiny: PostgreSQL and V8 both print the
    // shortest round-trip form, but the suite never relies on that (both sides parse the same text).
    const kind = this.int(0, 9);
    const base = this.int(-100_000, 100_000) / 1000;
    if (kind === 0) return String(base * 1e12);
    if (kind === 1) return String(base / 1e9);
    return String(base);
  }
  uuid(): string {
    const hex: string[] = [];
    for (let i = 0; i < 32; i++) hex.push(this.int(0, 15).toString(16));
    hex[12] = '4';
    hex[16] = this.pick(['8', '9', 'a', 'b']);
    const h = hex.join('');
    return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
  }
}

/** Names with ties, case variants, accents, CJK, emoji (U+1F600, above U+FFFF) and U+FF71/U+FB01 (below). */
export const NAMES = [
  'Émile', 'émile', 'Emile', 'Zoë', 'zoe', 'Günther', 'Straße', 'STRASSE', 'Łukasz', 'José', 'jose',
  '日本太郎', '山田花子', '😀 Smiley', '🎉 Party', 'ｱｲｳ Kana', 'ﬁnn', 'Ångström', 'bob', 'Bob', 'alice',
  "O'Brien", 'back\\slash', 'tab\tname', 'Ωmega', 'Ärger', 'ß', '', 'naïve café', 'Ÿvonne',
] as const;

export const COUNTRY_CODES = [
  'DE', 'FR', 'GB', 'US', 'JP', 'BR', 'ES', 'IT', 'NL', 'SE',
  'PL', 'CN', 'IN', 'CA', 'MX', 'ZA', 'AU', 'KR', 'CH', 'AT',
] as const;

const COUNTRY_ROWS: readonly [string, string, string, boolean][] = [
  ['DE', 'Deutschland', 'Europe', true], ['FR', 'France', 'Europe', true], ['GB', 'United Kingdom', 'Europe', false],
  ['US', 'United States', 'North America', false], ['JP', '日本', 'Asia', false], ['BR', 'Brasil', 'South America', false],
  ['ES', 'España', 'Europe', true], ['IT', 'Italia', 'Europe', true], ['NL', 'Nederland', 'Europe', true],
  ['SE', 'Sverige', 'Europe', true], ['PL', 'Polska', 'Europe', true], ['CN', '中国', 'Asia', false],
  ['IN', 'भारत', 'Asia', false], ['CA', 'Canada', 'North America', false], ['MX', 'México', 'North America', false],
  ['ZA', 'South Africa', 'Africa', false], ['AU', 'Australia', 'Oceania', false], ['KR', '대한민국', 'Asia', false],
  ['CH', 'Schweiz', 'Europe', false], ['AT', 'Österreich', 'Europe', true],
];

/** int8 customer ids at the edges: 0, negatives, around 2^31, beyond 2^53, int8 min and max. */
export const SPECIAL_CUSTOMER_IDS = [
  '0', '-7', '2147483647', '2147483648', '5000000001', '9007199254740993',
  '9223372036854775807', '-9223372036854775808', '123456789012', '-42000000000',
] as const;

/** Text keys that trap a COPY splitter or a key extractor: escapes, whitespace, empty, non-ASCII. */
export const SPECIAL_SKUS = [
  'café', 'straße', '日本茶', '🍣-roll', 'ａｂｃ', '', 'back\\slash', 'tab\tkey', 'line\nbreak', "O'Neil",
  'Ünïcödé', 'ﬁsh', 'ｱｲｳ', 'zzz', 'AAA', 'a', 'B', '\\N', ' lead space', 'trail space ',
] as const;

export const STATUSES = ['new', 'paid', 'shipped', 'cancelled', 'returned'] as const;
export const REGIONS = ['eu', 'uk', 'us', 'jp', 'br', 'EU', 'de'] as const;
/** Sensors on and around the range rule's boundaries (1000 and 5000). */
export const BOUNDARY_SENSORS = [-50, 0, 999, 1000, 1001, 4999, 5000, 5001, 7000] as const;

const NOTES = ['gift 🎁', 'fragile', 'Lieferung an Nachbarn', '置き配', 'call first', 'ｱｲｳ', 'ﬁrst ﬂoor', "it's late"];
const TITLES = ['Kaffee', 'Thé vert', '緑茶', 'Tofu 豆腐', 'Crème brûlée', 'Bücher', 'Toy 🚂', 'Widget', 'widget', 'Ωhm meter'];
const CATEGORIES = ['books', 'food', 'toys', 'électronique', '家具'];

function table(name: string, cols: [string, LiteralStyle][], key: string[], rows: Cell[][]): TableData {
  return { name, columns: cols.map(([n, style]) => ({ name: n, style })), key, rows };
}

const maybe = (g: Gen, pNull: number, value: () => string): Cell => (g.chance(pNull) ? null : value());

/** Generates every table's rows from `seed`; the same seed always gives the same data. */
export function generateData(seed = DEFAULT_SEED): Dataset {
  const g = new Gen(prng(seed));

  const countries = table(
    'countries',
    [['code', 'quoted'], ['name', 'quoted'], ['continent', 'quoted'], ['eu', 'bare']],
    ['code'],
    COUNTRY_ROWS.map(([code, name, continent, eu]) => [code, name, continent, eu ? 'true' : 'false']),
  );

  const customerIds: string[] = [...SPECIAL_CUSTOMER_IDS];
  for (let i = 1; customerIds.length < 600; i++) customerIds.push(String(i));
  const specialScores = new Map<string, string>([['11', 'NaN'], ['12', 'Infinity'], ['13', '-Infinity']]);
  const specialDates = new Map<string, string>([['21', '0044-03-15 BC'], ['22', 'infinity'], ['23', '-infinity'], ['24', '2000-02-29']]);
  const customers = table(
    'customers',
    [
      ['id', 'bare'], ['name', 'quoted'], ['email', 'quoted'], ['country', 'quoted'], ['balance', 'bare'],
      ['score', 'quoted'], ['vip', 'bare'], ['signup', 'quoted'], ['last_seen', 'quoted'], ['visits', 'bare'], ['points', 'bare'],
    ],
    ['id'],
    customerIds.map((id) => {
      const name = g.chance(0.5) ? g.pick(NAMES) : `${g.pick(NAMES)} ${id}`;
      const email = maybe(g, 0.15, () => `${g.chance(0.2) ? 'User' : 'user'}${id}@example.com`);
      const country = g.chance(0.1) ? null : g.chance(0.03) ? 'XX' : g.pick(COUNTRY_CODES);
      const balance = g.chance(0.05) ? null : g.chance(0.03) ? '0.00' : g.decimal(-500_000, 9_999_999, 2);
      const score = specialScores.get(id) ?? maybe(g, 0.1, () => g.float());
      const vip = maybe(g, 0.2, () => (g.chance(0.3) ? 'true' : 'false'));
      const signup = specialDates.get(id) ?? maybe(g, 0.1, () => g.date(2015, 2024));
      const lastSeen = maybe(g, 0.1, () => g.timestamp());
      const visits = String(g.int(0, 1000));
      const points = String(g.int(-1_000_000, 1_000_000) * 1_000_000_000 + g.int(0, 999_999_999));
      return [id, name, email, country, balance, score, vip, signup, lastSeen, visits, points];
    }),
  );

  // About 15% of the customers (the last ones) have no orders, for outer joins and NOT EXISTS.
  const buyers = customerIds.slice(0, 510);
  const orders = table(
    'orders',
    [
      ['customer_id', 'bare'], ['id', 'bare'], ['status', 'quoted'], ['amount', 'bare'], ['qty', 'bare'],
      ['weight', 'quoted'], ['placed_at', 'quoted'], ['note', 'quoted'],
    ],
    ['customer_id', 'id'],
    Array.from({ length: 2000 }, (_, i) => [
      g.pick(buyers),
      String(i + 1),
      g.pick(STATUSES),
      g.decimal(1, 99_999, 2),
      String(g.int(1, 20)),
      maybe(g, 0.2, () => g.float()),
      g.timestamp(),
      maybe(g, 0.7, () => g.pick(NOTES)),
    ]),
  );

  const skus: string[] = [...SPECIAL_SKUS];
  for (let i = 1; skus.length < 420; i++) skus.push(`SKU-${String(i).padStart(4, '0')}`);
  const products = table(
    'products',
    [['sku', 'quoted'], ['title', 'quoted'], ['category', 'quoted'], ['price', 'bare'], ['stock', 'bare'], ['tags', 'quoted']],
    ['sku'],
    skus.map((sku, i) => [
      sku,
      // One title is the two characters backslash-N, which COPY must not read as NULL.
      i === 7 ? '\\N' : `${g.pick(TITLES)} ${i % 3 === 0 ? '' : String(i)}`.trimEnd(),
      g.pick(CATEGORIES),
      g.decimal(0, 500_000, 2),
      String(g.int(-5, 500)),
      maybe(g, 0.3, () => `${g.pick(['sale', 'new', 'bio', 'été'])},${g.pick(['a', 'b', 'c'])}`),
    ]),
  );

  const sessions = table(
    'sessions',
    [['id', 'quoted'], ['customer_id', 'bare'], ['started_at', 'quoted'], ['duration_s', 'bare'], ['device', 'quoted']],
    ['id'],
    Array.from({ length: 400 }, () => [
      g.uuid(),
      g.pick(customerIds),
      g.timestamp(),
      maybe(g, 0.1, () => String(g.int(0, 7200))),
      maybe(g, 0.2, () => g.pick(['ios', 'android', 'web', 'desktop'])),
    ]),
  );

  const regionsEvents = table(
    'regions_events',
    [['region', 'quoted'], ['id', 'bare'], ['kind', 'quoted'], ['amount', 'bare'], ['at', 'quoted']],
    ['region', 'id'],
    Array.from({ length: 300 }, (_, i) => [
      g.pick(REGIONS),
      String(i + 1),
      g.pick(['click', 'view', 'buy']),
      String(g.int(-100, 1000)),
      g.date(2022, 2024),
    ]),
  );

  const seqOf = new Map<number, number>();
  const readings = table(
    'readings',
    [['sensor', 'bare'], ['seq', 'bare'], ['value', 'bare'], ['temp', 'quoted'], ['taken_at', 'quoted']],
    ['sensor', 'seq'],
    Array.from({ length: 600 }, (_, i) => {
      const sensor = i < BOUNDARY_SENSORS.length * 3 ? BOUNDARY_SENSORS[i % BOUNDARY_SENSORS.length]! : g.int(1, 6999);
      const seq = (seqOf.get(sensor) ?? 0) + 1;
      seqOf.set(sensor, seq);
      return [String(sensor), String(seq), g.decimal(-9_999_999, 9_999_999, 3), maybe(g, 0.15, () => g.float()), g.timestamp()];
    }),
  );

  return {
    countries,
    customers,
    orders,
    products,
    sessions,
    regionsEvents,
    readings,
    all: [countries, customers, orders, products, sessions, regionsEvents, readings],
  };
}

/** A SQL string literal (standard_conforming_strings on: only the quote is doubled). */
export function quoteLiteral(s: string): string {
  return `'${s.replace(/'/g, "''")}'`;
}

function literal(value: Cell, style: LiteralStyle): string {
  if (value === null) return 'NULL';
  return style === 'bare' ? value : quoteLiteral(value);
}

/** Multi-row INSERT statements with literal values, `batch` rows each. */
export function insertStatements(t: TableData, rows: readonly Cell[][] = t.rows, batch = 100): string[] {
  const cols = t.columns.map((c) => c.name).join(', ');
  const out: string[] = [];
  for (let i = 0; i < rows.length; i += batch) {
    const values = rows
      .slice(i, i + batch)
      .map((row) => `(${row.map((v, c) => literal(v, t.columns[c]!.style)).join(', ')})`)
      .join(',\n  ');
    out.push(`INSERT INTO ${t.name} (${cols}) VALUES\n  ${values}`);
  }
  return out;
}

/** Multi-row INSERT statements with $n parameters (extended protocol), `batch` rows each. */
export function parameterizedInserts(t: TableData, rows: readonly Cell[][] = t.rows, batch = 50): { sql: string; params: Cell[] }[] {
  const cols = t.columns.map((c) => c.name).join(', ');
  const out: { sql: string; params: Cell[] }[] = [];
  for (let i = 0; i < rows.length; i += batch) {
    const chunk = rows.slice(i, i + batch);
    const params: Cell[] = [];
    const tuples = chunk.map((row) => `(${row.map((v) => (params.push(v), `$${params.length}`)).join(', ')})`);
    out.push({ sql: `INSERT INTO ${t.name} (${cols}) VALUES ${tuples.join(', ')}`, params });
  }
  return out;
}

/** One value in COPY text format (PostgreSQL docs, COPY, "Text Format"): \N is NULL, backslash escapes. */
export function copyTextValue(value: Cell): string {
  if (value === null) return '\\N';
  return value.replace(/\\/g, '\\\\').replace(/\t/g, '\\t').replace(/\n/g, '\\n').replace(/\r/g, '\\r');
}

/** The rows as COPY ... FROM STDIN text-format input. */
export function copyText(rows: readonly Cell[][]): string {
  return rows.map((row) => `${row.map(copyTextValue).join('\t')}\n`).join('');
}

/** A seeded permutation of `rows` (the self-check loads its second server in another physical order). */
export function shuffled<T>(rows: readonly T[], seed: number): T[] {
  const next = prng(seed);
  const out = [...rows];
  for (let i = out.length - 1; i > 0; i--) {
    const j = Math.floor(next() * (i + 1));
    [out[i], out[j]] = [out[j]!, out[i]!];
  }
  return out;
}
