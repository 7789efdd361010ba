import { readFileSync } from 'node:fs';
import { basename } from 'node:path';
import * as v from 'valibot';
import { compactionMarkFile, restoreMarkFile } from './data-layout.js';
import { writeJsonWhole } from './json-file.js';

/**
 * The marks a restore and a compaction leave beside the environments, so
 * that the start-up check does not take the data they put there for a file
 * rolled back to before the newest backup.
 */

/** Written by a restore: the backup the data came from, and each domain's transaction id in it. */
const RestoreMarkSchema = v.object({
  backup: v.string(),
  at: v.number(),
  txnids: v.record(v.string(), v.number()),
});
export type RestoreMark = v.InferOutput<typeof RestoreMarkSchema>;

/**
 * Written by a compaction for its domain: the copy counts its transactions
 * from 1 again. The mark names the file (device and inode: a file replaced
 * since, by a restore or a move, has others) and its first transaction id.
 */
const CompactionMarkSchema = v.object({ at: v.number(), dev: v.number(), ino: v.number(), txnid: v.number() });
export type CompactionMark = v.InferOutput<typeof CompactionMarkSchema>;
const CompactionMarksSchema = v.record(v.string(), CompactionMarkSchema);

/** A mark that is missing, cut short or not what we wrote reads as none. */
function readJson<T>(file: string, schema: v.GenericSchema<unknown, T>): T | null {
  try {
    const r = v.safeParse(schema, JSON.parse(readFileSync(file, 'utf8')));
    return r.success ? r.output : null;
  } catch {
    return null;
  }
}

export function readRestoreMark(dataDir: string): RestoreMark | null {
  return readJson(restoreMarkFile(dataDir), RestoreMarkSchema);
}

export function readCompactionMarks(dataDir: string): Record<string, CompactionMark> {
  return readJson(compactionMarkFile(dataDir), CompactionMarksSchema) ?? {};
}

export function writeCompactionMark(dataDir: string, domain: string, mark: CompactionMark): void {
  writeJsonWhole(compactionMarkFile(dataDir), { ...readCompactionMarks(dataDir), [domain]: mark });
}

/** The restore mark; the restored domains' compaction marks go, since their files are the backup's now. */
export function writeRestoreMark(
  dataDir: string,
  from: string,
  backups: ReadonlyArray<{ domain: string; txnid?: number | null }>,
  now: number,
): void {
  const mark: RestoreMark = {
    backup: basename(from),
    at: now,
    txnids: Object.fromEntries(backups.map((d) => [d.domain, d.txnid ?? 0])),
  };
  writeJsonWhole(restoreMarkFile(dataDir), mark);
  const compactions = readCompactionMarks(dataDir);
  for (const d of backups) delete compactions[d.domain];
  writeJsonWhole(compactionMarkFile(dataDir), compactions);
}
