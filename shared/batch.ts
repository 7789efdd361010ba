import type { WireError } from './errors.js';

/**
 * What crosses the thread boundary between main's batchers and the domain
 * workers (piscina). Main and workers both import this module; neither
 * imports the other.
 */
export interface BatchItem {
  op: string;
  args: unknown;
}

/** One piscina task: items applied in one LMDB write transaction, answered after the commit is flushed. */
export interface Batch {
  items: BatchItem[];
  now: number;
  /** last batch of a shutdown: flush and close the environment */
  close?: boolean;
  /** main watches this domain (the live dashboard): the report carries what changed */
  live?: boolean;
}

export type ItemResult = { ok: true; value: unknown } | { ok: false; error: WireError };

export interface BatchResult {
  results: ItemResult[];
  /** set when the whole batch failed to commit */
  storageError?: string;
  /** the domain's figures after the batch (and its changes while `live`), when it reports any */
  report?: unknown;
}

/**
 * Not a batch: a step that swaps the environment's file while main has this
 * domain's batches paused. The worker closes its environment, renames, and
 * reopens it; it answers with the reopened environment's record counts.
 * `compact`: the compacted copy at `copy` replaces the live file; `restore`:
 * the staged backup copy does. Either way the live file moves into `aside`
 * until main has checked the reopened copy. `undo`: the last swap is put back.
 */
export type SwapTask =
  | { swap: 'compact'; copy: string; aside: string }
  | { swap: 'restore'; aside: string }
  | { swap: 'undo' };

export type SwapResult =
  | {
      ok: true;
      counts: Record<string, number>;
      bytes: number;
      /** the reopened file's last transaction */
      txnid: number;
    }
  | { ok: false; reason: string };

/** Every domain worker's `workerData`; `caps` is the domain's own. */
export interface DomainWorkerData<C = undefined> {
  dataDir: string;
  caps: C;
}
