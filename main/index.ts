import type { Config } from '../shared/config.js';
import { OperatorError } from '../shared/errors.js';
import { ConfigError, loadConfig } from './config.js';
import { startHub } from './hub.js';
import { createLogger } from './log.js';

/** `npm start` / `node dist/main/index.js [--flag value …]`: run the hub until SIGTERM/SIGINT. */
async function main(): Promise<void> {
  let config: Config;
  try {
    config = loadConfig(process.argv.slice(2), process.env);
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    process.stderr.write(`${err.message}\n`);
    process.exit(2);
  }
  const log = createLogger(config.logLevel);
  // a stray rejection is a bug to log, never a reason to drop every agent's connection
  process.on('unhandledRejection', (err) => log.error({ err }, 'unhandled rejection'));
  const running = await startHub(config, log);
  if (running.generatedAdminToken) {
    log.warn(
      { admin_token: running.generatedAdminToken },
      'generated the admin token: it is shown this once and stored hashed; keep it (or set AGENTCOM_ADMIN_TOKEN)',
    );
  }
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
  // a damaged data directory is the operator's to fix: the message says how, a stack would only bury it
  const text = err instanceof OperatorError ? err.message : err instanceof Error ? err.stack : String(err);
  process.stderr.write(`agentcom failed to start: ${text}\n`);
  process.exit(1);
});
