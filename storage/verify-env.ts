import { createHash } from 'node:crypto';
import { closeSync, existsSync, openSync, readSync } from 'node:fs';
import { performance } from 'node:perf_hooks';
import { open } from 'lmdb';
import type { EnvReport, VerifyLine, VerifyRequest } from '../shared/verify.js';
import { DOMAIN_DBS } from './domains.js';
import { lastTxnId, STRUCTURES } from './env.js';

/** Records a walk of one database finds, decoding each value in `full` mode. */
function walk(db: ReturnType<ReturnType<typeof open>['openDB']>, full: boolean): number {
  let n = 0;
  if (!full) {
    for (const _ of db.getKeys()) n++;
    return n;
  }
  for (const { value } of db.getRange()) {
    if (value === undefined) throw new Error(`record ${n + 1} does not decode`);
    n++;
  }
  return n;
}

/**
 * Reads one environment read-only: for each named database, its stored entry
 * count (mdb_stat) against a walk of its keys (and in `full` mode a decode
 * of every value), then the counts against `expect` when given. Damage shows
 * as a thrown error, a mismatch, or the process dying, which the parent
 * reports.
 */
function verifyOne(e: VerifyRequest['envs'][number], mode: VerifyRequest['mode']): EnvReport {
  const started = performance.now();
  const base = { domain: e.domain, file: e.file, counts: {} as Record<string, number>, records: 0, txnid: 0 };
  const fail = (reason: string): EnvReport => ({ ...base, ok: false, reason, ms: performance.now() - started });
  if (!existsSync(e.file)) return fail(`${e.file} is missing`);
  if (e.sha256 !== undefined && sha256Sync(e.file) !== e.sha256) return fail(`${e.file} does not match its checksum`);
  const env = open({ path: e.file, readOnly: true, maxDbs: 32 });
  try {
    base.txnid = lastTxnId(env);
    const present = new Set(Array.from(env.getKeys(), String));
    for (const name of DOMAIN_DBS[e.domain] ?? []) {
      if (!present.has(name)) {
        base.counts[name] = 0;
        continue;
      }
      const db = env.openDB({ name, sharedStructuresKey: STRUCTURES });
      const stored = (db.getStats() as { entryCount: number }).entryCount - (db.doesExist(STRUCTURES) ? 1 : 0);
      const found = walk(db, mode === 'full');
      if (found !== stored) return fail(`${name}: the index says ${stored} records, a walk found ${found}`);
      base.counts[name] = found;
      base.records += found;
      if (name === 'meta' && e.domain === 'messaging') {
        const seq = db.get('seq');
        if (typeof seq === 'number') (base as EnvReport).seq = seq;
      }
    }
    for (const [name, want] of Object.entries(e.expect ?? {})) {
      if ((base.counts[name] ?? 0) !== want)
        return fail(`${name}: ${base.counts[name] ?? 0} records, expected ${want}`);
    }
    return { ...base, ok: true, ms: Math.round(performance.now() - started) };
  } catch (err) {
    return fail(err instanceof Error ? err.message : String(err));
  } finally {
    env.close();
  }
}

function sha256Sync(file: string): string {
  const h = createHash('sha256');
  const fd = openSync(file, 'r');
  const buf = Buffer.allocUnsafe(1 << 20);
  try {
    for (let n = readSync(fd, buf); n > 0; n = readSync(fd, buf)) h.update(buf.subarray(0, n));
  } finally {
    closeSync(fd);
  }
  return h.digest('hex');
}

const out = (line: VerifyLine) => process.stdout.write(`${JSON.stringify(line)}\n`);

// the child's entry (shared/verify.ts spawns it): one JSON request in argv, one JSON line per step out
const req = JSON.parse(process.argv[2] ?? '{"mode":"counts","envs":[]}') as VerifyRequest;
for (const e of req.envs) {
  out({ checking: e.domain });
  out(verifyOne(e, req.mode));
}
