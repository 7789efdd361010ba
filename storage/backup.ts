import { createHash } from 'node:crypto';
import { createReadStream, statSync } from 'node:fs';
import { open, type RootDatabase } from 'lmdb';
import type { DomainBackup } from '../shared/maintenance.js';
import { count, lastTxnId } from './env.js';

export function sha256File(path: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const h = createHash('sha256');
    createReadStream(path)
      .on('data', (c) => h.update(c))
      .on('end', () => resolve(h.digest('hex')))
      .on('error', reject);
  });
}

/** Entries per named database of an open environment (mdb_stat, O(1) each). */
export function countsOf(env: RootDatabase, names: readonly string[]): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const name of names) counts[name] = count(env.openDB({ name }));
  return counts;
}

/** Entries per named database of an environment file, opened read-only, and its last transaction id. */
export async function countEnv(
  file: string,
  names: readonly string[],
): Promise<{ counts: Record<string, number>; txnid: number }> {
  const env = open({ path: file, readOnly: true, maxDbs: 32 });
  try {
    return { counts: countsOf(env, names), txnid: lastTxnId(env) };
  } finally {
    await env.close();
  }
}

/**
 * A consistent snapshot of a live environment (lmdb's copy runs from a read
 * transaction on the thread pool, so writers go on), then the copy is opened
 * read-only and counted, so the manifest describes what was actually written.
 */
export async function snapshot(
  root: RootDatabase,
  domain: string,
  target: string,
  names: readonly string[],
): Promise<DomainBackup> {
  await root.backup(target, false);
  return {
    domain,
    file: target,
    bytes: statSync(target).size,
    sha256: await sha256File(target),
    ...(await countEnv(target, names)),
  };
}
