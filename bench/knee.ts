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
 * until throughput stops rising (two steps in a row add under 5 % over the
 * best step before them: one noisy step on a shared machine does not end the
 * ramp) or the ack p99 passes `--knee-p99`, or the windows run out. Returns
 * the next step, or null when the ramp is done.
 */
export function nextRampStep(o: BenchOptions, plan: Plan, done: readonly PhaseReport[]): PhaseDef | null {
  const ramp = done.filter(isRamp);
  const rates = ramp.map((p) => primaryRate(plan, p));
  const flat = (i: number) => i > 0 && rates[i] < Math.max(...rates.slice(0, i)) * (1 + MIN_GAIN);
  const n = ramp.length;
  if (n && (ramp[n - 1].latency.ack?.p99_ms ?? 0) > o.kneeP99Ms) return null;
  if (flat(n - 1) && flat(n - 2)) return null;
  const window = RAMP[n];
  if (window === undefined || window > o.maxWindow) return null;
  return { label: `${RAMP_PREFIX} w=${window}`, mode: 'closed', window };
}
