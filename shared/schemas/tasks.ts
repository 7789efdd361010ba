import * as v from 'valibot';
import { agentId, capabilities, jsonObject, type Limits, nonNegInt, opt, queryInt, str } from './common.js';

export const PRIORITIES = { urgent: 0, high: 1, normal: 2, low: 3 } as const;
export const TIERS = ['trivial', 'standard', 'complex', 'unknown'] as const;
/** `scheduled`: waiting for its `run_at` or a retry back-off, then queued in its lane. */
export const TaskStatus = ['scheduled', 'queued', 'assigned', 'completed', 'dead_letter'] as const;
export type TaskStatusT = (typeof TaskStatus)[number];
export const BACKOFF_TYPES = ['fixed', 'exponential'] as const;
/** A lane by its name, as the queue admin routes take it. */
export const laneName = () =>
  v.picklist(Object.keys(PRIORITIES) as Array<keyof typeof PRIORITIES>, 'one of urgent, high, normal, low');

/** POST /api/tasks (§3.3 with the §9.2 limits). */
export function makeTaskSchemas(l: Limits) {
  const taskId = str(128);
  return {
    taskSubmit: v.object({
      description: v.pipe(
        v.string(),
        v.minLength(1, 'must not be empty'),
        v.maxLength(l.maxDescription, `at most ${l.maxDescription} characters`),
      ),
      priority: opt(str(32)),
      metadata: opt(jsonObject(l.maxPayloadBytes)),
      max_retries: opt(v.pipe(nonNegInt(), v.maxValue(100, 'at most 100'))),
      complete_by: opt(nonNegInt()),
      needed_capabilities: opt(capabilities(l)),
      repo: opt(str(512)),
      branch: opt(str(256)),
      file_hints: opt(
        v.array(
          v.object({
            path: v.pipe(v.string(), v.minLength(1, 'must not be empty'), v.maxLength(1024)),
            reason: opt(str(2000)),
          }),
        ),
      ),
      success_criteria: opt(v.array(str(2000))),
      verification_steps: opt(
        v.array(
          v.object({
            type: v.pipe(v.string(), v.minLength(1, 'must not be empty'), v.maxLength(64)),
            target: v.pipe(v.string(), v.minLength(1, 'must not be empty'), v.maxLength(2000)),
            description: opt(str(2000)),
          }),
        ),
      ),
      complexity_tier: opt(v.picklist(TIERS, `one of ${TIERS.join(', ')}`)),
      max_verification_retries: opt(v.pipe(nonNegInt(), v.maxValue(5, 'at most 5'))),
      skip_verification: opt(v.boolean()),
      verification_timeout_ms: opt(nonNegInt()),
      depends_on: opt(v.array(taskId)),
      goal_id: opt(str(128)),
      assign_to: opt(agentId(l)),
      idempotency_key: opt(str(128)),
      // delayed tasks: not before this time (ms since epoch), or this long after the submit; not both
      run_at: opt(nonNegInt()),
      delay_ms: opt(nonNegInt()),
      // a failed attempt is retried after this wait (exponential: delay_ms × 2^(retries − 1))
      backoff: opt(
        v.object({
          type: v.picklist(BACKOFF_TYPES, `one of ${BACKOFF_TYPES.join(', ')}`),
          delay_ms: nonNegInt(),
        }),
      ),
    }),
    taskQuery: v.object({
      status: v.optional(v.picklist(TaskStatus, `one of ${TaskStatus.join(', ')}`)),
      /** a task id or the start of one */
      id: v.optional(str(128)),
      priority: v.optional(v.picklist(Object.keys(PRIORITIES) as Array<keyof typeof PRIORITIES>)),
      assigned_to: v.optional(str(l.maxAgentId)),
      goal_id: v.optional(str(128)),
      submitted_by: v.optional(str(l.maxAgentId)),
      capability: v.optional(str(l.maxCapability)),
      limit: v.optional(queryInt()),
      cursor: v.optional(str(512)),
    }),
    pageQuery: v.object({ limit: v.optional(queryInt()), cursor: v.optional(str(512)) }),
    pushTask: v.object({ agent_id: agentId(l), description: str(l.maxDescription), metadata: opt(jsonObject()) }),
    queueLane: v.object({ lane: opt(laneName()) }),
    queueDrain: v.object({ lane: opt(laneName()), scheduled: opt(v.boolean()) }),
    deadLetterBulk: v.object({
      task_ids: opt(v.pipe(v.array(taskId), v.maxLength(1000, 'at most 1000 ids'))),
      older_than_ms: opt(nonNegInt()),
    }),
  };
}

