import { build, type Histogram } from 'hdr-histogram-js';
import type { DomainStats } from '../shared/domains/domain.js';
import type { TaskFigures } from '../shared/domains/tasks.js';
import type { DeliveryCounters } from './fanout.js';
import type { Fleet } from './fleet.js';
import type { FsmState } from './scheduler.js';

/** What the metrics read from the rest of the hub when asked. */
export interface MetricSources {
  fleet: Fleet;
  agents: {
    counts(): Record<FsmState, number>;
    stateOf(agent: string): FsmState;
    taskOf(agent: string): string | null;
  };
  tokenHolders: () => number;
  storageHealth: () => Record<string, unknown>;
  domains: ReadonlyArray<{ name: string; stats: DomainStats }>;
  counters: DeliveryCounters;
  violations: { total: number };
  validator: { lenientAccepted: number };
  /** the tasks domain's figures after its last batch */
  tasks: () => TaskFigures | null;
}

const HOUR = 3600_000;
const BUCKET = 10 * 60_000;

const newHistogram = () =>
  build({ lowestDiscernibleValue: 1, highestTrackableValue: 3_600_000_000, numberOfSignificantValueDigits: 3 });

interface Bucket {
  start: number;
  latency: Histogram;
  total: number;
  failed: number;
  dead: number;
}

function percentiles(h: Histogram, scale = 1) {
  return {
    p50: h.getValueAtPercentile(50) / scale,
    p90: h.getValueAtPercentile(90) / scale,
    p99: h.getValueAtPercentile(99) / scale,
    p999: h.getValueAtPercentile(99.9) / scale,
    max: h.maxValue / scale,
    count: h.totalCount,
  };
}

/**
 * In-memory metrics: HDR histograms of batch round trips per domain and of
 * task latency (submit → finished), 10-minute buckets for the 1 h window,
 * and queue-depth samples every 10 s. Served as `/api/metrics` (the
 * original's JSON shape) and as Prometheus text on the admin port (§9.17).
 */
export class Metrics {
  private readonly batches = new Map<string, Histogram>();
  private readonly latency = newHistogram();
  private readonly totals = { total: 0, failed: 0, dead: 0 };
  private buckets: Bucket[] = [];
  private queue: Array<{ t: number; depth: number }> = [];

  /** A batch round trip (enqueue of its first item → results back), in µs. */
  batch(domain: string, micros: number): void {
    const h = this.batches.get(domain) ?? newHistogram();
    this.batches.set(domain, h);
    h.recordValue(Math.max(1, Math.round(micros)));
  }

  private bucket(now: number): Bucket {
    const start = now - (now % BUCKET);
    let b = this.buckets[this.buckets.length - 1];
    if (!b || b.start !== start) {
      b = { start, latency: newHistogram(), total: 0, failed: 0, dead: 0 };
      this.buckets.push(b);
      this.buckets = this.buckets.filter((x) => x.start > now - HOUR);
    }
    return b;
  }

  /** A task attempt ended: completed, retried (a failure) or dead-lettered. */
  taskOutcome(outcome: 'complete' | 'retried' | 'dead_letter', createdAt: number, now: number): void {
    const b = this.bucket(now);
    b.total++;
    this.totals.total++;
    if (outcome === 'complete') {
      const ms = Math.max(1, now - createdAt);
      b.latency.recordValue(ms);
      this.latency.recordValue(ms);
      return;
    }
    b.failed++;
    this.totals.failed++;
    if (outcome === 'dead_letter') {
      b.dead++;
      this.totals.dead++;
    }
  }

  sampleQueue(depth: number, now: number): void {
    this.queue.push({ t: now, depth });
    while (this.queue.length && this.queue[0].t < now - HOUR) this.queue.shift();
  }

  private rates(x: { total: number; failed: number; dead: number }) {
    return {
      total_tasks: x.total,
      failed: x.failed,
      dead_letter: x.dead,
      failure_rate_pct: x.total ? Math.round((x.failed / x.total) * 1000) / 10 : 0,
    };
  }

  /** GET /api/metrics (§3.6 shape). */
  api(src: MetricSources) {
    const now = Date.now();
    const live = this.buckets.filter((b) => b.start > now - HOUR);
    const window = newHistogram();
    for (const b of live) window.add(b.latency);
    const sum = live.reduce(
      (a, b) => ({ total: a.total + b.total, failed: a.failed + b.failed, dead: a.dead + b.dead }),
      {
        total: 0,
        failed: 0,
        dead: 0,
      },
    );
    const depths = this.queue.map((q) => q.depth);
    const current = depths[depths.length - 1] ?? 0;
    const earlier = depths[Math.max(0, depths.length - 7)] ?? current;
    const fsm = src.agents.counts();
    const online = src.fleet.count();
    return {
      timestamp: now,
      window_ms: HOUR,
      queue_depth: {
        current,
        trend: current > earlier ? 'growing' : current < earlier ? 'shrinking' : 'stable',
        max_1h: depths.length ? Math.max(...depths) : 0,
        avg_1h: depths.length ? depths.reduce((a, b) => a + b, 0) / depths.length : 0,
      },
      task_latency: { window: percentiles(window), cumulative: percentiles(this.latency) },
      agent_utilization: {
        system: {
          total_agents: src.tokenHolders(),
          agents_online: online,
          agents_idle: fsm.idle,
          agents_working: fsm.working + fsm.assigned,
          utilization_pct: online ? Math.round(((fsm.working + fsm.assigned) / online) * 1000) / 10 : 0,
        },
        per_agent: [...src.fleet.agentIds()].map((agent_id) => ({
          agent_id,
          fsm_state: src.agents.stateOf(agent_id),
          current_task_id: src.agents.taskOf(agent_id),
        })),
      },
      error_rates: { window: this.rates(sum), cumulative: this.rates(this.totals) },
      dets_health: src.storageHealth(),
    };
  }

