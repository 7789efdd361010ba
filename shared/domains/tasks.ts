import type { Task, TaskStatusT, TaskSubmit, TaskSubmitted } from '../schemas/tasks.js';
import type { Offered } from '../task-frames.js';

/** The tasks domain (§4 Task queue, §9.8–9.13, §9.27). */
export interface TaskCaps {
  maxReclaims: number;
  taskTtlMs: number;
  staleMs: number;
  staleWorkingMs: number;
  idempotencyTtlMs: number;
}

export interface Candidate {
  agent_id: string;
  capabilities: string[];
}

export type Outcome = 'complete' | 'retried' | 'dead_letter';

export interface TaskFilter {
  status?: TaskStatusT;
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

export interface TaskStats {
  by_status: { queued: number; assigned: number; completed: number };
  by_priority: Record<string, number>;
  dead_letter: number;
  queued_index_size: number;
}

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
}

/** A finished task: what main acts on, with the finishing agent's next task when it got one in the same write. */
export interface Finished {
  outcome: Outcome;
  agent: string | null;
  created_at: number;
  next: Offered | null;
}

type Fenced = { task_id: string; generation: number };
/** the finishing agent, when it may take another task at once */
type Offer = { next: Candidate | null };

export interface TaskApi {
  submit(a: { input: TaskSubmit; by: string; key: string | null }): { replay: boolean; reply: TaskSubmitted };
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
  cancel(a: { id: string; by: string | null }): Task;
  retry(a: { id: string; by: string | null }): Task;
  sweep(a: SweepInput): SweepResult & { idempotency: number };
  health(a: Record<string, never>): { counts: Record<string, number> };
}
