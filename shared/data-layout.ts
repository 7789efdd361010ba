import { renameSync, writeFileSync } from 'node:fs';
import { basename, join } from 'node:path';

/**
 * What a data directory holds: one LMDB environment per domain, backups,
 * and the few files kept outside every environment so that restoring one
 * cannot roll them back.
 */
export const DOMAINS = ['registry', 'messaging', 'channels', 'tasks'] as const;
export type Domain = (typeof DOMAINS)[number];

export const envFile = (dataDir: string, domain: string) => join(dataDir, domain, `${domain}.mdb`);
export const backupsDir = (dataDir: string) => join(dataDir, 'backups');
/** the messaging seq's high-water mark (§9.31) */
export const seqMarkFile = (dataDir: string) => join(dataDir, 'seq-hwm.json');
/** which backup the data was last restored from */
export const restoreMarkFile = (dataDir: string) => join(dataDir, 'last-restore.json');
/** where a restore or a compaction moves the files it replaces, so it can be undone */
export const replacedDir = (dataDir: string, at: number) =>
  join(dataDir, 'replaced', new Date(at).toISOString().replace(/[:.]/g, '-'));

/** Written by a restore: the backup the data came from, and each domain's transaction id in it. */
export interface RestoreMark {
  backup: string;
  at: number;
  txnids: Record<string, number>;
}

/** Tells the start-up check where the data came from, so an older backup's data is not taken for a rollback. */
export function writeRestoreMark(
  dataDir: string,
  from: string,
  backups: ReadonlyArray<{ domain: string; txnid?: number | null }>,
  now: number,
): void {
  const mark: RestoreMark = {
    backup: basename(from),
    at: now,
    txnids: Object.fromEntries(backups.map((d) => [d.domain, d.txnid ?? 0])),
  };
  // a mark cut short (a full disk) would read as none: written whole beside it, then renamed over it
  const file = restoreMarkFile(dataDir);
  writeFileSync(`${file}.tmp`, `${JSON.stringify(mark, null, 2)}\n`);
  renameSync(`${file}.tmp`, file);
}
