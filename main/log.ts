import { pino } from 'pino';

export type Logger = pino.Logger;

/** JSON lines to stdout; pretty output is left to `pino-pretty` in a pipe. */
export function createLogger(level: string): Logger {
  return pino({ level, base: { service: 'agentcom' } });
}
