import { createHash, randomBytes, randomFillSync, timingSafeEqual } from 'node:crypto';

/** 32 random bytes as 64 lower-hex chars (PROTOCOL.md conventions). */
export function newToken(): string {
  return randomBytes(32).toString('hex');
}

/** Tokens are stored and compared only as SHA-256 digests. */
export function hashToken(token: string): string {
  return createHash('sha256').update(token).digest('hex');
}

export function sameHash(a: string, b: string): boolean {
  const x = Buffer.from(a, 'hex');
  const y = Buffer.from(b, 'hex');
  return x.length === y.length && timingSafeEqual(x, y);
}

// random bits come from a pooled buffer: one getrandom call per 1,024 ids, not one per message
const pool = Buffer.alloc(4096);
let offset = pool.length;
let lastMs = 0;
let counter = 0;

/**
 * 16 lower-hex chars: message ids. The first 11 are the time in ms and the
 * rest a per-ms counter (uniqueness) plus random bits, so ids grow over time and the id
 * index appends to its rightmost pages instead of dirtying a random page per
 * message (random keys multiplied the bytes every commit had to fsync).
 */
export function newId(): string {
  if (offset + 4 > pool.length) {
    randomFillSync(pool);
    offset = 0;
  }
  // a logical clock: never backwards, and past 1,024 ids in one ms it borrows the next ms
  let t = Math.max(Date.now(), lastMs);
  counter = t === lastMs ? counter + 1 : 0;
  if (counter > 0x3ff) {
    t += 1;
    counter = 0;
  }
  lastMs = t;
  const rand = pool.readUInt32BE(offset) & 0x3ff;
  offset += 4;
  const low = ((counter & 0x3ff) << 10) | rand;
  return t.toString(16).padStart(11, '0').slice(-11) + low.toString(16).padStart(5, '0');
}
