import type { HubFrame } from './schemas/hub-frames.js';
import type { Task } from './schemas/tasks.js';

/** The `task_assign` frame (§2.4). */
export function assignFrame(t: Pick<Task, 'id' | 'description' | 'metadata' | 'generation'> & Partial<Task>): string {
  const frame: HubFrame<'task_assign'> = {
    type: 'task_assign',
    task_id: t.id,
    description: t.description,
    metadata: t.metadata,
    generation: t.generation,
    assigned_at: t.assigned_at ?? Date.now(),
    repo: t.repo ?? null,
    branch: t.branch ?? null,
    file_hints: t.file_hints ?? [],
    success_criteria: t.success_criteria ?? [],
    verification_steps: t.verification_steps ?? [],
    complexity: t.complexity ?? null,
    routing_decision: t.routing_decision ?? null,
    skip_verification: t.skip_verification ?? false,
    verification_timeout_ms: t.verification_timeout_ms ?? null,
    max_verification_retries: t.max_verification_retries ?? 0,
  };
  return JSON.stringify(frame);
}

/**
 * A task just assigned, as the tasks worker hands it to main: the ids the
 * agent state machine needs and the `task_assign` frame already encoded, so
 * the whole record never crosses the thread boundary.
 */
export interface Offered {
  id: string;
  assigned_to: string;
  generation: number;
  frame: string;
}

export function offered(t: Task): Offered {
  return { id: t.id, assigned_to: t.assigned_to as string, generation: t.generation, frame: assignFrame(t) };
}
