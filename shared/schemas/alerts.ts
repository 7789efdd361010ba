import * as v from 'valibot';

/** The alert rules' thresholds when none is set (`PUT /api/config/alert-thresholds` overrides any of them). */
export const ALERT_THRESHOLD_DEFAULTS = {
  /** queue_growing: the queue grew over the last minute and holds at least this many tasks */
  queue_growing_min: 10,
  /** high_failure_rate: at least this share of the last hour's attempts failed … */
  failure_rate_pct: 50,
  /** … out of at least this many */
  failure_min_tasks: 10,
  /** stuck_tasks: an assigned task without progress for this long */
  stuck_ms: 600_000,
  /** high_error_rate: refused frames and requests per minute */
  violations_per_min: 100,
};

export type AlertThresholds = typeof ALERT_THRESHOLD_DEFAULTS;

const whole = (min: number, max: number) =>
  v.optional(v.pipe(v.number(), v.integer(), v.minValue(min), v.maxValue(max)));

/**
 * A threshold outside what its rule can meet would make the rule stop firing
 * without a word, so each is bounded, and an unknown key is refused rather
 * than stored and ignored.
 */
export const AlertThresholdsSchema = v.strictObject({
  queue_growing_min: whole(1, 10_000_000),
  failure_rate_pct: v.optional(v.pipe(v.number(), v.minValue(0), v.maxValue(100))),
  failure_min_tasks: whole(1, 10_000_000),
  stuck_ms: whole(1_000, 30 * 24 * 3600_000),
  violations_per_min: v.optional(v.pipe(v.number(), v.minValue(1), v.maxValue(10_000_000))),
});

export type AlertThresholdOverrides = v.InferOutput<typeof AlertThresholdsSchema>;
