import { build } from 'hdr-histogram-js';

/** One second of task outcomes: how many, and the submit → completion latency. */
export interface SparkPoint {
  t: number;
  completed: number;
  failed: number;
  p50: number | null;
  p99: number | null;
}

/** Points kept: two minutes of seconds. */
const POINTS = 120;

/**
 * Throughput and latency per second for the dashboard's sparklines: O(1)
 * per task outcome, kept whether or not anyone watches, so a viewer that
 * connects sees the last two minutes.
 */
export class Sparklines {
  private readonly points: SparkPoint[] = [];
  /** the open second's completion latencies in ms (defaults: 3 significant digits, grows as needed) */
  private readonly latency = build();
  private cur = { t: 0, failed: 0 };

  outcome(outcome: 'complete' | 'retried' | 'dead_letter', createdAt: number, now: number): void {
    this.roll(now);
    if (outcome === 'complete') this.latency.recordValue(Math.max(0, now - createdAt));
    else this.cur.failed++;
  }

  /** Closes the seconds before `now`'s (empty ones too); returns the points. */
  history(now = Date.now()): SparkPoint[] {
    this.roll(now);
    return this.points;
  }

  /** The last closed second, or null when there is none yet. */
  last(now = Date.now()): SparkPoint | null {
    this.roll(now);
    return this.points[this.points.length - 1] ?? null;
  }

  private roll(now: number): void {
    const sec = Math.floor(now / 1000) * 1000;
    if (this.cur.t === sec) return;
    if (this.cur.t !== 0) {
      this.push(this.close());
      // the seconds with no outcome at all, the window's worth at most
      for (let t = Math.max(this.cur.t + 1000, sec - POINTS * 1000); t < sec; t += 1000) {
        this.push({ t, completed: 0, failed: 0, p50: null, p99: null });
      }
    }
    this.cur = { t: sec, failed: 0 };
  }

  private close(): SparkPoint {
    const h = this.latency;
    const completed = h.totalCount;
    const at = (q: number) => (completed ? h.getValueAtPercentile(q) : null);
    const p = { t: this.cur.t, completed, failed: this.cur.failed, p50: at(50), p99: at(99) };
    h.reset();
    return p;
  }

  private push(p: SparkPoint): void {
    this.points.push(p);
    if (this.points.length > POINTS) this.points.splice(0, this.points.length - POINTS);
  }
}
