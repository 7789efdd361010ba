import type { Candidate, Outcome, PauseState, TaskCaps, TaskFigures } from '../shared/domains/tasks.js';
import { ErrorCode, HubError } from '../shared/errors.js';
import type { Task, TaskSubmit } from '../shared/schemas/tasks.js';
import { count, type DomainEnv } from './env.js';
import { IdempotencyStore } from './idempotency.js';
import { TaskChanges } from './task-changes.js';
import { TaskDeps } from './task-deps.js';
import { DEPENDENCY_FAILED, type QueueEntry, TASK_DBS, type TaskDb, TaskIndex } from './task-index.js';
import { LanePause } from './task-pause.js';
import { TaskQueries } from './task-queries.js';
import { backoffWait, newTask } from './task-record.js';
import { reindexTasks } from './task-reindex.js';
import { TaskRetention } from './task-retention.js';
import { routingFor } from './task-routing.js';

export { BACKOFF_MAX_MS, backoffWait } from './task-record.js';

const LANES = [0, 1, 2, 3];

/**
 * The lanes a pass reads, as runs of adjacent unpaused lanes [from, to):
 * one cursor per run, since the queue key starts with the lane and a range
 * costs more to open than to step (one run when nothing is paused).
 */
export function unpausedSpans(paused: readonly number[]): Array<[number, number]> {
  const spans: Array<[number, number]> = [];
  for (const lane of LANES) {
    if (paused.includes(lane)) continue;
    const last = spans.at(-1);
    if (last && last[1] === lane) last[1] = lane + 1;
    else spans.push([lane, lane + 1]);
  }
  return spans;
}

export { TASK_DBS, type TaskDb };

/**
 * The tasks domain (§4 Task queue, §9.8–9.13, §9.27): delayed tasks, lanes,
 * FIFO within a lane, generation fencing, retries (after a back-off) into
 * dead letter, reclaims, dependencies, pauses, retention and the capability
 * scheduler. Every transition is one write in the batch's transaction,
 * committed before main announces it; `TaskIndex` keeps each state's index
 * and count in that same write.
 */
export class TaskStore {
  readonly ix: TaskIndex;
  readonly idem: IdempotencyStore;
  readonly queries: TaskQueries;
  readonly deps: TaskDeps;
  readonly retention: TaskRetention;
  readonly changes = new TaskChanges();
  readonly pauses: LanePause;

  constructor(
    env: DomainEnv<TaskDb>,
    readonly caps: TaskCaps,
  ) {
    const db = env.dbs;
    this.ix = new TaskIndex(db, this.changes);
    this.idem = new IdempotencyStore(db.idem, db.idemTime, caps.idempotencyTtlMs);
    this.queries = new TaskQueries(db);
    this.deps = new TaskDeps(this.ix);
    this.retention = new TaskRetention(this.ix, caps);
    reindexTasks(env.root, this.ix, this.deps, (t, r, d, now) => this.dead(t, r, now, d));
    this.pauses = new LanePause(db.counts);
  }

  counts(): Record<string, number> {
    return { tasks: count(this.ix.db.tasks), queued: count(this.ix.db.queue) };
  }

  figures(): TaskFigures {
    const n = (k: string) => this.ix.count(k);
    return {
      by_status: {
        scheduled: n('scheduled'),
        queued: n('queued'),
        assigned: n('assigned'),
        completed: n('completed'),
        dead_letter: n('dead_letter'),
      },
      dependency_failed: n(DEPENDENCY_FAILED),
      removed: this.retention.removed(),
      paused: this.pauses.state,
    };
  }

  stats() {
    return this.queries.stats(this.figures());
  }

  get(id: string): Task {
    const t = this.ix.get(id);
    if (!t) throw new HubError(ErrorCode.taskNotFound, { task_id: id });
    return t;
  }

  find(id: string): Task | undefined {
    return this.ix.get(id);
  }

