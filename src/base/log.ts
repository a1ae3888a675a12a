// Structured logging: JSON lines (pino), pretty-printed when stderr is a terminal.
import pino from 'pino';

/** The logger type every layer takes. */
export type Logger = pino.Logger;

/** Builds the process logger; `level` defaults to STRATA_LOG_LEVEL or info. */
export function createLogger(options: { level?: string; pretty?: boolean } = {}): Logger {
  const level = options.level ?? process.env.STRATA_LOG_LEVEL ?? 'info';
  const pretty = options.pretty ?? process.stderr.isTTY === true;
  if (pretty) {
    return pino({ level, transport: { target: 'pino-pretty', options: { destination: 2, colorize: true } } });
  }
  return pino({ level }, pino.destination(2));
}

/** A logger that drops everything, for tests and library use. */
export const silentLogger: Logger = pino({ level: 'silent' });
