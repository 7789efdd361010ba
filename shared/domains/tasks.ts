import type { Task, TaskRow, TaskStatusT, TaskSubmit, TaskSubmitted } from '../schemas/tasks.js';
import type { Offered } from '../task-frames.js';

/** How many completed tasks and dead letters are kept, and for how long (0 ms = no age limit). */
export interface TaskRetentionCaps {
  keepCompleted: number;
  keepCompletedMs: number;
  keepDead: number;
  keepDeadMs: number;
}

/** The tasks domain (§4 Task queue, §9.8–9.13, §9.27). */
export interface TaskCaps extends TaskRetentionCaps {
  maxReclaims: number;
  taskTtlMs: number;
  staleMs: number;
  staleWorkingMs: number;
  idempotencyTtlMs: number;
}

/** Lanes by priority (0 urgent … 3 low) that take no new assignments; `all` pauses the whole queue. */
export interface PauseState {
  all: boolean;
  lanes: number[];
}

/** What main keeps of the tasks domain between batches: sent after every batch, no request needed. */
export interface TaskFigures {
  by_status: Record<TaskStatusT, number>;
  /** dead letters whose dependency failed */
  dependency_failed: number;
  /** finished tasks removed by retention, per state, since the store began */
  removed: { completed: number; dead_letter: number };
  paused: PauseState;
}

/** After each batch: the figures, and each task that changed (only while main watches). */
export interface TaskReport {
  figures: TaskFigures;
  changes: Array<TaskRow | { id: string; removed: true }>;
}

export interface Candidate {
  agent_id: string;
  capabilities: string[];
}

export type Outcome = 'complete' | 'retried' | 'dead_letter';

export interface TaskFilter {
  status?: TaskStatusT;
  /** a task id or the start of one */
  id?: string;
  /** newest first (the unfiltered list only) */
  newest?: boolean;
  priority?: number;
  assigned_to?: string;
  goal_id?: string;
  submitted_by?: string;
  /** tasks that need this capability */
  capability?: string;
  limit?: number;
  /** where the previous page ended (opaque) */
  cursor?: string;
}

export interface TaskPage {
  tasks: Task[];
  /** pass back to get the next page; null when there is none */
  cursor: string | null;
}

type StatusCounts = TaskFigures['by_status'];

/**
 * The stats body: the figures, with dead letters beside the states rather
 * than among them (the HTTP API's shape), plus queued tasks per lane that
 * has any and the queue index's size.
 */
export type TaskStats = Omit<TaskFigures, 'by_status'> & {
  by_status: Omit<StatusCounts, 'dead_letter'>;
  by_priority: Record<string, number>;
  dead_letter: StatusCounts['dead_letter'];
  queued_index_size: number;
};

export interface SweepInput {
  connected: string[];
  working: string[];
  /** assigned tasks of absent agents wait until then after a restart (§9.27) */
  graceUntil: number;
}

export interface SweepResult {
  reclaimed: Task[];
  /** dead-lettered for `complete_by` or the queue TTL, as they were before (so their agent can be told) */
  expired: Task[];
  /** finished tasks removed for their age */
  removed: number;
}

/** Scheduled tasks that became due and went to their lanes, and when the next one is due. */
export interface Promoted {
  promoted: number;
  next_due: number | null;
}

/** One bounded step of a bulk action; `more` when the caller should run another. */
export interface BulkStep {
  done: string[];
  failed: Array<{ task_id: string; error: string }>;
  more: boolean;
}

/** A finished task: what main acts on, with the finishing agent's next task when it got one in the same write. */
export interface Finished {
  outcome: Outcome;
  agent: string | null;
  created_at: number;
  next: Offered | null;
  /** a retry waits for its back-off until then */
  due: number | null;
}

type Fenced = { task_id: string; generation: number };
/** the finishing agent, when it may take another task at once */
type Offer = { next: Candidate | null };

/**
 * Which dead letters a bulk action takes: these ids, else those that died by
 * `before`, oldest first, past the first `skip` (the ones earlier steps
 * could not take, which stay in front).
 */
export type DeadSelection = { ids: string[] } | { before: number; skip: number };

export interface TaskApi {
  /** `ignored`: the request's top-level fields this hub does not know (listed in the reply) */
  submit(a: { input: TaskSubmit; by: string; key: string | null; ignored: string[] }): {
    replay: boolean;
    reply: TaskSubmitted;
  };
  get(a: { id: string }): Task;
  list(a: TaskFilter): TaskPage;
  stats(a: Record<string, never>): TaskStats;
  schedule(a: { candidates: Candidate[] }): Offered[];
  touch(a: { id: string }): boolean;
  complete(
    a: Fenced &
      Offer & {
        result?: Record<string, unknown> | null;
        tokens_used?: number | null;
        verification_report?: Record<string, unknown> | null;
        verification_history?: Record<string, unknown>[] | null;
      },
  ): Finished;
  fail(a: Fenced & Offer & { error: string }): Finished;
  reject(a: { id: string; agent: string; reason: string }): Task | null;
  reclaim(a: { id: string; reason: string }): Task | null;
  reclaimAgent(a: { agent: string; reason: string }): Task[];
  assignedTo(a: { agent: string }): Task[];
  stateReport(a: { id: string; agent: string; generation: number | null }): 'continue' | 'abort';
  recover(a: { id: string; agent: string }): { action: 'continue'; generation: number } | { action: 'reassign' };
  /** the cancelled task as it was, and how many dependents failed with it */
  cancel(a: { id: string; by: string | null }): { task: Task; dependents_failed: number };
  retry(a: { id: string; by: string | null }): Task;
  sweep(a: SweepInput): SweepResult & Promoted & { idempotency: number };
  promote(a: Record<string, never>): Promoted;
  pause(a: { lane: number | null; paused: boolean }): PauseState;
  /** removes waiting tasks (queued; with `scheduled`, scheduled too) of a lane or all lanes, a bounded step */
  drain(a: { lane: number | null; scheduled: boolean }): BulkStep;
  retryDead(a: DeadSelection): BulkStep;
  cleanDead(a: DeadSelection): BulkStep;
  health(a: Record<string, never>): { counts: Record<string, number> };
}
