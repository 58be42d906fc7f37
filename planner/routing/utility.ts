// Transaction control, SET/RESET/SHOW (pgshard.* settings are the proxy's own), and the other
// session-level utility statements that run on whichever shard the session uses.
// Owns: TransactionStmt → TxAction, VariableSet/ShowStmt → pgshard-setting or any.
// Must not: route statements that touch tables.

import type { Plan, TxAction } from '../plan.js';
import { as, constOf, constText, list, str, type Body } from './ast.js';
import { unsupported } from './messages.js';

const UTILITY: Plan = { kind: 'any', access: 'read', reason: 'utility' };

export function planTransaction(body: Body): Plan {
  const kind = str(body['kind']) ?? '';
  const name = str(body['savepoint_name']) ?? '';
  const gid = str(body['gid']) ?? '';
  if (body['chain'] === true) {
    return unsupported('COMMIT/ROLLBACK AND CHAIN is not supported', 'end the transaction with COMMIT or ROLLBACK, then BEGIN a new one');
  }
  let action: TxAction;
  switch (kind) {
    case 'TRANS_STMT_BEGIN':
    case 'TRANS_STMT_START':
      action = { kind: 'begin' };
      break;
    case 'TRANS_STMT_COMMIT':
      action = { kind: 'commit' };
      break;
    case 'TRANS_STMT_ROLLBACK':
      action = { kind: 'rollback' };
      break;
    case 'TRANS_STMT_SAVEPOINT':
      action = { kind: 'savepoint', name };
      break;
    case 'TRANS_STMT_RELEASE':
      action = { kind: 'release', name };
      break;
    case 'TRANS_STMT_ROLLBACK_TO':
      action = { kind: 'rollback-to', name };
      break;
    case 'TRANS_STMT_PREPARE':
      action = { kind: 'two-phase', command: 'prepare', gid };
      break;
    case 'TRANS_STMT_COMMIT_PREPARED':
      action = { kind: 'two-phase', command: 'commit-prepared', gid };
      break;
    case 'TRANS_STMT_ROLLBACK_PREPARED':
      action = { kind: 'two-phase', command: 'rollback-prepared', gid };
      break;
    default:
      return UTILITY;
  }
  return { kind: 'transaction', action };
}

const PREFIX = 'pgshard.';

function isPgshard(name: string | null): name is string {
  return name !== null && name.toLowerCase().startsWith(PREFIX);
}

/** SET / RESET; `control` tells the caller the plan is the proxy's own setting. */
export function planSet(body: Body): { plan: Plan; control: boolean } {
  const name = str(body['name']);
  if (!isPgshard(name)) return { plan: UTILITY, control: false };
  const lower = name.toLowerCase();
  if (body['is_local'] === true) {
    return {
      plan: unsupported(`SET LOCAL ${lower} is not supported`, `use SET ${lower} (session-wide) and RESET ${lower} when done`),
      control: true,
    };
  }
  switch (str(body['kind']) ?? '') {
    case 'VAR_SET_VALUE': {
      const parts = list(body['args']).map((a) => {
        const c = constOf(a);
        return c === null ? (str(as(a, 'String')?.['sval']) ?? '') : (constText(c) ?? '');
      });
      return { plan: { kind: 'pgshard-setting', command: 'set', name: lower, value: parts.join(', ') }, control: true };
    }
    case 'VAR_SET_DEFAULT':
    case 'VAR_RESET':
      return { plan: { kind: 'pgshard-setting', command: 'reset', name: lower, value: null }, control: true };
    default:
      return { plan: unsupported(`this form of SET ${lower} is not supported`, `use SET ${lower} = value`), control: true };
  }
}

export function planShow(body: Body): { plan: Plan; control: boolean } {
  const name = str(body['name']);
  if (!isPgshard(name)) return { plan: UTILITY, control: false };
  return { plan: { kind: 'pgshard-setting', command: 'show', name: name.toLowerCase(), value: null }, control: true };
}
