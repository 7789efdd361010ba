import type { Domain } from '../shared/domains/domain.js';
import type { TaskApi } from '../shared/domains/tasks.js';
import type { AlertThresholds } from '../shared/schemas/alerts.js';
import type { Fleet } from './fleet.js';
import type { Logger } from './log.js';

/** What the rules read. */
export interface AlertDeps {
  metricsApi: () => {
    queue_depth: { current: number; trend: string } & Record<string, unknown>;
    error_rates: { window: { total_tasks: number; failure_rate_pct: number } & Record<string, unknown> };
  };
  tasks: Domain<TaskApi>;
  fleet: Fleet;
  /** the thresholds in effect (defaults merged) */
  thresholds: () => AlertThresholds;
  violations: { total: number };
  log: Logger;
}

export interface Alert {
  rule_id: string;
  severity: 'warning' | 'critical';
  message: string;
  details: Record<string, unknown>;
  fired_at: number;
  acknowledged: boolean;
}

export type AlertEvent = 'fired' | 'resolved';

export interface AlertsOptions {
  /** stores the firing alerts (with their acknowledgements) in the registry domain */
  persist: (active: Record<string, Alert>) => Promise<void>;
  /** told when an alert fires or resolves (the webhook) */
  notify?: (event: AlertEvent, alert: Alert, now: number) => void;
  log: Logger;
}

interface Ctx {
  t: AlertThresholds;
  now: number;
  violationsPerMin: number;
  /** `metricsApi()`, built once per check */
  metrics: ReturnType<AlertDeps['metricsApi']>;
}

type Rule = (d: AlertDeps, c: Ctx) => Promise<Omit<Alert, 'fired_at' | 'acknowledged'> | null>;

/**
 * The §3.6 rules that mean something on this hub (tier_down and
 * hub_invocation_rate watch features §9.15 leaves out, so they never fire).
 */
const RULES: Record<string, Rule> = {
  queue_growing: async (_d, { t, metrics }) => {
    const q = metrics.queue_depth;
    return q.trend === 'growing' && q.current >= t.queue_growing_min
      ? { rule_id: 'queue_growing', severity: 'warning', message: 'task queue is growing', details: q }
      : null;
  },
  high_failure_rate: async (_d, { t, metrics }) => {
    const w = metrics.error_rates.window;
    return w.total_tasks >= t.failure_min_tasks && w.failure_rate_pct >= t.failure_rate_pct
      ? { rule_id: 'high_failure_rate', severity: 'critical', message: 'tasks are failing', details: w }
      : null;
  },
  stuck_tasks: async (d, { t, now }) => {
    const page = await d.tasks.call('list', { status: 'assigned' });
    const stuck = page.tasks.filter((x) => now - x.updated_at > t.stuck_ms);
    return stuck.length
      ? {
          rule_id: 'stuck_tasks',
          severity: 'warning',
          message: `${stuck.length} assigned task(s) without progress`,
          details: { task_ids: stuck.slice(0, 50).map((x) => x.id) },
        }
      : null;
  },
  no_agents_online: async (d) => {
    const queued = (await d.tasks.call('health', {})).counts.queued ?? 0;
    return d.fleet.count() === 0 && queued > 0
      ? {
          rule_id: 'no_agents_online',
          severity: 'critical',
          message: 'tasks wait and no agent is online',
          details: { queued },
        }
      : null;
  },
  dependency_failed: async (d) => {
    const n = (await d.tasks.call('stats', {})).dependency_failed;
    return n > 0
      ? {
          rule_id: 'dependency_failed',
          severity: 'warning',
          message: `${n} task(s) failed because a task they depend on failed or was cancelled`,
          details: { dead_letters: n },
        }
      : null;
  },
  high_error_rate: async (_d, { t, violationsPerMin }) =>
    violationsPerMin >= t.violations_per_min
      ? {
          rule_id: 'high_error_rate',
          severity: 'warning',
          message: 'many refused frames and requests',
          details: { per_min: Math.round(violationsPerMin) },
        }
      : null,
};

const ALERT_RULES = Object.keys(RULES);

/**
 * Evaluates the rules every check; an alert stays until its condition clears,
 * acknowledged or not. The firing alerts are persisted on every change, so a
 * restart neither forgets an acknowledgement nor announces an alert twice.
 */
export class Alerts {
  private readonly active = new Map<string, Alert>();
  /** told when an alert fires, changes, clears (null) or is acknowledged (the live dashboard) */
  onChange: ((rule_id: string, alert: Alert | null) => void) | null = null;
  private last = { total: 0, at: Date.now() };

  constructor(private readonly o: AlertsOptions) {}

  /** Takes the alerts that were firing when the hub stopped (or a restore's); the next check confirms or resolves them. */
  load(stored: unknown): void {
    this.active.clear();
    if (!stored || typeof stored !== 'object') return;
    for (const [id, a] of Object.entries(stored as Record<string, Alert>)) if (RULES[id]) this.active.set(id, a);
  }

  async check(d: AlertDeps, now = Date.now()): Promise<void> {
    const t = d.thresholds();
    const total = d.violations.total;
    const violationsPerMin = ((total - this.last.total) * 60_000) / Math.max(1, now - this.last.at);
    this.last = { total, at: now };
    const ctx: Ctx = { t, now, violationsPerMin, metrics: d.metricsApi() };
    let changed = false;
    for (const [id, rule] of Object.entries(RULES)) {
      const hit = await rule(d, ctx).catch(() => null);
      const was = this.active.get(id);
      if (hit && !was) {
        const alert = { ...hit, fired_at: now, acknowledged: false };
        this.active.set(id, alert);
        changed = true;
        d.log.warn({ rule_id: id, severity: hit.severity, details: hit.details }, `alert fired: ${hit.message}`);
        this.o.notify?.('fired', alert, now);
      } else if (hit && was) {
        was.details = hit.details;
        was.message = hit.message;
      } else if (!hit && was) {
        this.active.delete(id);
        changed = true;
        d.log.info({ rule_id: id }, 'alert cleared');
        this.o.notify?.('resolved', was, now);
      }
      if (hit || was) this.onChange?.(id, this.active.get(id) ?? null);
    }
    if (changed) await this.save();
  }

  list(): Alert[] {
    return [...this.active.values()];
  }

  /** Every rule, firing or not (the Prometheus gauges). */
  states(): Array<{ rule_id: string; firing: boolean; acknowledged: boolean }> {
    return ALERT_RULES.map((rule_id) => {
      const a = this.active.get(rule_id);
      return { rule_id, firing: a !== undefined, acknowledged: a?.acknowledged ?? false };
    });
  }

  /** Marks a firing alert acknowledged, persisted before the answer; false when it is not firing. */
  async acknowledge(id: string): Promise<boolean> {
    const a = this.active.get(id);
    if (!a) return false;
    if (a.acknowledged) return true;
    a.acknowledged = true;
    try {
      await this.o.persist(Object.fromEntries(this.active));
    } catch (err) {
      a.acknowledged = false;
      throw err;
    }
    this.o.log.info({ rule_id: id }, 'alert acknowledged');
    this.onChange?.(id, a);
    return true;
  }

  /** Stores the firing alerts; a failure is logged (the next change tries again). */
  async save(): Promise<void> {
    try {
      await this.o.persist(Object.fromEntries(this.active));
    } catch (err) {
      this.o.log.error({ err }, 'alerts could not be stored');
    }
  }
}
