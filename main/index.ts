import { runCommand } from '../shared/cli.js';
import type { Config } from '../shared/config.js';
import { HUB_HELP, loadConfig } from './config.js';
import { type RunningHub, startHub } from './hub.js';
import { createLogger } from './log.js';

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
async function serve(argv: string[], env: NodeJS.ProcessEnv): Promise<null> {
  const config = loadConfig(argv, env);
  const log = createLogger(config);
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
  return null; // the hub runs on until a signal
}

runCommand({ name: 'agentcom', failed: 'failed to start', help: HUB_HELP, run: serve });
