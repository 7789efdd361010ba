import type { RootDatabase } from 'lmdb';
import { ErrorCode, toWireError, type WireError } from '../shared/errors.js';
import { type DomainBackup, snapshot } from '../storage/backup.js';

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

export interface DomainInfo<S> {
  domain: string;
  /** the environment's named databases, counted in a backup's manifest */
  names: readonly string[];
  /** per-batch work done once, inside the batch's transaction */
  endBatch?: (store: S) => void;
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
export function batchHandler<S>(root: RootDatabase, store: S, ops: OpTable<S>, info: DomainInfo<S>) {
  const endBatch = info.endBatch;
  return async function run(task: Batch | BackupTask): Promise<BatchResult | DomainBackup> {
    if ('backup' in task) return snapshot(root, info.domain, task.backup.target, info.names);
    const batch = task;
    if (batch.close) {
      await root.flushed;
      await root.close();
      return { results: [] };
    }
    const results: ItemResult[] = new Array(batch.items.length);
    try {
      // async: the commit queues in call order, and with lmdb's overlappingSync the
      // next batch's transaction runs while this one's fsync completes
      root.transactionSync(() => {
        for (let i = 0; i < batch.items.length; i++) {
          const { op, args } = batch.items[i];
          const fn = ops[op];
          try {
            if (!fn) throw new Error(`unknown op ${op}`);
            results[i] = { ok: true, value: fn(store, args, batch.now) };
          } catch (err) {
            results[i] = { ok: false, error: toWireError(err) };
          }
        }
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
