import type { DiskProbe } from './disk.js';
import type { FillReport } from './fill.js';
import { encodeHist, type LatencySummary, mergeEncoded, PERCENTILE_KEYS, percentileCurve, summarize } from './hist.js';
import type { BenchOptions } from './options.js';
import type { ProcSummary } from './proc-stats.js';
import type { Plan } from './scenarios.js';
import { addCounts, type Counts, emptyCounts, type HistName, type PhaseMode, type WorkerPhaseResult } from './types.js';
import type { WindowReport } from './windows.js';

export interface LatencyReport extends LatencySummary {
  /** [percentile, ms] points for plotting */
  curve: Array<[number, number]>;
  /** the merged HdrHistogram, compressed base64 (µs) */
  hdr: string;
}

export interface PhaseReport {
  target: 'hub' | 'baseline';
  label: string;
  mode: PhaseMode;
  rate?: number;
  window?: number;
  measured_s: number;
  agents: number;
  senders: number;
  throughput: { ops_per_s: number; deliveries_per_s: number; cycles_per_s: number };
  counts: Counts & { expected_deliveries: number; lost_deliveries: number; mailbox_missing: number };
  latency: Partial<Record<HistName, LatencyReport>>;
  server: ProcSummary | null;
  connections?: { count: number; rss_before_mb: number; rss_after_mb: number; per_conn_kb: number };
  generator: {
    threads: number;
    cpu_pct: number;
    elu: number[];
    saturated: boolean;
    cpu_contended: boolean;
    reasons: string[];
  };
  /** zero errors, timeouts, lost deliveries and unexpected closes */
  ok: boolean;
  /** an open-ended phase's windows (maintenance: quiet, backup, compaction) */
  windows?: WindowReport[];
}

export interface Comparison {
  label: string;
  throughput_ratio: number | null;
  deliveries_ratio: number | null;
  cycles_ratio: number | null;
  /** hub ÷ baseline per histogram and percentile (> 1: the hub is slower) */
  latency_ratio: Partial<Record<HistName, Record<string, number | null>>>;
  /** hub − baseline in ms */
  latency_delta_ms: Partial<Record<HistName, Record<string, number>>>;
  /** hub ÷ baseline memory per idle connection (connections scenario) */
  rss_per_conn_ratio?: number | null;
  /** open-loop ack budget from the issue: baseline + fdatasync + 3 ms (p99) / + 10 ms (p99.9) */
  ack_budget?: { p99_budget_ms: number; p99_ms: number; p999_budget_ms: number; p999_ms: number; within: boolean };
}

export interface BenchReport {
  tool: 'agentcom-bench';
  version: 1;
  started_at: string;
  finished_at: string;
  command: string;
  options: BenchOptions;
  machine: { cpus: number; node: string; platform: string; load_avg: number[] };
  auth: { tokens: string; whitelist: string; onboarding: false; agents: number };
  disk: DiskProbe | null;
  /** maintenance: how the messaging environment was grown before the load */
  fill?: FillReport;
  phases: PhaseReport[];
  comparisons: Comparison[];
  hub: { errors_logged: string[]; exit_code: number | null };
  notes: string[];
}

const round = (n: number, d = 1) => Math.round(n * 10 ** d) / 10 ** d;

export interface PhaseInput {
  target: 'hub' | 'baseline';
  label: string;
  mode: PhaseMode;
  rate?: number;
  window?: number;
  measuredS: number;
  plan: Plan;
  results: WorkerPhaseResult[];
  server: ProcSummary | null;
  generatorCpuPct: number;
  cpus: number;
}

