import { closeSync, fsyncSync, openSync, readFileSync, renameSync, writeSync } from 'node:fs';
import { dirname } from 'node:path';

/**
 * Replaces `file` with `value` as JSON, atomically and durably: written to a
 * temp file beside it and synced, renamed over it, and the directory synced.
 * A crash leaves the old file or the new one, never a part.
 */
export function writeJsonWhole(file: string, value: unknown): void {
  const tmp = `${file}.tmp`;
  const fd = openSync(tmp, 'w');
  try {
    writeSync(fd, `${JSON.stringify(value, null, 2)}\n`);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  renameSync(tmp, file);
  const dir = openSync(dirname(file), 'r');
  try {
    fsyncSync(dir);
  } finally {
    closeSync(dir);
  }
}

/**
 * The JSON object in a file named on the command line (`--config`, the
 * original's token store). Each problem is one line, `<label>: <what>`,
 * thrown as `error`: the class picks the exit code.
 */
export function readJsonObject(
  file: string,
  how: {
    label: string;
    error: new (message: string) => Error;
    notFound?: string;
    notObject?: string;
  },
): Record<string, unknown> {
  const fail = (what: string) => new how.error(`${how.label}: ${what}`);
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw fail(code === 'ENOENT' ? (how.notFound ?? 'not found') : (err as Error).message);
  }
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (err) {
    throw fail(`not valid JSON (${(err as Error).message})`);
  }
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw))
    throw fail(how.notObject ?? 'must hold a JSON object');
  return raw as Record<string, unknown>;
}
