import { performance } from 'node:perf_hooks';
import { encodeHist, type Hist, newHist, recordUs } from '../hist.js';
import { type Counts, emptyCounts, type HistName, type PhaseSpec, type WorkerPhaseResult } from '../types.js';

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

  begin(phase: PhaseSpec): void {
    this.phase = phase;
    this.counts = emptyCounts();
    this.hists = new Map(this.carry);
    this.carry.clear();
    this.measureFrom = phase.startUs + phase.warmupUs;
    this.measureTo = phase.startUs + phase.durationUs;
    this.elu = performance.eventLoopUtilization();
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

  record(name: HistName, us: number): void {
    let h = this.hists.get(name);
    if (!h) {
      h = newHist();
      this.hists.set(name, h);
    }
    recordUs(h, us);
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
    return { counts: this.counts, hist, elu: performance.eventLoopUtilization(this.elu).utilization };
  }
}
