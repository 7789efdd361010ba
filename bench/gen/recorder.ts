import { performance } from 'node:perf_hooks';
import { encodeHist, type Hist, newHist, recordUs } from '../hist.js';
import {
  type Counts,
  emptyCounts,
  type HistName,
  type OpKind,
  type PhaseSpec,
  type WorkerPhaseResult,
} from '../types.js';

/**
 * A worker's measurements for the current phase. Sends are stamped with the
 * phase id, so late replies to an earlier phase never pollute this one; only
 * sends scheduled after the warm-up are recorded, and throughput counts
 * replies received inside the measured window.
 */
export class Recorder {
  phase: PhaseSpec | null = null;
  counts: Counts = emptyCounts();
  private hists = new Map<HistName, Hist>();
  private measureFrom = Number.POSITIVE_INFINITY;
  private measureTo = Number.NEGATIVE_INFINITY;
  private elu = performance.eventLoopUtilization();
  /** histograms recorded outside any phase (connect); handed over with the first result */
  private carry = new Map<HistName, Hist>();
  /** with PhaseSpec.timeline: (send time, latency) pairs per histogram */
  private timeline: Map<HistName, number[]> | null = null;
  private sends: Map<OpKind, number[]> | null = null;

  begin(phase: PhaseSpec): void {
    this.phase = phase;
    this.counts = emptyCounts();
    this.hists = new Map(this.carry);
    this.carry.clear();
    this.measureFrom = phase.startUs + phase.warmupUs;
    this.measureTo = phase.startUs + phase.durationUs;
    this.timeline = phase.timeline ? new Map() : null;
    this.sends = phase.timeline ? new Map() : null;
    this.elu = performance.eventLoopUtilization();
  }

  /** The orchestrator ended the send window early (an open-ended phase). */
  endAt(us: number): void {
    this.measureTo = us;
  }

  get phaseId(): number {
    return this.phase?.id ?? -1;
  }

  /** True when a send of phase `ph` at `t` counts towards the latency histograms. */
  measured(ph: number, t: number): boolean {
    return ph === this.phaseId && t >= this.measureFrom;
  }

  inWindow(now: number): boolean {
    return now >= this.measureFrom && now <= this.measureTo;
  }

  /** Records the latency from `from` (the send) to `to` (the answer), both in µs. */
  record(name: HistName, from: number, to: number): void {
    const us = to - from;
    let h = this.hists.get(name);
    if (!h) {
      h = newHist();
      this.hists.set(name, h);
    }
    recordUs(h, us);
    if (this.timeline) {
      let t = this.timeline.get(name);
      if (!t) {
        t = [];
        this.timeline.set(name, t);
      }
      // the send time as the sender took it: a window counts the op where `sent` counted it
      t.push(from, us);
    }
  }

  /** With a timeline: notes a measured send of `kind` at `t`, answered or not. */
  sent(kind: OpKind, ph: number, t: number): void {
    if (!this.sends || !this.measured(ph, t)) return;
    let s = this.sends.get(kind);
    if (!s) {
      s = [];
      this.sends.set(kind, s);
    }
    s.push(t);
  }

  /** Records outside a phase (connect latencies); they join the next phase's result. */
  recordCarry(name: HistName, us: number): void {
    let h = this.carry.get(name);
    if (!h) {
      h = newHist();
      this.carry.set(name, h);
    }
    recordUs(h, us);
  }

  error(code: string): void {
    const c = this.counts;
    c.errors++;
    c.errorCodes[code] = (c.errorCodes[code] ?? 0) + 1;
    if (code === 'rate_limited') c.rateLimited++;
    if (code === 'overloaded') c.overloaded++;
  }

  result(): WorkerPhaseResult {
    const hist: WorkerPhaseResult['hist'] = {};
    for (const [name, h] of this.hists) hist[name] = encodeHist(h);
    const elu = performance.eventLoopUtilization(this.elu).utilization;
    if (!this.timeline || !this.sends) return { counts: this.counts, hist, elu };
    const timeline: WorkerPhaseResult['timeline'] = {};
    for (const [name, t] of this.timeline) timeline[name] = Float64Array.from(t);
    const sends: WorkerPhaseResult['sends'] = {};
    for (const [kind, t] of this.sends) sends[kind] = Float64Array.from(t);
    return { counts: this.counts, hist, elu, timeline, sends };
  }
}