  submit(input: TaskSubmit, by: string, now: number): { task: Task; warnings: string[] } {
    if (input.run_at != null && input.delay_ms != null) {
      const detail = 'give run_at or delay_ms, not both';
      throw new HubError(ErrorCode.validationFailed, { errors: [{ field: 'delay_ms', error: 'wrong_type', detail }] });
    }
    this.deps.check(input.depends_on ?? []);
    const warnings: string[] = [];
    if ((input.verification_steps?.length ?? 0) > 10) warnings.push('more than 10 verification_steps');
    const t = newTask(input, by, now);
    const delayed = t.run_at != null && t.run_at > now;
    this.ix.log(t, delayed ? 'scheduled' : 'queued', now, {
      priority: t.priority,
      ...(delayed ? { run_at: t.run_at } : {}),
    });
    this.ix.enter(t, delayed ? 'scheduled' : 'queued');
    this.deps.track(t);
    this.ix.put(t);
    return { task: t, warnings };
  }

  /**
   * One scheduler pass: queued tasks of the lanes that are not paused, in
   * lane order, each to the first unused candidate that covers its
   * capabilities (or its `assign_to` agent).
   */
  schedule(candidates: Candidate[], now: number): Task[] {
    if (this.pauses.state.all) return [];
    const free = new Map(candidates.map((c) => [c.agent_id, new Set(c.capabilities)]));
    const picks: Array<[Task, string]> = [];
    // read lazily and stop once every candidate has a task; write after the cursor is done
    for (const [from, to] of unpausedSpans(this.pauses.state.lanes)) {
      if (free.size === 0) break;
      for (const { key, value } of this.ix.db.queue.getRange({ start: [from], end: [to] })) {
        if (free.size === 0) break;
        const e = value as QueueEntry;
        const agent = e.to ? (free.has(e.to) ? e.to : undefined) : this.firstCovering(free, e.caps);
        if (!agent || (e.deps.length && !this.deps.met(e.deps))) continue;
        const t = this.ix.get((key as [number, number, string])[2]);
        if (!t) continue;
        free.delete(agent);
        picks.push([t, agent]);
      }
    }
    for (const [t, agent] of picks) {
      this.ix.leave(t);
      t.assigned_to = agent;
      t.assigned_at = now;
      t.generation += 1;
      t.routing_decision = routingFor(t, candidates.length, now);
      this.ix.log(t, 'assigned', now, { agent_id: agent, generation: t.generation });
      this.ix.enter(t, 'assigned');
      this.ix.put(t);
    }
    return picks.map(([t]) => t);
  }

  private firstCovering(free: Map<string, Set<string>>, needed: readonly string[]): string | undefined {
    for (const [id, caps] of free) if (needed.every((c) => caps.has(c))) return id;
    return undefined;
  }

  /** Scheduled tasks due by `now` go to their lanes, at most `max`; returns how many, and when the next is due. */
  promote(now: number, max = 1000): { promoted: number; next_due: number | null } {
    const due = this.ix.db.due;
    const ids = [...due.getKeys({ end: [now + 1], limit: max })].map((k) => (k as [number, string])[1]);
    for (const id of ids) {
      const t = this.ix.get(id);
      if (t?.status !== 'scheduled') continue;
      this.ix.leave(t);
      this.ix.log(t, 'queued', now, { priority: t.priority, due: true });
      // no deps.track: a delayed task's were tracked at submit (or reindex); a back-off retry's had all completed
      this.ix.enter(t, 'queued');
      this.ix.put(t);
    }
    const next = [...due.getKeys({ limit: 1 })][0] as [number, string] | undefined;
    return { promoted: ids.length, next_due: next ? next[0] : null };
  }

  /** A progress sign (accepted, progress, wake success, continue) refreshes updated_at. */
  touch(id: string, now: number): Task | null {
    const t = this.find(id);
    if (t?.status !== 'assigned') return null;
    t.updated_at = now;
    this.ix.put(t);
    return t;
  }

