import { type DestinationStream, type LoggerOptions, pino } from 'pino';
import type { Logger } from './types.ts';

// JSON logs (one line per event) for log pipelines; secrets redacted by path, because a reconciler
// that logs "the object it applied" must never leak a Secret's data or a password into log storage
// (SecNumCloud asks for logs kept 6 months: whatever leaks there stays there).

const SECRET_KEYS = [
  'password',
  'passwd',
  'token',
  'key',
  'secret',
  'data',
  'stringData',
  'privateKey',
  'apiKey',
  'accessKey',
  'secretKey',
  'secretAccessKey',
  'authorization',
  'Authorization',
  'cookie',
];

/** Redaction paths: each secret key at the top level and up to three levels deep. */
export const REDACT_PATHS: string[] = SECRET_KEYS.flatMap((k) => [k, `*.${k}`, `*.*.${k}`, `*.*.*.${k}`]);

export interface CreateLoggerOptions {
  level?: string;
  /** Bound on every line, e.g. `{ component: 'territory-operator' }`. */
  bindings?: Record<string, unknown>;
  /** Where lines go (default stdout); tests pass a stream to read what was logged. */
  destination?: DestinationStream;
}

export function createLogger(options: CreateLoggerOptions = {}): Logger & pino.Logger {
  const config: LoggerOptions = {
    level: options.level ?? process.env.LOG_LEVEL ?? 'info',
    base: { pid: process.pid, ...options.bindings },
    redact: { paths: REDACT_PATHS, censor: '[REDACTED]' },
    timestamp: pino.stdTimeFunctions.isoTime,
    formatters: { level: (label) => ({ level: label }) },
    serializers: { err: pino.stdSerializers.err },
  };
  return options.destination ? pino(config, options.destination) : pino(config);
}

/** A logger that drops everything (library default when the caller passes none). */
export const silentLogger: Logger = createLogger({ level: 'silent' });
