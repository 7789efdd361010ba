import { join } from 'node:path';
import { backupsDir } from '../shared/data-layout.js';
import type { Logger } from './log.js';
import type { MaintenanceClient } from './maintenance.js';

export interface BackupDeps {
  maintenance: MaintenanceClient;
  dataDir: string;
  /** complete backups kept */
  keep: number;
  log: Logger;
  /** told of every backup's result and duration (the Prometheus counters) */
  observe?: (status: 'complete' | 'partial' | 'failed', seconds: number) => void;
}

/**
 * `POST /admin/backup` and the daily schedule: the maintenance thread
 * snapshots every domain into `data/backups/<timestamp>/` while the hub keeps
 * serving (its manifest last), then retention runs. One at a time with
 * restores and compactions.
 */
export function runBackup(d: BackupDeps) {
  return d.maintenance.exclusive(async () => {
    const started = Date.now();
    const dir = join(backupsDir(d.dataDir), new Date(started).toISOString().replace(/[:.]/g, '-'));
    let manifest: Awaited<ReturnType<typeof d.maintenance.api.backup>>;
    try {
      manifest = await d.maintenance.api.backup(dir);
    } catch (err) {
      d.observe?.('failed', (Date.now() - started) / 1000);
      throw err;
    }
    const pruned = await d.maintenance.api.prune(d.keep);
    const level = manifest.failed.length ? 'error' : 'info';
    d.log[level]({ path: dir, ms: Date.now() - started, failed: manifest.failed, pruned }, 'backup written');
    d.observe?.(manifest.failed.length ? 'partial' : 'complete', (Date.now() - started) / 1000);
    return {
      status: manifest.failed.length ? 'partial' : 'complete',
      path: dir,
      tables_total: manifest.domains.length + manifest.failed.length,
      tables_success: manifest.domains.length,
      results: [
        ...manifest.domains.map((m) => ({
          table: m.domain,
          status: 'ok',
          path: m.file,
          size: m.bytes,
          counts: m.counts,
        })),
        ...manifest.failed.map((f) => ({ table: f.domain, status: 'error', reason: f.reason })),
      ],
    };
  });
}
