// The proxy's typed errors and the one funnel that turns any failure into an ErrorResponse frame.
// Errors raised by Postgres itself never pass through here: backend ErrorResponses are forwarded
// byte-for-byte. Messages must never contain passwords or bound parameter values.

import { BODY, frameOf, putCString } from './protocol/wire.js';

export type Severity = 'ERROR' | 'FATAL';

/** SQLSTATEs the proxy itself raises; docs/sqlstate.md lists each with its one meaning. */
export const SqlState = {
  protocolViolation: '08P01',
  invalidPassword: '28P01',
  invalidAuthorization: '28000',
  unknownDatabase: '3D000',
  tooManyConnections: '53300',
  deadlockDetected: '40P01',
  connectionFailure: '08006',
  queryCanceled: '57014',
  adminShutdown: '57P01',
  featureNotSupported: '0A000',
  programLimitExceeded: '54000',
  numericValueOutOfRange: '22003',
  divisionByZero: '22012',
  syntaxError: '42601',
  duplicatePreparedStatement: '42P05',
  invalidStatementName: '26000',
  badCopyFileFormat: '22P04',
  inFailedTransaction: '25P02',
  noActiveTransaction: '25P01',
  checkViolation: '23514',
  undefinedObject: '42704',
  invalidParameterValue: '22023',
  invalidCursorName: '34000',
  invalidSavepoint: '3B001',
  duplicateObject: '42710',
  datatypeMismatch: '42804',
  invalidObjectDefinition: '42P17',
  ioError: '58030',
  objectNotInPrerequisiteState: '55000',
  internalError: 'XX000',
} as const;
export type SqlStateCode = (typeof SqlState)[keyof typeof SqlState];

export interface ErrorFields {
  detail?: string;
  hint?: string;
}

/** An error the proxy reports to a client with a SQLSTATE. FATAL ones close the connection. */
export class ProxyError extends Error {
  constructor(
    readonly sqlstate: SqlStateCode,
    message: string,
    readonly severity: Severity = 'ERROR',
    readonly fields: ErrorFields = {},
  ) {
    super(message);
    this.name = 'ProxyError';
  }

