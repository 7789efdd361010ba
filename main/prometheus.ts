import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from 'prom-client';
import type { DomainStats } from '../shared/domains/domain.js';
import type { TaskFigures } from '../shared/domains/tasks.js';

/** Sub-millisecond to seconds: a loopback ack is ~0.2 ms, a batch behind a slow disk can take seconds. */
const LATENCY_BUCKETS = [
  0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10,
];
/** A task lives from a few milliseconds (a trivial shell task) to hours (a queue behind a long job). */
const TASK_BUCKETS = [0.01, 0.05, 0.1, 0.5, 1, 5, 10, 30, 60, 300, 600, 1800, 3600, 7200, 21600];
/** A compaction pauses its domain from milliseconds (a small file) to minutes (gigabytes). */
const PAUSE_BUCKETS = [0.005, 0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300];

/** What the scrape-time figures read from the rest of the hub. */
export interface PromSources {
  connections(): number;
  agentsConnected(): number;
  /** agents by FSM state; `offline` = holding a token, not connected */
  agentsByState(): Record<string, number>;
  domains: ReadonlyArray<{ name: string; stats: DomainStats }>;
  counters: { mailboxDropped: number; liveDropped: number };
  violations: { total: number };
  validator: { lenientAccepted: number };
  /** the storage sampler's last figures per domain */
  storage(): Array<{ domain: string; file_size_bytes: number; fragmentation_ratio: number; reclaimable_bytes: number }>;
  /** the newest complete backup on disk (so it survives restarts) */
  lastBackup(): { at: number; bytes: number } | null;
  /** every rule the hub checks, firing or not */
  alerts(): Array<{ rule_id: string; firing: boolean; acknowledged: boolean }>;
  /** the tasks domain's figures after its last batch */
  tasks(): TaskFigures | null;
}

let processRegistry: Registry | null = null;

/**
 * The process's own figures (CPU, memory, event loop, GC, handles) with the
 * prom-client defaults. One set per process, however many hubs it runs (the
 * tests start many): the default collectors install process-wide observers
 * that are never removed, so they are made once.
 */
function processMetrics(): Registry {
  if (!processRegistry) {
    processRegistry = new Registry();
    collectDefaultMetrics({ register: processRegistry });
  }
  return processRegistry;
}

/** A figure kept elsewhere, read when scraped: the metric is cleared, then `read` sets it. */
type Read<M> = (m: M) => void;

const histogram = <L extends string>(r: Registry, name: string, help: string, labels: L[], buckets: number[]) =>
  new Histogram<L>({ name, help, labelNames: labels, buckets, registers: [r] });

/** A counter or gauge maker; with `read`, the figure is kept elsewhere and read when scraped. */
const scraped =
  <M extends { reset(): void }>(Kind: new (config: any) => M) =>
  (r: Registry, name: string, help: string, labelNames: string[], read?: Read<M>) =>
    new Kind({
      name,
      help,
      labelNames,
      registers: [r],
      ...(read && {
        collect(this: M) {
          this.reset();
          read(this);
        },
      }),
    });

const counter = scraped<Counter>(Counter);
const gauge = scraped<Gauge>(Gauge);

/**
 * The hub's Prometheus metrics, in a registry of its own (one per hub
 * instance). Latencies are histograms, not summaries, so the series of
 * several hubs add up (`histogram_quantile` over `sum by (le)`).
 */
export class HubPrometheus {
  private readonly registry = new Registry();
  private readonly ackSeconds = histogram(
    this.registry,
    'agentcom_ack_latency_seconds',
    'A frame read to its reply sent, per frame type (a write is answered after its commit and fsync).',
    ['frame'],
    LATENCY_BUCKETS,
  );
  private readonly ackByFrame = new Map<string, Histogram.Internal<'frame'>>();
  private readonly batchSeconds = histogram(
    this.registry,
    'agentcom_batch_seconds',
    'Batch round trip per domain: first request queued to results back (transaction and fsync included).',
    ['domain'],
    LATENCY_BUCKETS,
  );
  private readonly taskSeconds = histogram(
    this.registry,
    'agentcom_task_duration_seconds',
    'Task submit to the end of an attempt, by outcome (complete, retried, dead_letter).',
    ['outcome'],
    TASK_BUCKETS,
  );
  private readonly taskOutcomes = counter(this.registry, 'agentcom_task_outcomes_total', 'Task attempts by outcome.', [
    'outcome',
  ]);
  private readonly backups = counter(
    this.registry,
    'agentcom_backups_total',
    'Backups by result (complete, partial, failed).',
    ['status'],
  );
  private readonly backupDuration = gauge(
    this.registry,
    'agentcom_backup_last_success_duration_seconds',
    'How long the last complete backup of this process took (0 before one).',
    [],
  );
  private readonly compactions = counter(
    this.registry,
    'agentcom_compactions_total',
    'Compactions by domain and result (compacted, failed).',
    ['domain', 'status'],
  );
  private readonly compactionPause = histogram(
    this.registry,
    'agentcom_compaction_pause_seconds',
    "How long a compaction paused its domain's writes.",
    ['domain'],
    PAUSE_BUCKETS,
  );
  private readonly reclaimed = counter(
    this.registry,
    'agentcom_compaction_reclaimed_bytes_total',
    'File bytes given back by compactions.',
    ['domain'],
  );

