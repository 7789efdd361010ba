export interface ReconnectOptions {
  /** first delay after a drop (default 250 ms) */
  initialDelayMs?: number;
  /** the delay never grows past this (default 30 s) */
  maxDelayMs?: number;
  /** growth per failed attempt (default 2) */
  factor?: number;
}

/**
 * Exponential back-off with "equal jitter": half the step is fixed, half
 * random, so a fleet that lost the same hub does not come back in lockstep,
 * and no attempt follows the last one at once.
 */
export function backoffDelay(attempt: number, o: ReconnectOptions = {}, random = Math.random): number {
  const initial = o.initialDelayMs ?? 250;
  const max = o.maxDelayMs ?? 30_000;
  const step = Math.min(max, initial * (o.factor ?? 2) ** attempt);
  return Math.round(step / 2 + (random() * step) / 2);
}
