import type { BulkStep, DeadSelection } from '../shared/domains/tasks.js';
import { ErrorCode, HubError } from '../shared/errors.js';
import type { TaskStore } from './tasks.js';

/** Tasks one step of a bulk action handles; main runs steps until `more` is false, each its own batch item. */
const STEP = 500;

/** The ids a step takes: the given ones (at most 1,000, checked at the edge), or dead letters by death time. */
function deadIds(s: TaskStore, sel: DeadSelection): { ids: string[]; more: boolean } {
  if ('ids' in sel) return { ids: sel.ids, more: false };
  const range = { end: [sel.before + 1], offset: sel.skip, limit: STEP + 1 };
  const keys = [...s.ix.db.dead.getKeys(range as never)] as Array<[number, string]>;
  return { ids: keys.slice(0, STEP).map((k) => k[1]), more: keys.length > STEP };
}

/** Runs `fn` per id (false: nothing to do); a HubError (not a dead letter, a failed dependency) is reported, not thrown. */
function each(ids: string[], more: boolean, fn: (id: string) => boolean): BulkStep {
  const step: BulkStep = { done: [], failed: [], more };
  for (const id of ids) {
    try {
      if (fn(id)) step.done.push(id);
    } catch (err) {
      if (!(err instanceof HubError)) throw err;
      step.failed.push({ task_id: id, error: err.code });
    }
  }
  return step;
}

/** Dead letters back to their lanes (as the admin), oldest death first. */
export function retryDead(s: TaskStore, sel: DeadSelection, now: number): BulkStep {
  const { ids, more } = deadIds(s, sel);
  return each(ids, more, (id) => s.retry(id, null, now) !== null);
}

/** Dead letters deleted (BullMQ's clean of failed jobs). */
export function cleanDead(s: TaskStore, sel: DeadSelection, now: number): BulkStep {
  const { ids, more } = deadIds(s, sel);
  return each(ids, more, (id) => {
    if (s.get(id).status !== 'dead_letter') throw new HubError(ErrorCode.taskNotFound, { task_id: id });
    return s.cancel(id, null, now).task !== null;
  });
}

/**
 * Up to `max` scheduled task ids of `lane` (null: every lane), by due time.
 * A lane's read passes the other lanes' tasks, which stay: it starts where
 * the previous step stopped (TaskIndex.drainedTo), so a drain reads each of
 * them once, not once per step.
 */
function scheduledIds(s: TaskStore, lane: number | null, max: number): string[] {
  const due = s.ix.db.due;
  if (lane === null) return [...due.getKeys({ limit: max })].map((k) => (k as [number, string])[1]);
  const ids: string[] = [];
  for (const key of due.getKeys({ start: [s.ix.drainedTo(lane)] })) {
    const [at, id] = key as [number, string];
    if (s.find(id)?.priority !== lane) continue;
    ids.push(id);
    // the last one stays for the next step (the caller takes one fewer): everything of the lane before it goes in this one
    if (ids.length === max) {
      s.ix.drainTo(lane, at);
      break;
    }
  }
  return ids;
}

/**
 * BullMQ's drain: waiting tasks (queued, and with `scheduled` the scheduled
 * ones too) of one lane or every lane are deleted; running ones stay.
 * Dependents elsewhere fail as they do for a cancel.
 */
export function drain(s: TaskStore, a: { lane: number | null; scheduled: boolean }, now: number): BulkStep {
  const lane = a.lane;
  const range = lane === null ? { limit: STEP + 1 } : { start: [lane], end: [lane + 1], limit: STEP + 1 };
  const ids = [...s.ix.db.queue.getKeys(range)].map((k) => (k as [number, number, string])[2]);
  if (a.scheduled && ids.length <= STEP) ids.push(...scheduledIds(s, lane, STEP + 1 - ids.length));
  // a dependent earlier in this step may have failed already: only what still waits is drained
  return each(ids.slice(0, STEP), ids.length > STEP, (id) => {
    const status = s.find(id)?.status;
    if (status !== 'queued' && status !== 'scheduled') return false;
    s.cancel(id, null, now, 'drained');
    return true;
  });
}
