/** Every field of a `task_assign` frame (§2.4), sorted. */
export const ASSIGN_KEYS = [
  'type',
  'task_id',
  'description',
  'metadata',
  'generation',
  'assigned_at',
  'repo',
  'branch',
  'file_hints',
  'success_criteria',
  'verification_steps',
  'complexity',
  'routing_decision',
  'skip_verification',
  'verification_timeout_ms',
  'max_verification_retries',
].sort();

/** Every field of a trivial task's `routing_decision` (§9.14). */
export const ROUTING_KEYS = [
  'effective_tier',
  'target_type',
  'selected_endpoint',
  'selected_model',
  'fallback_used',
  'fallback_reason',
  'classification_reason',
  'estimated_cost_tier',
];
