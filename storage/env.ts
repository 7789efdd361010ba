import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { type Database, open, type RootDatabase } from 'lmdb';

export type Db = Database<any, any>;

export interface DomainEnv<N extends string> {
  root: RootDatabase;
  dbs: Record<N, Db>;
  path: string;
  close(): Promise<void>;
}

/**
 * Opens `data/<domain>/<domain>.mdb` with one named database per record kind.
 * Durability is lmdb's default (synced commits); callers await `root.flushed`
 * before acknowledging (ARCHITECTURE.md: never noSync/noMetaSync).
 */
export function openDomainEnv<N extends string>(dataDir: string, domain: string, names: readonly N[]): DomainEnv<N> {
  const dir = join(dataDir, domain);
  mkdirSync(dir, { recursive: true });
  const path = join(dir, `${domain}.mdb`);
  const root = open({ path, maxDbs: 32, mapSize: 2 ** 34 });
  const dbs = {} as Record<N, Db>;
  // msgpackr record structures, kept in each database: records encode ~1.6× and decode ~4× faster
  for (const name of names) dbs[name] = root.openDB({ name, sharedStructuresKey: STRUCTURES });
  return {
    root,
    dbs,
    path,
    close: () => root.close(),
  };
}

/** Keys `[prefix, n]` for one prefix span [prefix, 0] … [prefix, MAX]. */
export function span(prefix: string): { start: [string, number]; end: [string, number] } {
  return { start: [prefix, 0], end: [prefix, Number.MAX_SAFE_INTEGER] };
}

/** lmdb-js ranges are iterables; these read them synchronously (inside a transaction). */
export function all<T>(range: Iterable<T>): T[] {
  return Array.from(range);
}

export function first<T>(range: Iterable<T>): T | undefined {
  for (const x of range) return x;
  return undefined;
}

/** Where lmdb-js keeps a database's shared msgpack structures (ranges never yield it). */
export const STRUCTURES = Symbol.for('structures');

/** Records in a whole database, from mdb_stat (O(1), unlike counting a range), less the structures entry. */
export function count(db: Db): number {
  return (db.getStats() as { entryCount: number }).entryCount - (db.doesExist(STRUCTURES) ? 1 : 0);
}
