// Parsing PostgreSQL's date, time, timestamp and timestamptz values into comparable numbers: days or
// microseconds since 2000-01-01 (PostgreSQL's own epoch, so text and binary values agree), ±Infinity
// for 'infinity'/'-infinity'. Owns parsing only; comparing them is plain number comparison.
// Text must be in DateStyle ISO, the default and what drivers set: `2024-03-01`, `0044-03-15 BC`,
// `2024-03-01 12:00:00.5`, `2024-03-01 12:00:00+05:30`, `20000-01-01 00:00:00+00:19:32 BC`.
// Other DateStyles (SQL, Postgres, German) do not parse: the caller raises 0A000 asking for ISO.
// Microsecond values outside ±2^53 (years before ~1715 or after ~2285) are bigints.
// Reference: https://www.postgresql.org/docs/15/datatype-datetime.html#DATATYPE-DATETIME-OUTPUT

/** Days from 1970-01-01 to 2000-01-01. */
const PG_EPOCH_DAYS = 10957;
const US_PER_DAY = 86_400_000_000;
const US_PER_SECOND = 1_000_000;
/** Days whose microsecond count is surely below 2^53 in magnitude (2^53 / 8.64e10 ≈ 104249). */
const SAFE_DAYS = 100_000;

/** Days since 1970-01-01 of a proleptic Gregorian date (astronomical year: 1 BC is year 0). */
export function daysFromCivil(year: number, month: number, day: number): number {
  const y = month <= 2 ? year - 1 : year;
  const era = Math.floor(y / 400);
  const yoe = y - era * 400;
  const doy = Math.floor((153 * (month + (month > 2 ? -3 : 9)) + 2) / 5) + day - 1;
  const doe = yoe * 365 + Math.floor(yoe / 4) - Math.floor(yoe / 100) + doy;
  return era * 146097 + doe - 719468;
}

function digitsAt(s: string, pos: number, count: number): number {
  let n = 0;
  for (let i = 0; i < count; i++) {
    const c = s.charCodeAt(pos + i);
    if (!(c >= 0x30 && c <= 0x39)) return -1;
    n = n * 10 + (c - 0x30);
  }
  return n;
}

interface Cursor {
  pos: number;
}

/** `YYYY-MM-DD` (4 or more year digits); returns PG-epoch days without the BC adjustment, or null. */
function parseDatePart(s: string, c: Cursor): { year: number; month: number; day: number } | null {
  let p = c.pos;
  let year = 0;
  const yearStart = p;
  while (p < s.length && s.charCodeAt(p) >= 0x30 && s.charCodeAt(p) <= 0x39) year = year * 10 + (s.charCodeAt(p++) - 0x30);
  if (p - yearStart < 4 || s[p] !== '-') return null;
  const month = digitsAt(s, p + 1, 2);
  if (month < 1 || month > 12 || s[p + 3] !== '-') return null;
  const day = digitsAt(s, p + 4, 2);
  if (day < 1 || day > 31) return null;
  c.pos = p + 6;
  return { year, month, day };
}

/** `HH:MM:SS[.ffffff]` → microseconds, or -1. 24:00:00 is allowed as in PostgreSQL. */
function parseTimePart(s: string, c: Cursor): number {
  const p = c.pos;
  const h = digitsAt(s, p, 2);
  const m = digitsAt(s, p + 3, 2);
  const sec = digitsAt(s, p + 6, 2);
  if (h < 0 || h > 24 || m < 0 || m > 59 || sec < 0 || sec > 60 || s[p + 2] !== ':' || s[p + 5] !== ':') return -1;
  let q = p + 8;
  let frac = 0;
  if (s[q] === '.') {
    q++;
    let scale = 100_000;
    const fracStart = q;
    while (q < s.length && s.charCodeAt(q) >= 0x30 && s.charCodeAt(q) <= 0x39) {
      if (scale >= 1) frac += (s.charCodeAt(q) - 0x30) * scale;
      scale /= 10;
      q++;
    }
    if (q === fracStart) return -1;
    frac = Math.round(frac);
  }
  c.pos = q;
  return ((h * 60 + m) * 60 + sec) * US_PER_SECOND + frac;
}

