import { readFileSync } from 'node:fs';

/** Linux clock ticks per second for /proc/<pid>/stat utime/stime (USER_HZ, 100 on every mainstream kernel). */
const TICKS = 100;

export interface ProcSample {
  atMs: number;
  cpuMs: number;
  rssBytes: number;
}

/** Reads CPU time and RSS of a process from /proc; null when it is gone or /proc is unavailable. */
export function readProc(pid: number): ProcSample | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // fields after "pid (comm) ": state is field 3, utime 14, stime 15
    const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const cpuMs = ((Number(rest[11]) + Number(rest[12])) * 1000) / TICKS;
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    const m = /VmRSS:\s+(\d+) kB/.exec(status);
    return { atMs: performance.now(), cpuMs, rssBytes: m ? Number(m[1]) * 1024 : 0 };
  } catch {
    return null;
  }
}

export interface ProcSummary {
  pid: number;
  cpu_pct: number;
  rss_start_mb: number;
  rss_end_mb: number;
  rss_peak_mb: number;
}

const mb = (b: number) => Math.round((b / 1048576) * 10) / 10;

/** Samples a process every `everyMs` between begin() and end(): CPU % of one core, RSS start/end/peak. */
export class ProcSampler {
  private first: ProcSample | null = null;
  private last: ProcSample | null = null;
  private peak = 0;
  private timer: NodeJS.Timeout | null = null;

  constructor(
    readonly pid: number,
    private readonly everyMs = 250,
  ) {}

  begin(): void {
    this.first = readProc(this.pid);
    this.last = this.first;
    this.peak = this.first?.rssBytes ?? 0;
    this.timer = setInterval(() => this.sample(), this.everyMs);
    this.timer.unref();
  }

  private sample(): void {
    const s = readProc(this.pid);
    if (!s) return;
    this.last = s;
    if (s.rssBytes > this.peak) this.peak = s.rssBytes;
  }

  end(): ProcSummary | null {
    if (this.timer) clearInterval(this.timer);
    this.sample();
    const a = this.first;
    const b = this.last;
    if (!a || !b) return null;
    const wall = b.atMs - a.atMs;
    return {
      pid: this.pid,
      cpu_pct: wall > 0 ? Math.round(((b.cpuMs - a.cpuMs) / wall) * 1000) / 10 : 0,
      rss_start_mb: mb(a.rssBytes),
      rss_end_mb: mb(b.rssBytes),
      rss_peak_mb: mb(this.peak),
    };
  }
}
