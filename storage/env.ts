import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { type Database, open, type RootDatabase } from 'lmdb';
import type { PageArgs } from '../shared/domains/domain.js';
import { ErrorCode, HubError } from '../shared/errors.js';

export type { PageArgs };

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
  const root = openEnvFile(path);
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

/**
 * One environment's root, with the options every opener must share: lmdb-js
 * gives a second thread of the process the environment the first opened,
 * so the domain worker and the maintenance thread open it alike.
 */
export function openEnvFile(path: string): RootDatabase {
  return open({ path, maxDbs: 32, mapSize: 2 ** 34 });
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

/** The environment's last committed transaction id (LMDB's `me_txnid`). */
export function lastTxnId(root: RootDatabase): number {
  return (root.getStats() as { lastTxnId: number }).lastTxnId;
}

/** Records in a whole database, from mdb_stat (O(1), unlike counting a range), less the structures entry. */
export function count(db: Db): number {
  return (db.getStats() as { entryCount: number }).entryCount - (db.doesExist(STRUCTURES) ? 1 : 0);
}

/** A page of a list route: at most this many items (§ paging in the README). */
export const PAGE_MAX = 1000;

/** Cursors are the last key read, opaque to clients. */
export const encodeCursor = (key: unknown) => Buffer.from(JSON.stringify(key)).toString('base64url');

/**
 * The key a cursor continues after (undefined: the first page). A cursor is
 * the last key of a page, so it must have the shape of `db`'s keys: the same
 * type, a tuple of the same arity and element types. Anything else is refused
 * (422 on `cursor`): as a start key it would fail lmdb's key encoder or start
 * before the first record, at lmdb-js's internal structures entry.
 */
export function decodeCursor(cursor: string | undefined, db: Db): unknown {
  if (!cursor) return undefined;
  const key = parseKey(cursor);
  // every key of one database has one shape, so its first key shows it (an empty database takes any key)
  const like = first(db.getKeys({ limit: 1 }));
  if (key === undefined || (like !== undefined && shapeOf(key) !== shapeOf(like))) {
    const detail = 'not a cursor this list answered';
    throw new HubError(ErrorCode.validationFailed, { errors: [{ field: 'cursor', error: 'wrong_type', detail }] });
  }
  return key;
}

/** A cursor's JSON when it is a key the hub writes (a string, or a tuple of strings and numbers), else undefined. */
function parseKey(cursor: string): string | Array<string | number> | undefined {
  let key: unknown;
  try {
    key = JSON.parse(Buffer.from(cursor, 'base64url').toString());
  } catch {
    return undefined;
  }
  if (typeof key === 'string') return key;
  const part = (x: unknown) => typeof x === 'string' || Number.isFinite(x);
  return Array.isArray(key) && key.length > 0 && key.every(part) ? key : undefined;
}

const shapeOf = (key: unknown) => (Array.isArray(key) ? `[${key.map((x) => typeof x).join()}]` : typeof key);

/** One page of a database in key order: items after the cursor's key, and the cursor of the next page (null at the end). */
export function readPage<T>(
  db: Db,
  args: PageArgs,
  map: (key: unknown, value: unknown) => T,
): { items: T[]; cursor: string | null } {
  const limit = Math.min(Math.max(args.limit ?? PAGE_MAX, 1), PAGE_MAX);
  const after = decodeCursor(args.cursor, db);
  const items: T[] = [];
  for (const { key, value } of db.getRange(after === undefined ? {} : { start: after as never })) {
    if (after !== undefined && JSON.stringify(key) === JSON.stringify(after)) continue;
    items.push(map(key, value));
    if (items.length === limit) return { items, cursor: encodeCursor(key) };
  }
  return { items, cursor: null };
}