  static protocolViolation(message: string): ProxyError {
    return new ProxyError(SqlState.protocolViolation, message, 'FATAL');
  }
  static passwordFailed(user: string, method: string): ProxyError {
    return new ProxyError(SqlState.invalidPassword, `password authentication failed for user "${user}"`, 'FATAL', {
      detail: `authentication method: ${method}`,
    });
  }
  static noSuchUser(user: string): ProxyError {
    // Same wording as a wrong password so that user names cannot be probed.
    return new ProxyError(SqlState.invalidPassword, `password authentication failed for user "${user}"`, 'FATAL');
  }
  static notAuthorized(message: string): ProxyError {
    return new ProxyError(SqlState.invalidAuthorization, message, 'FATAL');
  }
  static unknownDatabase(database: string): ProxyError {
    return new ProxyError(SqlState.unknownDatabase, `database "${database}" does not exist`, 'FATAL');
  }
  static tooManyClients(limit: number): ProxyError {
    return new ProxyError(SqlState.tooManyConnections, `sorry, too many clients already (clientsMax = ${limit})`, 'FATAL');
  }
  static poolTimeout(node: string, waitedMs: number): ProxyError {
    return new ProxyError(
      SqlState.tooManyConnections,
      `no server connection to ${node} became free within ${waitedMs} ms`,
      'ERROR',
      { hint: 'Raise pool.sizeMax or pool.acquireTimeoutMs, or shorten transactions.' },
    );
  }
  /** A session's wait for a server connection that sessions waiting for its own connections block. */
  static connectionDeadlock(node: string, sessions: number): ProxyError {
    return new ProxyError(SqlState.deadlockDetected, 'deadlock detected', 'ERROR', {
      detail:
        `Waiting for a server connection to ${node}, whose connections are all held by transactions ` +
        `that wait for connections this transaction holds (${sessions} transactions in the deadlock).`,
      hint: 'Retry the transaction. Raise pool.sizeMax above the number of multi-shard transactions that run at once.',
    });
  }
  static backendUnavailable(node: string, reason: string): ProxyError {
    return new ProxyError(SqlState.connectionFailure, `could not connect to server ${node}: ${reason}`);
  }
  static backendLost(node: string): ProxyError {
    return new ProxyError(SqlState.connectionFailure, `server connection to ${node} was lost`);
  }
  static canceled(message = 'canceling statement due to user request'): ProxyError {
    return new ProxyError(SqlState.queryCanceled, message);
  }
  static shuttingDown(): ProxyError {
    return new ProxyError(SqlState.adminShutdown, 'terminating connection because the proxy is shutting down', 'FATAL');
  }
  static unsupported(message: string, hint?: string): ProxyError {
    return new ProxyError(SqlState.featureNotSupported, message, 'ERROR', hint === undefined ? {} : { hint });
  }
  static limitExceeded(message: string, hint?: string): ProxyError {
    return new ProxyError(SqlState.programLimitExceeded, message, 'ERROR', hint === undefined ? {} : { hint });
  }
  /** A value the proxy computed (a sum merged across shards) leaves its type's range, worded as PostgreSQL's. */
  static valueOutOfRange(message: string, detail?: string): ProxyError {
    return new ProxyError(SqlState.numericValueOutOfRange, message, 'ERROR', detail === undefined ? {} : { detail });
  }
  static divisionByZero(): ProxyError {
    return new ProxyError(SqlState.divisionByZero, 'division by zero');
  }
  static adminSyntax(message: string, hint?: string): ProxyError {
    return new ProxyError(SqlState.syntaxError, message, 'ERROR', hint === undefined ? {} : { hint });
  }
  /** An admin command naming a database the config does not have (the session stays). */
  static adminUnknownDatabase(database: string, known: readonly string[]): ProxyError {
    return new ProxyError(SqlState.unknownDatabase, `database "${database}" does not exist`, 'ERROR', {
      hint: `Databases in the config: ${known.join(', ')}.`,
    });
  }
  /** SHARD TABLE / REFERENCE TABLE for a table that already has a sharding rule. */
  static duplicateRule(message: string, hint?: string): ProxyError {
    return new ProxyError(SqlState.duplicateObject, message, 'ERROR', hint === undefined ? {} : { hint });
  }
  /** A sharding rule placing rows on a shard the database does not have. */
  static undefinedShard(message: string): ProxyError {
    return new ProxyError(SqlState.undefinedObject, message);
  }
  /** An admin command the current state does not allow (FAILOVER while one runs, on a non-leader proxy...). */
  static notInPrerequisiteState(message: string, hint?: string): ProxyError {
    return new ProxyError(SqlState.objectNotInPrerequisiteState, message, 'ERROR', hint === undefined ? {} : { hint });
  }
  /** A value in a sharding rule that does not fit the key type. */
  static ruleValueMismatch(message: string): ProxyError {
    return new ProxyError(SqlState.datatypeMismatch, message);
  }
  /** A sharding rule that cannot place rows consistently (empty or overlapping ranges, a value listed twice). */
  static invalidRule(message: string): ProxyError {
    return new ProxyError(SqlState.invalidObjectDefinition, message);
  }
  /** The state directory could not be written; the change it was saving did not happen. */
  static stateWriteFailed(message: string): ProxyError {
    return new ProxyError(SqlState.ioError, message);
  }
  static noShardForKey(table: string, key: string | null): ProxyError {
    return new ProxyError(SqlState.checkViolation, `no shard of "${table}" holds the key value`, 'ERROR', {
      detail: key === null ? 'The key is NULL, and no range or list piece takes NULL.' : 'The value is outside every range or list of the table\'s rule.',
      hint: 'Add a piece (or a list default) covering the value to the sharding rule.',
    });
  }
  static noActiveTransaction(message: string): ProxyError {
    return new ProxyError(SqlState.noActiveTransaction, message);
  }
  static unknownSetting(name: string): ProxyError {
    return new ProxyError(SqlState.undefinedObject, `unrecognized configuration parameter "${name}"`);
  }
  static invalidParameterValue(message: string): ProxyError {
    return new ProxyError(SqlState.invalidParameterValue, message);
  }
  static unknownPortal(name: string): ProxyError {
    return new ProxyError(SqlState.invalidCursorName, `portal "${name}" does not exist`);
  }
  static unknownSavepoint(name: string): ProxyError {
    return new ProxyError(SqlState.invalidSavepoint, `savepoint "${name}" does not exist`);
  }
  static inFailedTransaction(): ProxyError {
    return new ProxyError(SqlState.inFailedTransaction, 'current transaction is aborted, commands ignored until end of transaction block');
  }
  static duplicatePreparedStatement(name: string): ProxyError {
    return new ProxyError(SqlState.duplicatePreparedStatement, `prepared statement "${name}" already exists`);
  }
  static unknownPreparedStatement(name: string): ProxyError {
    return new ProxyError(SqlState.invalidStatementName, `prepared statement "${name}" does not exist`);
  }
  /** Malformed COPY FROM STDIN data, found while splitting rows among shards (PostgreSQL's own code). */
  static badCopyData(message: string, detail?: string, hint?: string): ProxyError {
    const fields: ErrorFields = {};
    if (detail !== undefined) fields.detail = detail;
    if (hint !== undefined) fields.hint = hint;
    return new ProxyError(SqlState.badCopyFileFormat, message, 'ERROR', fields);
  }
  static fromServer(fields: ServerErrorFields, severity: Severity): ProxyError {
    return serverError(fields, severity);
  }
  static internal(message: string): ProxyError {
    return new ProxyError(SqlState.internalError, message);
  }
}

