import { Piscina } from 'piscina';
import { ErrorCode, HubError } from '../shared/errors.js';
import type { DomainBackup } from '../storage/backup.js';
import type { EnvSpace } from '../storage/space.js';
import type {
  BackupTask,
  Batch,
  BatchItem,
  BatchResult,
  CompactResult,
  CompactTask,
  CountsTask,
  OpTable,
  RestoreTask,
  SpaceTask,
} from '../workers/runtime.js';
import type { Logger } from './log.js';

type Args<F> = F extends (store: any, args: infer A, now: number) => unknown ? A : never;

interface Pending {
  item: BatchItem;
  resolve: (v: unknown) => void;
  reject: (e: unknown) => void;
}

export interface DomainStats {
  state: 'ready' | 'unhealthy' | 'closed';
  batches: number;
  items: number;
  max_batch: number;
  queued: number;
  in_flight: number;
  last_error: string | null;
}

const ext = import.meta.url.endsWith('.ts') ? '.ts' : '.js';

/**
 * The main thread's handle on one domain worker. Calls made in one event-loop
 * turn travel as ONE piscina task (one LMDB transaction, one fsync); at most
 * one batch is in flight, and what arrives meanwhile joins the next batch, so
 * batches grow under load instead of queueing behind fsyncs.
 */
export class DomainClient<O extends OpTable<any>> {
  readonly name: string;
  private readonly pool: Piscina;
  private queue: Pending[] = [];
  private inFlight = 0;
  /** set during a compaction: requests queue (bounded by queueMax) and no batch is sent */
  private paused = false;
  private idle: (() => void) | null = null;
  /** backups, compactions, space and count queries of this domain run one after another */
  private maintenance: Promise<unknown> = Promise.resolve();
  private scheduled = false;
  private closed = false;
  readonly stats: DomainStats = {
    state: 'ready',
    batches: 0,
    items: 0,
    max_batch: 0,
    queued: 0,
    in_flight: 0,
    last_error: null,
  };

  constructor(
    name: string,
    workerData: unknown,
    private readonly opts: {
      batchMax: number;
      queueMax: number;
      log: Logger;
      /** called per batch with its round trip in µs */
      observe?: (domain: string, micros: number) => void;
    },
  ) {
    this.name = name;
    this.pool = new Piscina({
      filename: new URL(`../workers/${name}${ext}`, import.meta.url).href,
      minThreads: 1,
      maxThreads: 1,
      idleTimeout: Number.POSITIVE_INFINITY,
      // a backup runs beside the batches; batches themselves stay one at a time
      concurrentTasksPerWorker: 2,
      workerData,
    });
    this.pool.on('error', (err: Error) => {
      this.stats.state = 'unhealthy';
      this.stats.last_error = err.message;
      opts.log.error({ domain: name, err }, 'domain worker error');
    });
  }

  call<K extends keyof O & string>(op: K, args: Args<O[K]>): Promise<ReturnType<O[K]>> {
    if (this.closed) return Promise.reject(new HubError(ErrorCode.shuttingDown));
    if (this.queue.length >= this.opts.queueMax) {
      return Promise.reject(new HubError(ErrorCode.overloaded, { retry_after_ms: 1000 }));
    }
    return new Promise((resolve, reject) => {
      this.queue.push({ item: { op, args }, resolve: resolve as (v: unknown) => void, reject });
      this.stats.queued = this.queue.length;
      if (this.inFlight > 0 || this.paused) return;
      if (this.queue.length >= this.opts.batchMax) this.flush();
      else if (!this.scheduled) {
        this.scheduled = true;
        setImmediate(() => this.flush());
      }
    });
  }

  private flush(): void {
    this.scheduled = false;
    if (this.inFlight > 0 || this.paused || this.queue.length === 0) return;
    const taken = this.queue.splice(0, this.opts.batchMax);
    this.stats.queued = this.queue.length;
    this.inFlight = 1;
    this.stats.in_flight = 1;
    const batch: Batch = { items: taken.map((p) => p.item), now: Date.now() };
    const started = performance.now();
    this.pool.run(batch).then(
      (res: BatchResult) => {
        this.opts.observe?.(this.name, (performance.now() - started) * 1000);
        this.settle(taken, res);
      },
      (err: Error) => this.fail(taken, err),
    );
  }