/** Merges the threads' results into one phase report and judges the generator. */
export function phaseReport(x: PhaseInput): PhaseReport {
  const counts = x.results.reduce((acc, r) => addCounts(acc, r.counts), emptyCounts());
  const latency: PhaseReport['latency'] = {};
  const names = new Set(x.results.flatMap((r) => Object.keys(r.hist) as HistName[]));
  for (const name of names) {
    const h = mergeEncoded(x.results.map((r) => r.hist[name]));
    if (h) latency[name] = { ...summarize(h), curve: percentileCurve(h), hdr: encodeHist(h) };
  }
  const f = x.plan.fanout;
  const by = counts.ackedBy;
  const expected = by.direct * f.direct + by.broadcast * f.broadcast + by.publish * f.publish;
  const lost = Math.max(0, expected - counts.delivered);
  const missing = Math.max(0, counts.mailboxExpected - counts.mailboxReceived);
  const elu = x.results.map((r) => round(r.elu, 3));
  const reasons: string[] = [];
  if (Math.max(...elu) >= 0.9) reasons.push(`a generator thread was ${Math.round(Math.max(...elu) * 100)}% busy`);
  const lag = latency.lag;
  if (x.mode === 'open' && lag && lag.p99_ms > 5) reasons.push(`sends ran late: lag p99 ${lag.p99_ms} ms`);
  const saturated = reasons.length > 0;
  const busy = x.generatorCpuPct + (x.server?.cpu_pct ?? 0);
  const contended = busy >= 90 * x.cpus;
  if (contended)
    reasons.push(`CPU contended: server ${x.server?.cpu_pct}% + generator ${x.generatorCpuPct}% of ${x.cpus} cores`);
  const s = Math.max(x.measuredS, 1e-9);
  const closedCount = Object.values(counts.closed).reduce((a, b) => a + b, 0);
  return {
    target: x.target,
    label: x.label,
    mode: x.mode,
    rate: x.rate,
    window: x.window,
    measured_s: x.measuredS,
    agents: x.plan.workers.reduce((n, w) => n + w.length, 0),
    senders: x.plan.workers.reduce((n, w) => n + w.filter((a) => a.ops?.length).length, 0),
    throughput: {
      ops_per_s: round(counts.ackedInWindow / s),
      deliveries_per_s: round(counts.deliveredInWindow / s),
      cycles_per_s: round(counts.cyclesInWindow / s),
    },
    counts: { ...counts, expected_deliveries: expected, lost_deliveries: lost, mailbox_missing: missing },
    latency,
    server: x.server,
    generator: {
      threads: x.results.length,
      cpu_pct: x.generatorCpuPct,
      elu,
      saturated,
      cpu_contended: contended,
      reasons,
    },
    ok: counts.errors === 0 && counts.timeouts === 0 && lost === 0 && closedCount === 0,
  };
}

const ratio = (a: number, b: number) => (b > 0 ? round(a / b, 3) : null);

/** hub ÷ baseline for one pair of phases run with the same load. */
export function compare(hub: PhaseReport, base: PhaseReport, disk: DiskProbe | null): Comparison {
  const latency_ratio: Comparison['latency_ratio'] = {};
  const latency_delta_ms: Comparison['latency_delta_ms'] = {};
  for (const name of Object.keys(hub.latency) as HistName[]) {
    const h = hub.latency[name];
    const b = base.latency[name];
    if (!h || !b || name === 'lag') continue;
    latency_ratio[name] = Object.fromEntries(PERCENTILE_KEYS.map((k) => [k, ratio(h[k], b[k])]));
    latency_delta_ms[name] = Object.fromEntries(PERCENTILE_KEYS.map((k) => [k, round(h[k] - b[k], 3)]));
  }
  const c: Comparison = {
    label: hub.label,
    throughput_ratio: ratio(hub.throughput.ops_per_s, base.throughput.ops_per_s),
    deliveries_ratio: ratio(hub.throughput.deliveries_per_s, base.throughput.deliveries_per_s),
    cycles_ratio: ratio(hub.throughput.cycles_per_s, base.throughput.cycles_per_s),
    latency_ratio,
    latency_delta_ms,
  };
  if (hub.connections && base.connections)
    c.rss_per_conn_ratio = ratio(hub.connections.per_conn_kb, base.connections.per_conn_kb);
  const ha = hub.latency.ack;
  const ba = base.latency.ack;
  if (hub.mode === 'open' && ha && ba && disk) {
    const p99 = round(ba.p99_ms + disk.p99_ms + 3, 3);
    const p999 = round(ba.p999_ms + disk.p999_ms + 10, 3);
    c.ack_budget = {
      p99_budget_ms: p99,
      p99_ms: ha.p99_ms,
      p999_budget_ms: p999,
      p999_ms: ha.p999_ms,
      within: ha.p99_ms <= p99 && ha.p999_ms <= p999,
    };
  }
  return c;
}
