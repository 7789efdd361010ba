import type { Domain } from '../shared/domains/domain.js';
import type { TaskApi } from '../shared/domains/tasks.js';
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
  thresholds: () => Record<string, unknown>;
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

/** Thresholds; `PUT /api/config/alert-thresholds` overrides any of them from the next check. */
const DEFAULTS = {
  queue_growing_min: 10,
  failure_rate_pct: 50,
  failure_min_tasks: 10,
  stuck_ms: 600_000,
  violations_per_min: 100,
};

interface Ctx {
  t: typeof DEFAULTS;
  now: number;
  violationsPerMin: number;
}

type Rule = (d: AlertDeps, c: Ctx) => Promise<Omit<Alert, 'fired_at' | 'acknowledged'> | null>;

/**
 * The §3.6 rules that mean something on this hub (tier_down and
 * hub_invocation_rate watch features §9.15 leaves out, so they never fire).
 */
const RULES: Record<string, Rule> = {
  queue_growing: async (d, { t }) => {
    const q = d.metricsApi().queue_depth;
    return q.trend === 'growing' && q.current >= t.queue_growing_min
      ? { rule_id: 'queue_growing', severity: 'warning', message: 'task queue is growing', details: q }
      : null;
  },
  high_failure_rate: async (d, { t }) => {
    const w = d.metricsApi().error_rates.window;
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

/** Evaluates the rules every check; an alert stays until its condition clears, acknowledged or not. */
export class Alerts {
  private readonly active = new Map<string, Alert>();
  /** told when an alert fires, changes, clears (null) or is acknowledged (the live dashboard) */
  onChange: ((rule_id: string, alert: Alert | null) => void) | null = null;
  private last = { total: 0, at: Date.now() };

  async check(d: AlertDeps, now = Date.now()): Promise<void> {
    const t = { ...DEFAULTS, ...(d.thresholds() as Partial<typeof DEFAULTS>) };
    const total = d.violations.total;
    const violationsPerMin = ((total - this.last.total) * 60_000) / Math.max(1, now - this.last.at);
    this.last = { total, at: now };
    for (const [id, rule] of Object.entries(RULES)) {
      const hit = await rule(d, { t, now, violationsPerMin }).catch(() => null);
      const was = this.active.get(id);
      if (hit && !was) {
        this.active.set(id, { ...hit, fired_at: now, acknowledged: false });
        d.log.warn({ rule_id: id, severity: hit.severity, details: hit.details }, `alert fired: ${hit.message}`);
      } else if (hit && was) {
        was.details = hit.details;
        was.message = hit.message;
      } else if (!hit && was) {
        this.active.delete(id);
        d.log.info({ rule_id: id }, 'alert cleared');
      }
      if (hit || was) this.onChange?.(id, this.active.get(id) ?? null);
    }
  }

  list(): Alert[] {
    return [...this.active.values()];
  }

  acknowledge(id: string): boolean {
    const a = this.active.get(id);
    if (a) {
      a.acknowledged = true;
      this.onChange?.(id, a);
    }
    return a !== undefined;
  }
}
