import { type LatencySummary, PERCENTILE_KEYS } from './hist.js';
import type { BenchReport, Comparison, PhaseReport } from './report.js';
import type { HistName } from './types.js';
import { windowRows } from './windows.js';

/** Histograms in print order, with what each one times. */
export const HIST_LABELS: Array<[HistName, string]> = [
  ['ack', 'ack (send → durable ack)'],
  ['delivery', 'delivery (send → recipient)'],
  ['submit', 'task submit (HTTP 201)'],
  ['cycle', 'task cycle (submit → task_ack)'],
  ['poll', 'mailbox poll (GET)'],
  ['connect', 'connect + identify'],
  ['lag', 'generator send lag'],
];

const n = (x: number) => Math.round(x).toLocaleString('en-US');
const ms = (x: number | undefined) => (x === undefined ? '-' : x < 10 ? x.toFixed(2) : x.toFixed(1));
const rx = (x: number | null | undefined) => (x === null || x === undefined ? '-' : `${x.toFixed(2)}x`);

export function table(rows: string[][], rightFrom = 1): string {
  const widths = rows[0].map((_, c) => Math.max(...rows.map((r) => (r[c] ?? '').length)));
  return rows
    .map((r) =>
      r
        .map((cell, c) => (c >= rightFrom ? (cell ?? '').padStart(widths[c]) : (cell ?? '').padEnd(widths[c])))
        .join('  '),
    )
    .join('\n');
}

function latencyRows(p: PhaseReport): string[][] {
  return HIST_LABELS.filter(([k]) => p.latency[k]).map(([k, label]) => {
    const l = p.latency[k] as LatencySummary;
    return [`  ${label}`, n(l.count), ms(l.p50_ms), ms(l.p90_ms), ms(l.p99_ms), ms(l.p999_ms), ms(l.max_ms)];
  });
}

function phaseBlock(p: PhaseReport): string {
  const t = p.throughput;
  const c = p.counts;
  const tput = p.mode === 'hold' ? ['idle agents held'] : [`${n(t.ops_per_s)} ops/s`];
  if (c.expected_deliveries || c.delivered) tput.push(`${n(t.deliveries_per_s)} deliveries/s`);
  if (c.cycles) tput.push(`${n(t.cycles_per_s)} task cycles/s`);
  const lines = [
    `${p.target} — ${p.label}: ${tput.join(', ')}  (${p.senders} senders of ${p.agents} agents, ${p.measured_s} s measured)`,
  ];
  const rows = [['  latency ms', 'count', 'p50', 'p90', 'p99', 'p99.9', 'max'], ...latencyRows(p)];
  if (rows.length > 1) lines.push(table(rows));
  const closed = Object.entries(c.closed).map(([code, k]) => `${k}×${code}`);
  lines.push(
    `  counts: sent ${n(c.sent)}, acked ${n(c.acked)}` +
      (c.expected_deliveries || c.delivered ? `, delivered ${n(c.delivered)}/${n(c.expected_deliveries)}` : '') +
      (c.cycles ? `, cycles ${n(c.cycles)}` : '') +
      (c.mailboxExpected ? `, mailbox ${n(c.mailboxReceived)}/${n(c.mailboxExpected)}` : '') +
      `; errors ${c.errors} (rate_limited ${c.rateLimited}, overloaded ${c.overloaded}), timeouts ${c.timeouts}` +
      (closed.length ? `, sockets closed ${closed.join(' ')}` : ''),
  );
  if (Object.keys(c.errorCodes).length) lines.push(`  error codes: ${JSON.stringify(c.errorCodes)}`);
  const s = p.server;
  if (s)
    lines.push(
      `  server pid ${s.pid}: CPU ${s.cpu_pct}%, RSS ${s.rss_start_mb} → ${s.rss_end_mb} MB (peak ${s.rss_peak_mb})`,
    );
  if (p.connections) {
    const k = p.connections;
    lines.push(
      `  connections: ${n(k.count)} identified, RSS ${k.rss_before_mb} → ${k.rss_after_mb} MB = ${k.per_conn_kb} KiB each`,
    );
  }
  const g = p.generator;
  const flag = g.saturated ? '  ⚠ SATURATED' : g.cpu_contended ? '  ⚠ CPU contended' : '';
  lines.push(
    `  generator: ${g.threads} thread(s), CPU ${g.cpu_pct}%, event loop busy ${g.elu.map((e) => `${Math.round(e * 100)}%`).join('/')}${flag}`,
  );
  if (g.reasons.length) lines.push(`    ${g.reasons.join('; ')}`);
  lines.push(`  result: ${p.ok ? 'ok' : 'NOT OK (errors, timeouts, lost deliveries or closed sockets)'}`);
  return lines.join('\n');
}

