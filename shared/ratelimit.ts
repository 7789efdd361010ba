/**
 * Token buckets in a SharedArrayBuffer, so every thread sees the same numbers
 * without messages. Each (slot, action) is one GCRA cell: a theoretical
 * arrival time in µs, advanced by a lock-free compareExchange loop. GCRA is a
 * token bucket stored as one number: capacity C and interval I give a burst
 * tolerance of I·(C−1).
 */
export const ACTIONS = [
  'ws_message',
  'message',
  'channel_publish',
  'task_submit',
  'mailbox_poll',
  'channel_create',
  'http',
  'onboard',
] as const;
export type Action = (typeof ACTIONS)[number];
export const ACTION_INDEX: Record<Action, number> = Object.fromEntries(ACTIONS.map((a, i) => [a, i])) as Record<
  Action,
  number
>;

const A = ACTIONS.length;
/** one token a day is the slowest refill */
const MAX_INTERVAL_US = 86_400_000_000;
/** `per_min: 0`: about a century per token, so never in practice; × capacity it stays inside int64 */
const NO_REFILL_US = 2 ** 52;

export interface RateTableBuffers {
  tat: SharedArrayBuffer;
  params: SharedArrayBuffer;
}

export function allocateRateTable(slots: number): RateTableBuffers {
  return {
    tat: new SharedArrayBuffer(slots * A * 8),
    params: new SharedArrayBuffer(slots * A * 2 * 8),
  };
}

export interface TakeResult {
  allowed: boolean;
  /** tokens left after this take (allowed) */
  remaining: number;
  capacity: number;
  /** ms until one token is available (refused) */
  retryAfterMs: number;
}

const UNLIMITED: TakeResult = Object.freeze({
  allowed: true,
  remaining: Number.MAX_SAFE_INTEGER,
  capacity: 0,
  retryAfterMs: 0,
});

export class RateTable {
  readonly slots: number;
  private readonly tat: BigInt64Array;
  private readonly params: BigInt64Array;

  constructor(buffers: RateTableBuffers) {
    this.tat = new BigInt64Array(buffers.tat);
    this.params = new BigInt64Array(buffers.params);
    this.slots = this.tat.length / A;
  }

  /**
   * Capacity 0 means unlimited (the whitelist). `perMin` 0 means no refill
   * (§9.4): a hard cap of `capacity`, an interval no run of the hub outlives.
   * The interval is clamped so interval × capacity fits 64 bits.
   */
  configure(slot: number, action: number, capacity: number, perMin: number): void {
    const idx = slot * A + action;
    if (capacity <= 0) {
      Atomics.store(this.params, idx * 2, 0n);
      Atomics.store(this.params, idx * 2 + 1, 0n);
      return;
    }
    const every = perMin > 0 ? Math.min(MAX_INTERVAL_US, Math.max(1, Math.round(60_000_000 / perMin))) : NO_REFILL_US;
    const interval = BigInt(Math.floor(Math.min(every, NO_REFILL_US / capacity)));
    Atomics.store(this.params, idx * 2, interval);
    Atomics.store(this.params, idx * 2 + 1, interval * BigInt(capacity - 1));
  }

  reset(slot: number): void {
    for (let a = 0; a < A; a++) Atomics.store(this.tat, slot * A + a, 0n);
  }

  /** True when every bucket of the slot is full, i.e. indistinguishable from a fresh slot. */
  isIdle(slot: number, nowMs: number): boolean {
    const now = BigInt(nowMs) * 1000n;
    for (let a = 0; a < A; a++) if (Atomics.load(this.tat, slot * A + a) > now) return false;
    return true;
  }

  take(slot: number, action: number, nowMs: number): TakeResult {
    const idx = slot * A + action;
    const interval = Atomics.load(this.params, idx * 2);
    if (interval === 0n) return UNLIMITED;
    const tau = Atomics.load(this.params, idx * 2 + 1);
    const now = BigInt(nowMs) * 1000n;
    const capacity = Number(tau / interval) + 1;
    for (;;) {
      const tat = Atomics.load(this.tat, idx);
      const t = tat > now ? tat : now;
      if (t - now > tau) {
        const wait = Number(t - tau - now) / 1000;
        return { allowed: false, remaining: 0, capacity, retryAfterMs: Math.max(1, Math.ceil(wait)) };
      }
      const next = t + interval;
      if (Atomics.compareExchange(this.tat, idx, tat, next) === tat) {
        const remaining = Number((tau + interval - (next - now)) / interval);
        return { allowed: true, remaining, capacity, retryAfterMs: 0 };
      }
    }
  }
}
