import { readdirSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { backupsDir } from './data-layout.js';
import type { BackupManifest } from './maintenance.js';

/**
 * The backup folders of a data directory, read from the file system only
 * (no LMDB): the start-up check, the online restore and retention use it.
 */
export function listBackups(dataDir: string): string[] {
  try {
    return readdirSync(backupsDir(dataDir), { withFileTypes: true })
      .filter((d) => d.isDirectory())
      .map((d) => d.name)
      .sort();
  } catch {
    return [];
  }
}

/** A backup folder's manifest, or null when it has none (a backup still being written, or not a backup). */
export function readManifestAt(dir: string): BackupManifest | null {
  try {
    return JSON.parse(readFileSync(join(dir, 'manifest.json'), 'utf8')) as BackupManifest;
  } catch {
    return null;
  }
}

const complete = (m: BackupManifest | null) => m !== null && m.failed.length === 0;

/** The newest complete backup (every domain copied, manifest written), or null. */
export function newestBackup(dataDir: string): { dir: string; manifest: BackupManifest } | null {
  const names = listBackups(dataDir);
  for (let i = names.length - 1; i >= 0; i--) {
    const dir = join(backupsDir(dataDir), names[i]);
    const m = readManifestAt(dir);
    if (m && complete(m)) return { dir, manifest: m };
  }
  return null;
}

/**
 * Retention counts complete backups only: the newest `keep` of them stay,
 * and so does the newest backup of all when it is partial (the evidence of
 * what failed); every other backup goes. Partial backups never push a
 * restorable one out.
 */
export function pruneBackups(dataDir: string, keep: number): string[] {
  const names = listBackups(dataDir);
  const done = names.filter((n) => complete(readManifestAt(join(backupsDir(dataDir), n))));
  const kept = new Set([...done.slice(-keep), ...names.slice(-1)]);
  const removed = names.filter((n) => !kept.has(n));
  for (const n of removed) rmSync(join(backupsDir(dataDir), n), { recursive: true, force: true });
  return removed;
}

/** Each backup folder, newest first, as an operator lists them: when, complete or not, how big. */
export function backupSummaries(dataDir: string) {
  return listBackups(dataDir)
    .reverse()
    .map((name) => {
      const m = readManifestAt(join(backupsDir(dataDir), name));
      return {
        name,
        created_at: m?.created_at ?? null,
        status: m === null ? 'incomplete' : m.failed.length ? 'partial' : 'complete',
        bytes: m?.domains.reduce((n, d) => n + d.bytes, 0) ?? 0,
        failed: m?.failed ?? [],
      };
    });
}
