/**
 * The maintenance worker's control plane (ARCHITECTURE.md: its own thread,
 * comlink): backups, retention, backup verification, storage sampling and
 * the copy step of compaction, all off the domain threads. It opens every
 * domain's environment alongside the domain workers (lmdb-js shares one
 * environment between the threads of a process); before a domain's file is
 * swapped it must `release` that environment and `reopen` it after.
 */
export interface DomainBackup {
  domain: string;
  file: string;
  bytes: number;
  sha256: string;
  /** entries per named database, counted in the copy itself */
  counts: Record<string, number>;
  /** the copy's last transaction id: a live file with a smaller one is older than this backup */
  txnid: number;
}

export interface BackupManifest {
  created_at: number;
  domains: DomainBackup[];
  failed: Array<{ domain: string; reason: string }>;
}

export interface EnvSpace {
  file_size_bytes: number;
  page_size: number;
  /** pages that hold a tree (every named database, the catalog, the freelist) or a meta page */
  pages_used: number;
  /** the file's pages */
  pages_total: number;
  /** free pages ÷ all pages: the share of the file a compaction would give back */
  fragmentation_ratio: number;
  reclaimable_bytes: number;
}

export interface MaintenanceApi {
  /** Snapshots every domain into `dir` (writers go on), counts and checksums each copy, writes `manifest.json` last. */
  backup(dir: string): Promise<BackupManifest>;
  /** Retention: keeps the newest `keep` complete backups (and the newest backup if partial); returns what went. */
  prune(keep: number): Promise<string[]>;
  /**
   * Every reason the backup at `dir` cannot be restored (a domain missing, a
   * checksum, then counts in a child process); when there is none, each
   * domain's copy is staged beside its live file and `backups` are their
   * manifest entries. Throws when a copy fails (nothing is left staged).
   */
  prepareRestore(dir: string): Promise<{ problems: string[]; backups: DomainBackup[] }>;
  unstageRestore(): Promise<void>;
  space(domain: string): Promise<EnvSpace>;
  /**
   * A compacted copy of the domain's environment at `copy`, made from a read
   * transaction; returns the live counts at that moment. Main pauses the
   * domain's writes first, so the copy holds everything.
   */
  compactCopy(domain: string, copy: string): Promise<Record<string, number>>;
  /** Closes this thread's handle on the domain's environment (before a swap) … */
  release(domain: string): Promise<void>;
  /** … and opens it again (after). */
  reopen(domain: string): Promise<void>;
  /** Closes every handle; the thread can then end. */
  close(): Promise<void>;
}
