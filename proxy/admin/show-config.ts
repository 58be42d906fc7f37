// SHOW CONFIG: every effective setting as key/value rows, passwords redacted.

import { redactConfig } from '../../topology/config/load-config.js';
import type { AdminCommand } from './admin-command.js';
import { rowsResult, textColumns } from './admin-command.js';

function flatten(prefix: string, value: unknown, out: [string, string][]): void {
  if (value !== null && typeof value === 'object') {
    const entries = Array.isArray(value) ? value.map((v, i) => [`[${i}]`, v] as const) : Object.entries(value).map(([k, v]) => [`.${k}`, v] as const);
    if (entries.length === 0) out.push([prefix, Array.isArray(value) ? '[]' : '{}']);
    for (const [k, v] of entries) flatten(prefix === '' ? k.replace(/^\./, '') : prefix + k, v, out);
    return;
  }
  out.push([prefix, value === null ? 'null' : String(value)]);
}

export const showConfig: AdminCommand = {
  words: ['SHOW', 'CONFIG'],
  help: 'SHOW CONFIG — the effective configuration (passwords redacted)',
  execute: (ctx) => {
    const rows: [string, string][] = [];
    flatten('', redactConfig(ctx.config()), rows);
    return rowsResult(textColumns('key', 'value'), rows);
  },
};
