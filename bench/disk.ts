import { closeSync, fdatasyncSync, openSync, readFileSync, rmSync, writeSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { newHist, recordUs, summarize } from './hist.js';
import { nowUs } from './util.js';

export interface DiskProbe {
  path: string;
  fs_type: string;
  samples: number;
  p50_ms: number;
  p99_ms: number;
  p999_ms: number;
  max_ms: number;
}

/** The file system type holding `dir` (longest mount-point prefix in /proc/mounts), or "unknown". */
function fsType(dir: string): string {
  try {
    let best = { point: '', type: 'unknown' };
    for (const line of readFileSync('/proc/mounts', 'utf8').split('\n')) {
      const [, point, type] = line.split(' ');
      if (!point || !type) continue;
      const inside = dir === point || dir.startsWith(point.endsWith('/') ? point : `${point}/`);
      if (inside && point.length > best.point.length) best = { point, type };
    }
    return best.type;
  } catch {
    return 'unknown';
  }
}

/**
 * fdatasync latency of the data directory: small appends, each followed by
 * fdatasync, as a durable ack needs at least one. An ack can never beat this.
 */
export function probeDisk(dir: string, samples = 500, budgetMs = 3000): DiskProbe {
  const path = resolve(dir);
  const file = join(path, `.bench-fdatasync-${process.pid}`);
  const h = newHist();
  const buf = Buffer.alloc(128, 'x');
  const fd = openSync(file, 'a');
  const deadline = nowUs() + budgetMs * 1000;
  try {
    for (let i = 0; i < samples && nowUs() < deadline; i++) {
      const t0 = nowUs();
      writeSync(fd, buf);
      fdatasyncSync(fd);
      recordUs(h, nowUs() - t0);
    }
  } finally {
    closeSync(fd);
    rmSync(file, { force: true });
  }
  const s = summarize(h);
  return {
    path,
    fs_type: fsType(path),
    samples: s.count,
    p50_ms: s.p50_ms,
    p99_ms: s.p99_ms,
    p999_ms: s.p999_ms,
    max_ms: s.max_ms,
  };
}
