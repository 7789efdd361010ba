import { existsSync } from 'node:fs';
import { basename, join } from 'node:path';
import { newestBackup } from './backup.js';
import type { DomainClient } from './domain-client.js';
import type { Logger } from './log.js';

export class DataMissingError extends Error {}

/**
 * Runs before any domain worker opens (and so creates) its environment. A
 * domain file that is gone while the newest backup holds records of it is a
 * damaged data directory, not a first start: the hub refuses to start empty
 * over it and says how to restore.
 */
export function checkDataPresent(dataDir: string, domains: readonly string[]): void {
  const newest = newestBackup(dataDir);
  if (!newest) return;
  for (const domain of domains) {
    const file = join(dataDir, domain, `${domain}.mdb`);
    if (existsSync(file)) continue;
    const saved = newest.manifest.domains.find((d) => d.domain === domain);
    const records = saved ? Object.values(saved.counts).reduce((a, b) => a + b, 0) : 0;
    if (records === 0) continue;
    throw new DataMissingError(
      `${file} is missing, but the newest backup (${basename(newest.dir)}) holds ${records} record${records === 1 ? '' : 's'} of ${domain}. ` +
        `Restore it: npm run restore -- --from ${newest.dir} --data ${dataDir}. ` +
        `To start ${domain} empty on purpose, move ${join(dataDir, 'backups')} aside first.`,
    );
  }
}

/**
 * After the workers open: one line per domain with how its record counts
 * differ from the newest backup's manifest (none right after a restore).
 */
export async function logCountsSinceBackup(
  dataDir: string,
  domains: ReadonlyArray<DomainClient<any>>,
  log: Logger,
): Promise<void> {
  const newest = newestBackup(dataDir);
  if (!newest) return;
  for (const d of domains) {
    const saved = newest.manifest.domains.find((m) => m.domain === d.name)?.counts;
    if (!saved) continue;
    const live = await d.counts();
    const changed: Record<string, number> = {};
    for (const name of Object.keys(live)) {
      const delta = live[name] - (saved[name] ?? 0);
      if (delta !== 0) changed[name] = delta;
    }
    log.info({ domain: d.name, backup: basename(newest.dir), changed }, 'record counts since the newest backup');
  }
}
