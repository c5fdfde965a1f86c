import pino, { type Logger } from 'pino'

/** The one logger: NDJSON on stderr, so stdout stays free for the ready line and CLI output. */
export function createLogger(level: string): Logger {
  return pino({ level, base: { pid: process.pid } }, pino.destination({ fd: 2, sync: true }))
}
export type { Logger }
