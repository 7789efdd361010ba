import * as hdr from 'hdr-histogram-js';

/** Latencies are recorded in microseconds, 3 significant digits, growing as needed. */
export type Hist = hdr.Histogram;

export function newHist(): Hist {
  return hdr.build({ autoResize: true, numberOfSignificantValueDigits: 3, useWebAssembly: false });
}

export function recordUs(h: Hist, us: number): void {
  h.recordValue(us > 1 ? Math.round(us) : 1);
}

export function encodeHist(h: Hist): string {
  return hdr.encodeIntoCompressedBase64(h);
}

export function decodeHist(text: string): Hist {
  const h = newHist();
  h.add(hdr.decodeFromCompressedBase64(text, 32, false));
  return h;
}

/** Sums encoded histograms (one per worker) into one. */
export function mergeEncoded(parts: Array<string | undefined>): Hist | null {
  const present = parts.filter((p): p is string => p !== undefined);
  if (present.length === 0) return null;
  const out = newHist();
  for (const p of present) out.add(decodeHist(p));
  return out;
}

/** Percentiles in milliseconds, as wrk2 and k6 print them. */
export interface LatencySummary {
  count: number;
  mean_ms: number;
  p50_ms: number;
  p90_ms: number;
  p99_ms: number;
  p999_ms: number;
  max_ms: number;
}

export const PERCENTILE_KEYS = ['p50_ms', 'p90_ms', 'p99_ms', 'p999_ms', 'max_ms'] as const;

const ms = (us: number) => Math.round(us) / 1000;

export function summarize(h: Hist): LatencySummary {
  return {
    count: h.totalCount,
    mean_ms: h.totalCount ? Math.round(h.mean) / 1000 : 0,
    p50_ms: ms(h.getValueAtPercentile(50)),
    p90_ms: ms(h.getValueAtPercentile(90)),
    p99_ms: ms(h.getValueAtPercentile(99)),
    p999_ms: ms(h.getValueAtPercentile(99.9)),
    max_ms: ms(h.maxValue),
  };
}

/** Points of the percentile curve: [percentile, ms], dense towards the tail (1 − p halves each step). */
export function percentileCurve(h: Hist): Array<[number, number]> {
  if (h.totalCount === 0) return [];
  const out: Array<[number, number]> = [];
  for (let i = 0; i <= 40; i++) {
    const p = 100 - 100 / 2 ** (i / 2.5);
    out.push([Math.round(p * 10000) / 10000, ms(h.getValueAtPercentile(p))]);
    if (1 / (1 - p / 100) > h.totalCount * 2) break;
  }
  out.push([100, ms(h.maxValue)]);
  return out;
}
