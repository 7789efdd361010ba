import * as v from 'valibot';
import {
  ALERT_THRESHOLD_DEFAULTS,
  type AlertThresholdOverrides,
  type AlertThresholds,
  AlertThresholdsSchema,
} from '../shared/schemas/alerts.js';
import type { Logger } from './log.js';

/**
 * Hub-wide settings changed at run time through the config routes (§3.4) and
 * persisted in the registry domain. Main keeps the current values.
 */
export class Settings {
  heartbeat_interval_ms = 900_000;
  mailbox_ttl_ms: number;
  default_repo: string | null = null;
  /** the thresholds set with PUT; the rules use these over the defaults */
  alert_thresholds: AlertThresholdOverrides = {};

  constructor(
    private readonly defaultMailboxTtlMs: number,
    private readonly log?: Logger,
  ) {
    this.mailbox_ttl_ms = defaultMailboxTtlMs;
  }

  /** The thresholds in effect: the defaults, with those set over them. */
  alertThresholds(): AlertThresholds {
    return { ...ALERT_THRESHOLD_DEFAULTS, ...this.alert_thresholds };
  }

  /** Takes the stored values; a key not stored takes its default (a restore may bring back fewer). */
  load(stored: Record<string, unknown>): void {
    const num = (v: unknown, def: number) => (typeof v === 'number' ? v : def);
    this.heartbeat_interval_ms = num(stored.heartbeat_interval_ms, 900_000);
    this.mailbox_ttl_ms = num(stored.mailbox_ttl_ms, this.defaultMailboxTtlMs);
    this.default_repo = typeof stored.default_repo === 'string' ? stored.default_repo : null;
    this.alert_thresholds = this.validThresholds(stored.alert_thresholds);
  }

  /**
   * Hubs before the thresholds were validated stored any object: what does
   * not fit now is dropped, with a warning, so its rule runs on the default
   * instead of never firing.
   */
  private validThresholds(stored: unknown): AlertThresholdOverrides {
    if (stored === undefined || stored === null) return {};
    const whole = v.safeParse(AlertThresholdsSchema, stored);
    if (whole.success) return whole.output;
    const kept: Record<string, unknown> = {};
    const entries = typeof stored === 'object' ? Object.entries(stored as object) : [];
    for (const [k, value] of entries) {
      if (v.safeParse(AlertThresholdsSchema, { [k]: value }).success) kept[k] = value;
    }
    const ignored = entries.map(([k]) => k).filter((k) => !(k in kept));
    this.log?.warn({ ignored, using: kept }, 'stored alert thresholds that do not fit are ignored (defaults apply)');
    return kept as AlertThresholdOverrides;
  }
}
