import { PERCENTILE_KEYS } from './hist.js';
import { RAMP_PREFIX } from './knee.js';
import type { BenchReport, PhaseReport } from './report.js';
import { HIST_LABELS, summaryText } from './summary.js';
import type { HistName } from './types.js';
import { WINDOW_LABELS, windowRows } from './windows.js';

const esc = (s: string) =>
  s.replace(/[&<>"]/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;' })[c] as string);

const COLORS = ['#1f77b4', '#d62728', '#2ca02c', '#9467bd', '#ff7f0e', '#8c564b'];
const W = 760;
const H = 340;
const PAD = { l: 60, r: 20, t: 20, b: 50 };
const TICKS = [0, 90, 99, 99.9, 99.99, 99.999];

/** x = log10(1 / (1 − p)): the HdrHistogram plotter's axis, which spreads the tail. */
const xOf = (p: number) => Math.log10(1 / Math.max(1e-6, 1 - p / 100));

interface Series {
  name: string;
  dashed: boolean;
  points: Array<[number, number]>;
}

const DASH = ' stroke-dasharray="6 4"';
const scaleY = (maxY: number) => (y: number) => H - PAD.b - (y / maxY) * (H - PAD.t - PAD.b);

/** A chart's opening: the svg element, its background and the two axis labels. */
function svgStart(title: string, xLabel: string, yLabel: string): string[] {
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" role="img" aria-label="${esc(title)}" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="sans-serif" font-size="11">`,
    `<title>${esc(title)}</title>`,
    `<rect width="${W}" height="${H}" fill="#fff"/>`,
    `<text x="${W / 2}" y="${H - 12}" text-anchor="middle">${esc(xLabel)}</text>`,
    `<text x="14" y="${H / 2}" transform="rotate(-90 14 ${H / 2})" text-anchor="middle">${esc(yLabel)}</text>`,
  ];
}

function polyline(points: Array<[number, number]>, i: number, dash: string): string {
  const pts = points.map(([x, y]) => `${x.toFixed(1)},${y.toFixed(1)}`).join(' ');
  return `<polyline fill="none" stroke="${COLORS[i % COLORS.length]}" stroke-width="2"${dash} points="${pts}"/>`;
}

const svgEnd = (title: string, parts: string[]) => `<h2>${esc(title)}</h2>\n${[...parts, '</svg>'].join('\n')}`;

/** One inline SVG: latency (ms) against percentile for every phase that recorded `name`. */
function chart(title: string, series: Series[]): string {
  const maxX = Math.max(2, ...series.flatMap((s) => s.points.filter(([p]) => p < 100).map(([p]) => xOf(p)))) + 0.3;
  const maxY = Math.max(0.001, ...series.flatMap((s) => s.points.map(([, v]) => v))) * 1.05;
  const sx = (x: number) => PAD.l + (Math.min(x, maxX) / maxX) * (W - PAD.l - PAD.r);
  const sy = scaleY(maxY);
  const parts = svgStart(title, 'percentile', 'ms');
  for (const p of TICKS.filter((t) => xOf(t) <= maxX)) {
    const x = sx(xOf(p));
    parts.push(`<line x1="${x}" y1="${PAD.t}" x2="${x}" y2="${H - PAD.b}" stroke="#eee"/>`);
    parts.push(`<text x="${x}" y="${H - PAD.b + 15}" text-anchor="middle">${p}%</text>`);
  }
  for (let i = 0; i <= 5; i++) {
    const v = (maxY * i) / 5;
    parts.push(`<line x1="${PAD.l}" y1="${sy(v)}" x2="${W - PAD.r}" y2="${sy(v)}" stroke="#eee"/>`);
    parts.push(
      `<text x="${PAD.l - 6}" y="${sy(v) + 4}" text-anchor="end">${v < 10 ? v.toFixed(2) : v.toFixed(0)}</text>`,
    );
  }
  series.forEach((s, i) => {
    const dash = s.dashed ? DASH : '';
    parts.push(
      polyline(
        s.points.map(([p, v]) => [sx(p >= 100 ? maxX : xOf(p)), sy(v)]),
        i,
        dash,
      ),
    );
    const y = PAD.t + 14 * i + 4;
    parts.push(
      `<line x1="${PAD.l + 10}" y1="${y}" x2="${PAD.l + 34}" y2="${y}" stroke="${COLORS[i % COLORS.length]}" stroke-width="2"${dash}/>`,
    );
    parts.push(`<text x="${PAD.l + 40}" y="${y + 4}">${esc(s.name)}</text>`);
  });
  return svgEnd(title, parts);
}

/** `--find-max`: throughput against concurrency (senders × window, log scale) for the hub's and the baseline's ramps. */
function rampChart(r: BenchReport): string {
  const ramps = (['hub', 'baseline'] as const)
    .map((target) => ({
      target,
      points: r.phases
        .filter((p) => p.target === target && p.label.startsWith(RAMP_PREFIX))
        .map((p) => [p.senders * (p.window ?? 1), p.throughput.ops_per_s] as [number, number]),
    }))
    .filter((s) => s.points.length);
  if (!ramps.length) return '';
  const xs = ramps.flatMap((s) => s.points.map(([c]) => Math.log2(c)));
  const [minX, maxX] = [Math.min(...xs), Math.max(...xs, Math.min(...xs) + 1)];
  const maxY = Math.max(1, ...ramps.flatMap((s) => s.points.map(([, v]) => v))) * 1.05;
  const sx = (c: number) => PAD.l + ((Math.log2(c) - minX) / (maxX - minX)) * (W - PAD.l - PAD.r);
  const sy = scaleY(maxY);
  const parts = svgStart('Throughput against concurrency (--find-max)', 'ops in flight (senders × window)', 'ops/s');
  for (const [c] of ramps[0].points)
    parts.push(`<text x="${sx(c)}" y="${H - PAD.b + 15}" text-anchor="middle">${c}</text>`);
  ramps.forEach((s, i) => {
    parts.push(
      polyline(
        s.points.map(([c, v]) => [sx(c), sy(v)]),
        i,
        s.target === 'baseline' ? DASH : '',
      ),
    );
    parts.push(`<text x="${PAD.l + 10}" y="${PAD.t + 14 * i + 8}" fill="${COLORS[i]}">${s.target}</text>`);
  });
  return svgEnd('Throughput against concurrency (--find-max)', parts);
}

function phaseTable(r: BenchReport): string {
  const head = [
    'target',
    'phase',
    'ops/s',
    'deliveries/s',
    'cycles/s',
    'ack p50',
    'ack p99',
    'ack p99.9',
    'errors',
    'server CPU %',
    'RSS peak MB',
    'generator',
  ];
  const rows = r.phases.map((p) => [
    p.target,
    p.label,
    p.throughput.ops_per_s,
    p.throughput.deliveries_per_s,
    p.throughput.cycles_per_s,
    p.latency.ack?.p50_ms ?? '-',
    p.latency.ack?.p99_ms ?? '-',
    p.latency.ack?.p999_ms ?? '-',
    p.counts.errors,
    p.server?.cpu_pct ?? '-',
    p.server?.rss_peak_mb ?? '-',
    p.generator.saturated ? 'SATURATED' : p.generator.cpu_contended ? 'CPU contended' : 'ok',
  ]);
  return htmlTable(head, rows);
}

function htmlTable(head: string[], rows: unknown[][]): string {
  const cell = (tag: string) => (v: unknown) => `<${tag}>${esc(String(v))}</${tag}>`;
  return `<table><tr>${head.map(cell('th')).join('')}</tr>${rows.map((row) => `<tr>${row.map(cell('td')).join('')}</tr>`).join('')}</table>`;
}

/** An open-ended phase's windows: their spans and calls, latency per op kind per window, one curve per window. */
function windowsSection(p: PhaseReport): string {
  const ws = p.windows ?? [];
  const spans = ws.map((w) => [w.label, w.start_s, w.duration_s, JSON.stringify(w.detail ?? {})]);
  const rows = windowRows(ws).map((r) => [
    r.op,
    r.window,
    r.sent === undefined ? r.answered : `${r.answered}/${r.sent}`,
    ...PERCENTILE_KEYS.map((q) => r.latency?.[q] ?? '-'),
  ]);
  const charts = WINDOW_LABELS.map(({ hist, label }) => {
    const series = ws
      .filter((w) => w.latency[hist]?.curve.length)
      .map((w) => ({ name: w.label, dashed: false, points: w.latency[hist]?.curve ?? [] }));
    return series.length ? chart(`${label} — by window`, series) : '';
  });
  return [
    `<h2>Windows — ${esc(p.label)}</h2><p>An op counts in the window it was sent in.</p>`,
    htmlTable(['window', 'at s', 'for s', 'call'], spans),
    htmlTable(['op', 'window', 'answered/sent', 'p50 ms', 'p90 ms', 'p99 ms', 'p99.9 ms', 'max ms'], rows),
    ...charts,
  ].join('\n');
}

/** A self-contained HTML report: summary tables, percentile curves (inline SVG), the full text summary. */
export function htmlReport(r: BenchReport): string {
  // one chart per histogram and load level: the hub's curve against the baseline's at the same load
  const hub = r.phases.filter((p) => p.target === 'hub');
  const base = r.phases.filter((p) => p.target === 'baseline');
  const charts: string[] = [];
  for (const h of hub) {
    const b = base.find((p) => p.label === h.label);
    for (const [name, label] of HIST_LABELS as Array<[HistName, string]>) {
      const series = [h, b]
        .filter((p): p is PhaseReport => Boolean(p?.latency[name]?.curve.length))
        .map((p) => ({ name: p.target, dashed: p.target === 'baseline', points: p.latency[name]?.curve ?? [] }));
      if (series.length) charts.push(chart(`${label} — ${h.label}`, series));
    }
  }
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<title>AgentCom bench: ${esc(r.options.scenario)} ${esc(r.started_at)}</title>
<style>
body { font-family: system-ui, sans-serif; margin: 2em; color: #222; max-width: 1100px; }
table { border-collapse: collapse; margin: 1em 0; font-size: 13px; }
th, td { border: 1px solid #ccc; padding: 4px 8px; text-align: right; }
th:first-child, td:first-child, th:nth-child(2), td:nth-child(2) { text-align: left; }
pre { background: #f6f6f6; padding: 1em; overflow-x: auto; font-size: 12px; }
</style></head><body>
<h1>AgentCom bench — ${esc(r.options.scenario)}</h1>
<p>${esc(r.started_at)} · ${r.machine.cpus} cores · node ${esc(r.machine.node)} · <code>${esc(r.command)}</code></p>
<p>Tokens from <code>POST /admin/tokens</code>; bench agents whitelisted with <code>PUT /admin/rate-limits/whitelist</code>; no onboarding.
Baseline = <code>bench/baseline.ts</code>, a raw ws router with the same frames and no persistence: read the hub ÷ baseline ratios, not the absolute numbers.</p>
${phaseTable(r)}
${rampChart(r)}
${hub
  .filter((p) => p.windows)
  .map(windowsSection)
  .join('\n')}
${charts.join('\n')}
<h2>Summary</h2>
<pre>${esc(summaryText(r))}</pre>
</body></html>
`;
}
