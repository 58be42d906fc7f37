// FAILOVER shard [FORCE], SWITCHOVER shard TO 'host:port', SHOW FAILOVER: the admin side of the
// failover machines (proxy/failover/failover-coordinator.ts). The machine decides whether a command
// may run now; a refusal comes back with its SQLSTATE (42704 unknown node, 55000 not now, 08006 no
// replica can be promoted).

import { ProxyError, SqlState } from '../errors.js';
import type { FailoverRejection } from '../../topology/failover/failover-types.js';
import type { ProxyContext } from '../context.js';
import { rowsResult, tagResult, textColumns, type AdminCommand } from './admin-command.js';

const FAILOVER_SYNTAX = "FAILOVER shard [FORCE]   (shard: its name, or 'database/shard')";
const SWITCHOVER_SYNTAX = "SWITCHOVER shard TO 'host:port'";

function coordinator(ctx: ProxyContext): NonNullable<ProxyContext['failover']> {
  if (ctx.failover === null) throw ProxyError.notInPrerequisiteState('failover is not running yet', 'Retry once the proxy has started.');
  return ctx.failover;
}

function refused(rejection: FailoverRejection): ProxyError {
  const hint = rejection.hint === undefined ? {} : { hint: rejection.hint };
  switch (rejection.sqlstate) {
    case '42704':
      return new ProxyError(SqlState.undefinedObject, rejection.message, 'ERROR', hint);
    case '55000':
      return new ProxyError(SqlState.objectNotInPrerequisiteState, rejection.message, 'ERROR', hint);
    case '08006':
      return new ProxyError(SqlState.connectionFailure, rejection.message, 'ERROR', hint);
  }
}

export const failover: AdminCommand = {
  words: ['FAILOVER'],
  help: 'FAILOVER shard [FORCE] — promote the best replica of a shard now',
  syntax: FAILOVER_SYNTAX,
  parse: (r) => {
    const shard = r.expectName('a shard name', 'after FAILOVER');
    const force = r.acceptKeyword('FORCE');
    r.expectEnd(force ? 'after FORCE' : `after the shard name ${shard}`);
    return (ctx) => {
      const rejection = coordinator(ctx).failover(shard, force);
      if (rejection !== null) throw refused(rejection);
      return tagResult('FAILOVER');
    };
  },
};

export const switchover: AdminCommand = {
  words: ['SWITCHOVER'],
  help: "SWITCHOVER shard TO 'host:port' — planned change of primary without losing writes",
  syntax: SWITCHOVER_SYNTAX,
  parse: (r) => {
    const shard = r.expectName('a shard name', 'after SWITCHOVER');
    r.expectKeyword('TO', `after the shard name ${shard}`);
    const target = r.expectName("a node as 'host:port'", 'after TO');
    r.expectEnd(`after the node ${target}`);
    return (ctx) => {
      const rejection = coordinator(ctx).switchover(shard, target);
      if (rejection !== null) throw refused(rejection);
      return tagResult('SWITCHOVER');
    };
  },
};

export const showFailover: AdminCommand = {
  words: ['SHOW', 'FAILOVER'],
  help: 'SHOW FAILOVER — per shard: term, phase, routed primary, fenced nodes, last change, counts',
  execute: (ctx) => {
    const rows = coordinator(ctx)
      .status()
      .map((s) => [s.shard, s.term, s.phase, s.primary, s.reason, s.fenced.join(', '), s.leader, s.lastChange, s.failovers, s.switchovers, s.promoteFailures]);
    return rowsResult(
      textColumns('shard', 'term', 'phase', 'primary', 'reason', 'fenced', 'leader', 'last_change', 'failovers', 'switchovers', 'promote_failures'),
      rows,
    );
  },
};
