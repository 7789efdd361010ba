import { mkdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { RootDatabase } from 'lmdb';
import { pruneBackups } from '../shared/backups.js';
import { envFile } from '../shared/data-layout.js';
import type { BackupManifest, DomainBackup, EnvSpace, MaintenanceApi } from '../shared/maintenance.js';
import { countsOf, snapshot } from './backup.js';
import { openEnvFile } from './env.js';
import { backupFile, prepareRestore, unstageRestore } from './restore.js';
import { spaceOf } from './space.js';

/** a compaction copy commits every this many records or bytes, so memory stays small */
const COPY_CHUNK = 10_000;
const COPY_CHUNK_BYTES = 16 * 1024 * 1024;

/**
 * A compacted copy of an environment, record by record: every named
 * database's entries (raw keys and values, msgpack structures included) are
 * written in key order into a fresh file, which therefore has no free pages.
 * It does not use LMDB's compacting copy (lmdb-js `backup(path, true)`): a
 * file made that way under load was seen to crash the next write
 * (MDB_BAD_VALSIZE in mdb_page_alloc; lmdb-js issue #198).
 */
export async function copyRecords(env: RootDatabase, names: readonly string[], copy: string): Promise<void> {
  for (const f of [copy, `${copy}-lock`]) rmSync(f, { force: true });
  const target = openEnvFile(copy);
  try {
    for (const name of names) {
      const raw = { name, keyEncoding: 'binary', encoding: 'binary' } as const;
      const from = env.openDB(raw);
      const to = target.openDB(raw);
      let chunk: Array<{ key: Buffer; value: Buffer }> = [];
      let bytes = 0;
      const write = () => {
        const entries = chunk;
        chunk = [];
        bytes = 0;
        target.transactionSync(() => {
          for (const e of entries) to.putSync(e.key, e.value);
        });
      };
      for (const e of from.getRange({})) {
        const entry = e as { key: Buffer; value: Buffer };
        chunk.push(entry);
        bytes += entry.value.length;
        if (chunk.length === COPY_CHUNK || bytes >= COPY_CHUNK_BYTES) write();
      }
      if (chunk.length) write();
    }
    await target.flushed;
  } finally {
    await target.close();
    rmSync(`${copy}-lock`, { force: true });
  }
}

/**
 * The maintenance thread's work, as plain functions over LMDB: backups,
 * retention, restore preparation (verify and stage), storage figures and the copy
 * step of compaction. It keeps its own handle on every domain's environment
 * (shared with the domain worker by lmdb-js); a handle must be released
 * before the domain's file is swapped and reopened after.
 */
export class Maintenance implements MaintenanceApi {
  /** each handle with the file it was opened on, by device and inode */
  private readonly open = new Map<string, { env: RootDatabase; dev: number; ino: number }>();

  constructor(
    private readonly dataDir: string,
    private readonly domains: Record<string, readonly string[]>,
  ) {
    for (const d of Object.keys(domains)) this.openOn(d);
  }

  private openOn(domain: string): void {
    const file = envFile(this.dataDir, domain);
    const env = openEnvFile(file);
    const { dev, ino } = statSync(file);
    this.open.set(domain, { env, dev, ino });
  }

  private env(domain: string): RootDatabase {
    const held = this.open.get(domain);
    if (!held) throw new Error(`${domain} is not open (released for a swap, or not a domain)`);
    return held.env;
  }

  async backup(dir: string): Promise<BackupManifest> {
    mkdirSync(dir, { recursive: true });
    const manifest: BackupManifest = { created_at: Date.now(), domains: [], failed: [] };
    for (const [domain, names] of Object.entries(this.domains)) {
      try {
        manifest.domains.push(await snapshot(this.env(domain), domain, backupFile(dir, domain), names));
      } catch (err) {
        manifest.failed.push({ domain, reason: err instanceof Error ? err.message : String(err) });
      }
    }
    // written last: a folder without a manifest is a backup that did not finish
    writeFileSync(join(dir, 'manifest.json'), `${JSON.stringify(manifest, null, 2)}\n`);
    return manifest;
  }

  async prune(keep: number): Promise<string[]> {
    return pruneBackups(this.dataDir, keep);
  }

  async prepareRestore(dir: string): Promise<{ problems: string[]; backups: DomainBackup[] }> {
    return prepareRestore(dir, this.dataDir, Object.keys(this.domains));
  }

  async unstageRestore(): Promise<void> {
    unstageRestore(this.dataDir, Object.keys(this.domains));
  }

  async space(domain: string): Promise<EnvSpace> {
    return spaceOf(this.env(domain), envFile(this.dataDir, domain), this.domains[domain]);
  }

  async compactCopy(domain: string, copy: string): Promise<Record<string, number>> {
    const env = this.env(domain);
    const live = countsOf(env, this.domains[domain]);
    await copyRecords(env, this.domains[domain], copy);
    return live;
  }

  async release(domain: string): Promise<void> {
    const held = this.open.get(domain);
    this.open.delete(domain);
    await held?.env.close();
  }

  /**
   * Opens the domain's file again. A handle still held on another file (one
   * a swap replaced) is dropped: it would read a copy no longer live. With no
   * file at the path nothing is opened, since opening would create an empty one.
   */
  async reopen(domain: string): Promise<void> {
    const file = envFile(this.dataDir, domain);
    const now = statSync(file, { throwIfNoEntry: false });
    const held = this.open.get(domain);
    if (held && now && held.dev === now.dev && held.ino === now.ino) return;
    await this.release(domain);
    if (now) this.openOn(domain);
  }

  async close(): Promise<void> {
    for (const d of [...this.open.keys()]) await this.release(d);
  }
}
