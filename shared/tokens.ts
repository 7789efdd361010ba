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

// ids come from a pooled random buffer: one getrandom call per 512 ids, not one per message
const pool = Buffer.alloc(4096);
let offset = pool.length;

/** 16 lower-hex chars: message ids. */
export function newId(): string {
  if (offset + 8 > pool.length) {
    randomFillSync(pool);
    offset = 0;
  }
  offset += 8;
  return pool.toString('hex', offset - 8, offset);
}
