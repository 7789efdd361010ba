import type { Domain } from '../shared/domains/domain.js';
import type { TaskApi } from '../shared/domains/tasks.js';
import { ErrorCode, HubError } from '../shared/errors.js';
import type { Logger } from './log.js';

/** setTimeout's longest delay; a later due time is looked at again then. */
const MAX_DELAY = 2 ** 31 - 1;

export interface DueTimerDeps {
  tasks: Domain<TaskApi>;
  /** a scheduler pass, after tasks went to their lanes */
  kick: () => void;
  log: Logger;
}

/**
 * Scheduled tasks (a delayed submit, a retry waiting for its back-off) go to
 * their lanes when due. One timer, armed for the earliest due time main has
 * heard of (the submit's reply, a failure's outcome, the worker's answer of
 * the next due time); the worker reads its due index from the front, never
 * the task table. The task sweep promotes too, as a fallback.
 */
export class DueTimer {
  private timer: NodeJS.Timeout | null = null;
  private at = Number.POSITIVE_INFINITY;
  private stopped = false;

  constructor(private readonly d: DueTimerDeps) {}

  /** Something is due at `at` (ms since epoch); null: nothing new. */
  due(at: number | null | undefined): void {
    if (at == null || this.stopped || at >= this.at) return;
    if (this.timer) clearTimeout(this.timer);
    this.at = at;
    this.timer = setTimeout(() => this.fire(), Math.min(Math.max(at - Date.now(), 0), MAX_DELAY)).unref();
  }

  private async fire(): Promise<void> {
    this.timer = null;
    this.at = Number.POSITIVE_INFINITY;
    try {
      const r = await this.d.tasks.call('promote', {});
      if (r.promoted) {
        this.d.log.info({ promoted: r.promoted, next_due: r.next_due }, 'scheduled tasks queued');
        this.d.kick();
      }
      this.due(r.next_due);
    } catch (err) {
      if (err instanceof HubError && err.code === ErrorCode.shuttingDown) return;
      this.d.log.error({ err }, 'promoting scheduled tasks failed');
      this.due(Date.now() + 1000);
    }
  }

  stop(): void {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
  }
}
