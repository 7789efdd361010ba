import type { TaskRetentionCaps } from '../shared/domains/tasks.js';
import { all } from './env.js';
import type { TaskIndex } from './task-index.js';

type Finished = 'completed' | 'dead_letter';

/**
 * Retention of finished tasks (BullMQ's removeOnComplete / removeOnFail):
 * completed tasks and dead letters past their count are removed after each
 * batch, those past their age by the sweep; oldest first, read from the
 * front of the `done` and `dead` indexes. Removals are counted per state.
 */
export class TaskRetention {
  constructor(
    private readonly ix: TaskIndex,
    private readonly caps: TaskRetentionCaps,
  ) {}

  /** The counts: at most this many of each are kept (run once per batch, inside it). */
  trimCounts(): void {
    this.trim('completed', this.caps.keepCompleted, null, Number.MAX_SAFE_INTEGER);
    this.trim('dead_letter', this.caps.keepDead, null, Number.MAX_SAFE_INTEGER);
  }

  /** The ages (0 = no age limit), at most `max` removals per call; returns how many went. */
  trimAges(now: number, max: number): number {
    const { keepCompletedMs: c, keepDeadMs: d } = this.caps;
    const n = c > 0 ? this.trim('completed', Number.MAX_SAFE_INTEGER, now - c, max) : 0;
    return n + (d > 0 ? this.trim('dead_letter', Number.MAX_SAFE_INTEGER, now - d, max - n) : 0);
  }

  removed(): Record<Finished, number> {
    return {
      completed: this.ix.count(['removed', 'completed']),
      dead_letter: this.ix.count(['removed', 'dead_letter']),
    };
  }

  private trim(status: Finished, keep: number, before: number | null, max: number): number {
    const over = this.ix.count(status) - keep;
    const limit = Math.min(max, before === null ? over : Number.MAX_SAFE_INTEGER);
    if (limit <= 0) return 0;
    const index = status === 'completed' ? this.ix.db.done : this.ix.db.dead;
    const range = before === null ? { limit } : { end: [before], limit };
    let n = 0;
    for (const key of all(index.getKeys(range as never)) as Array<[number, string]>) {
      const t = this.ix.get(key[1]);
      if (t?.status === status) {
        this.ix.leave(t);
        this.ix.drop(t);
      } else index.removeSync(key);
      n++;
    }
    if (n) this.ix.bump(['removed', status], n);
    return n;
  }
}