  private settle(taken: Pending[], res: BatchResult): void {
    this.stats.batches++;
    this.stats.items += taken.length;
    if (taken.length > this.stats.max_batch) this.stats.max_batch = taken.length;
    if (res.storageError) this.markUnhealthy(res.storageError);
    else if (this.stats.state === 'unhealthy') {
      this.stats.state = 'ready';
      this.opts.log.info({ domain: this.name }, 'domain storage healthy again');
    }
    for (let i = 0; i < taken.length; i++) {
      const r = res.results[i];
      if (r.ok) taken[i].resolve(r.value);
      else taken[i].reject(new HubError(r.error.code, r.error.fields));
    }
    this.next();
  }

  private fail(taken: Pending[], err: Error): void {
    this.markUnhealthy(err.message);
    for (const p of taken) p.reject(new HubError(ErrorCode.storageUnavailable));
    this.next();
  }

  private markUnhealthy(message: string): void {
    if (this.stats.state !== 'unhealthy')
      this.opts.log.error({ domain: this.name, err: message }, 'domain storage failed');
    this.stats.state = 'unhealthy';
    this.stats.last_error = message;
  }

  private next(): void {
    this.inFlight = 0;
    this.stats.in_flight = 0;
    if (this.idle) this.idle();
    else if (this.queue.length > 0) this.flush();
  }

  private serial<T>(job: () => Promise<T>): Promise<T> {
    const run = this.maintenance.then(job, job);
    this.maintenance = run.catch(() => {});
    return run;
  }

  /** A consistent snapshot of this domain's environment to `target`; its writes go on meanwhile. */
  backup(target: string): Promise<DomainBackup> {
    return this.serial(() => this.pool.run({ backup: { target } } satisfies BackupTask));
  }

  /** The environment's page use; queued behind a running backup or compaction, never beside one. */
  space(): Promise<EnvSpace> {
    return this.serial(() => this.pool.run({ space: true } satisfies SpaceTask));
  }

  /** Entries per named database, as a backup's manifest counts them. */
  counts(): Promise<Record<string, number>> {
    return this.serial(() => this.pool.run({ counts: true } satisfies CountsTask));
  }

  /**
   * Copy-and-swap compaction: this domain's writes pause (requests wait in
   * its queue) while the worker compacts, swaps and reopens; then the queue
   * drains. Other domains never pause. The pause is measured and reported.
   */
  compact(): Promise<CompactResult & { paused_ms: number }> {
    return this.serial(async () => {
      const started = performance.now();
      await this.pause();
      try {
        const r: CompactResult = await this.pool.run({ compact: true } satisfies CompactTask);
        const level = r.status === 'compacted' ? 'info' : 'error';
        this.opts.log[level](
          { domain: this.name, ...r, counts: undefined, live_counts: undefined },
          'domain compacted',
        );
        return { ...r, paused_ms: Math.round(performance.now() - started) };
      } finally {
        this.resume();
      }
    });
  }

  /** Stops sending batches (requests wait in the queue, bounded by queueMax) once the one in flight is done. */
  async pause(): Promise<void> {
    this.paused = true;
    if (this.inFlight > 0) await new Promise<void>((r) => (this.idle = r));
    this.idle = null;
  }

  resume(): void {
    this.paused = false;
    this.flush();
  }

  /** One step of an online restore (see RestoreTask); swap and undo only between pause and resume. */
  restoreStep(task: RestoreTask): Promise<Record<string, number> | null> {
    return this.serial(() => this.pool.run(task));
  }

  /** Finishes what is queued, flushes and closes the environment, stops the thread. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.maintenance;
    while (this.queue.length > 0 || this.inFlight > 0) await new Promise((r) => setTimeout(r, 5));
    try {
      await this.pool.run({ items: [], now: Date.now(), close: true } satisfies Batch);
    } finally {
      await this.pool.destroy();
      this.stats.state = 'closed';
      this.opts.log.info({ domain: this.name, batches: this.stats.batches }, 'domain worker stopped');
    }
  }
}
