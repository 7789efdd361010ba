import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';

/** How much of an environment a verification reads. */
export type VerifyMode = 'counts' | 'full';

export interface VerifyRequest {
  /** counts: stat every named database and walk its keys; full: also decode every record */
  mode: VerifyMode;
  /** `expect`: record counts the walk must find; `sha256`: the file's checksum, checked before it is opened */
  envs: Array<{ domain: string; file: string; expect?: Record<string, number>; sha256?: string }>;
}

export interface EnvReport {
  domain: string;
  file: string;
  ok: boolean;
  /** what is wrong, when not ok */
  reason?: string;
  /** records per named database, from the walk */
  counts: Record<string, number>;
  records: number;
  /** the environment's last committed transaction id: a smaller one than a backup's means an older file */
  txnid: number;
  /** the messaging domain's global seq, when the environment has one */
  seq?: number;
  ms: number;
}

/** One line of the verifier's output. */
export type VerifyLine = { checking: string } | EnvReport;

const ext = import.meta.url.endsWith('.ts') ? '.ts' : '.js';
const script = fileURLToPath(new URL(`../storage/verify-env${ext}`, import.meta.url));

/**
 * Opens and reads each environment in a child process, never in this one: a
 * damaged LMDB file kills its reader with SIGSEGV or SIGBUS (a header
 * overwritten, a file truncated) or an assertion (a page overwritten), and
 * that must become a report, not a dead hub. The environment the child was
 * reading when it died is reported with the signal.
 */
export function verifyEnvs(req: VerifyRequest): Promise<EnvReport[]> {
  if (req.envs.length === 0) return Promise.resolve([]);
  return new Promise((resolve, reject) => {
    const child = spawn(
      process.execPath,
      [...(ext === '.ts' ? ['--import', 'tsx'] : []), script, JSON.stringify(req)],
      {
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    const reports: EnvReport[] = [];
    let current: string | null = null;
    let stderr = '';
    child.stderr.setEncoding('utf8');
    child.stderr.on('data', (d: string) => {
      stderr = (stderr + d).slice(-4000);
    });
    createInterface({ input: child.stdout }).on('line', (line) => {
      let rec: VerifyLine;
      try {
        rec = JSON.parse(line) as VerifyLine;
      } catch {
        return;
      }
      if ('checking' in rec) current = rec.checking;
      else {
        reports.push(rec);
        current = null;
      }
    });
    child.on('error', reject);
    child.on('close', (code, signal) => {
      if (current !== null) {
        const env = req.envs.find((e) => e.domain === current);
        const why = signal ? `reading it crashed the reader (${signal})` : `the reader failed (exit ${code})`;
        const last = stderr.trim().split('\n').pop();
        reports.push({
          domain: current,
          file: env?.file ?? '',
          ok: false,
          reason: `${why}${last ? `: ${last}` : ''}`,
          counts: {},
          records: 0,
          txnid: 0,
          ms: 0,
        });
      }
      if (reports.length < req.envs.length && current === null && code !== 0) {
        reject(new Error(`verifier failed (${signal ?? code}): ${stderr.trim()}`));
        return;
      }
      resolve(reports);
    });
  });
}
