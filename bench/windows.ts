import { encodeHist, type Hist, type LatencySummary, newHist, percentileCurve, recordUs, summarize } from './hist.js';
import type { LatencyReport } from './report.js';
import type { HistName, OpKind, WorkerPhaseResult } from './types.js';

/** A stretch of a phase, in clock µs, with what happened in it (a maintenance call's reply, say). */
export interface Window {
  label: string;
  startUs: number;
  endUs: number;
  detail?: Record<string, unknown>;
}

export interface WindowReport {
  label: string;
  /** from the start of the phase's measured part */
  start_s: number;
  duration_s: number;
  detail?: Record<string, unknown>;
  /** sends made inside the window per op kind, answered or not */
  sent: Partial<Record<OpKind, number>>;
  /** the sends made inside the window that were answered, whenever that was */
  latency: Partial<Record<HistName, LatencyReport>>;
}

const round = (n: number, d: number) => Math.round(n * 10 ** d) / 10 ** d;

/**
 * Splits a phase's samples by send time into windows: an op belongs to the
 * window it was sent in, so a send stuck behind a paused domain counts
 * where it was sent, as a user waiting on it would see it.
 */
export function windowReports(results: WorkerPhaseResult[], windows: Window[], originUs: number): WindowReport[] {
  return windows.map((w) => {
    const hists = new Map<HistName, Hist>();
    for (const r of results) {
      for (const [name, pairs] of Object.entries(r.timeline ?? {}) as Array<[HistName, Float64Array]>) {
        for (let i = 0; i < pairs.length; i += 2) {
          if (pairs[i] < w.startUs || pairs[i] >= w.endUs) continue;
          let h = hists.get(name);
          if (!h) {
            h = newHist();
            hists.set(name, h);
          }
          recordUs(h, pairs[i + 1]);
        }
      }
    }
    const sent: WindowReport['sent'] = {};
    for (const r of results)
      for (const [kind, times] of Object.entries(r.sends ?? {}) as Array<[OpKind, Float64Array]>)
        sent[kind] = (sent[kind] ?? 0) + times.filter((t) => t >= w.startUs && t < w.endUs).length;
    const latency: WindowReport['latency'] = {};
    for (const [name, h] of hists) latency[name] = { ...summarize(h), curve: percentileCurve(h), hdr: encodeHist(h) };
    return {
      label: w.label,
      start_s: round((w.startUs - originUs) / 1e6, 2),
      duration_s: round((w.endUs - w.startUs) / 1e6, 2),
      ...(w.detail ? { detail: w.detail } : {}),
      sent,
      latency,
    };
  });
}

/** The windowed histograms, named with the domain each op runs in (what the windows compare) and the op kind they answer. */
export const WINDOW_LABELS: Array<{ hist: HistName; label: string; kind?: OpKind }> = [
  { hist: 'ack', label: 'direct message ack (messaging)', kind: 'direct' },
  { hist: 'delivery', label: 'direct message delivery (messaging)', kind: 'direct' },
  { hist: 'submit', label: 'task submit, HTTP 201 (tasks)', kind: 'task' },
  { hist: 'cycle', label: 'task cycle, submit → task_ack (tasks)', kind: 'task' },
  { hist: 'lag', label: 'generator send lag' },
];

export interface WindowRow {
  op: string;
  window: string;
  answered: number;
  /** sends of the op kind in the window; absent for what is not a reply (send lag) */
  sent?: number;
  latency?: LatencySummary;
}

/** One row per op and window; a window whose sends got no answer still has its row, without latency. */
export function windowRows(windows: WindowReport[]): WindowRow[] {
  return WINDOW_LABELS.flatMap(({ hist, label, kind }) =>
    windows.flatMap((w) => {
      const l = w.latency[hist];
      const sent = kind ? w.sent[kind] : undefined;
      if (!l && !sent) return [];
      return [{ op: label, window: w.label, answered: l?.count ?? 0, sent, latency: l }];
    }),
  );
}
