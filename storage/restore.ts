import { copyFileSync, existsSync, mkdirSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { readManifestAt } from '../shared/backups.js';
import { envFile, type RestoreMark, replacedDir, restoreMarkFile, seqMarkFile } from '../shared/data-layout.js';
import { OperatorError } from '../shared/errors.js';
import type { BackupManifest } from '../shared/maintenance.js';
import { type VerifyMode, verifyEnvs } from '../shared/verify.js';
import { sha256File } from './backup.js';
import { markSeqRestored } from './seq-mark.js';

export function readBackupManifest(from: string): BackupManifest {
  const m = readManifestAt(from);
  if (!m) throw new OperatorError(`${from} is not a backup: it has no readable manifest.json`);
  return m;
}

export const backupFile = (from: string, domain: string) => join(from, domain, `${domain}.mdb`);

/**
 * Every reason the backup cannot be restored, none when it can: it must be
 * complete, each file must match the manifest's checksum, and each copy must
 * open and hold the manifest's record counts (read in a child process, so a
 * damaged file cannot take the caller down).
 */
export async function verifyBackup(from: string, m: BackupManifest, mode: VerifyMode = 'counts'): Promise<string[]> {
  if (m.failed.length) return [`the backup is partial: ${m.failed.map((f) => f.domain).join(', ')} missing`];
  const envs = m.domains.map((d) => ({
    domain: d.domain,
    file: backupFile(from, d.domain),
    expect: d.counts,
    sha256: d.sha256,
  }));
  return (await verifyEnvs({ mode, envs })).filter((r) => !r.ok).map((r) => `${r.domain}: ${r.reason}`);
}

const staged = (live: string) => `${live}.restoring`;

/** Copies a backup file beside the live one (`<live>.restoring`) and checks the copy against the manifest's checksum. */
export async function stageFile(source: string, live: string, sha256: string): Promise<void> {
  mkdirSync(dirname(live), { recursive: true });
  copyFileSync(source, staged(live));
  if ((await sha256File(staged(live))) !== sha256) {
    rmSync(staged(live), { force: true });
    throw new Error(`the copy in ${staged(live)} does not match the backup's checksum`);
  }
}

export function unstageFile(live: string): void {
  rmSync(staged(live), { force: true });
}

/**
 * Puts the staged file in place of the live one, which moves into `aside`
 * (LMDB's lock file goes: its reader table describes the old file). Returns
 * the undo, which puts the old file back. The environment must be closed.
 */
export function swapFile(live: string, aside: string): () => void {
  const kept = join(aside, basename(live));
  const had = existsSync(live);
  if (had) {
    mkdirSync(aside, { recursive: true });
    renameSync(live, kept);
  }
  rmSync(`${live}-lock`, { force: true });
  try {
    renameSync(staged(live), live);
  } catch (err) {
    if (had) renameSync(kept, live);
    throw err;
  }
  return () => {
    rmSync(`${live}-lock`, { force: true });
    if (had) renameSync(kept, live);
    else rmSync(live, { force: true });
  };
}

/** Tells the start-up check where the data came from, so an older backup's data is not taken for a rollback. */
export function markRestored(dataDir: string, from: string, m: BackupManifest, now: number): void {
  const mark: RestoreMark = {
    backup: basename(from),
    at: now,
    txnids: Object.fromEntries(m.domains.map((d) => [d.domain, d.txnid ?? 0])),
  };
  writeFileSync(restoreMarkFile(dataDir), `${JSON.stringify(mark, null, 2)}\n`);
}

/**
 * The offline restore: verify the whole backup, stage every domain's copy
 * beside its live file, then swap all of them in or none. On any failure the
 * data directory is as it was; the replaced files are kept under
 * `data/replaced/<time>/`. The caller holds the data directory's lock.
 */
export async function restoreDataDir(from: string, dataDir: string): Promise<{ ok: boolean; report: string[] }> {
  const m = readBackupManifest(from);
  const problems = await verifyBackup(from, m);
  if (problems.length) return { ok: false, report: [...problems, 'nothing was changed'] };
  const domains = m.domains.map((d) => d.domain);
  const live = envFile(dataDir, 'messaging');
  const [liveMessaging] = existsSync(live)
    ? await verifyEnvs({ mode: 'counts', envs: [{ domain: 'messaging', file: live }] })
    : [];
  const files = domains.map((d) => envFile(dataDir, d));
  try {
    for (const d of m.domains) await stageFile(backupFile(from, d.domain), envFile(dataDir, d.domain), d.sha256);
    // raised before the swap: if the swap fails, seqs merely jump at the next start
    markSeqRestored(seqMarkFile(dataDir), liveMessaging?.seq ?? 0);
    const now = Date.now();
    const aside = replacedDir(dataDir, now);
    const undo: Array<() => void> = [];
    try {
      for (const f of files) undo.push(swapFile(f, aside));
    } catch (err) {
      for (const u of undo.reverse()) u();
      throw err;
    }
    markRestored(dataDir, from, m, now);
    return {
      ok: true,
      report: [
        ...m.domains.map((d) => `${d.domain}: restored, ${Object.values(d.counts).reduce((a, b) => a + b, 0)} records`),
        `the replaced files are in ${replacedDir(dataDir, now)}`,
      ],
    };
  } catch (err) {
    for (const f of files) unstageFile(f);
    return { ok: false, report: [err instanceof Error ? err.message : String(err), 'nothing was changed'] };
  }
}
