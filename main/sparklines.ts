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
/** Latencies kept per second to read its percentiles from (a uniform sample past that). */
const SAMPLE = 512;

/**
 * Throughput and latency per second for the dashboard's sparklines: O(1)
 * per task outcome, kept whether or not anyone watches, so a viewer that
 * connects sees the last two minutes.
 */
export class Sparklines {
  private readonly points: SparkPoint[] = [];
  private cur = { t: 0, completed: 0, failed: 0, seen: 0, ms: [] as number[] };

  outcome(outcome: 'complete' | 'retried' | 'dead_letter', createdAt: number, now: number): void {
    this.roll(now);
    if (outcome !== 'complete') {
      this.cur.failed++;
      return;
    }
    this.cur.completed++;
    const ms = Math.max(0, now - createdAt);
    const seen = ++this.cur.seen;
    if (this.cur.ms.length < SAMPLE) this.cur.ms.push(ms);
    else {
      // reservoir sampling: each latency of the second is kept with the same chance
      const i = Math.floor(Math.random() * seen);
      if (i < SAMPLE) this.cur.ms[i] = ms;
    }
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
      // the seconds with no outcome at all, up to the window
      for (let t = this.cur.t + 1000; t < sec && sec - t <= POINTS * 1000; t += 1000) {
        this.push({ t, completed: 0, failed: 0, p50: null, p99: null });
      }
    }
    this.cur = { t: sec, completed: 0, failed: 0, seen: 0, ms: [] };
  }

  private close(): SparkPoint {
    const ms = this.cur.ms.sort((a, b) => a - b);
    const at = (q: number) => (ms.length ? ms[Math.min(ms.length - 1, Math.floor(q * ms.length))] : null);
    return { t: this.cur.t, completed: this.cur.completed, failed: this.cur.failed, p50: at(0.5), p99: at(0.99) };
  }

  private push(p: SparkPoint): void {
    this.points.push(p);
    if (this.points.length > POINTS) this.points.splice(0, this.points.length - POINTS);
  }
}
