import type { Candidate, Outcome, TaskCaps } from '../shared/domains/tasks.js';
import { ErrorCode, HubError } from '../shared/errors.js';
import type { Task, TaskSubmit } from '../shared/schemas/tasks.js';
import { all, count, type Db, type DomainEnv } from './env.js';
import { IdempotencyStore } from './idempotency.js';
import { TaskQueries } from './task-queries.js';
import { newTask } from './task-record.js';
import { routingFor } from './task-routing.js';

export const TASK_DBS = ['tasks', 'queue', 'byAgent', 'dead', 'counts', 'idem', 'idemTime'] as const;
export type TaskDb = (typeof TASK_DBS)[number];

const HISTORY_MAX = 50;

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

/** Set once the per-state counts and the dead-letter index exist (stores written before them are reindexed once). */
const INDEXED = 'indexed-v1';

/**
 * The tasks domain (§4 Task queue, §9.8–9.13, §9.27): lanes, FIFO within a
 * lane, generation fencing, retries into dead letter, reclaims, dependencies
 * and the capability scheduler. Every transition is one write in the batch's
 * transaction, committed before main announces it.
 */
export class TaskStore {
  private readonly db: Record<TaskDb, Db>;
  readonly idem: IdempotencyStore;
  readonly queries: TaskQueries;

  constructor(
    env: DomainEnv<TaskDb>,
    readonly caps: TaskCaps,
  ) {
    this.db = env.dbs;
    this.idem = new IdempotencyStore(this.db.idem, this.db.idemTime, caps.idempotencyTtlMs);
    this.queries = new TaskQueries(this.db);
    if (!this.db.counts.doesExist(INDEXED)) env.root.transactionSync(() => this.reindex());
  }

  /** Builds the per-state counts and the dead-letter index of a store written before they existed: once. */
  private reindex(): void {
    for (const { value } of this.db.tasks.getRange({})) {
      const t = value as Task;
      // enqueue rewrites the queue entry with the fields the sweep now reads, and counts it
      if (t.status === 'queued') this.enqueue(t);
      else this.bump(t.status, t.priority, 1);
      if (t.status === 'dead_letter') this.db.dead.putSync([t.updated_at, t.id], 1);
    }
    this.db.counts.putSync(INDEXED, 1);
  }

  counts(): Record<string, number> {
    return { tasks: count(this.db.tasks), queued: count(this.db.queue) };
  }

  private bump(status: string, priority: number, delta: number): void {
    const key = status === 'queued' ? ['lane', priority] : status;
    for (const k of key === status ? [status] : [status, key]) {
      const n = ((this.db.counts.get(k) as number | undefined) ?? 0) + delta;
      this.db.counts.putSync(k, n);
    }
  }

  private put(t: Task): void {
    this.db.tasks.putSync(t.id, t);
  }

  private log(t: Task, event: string, now: number, details: Record<string, unknown> = {}): void {
    t.history.unshift({ event, timestamp: now, details });
    if (t.history.length > HISTORY_MAX) t.history.length = HISTORY_MAX;
    t.updated_at = now;
  }

  private enqueue(t: Task): void {
    t.status = 'queued';
    t.assigned_to = null;
    t.assigned_at = null;
    const entry: QueueEntry = {
      caps: t.needed_capabilities,
      to: t.assign_to,
      deps: t.depends_on,
      by: t.complete_by,
      ttl: t.complexity_tier !== 'trivial',
    };
    this.db.queue.putSync([t.priority, t.created_at, t.id], entry);
    this.bump('queued', t.priority, 1);
  }

  /** Takes the task out of its state's index and count; the caller puts it in the next one. */
  private leaveState(t: Task): void {
    if (t.status === 'queued') this.db.queue.removeSync([t.priority, t.created_at, t.id]);
    if (t.status === 'assigned' && t.assigned_to) this.db.byAgent.removeSync([t.assigned_to, t.id]);
    if (t.status === 'dead_letter') this.db.dead.removeSync([t.updated_at, t.id]);
    this.bump(t.status, t.priority, -1);
  }

