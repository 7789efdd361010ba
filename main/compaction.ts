import { existsSync, rmSync, statSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { envFile, keptFile, replacedDir } from '../shared/data-layout.js';
import { writeCompactionMark } from '../shared/data-marks.js';
import type { Batcher } from './batcher.js';
import type { Logger } from './log.js';
import type { MaintenanceClient } from './maintenance.js';

export interface CompactResult {
  table: string;
  status: 'compacted' | 'failed';
  bytes_before: number;
  bytes_after: number;
  /** the reopened copy's records per database */
  counts: Record<string, number>;
  /** the live environment's, taken while its writes were paused: what the copy must hold */
  live_counts?: Record<string, number>;
  reason?: string;
}

/** Told of every compaction's outcome (the Prometheus counters). */
export type CompactionObserver = (r: CompactResult & { paused_ms: number }) => void;

/**
 * Copy-and-swap compaction of one domain (§3.5): its writes pause (requests
 * wait in its queue) while the maintenance thread writes a compacted copy
 * and counts the live databases, then the domain worker closes, swaps by
 * atomic rename (the original set aside) and reopens, and the copy's counts
 * are checked against the live ones: the original is deleted when they
 * match and put back when not; then the queue drains. Other domains never
 * pause.
 */
export function compactDomain(
  d: Batcher<any>,
  dataDir: string,
  maintenance: MaintenanceClient,
  log: Logger,
  observe?: CompactionObserver,
): Promise<CompactResult & { paused_ms: number }> {
  return maintenance.exclusive(async () => {
    const m = maintenance.api;
    const file = envFile(dataDir, d.name);
    const copy = `${file}.compacting`;
    const aside = replacedDir(dataDir, Date.now());
    const started = performance.now();
    await d.pause();
    let before = 0;
    const failed = (reason: string, counts: Record<string, number> = {}): CompactResult => ({
      table: d.name,
      status: 'failed',
      bytes_before: before,
      bytes_after: before,
      counts,
      reason,
    });
    // while the original is out of its place it is here, and it comes back unless the copy checks out
    const kept = keptFile(aside, file);
    let result: CompactResult;
    try {
      // inside the try: a domain the maintenance thread cannot read fails here and resumes
      before = (await m.space(d.name)).file_size_bytes;
      const live = await m.compactCopy(d.name, copy);
      await m.release(d.name);
      const swapped = await d.swap({ swap: 'compact', copy, aside });
      if (!swapped.ok) result = { ...failed(swapped.reason), live_counts: live };
      else {
        const diff = Object.keys(live).filter((n) => swapped.counts[n] !== live[n]);
        result = diff.length
          ? // a copy that lost records is never kept
            { ...failed(`counts differ in ${diff.join(', ')}`, swapped.counts), live_counts: live }
          : {
              table: d.name,
              status: 'compacted',
              bytes_before: before,
              bytes_after: swapped.bytes,
              counts: swapped.counts,
              live_counts: live,
            };
        if (result.status === 'compacted') markCompacted(dataDir, d.name, file, swapped.txnid, log);
      }
    } catch (err) {
      result = failed(String(err));
    }
    // whatever failed, and however far it got: the original goes back if it is still aside
    let keepAside = false;
    if (result.status === 'failed' && existsSync(kept)) {
      const undone = await d
        .swap({ swap: 'undo' })
        .catch((err: Error) => ({ ok: false as const, reason: err.message }));
      keepAside = existsSync(kept);
      result.reason += undone.ok && !keepAside ? '; the original file was put back' : '';
      if (keepAside)
        result.reason += `; putting the original back failed (${undone.ok ? 'it is still aside' : undone.reason})`;
    }
    try {
      rmSync(copy, { force: true });
      await m.reopen(d.name).catch((err) => log.error({ err, domain: d.name }, 'maintenance could not reopen'));
    } finally {
      // a paused domain would hold its queue forever
      d.resume();
    }
    const paused_ms = Math.round(performance.now() - started);
    if (keepAside) result.reason = `${result.reason}; the original file is in ${aside}`;
    // off the event loop and after the resume: unlinking a large file takes a while
    else
      await rm(aside, { recursive: true, force: true }).catch((err) =>
        log.warn({ err, domain: d.name, aside }, 'the file a compaction replaced could not be deleted'),
      );
    log[result.status === 'compacted' ? 'info' : 'error'](
      { domain: d.name, ...result, counts: undefined, live_counts: undefined, paused_ms },
      'domain compacted',
    );
    observe?.({ ...result, paused_ms });
    return { ...result, paused_ms };
  });
}

/**
 * Names the compacted file for the start-up check (its txnids start again
 * from 1). Only advice: a compaction that checked out is kept when the mark
 * cannot be written, and the next start may warn of a rollback.
 */
function markCompacted(dataDir: string, domain: string, file: string, txnid: number, log: Logger): void {
  try {
    const { dev, ino } = statSync(file);
    writeCompactionMark(dataDir, domain, { at: Date.now(), dev, ino, txnid });
  } catch (err) {
    log.warn({ err, domain }, 'compaction mark not written: the next start may take the compacted file for a rollback');
  }
}

/**
 * The scheduled compaction: every domain whose file is at least
 * `minFragmentation` free pages, and has at least `minBytes` to give back, is
 * compacted in turn. A domain below either line is left alone, so a small or
 * tidy file is never copied for nothing.
 */
export async function compactFragmented(
  domains: ReadonlyArray<Batcher<any>>,
  dataDir: string,
  maintenance: MaintenanceClient,
  limits: { minFragmentation: number; minBytes: number },
  log: Logger,
  observe?: CompactionObserver,
): Promise<void> {
  for (const d of domains) {
    const space = await maintenance.api.space(d.name);
    if (space.fragmentation_ratio < limits.minFragmentation || space.reclaimable_bytes < limits.minBytes) continue;
    log.info(
      { domain: d.name, fragmentation_ratio: space.fragmentation_ratio, reclaimable_bytes: space.reclaimable_bytes },
      'scheduled compaction',
    );
    await compactDomain(d, dataDir, maintenance, log, observe);
  }
}
