import { hubFrameSchemas } from '../../shared/schemas/hub-frames.js';

/** Every field of a `task_assign` frame (§2.4), sorted: the frame's schema lists them. */
export const ASSIGN_KEYS = Object.keys(hubFrameSchemas.task_assign.entries).sort();

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
