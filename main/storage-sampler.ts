import { statSync } from 'node:fs';
import { join } from 'node:path';
import { lastBackupAt } from './backup.js';
import type { Hub } from './context.js';

interface TableHealth {
  table: string;
  record_count: number;
  file_size_bytes: number;
  fragmentation_ratio: number;
  status: string;
}

/**
 * Every 10 s: asks each domain worker for its record counts (a read in the
 * next batch), stats the environment files, and samples the task queue depth
 * for `/api/metrics`. The main thread never opens LMDB; it only reads sizes.
 */
export class StorageSampler {
  private tables: TableHealth[] = [];
  private readonly timer: NodeJS.Timeout;

  constructor(
    private readonly hub: Hub,
    private readonly dataDir: string,
  ) {
    this.timer = setInterval(() => this.sample(), 10_000).unref();
  }

  stop(): void {
    clearInterval(this.timer);
  }

  async sample(): Promise<void> {
    const tables: TableHealth[] = [];
    for (const d of this.hub.domains()) {
      let size = 0;
      try {
        size = statSync(join(this.dataDir, d.name, `${d.name}.mdb`)).size;
      } catch {}
      let counts: Record<string, number> = {};
      try {
        counts = ((await d.call('health', {})) as { counts: Record<string, number> }).counts;
      } catch {}
      if (d.name === 'tasks') this.hub.metrics.sampleQueue(counts.queued ?? 0, Date.now());
      for (const [table, n] of Object.entries(counts)) {
        tables.push({
          table: `${d.name}.${table}`,
          record_count: n,
          file_size_bytes: size,
          fragmentation_ratio: 0,
          status: d.stats.state === 'ready' ? 'healthy' : 'unhealthy',
        });
      }
    }
    this.tables = tables;
  }

  /** The §3.5 storage-health shape; a backup older than 48 h (or none) is stale. */
  report(): Record<string, unknown> {
    const unhealthy = this.hub.domains().some((d) => d.stats.state !== 'ready');
    const last = lastBackupAt(this.dataDir);
    const stale = last === null || Date.now() - last > 48 * 3600_000;
    return {
      health_status: unhealthy ? 'unhealthy' : stale ? 'warning' : 'healthy',
      stale_backup: stale,
      high_fragmentation: false,
      last_backup_at: last,
      tables: this.tables,
    };
  }
}
