import { type Task, type TaskRow, taskRow } from '../shared/schemas/tasks.js';

/** A task that changed (its row) or went away (`removed`). */
export type TaskChange = TaskRow | { id: string; removed: true };

/**
 * What the batch's transitions did to tasks, for the live dashboard: kept
 * only while main asks (`live`), so a hub nobody watches records nothing. An
 * item that fails is rolled back to its mark; main gets each task's last
 * change once per batch.
 */
export class TaskChanges {
  live = false;
  private log: TaskChange[] = [];

  task(t: Task): void {
    if (this.live) this.log.push(taskRow(t));
  }

  removed(id: string): void {
    if (this.live) this.log.push({ id, removed: true });
  }

  mark(): number {
    return this.log.length;
  }

  rollback(to: number): void {
    if (to < this.log.length) this.log.length = to;
  }

  take(): TaskChange[] {
    if (this.log.length === 0) return [];
    const last = new Map<string, TaskChange>();
    for (const c of this.log) last.set(c.id, c);
    this.log = [];
    return [...last.values()];
  }
}
