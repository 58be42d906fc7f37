// The proxy's structured logger. pino, JSON to stderr, with redaction as a second line of defence:
// code never logs passwords, SCRAM material or bound parameter values in the first place.

import { pino, type Logger } from 'pino';
import type { LogLevel } from '../topology/config/config-types.js';

export type { Logger };

const REDACT_PATHS = [
  'password',
  '*.password',
  'serverPassword',
  '*.serverPassword',
  'superPassword',
  '*.superPassword',
  'params',
  '*.params',
];

export function createLogger(level: LogLevel, destination: NodeJS.WritableStream = process.stderr): Logger {
  return pino(
    {
      level,
      base: { app: 'pgshard' },
      redact: { paths: REDACT_PATHS, censor: '********' },
      timestamp: pino.stdTimeFunctions.isoTime,
    },
    destination as pino.DestinationStream,
  );
}

/** A logger that drops everything (unit tests, or `log.level: silent`). */
export function silentLogger(): Logger {
  return pino({ level: 'silent' });
}