  private fenced(id: string, generation: number): Task {
    const t = this.find(id);
    if (!t) throw new HubError(ErrorCode.notFound);
    if (t.status !== 'assigned') throw new HubError(ErrorCode.invalidState);
    if (t.generation !== generation) throw new HubError(ErrorCode.staleGeneration);
    return t;
  }

  /** Failure accounting: retry_count+1 and back to the lane (after its back-off); dead letter once retry_count ≥ max_retries. */
  private failed(t: Task, error: string, now: number): Outcome {
    const agent = t.assigned_to;
    this.ix.leave(t);
    t.retry_count += 1;
    t.last_error = error;
    if (t.retry_count >= t.max_retries) {
      this.dead(t, error, now);
      return 'dead_letter';
    }
    t.generation += 1;
    const wait = backoffWait(t.backoff, t.retry_count);
    t.retry_at = wait > 0 ? now + wait : null;
    const details = { agent_id: agent, error, retry_count: t.retry_count };
    this.ix.log(t, 'retry', now, wait > 0 ? { ...details, retry_at: t.retry_at } : details);
    this.ix.enter(t, wait > 0 ? 'scheduled' : 'queued');
    this.ix.put(t);
    return 'retried';
  }

  /** Dead-letters a task with `reason` (also the deadline and TTL sweeps' way out). */
  expire(t: Task, reason: string, now: number): void {
    this.ix.leave(t);
    this.dead(t, reason, now);
  }

  /** Into dead letter (the caller has taken the task out of its state); its waiting dependents fail with it. */
  private dead(t: Task, reason: string, now: number, details: Record<string, unknown> = {}): void {
    this.toDead(t, reason, now, details);
    this.failDependents(t, `dead_letter (${reason})`, now);
  }

  /** `t` will never complete: its waiting dependents (and theirs) go to dead letter; returns how many. */
  private failDependents(t: Task, cause: string, now: number): number {
    return this.deps.cascade(t, cause, (c, r, d) => {
      this.ix.leave(c);
      this.toDead(c, r, now, d);
    });
  }

  private toDead(t: Task, reason: string, now: number, details: Record<string, unknown>): void {
    t.last_error = reason;
    this.ix.log(t, 'dead_letter', now, { reason, ...details });
    this.ix.enter(t, 'dead_letter');
    this.ix.put(t);
  }

  complete(
    a: {
      task_id: string;
      generation: number;
      result?: Record<string, unknown> | null;
      tokens_used?: number | null;
      verification_report?: Record<string, unknown> | null;
      verification_history?: Record<string, unknown>[] | null;
    },
    now: number,
  ): { task: Task; outcome: Outcome; agent: string | null } {
    const t = this.fenced(a.task_id, a.generation);
    const agent = t.assigned_to;
    t.result = a.result ?? null;
    t.verification_report = a.verification_report ?? null;
    t.verification_history = a.verification_history ?? null;
    const fromResult = a.result?.tokens_used;
    t.tokens_used = a.tokens_used ?? (typeof fromResult === 'number' ? fromResult : null);
    if (a.result?.status === 'failed') {
      const err = a.result.error ?? a.result.reason ?? 'result.status failed';
      return { task: t, outcome: this.failed(t, String(err), now), agent };
    }
    this.ix.leave(t);
    this.ix.log(t, 'completed', now, { tokens_used: t.tokens_used, agent_id: agent });
    this.ix.enter(t, 'completed');
    this.ix.put(t);
    this.deps.completed(t.id);
    return { task: t, outcome: 'complete', agent };
  }

  fail(a: { task_id: string; generation: number; error: string }, now: number) {
    const t = this.fenced(a.task_id, a.generation);
    const agent = t.assigned_to;
    return { task: t, outcome: this.failed(t, a.error, now), agent };
  }

  /** The assignment returns to its lane; no retry is counted (§9.9). */
  reject(id: string, agent: string, reason: string, now: number): Task | null {
    const t = this.find(id);
    if (t?.status !== 'assigned' || t.assigned_to !== agent) return null;
    this.ix.leave(t);
    t.generation += 1;
    this.ix.log(t, 'rejected', now, { agent_id: agent, reason });
    this.ix.enter(t, 'queued');
    this.ix.put(t);
    return t;
  }

