import { readFileSync, renameSync, writeFileSync } from 'node:fs';
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

/** what each domain's last compaction left: see `CompactionMark` */
export const compactionMarkFile = (dataDir: string) => join(dataDir, 'last-compactions.json');

/**
 * Written by a compaction for its domain: the copy starts its transaction
 * ids again from 1, so the start-up check must not take it for a file rolled
 * back to before the newest backup. The mark names the file (its inode) and
 * its first transaction id: a file replaced since has another inode.
 */
export interface CompactionMark {
  at: number;
  ino: number;
  txnid: number;
}

/** Replaces `file` with `value` as JSON: a mark cut short (a full disk) would read as none, so it is written beside it and renamed over it. */
function writeJsonWhole(file: string, value: unknown): void {
  writeFileSync(`${file}.tmp`, `${JSON.stringify(value, null, 2)}\n`);
  renameSync(`${file}.tmp`, file);
}

export function readRestoreMark(dataDir: string): RestoreMark | null {
  try {
    return JSON.parse(readFileSync(restoreMarkFile(dataDir), 'utf8')) as RestoreMark;
  } catch {
    return null;
  }
}

export function readCompactionMarks(dataDir: string): Record<string, CompactionMark> {
  try {
    return JSON.parse(readFileSync(compactionMarkFile(dataDir), 'utf8')) as Record<string, CompactionMark>;
  } catch {
    return {};
  }
}

export function writeCompactionMark(dataDir: string, domain: string, mark: CompactionMark): void {
  writeJsonWhole(compactionMarkFile(dataDir), { ...readCompactionMarks(dataDir), [domain]: mark });
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
  writeJsonWhole(restoreMarkFile(dataDir), mark);
}
