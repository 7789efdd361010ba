import { existsSync, statSync } from 'node:fs';
import type { RootDatabase } from 'lmdb';
import type { Batch, BatchResult, ItemResult, SwapResult, SwapTask } from '../shared/batch.js';
import { ErrorCode, toWireError } from '../shared/errors.js';
import { countsOf } from '../storage/backup.js';
import { lastTxnId } from '../storage/env.js';
import { swapFile } from '../storage/restore.js';

/** A domain operation: a plain synchronous function over the domain's store. */
export type Op<S> = (store: S, args: any, now: number) => unknown;
export type OpTable<S> = { [op: string]: Op<S> };

/** An open environment and the domain store over it; reopened after a swap. */
export interface Opened<S> {
  root: RootDatabase;
  store: S;
  path: string;
}

export interface DomainInfo<S> {
  /** the environment's named databases */
  names: readonly string[];
  /** per-batch work done once, inside the batch's transaction */
  endBatch?: (store: S) => void;
  /** after the last batch of a shutdown is flushed and the environment closed */
  closed?: (store: S) => void;
  /** a rollback (of the batch's first attempt, or of an item's child transaction): in-memory figures the ops had moved are read again */
  aborted?: (store: S) => void;
  /** the store's change log for main's live views: recording only while main watches, rolled back with what it recorded */
  changes?: (store: S) => { live: boolean; mark(): number; rollback(to: number): void };
  /** read at the end of each batch, inside its transaction, and sent with the results (`BatchResult.report`) */
  report?: (store: S) => unknown;
}

/** Ends the first, unisolated attempt at a batch when one of its items throws: the attempt is run again isolated from `index` on. */
class Isolate extends Error {
  constructor(readonly index: number) {
    super(`item ${index} threw`);
  }
}

/**
 * A domain worker's piscina entry. A batch is applied as ONE write
 * transaction and answered only after the commit is flushed to disk, so
 * every ack built from the result is durable. An item that throws fails
 * alone and leaves nothing behind: the batch is then applied again, from
 * that item on with each item in its own child transaction (deterministic
 * ops fail the same way twice). A failed commit fails the whole batch with
 * storage_unavailable, and what the ops moved in memory is undone.
 * `endBatch` lets a store do per-batch work (caps, counters) once, in the
 * same transaction. A swap task replaces the environment's file while main
 * has the batches paused (compaction, restore).
 */
export function batchHandler<S>(open: (prev?: S) => Opened<S>, ops: OpTable<S>, info: DomainInfo<S>) {
  const endBatch = info.endBatch;
  let cur = open();
  /** puts the file the last compact or restore swap replaced back */
  let undoSwap: (() => void) | null = null;

  /** Closes the environment, swaps its file as `task` says, and reopens it (unless a failed swap left no file). */
  async function swap(task: SwapTask): Promise<SwapResult> {
    await cur.root.close();
    // an undo only ever puts back the swap just before it
    const undo = undoSwap;
    undoSwap = null;
    let failure: string | null = null;
    try {
      if (task.swap === 'compact') undoSwap = swapFile(cur.path, task.aside, task.copy);
      else if (task.swap === 'restore') undoSwap = swapFile(cur.path, task.aside);
      else undo?.();
    } catch (err) {
      failure = err instanceof Error ? err.message : String(err);
    }
    // a failed swap whose put-back failed too leaves no file: opening would create an empty one and serve it,
    // so the batches fail instead; so after an undo with nothing to undo (an undo that leaves none put back a
    // domain that had no file: that one opens empty)
    const moved = failure === null && (task.swap !== 'undo' || undo !== null);
    if (moved || existsSync(cur.path)) {
      try {
        cur = open(cur.store);
      } catch (err) {
        // the file swapped in does not open: the original goes back and is opened instead (a throw here leaves it aside)
        const back = undoSwap;
        undoSwap = null;
        if (!back) throw err;
        failure = `reopening the swapped-in file: ${err instanceof Error ? err.message : String(err)}`;
        back();
        cur = open(cur.store);
      }
    }
    if (failure !== null) return { ok: false, reason: failure };
    const txnid = lastTxnId(cur.root);
    return { ok: true, counts: countsOf(cur.root, info.names), bytes: statSync(cur.path).size, txnid };
  }

  async function apply(batch: Batch): Promise<BatchResult> {
    const { root, store } = cur;
    if (batch.close) {
      await root.flushed;
      await root.close();
      info.closed?.(store);
      return { results: [] };
    }
    // filled in order from 0: a packed array clones back to main far cheaper than a holey one
    const results: ItemResult[] = [];
    const log = info.changes?.(store);
    if (log) log.live = batch.live === true;
    const start = log?.mark() ?? 0;
    let report: unknown;
    /**
     * The batch's transaction body: the items from `isolateFrom` on run each
     * in a child transaction, so one that throws fails alone; one before it
     * that throws ends the attempt (`Isolate`, with its index).
     */
    const body = (isolateFrom: number) => () => {
      let aborted = false;
      for (let i = 0; i < batch.items.length; i++) {
        const { op, args } = batch.items[i];
        const fn = ops[op];
        const mark = log?.mark() ?? 0;
        try {
          if (!fn) throw new Error(`unknown op ${op}`);
          const apply = () => fn(store, args, batch.now);
          results[i] = { ok: true, value: i >= isolateFrom ? root.childTransaction(apply) : apply() };
        } catch (err) {
          if (i < isolateFrom) throw new Isolate(i);
          results[i] = { ok: false, error: toWireError(err) };
          log?.rollback(mark);
          aborted = true;
        }
      }
      if (aborted) info.aborted?.(store);
      endBatch?.(store);
      report = info.report?.(store);
    };
    /** Undoes in memory what a rolled-back transaction's ops did. */
    const rolledBack = () => {
      log?.rollback(start);
      info.aborted?.(store);
    };
    try {
      // a child transaction per item costs about a tenth of the batch, and an item rarely throws: so first all in one
      for (let from = batch.items.length; ; ) {
        try {
          root.transactionSync(body(from));
          break;
        } catch (err) {
          if (!(err instanceof Isolate)) throw err;
          // the items before the one that threw ran clean and run so again; from it on, each alone
          rolledBack();
          from = err.index;
        }
      }
      await root.flushed;
    } catch (err) {
      let storageError = err instanceof Error ? err.message : String(err);
      try {
        rolledBack();
      } catch (thrown) {
        // the store could not read itself back: main hears of that with the failed commit
        storageError += `; the in-memory rollback failed too: ${thrown instanceof Error ? thrown.message : thrown}`;
      }
      const failed: ItemResult = { ok: false, error: { code: ErrorCode.storageUnavailable } };
      // every item, whatever the failed attempt had reached
      return { results: batch.items.map(() => failed), storageError };
    }
    return report === undefined ? { results } : { results, report };
  }

  return (task: Batch | SwapTask): Promise<BatchResult | SwapResult> => ('swap' in task ? swap(task) : apply(task));
}
