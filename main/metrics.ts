import { build, type Histogram } from 'hdr-histogram-js';
import type { Fleet } from './fleet.js';
import { HubPrometheus } from './prometheus.js';
import type { FsmState, Scheduler } from './scheduler.js';

/** What `/api/metrics` reads from the rest of the hub when asked. */
export interface MetricSources {
  fleet: Fleet;
  agents: Pick<Scheduler, 'counts' | 'withState'>;
  /** the agents holding at least one token */
  tokens: { agentCount(): number; agents(): Iterable<string> };
  storageHealth: () => Record<string, unknown>;
}

/**
 * Agents by state: the FSM state of each connected agent, and `offline` for
 * every agent that holds a token but has no identified socket (the FSM forgets
 * an agent when it leaves, so its own `offline` count is always 0).
 */
export function agentsByState(src: Pick<MetricSources, 'fleet' | 'agents' | 'tokens'>): Record<FsmState, number> {
  const out = { ...src.agents.counts() };
  const online = src.fleet.agentIds();
  let offline = 0;
  for (const agent of src.tokens.agents()) if (!online.has(agent)) offline++;
  out.offline = offline;
  return out;
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
 * In-memory metrics for `/api/metrics` (the original's JSON shape): an HDR
 * histogram of task latency (submit → finished) with 10-minute buckets for
 * the 1 h window, and queue-depth samples every 10 s. What it is told also
 * feeds the admin port's Prometheus registry (`prom`, §9.17).
 */
export class Metrics {
  readonly prom = new HubPrometheus();
  private readonly latency = newHistogram();
  private readonly totals = { total: 0, failed: 0, dead: 0 };
  private buckets: Bucket[] = [];
  private queue: Array<{ t: number; depth: number }> = [];

  /** A batch round trip (enqueue of its first item → results back), in µs. */
  batch(domain: string, micros: number): void {
    this.prom.batch(domain, micros / 1e6);
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
    this.prom.taskOutcome(outcome, Math.max(0, now - createdAt) / 1000);
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
          total_agents: src.tokens.agentCount(),
          agents_online: online,
          agents_idle: fsm.idle,
          agents_working: fsm.working + fsm.assigned,
          utilization_pct: online ? Math.round(((fsm.working + fsm.assigned) / online) * 1000) / 10 : 0,
        },
        per_agent: [...src.fleet.agentIds()].map((agent_id) => src.agents.withState({ agent_id })),
      },
      error_rates: { window: this.rates(sum), cumulative: this.rates(this.totals) },
      dets_health: src.storageHealth(),
    };
  }
}
