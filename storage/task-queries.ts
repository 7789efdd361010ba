import type { Task } from '../shared/schemas/tasks.js';
import { all, count, type Db } from './env.js';

export interface TaskFilter {
  status?: string;
  priority?: number;
  assigned_to?: string;
  goal_id?: string;
}

/** Read-only views of the task table for the HTTP routes (they scan every stored task). */
export class TaskQueries {
  constructor(
    private readonly tasks: Db,
    private readonly queue: Db,
  ) {}

  private every(): Task[] {
    return all(this.tasks.getRange({})).map(({ value }) => value as Task);
  }

  /** Tasks by (priority, created_at), dead letter excluded. */
  list(f: TaskFilter): Task[] {
    return this.every()
      .filter(
        (t) =>
          t.status !== 'dead_letter' &&
          (f.status === undefined || t.status === f.status) &&
          (f.priority === undefined || t.priority === f.priority) &&
          (f.assigned_to === undefined || t.assigned_to === f.assigned_to) &&
          (f.goal_id === undefined || t.goal_id === f.goal_id),
      )
      .sort((a, b) => a.priority - b.priority || a.created_at - b.created_at);
  }

  deadLetters(): Task[] {
    return this.every()
      .filter((t) => t.status === 'dead_letter')
      .sort((a, b) => a.updated_at - b.updated_at);
  }

  stats() {
    const by_status: Record<string, number> = { queued: 0, assigned: 0, completed: 0 };
    const by_priority: Record<string, number> = {};
    let dead = 0;
    for (const t of this.every()) {
      if (t.status === 'dead_letter') dead++;
      else by_status[t.status] = (by_status[t.status] ?? 0) + 1;
      if (t.status === 'queued') by_priority[String(t.priority)] = (by_priority[String(t.priority)] ?? 0) + 1;
    }
    return { by_status, by_priority, dead_letter: dead, queued_index_size: count(this.queue) };
  }
}
