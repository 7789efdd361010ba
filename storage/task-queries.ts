import type { TaskFigures, TaskFilter, TaskPage, TaskStats } from '../shared/domains/tasks.js';
import type { Task } from '../shared/schemas/tasks.js';
import { count, type Db, decodeCursor, encodeCursor, PAGE_MAX } from './env.js';

/** a filtered page reads at most this many records per asked one before it returns what it has, with a cursor */
const SCAN_FACTOR = 20;

/**
 * Read-only views of the task table for the HTTP routes and the dashboard.
 * Every list is a page (at most PAGE_MAX) read from an index in key order,
 * and the stats come from the counts kept in each transition's transaction:
 * no request scans the whole table.
 */
export class TaskQueries {
  constructor(private readonly db: { tasks: Db; queue: Db; byAgent: Db; dead: Db; done: Db; due: Db; counts: Db }) {}

  private matches(t: Task, f: TaskFilter): boolean {
    return (
      (f.status === undefined ? t.status !== 'dead_letter' : t.status === f.status) &&
      (f.id === undefined || t.id.startsWith(f.id)) &&
      (f.priority === undefined || t.priority === f.priority) &&
      (f.assigned_to === undefined || t.assigned_to === f.assigned_to) &&
      (f.goal_id === undefined || t.goal_id === f.goal_id) &&
      (f.submitted_by === undefined || t.submitted_by === f.submitted_by) &&
      (f.capability === undefined || t.needed_capabilities.includes(f.capability))
    );
  }

  /** The index a list reads: the state's own, else the task table (by id, so by age; an id prefix narrows it). */
  private indexFor(f: TaskFilter): Db {
    if (f.id !== undefined) return this.db.tasks;
    const byState: Record<string, Db> = {
      scheduled: this.db.due,
      queued: this.db.queue,
      assigned: this.db.byAgent,
      completed: this.db.done,
      dead_letter: this.db.dead,
    };
    return (f.status && byState[f.status]) || this.db.tasks;
  }

  /**
   * One page of tasks: scheduled ones by due time, queued ones in lane
   * order (priority, then age), assigned ones by agent, completed ones and
   * dead letters by when they got there, an id prefix or an unfiltered list
   * (dead letters excluded) by age; `newest` reverses the unfiltered list.
   */
  list(f: TaskFilter): TaskPage {
    const limit = Math.min(Math.max(f.limit ?? PAGE_MAX, 1), PAGE_MAX);
    const index = this.indexFor(f);
    const after = decodeCursor(f.cursor, index);
    const idOf = (key: unknown) =>
      index === this.db.tasks ? (key as string) : ((key as unknown[])[(key as unknown[]).length - 1] as string);
    const reverse = f.newest === true && index === this.db.tasks;
    const range: Record<string, unknown> = { reverse };
    if (f.id !== undefined)
      Object.assign(range, reverse ? { start: `${f.id}\uffff`, end: f.id } : { start: f.id, end: `${f.id}\uffff` });
    if (after !== undefined) range.start = after;
    const tasks: Task[] = [];
    let read = 0;
    let last: unknown;
    for (const key of index.getKeys(range as never)) {
      if (after !== undefined && JSON.stringify(key) === JSON.stringify(after)) continue;
      last = key;
      if (++read > limit * SCAN_FACTOR) return { tasks, cursor: encodeCursor(key) };
      const t = this.db.tasks.get(idOf(key)) as Task | undefined;
      if (!t || !this.matches(t, f)) continue;
      tasks.push(t);
      if (tasks.length === limit) return { tasks, cursor: encodeCursor(last) };
    }
    return { tasks, cursor: null };
  }

  /** The stats body: `f` reshaped (dead letters beside the states), with the queued per lane and the queue index's size. */
  stats(f: TaskFigures): TaskStats {
    const n = (k: unknown) => (this.db.counts.get(k as never) as number | undefined) ?? 0;
    const by_priority: Record<string, number> = {};
    for (const p of [0, 1, 2, 3]) if (n(['lane', p]) > 0) by_priority[String(p)] = n(['lane', p]);
    const { dead_letter, ...by_status } = f.by_status;
    return {
      by_status,
      by_priority,
      dead_letter,
      queued_index_size: count(this.db.queue),
      dependency_failed: f.dependency_failed,
      paused: f.paused,
      removed: f.removed,
    };
  }
}
