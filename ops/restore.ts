import { resolve } from 'node:path';
import { lockDataDir } from '../shared/data-lock.js';
import { OperatorError } from '../shared/errors.js';
import { restoreDataDir } from '../storage/restore.js';

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

const isMain =
  process.argv[1] &&
  resolve(process.argv[1]).replace(/\.ts$/, '.js') ===
    resolve(new URL(import.meta.url).pathname).replace(/\.ts$/, '.js');
if (isMain) {
  const arg = (name: string) => {
    const i = process.argv.indexOf(`--${name}`);
    return i > 0 ? process.argv[i + 1] : undefined;
  };
  const from = arg('from');
  const data = arg('data') ?? './data';
  if (!from) {
    process.stderr.write('usage: npm run restore -- --from data/backups/<timestamp> [--data ./data]\n');
    process.exit(2);
  }
  restore(resolve(from), resolve(data)).then(
    ({ ok, report }) => {
      process.stdout.write(`${report.join('\n')}\n${ok ? 'restore complete' : 'restore FAILED'}\n`);
      process.exit(ok ? 0 : 1);
    },
    (err) => {
      const text = err instanceof OperatorError || !(err instanceof Error) ? String(err.message ?? err) : err.stack;
      process.stderr.write(`restore failed: ${text}\n`);
      process.exit(1);
    },
  );
}