export interface ServerErrorFields {
  get(code: string): string | undefined;
}

/** Rebuilds an error a server reported (fields of its ErrorResponse) to re-raise it with another severity. */
function serverError(fields: ServerErrorFields, severity: Severity): ProxyError {
  const extra: ErrorFields = {};
  const detail = fields.get('D');
  const hint = fields.get('H');
  if (detail !== undefined) extra.detail = detail;
  if (hint !== undefined) extra.hint = hint;
  return new ProxyError((fields.get('C') ?? SqlState.connectionFailure) as SqlStateCode, fields.get('M') ?? 'server error', severity, extra);
}

/** Anything thrown, as a ProxyError; unknown failures become XX000 (a bug; the caller logs the stack). */
export function asProxyError(err: unknown): ProxyError {
  if (err instanceof ProxyError) return err;
  const message = err instanceof Error ? err.message : String(err);
  return ProxyError.internal(`internal proxy error: ${message}`);
}

// ErrorResponse/NoticeResponse field codes.
const FIELD_SEVERITY = 0x53; // 'S'
const FIELD_SEVERITY_V = 0x56; // 'V', not localized
const FIELD_SQLSTATE = 0x43; // 'C'
const FIELD_MESSAGE = 0x4d; // 'M'
const FIELD_DETAIL = 0x44; // 'D'
const FIELD_HINT = 0x48; // 'H'

/**
 * Bytes of one field: code, value, NUL. Unlike wire.ts's cstringBytes this does not refuse a NUL in
 * the value: the error must still reach the client.
 */
function fieldBytes(value: string): number {
  return 1 + Buffer.byteLength(value, 'utf8') + 1;
}

function putField(frame: Buffer, code: number, value: string, pos: number): number {
  frame[pos] = code;
  return putCString(frame, value, pos + 1);
}

/** ErrorResponse or NoticeResponse: S, V, C, M, then D and H when given, then the terminating NUL. */
function responseFrame(
  type: number,
  severity: string,
  sqlstate: string,
  message: string,
  detail: string | undefined,
  hint: string | undefined,
): Buffer {
  let bodyLength = 2 * fieldBytes(severity) + fieldBytes(sqlstate) + fieldBytes(message) + 1;
  if (detail !== undefined) bodyLength += fieldBytes(detail);
  if (hint !== undefined) bodyLength += fieldBytes(hint);
  const frame = frameOf(type, bodyLength);
  let pos = putField(frame, FIELD_SEVERITY, severity, BODY);
  pos = putField(frame, FIELD_SEVERITY_V, severity, pos);
  pos = putField(frame, FIELD_SQLSTATE, sqlstate, pos);
  pos = putField(frame, FIELD_MESSAGE, message, pos);
  if (detail !== undefined) pos = putField(frame, FIELD_DETAIL, detail, pos);
  if (hint !== undefined) pos = putField(frame, FIELD_HINT, hint, pos);
  frame[pos] = 0;
  return frame;
}

/** The ErrorResponse ('E') or NoticeResponse ('N') frame for an error. The only producer of these frames. */
export function errorResponseFrame(err: ProxyError, type: 'E' | 'N' = 'E'): Buffer {
  return responseFrame(type.charCodeAt(0), err.severity, err.sqlstate, err.message, err.fields.detail, err.fields.hint);
}

/** A NoticeResponse with severity NOTICE/WARNING, for informational messages to the client. */
export function noticeFrame(message: string, severity: 'NOTICE' | 'WARNING' = 'NOTICE', sqlstate = '00000'): Buffer {
  return responseFrame(0x4e, severity, sqlstate, message, undefined, undefined);
}
