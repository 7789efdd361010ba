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

function randomU32(): number {
  if (offset + 4 > pool.length) {
    randomFillSync(pool);
    offset = 0;
  }
  const r = pool.readUInt32BE(offset);
  offset += 4;
  return r;
}

let lastMs = 0;
let counter = 0;

/**
 * 16 lower-hex chars: task ids. The first 11 are the time in ms and the
 * rest a per-ms counter (uniqueness) plus random bits, so ids grow over time
 * and an index keyed by them appends to its rightmost pages instead of
 * dirtying a random page per record (random keys multiply what a commit fsyncs).
 */
export function newId(): string {
  // a logical clock: never backwards, and past 1,024 ids in one ms it borrows the next ms
  let t = Math.max(Date.now(), lastMs);
  counter = t === lastMs ? counter + 1 : 0;
  if (counter > 0x3ff) {
    t += 1;
    counter = 0;
  }
  lastMs = t;
  const low = ((counter & 0x3ff) << 10) | (randomU32() & 0x3ff);
  return t.toString(16).padStart(11, '0').slice(-11) + low.toString(16).padStart(5, '0');
}

const MESSAGE_ID = /^[0-9a-f]{16}$/;

/**
 * 16 lower-hex chars: message ids. The first 10 are the message's global
 * seq, so an id is its own history key and no id index is written or
 * trimmed; the last 6 are random, so ids stay unique if a restore rewinds the seq.
 */
export function messageId(seq: number): string {
  return seq.toString(16).padStart(10, '0') + (randomU32() & 0xffffff).toString(16).padStart(6, '0');
}

/** The seq a message id was minted for, or undefined for an id in another format. */
export function seqOfMessageId(id: string): number | undefined {
  return MESSAGE_ID.test(id) ? Number.parseInt(id.slice(0, 10), 16) : undefined;
}
