import type { Config } from '../shared/config.js';

/**
 * The §2.3 disconnect policy: the Nth failure (validation or rate refusal)
 * inside the window closes the socket; an identified agent closed this way is
 * refused at identify for 30 s, 60 s, then 300 s per repeat. Agents with a
 * violation in the last 60 s are skipped by the scheduler (§9.4).
 */
export class Violations {
  private readonly backoff = new Map<string, { until: number; level: number; at: number }>();
  private readonly lastViolation = new Map<string, number>();
  total = 0;

  constructor(private readonly config: Config) {}

  /** Records one failure on a connection's list; true when the connection must close. */
  record(times: number[], agent: string | null, now: number): boolean {
    this.total++;
    if (agent) this.lastViolation.set(agent, now);
    const since = now - this.config.violationWindowMs;
    while (times.length && times[0] < since) times.shift();
    times.push(now);
    return times.length >= this.config.violationMax;
  }

  /** The agent's socket was closed for violations: start or escalate its back-off. */
  punish(agent: string, now: number): number {
    const steps = this.config.backoffMs;
    const prev = this.backoff.get(agent);
    const quiet = prev && now - prev.at > 10 * (steps[steps.length - 1] ?? 0);
    const level = prev && !quiet ? Math.min(prev.level + 1, steps.length - 1) : 0;
    const ms = steps[level] ?? 0;
    this.backoff.set(agent, { until: now + ms, level, at: now });
    return ms;
  }

  /** ms left of the agent's back-off, 0 when it may identify. */
  blockedFor(agent: string, now: number): number {
    const b = this.backoff.get(agent);
    return b && b.until > now ? b.until - now : 0;
  }

  recentlyViolated(agent: string, now: number, windowMs = 60_000): boolean {
    const t = this.lastViolation.get(agent);
    return t !== undefined && now - t < windowMs;
  }

  sweep(now: number): void {
    for (const [a, t] of this.lastViolation) if (now - t > this.config.violationWindowMs) this.lastViolation.delete(a);
  }
}
