import { ErrorCode, HubError } from '../shared/errors.js';
import type { Task } from '../shared/schemas/tasks.js';
import { all } from './env.js';
import { DEPENDENCY_FAILED, type TaskIndex } from './task-index.js';

/** Dead-letters one dependent whose dependency failed (the store's transition, without a cascade of its own). */
export type FailDependent = (t: Task, reason: string, details: Record<string, unknown>) => void;

/**
 * `depends_on` (§3.3): a task waits until each dependency is completed. The
 * `deps` index holds [dependency, dependent] while the dependency is not
 * completed, so a dependency that fails for good (dead letter, cancel,
 * drain) reaches the dependents still waiting without a scan: they fail as
 * `dependency_failed`, and theirs in turn, instead of waiting forever.
 */
export class TaskDeps {
  constructor(private readonly ix: TaskIndex) {}

  /** Why dependency `d` would never complete: it does not exist, or it is a dead letter; null while it may. */
  private lost(d: string): 'unknown' | 'dead_letter' | null {
    const s = this.ix.get(d)?.status;
    return s === undefined ? 'unknown' : s === 'dead_letter' ? 'dead_letter' : null;
  }

  /** 422 for a dependency that does not exist, or one that is a dead letter (it would never complete). */
  check(deps: readonly string[]): void {
    const errors = [];
    for (const [i, d] of deps.entries()) {
      const why = this.lost(d);
      if (!why) continue;
      const detail = why === 'unknown' ? `unknown task id ${d}` : `task ${d} is a dead letter`;
      errors.push({ field: `depends_on[${i}]`, error: 'wrong_type', detail });
    }
    if (errors.length) throw new HubError(ErrorCode.validationFailed, { errors });
  }

  /** The first of `deps` that would never complete, as `check` sees it, and why. */
  firstLost(deps: readonly string[]): { dependency: string; why: 'unknown' | 'dead_letter' } | undefined {
    for (const d of deps) {
      const why = this.lost(d);
      if (why) return { dependency: d, why };
    }
    return undefined;
  }

  /** A retry waits for its dependencies again; one that is a dead letter refuses it (409). */
  checkRetry(t: Task): void {
    const dead = t.depends_on.find((d) => this.ix.get(d)?.status === 'dead_letter');
    if (dead) throw new HubError(ErrorCode.dependencyFailed, { task_id: t.id, dependency: dead });
  }

  /** Records `t` as waiting for each of its dependencies that is not completed. */
  track(t: Task): void {
    for (const d of t.depends_on) {
      const dep = this.ix.get(d);
      if (dep && dep.status !== 'completed') this.ix.db.deps.putSync([d, t.id], 1);
    }
  }

  /** Met when every dependency completed; one that is gone was removed after it completed (a failed one fails us first). */
  met(deps: readonly string[]): boolean {
    return deps.every((d) => {
      const s = this.ix.get(d)?.status;
      return s === undefined || s === 'completed';
    });
  }

  private waiting(id: string): Array<[string, string]> {
    return all(this.ix.db.deps.getKeys({ start: [id], end: [id, '\uffff'] })) as Array<[string, string]>;
  }

  /** A dependency completed: nothing needs to hear about it any more. */
  completed(id: string): void {
    for (const k of this.waiting(id)) this.ix.db.deps.removeSync(k);
  }

  /**
   * `t` will never complete (`cause`: cancelled, dead letter): each
   * dependent still scheduled or queued fails, then each of theirs. A
   * worklist, not recursion, so a long chain cannot overflow the stack.
   * Returns how many failed.
   */
  cascade(t: Task, cause: string, fail: FailDependent): number {
    const work: Array<[string, string]> = [[t.id, cause]];
    let failed = 0;
    for (let next = work.pop(); next; next = work.pop()) {
      const [id, why] = next;
      for (const key of this.waiting(id)) {
        this.ix.db.deps.removeSync(key);
        const child = this.ix.get(key[1]);
        if (child?.status !== 'queued' && child?.status !== 'scheduled') continue;
        fail(child, `${DEPENDENCY_FAILED}: ${id} ${why}`, { dependency: id, cause: why });
        failed++;
        work.push([child.id, `dead_letter (${DEPENDENCY_FAILED})`]);
      }
    }
    return failed;
  }
}
