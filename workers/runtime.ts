import { renameSync, rmSync, statSync } from 'node:fs';
import type { RootDatabase } from 'lmdb';
import { ErrorCode, toWireError, type WireError } from '../shared/errors.js';
import { countsOf, type DomainBackup, snapshot } from '../storage/backup.js';
import { stageFile, swapFile, unstageFile } from '../storage/restore.js';
import { type EnvSpace, spaceOf } from '../storage/space.js';

/** A domain operation: a plain synchronous function over the domain's store. */
export type Op<S> = (store: S, args: any, now: number) => unknown;
export type OpTable<S> = Record<string, Op<S>>;

export interface BatchItem {
  op: string;
  args: unknown;
}
export interface Batch {
  items: BatchItem[];
  now: number;
  /** last batch of a shutdown: flush and close the environment */
  close?: boolean;
}

/** Not a batch: a snapshot of the environment to `target`, run beside the batches. */
export interface BackupTask {
  backup: { target: string };
}

/** Not a batch: copy-and-swap compaction; main sends it only while this domain's batches are paused. */
export interface CompactTask {
  compact: true;
}

/** Not a batch: how much of the environment's file is free pages (never during a compaction). */
export interface SpaceTask {
  space: true;
}

/** Not a batch: entries per named database, as a backup's manifest counts them. */
export interface CountsTask {
  counts: true;
}

/**
 * Not a batch: the steps of an online restore. `stage` copies the backup's
 * file beside the live one and checks it (batches go on); `swap` closes the
 * environment, puts the staged file in place (the old one moves to `aside`)
 * and reopens; `undo` puts the old file back; `unstage` drops a staged copy.
 * Main sends swap and undo only while this domain's batches are paused.
 */
export type RestoreTask =
  | { restore: 'stage'; source: string; sha256: string }
  | { restore: 'swap'; aside: string }
  | { restore: 'undo' }
  | { restore: 'unstage' };

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

/** An open environment and the domain store over it; reopened after a compaction swap. */
export interface Opened<S> {
  root: RootDatabase;
  store: S;
  path: string;
}

export interface DomainInfo<S> {
  domain: string;
  /** the environment's named databases, counted in a backup's manifest */
  names: readonly string[];
  /** per-batch work done once, inside the batch's transaction */
  endBatch?: (store: S) => void;
  /** after the last batch of a shutdown is flushed and the environment closed */
  closed?: (store: S) => void;
  /** an item's child transaction was rolled back: in-memory figures the op had moved are read again */
  aborted?: (store: S) => void;
}
export type ItemResult = { ok: true; value: unknown } | { ok: false; error: WireError };
export interface BatchResult {
  results: ItemResult[];
  /** set when the whole batch failed to commit */
  storageError?: string;
}

/**
 * Applies one batch as ONE write transaction and resolves only after the
 * commit is flushed to disk, so every ack built from the result is durable.
 * An item that throws a HubError fails alone (domain functions check before
 * they write); a failed commit fails the whole batch with storage_unavailable.
 * `endBatch` lets a store do per-batch work (caps, counters) once, in the
 * same transaction.
 */
export function batchHandler<S>(open: (prev?: S) => Opened<S>, ops: OpTable<S>, info: DomainInfo<S>) {
  const endBatch = info.endBatch;
  let cur = open();

  /**
   * Writes a compacted copy beside the live file, closes, swaps by atomic
   * rename, reopens, and checks that every database holds what the copy held.
   */
  async function compact(): Promise<CompactResult> {
    const tmp = `${cur.path}.compacting`;
    const before = statSync(cur.path).size;
    rmSync(tmp, { force: true });
    let closed = false;
    try {
      // main has paused this domain's writes: the live counts now are what the copy must hold
      const expected = countsOf(cur.root, info.names);
      await cur.root.backup(tmp, true);
      await cur.root.close();
      closed = true;
      renameSync(tmp, cur.path);
      cur = open(cur.store);
      const counts = countsOf(cur.root, info.names);
      const diff = info.names.filter((n) => counts[n] !== expected[n]);
      const result = {
        table: info.domain,
        bytes_before: before,
        bytes_after: statSync(cur.path).size,
        counts,
        live_counts: expected,
      };
      if (diff.length) return { ...result, status: 'failed', reason: `counts differ in ${diff.join(', ')}` };
      return { ...result, status: 'compacted' };
    } catch (err) {
      rmSync(tmp, { force: true });
      if (closed) cur = open(cur.store);
      const reason = err instanceof Error ? err.message : String(err);
      return { table: info.domain, status: 'failed', bytes_before: before, bytes_after: before, counts: {}, reason };
    }
  }

  let undoSwap: (() => void) | null = null;

  /** Closes the environment, runs `fn` on its files, and reopens it whatever happened. */
  async function reopenAround(fn: () => void): Promise<void> {
    await cur.root.close();
    try {
      fn();
    } finally {
      cur = open(cur.store);
    }
  }

  async function restore(task: RestoreTask): Promise<Record<string, number> | null> {
    switch (task.restore) {
      case 'stage':
        await stageFile(task.source, cur.path, task.sha256);
        return null;
      case 'unstage':
        unstageFile(cur.path);
        return null;
      case 'swap':
        await reopenAround(() => {
          undoSwap = swapFile(cur.path, task.aside);
        });
        return countsOf(cur.root, info.names);
      case 'undo':
        if (undoSwap) await reopenAround(undoSwap);
        undoSwap = null;
        return null;
    }
  }

  return async function run(
    task: Batch | BackupTask | CompactTask | SpaceTask | CountsTask | RestoreTask,
  ): Promise<BatchResult | DomainBackup | CompactResult | EnvSpace | Record<string, number> | null> {
    if ('backup' in task) return snapshot(cur.root, info.domain, task.backup.target, info.names);
    if ('compact' in task) return compact();
    if ('restore' in task) return restore(task);
    if ('space' in task) return spaceOf(cur.root, cur.path, info.names);
    if ('counts' in task) return countsOf(cur.root, info.names);
    const batch = task;
    const { root, store } = cur;
    if (batch.close) {
      await root.flushed;
      await root.close();
      info.closed?.(store);
      return { results: [] };
    }
    const results: ItemResult[] = new Array(batch.items.length);
    try {
      root.transactionSync(() => {
        let aborted = false;
        for (let i = 0; i < batch.items.length; i++) {
          const { op, args } = batch.items[i];
          const fn = ops[op];
          try {
            if (!fn) throw new Error(`unknown op ${op}`);
            // each item in its own child transaction: an op that throws after writing leaves nothing behind
            results[i] = { ok: true, value: root.childTransaction(() => fn(store, args, batch.now)) };
          } catch (err) {
            results[i] = { ok: false, error: toWireError(err) };
            aborted = true;
          }
        }
        if (aborted) info.aborted?.(store);
        endBatch?.(store);
      });
      await root.flushed;
    } catch (err) {
      const storageError = err instanceof Error ? err.message : String(err);
      const failed: ItemResult = { ok: false, error: { code: ErrorCode.storageUnavailable } };
      return { results: results.fill(failed), storageError };
    }
    return { results };
  };
}
