import { accessSync, constants, mkdirSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { pino } from 'pino';
import { UsageError } from '../shared/cli.js';
import type { Config } from '../shared/config.js';

export type Logger = pino.Logger;

/** The pino transports the hub may load by name at run time: they must be dependencies, not devDependencies. */
export const LOG_TRANSPORTS = ['pino-pretty', 'pino-roll'] as const;

export type LogOptions = Pick<Config, 'logLevel' | 'logFormat' | 'logFile' | 'logFileSize' | 'logFileKeep'>;

/** Pretty lines when asked, or on a terminal in `auto`; JSON lines otherwise (a pipe, systemd, a test). */
export const isPretty = (format: LogOptions['logFormat'], tty = process.stdout.isTTY === true) =>
  format === 'pretty' || (format === 'auto' && tty);

/** A log transport that cannot open its file spins the process, so the folder is made and checked first. */
function checkLogDir(file: string): void {
  const dir = dirname(resolve(file));
  try {
    mkdirSync(dir, { recursive: true });
    accessSync(dir, constants.W_OK);
  } catch (err) {
    // a bad --log-file is the command line's problem: exit 2
    throw new UsageError(`--log-file ${file}: cannot write in ${dir} (${(err as NodeJS.ErrnoException).code ?? err})`);
  }
}

/**
 * The hub's logger. Plain JSON lines on stdout need no transport. Pretty
 * output (`pino-pretty`) and the rotated file (`pino-roll`, always JSON, for
 * `jq`) run as pino transports in a worker thread; each target takes every
 * level, so `PUT /admin/log-level` governs them all through the logger's level.
 */
export function createLogger(o: Pick<LogOptions, 'logLevel'> & Partial<LogOptions>): Logger {
  const opts: LogOptions = { logFormat: 'json', logFile: '', logFileSize: '10m', logFileKeep: 5, ...o };
  const base = { level: opts.logLevel, base: { service: 'agentcom' } };
  const pretty = isPretty(opts.logFormat);
  if (!pretty && !opts.logFile) return pino(base);
  const targets: pino.TransportTargetOptions[] = [
    pretty
      ? {
          target: 'pino-pretty',
          level: 'trace',
          options: {
            destination: 1,
            colorize: process.stdout.isTTY === true,
            translateTime: 'SYS:HH:MM:ss.l',
            ignore: 'pid,hostname,service',
          },
        }
      : { target: 'pino/file', level: 'trace', options: { destination: 1 } },
  ];
  if (opts.logFile) {
    checkLogDir(opts.logFile);
    targets.push({
      target: 'pino-roll',
      level: 'trace',
      options: {
        file: resolve(opts.logFile),
        size: opts.logFileSize,
        limit: { count: opts.logFileKeep },
        mkdir: true,
      },
    });
  }
  return pino(base, pino.transport({ targets }));
}
