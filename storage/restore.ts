import { copyFileSync, existsSync, linkSync, mkdirSync, renameSync, rmSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { readManifestAt } from '../shared/backups.js';
import { DOMAINS, envFile, keptFile, replacedDir, seqMarkFile } from '../shared/data-layout.js';
import { writeRestoreMark } from '../shared/data-marks.js';
import type { BackupManifest, DomainBackup } from '../shared/maintenance.js';
import { verifyEnvs } from '../shared/verify.js';
import { sha256File } from './backup.js';
import { markSeqRestored } from './seq-mark.js';

export const backupFile = (from: string, domain: string) => join(from, domain, `${domain}.mdb`);

/**
 * Every reason the backup cannot be restored over `domains`, none when it
 * can: it must be complete and hold each of them (restoring the rest alone
 * would mix two points in time), each file must match the manifest's
 * checksum, and each copy must open and hold the manifest's record counts
 * (read in a child process, so a damaged file cannot take the caller down).
 */
async function verifyBackup(from: string, m: BackupManifest, domains: readonly string[]): Promise<string[]> {
  if (m.failed.length) return [`the backup is partial: ${m.failed.map((f) => f.domain).join(', ')} missing`];
  const missing = domains.filter((d) => !m.domains.some((x) => x.domain === d));
  if (missing.length) return [`the backup holds no ${missing.join(', ')}`];
  const envs = m.domains.map((d) => ({
    domain: d.domain,
    file: backupFile(from, d.domain),
    expect: d.counts,
    sha256: d.sha256,
  }));
  return (await verifyEnvs({ mode: 'counts', envs })).filter((r) => !r.ok).map((r) => `${r.domain}: ${r.reason}`);
}

const staged = (live: string) => `${live}.restoring`;

/** Copies a backup file beside the live one (`<live>.restoring`) and checks the copy against the manifest's checksum. */
async function stageFile(source: string, live: string, sha256: string): Promise<void> {
  mkdirSync(dirname(live), { recursive: true });
  copyFileSync(source, staged(live));
  if ((await sha256File(staged(live))) !== sha256) {
    throw new Error(`the copy in ${staged(live)} does not match the backup's checksum`);
  }
}

export function unstageRestore(dataDir: string, domains: readonly string[]): void {
  for (const d of domains) rmSync(staged(envFile(dataDir, d)), { force: true });
}

/**
 * The first half of every restore, online and offline: reads the backup's
 * manifest once, verifies the backup over `domains`, then copies each
 * domain's file beside its live one. With problems nothing is staged; a
 * failed copy removes every staged one and throws. `backups` are the staged
 * domains' entries in the manifest.
 */
export async function prepareRestore(
  from: string,
  dataDir: string,
  domains: readonly string[],
): Promise<{ problems: string[]; backups: DomainBackup[] }> {
  const m = readManifestAt(from);
  if (!m) return { problems: [`${from} is not a backup: it has no readable manifest.json`], backups: [] };
  const problems = await verifyBackup(from, m, domains);
  if (problems.length) return { problems, backups: [] };
  const backups = m.domains.filter((d) => domains.includes(d.domain));
  try {
    for (const d of backups) await stageFile(backupFile(from, d.domain), envFile(dataDir, d.domain), d.sha256);
  } catch (err) {
    unstageRestore(dataDir, domains);
    throw err;
  }
  return { problems: [], backups };
}

/** What `link` fails with on a file system that has no hard links. */
const NO_HARD_LINKS = new Set(['EPERM', 'ENOTSUP', 'EOPNOTSUPP', 'ENOSYS']);

/** Moves the original back; when even that fails, the error says where it is. */
function putBack(kept: string, live: string, cause: unknown): void {
  try {
    renameSync(kept, live);
  } catch {
    throw new Error(`${cause instanceof Error ? cause.message : cause}; the original file is in ${kept}`);
  }
}

/**
 * Puts `source` (the staged restore copy, or a compacted copy) in place of
 * the live file, which moves into `aside` (LMDB's lock file goes: its reader
 * table describes the old file). Returns the undo, which puts the old file
 * back. The environment must be closed.
 */
export function swapFile(live: string, aside: string, source = staged(live)): () => void {
  const kept = keptFile(aside, live);
  const had = existsSync(live);
  let linked = false;
  if (had) {
    mkdirSync(aside, { recursive: true });
    // a second name first, so that a crash mid-swap leaves one file or the other at the live path
    try {
      linkSync(live, kept);
      linked = true;
    } catch (err) {
      if (!NO_HARD_LINKS.has((err as NodeJS.ErrnoException).code ?? '')) throw err;
      // a file system without hard links: moved, with a moment in which the live path is empty
      renameSync(live, kept);
    }
  }
  try {
    rmSync(`${live}-lock`, { force: true });
    renameSync(source, live);
  } catch (err) {
    // the original goes back to its place (linked: it never left, only its second name goes)
    if (linked) rmSync(kept, { force: true });
    else if (had) putBack(kept, live, err);
    throw err;
  }
  return () => {
    rmSync(`${live}-lock`, { force: true });
    if (had) renameSync(kept, live);
    else rmSync(live, { force: true });
  };
}

/**
 * The offline restore: verify the whole backup and stage every domain's copy
 * beside its live file, then swap all of them in or none. On any failure the
 * data directory is as it was; the replaced files are kept under
 * `data/replaced/<time>/`. The caller holds the data directory's lock.
 */
export async function restoreDataDir(from: string, dataDir: string): Promise<{ ok: boolean; report: string[] }> {
  try {
    const { problems, backups } = await prepareRestore(from, dataDir, DOMAINS);
    if (problems.length) return { ok: false, report: [...problems, 'nothing was changed'] };
    const live = envFile(dataDir, 'messaging');
    const [liveMessaging] = existsSync(live)
      ? await verifyEnvs({ mode: 'counts', envs: [{ domain: 'messaging', file: live }] })
      : [];
    // raised before the swap: if the swap fails, seqs merely jump at the next start
    markSeqRestored(seqMarkFile(dataDir), liveMessaging?.seq ?? 0);
    const now = Date.now();
    const aside = replacedDir(dataDir, now);
    const undo: Array<() => void> = [];
    try {
      for (const d of backups) undo.push(swapFile(envFile(dataDir, d.domain), aside));
      writeRestoreMark(dataDir, from, backups, now);
    } catch (err) {
      // all or none: the mark too, else the start-up check would take the restored data for a rollback
      for (const u of undo.reverse()) u();
      throw err;
    }
    return {
      ok: true,
      report: [
        ...backups.map((d) => `${d.domain}: restored, ${Object.values(d.counts).reduce((a, b) => a + b, 0)} records`),
        `the replaced files are in ${aside}`,
      ],
    };
  } catch (err) {
    unstageRestore(dataDir, DOMAINS);
    return { ok: false, report: [err instanceof Error ? err.message : String(err), 'nothing was changed'] };
  }
}
