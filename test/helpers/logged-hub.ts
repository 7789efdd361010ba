import { pino } from 'pino';
import type { Config } from '../../shared/config.js';
import { startTestHub, type TestHub, tempDir } from './hub.js';

export interface LoggedHub extends TestHub {
  /** every log line the hub wrote, parsed; nothing reaches stdout */
  lines: Array<Record<string, unknown>>;
}

/**
 * `startTestHub` with the hub logging into `lines` instead of stdout, so a
 * test can change the log level at run time and see what the hub writes.
 */
export async function startLoggedHub(
  overrides: Partial<Config> = {},
  level = 'error',
  dataDir = tempDir(),
): Promise<LoggedHub> {
  const lines: Array<Record<string, unknown>> = [];
  const log = pino(
    { level, base: { service: 'agentcom' } },
    { write: (s: string) => void lines.push(JSON.parse(s) as Record<string, unknown>) },
  );
  return { ...(await startTestHub(overrides, dataDir, log)), lines };
}
