import { createHash } from 'node:crypto';
import { ErrorCode, HubError } from '../shared/errors.js';
import type { Db } from './env.js';

interface IdemRec {
  reply: unknown;
  at: number;
  /** what the request was, so the same key with another request is refused */
  fp?: string;
}

/** A request's fingerprint: the same request retried hashes the same. */
export function fingerprint(request: unknown): string {
  return createHash('sha256').update(JSON.stringify(request)).digest('base64url');
}

/**
 * Replies remembered per (agent, key) for `ttlMs` (§9.28): a repeat of the
 * same request gets exactly the first reply; the same key with a different
 * request is refused with `idempotency_key_reused`. `byTime` orders entries
 * by write time so expiry is a range delete, never a full scan.
 */
export class IdempotencyStore {
  constructor(
    private readonly byKey: Db,
    private readonly byTime: Db,
    private readonly ttlMs: number,
  ) {}

  /** The first reply to this key, or undefined when the key is new (or expired). */
  replay(agent: string, key: string, fp: string, now: number): unknown | undefined {
    const rec = this.byKey.get([agent, key]) as IdemRec | undefined;
    if (!rec || rec.at + this.ttlMs < now) return undefined;
    if (rec.fp !== undefined && rec.fp !== fp) {
      throw new HubError(ErrorCode.idempotencyKeyReused, { idempotency_key: key });
    }
    return rec.reply;
  }

  remember(agent: string, key: string, fp: string, reply: unknown, now: number): void {
    this.byKey.putSync([agent, key], { reply, at: now, fp } satisfies IdemRec);
    this.byTime.putSync([now, agent, key], 1);
  }

  /**
   * Runs `fn` once per key: a repeat returns `{ replay }` with the first
   * reply and writes nothing. `reply` picks what the caller answered, so
   * internal fields of `fn`'s result are never remembered or replayed.
   */
  once<T, R>(
    idem: { agent: string; key: string } | null,
    request: unknown,
    now: number,
    fn: () => T,
    reply: (out: T) => R,
  ): T | { replay: R } {
    if (!idem) return fn();
    const fp = fingerprint(request);
    const prior = this.replay(idem.agent, idem.key, fp, now);
    if (prior !== undefined) return { replay: prior as R };
    const out = fn();
    this.remember(idem.agent, idem.key, fp, reply(out), now);
    return out;
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
