import { resolve } from 'node:path';
import { lockDataDir } from '../shared/data-lock.js';
import { restoreDataDir } from '../storage/restore.js';
import { fromAndData, isMainModule, runTool } from './cli-main.js';

/**
 * Rebuilds a data directory from a backup made by `POST /admin/backup`:
 * every domain is verified (checksums, then record counts in a child
 * process) before any is touched, then all are swapped in or none. Refused
 * while a hub (or another restore) holds the directory; the running hub's
 * `POST /admin/restore` does the same online.
 */
export async function restore(from: string, dataDir: string): Promise<{ ok: boolean; report: string[] }> {
  const lock = await lockDataDir(dataDir, 'restore');
  try {
    return await restoreDataDir(from, dataDir);
  } finally {
    await lock.release();
  }
}

export const RESTORE_OPTIONS = fromAndData({
  env: 'AGENTCOM_RESTORE_FROM',
  help: 'the backup: a data/backups/<timestamp> folder',
});

if (isMainModule(import.meta.url)) {
  runTool(
    {
      usage: 'npm run restore -- --from data/backups/<timestamp> [--data ./data]',
      about: `Restores a backup into a stopped hub's data directory: verifies every domain first
(checksums, then record counts), then swaps all of them in or none. The replaced
files move to <data>/replaced/<time>/. Exit 0 restored, 1 refused or failed
(nothing changed), 2 bad command line.`,
      options: RESTORE_OPTIONS,
      async run(o) {
        const { ok, report } = await restore(
          resolve(o.from as string),
          resolve((o.data as string | undefined) ?? './data'),
        );
        process.stdout.write(`${report.join('\n')}\n${ok ? 'restore complete' : 'restore FAILED'}\n`);
        return ok ? 0 : 1;
      },
    },
    'restore',
  );
}
