import type { Task } from '../shared/schemas/tasks.js';

/** Words that mark a task as trivial when no tier is given (§4 Scheduler). */
const TRIVIAL = /\b(typo|rename|trivial|echo|bump|format|lint|comment|spelling)\b/i;

/** `complexity` from an explicit `complexity_tier`, else a keyword guess (at least `standard`). */
export function complexityOf(description: string, explicit: string | null) {
  const inferredTier = TRIVIAL.test(description) ? 'trivial' : 'standard';
  const inferred = { tier: inferredTier, confidence: inferredTier === 'trivial' ? 0.6 : 0.5 };
  return {
    effective_tier: explicit ?? inferredTier,
    source: explicit ? 'explicit' : 'inferred',
    explicit_tier: explicit,
    inferred,
  };
}

/**
 * No LLM routing here (§9.14): a trivial task goes to the sidecar's shell
 * executor; any other task gets `routing_decision: null` (the wake path).
 */
export function routingFor(
  t: Pick<Task, 'complexity'>,
  candidateCount: number,
  now: number,
): Record<string, unknown> | null {
  if (t.complexity?.effective_tier !== 'trivial') return null;
  return {
    effective_tier: 'trivial',
    target_type: 'sidecar',
    selected_endpoint: null,
    selected_model: null,
    fallback_used: false,
    fallback_reason: null,
    classification_reason: t.complexity.source === 'explicit' ? 'explicit complexity_tier' : 'trivial keyword',
    estimated_cost_tier: 'free',
    fallback_from_tier: null,
    candidate_count: candidateCount,
    decided_at: now,
  };
}
