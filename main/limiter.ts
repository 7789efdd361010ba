import { type BucketLimit, type Config, rateLimitFor } from '../shared/config.js';
import {
  ACTION_INDEX,
  ACTIONS,
  type Action,
  allocateRateTable,
  RateTable,
  type TakeResult,
} from '../shared/ratelimit.js';

export type Overrides = Partial<Record<Action, BucketLimit>>;

/** A key the limiter refused lately: its last refused action, when, and how many refusals since it was first seen. */
export interface Refusal {
  key: string;
  action: Action;
  at: number;
  count: number;
}

/** Refusals are remembered this long, and for this many keys at most. */
const REFUSAL_MS = 5 * 60_000;
const REFUSALS_MAX = 10_000;

/**
 * Maps keys (`a:<agent>`, `c:<conn>`, `ip:<addr>`) to slots of the shared
 * rate table and writes each slot's limits (defaults, per-agent overrides,
 * whitelist = unlimited). A slot whose buckets are all full is identical to a
 * fresh one, so the sweep frees such slots without changing any outcome.
 */
export class Limiter {
  readonly table: RateTable;
  private readonly slots = new Map<string, number>();
  private readonly free: number[] = [];
  private readonly pinned = new Map<string, number>();
  private overrides = new Map<string, Overrides>();
  private whitelist = new Set<string>();
  private readonly refused = new Map<string, Refusal>();
  /** told of each refusal (the live dashboard); O(1) */
  onRefused: ((key: string) => void) | null = null;

  constructor(private readonly config: Config) {
    this.table = new RateTable(allocateRateTable(config.rateSlots));
    // the last slot is the shared overflow slot used only when the table is full
    for (let i = config.rateSlots - 2; i >= 0; i--) this.free.push(i);
    this.configureSlot(config.rateSlots - 1, null);
  }

  load(overrides: Record<string, Overrides>, whitelist: readonly string[]): void {
    this.overrides = new Map(Object.entries(overrides));
    this.whitelist = new Set(whitelist);
    this.reconfigureAll();
  }

  private agentOf(key: string): string | null {
    return key.startsWith('a:') ? key.slice(2) : null;
  }

  private configureSlot(slot: number, agent: string | null): void {
    const unlimited = agent !== null && this.whitelist.has(agent);
    const ov = agent !== null ? this.overrides.get(agent) : undefined;
    for (const action of ACTIONS) {
      const lim = ov?.[action] ?? rateLimitFor(this.config, action);
      if (unlimited) this.table.configure(slot, ACTION_INDEX[action], 0, 0);
      else this.table.configure(slot, ACTION_INDEX[action], lim.capacity, lim.per_min);
    }
  }

  private reconfigureAll(): void {
    for (const [key, slot] of this.slots) this.configureSlot(slot, this.agentOf(key));
  }

  private slotFor(key: string): number {
    let slot = this.slots.get(key);
    if (slot !== undefined) return slot;
    if (this.free.length === 0) this.sweep(Date.now());
    slot = this.free.pop();
    if (slot === undefined) return this.config.rateSlots - 1;
    this.table.reset(slot);
    this.configureSlot(slot, this.agentOf(key));
    this.slots.set(key, slot);
    return slot;
  }

  take(key: string, action: Action, now = Date.now()): TakeResult {
    const r = this.table.take(this.slotFor(key), ACTION_INDEX[action], now);
    if (!r.allowed) this.refuse(key, action, now);
    return r;
  }

  private refuse(key: string, action: Action, now: number): void {
    const prev = this.refused.get(key);
    if (!prev && this.refused.size >= REFUSALS_MAX) return;
    this.refused.set(key, { key, action, at: now, count: (prev?.count ?? 0) + 1 });
    this.onRefused?.(key);
  }

  refusal(key: string): Refusal | undefined {
    return this.refused.get(key);
  }

  /** The keys refused in the last five minutes, most recent first (at most `max`). */
  refusals(max = 200): Refusal[] {
    return [...this.refused.values()].sort((a, b) => b.at - a.at).slice(0, max);
  }

  /** Keeps a key's slot while a connection uses it. */
  pin(key: string): void {
    this.pinned.set(key, (this.pinned.get(key) ?? 0) + 1);
  }

  unpin(key: string): void {
    const n = (this.pinned.get(key) ?? 1) - 1;
    if (n > 0) this.pinned.set(key, n);
    else this.pinned.delete(key);
  }

  sweep(now: number): number {
    for (const [k, r] of this.refused) if (now - r.at > REFUSAL_MS) this.refused.delete(k);
    let freed = 0;
    for (const [key, slot] of this.slots) {
      if (this.pinned.has(key) || !this.table.isIdle(slot, now)) continue;
      this.slots.delete(key);
      this.free.push(slot);
      freed++;
    }
    return freed;
  }

  whitelistIds(): string[] {
    return [...this.whitelist].sort();
  }

  setWhitelist(ids: Iterable<string>): void {
    this.whitelist = new Set(ids);
    this.reconfigureAll();
  }

  setOverrides(agent: string, ov: Overrides | null): void {
    if (ov) this.overrides.set(agent, ov);
    else this.overrides.delete(agent);
    const slot = this.slots.get(`a:${agent}`);
    if (slot === undefined) return;
    // a new limit starts full: state left by the old one must not keep refusing
    this.table.reset(slot);
    this.configureSlot(slot, agent);
  }

  describe(): {
    defaults: Record<Action, BucketLimit>;
    overrides: Record<string, Overrides>;
    whitelist: string[];
  } {
    const defaults = Object.fromEntries(ACTIONS.map((a) => [a, rateLimitFor(this.config, a)])) as Record<
      Action,
      BucketLimit
    >;
    return { defaults, overrides: Object.fromEntries(this.overrides), whitelist: this.whitelistIds() };
  }
}