  get(id: string): Task {
    const t = this.db.tasks.get(id) as Task | undefined;
    if (!t) throw new HubError(ErrorCode.taskNotFound, { task_id: id });
    return t;
  }

  find(id: string): Task | undefined {
    return this.db.tasks.get(id) as Task | undefined;
  }

  submit(input: TaskSubmit, by: string, now: number): { task: Task; warnings: string[] } {
    const deps = input.depends_on ?? [];
    const unknown = deps.map((d, i) => [d, i] as const).filter(([d]) => !this.db.tasks.doesExist(d));
    if (unknown.length) {
      throw new HubError(ErrorCode.validationFailed, {
        errors: unknown.map(([d, i]) => ({
          field: `depends_on[${i}]`,
          error: 'wrong_type',
          detail: `unknown task id ${d}`,
        })),
      });
    }
    const warnings: string[] = [];
    if ((input.verification_steps?.length ?? 0) > 10) warnings.push('more than 10 verification_steps');
    const t = newTask(input, by, now);
    this.log(t, 'queued', now, { priority: t.priority });
    this.enqueue(t);
    this.put(t);
    return { task: t, warnings };
  }

  private depsMet(deps: readonly string[]): boolean {
    return deps.every((d) => (this.db.tasks.get(d) as Task | undefined)?.status === 'completed');
  }

  /**
   * One scheduler pass: queued tasks in lane order, each to the first unused
   * candidate that covers its capabilities (or its `assign_to` agent).
   */
  schedule(candidates: Candidate[], now: number): Task[] {
    const free = new Map(candidates.map((c) => [c.agent_id, new Set(c.capabilities)]));
    const picks: Array<[Task, string]> = [];
    // read lazily and stop once every candidate has a task; write after the cursor is done
    for (const { key, value } of this.db.queue.getRange({})) {
      if (free.size === 0) break;
      const e = value as QueueEntry;
      const agent = e.to ? (free.has(e.to) ? e.to : undefined) : this.firstCovering(free, e.caps);
      if (!agent || (e.deps.length && !this.depsMet(e.deps))) continue;
      const t = this.db.tasks.get((key as [number, number, string])[2]) as Task | undefined;
      if (!t) continue;
      free.delete(agent);
      picks.push([t, agent]);
    }
    for (const [t, agent] of picks) {
      this.leaveState(t);
      t.status = 'assigned';
      t.assigned_to = agent;
      t.assigned_at = now;
      t.generation += 1;
      t.routing_decision = routingFor(t, candidates.length, now);
      this.log(t, 'assigned', now, { agent_id: agent, generation: t.generation });
      this.db.byAgent.putSync([agent, t.id], 1);
      this.bump('assigned', t.priority, 1);
      this.put(t);
    }
    return picks.map(([t]) => t);
  }

  private firstCovering(free: Map<string, Set<string>>, needed: readonly string[]): string | undefined {
    for (const [id, caps] of free) if (needed.every((c) => caps.has(c))) return id;
    return undefined;
  }

  /** A progress sign (accepted, progress, wake success, continue) refreshes updated_at. */
  touch(id: string, now: number): Task | null {
    const t = this.find(id);
    if (t?.status !== 'assigned') return null;
    t.updated_at = now;
    this.put(t);
    return t;
  }

  private fenced(id: string, generation: number): Task {
    const t = this.find(id);
    if (!t) throw new HubError(ErrorCode.notFound);
    if (t.status !== 'assigned') throw new HubError(ErrorCode.invalidState);
    if (t.generation !== generation) throw new HubError(ErrorCode.staleGeneration);
    return t;
  }

  /** Failure accounting: retry_count+1; dead letter once retry_count ≥ max_retries. */
  private failed(t: Task, error: string, now: number): Outcome {
    const agent = t.assigned_to;
    this.leaveState(t);
    t.retry_count += 1;
    t.last_error = error;
    if (t.retry_count >= t.max_retries) {
      this.dead(t, error, now);
      return 'dead_letter';
    }
    t.generation += 1;
    this.log(t, 'retry', now, { agent_id: agent, error, retry_count: t.retry_count });
    this.enqueue(t);
    this.put(t);
    return 'retried';
  }

