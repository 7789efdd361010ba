import type { BenchOptions } from './options.js';
import type { PhaseReport } from './report.js';
import type { Plan } from './scenarios.js';
import type { PhaseDef } from './target.js';

/** The closed-loop windows `--find-max` tries, each doubling the ops in flight per sender. */
const RAMP = [1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024];
/** a step that adds less than this share of throughput is past the knee */
const MIN_GAIN = 0.05;

export const RAMP_PREFIX = 'find-max';

/** The primary throughput of a phase: what `--rate-of-max` scales and the ratio compares first. */
export function primaryRate(plan: Plan, r: PhaseReport): number {
  return plan.primary === 'cycles' ? r.throughput.cycles_per_s : r.throughput.ops_per_s;
}

const isRamp = (p: PhaseReport) => p.label.startsWith(RAMP_PREFIX);

/**
 * The knee of a ramp: the step with the highest throughput among those whose
 * ack p99 stayed within the bound (the first step if none did).
 */
export function kneeOf(plan: Plan, phases: readonly PhaseReport[], p99BoundMs: number): PhaseReport | null {
  const ramp = phases.filter(isRamp);
  if (!ramp.length) return null;
  const within = ramp.filter((p) => (p.latency.ack?.p99_ms ?? 0) <= p99BoundMs);
  return (within.length ? within : ramp.slice(0, 1)).reduce((a, b) =>
    primaryRate(plan, b) > primaryRate(plan, a) ? b : a,
  );
}

/**
 * `--find-max`: closed-loop steps of growing concurrency (senders × window)
 * until throughput stops rising (a step adds under 5 %) or the ack p99 passes
 * `--knee-p99`, or the windows run out. Returns the next step, or null when
 * the ramp is done.
 */
export function nextRampStep(o: BenchOptions, plan: Plan, done: readonly PhaseReport[]): PhaseDef | null {
  const ramp = done.filter(isRamp);
  const last = ramp[ramp.length - 1];
  const prev = ramp[ramp.length - 2];
  if (last) {
    if ((last.latency.ack?.p99_ms ?? 0) > o.kneeP99Ms) return null;
    if (prev && primaryRate(plan, last) < primaryRate(plan, prev) * (1 + MIN_GAIN)) return null;
  }
  const window = RAMP[ramp.length];
  if (window === undefined || window > o.maxWindow) return null;
  return { label: `${RAMP_PREFIX} w=${window}`, mode: 'closed', window };
}