export type TaskSubmit = v.InferOutput<ReturnType<typeof makeTaskSchemas>['taskSubmit']>;

/** The reply to POST /api/tasks (§3.3): 201 when queued, 200 for an idempotent repeat. */
export const TaskSubmittedSchema = v.object({
  status: v.string(),
  task_id: v.string(),
  priority: v.number(),
  created_at: v.number(),
  warnings: v.optional(v.array(v.string())),
  /** when a scheduled task is due */
  run_at: v.optional(v.number()),
  /** top-level fields of the request this hub does not know: accepted, and ignored */
  ignored_fields: v.optional(v.array(v.string())),
});
export type TaskSubmitted = v.InferOutput<typeof TaskSubmittedSchema>;

/** The stored task (§3.3 Task). Built by the tasks domain, never parsed from a client. */
export const TaskSchema = v.object({
  id: v.string(),
  description: v.string(),
  priority: v.number(),
  metadata: v.record(v.string(), v.unknown()),
  max_retries: v.number(),
  complete_by: v.nullable(v.number()),
  needed_capabilities: v.array(v.string()),
  repo: v.nullable(v.string()),
  branch: v.nullable(v.string()),
  file_hints: v.array(v.object({ path: v.string(), reason: v.optional(v.nullable(v.string())) })),
  success_criteria: v.array(v.string()),
  verification_steps: v.array(
    v.object({ type: v.string(), target: v.string(), description: v.optional(v.nullable(v.string())) }),
  ),
  max_verification_retries: v.number(),
  depends_on: v.array(v.string()),
  goal_id: v.nullable(v.string()),
  status: v.picklist(TaskStatus),
  assigned_to: v.nullable(v.string()),
  assigned_at: v.nullable(v.number()),
  generation: v.number(),
  retry_count: v.number(),
  reclaim_count: v.number(),
  last_error: v.nullable(v.string()),
  result: v.nullable(v.record(v.string(), v.unknown())),
  tokens_used: v.nullable(v.number()),
  submitted_by: v.string(),
  created_at: v.number(),
  updated_at: v.number(),
  history: v.array(v.object({ event: v.string(), timestamp: v.number(), details: v.record(v.string(), v.unknown()) })),
  complexity: v.nullable(v.record(v.string(), v.unknown())),
  verification_report: v.nullable(v.record(v.string(), v.unknown())),
  verification_history: v.nullable(v.array(v.record(v.string(), v.unknown()))),
  routing_decision: v.nullable(v.record(v.string(), v.unknown())),
  // kept for assignment, left out of the API view (§3.3)
  complexity_tier: v.nullable(v.string()),
  skip_verification: v.boolean(),
  verification_timeout_ms: v.nullable(v.number()),
  assign_to: v.nullable(v.string()),
  // absent in records written before delayed tasks and back-off existed
  /** not before this time (a delayed submit); also its place in the lane */
  run_at: v.optional(v.nullable(v.number())),
  /** while a failed task waits for its back-off */
  retry_at: v.optional(v.nullable(v.number())),
  backoff: v.optional(v.nullable(v.object({ type: v.picklist(BACKOFF_TYPES), delay_ms: v.number() }))),
});
export type Task = v.InferOutput<typeof TaskSchema>;

/** The API view of a task: the stored fields less the four §3.3 leaves out. */
export function taskView(
  t: Task,
): Omit<Task, 'complexity_tier' | 'skip_verification' | 'verification_timeout_ms' | 'assign_to'> {
  const { complexity_tier: _c, skip_verification: _s, verification_timeout_ms: _v, assign_to: _a, ...view } = t;
  return view;
}

/** A task as a list row of the live dashboard shows it (the same field names as the API view). */
export function taskRow(t: Task) {
  return {
    id: t.id,
    status: t.status,
    priority: t.priority,
    description: t.description.slice(0, 120),
    assigned_to: t.assigned_to,
    submitted_by: t.submitted_by,
    needed_capabilities: t.needed_capabilities,
    retry_count: t.retry_count,
    last_error: t.last_error,
    created_at: t.created_at,
    updated_at: t.updated_at,
    run_at: t.run_at ?? null,
    retry_at: t.retry_at ?? null,
  };
}
export type TaskRow = ReturnType<typeof taskRow>;