  /** Dead-letters a task with `reason` (also the deadline and TTL sweeps' way out). */
  expire(t: Task, reason: string, now: number): void {
    this.leaveState(t);
    this.dead(t, reason, now);
  }

  /** Into dead letter; the caller has taken the task out of its previous state. */
  private dead(t: Task, reason: string, now: number): void {
    t.status = 'dead_letter';
    t.last_error = reason;
    t.assigned_to = null;
    this.log(t, 'dead_letter', now, { reason });
    this.db.dead.putSync([t.updated_at, t.id], 1);
    this.bump('dead_letter', t.priority, 1);
    this.put(t);
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
    this.leaveState(t);
    t.status = 'completed';
    this.log(t, 'completed', now, { tokens_used: t.tokens_used, agent_id: agent });
    this.bump('completed', t.priority, 1);
    this.put(t);
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
    this.leaveState(t);
    t.generation += 1;
    this.log(t, 'rejected', now, { agent_id: agent, reason });
    this.enqueue(t);
    this.put(t);
    return t;
  }

  /** Back to the lane with a new generation; the 5th reclaim dead-letters it as `stalled` (§9.27). */
  reclaim(id: string, reason: string, now: number): Task | null {
    const t = this.find(id);
    if (t?.status !== 'assigned') return null;
    const agent = t.assigned_to;
    this.leaveState(t);
    t.reclaim_count += 1;
    if (t.reclaim_count >= this.caps.maxReclaims) {
      this.dead(t, 'stalled', now);
      return t;
    }
    t.generation += 1;
    this.log(t, 'reclaimed', now, { agent_id: agent, reason });
    this.enqueue(t);
    this.put(t);
    return t;
  }

  assignedTo(agent: string): Task[] {
    return all(this.db.byAgent.getKeys({ start: [agent], end: [agent, '\uffff'] }))
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
    this.put(t);
    return 'continue';
  }

  recover(id: string, agent: string, now: number): { action: 'continue'; generation: number } | { action: 'reassign' } {
    const t = this.find(id);
    if (t?.status !== 'assigned' || t.assigned_to !== agent) return { action: 'reassign' };
    t.updated_at = now;
    this.put(t);
    return { action: 'continue', generation: t.generation };
  }

  /** Only the submitter or the admin (`by` null) may cancel or retry (§9.1). */
  private owned(id: string, by: string | null): Task {
    const t = this.get(id);
    if (by !== null && t.submitted_by !== by) throw new HubError(ErrorCode.adminPortOnly);
    return t;
  }

  cancel(id: string, by: string | null): Task {
    const t = this.owned(id, by);
    this.leaveState(t);
    this.db.tasks.removeSync(id);
    return t;
  }

  retry(id: string, by: string | null, now: number): Task {
    const t = this.owned(id, by);
    if (t.status !== 'dead_letter') throw new HubError(ErrorCode.taskNotFound, { task_id: id });
    this.leaveState(t);
    t.retry_count = 0;
    t.reclaim_count = 0;
    t.last_error = null;
    t.generation += 1;
    this.log(t, 'queued', now, { retry: true });
    this.enqueue(t);
    this.put(t);
    return t;
  }

  /**
   * The tasks the sweep must look at, from the indexes (never a scan of the
   * task table): queued ones past their deadline or, with a queue TTL, older
   * than it; and every assigned one.
   */
  sweepable(now: number): Task[] {
    const out: Task[] = [];
    const ttl = this.caps.taskTtlMs;
    for (const { key, value } of this.db.queue.getRange({})) {
      const [, createdAt, id] = key as [number, number, string];
      const e = value as QueueEntry;
      const late = e.by != null && e.by < now;
      if (late || (ttl > 0 && e.ttl !== false && now - createdAt > ttl)) out.push(this.get(id));
    }
    for (const key of this.db.byAgent.getKeys({})) {
      const t = this.find((key as [string, string])[1]);
      if (t?.status === 'assigned') out.push(t);
    }
    return out;
  }
}
