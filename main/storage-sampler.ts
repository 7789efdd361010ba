import { newestBackup } from '../shared/backups.js';
import type { DomainStats } from '../shared/domains/domain.js';
import type { EnvSpace } from '../shared/maintenance.js';
import type { MaintenanceClient } from './maintenance.js';

export interface SamplerDeps {
  domains: ReadonlyArray<{ name: string; stats: DomainStats }>;
  /** a domain's record counts, as its `health` op gives them */
  counts: (domain: string) => Promise<Record<string, number>>;
  maintenance: MaintenanceClient;
  dataDir: string;
  compactMinBytes: number;
  /** the task queue depth, for /api/metrics */
  queueDepth: (depth: number, now: number) => void;
  /** after each sample (the live dashboard) */
  sampled?: () => void;
}

/** One domain's file as last sampled. */
export interface DomainSpace {
  domain: string;
  file_size_bytes: number;
  fragmentation_ratio: number;
  reclaimable_bytes: number;
}

interface TableHealth {
  table: string;
  record_count: number;
  file_size_bytes: number;
  fragmentation_ratio: number;
  status: string;
}

/** §3.5: a domain this fragmented makes storage health report `high_fragmentation`. */
const HIGH_FRAGMENTATION = 0.5;

/**
 * Every 10 s (and on each storage-health request): asks each domain worker
 * for its record counts (a read in the next batch) and its environment's
 * page use, and samples the task queue depth for `/api/metrics`. The main
 * thread never opens LMDB.
 */
export class StorageSampler {
  private tables: TableHealth[] = [];
  private domainSpaces: DomainSpace[] = [];
  /** some domain is over HIGH_FRAGMENTATION with at least `compactMinBytes` to give back (a tiny file's free pages are no news) */
  private fragmented = false;
  private pending: Promise<number> | null = null;
  /** the newest complete backup on disk; undefined = read it again at the next question */
  private newest: { at: number; bytes: number } | null | undefined;
  private readonly timer: NodeJS.Timeout;

  constructor(private readonly d: SamplerDeps) {
    this.timer = setInterval(() => this.sample(), 10_000).unref();
  }

  stop(): void {
    clearInterval(this.timer);
  }

  async sample(): Promise<void> {
    const queued = await this.measure();
    this.d.queueDepth(queued, Date.now());
    this.d.sampled?.();
  }

  /** Refreshes the table figures; returns the task queue depth. Callers during a measurement share it. */
  measure(): Promise<number> {
    this.pending ??= this.collect().finally(() => {
      this.pending = null;
    });
    return this.pending;
  }

  private async collect(): Promise<number> {
    const tables: TableHealth[] = [];
    const spaces: DomainSpace[] = [];
    let queued = 0;
    let fragmented = false;
    this.newest = undefined;
    for (const d of this.d.domains) {
      let counts: Record<string, number> = {};
      let space: Partial<EnvSpace> = {};
      try {
        counts = await this.d.counts(d.name);
        space = await this.d.maintenance.api.space(d.name);
      } catch {}
      if (d.name === 'tasks') queued = counts.queued ?? 0;
      const ratio = space.fragmentation_ratio ?? 0;
      spaces.push({
        domain: d.name,
        file_size_bytes: space.file_size_bytes ?? 0,
        fragmentation_ratio: ratio,
        reclaimable_bytes: space.reclaimable_bytes ?? 0,
      });
      if (ratio > HIGH_FRAGMENTATION && (space.reclaimable_bytes ?? 0) >= this.d.compactMinBytes) fragmented = true;
      for (const [table, n] of Object.entries(counts)) {
        tables.push({
          table: `${d.name}.${table}`,
          record_count: n,
          file_size_bytes: space.file_size_bytes ?? 0,
          fragmentation_ratio: ratio,
          status: d.stats.state === 'ready' ? 'healthy' : 'unhealthy',
        });
      }
    }
    this.tables = tables;
    this.domainSpaces = spaces;
    this.fragmented = fragmented;
    return queued;
  }

  /** Each domain's file as last sampled (every 10 s and on each storage-health request). */
  spaces(): DomainSpace[] {
    return this.domainSpaces;
  }

  /** The newest complete backup on disk: when it was taken and its bytes; read once per sample or backup change. */
  lastBackup(): { at: number; bytes: number } | null {
    if (this.newest === undefined) {
      const b = newestBackup(this.d.dataDir);
      this.newest = b && { at: b.manifest.created_at, bytes: b.manifest.domains.reduce((n, x) => n + x.bytes, 0) };
    }
    return this.newest;
  }

  /** A backup was taken, pruned or restored: the next question reads the backups folder again. */
  backupsChanged(): void {
    this.newest = undefined;
  }

  /** The §3.5 storage-health shape; a backup older than 48 h (or none) is stale, a domain over 0.5 fragmented (and worth compacting) is high. */
  report(): Record<string, unknown> {
    const unhealthy = this.d.domains.some((d) => d.stats.state !== 'ready');
    const last = this.lastBackup()?.at ?? null;
    const stale = last === null || Date.now() - last > 48 * 3600_000;
    return {
      health_status: unhealthy ? 'unhealthy' : stale || this.fragmented ? 'warning' : 'healthy',
      stale_backup: stale,
      high_fragmentation: this.fragmented,
      last_backup_at: last,
      tables: this.tables,
    };
  }
}
