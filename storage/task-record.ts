import { PRIORITIES, type Task, type TaskSubmit } from '../shared/schemas/tasks.js';
import { newId } from '../shared/tokens.js';
import { complexityOf } from './task-routing.js';

// time-ordered, so new records append to the task tables' rightmost pages instead of dirtying a random page each
const newTaskId = () => `task-${newId()}`;

/** When a submitted task may first run: `delay_ms` after now, or `run_at` (never before now); null = at once. */
function runAt(input: TaskSubmit, now: number): number | null {
  if (input.delay_ms != null) return input.delay_ms > 0 ? now + input.delay_ms : null;
  return input.run_at != null && input.run_at > now ? input.run_at : null;
}

/** A new task from a validated submit: defaults per §3.3, unknown priority → normal (§4). */
export function newTask(input: TaskSubmit, by: string, now: number): Task {
  const metadata = input.metadata ?? {};
  return {
    id: newTaskId(),
    description: input.description,
    priority: PRIORITIES[input.priority as keyof typeof PRIORITIES] ?? PRIORITIES.normal,
    metadata,
    max_retries: input.max_retries ?? 3,
    complete_by: input.complete_by ?? null,
    needed_capabilities: input.needed_capabilities ?? [],
    repo: input.repo ?? null,
    branch: input.branch ?? null,
    file_hints: input.file_hints ?? [],
    success_criteria: input.success_criteria ?? [],
    verification_steps: input.verification_steps ?? [],
    max_verification_retries: input.max_verification_retries ?? 0,
    depends_on: input.depends_on ?? [],
    goal_id: input.goal_id ?? null,
    status: 'queued',
    assigned_to: null,
    assigned_at: null,
    generation: 0,
    retry_count: 0,
    reclaim_count: 0,
    last_error: null,
    result: null,
    tokens_used: null,
    submitted_by: by,
    created_at: now,
    updated_at: now,
    history: [],
    complexity: complexityOf(input.description, input.complexity_tier ?? null),
    verification_report: null,
    verification_history: null,
    routing_decision: null,
    complexity_tier: input.complexity_tier ?? null,
    skip_verification: input.skip_verification ?? false,
    verification_timeout_ms: input.verification_timeout_ms ?? null,
    assign_to: input.assign_to ?? (typeof metadata.assign_to === 'string' ? metadata.assign_to : null),
    run_at: runAt(input, now),
    retry_at: null,
    backoff: input.backoff ?? null,
  };
}

/** The longest wait of one back-off: an exponential one stops growing here. */
export const BACKOFF_MAX_MS = 24 * 3600_000;

/** The wait before the `n`th retry (n ≥ 1) of a task with a back-off. */
export function backoffWait(b: Task['backoff'], n: number): number {
  if (!b) return 0;
  const ms = b.type === 'fixed' ? b.delay_ms : b.delay_ms * 2 ** Math.min(n - 1, 40);
  return Math.min(ms, BACKOFF_MAX_MS);
}