  ack(frame: string, seconds: number): void {
    let h = this.ackByFrame.get(frame);
    if (!h) {
      h = this.ackSeconds.labels(frame);
      this.ackByFrame.set(frame, h);
    }
    h.observe(seconds);
  }

  batch(domain: string, seconds: number): void {
    this.batchSeconds.observe({ domain }, seconds);
  }

  taskOutcome(outcome: string, seconds: number): void {
    this.taskOutcomes.inc({ outcome });
    this.taskSeconds.observe({ outcome }, seconds);
  }

  backup(status: 'complete' | 'partial' | 'failed', seconds: number): void {
    this.backups.inc({ status });
    if (status === 'complete') this.backupDuration.set(seconds);
  }

  compaction(domain: string, status: string, pauseSeconds: number, reclaimedBytes: number): void {
    this.compactions.inc({ domain, status });
    this.compactionPause.observe({ domain }, pauseSeconds);
    if (status === 'compacted' && reclaimedBytes > 0) this.reclaimed.inc({ domain }, reclaimedBytes);
  }

  /** The figures read at scrape time from the rest of the hub. */
  expose(s: PromSources): void {
    const r = this.registry;
    gauge(r, 'agentcom_connections', 'Open WebSocket connections.', [], (g) => g.set(s.connections()));
    gauge(r, 'agentcom_agents_connected', 'Identified agents.', [], (g) => g.set(s.agentsConnected()));
    gauge(
      r,
      'agentcom_agents',
      'Agents by state: the FSM state of connected agents; offline = holding a token, not connected.',
      ['state'],
      (g) => {
        for (const [state, n] of Object.entries(s.agentsByState())) g.set({ state }, n);
      },
    );
    gauge(r, 'agentcom_domain_queue', 'Requests waiting per domain.', ['domain'], (g) => {
      for (const d of s.domains) g.set({ domain: d.name }, d.stats.queued);
    });
    gauge(r, 'agentcom_domain_healthy', '1 when the domain storage is healthy.', ['domain'], (g) => {
      for (const d of s.domains) g.set({ domain: d.name }, d.stats.state === 'ready' ? 1 : 0);
    });
    counter(r, 'agentcom_batch_items_total', 'Requests applied per domain.', ['domain'], (c) => {
      for (const d of s.domains) c.inc({ domain: d.name }, d.stats.items);
    });
    counter(r, 'agentcom_mailbox_dropped_total', 'Mailbox entries dropped for the per-agent cap.', [], (c) =>
      c.inc(s.counters.mailboxDropped),
    );
    counter(r, 'agentcom_live_dropped_total', 'Live frames dropped for slow consumers (kept in mailboxes).', [], (c) =>
      c.inc(s.counters.liveDropped),
    );
    counter(r, 'agentcom_violations_total', 'Validation failures and rate-limit refusals.', [], (c) =>
      c.inc(s.violations.total),
    );
    counter(r, 'agentcom_lenient_accepted_total', 'Limit violations accepted in log-only mode.', [], (c) =>
      c.inc(s.validator.lenientAccepted),
    );
    gauge(r, 'agentcom_storage_file_bytes', "Size of each domain's LMDB file.", ['domain'], (g) => {
      for (const d of s.storage()) g.set({ domain: d.domain }, d.file_size_bytes);
    });
    gauge(
      r,
      'agentcom_storage_fragmentation_ratio',
      "Share of each domain's file that is free pages (what a compaction gives back).",
      ['domain'],
      (g) => {
        for (const d of s.storage()) g.set({ domain: d.domain }, d.fragmentation_ratio);
      },
    );
    gauge(
      r,
      'agentcom_storage_reclaimable_bytes',
      'Bytes a compaction of the domain would give back.',
      ['domain'],
      (g) => {
        for (const d of s.storage()) g.set({ domain: d.domain }, d.reclaimable_bytes);
      },
    );
    gauge(
      r,
      'agentcom_backup_last_success_timestamp_seconds',
      'When the newest complete backup was taken (Unix time); 0 without one, so it reads as very stale.',
      [],
      (g) => g.set((s.lastBackup()?.at ?? 0) / 1000),
    );
    gauge(
      r,
      'agentcom_backup_last_success_size_bytes',
      'Bytes of the newest complete backup (0 without one).',
      [],
      (g) => g.set(s.lastBackup()?.bytes ?? 0),
    );
    gauge(r, 'agentcom_tasks', 'Tasks by state.', ['state'], (g) => {
      for (const [state, n] of Object.entries(s.tasks()?.by_status ?? {})) g.set({ state }, n);
    });
    counter(r, 'agentcom_tasks_removed_total', 'Finished tasks removed by retention.', ['state'], (c) => {
      for (const [state, n] of Object.entries(s.tasks()?.removed ?? {})) c.inc({ state }, n);
    });
    gauge(r, 'agentcom_alert_firing', '1 while the alert rule fires.', ['rule_id'], (g) => {
      for (const a of s.alerts()) g.set({ rule_id: a.rule_id }, a.firing ? 1 : 0);
    });
    gauge(r, 'agentcom_alert_acknowledged', '1 while the firing alert is acknowledged.', ['rule_id'], (g) => {
      for (const a of s.alerts()) g.set({ rule_id: a.rule_id }, a.acknowledged ? 1 : 0);
    });
  }

  /** The text exposition: the process's default metrics, then this hub's. */
  async text(): Promise<string> {
    return `${await processMetrics().metrics()}\n${await this.registry.metrics()}`;
  }
}
