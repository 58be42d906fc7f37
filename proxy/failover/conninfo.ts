// libpq connection strings as a replica's primary_conninfo holds them: parsing (keyword/value form
// and postgresql:// URIs), rewriting the host and port for a new primary while keeping everything
// else (user, passfile, sslmode, application_name...), formatting back, and redacting the password
// for logs. No I/O. Grammar: https://www.postgresql.org/docs/15/libpq-connect.html#LIBPQ-CONNSTRING

export type Conninfo = Map<string, string>;

export class ConninfoError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ConninfoError';
  }
}

const isSpace = (c: string | undefined): boolean => c === ' ' || c === '\t' || c === '\n' || c === '\r' || c === '\f' || c === '\v';

/** Parses `key=value key2='quoted \' value'` or a postgresql:// URI into keyword → value. */
export function parseConninfo(text: string): Conninfo {
  const trimmed = text.trim();
  if (/^postgres(ql)?:\/\//i.test(trimmed)) return parseUri(trimmed);
  const out: Conninfo = new Map();
  let i = 0;
  const n = text.length;
  while (i < n) {
    while (i < n && isSpace(text[i])) i++;
    if (i >= n) break;
    const keyStart = i;
    while (i < n && text[i] !== '=' && !isSpace(text[i])) i++;
    const key = text.slice(keyStart, i);
    while (i < n && isSpace(text[i])) i++;
    if (text[i] !== '=' || key === '') throw new ConninfoError(`missing "=" after "${key}" in connection info string`);
    i++;
    while (i < n && isSpace(text[i])) i++;
    let value = '';
    if (text[i] === "'") {
      i++;
      for (;;) {
        if (i >= n) throw new ConninfoError('unterminated quoted string in connection info string');
        const c = text[i] as string;
        if (c === '\\' && i + 1 < n) {
          value += text[i + 1];
          i += 2;
        } else if (c === "'") {
          i++;
          break;
        } else {
          value += c;
          i++;
        }
      }
    } else {
      while (i < n && !isSpace(text[i])) {
        if (text[i] === '\\' && i + 1 < n) {
          value += text[i + 1];
          i += 2;
        } else {
          value += text[i];
          i++;
        }
      }
    }
    out.set(key, value);
  }
  return out;
}

function parseUri(uri: string): Conninfo {
  let url: URL;
  try {
    url = new URL(uri.replace(/^postgres(ql)?:/i, 'http:'));
  } catch {
    throw new ConninfoError('invalid connection URI');
  }
  const out: Conninfo = new Map();
  if (url.username !== '') out.set('user', decodeURIComponent(url.username));
  if (url.password !== '') out.set('password', decodeURIComponent(url.password));
  if (url.hostname !== '') out.set('host', url.hostname.replace(/^\[|\]$/g, ''));
  if (url.port !== '') out.set('port', url.port);
  const db = decodeURIComponent(url.pathname.replace(/^\//, ''));
  if (db !== '') out.set('dbname', db);
  for (const [k, v] of url.searchParams) out.set(k, v);
  return out;
}

/** A value as libpq reads it: always single-quoted, with `\` and `'` escaped. */
function quote(value: string): string {
  return `'${value.replace(/\\/g, '\\\\').replace(/'/g, "\\'")}'`;
}

export function formatConninfo(info: Conninfo): string {
  return [...info].map(([k, v]) => `${k}=${quote(v)}`).join(' ');
}

/** The same connection string aimed at another server; `hostaddr` (which would win over host) is dropped. */
export function withServer(info: Conninfo, host: string, port: number): Conninfo {
  const out: Conninfo = new Map(info);
  out.delete('hostaddr');
  out.set('host', host);
  out.set('port', String(port));
  return out;
}

/** For logs: the password (if any) replaced, whatever the input's form. */
export function redactConninfo(text: string): string {
  try {
    const info = parseConninfo(text);
    if (info.has('password')) info.set('password', '********');
    return formatConninfo(info);
  } catch {
    return '(unparsable connection string)';
  }
}
