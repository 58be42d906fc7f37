// A client connected to the admin database: simple-protocol commands only, answered by the proxy.
// Extended-protocol messages get 0A000 once per batch (then Sync is answered), never a crash.

import type net from 'node:net';
import { asProxyError, errorResponseFrame, ProxyError } from '../errors.js';
import { decodeQuery } from '../protocol/client-messages.js';
import { commandComplete, dataRow, READY_IDLE, rowDescription } from '../protocol/server-messages.js';
import type { ClientInfo, ProxyContext } from '../context.js';
import { findAdminCommand, splitAdminStatements } from './commands.js';

export class AdminSession {
  private skipUntilSync = false;
  private chain: Promise<void> = Promise.resolve();
  queries = 0;

  constructor(
    private readonly socket: net.Socket,
    private readonly ctx: ProxyContext,
    readonly info: ClientInfo,
  ) {}

  parameters(): Map<string, string> {
    return new Map([
      ['server_version', `15.0 (pgshard ${this.ctx.version})`],
      ['server_encoding', 'UTF8'],
      ['client_encoding', 'UTF8'],
      ['DateStyle', 'ISO, MDY'],
      ['integer_datetimes', 'on'],
      ['standard_conforming_strings', 'on'],
      ['application_name', this.info.applicationName],
    ]);
  }

  onFrame(type: number, buf: Buffer, start: number, end: number): void {
    switch (type) {
      case 0x51 /* Q */: {
        const sql = decodeQuery(buf, start, end);
        this.chain = this.chain.then(() => this.run(sql));
        return;
      }
      case 0x53 /* S */:
        this.skipUntilSync = false;
        this.chain = this.chain.then(() => {
          this.socket.write(READY_IDLE);
        });
        return;
      case 0x48 /* H */:
        return;
      default:
        if (!this.skipUntilSync) {
          this.skipUntilSync = true;
          const err = ProxyError.unsupported('the pgshard admin console accepts only simple queries', 'Use psql, or a driver in simple query mode.');
          this.chain = this.chain.then(() => {
            this.socket.write(errorResponseFrame(err));
          });
        }
    }
  }

  private async run(sql: string): Promise<void> {
    this.queries++;
    const out: Buffer[] = [];
    try {
      const statements = splitAdminStatements(sql);
      if (statements.length === 0) out.push(Buffer.from([0x49, 0, 0, 0, 4])); // EmptyQueryResponse
      for (const words of statements) {
        const result = await findAdminCommand(words).execute(this.ctx, this.ctx.admin);
        if (result.columns.length > 0) {
          out.push(rowDescription([...result.columns]));
          for (const row of result.rows) out.push(dataRow([...row]));
          out.push(commandComplete(result.tag));
        } else {
          out.push(commandComplete(result.tag));
        }
      }
    } catch (err) {
      const e = asProxyError(err);
      if (e.sqlstate === 'XX000') this.ctx.log.error({ err }, 'admin command failed');
      out.push(errorResponseFrame(e.severity === 'FATAL' ? new ProxyError(e.sqlstate, e.message, 'ERROR', e.fields) : e));
    }
    out.push(READY_IDLE);
    if (this.socket.writable) this.socket.write(Buffer.concat(out));
  }
}