  /** Prometheus text exposition for the admin port's /metrics. */
  prometheus(src: MetricSources): string {
    const lines: string[] = [];
    const gauge = (name: string, help: string, samples: Array<[string, number]>, type = 'gauge') => {
      lines.push(`# HELP ${name} ${help}`, `# TYPE ${name} ${type}`);
      for (const [labels, v] of samples) lines.push(`${name}${labels} ${v}`);
    };
    gauge('agentcom_connections', 'Open WebSocket connections.', [['', [...src.fleet.sockets()].length]]);
    gauge('agentcom_agents_connected', 'Identified agents.', [['', src.fleet.count()]]);
    const fsm = src.agents.counts();
    gauge(
      'agentcom_agents',
      'Agents by FSM state.',
      Object.entries(fsm).map(([s, n]) => [`{state="${s}"}`, n]),
    );
    const domains = src.domains;
    gauge(
      'agentcom_batches_total',
      'Batches committed per domain.',
      domains.map((d) => [`{domain="${d.name}"}`, d.stats.batches]),
      'counter',
    );
    gauge(
      'agentcom_batch_items_total',
      'Requests applied per domain.',
      domains.map((d) => [`{domain="${d.name}"}`, d.stats.items]),
      'counter',
    );
    gauge(
      'agentcom_domain_queue',
      'Requests waiting per domain.',
      domains.map((d) => [`{domain="${d.name}"}`, d.stats.queued]),
    );
    gauge(
      'agentcom_domain_healthy',
      '1 when the domain storage is healthy.',
      domains.map((d) => [`{domain="${d.name}"}`, d.stats.state === 'ready' ? 1 : 0]),
    );
    const q: Array<[string, number]> = [];
    for (const [domain, h] of this.batches) {
      const p = percentiles(h, 1e6);
      for (const [k, v] of [
        ['0.5', p.p50],
        ['0.99', p.p99],
        ['0.999', p.p999],
        ['1', p.max],
      ] as const) {
        q.push([`{domain="${domain}",quantile="${k}"}`, v]);
      }
    }
    gauge('agentcom_batch_seconds', 'Batch round trip (queue, transaction, fsync), HDR percentiles.', q, 'summary');
    const lat = percentiles(this.latency, 1000);
    gauge(
      'agentcom_task_latency_seconds',
      'Task submit to completion, HDR percentiles.',
      [
        ['{quantile="0.5"}', lat.p50],
        ['{quantile="0.99"}', lat.p99],
        ['{quantile="0.999"}', lat.p999],
        ['{quantile="1"}', lat.max],
      ],
      'summary',
    );
    gauge(
      'agentcom_task_outcomes_total',
      'Task attempts by outcome.',
      [
        ['{outcome="complete"}', this.totals.total - this.totals.failed],
        ['{outcome="failed"}', this.totals.failed - this.totals.dead],
        ['{outcome="dead_letter"}', this.totals.dead],
      ],
      'counter',
    );
    gauge(
      'agentcom_mailbox_dropped_total',
      'Mailbox entries dropped for the per-agent cap.',
      [['', src.counters.mailboxDropped]],
      'counter',
    );
    gauge(
      'agentcom_live_dropped_total',
      'Live frames dropped for slow consumers (kept in mailboxes).',
      [['', src.counters.liveDropped]],
      'counter',
    );
    gauge(
      'agentcom_violations_total',
      'Validation failures and rate-limit refusals.',
      [['', src.violations.total]],
      'counter',
    );
    gauge(
      'agentcom_lenient_accepted_total',
      'Limit violations accepted in log-only mode.',
      [['', src.validator.lenientAccepted]],
      'counter',
    );
    const tasks = src.tasks();
    if (tasks) {
      gauge(
        'agentcom_tasks',
        'Tasks by state.',
        Object.entries(tasks.by_status).map(([s, n]) => [`{state="${s}"}`, n]),
      );
      gauge(
        'agentcom_tasks_removed_total',
        'Finished tasks removed by retention.',
        Object.entries(tasks.removed).map(([s, n]) => [`{state="${s}"}`, n]),
        'counter',
      );
    }
    const mem = process.memoryUsage();
    gauge('agentcom_rss_bytes', 'Resident set size of the hub process.', [['', mem.rss]]);
    return `${lines.join('\n')}\n`;
  }
}
