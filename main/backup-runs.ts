/** One backup run as the dashboard lists it. */
export interface BackupRun {
  started_at: number;
  duration_ms: number;
  status: 'complete' | 'partial' | 'failed';
  path: string | null;
  error: string | null;
}

const KEPT = 10;

/** The last backup runs of this process (scheduled and asked for), newest first; failures included. */
export class BackupRuns {
  private readonly runs: BackupRun[] = [];
  /** told after each run (the live dashboard) */
  onRun: (() => void) | null = null;

  /** Runs `backup` and records how it went; its result or error passes through. */
  async record<T extends { status: string; path: string }>(backup: () => Promise<T>): Promise<T> {
    const started_at = Date.now();
    const done = (run: Omit<BackupRun, 'started_at' | 'duration_ms'>) => {
      this.runs.unshift({ started_at, duration_ms: Date.now() - started_at, ...run });
      this.runs.length = Math.min(this.runs.length, KEPT);
      this.onRun?.();
    };
    try {
      const r = await backup();
      done({ status: r.status === 'complete' ? 'complete' : 'partial', path: r.path, error: null });
      return r;
    } catch (err) {
      done({ status: 'failed', path: null, error: err instanceof Error ? err.message : String(err) });
      throw err;
    }
  }

  list(): BackupRun[] {
    return this.runs;
  }
}