  /** Back to the lane with a new generation; the 5th reclaim dead-letters it as `stalled` (§9.27). */
  reclaim(id: string, reason: string, now: number): Task | null {
    const t = this.find(id);
    if (t?.status !== 'assigned') return null;
    const agent = t.assigned_to;
    this.ix.leave(t);
    t.reclaim_count += 1;
    if (t.reclaim_count >= this.caps.maxReclaims) {
      this.dead(t, 'stalled', now);
      return t;
    }
    t.generation += 1;
    this.ix.log(t, 'reclaimed', now, { agent_id: agent, reason });
    this.ix.enter(t, 'queued');
    this.ix.put(t);
    return t;
  }

  assignedTo(agent: string): Task[] {
    return [...this.ix.db.byAgent.getKeys({ start: [agent], end: [agent, '\uffff'] })]
      .map((k) => this.find((k as [string, string])[1]))
      .filter((t): t is Task => t !== undefined && t.status === 'assigned' && t.assigned_to === agent);
  }

  reclaimAgent(agent: string, reason: string, now: number): Task[] {
    return this.assignedTo(agent)
      .map((t) => this.reclaim(t.id, reason, now))
      .filter((t): t is Task => t !== null);
  }

  /** `continue` iff the task is assigned to this agent with this generation (§2.1, §9.8). */
  stateReport(id: string, agent: string, generation: number | null, now: number): 'continue' | 'abort' {
    const t = this.find(id);
    if (t?.status !== 'assigned' || t.assigned_to !== agent) return 'abort';
    if (t.generation !== (generation ?? 0)) {
      // the agent drops a task it is told to abort: back to the lane now, not at the stale sweep
      this.reclaim(id, 'state_report_abort', now);
      return 'abort';
    }
    t.updated_at = now;
    this.ix.put(t);
    return 'continue';
  }

  recover(id: string, agent: string, now: number): { action: 'continue'; generation: number } | { action: 'reassign' } {
    const t = this.find(id);
    if (t?.status !== 'assigned' || t.assigned_to !== agent) return { action: 'reassign' };
    t.updated_at = now;
    this.ix.put(t);
    return { action: 'continue', generation: t.generation };
  }

  /** Only the submitter or the admin (`by` null) may cancel or retry (§9.1). */
  private owned(id: string, by: string | null): Task {
    const t = this.get(id);
    if (by !== null && t.submitted_by !== by) throw new HubError(ErrorCode.adminPortOnly);
    return t;
  }

  /** Deletes the task, in any state; dependents still waiting for it fail as `dependency_failed`. */
  cancel(id: string, by: string | null, now: number, cause = 'cancelled'): { task: Task; dependents_failed: number } {
    const t = this.owned(id, by);
    const was = { ...t };
    this.ix.leave(t);
    this.ix.drop(t);
    const failed = t.status === 'completed' ? 0 : this.failDependents(t, cause, now);
    return { task: was, dependents_failed: failed };
  }

  retry(id: string, by: string | null, now: number): Task {
    const t = this.owned(id, by);
    if (t.status !== 'dead_letter') throw new HubError(ErrorCode.taskNotFound, { task_id: id });
    this.deps.checkRetry(t);
    this.ix.leave(t);
    t.retry_count = 0;
    t.reclaim_count = 0;
    t.last_error = null;
    t.generation += 1;
    this.ix.log(t, 'queued', now, { retry: true });
    this.ix.enter(t, 'queued');
    this.deps.track(t);
    this.ix.put(t);
    return t;
  }

  /** Pauses or resumes a lane (0 urgent … 3 low) or, with `lane` null, the whole queue: stored, applied at the next pass. */
  pause(lane: number | null, paused: boolean): PauseState {
    return this.pauses.set(lane, paused);
  }
}
