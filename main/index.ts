import { UsageError, wantsHelp } from '../shared/cli.js';
import type { Config } from '../shared/config.js';
import { OperatorError } from '../shared/errors.js';
import { HUB_HELP, loadConfig } from './config.js';
import { type RunningHub, startHub } from './hub.js';
import { createLogger, LogFileError, type Logger } from './log.js';

/**
 * A generated admin token goes to the terminal (stderr), never into the log
 * stream: log files and collectors keep what they get.
 */
function printGeneratedToken(token: string, running: RunningHub, config: Config): void {
  const admin = `http://${config.adminHost}:${running.adminPort}`;
  process.stderr.write(
    [
      '',
      'AgentCom generated the admin token. It is shown this once and stored hashed:',
      '',
      `    ${token}`,
      '',
      `Send it as "Authorization: Bearer <token>" to the admin port ${admin}`,
      `(dashboard: ${admin}/dashboard#token=<token>). Set AGENTCOM_ADMIN_TOKEN to choose your own.`,
      '',
      '',
    ].join('\n'),
  );
}

/** `npm start` / `node dist/main/index.js [--flag value …]`: run the hub until SIGTERM/SIGINT. */
async function main(): Promise<void> {
  const argv = process.argv.slice(2);
  if (wantsHelp(argv)) {
    process.stdout.write(HUB_HELP);
    return;
  }
  let config: Config;
  try {
    config = loadConfig(argv, process.env);
  } catch (err) {
    if (!(err instanceof UsageError)) throw err;
    process.stderr.write(`agentcom: ${err.message}\n`);
    process.exit(2);
  }
  let log: Logger;
  try {
    log = createLogger(config);
  } catch (err) {
    if (!(err instanceof LogFileError)) throw err;
    process.stderr.write(`agentcom: ${err.message}\n`);
    process.exit(2);
  }
  // a stray rejection is a bug to log, never a reason to drop every agent's connection
  process.on('unhandledRejection', (err) => log.error({ err }, 'unhandled rejection'));
  const running = await startHub(config, log);
  if (running.generatedAdminToken) printGeneratedToken(running.generatedAdminToken, running, config);
  let stopping = false;
  const stop = (signal: string) => {
    if (stopping) return;
    stopping = true;
    log.info({ signal }, 'shutting down');
    const force = setTimeout(() => {
      log.error('shutdown took too long; exiting');
      process.exit(1);
    }, config.shutdownMs);
    force.unref();
    running.close().then(
      () => process.exit(0),
      (err) => {
        log.error({ err }, 'shutdown failed');
        process.exit(1);
      },
    );
  };
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));
}

main().catch((err) => {
  // the operator's to fix (a damaged data dir, a taken port): the message says what, a stack would only bury it
  const oneLine =
    err instanceof OperatorError || (err instanceof Error && typeof (err as NodeJS.ErrnoException).code === 'string');
  const text = oneLine ? err.message : err instanceof Error ? err.stack : String(err);
  process.stderr.write(`agentcom failed to start: ${text}\n`);
  process.exit(1);
});
