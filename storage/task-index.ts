import type { Task, TaskStatusT } from '../shared/schemas/tasks.js';
import type { Db } from './env.js';
import type { TaskChanges } from './task-changes.js';

export const TASK_DBS = [
  'tasks',
  'queue',
  'byAgent',
  'dead',
  'counts',
  'idem',
  'idemTime',
  'due',
  'done',
  'deps',
] as const;
export type TaskDb = (typeof TASK_DBS)[number];
export type TaskDbs = Record<TaskDb, Db>;

/** What the scheduler and the sweep need of a queued task, kept in the queue index so a scan decodes no task records. */
export interface QueueEntry {
  caps: string[];
  to: string | null;
  deps: string[];
  /** complete_by, for the deadline sweep */
  by?: number | null;
  /** the queue TTL applies (not a trivial task) */
  ttl?: boolean;
}

const HISTORY_MAX = 50;

/** A queued task's place in its lane: a delayed task's `run_at`, else its submit time. */
export const laneAt = (t: Task): number => t.run_at ?? t.created_at;
/** When a scheduled task is queued: the end of its back-off, else its `run_at`. */
export const dueAt = (t: Task): number => t.retry_at ?? t.run_at ?? t.created_at;

export const DEPENDENCY_FAILED = 'dependency_failed';
const depFailed = (t: Task) => t.last_error?.startsWith(DEPENDENCY_FAILED) === true;

/**
 * Every state's index and count, kept in the transition's own transaction:
 * scheduled tasks in `due` by due time, queued ones in `queue` by lane,
 * assigned ones in `byAgent`, completed ones in `done` and dead letters in
 * `dead` by the time they got there; `counts` holds the per-state counts
 * (and queued per lane, dead letters of failed dependencies, removals,
 * and how far a lane's drain has read `due`, so its steps do not read again
 * the other lanes' scheduled tasks it passed).
 * A task enters one state and leaves it before it enters the next.
 */
export class TaskIndex {
  constructor(
    readonly db: TaskDbs,
    readonly changes: TaskChanges,
  ) {}

  count(key: string | unknown[]): number {
    return (this.db.counts.get(key as never) as number | undefined) ?? 0;
  }

  bump(key: string | unknown[], delta: number): void {
    this.db.counts.putSync(key as never, this.count(key) + delta);
  }

  private counted(t: Task, delta: number): void {
    this.bump(t.status, delta);
    if (t.status === 'queued') this.bump(['lane', t.priority], delta);
    if (t.status === 'dead_letter' && depFailed(t)) this.bump(DEPENDENCY_FAILED, delta);
  }

  /** Puts the task into `status`: the state's index and its counts. */
  enter(t: Task, status: TaskStatusT): void {
    t.status = status;
    // a completed task keeps who did it; a waiting one is nobody's; a dead letter keeps when it was last assigned
    if (status === 'queued' || status === 'scheduled') t.assigned_at = null;
    if (status !== 'assigned' && status !== 'completed') t.assigned_to = null;
    if (status !== 'scheduled') t.retry_at = null;
    if (status === 'queued') {
      const entry: QueueEntry = {
        caps: t.needed_capabilities,
        to: t.assign_to,
        deps: t.depends_on,
        by: t.complete_by,
        ttl: t.complexity_tier !== 'trivial',
      };
      this.db.queue.putSync([t.priority, laneAt(t), t.id], entry);
    } else if (status === 'scheduled') {
      this.db.due.putSync([dueAt(t), t.id], t.complete_by);
      // a lane drain's next step must not start past this one
      if (dueAt(t) < this.drainedTo(t.priority)) this.drainTo(t.priority, dueAt(t));
    } else if (status === 'assigned') this.db.byAgent.putSync([t.assigned_to, t.id], 1);
    else if (status === 'completed') this.db.done.putSync([t.updated_at, t.id], 1);
    else this.db.dead.putSync([t.updated_at, t.id], 1);
    this.counted(t, 1);
  }

  /** Takes the task out of its state's index and count; the caller puts it in the next one (or drops it). */
  leave(t: Task): void {
    if (t.status === 'queued') this.db.queue.removeSync([t.priority, laneAt(t), t.id]);
    else if (t.status === 'scheduled') this.db.due.removeSync([dueAt(t), t.id]);
    else if (t.status === 'assigned') {
      if (t.assigned_to) this.db.byAgent.removeSync([t.assigned_to, t.id]);
    } else if (t.status === 'completed') this.db.done.removeSync([t.updated_at, t.id]);
    else this.db.dead.removeSync([t.updated_at, t.id]);
    this.counted(t, -1);
  }

  /** Where a drain of `lane` reads `due` from: no scheduled task of the lane is due before it (0: from the start). */
  drainedTo(lane: number): number {
    return (this.db.counts.get(['drained', lane] as never) as number | undefined) ?? 0;
  }

  drainTo(lane: number, at: number): void {
    this.db.counts.putSync(['drained', lane], at);
  }

  get(id: string): Task | undefined {
    return this.db.tasks.get(id) as Task | undefined;
  }

  put(t: Task): void {
    this.db.tasks.putSync(t.id, t);
    this.changes.task(t);
  }

  /** Deletes the record of a task that has left its state. */
  drop(t: Task): void {
    this.db.tasks.removeSync(t.id);
    this.changes.removed(t.id);
  }

  log(t: Task, event: string, now: number, details: Record<string, unknown> = {}): void {
    t.history.unshift({ event, timestamp: now, details });
    if (t.history.length > HISTORY_MAX) t.history.length = HISTORY_MAX;
    t.updated_at = now;
  }
}
