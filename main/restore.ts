import { existsSync } from 'node:fs';
import { isAbsolute, join, resolve } from 'node:path';
import { backupsDir, envFile, keptFile, replacedDir } from '../shared/data-layout.js';
import { writeRestoreMark } from '../shared/data-marks.js';
import { ErrorCode, HubError } from '../shared/errors.js';
import type { Batcher } from './batcher.js';
import type { Logger } from './log.js';
import type { MaintenanceClient } from './maintenance.js';

export interface RestoreDeps {
  domains: ReadonlyArray<Batcher<any>>;
  maintenance: MaintenanceClient;
  dataDir: string;
  log: Logger;
  /** the main thread's caches of the restored domains are read again */
  reload: () => Promise<void>;
}

/** A backup named by its folder under `data/backups/`, or by a path. */
function backupDir(dataDir: string, name: string): string {
  const dir = isAbsolute(name) || name.includes('/') ? resolve(name) : join(backupsDir(dataDir), name);
  if (!existsSync(join(dir, 'manifest.json'))) throw new HubError(ErrorCode.backupNotFound, { backup: name });
  return dir;
}

/**
 * `POST /admin/restore {backup}`: the maintenance thread verifies the whole
 * backup (checksums and record counts, in a child process) and stages each
 * domain's copy beside its live file while the hub serves; then every
 * domain pauses, all files are swapped in (or, when one fails, all are put
 * back), the environments reopen and the queues drain. Agents stay
 * connected; seqs continue above every seq handed out.
 */
export function restoreOnline(d: RestoreDeps, name: string) {
  return d.maintenance.exclusive(async () => {
    const m = d.maintenance.api;
    const dir = backupDir(d.dataDir, name);
    const { problems, backups } = await m.prepareRestore(dir).catch((err) => {
      throw new HubError(ErrorCode.restoreFailed, { backup: name, reason: String(err) });
    });
    if (problems.length) throw new HubError(ErrorCode.backupInvalid, { backup: name, problems });
    const now = Date.now();
    const aside = replacedDir(d.dataDir, now);
    const started = performance.now();
    await Promise.all(d.domains.map((x) => x.pause()));
    const swapped: Array<Batcher<any>> = [];
    const results: Array<{ table: string; status: string; record_count: number; counts: Record<string, number> }> = [];
    let failure: string | null = null;
    try {
      for (const x of d.domains) await m.release(x.name);
      for (const x of d.domains) {
        const r = await x
          .swap({ swap: 'restore', aside })
          .catch((err: Error) => ({ ok: false as const, reason: err.message }));
        if (!r.ok) {
          failure = `${x.name}: ${r.reason}`;
          break;
        }
        swapped.push(x);
        const record_count = Object.values(r.counts).reduce((a, b) => a + b, 0);
        results.push({ table: x.name, status: 'restored', record_count, counts: r.counts });
      }
      if (!failure) {
        try {
          // all or none, the mark too: without it the start-up check would take the restored data for a rollback
          writeRestoreMark(d.dataDir, dir, backups, now);
        } catch (err) {
          failure = `writing the restore mark: ${err instanceof Error ? err.message : String(err)}`;
        }
      }
      if (failure) {
        // the domain that failed too, when its original is still aside (its swap threw after the move)
        const failing = d.domains[swapped.length];
        const kept = (x: Batcher<any>) => existsSync(keptFile(aside, envFile(d.dataDir, x.name)));
        const undo = failing && kept(failing) ? [failing, ...swapped.reverse()] : swapped.reverse();
        for (const x of undo) await x.swap({ swap: 'undo' }).catch(() => undefined);
        // an original still aside is where the operator finds it (the failing domain's too)
        const stuck = d.domains.filter(kept);
        if (stuck.length) failure += `; not put back, still in ${aside}: ${stuck.map((x) => x.name).join(', ')}`;
      }
    } finally {
      // every domain resumes whatever else fails here: a paused one would hold its queue forever
      try {
        for (const x of d.domains)
          await m.reopen(x.name).catch((err) => d.log.error({ err, domain: x.name }, 'maintenance could not reopen'));
        await m.unstageRestore();
      } finally {
        for (const x of d.domains) x.resume();
      }
    }
    if (failure) throw new HubError(ErrorCode.restoreFailed, { backup: name, reason: failure });
    const pausedMs = Math.round(performance.now() - started);
    await d.reload();
    d.log.warn({ backup: dir, paused_ms: pausedMs, replaced: aside }, 'data restored online from a backup');
    return {
      status: 'restored',
      backup_used: dir,
      paused_ms: pausedMs,
      replaced_files: aside,
      tables_total: results.length,
      results,
    };
  });
}