/** Each window's span and call, then every op kind's latency per window. */
function windowsBlock(p: PhaseReport): string {
  const ws = p.windows ?? [];
  const width = Math.max(...ws.map((w) => w.label.length));
  const spans = ws.map((w) => {
    const call = Object.entries(w.detail ?? {}).map(([k, v]) => `${k} ${v}`);
    const span = `  ${w.label.padEnd(width)}  at ${w.start_s.toFixed(1)} s for ${w.duration_s.toFixed(1)} s`;
    return call.length ? `${span}: ${call.join(', ')}` : span;
  });
  const rows = [['  latency ms (by send time)', 'window', 'answered', 'p50', 'p90', 'p99', 'p99.9', 'max']];
  let op = '';
  for (const r of windowRows(ws)) {
    const answered = r.sent === undefined ? n(r.answered) : `${n(r.answered)}/${n(r.sent)}`;
    rows.push([r.op === op ? '' : `  ${r.op}`, r.window, answered, ...PERCENTILE_KEYS.map((q) => ms(r.latency?.[q]))]);
    op = r.op;
  }
  return [`${p.target} — windows (an op counts in the window it was sent in)`, ...spans, table(rows, 2)].join('\n');
}

function comparisonBlock(c: Comparison): string {
  const lines = [`hub ÷ baseline — ${c.label}`];
  const tp = c.throughput_ratio === null ? [] : [`throughput ${rx(c.throughput_ratio)}`];
  if (c.deliveries_ratio !== null) tp.push(`deliveries ${rx(c.deliveries_ratio)}`);
  if (c.cycles_ratio !== null) tp.push(`task cycles ${rx(c.cycles_ratio)}`);
  if (tp.length) lines.push(`  ${tp.join(', ')}  (> 1 the hub is faster)`);
  if (c.rss_per_conn_ratio !== undefined)
    lines.push(`  RSS per connection ${rx(c.rss_per_conn_ratio)}  (> 1 the hub uses more)`);
  const rows = [['  latency ratio (> 1 the hub is slower)', 'p50', 'p90', 'p99', 'p99.9', 'max']];
  for (const [k, label] of HIST_LABELS) {
    const r = c.latency_ratio[k];
    const d = c.latency_delta_ms[k];
    if (!r || !d) continue;
    rows.push([`  ${label}`, rx(r.p50_ms), rx(r.p90_ms), rx(r.p99_ms), rx(r.p999_ms), rx(r.max_ms)]);
    rows.push(['    hub − baseline, ms', ms(d.p50_ms), ms(d.p90_ms), ms(d.p99_ms), ms(d.p999_ms), ms(d.max_ms)]);
  }
  if (rows.length > 1) lines.push(table(rows));
  const b = c.ack_budget;
  if (b) {
    lines.push(
      `  ack budget (baseline + fdatasync + 3/10 ms): p99 ${ms(b.p99_ms)} ≤ ${ms(b.p99_budget_ms)}, ` +
        `p99.9 ${ms(b.p999_ms)} ≤ ${ms(b.p999_budget_ms)} → ${b.within ? 'within' : 'OVER'}`,
    );
  }
  return lines.join('\n');
}

/** The end-of-run summary printed to stdout. */
export function summaryText(r: BenchReport): string {
  const o = r.options;
  const mode =
    o.scenario === 'connections'
      ? `hold ${o.durationS} s`
      : o.rateOfMax !== undefined
        ? `closed w=${o.window}, then open at ${o.rateOfMax} × max`
        : o.rate !== undefined
          ? `open loop ${o.rate} ops/s`
          : `closed loop w=${o.window}`;
  const out = [
    `AgentCom bench: ${o.scenario}, ${r.auth.agents} agents, ${o.size} B payload, ${mode}, ${o.durationS} s per phase (first ${o.warmupS} s warm-up)`,
    `machine: ${r.machine.cpus} cores, node ${r.machine.node}, load ${r.machine.load_avg.map((x) => x.toFixed(2)).join(' ')}`,
    `auth: tokens from ${r.auth.tokens}; ${r.auth.whitelist}; no onboarding`,
  ];
  const d = r.disk;
  if (d)
    out.push(
      `disk: fdatasync of ${d.path} (${d.fs_type}) p50 ${ms(d.p50_ms)} ms, p99 ${ms(d.p99_ms)} ms, p99.9 ${ms(d.p999_ms)} ms (${d.samples} appends) — an ack cannot beat this`,
    );
  out.push('');
  if (r.fill) {
    const f = r.fill;
    out.push(
      `fill: messaging grown to ${f.reached_mb} MiB (target ${f.target_mb}) by ${n(f.messages)} messages of ${n(f.payload_bytes)} B to offline mailboxes in ${f.seconds} s; records ${JSON.stringify(f.records)}`,
      '',
    );
  }
  for (const p of r.phases) {
    out.push(phaseBlock(p), '');
    if (p.windows) out.push(windowsBlock(p), '');
  }
  for (const c of r.comparisons) out.push(comparisonBlock(c), '');
  if (r.notes.length) out.push('notes:', ...r.notes.map((x) => `  - ${x}`));
  return out.join('\n');
}
