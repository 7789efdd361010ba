import type { Db } from './env.js';

/**
 * Replies remembered per (agent, key) for `ttlMs` (§9.28). `byTime` orders
 * entries by write time so expiry is a range delete, never a full scan.
 */
export class IdempotencyStore {
  constructor(
    private readonly byKey: Db,
    private readonly byTime: Db,
    private readonly ttlMs: number,
  ) {}

  get(agent: string, key: string, now: number): unknown | undefined {
    const rec = this.byKey.get([agent, key]) as { reply: unknown; at: number } | undefined;
    if (!rec || rec.at + this.ttlMs < now) return undefined;
    return rec.reply;
  }

  put(agent: string, key: string, reply: unknown, now: number): void {
    this.byKey.putSync([agent, key], { reply, at: now });
    this.byTime.putSync([now, agent, key], 1);
  }

  sweep(now: number): number {
    let n = 0;
    for (const { key } of this.byTime.getRange({ end: [now - this.ttlMs] })) {
      const [at, agent, k] = key as [number, string, string];
      const rec = this.byKey.get([agent, k]) as { at: number } | undefined;
      if (rec && rec.at === at) this.byKey.removeSync([agent, k]);
      this.byTime.removeSync(key);
      n++;
    }
    return n;
  }
}
