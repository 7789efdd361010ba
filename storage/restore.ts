import { copyFileSync, existsSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import { envFile, type RestoreMark, replacedDir, restoreMarkFile, seqMarkFile } from '../shared/data-layout.js';
import { OperatorError } from '../shared/errors.js';
import { type VerifyMode, verifyEnvs } from '../shared/verify.js';
import { type DomainBackup, sha256File } from './backup.js';
import { markSeqRestored } from './seq-mark.js';

export interface BackupManifest {
  created_at: number;
  domains: DomainBackup[];
  failed: Array<{ domain: string; reason?: string }>;
}

export function readBackupManifest(from: string): BackupManifest {
  try {
    return JSON.parse(readFileSync(join(from, 'manifest.json'), 'utf8')) as BackupManifest;
  } catch {
    throw new OperatorError(`${from} is not a backup: it has no readable manifest.json`);
  }
}

export const backupFile = (from: string, domain: string) => join(from, domain, `${domain}.mdb`);

/**
 * Every reason the backup cannot be restored, none when it can: it must be
 * complete, each file must match the manifest's checksum, and each copy must
 * open and hold the manifest's record counts (read in a child process, so a
 * damaged file cannot take the caller down).
 */
export async function verifyBackup(from: string, m: BackupManifest, mode: VerifyMode = 'counts'): Promise<string[]> {
  const problems: string[] = [];
  if (m.failed.length) problems.push(`the backup is partial: ${m.failed.map((f) => f.domain).join(', ')} missing`);
  for (const d of m.domains) {
    const file = backupFile(from, d.domain);
    if (!existsSync(file)) problems.push(`${d.domain}: ${file} is missing`);
    else if ((await sha256File(file)) !== d.sha256) problems.push(`${d.domain}: ${file} does not match its checksum`);
  }
  if (problems.length) return problems;
  const envs = m.domains.map((d) => ({ domain: d.domain, file: backupFile(from, d.domain), expect: d.counts }));
  for (const r of await verifyEnvs({ mode, envs })) if (!r.ok) problems.push(`${r.domain}: ${r.reason}`);
  return problems;
}

export const stagedFile = (dataDir: string, domain: string) => `${envFile(dataDir, domain)}.restoring`;

/** Copies a domain's backup file beside its live file and checks the copy against the manifest. */
export async function stageDomain(from: string, dataDir: string, d: DomainBackup): Promise<void> {
  const staged = stagedFile(dataDir, d.domain);
  mkdirSync(join(dataDir, d.domain), { recursive: true });
  copyFileSync(backupFile(from, d.domain), staged);
  if ((await sha256File(staged)) !== d.sha256) {
    rmSync(staged, { force: true });
    throw new Error(`${d.domain}: the copy in ${staged} does not match the backup's checksum`);
  }
}

export function unstage(dataDir: string, domains: readonly string[]): void {
  for (const d of domains) rmSync(stagedFile(dataDir, d), { force: true });
}

/**
 * Puts a staged file in place of the live one, which moves to `aside`
 * (LMDB's lock file goes: its reader table describes the old file). Returns
 * the undo, which puts the old file back.
 */
export function swapIn(dataDir: string, domain: string, aside: string): () => void {
  const live = envFile(dataDir, domain);
  const kept = join(aside, `${domain}.mdb`);
  const had = existsSync(live);
  if (had) {
    mkdirSync(aside, { recursive: true });
    renameSync(live, kept);
  }
  rmSync(`${live}-lock`, { force: true });
  try {
    renameSync(stagedFile(dataDir, domain), live);
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

/** Swaps every staged domain in, or none: a failure part-way puts back what was already swapped. */
export function swapAll(dataDir: string, domains: readonly string[], aside: string): void {
  const undo: Array<() => void> = [];
  try {
    for (const d of domains) undo.push(swapIn(dataDir, d, aside));
  } catch (err) {
    for (const u of undo.reverse()) u();
    throw err;
  }
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
  try {
    for (const d of m.domains) await stageDomain(from, dataDir, d);
    // raised before the swap: if the swap fails, seqs merely jump at the next start
    markSeqRestored(seqMarkFile(dataDir), liveMessaging?.seq ?? 0);
    const now = Date.now();
    swapAll(dataDir, domains, replacedDir(dataDir, now));
    markRestored(dataDir, from, m, now);
    return {
      ok: true,
      report: [
        ...m.domains.map((d) => `${d.domain}: restored, ${Object.values(d.counts).reduce((a, b) => a + b, 0)} records`),
        `the replaced files are in ${replacedDir(dataDir, now)}`,
      ],
    };
  } catch (err) {
    unstage(dataDir, domains);
    return { ok: false, report: [err instanceof Error ? err.message : String(err), 'nothing was changed'] };
  }
}
