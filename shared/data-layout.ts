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
/** which backup the data was last restored from (shared/data-marks.ts) */
export const restoreMarkFile = (dataDir: string) => join(dataDir, 'last-restore.json');
/** which file each domain's last compaction left (shared/data-marks.ts) */
export const compactionMarkFile = (dataDir: string) => join(dataDir, 'last-compactions.json');
/** where a restore or a compaction moves the files it replaces, so it can be undone */
export const replacedDir = (dataDir: string, at: number) =>
  join(dataDir, 'replaced', new Date(at).toISOString().replace(/[:.]/g, '-'));
/** Where a swap keeps the original of `live` in its `replacedDir`. */
export const keptFile = (aside: string, live: string) => join(aside, basename(live));
