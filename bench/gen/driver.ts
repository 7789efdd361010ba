import type { PhaseSpec } from '../types.js';
import { nowUs, sleep } from '../util.js';
import type { BenchAgent } from './agent.js';
import type { Recorder } from './recorder.js';

/** Sends one op for `agent`; `t` is the scheduled (open loop) or actual (closed loop) send time. */
export type Fire = (agent: BenchAgent, t: number) => void;

/**
 * Paces one worker's senders. Open loop (wrk2 style): send i is due at
 * start + i/rate, round-robin over the senders, whatever the replies do; the
 * caller measures latency from that due time, which corrects coordinated
 * omission, and the driver records how late it actually sent (`lag`).
 * Closed loop: each sender keeps `window` ops in flight, refilled on reply.
 */
export class LoadDriver {
  private stopped = false;
  private endUs: number;

  constructor(
    private readonly senders: BenchAgent[],
    private readonly phase: PhaseSpec,
    private readonly fire: Fire,
    private readonly rec: Recorder,
    /** closed-loop window of a task-only sender is per task agent of the worker */
    private readonly taskers: number,
  ) {
    this.endUs = phase.startUs + phase.durationUs;
  }

  /** Resolves when the send window is over. */
  async run(): Promise<void> {
    const wait = (this.phase.startUs - nowUs()) / 1000;
    if (wait > 0) await new Promise((r) => setTimeout(r, wait));
    if (this.senders.length === 0 || this.phase.mode === 'hold') return this.untilEnd();
    if (this.phase.mode === 'open') await this.openLoop();
    else await this.closedLoop();
  }

  stop(): void {
    this.stopped = true;
  }

  /** Moves the end of the send window (the orchestrator ends an open-ended phase). */
  endAt(us: number): void {
    this.endUs = us;
  }

  /** Waits for the end of the send window, which endAt may move closer. */
  private async untilEnd(): Promise<void> {
    for (let left = this.endUs - nowUs(); left > 0 && !this.stopped; left = this.endUs - nowUs())
      await sleep(Math.min(100, left / 1000));
  }

  private windowOf(a: BenchAgent): number {
    const w = this.phase.window ?? 1;
    return a.taskOnly ? w * Math.max(1, this.taskers) : w;
  }

  /** A reply (ack, error or completed cycle) freed a slot of `agent`. */
  completed(agent: BenchAgent): void {
    if (agent.outstanding > 0) agent.outstanding--;
    if (this.phase.mode !== 'closed' || this.stopped) return;
    const now = nowUs();
    if (now >= this.endUs) return;
    while (agent.outstanding < this.windowOf(agent)) this.send(agent, nowUs());
  }

  private send(agent: BenchAgent, t: number): void {
    agent.outstanding++;
    this.rec.counts.sent++;
    this.fire(agent, t);
  }

  private closedLoop(): Promise<void> {
    for (const a of this.senders) while (a.outstanding < this.windowOf(a)) this.send(a, nowUs());
    return this.untilEnd();
  }

  private openLoop(): Promise<void> {
    const rate = this.phase.rate ?? 0;
    const interval = rate > 0 ? 1e6 / rate : Number.POSITIVE_INFINITY;
    const start = this.phase.startUs;
    let i = 0;
    return new Promise((resolve) => {
      const tick = () => {
        if (this.stopped) return resolve();
        const now = nowUs();
        const until = Math.min(now, this.endUs);
        for (let due = start + i * interval; due <= until; due = start + ++i * interval) {
          if (this.rec.measured(this.phase.id, due)) this.rec.record('lag', due, now);
          this.send(this.senders[i % this.senders.length], due);
        }
        const next = start + i * interval;
        if (next >= this.endUs) return resolve();
        // setTimeout's 1 ms floor is the schedule's resolution; the lag histogram shows it
        setTimeout(tick, Math.max(0, (next - nowUs()) / 1000 - 0.5));
      };
      tick();
    });
  }
}