/** `+HH[:MM[:SS]]` → seconds east of UTC, or null. */
function parseZone(s: string, c: Cursor): number | null {
  const sign = s[c.pos];
  if (sign !== '+' && sign !== '-') return null;
  let p = c.pos + 1;
  const h = digitsAt(s, p, 2);
  if (h < 0) return null;
  p += 2;
  let seconds = h * 3600;
  if (s[p] === ':') {
    const m = digitsAt(s, p + 1, 2);
    if (m < 0) return null;
    seconds += m * 60;
    p += 3;
    if (s[p] === ':') {
      const sec = digitsAt(s, p + 1, 2);
      if (sec < 0) return null;
      seconds += sec;
      p += 3;
    }
  }
  c.pos = p;
  return sign === '-' ? -seconds : seconds;
}

/** Consumes ` BC` at the cursor; true when present. */
function parseEra(s: string, c: Cursor): boolean {
  if (s.startsWith(' BC', c.pos)) {
    c.pos += 3;
    return true;
  }
  return false;
}

function infinity(s: string): number | null {
  if (s === 'infinity') return Infinity;
  if (s === '-infinity') return -Infinity;
  return null;
}

/** A date in DateStyle ISO → days since 2000-01-01, ±Infinity, or null. */
export function parseDate(text: string): number | null {
  const s = text.trim();
  const inf = infinity(s);
  if (inf !== null) return inf;
  const c = { pos: 0 };
  const d = parseDatePart(s, c);
  if (d === null) return null;
  const bc = parseEra(s, c);
  if (c.pos !== s.length) return null;
  return daysFromCivil(bc ? 1 - d.year : d.year, d.month, d.day) - PG_EPOCH_DAYS;
}

/** A time (without zone) → microseconds since midnight, or null. */
export function parseTime(text: string): number | null {
  const s = text.trim();
  const c = { pos: 0 };
  const us = parseTimePart(s, c);
  return us < 0 || c.pos !== s.length ? null : us;
}

/**
 * A timestamp (withZone false) or timestamptz (true) in DateStyle ISO → microseconds since
 * 2000-01-01 00:00 (UTC for timestamptz), ±Infinity, or null when the text is not ISO.
 */
export function parseTimestamp(text: string, withZone: boolean): number | bigint | null {
  const s = text.trim();
  const inf = infinity(s);
  if (inf !== null) return inf;
  const c = { pos: 0 };
  const d = parseDatePart(s, c);
  if (d === null || s[c.pos] !== ' ') return null;
  c.pos++;
  const timeUs = parseTimePart(s, c);
  if (timeUs < 0) return null;
  let zoneSeconds = 0;
  if (withZone) {
    const z = parseZone(s, c);
    if (z === null) return null;
    zoneSeconds = z;
  }
  const bc = parseEra(s, c);
  if (c.pos !== s.length) return null;
  const days = daysFromCivil(bc ? 1 - d.year : d.year, d.month, d.day) - PG_EPOCH_DAYS;
  const offsetUs = timeUs - zoneSeconds * US_PER_SECOND;
  if (Math.abs(days) < SAFE_DAYS) return days * US_PER_DAY + offsetUs;
  return BigInt(days) * BigInt(US_PER_DAY) + BigInt(offsetUs);
}

const INT64_MAX = 0x7fffffffffffffffn;
const INT64_MIN = -0x8000000000000000n;
const INT32_MAX = 0x7fffffff;
const INT32_MIN = -0x80000000;

/** date_send: Int32 days since 2000-01-01; INT32_MAX/MIN are ±infinity. */
export function dateFromBinary(buf: Buffer, start: number): number {
  const v = buf.readInt32BE(start);
  if (v === INT32_MAX) return Infinity;
  if (v === INT32_MIN) return -Infinity;
  return v;
}

/** timestamp(tz)_send / time_send: Int64 microseconds; for timestamps INT64_MAX/MIN are ±infinity. */
export function microsFromBinary(buf: Buffer, start: number, infinities: boolean): number | bigint {
  const v = buf.readBigInt64BE(start);
  if (infinities) {
    if (v === INT64_MAX) return Infinity;
    if (v === INT64_MIN) return -Infinity;
  }
  const n = Number(v);
  return Number.isSafeInteger(n) ? n : v;
}
