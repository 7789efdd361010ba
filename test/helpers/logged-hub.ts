import { rmSync } from 'node:fs';
import { pino } from 'pino';
import { startHub } from '../../main/hub.js';
import { type Config, parseConfig } from '../../shared/config.js';
import { ADMIN_TOKEN, type TestHub, tempDir } from './hub.js';

export interface LoggedHub extends TestHub {
  /** every log line the hub wrote, parsed; nothing reaches stdout */
  lines: Array<Record<string, unknown>>;
}

/**
 * Like `startTestHub`, but the hub logs into `lines` instead of stdout, so a
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
  const config = parseConfig({
    host: '127.0.0.1',
    port: 0,
    adminPort: 0,
    data: dataDir,
    logLevel: 'silent',
    adminToken: ADMIN_TOKEN,
    ...overrides,
  });
  const running = await startHub(config, log);
  let stopped = false;
  return {
    ...running,
    lines,
    dataDir,
    url: `http://127.0.0.1:${running.port}`,
    wsUrl: `ws://127.0.0.1:${running.port}/ws`,
    adminUrl: `http://127.0.0.1:${running.adminPort}`,
    async stop(opts = {}) {
      if (!stopped) await running.close();
      stopped = true;
      if (!opts.keepData) rmSync(dataDir, { recursive: true, force: true });
    },
  };
}
