import { existsSync, statSync } from 'node:fs';
import { basename } from 'node:path';
import { newestBackup } from '../shared/backups.js';
import { backupsDir, envFile } from '../shared/data-layout.js';
import { readCompactionMarks, readRestoreMark } from '../shared/data-marks.js';
import { OperatorError } from '../shared/errors.js';
import { type EnvReport, type VerifyMode, verifyEnvs } from '../shared/verify.js';
import type { Logger } from './log.js';

/** The one command that brings a domain back, or what to do when there is no backup. */
function restoreHint(dataDir: string): string {
  const newest = newestBackup(dataDir);
  return newest
    ? `Restore it: npm run restore -- --from ${newest.dir} --data ${dataDir}`
    : `There is no backup in ${backupsDir(dataDir)}; move the file aside to start that domain empty`;
}

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
    const file = envFile(dataDir, domain);
    if (existsSync(file)) continue;
    const saved = newest.manifest.domains.find((d) => d.domain === domain);
    const records = saved ? Object.values(saved.counts).reduce((a, b) => a + b, 0) : 0;
    if (records === 0) continue;
    throw new OperatorError(
      `${file} is missing, but the newest backup (${basename(newest.dir)}) holds ${records} record${records === 1 ? '' : 's'} of ${domain}. ` +
        `Restore it: npm run restore -- --from ${newest.dir} --data ${dataDir}. ` +
        `To start ${domain} empty on purpose, move ${backupsDir(dataDir)} aside first.`,
    );
  }
}

/**
 * Reads every existing domain file in a child process before this process
 * opens any (PROTOCOL.md §9.33): a file that crashes its reader, fails to
 * open, or whose stored counts disagree with a walk stops the start with one
 * line naming the domain, the file and the restore command.
 */
export async function verifyDataDir(
  dataDir: string,
  domains: readonly string[],
  mode: VerifyMode | 'off',
): Promise<EnvReport[]> {
  if (mode === 'off') return [];
  const envs = domains.map((domain) => ({ domain, file: envFile(dataDir, domain) })).filter((e) => existsSync(e.file));
  const reports = await verifyEnvs({ mode, envs });
  const bad = reports.find((r) => !r.ok);
  if (bad) {
    throw new OperatorError(`${bad.domain}: ${bad.file} is damaged (${bad.reason}). ${restoreHint(dataDir)}.`);
  }
  return reports;
}

/**
 * Compares the verified files with the newest complete backup. A file whose
 * last transaction is older than the backup's was rolled back (replaced by an
 * older copy): a warning with both counts, since records the backup holds may
 * be gone. A file that a restore put there is reported as restored, and one
 * a compaction since the backup left as compacted. Otherwise one info line
 * per domain with the counts that changed since the backup.
 */
export function logCountsSinceBackup(dataDir: string, reports: readonly EnvReport[], log: Logger): void {
  const newest = newestBackup(dataDir);
  if (!newest) return;
  const backup = basename(newest.dir);
  const mark = readRestoreMark(dataDir);
  const compactions = readCompactionMarks(dataDir);
  for (const r of reports) {
    const saved = newest.manifest.domains.find((m) => m.domain === r.domain);
    if (!saved) continue;
    const changed: Record<string, number> = {};
    for (const name of Object.keys(r.counts)) {
      const delta = r.counts[name] - (saved.counts[name] ?? 0);
      if (delta !== 0) changed[name] = delta;
    }
    const older = saved.txnid !== undefined && r.txnid < saved.txnid;
    const restored = mark?.txnids[r.domain] !== undefined && r.txnid >= mark.txnids[r.domain];
    const c = compactions[r.domain];
    // the very file a compaction since the backup left, its transaction ids counted again from 1
    const compacted =
      older && c !== undefined && c.at > newest.manifest.created_at && r.txnid >= c.txnid && sameFile(r.file, c);
    if (older && compacted) {
      log.info({ domain: r.domain, backup, changed }, 'domain compacted since the newest backup');
    } else if (older && !restored) {
      log.warn(
        { domain: r.domain, file: r.file, backup, counts: r.counts, backup_counts: saved.counts, changed },
        'domain file is older than the newest backup: records the backup holds may be missing (rolled back?)',
      );
    } else if (older) {
      log.info(
        { domain: r.domain, backup, restored_from: mark?.backup, changed },
        'domain restored from an older backup',
      );
    } else {
      log.info({ domain: r.domain, backup, changed }, 'record counts since the newest backup');
    }
  }
}

/** Whether the file at `path` is the one named by device and inode (stat only when it matters). */
function sameFile(path: string, named: { dev: number; ino: number }): boolean {
  const { dev, ino } = statSync(path);
  return dev === named.dev && ino === named.ino;
}
