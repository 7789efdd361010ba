import { mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { backupsDir } from '../shared/data-layout.js';
import type { DomainBackup } from '../storage/backup.js';
import type { Hub } from './context.js';

export interface Manifest {
  created_at: number;
  domains: DomainBackup[];
  failed: Array<{ domain: string; reason: string }>;
}

const dirOf = backupsDir;

/** Backup folders, oldest first (their names are ISO timestamps). */
export function listBackups(dataDir: string): string[] {
  try {
    return readdirSync(dirOf(dataDir), { withFileTypes: true })
      .filter((d) => d.isDirectory())
      .map((d) => d.name)
      .sort();
  } catch {
    return [];
  }
}

export function readManifest(dataDir: string, name: string): Manifest | null {
  return readManifestAt(join(dirOf(dataDir), name));
}

/** A backup folder's manifest, or null when it has none (a backup still being written, or not a backup). */
export function readManifestAt(dir: string): Manifest | null {
  try {
    return JSON.parse(readFileSync(join(dir, 'manifest.json'), 'utf8')) as Manifest;
  } catch {
    return null;
  }
}

/**
 * Snapshots every domain into `data/backups/<timestamp>/<domain>/` while the
 * hub keeps serving, writes `manifest.json` (sizes, sha256, record counts of
 * each copy) last, and keeps the newest `backupKeep` backups.
 */
export async function runBackup(hub: Hub, dataDir: string) {
  const started = Date.now();
  const name = new Date(started).toISOString().replace(/[:.]/g, '-');
  const dir = join(dirOf(dataDir), name);
  mkdirSync(dir, { recursive: true });
  const settled = await Promise.allSettled(hub.domains().map((d) => d.backup(join(dir, d.name, `${d.name}.mdb`))));
  const manifest: Manifest = { created_at: started, domains: [], failed: [] };
  settled.forEach((r, i) => {
    const domain = hub.domains()[i].name;
    if (r.status === 'fulfilled') manifest.domains.push(r.value);
    else manifest.failed.push({ domain, reason: r.reason instanceof Error ? r.reason.message : String(r.reason) });
  });
  writeFileSync(join(dir, 'manifest.json'), `${JSON.stringify(manifest, null, 2)}\n`);
  pruneBackups(dataDir, hub.config.backupKeep);
  const level = manifest.failed.length ? 'error' : 'info';
  hub.log[level]({ path: dir, ms: Date.now() - started, failed: manifest.failed }, 'backup written');
  return {
    status: manifest.failed.length ? 'partial' : 'complete',
    path: dir,
    tables_total: settled.length,
    tables_success: manifest.domains.length,
    results: [
      ...manifest.domains.map((d) => ({
        table: d.domain,
        status: 'ok',
        path: d.file,
        size: d.bytes,
        counts: d.counts,
      })),
      ...manifest.failed.map((f) => ({ table: f.domain, status: 'error', reason: f.reason })),
    ],
  };
}

/**
 * Retention counts complete backups only: the newest `keep` of them stay,
 * and so does the newest backup of all when it is partial (the evidence of
 * what failed); every other backup goes. Partial backups never push a
 * restorable one out.
 */
export function pruneBackups(dataDir: string, keep: number): string[] {
  const names = listBackups(dataDir);
  const complete = names.filter((n) => {
    const m = readManifest(dataDir, n);
    return m !== null && m.failed.length === 0;
  });
  const kept = new Set([...complete.slice(-keep), ...names.slice(-1)]);
  const removed = names.filter((n) => !kept.has(n));
  for (const n of removed) rmSync(join(dirOf(dataDir), n), { recursive: true, force: true });
  return removed;
}

/** The newest complete backup (every domain copied, manifest written), or null. */
export function newestBackup(dataDir: string): { dir: string; manifest: Manifest } | null {
  const names = listBackups(dataDir);
  for (let i = names.length - 1; i >= 0; i--) {
    const m = readManifest(dataDir, names[i]);
    if (m && m.failed.length === 0) return { dir: join(dirOf(dataDir), names[i]), manifest: m };
  }
  return null;
}

/** When the newest complete backup was taken, or null. */
export function lastBackupAt(dataDir: string): number | null {
  return newestBackup(dataDir)?.manifest.created_at ?? null;
}
