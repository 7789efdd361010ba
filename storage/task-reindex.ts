import type { RootDatabase } from 'lmdb';
import type { Task } from '../shared/schemas/tasks.js';
import { all } from './env.js';
import type { TaskDeps } from './task-deps.js';
import { DEPENDENCY_FAILED, type TaskIndex } from './task-index.js';

/** Set once every state index, count and the dependency index match the records (older stores are rebuilt once). */
const INDEXED = 'indexed-v2';

type Fail = (t: Task, reason: string, details: Record<string, unknown>, now: number) => void;

/** Rebuilds the indexes of a store written before they all existed, once; an indexed store (every other start) is only read. */
export function reindexTasks(root: RootDatabase, ix: TaskIndex, deps: TaskDeps, fail: Fail): void {
  if (!ix.db.counts.doesExist(INDEXED)) root.transactionSync(() => rebuild(ix, deps, fail));
}

/**
 * Every state's index and count from the records, and the dependency index
 * from the waiting tasks. A waiting task whose dependency is a dead letter,
 * or was cancelled (gone: older stores never removed finished tasks), fails
 * as `dependency_failed` now instead of waiting forever.
 */
function rebuild(ix: TaskIndex, deps: TaskDeps, fail: Fail): void {
  const { db } = ix;
  for (const d of [db.queue, db.byAgent, db.dead, db.done, db.due, db.deps, db.counts]) {
    for (const k of all(d.getKeys({}))) d.removeSync(k);
  }
  const waiting: string[] = [];
  for (const { value } of db.tasks.getRange({})) {
    const t = value as Task;
    ix.enter(t, t.status);
    if ((t.status === 'queued' || t.status === 'scheduled') && t.depends_on.length) waiting.push(t.id);
  }
  const now = Date.now();
  for (const id of waiting) {
    // re-read: an earlier one's failure may have reached this one through the index already
    const t = ix.get(id);
    if (t?.status !== 'queued' && t?.status !== 'scheduled') continue;
    const lost = deps.firstLost(t.depends_on);
    if (!lost) {
      deps.track(t);
      continue;
    }
    const { dependency } = lost;
    const cause = lost.why === 'unknown' ? 'cancelled' : 'dead_letter';
    ix.leave(t);
    fail(t, `${DEPENDENCY_FAILED}: ${dependency} ${cause}`, { dependency, cause }, now);
  }
  db.counts.putSync(INDEXED, 1);
}
