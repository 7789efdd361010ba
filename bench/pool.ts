import { Worker } from 'node:worker_threads';
import type { FromWorker, PhaseSpec, ToWorker, WorkerInit, WorkerPhaseResult } from './types.js';
import { nowUs, sleep } from './util.js';

export interface Progress {
  sent: number;
  acked: number;
  delivered: number;
  errors: number;
}

/**
 * The thread's entry is TypeScript. `execArgv: ['--import', 'tsx']` does not
 * reach a worker's entry on Node 20, so a tiny bootstrap registers tsx's
 * loader in the thread and then imports the real entry.
 */
const BOOTSTRAP = `import(${JSON.stringify(import.meta.resolve('tsx/esm/api'))})
  .then((tsx) => { tsx.register(); return import(${JSON.stringify(new URL('./gen/worker.ts', import.meta.url).href)}); })
  .catch((err) => { require('node:worker_threads').parentPort.postMessage({ type: 'fatal', error: String(err && err.stack || err) }); });`;

/** One generator thread as the main thread sees it. */
class GenThread {
  readonly worker: Worker;
  progress: Progress = { sent: 0, acked: 0, delivered: 0, errors: 0 };
  private waiting: { type: FromWorker['type']; resolve: (m: FromWorker) => void } | null = null;
  failure: Error | null = null;
  private onFail: ((e: Error) => void) | null = null;

  constructor() {
    this.worker = new Worker(BOOTSTRAP, { eval: true });
    this.worker.on('message', (m: FromWorker) => {
      if (m.type === 'progress') this.progress = m;
      else if (m.type === 'fatal') this.fail(new Error(m.error));
      else if (this.waiting?.type === m.type) {
        const w = this.waiting;
        this.waiting = null;
        w.resolve(m);
      }
    });
    this.worker.on('error', (err) => this.fail(err));
    this.worker.on('exit', (code) => {
      if (code !== 0) this.fail(new Error(`generator thread exited with code ${code}`));
    });
  }

  private fail(err: Error): void {
    this.failure ??= err;
    this.onFail?.(err);
  }

  send(m: ToWorker): void {
    this.worker.postMessage(m);
  }

  /** Waits for the next message of `type`; rejects on a thread failure or after `timeoutMs`. */
  expect<T extends FromWorker['type']>(type: T, timeoutMs: number): Promise<Extract<FromWorker, { type: T }>> {
    if (this.failure) return Promise.reject(this.failure);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(
        () => reject(new Error(`generator thread: no ${type} within ${timeoutMs} ms`)),
        timeoutMs,
      );
      this.onFail = (e) => {
        clearTimeout(timer);
        reject(e);
      };
      this.waiting = {
        type,
        resolve: (m) => {
          clearTimeout(timer);
          this.onFail = null;
          resolve(m as Extract<FromWorker, { type: T }>);
        },
      };
    });
  }
}

/** The load generator: worker threads that each drive a share of the agents. */
export class GeneratorPool {
  private constructor(private readonly threads: GenThread[]) {}

  /** Starts one thread per init, connects and identifies every agent. */
  static async start(inits: WorkerInit[], timeoutMs: number): Promise<GeneratorPool> {
    const threads = inits.map(() => new GenThread());
    const pool = new GeneratorPool(threads);
    try {
      await Promise.all(
        threads.map((t, i) => {
          const ready = t.expect('ready', timeoutMs);
          t.send({ type: 'init', init: inits[i] });
          return ready;
        }),
      );
    } catch (err) {
      await pool.close();
      throw err;
    }
    return pool;
  }

  get size(): number {
    return this.threads.length;
  }

  progress(): Progress {
    const p: Progress = { sent: 0, acked: 0, delivered: 0, errors: 0 };
    for (const t of this.threads) {
      p.sent += t.progress.sent;
      p.acked += t.progress.acked;
      p.delivered += t.progress.delivered;
      p.errors += t.progress.errors;
    }
    return p;
  }

  /**
   * Runs one phase on every thread (each with its own share), waits for the
   * drains, lets late deliveries land (until the count holds still), then
   * collects each thread's counters and histograms.
   */
  async runPhase(phases: PhaseSpec[]): Promise<WorkerPhaseResult[]> {
    const p = phases[0];
    const total = (p.startUs + p.durationUs + p.drainUs - nowUs()) / 1000;
    const timeout = Math.max(0, total) + 120_000;
    await Promise.all(
      this.threads.map((t, i) => {
        const done = t.expect('phase_done', timeout);
        t.send({ type: 'phase', phase: phases[i] });
        return done;
      }),
    );
    let last = -1;
    for (let i = 0; i < 40 && this.progress().delivered !== last; i++) {
      last = this.progress().delivered;
      await sleep(300);
    }
    const results = await Promise.all(
      this.threads.map((t) => {
        const r = t.expect('result', 30_000);
        t.send({ type: 'collect' });
        return r;
      }),
    );
    return results.map((r) => r.result);
  }

  /** Ends the running phase's send window at `atUs` (a phase started with an open end). */
  end(atUs: number): void {
    for (const t of this.threads) t.send({ type: 'end', atUs });
  }

  async close(): Promise<void> {
    for (const t of this.threads) t.send({ type: 'close' });
    await sleep(300);
    await Promise.all(this.threads.map((t) => t.worker.terminate()));
  }
}
