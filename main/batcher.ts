import { Piscina } from 'piscina';
import type { Batch, BatchItem, BatchResult, DomainWorkerData, SwapResult, SwapTask } from '../shared/batch.js';
import {
  type ArgsOf,
  type Domain,
  type DomainStats,
  type Done,
  type OpApi,
  promised,
  type ResultOf,
} from '../shared/domains/domain.js';
import { ErrorCode, HubError } from '../shared/errors.js';
import type { Logger } from './log.js';

interface Pending {
  item: BatchItem;
  done: Done<unknown>;
}

const ext = import.meta.url.endsWith('.ts') ? '.ts' : '.js';

export interface BatcherOptions {
  batchMax: number;
  queueMax: number;
  /** batches sent before the first is answered; the worker starts batch k+1 once k's commit returns */
  inFlightMax: number;
  log: Logger;
  /** called per batch with its round trip in µs */
  observe?: (domain: string, micros: number) => void;
}

/**
 * The LMDB implementation of a domain: main's handle on one piscina worker
 * that owns the domain's environment. Calls made in one event-loop turn
 * travel as ONE piscina task (one LMDB transaction, one fsync). Up to
 * `inFlightMax` batches are out at once (default 1: more measured no
 * faster, since each commit flushes on the worker's thread); what arrives
 * meanwhile joins the next batch, so batches grow under load instead of
 * queueing behind fsyncs. Results come back in commit order, each after its
 * own flush.
 */
export class Batcher<A extends OpApi<A>> implements Domain<A> {
  readonly name: string;
  private readonly pool: Piscina;
  private queue: Pending[] = [];
  private inFlight = 0;
  /** set during a swap: requests queue (bounded by queueMax) and no batch is sent */
  private paused = false;
  private idle: (() => void) | null = null;
  private scheduled = false;
  private closed = false;
  /** closed, and its last batch ran: nothing more is taken */
  private drained = false;
  /** main watches this domain's changes: its batches ask the worker to report them */
  live = false;
  /** gets the worker's report after each committed batch (figures; changes while `live`) */
  onReport: ((report: unknown) => void) | null = null;
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
    workerData: DomainWorkerData<unknown>,
    private readonly opts: BatcherOptions,
  ) {
    this.name = name;
    this.pool = new Piscina({
      filename: new URL(`../workers/${name}${ext}`, import.meta.url).href,
      minThreads: 1,
      maxThreads: 1,
      idleTimeout: Number.POSITIVE_INFINITY,
      concurrentTasksPerWorker: opts.inFlightMax,
      workerData,
    });
    this.pool.on('error', (err: Error) => {
      this.stats.state = 'unhealthy';
      this.stats.last_error = err.message;
      opts.log.error({ domain: name, err }, 'domain worker error');
    });
  }

  call<K extends keyof A & string>(op: K, args: ArgsOf<A, K>): Promise<ResultOf<A, K>> {
    return promised((done) => this.submit(op, args, done));
  }

  submit<K extends keyof A & string>(op: K, args: ArgsOf<A, K>, done: Done<ResultOf<A, K>>): void {
    if (this.closed) {
      done(new HubError(ErrorCode.shuttingDown));
      return;
    }
    if (this.queue.length >= this.opts.queueMax) {
      done(new HubError(ErrorCode.overloaded, { retry_after_ms: 1000 }));
      return;
    }
    this.enqueue(op, args, done);
  }

  finish<K extends keyof A & string>(op: K, args: ArgsOf<A, K>): Promise<ResultOf<A, K>> {
    return promised((done) =>
      this.drained ? done(new HubError(ErrorCode.shuttingDown)) : this.enqueue(op, args, done),
    );
  }

  private enqueue<K extends keyof A & string>(op: K, args: ArgsOf<A, K>, done: Done<ResultOf<A, K>>): void {
    this.queue.push({ item: { op, args }, done: done as Done<unknown> });
    this.stats.queued = this.queue.length;
    if (this.inFlight >= this.opts.inFlightMax || this.paused) return;
    if (this.queue.length >= this.opts.batchMax) this.flush();
    else if (!this.scheduled) {
      this.scheduled = true;
      setImmediate(() => this.flush());
    }
  }

  private flush(): void {
    this.scheduled = false;
    if (this.inFlight >= this.opts.inFlightMax || this.paused || this.queue.length === 0) return;
    const taken = this.queue.splice(0, this.opts.batchMax);
    this.stats.queued = this.queue.length;
    this.inFlight++;
    this.stats.in_flight = this.inFlight;
    const batch: Batch = { items: taken.map((p) => p.item), now: Date.now(), live: this.live };
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
    // before the callers continue: what they announce next is already in the figures
    if (res.report !== undefined) this.onReport?.(res.report);
    // the next batch goes out before the callers' work on these answers, which would otherwise delay it
    this.next();
    for (let i = 0; i < taken.length; i++) {
      const r = res.results[i];
      if (r.ok) this.answer(taken[i], null, r.value);
      else {
        // a bug or a storage fault, not a refusal: the client gets internal_error, the operator the cause
        if (r.error.cause)
          this.opts.log.error({ domain: this.name, op: taken[i].item.op, err: r.error.cause }, 'op failed');
        this.answer(taken[i], new HubError(r.error.code, r.error.fields));
      }
    }
  }

  private fail(taken: Pending[], err: Error): void {
    this.markUnhealthy(err.message);
    this.next();
    for (const p of taken) this.answer(p, new HubError(ErrorCode.storageUnavailable));
  }

  /** A caller's callback that throws is its bug: logged, and the rest of the batch is still answered. */
  private answer(p: Pending, err: Error | null, value?: unknown): void {
    try {
      p.done(err, value);
    } catch (thrown) {
      this.opts.log.error({ domain: this.name, op: p.item.op, err: thrown }, 'op callback threw');
    }
  }

  private markUnhealthy(message: string): void {
    if (this.stats.state !== 'unhealthy')
      this.opts.log.error({ domain: this.name, err: message }, 'domain storage failed');
    this.stats.state = 'unhealthy';
    this.stats.last_error = message;
  }

  private next(): void {
    this.inFlight--;
    this.stats.in_flight = this.inFlight;
    if (this.idle && this.inFlight === 0) this.idle();
    else if (this.queue.length > 0) this.flush();
  }

  async pause(): Promise<void> {
    this.paused = true;
    if (this.inFlight > 0) await new Promise<void>((r) => (this.idle = r));
    this.idle = null;
  }

  resume(): void {
    this.paused = false;
    this.flush();
  }

  /** Replaces the environment's file (compaction, restore); only between `pause` and `resume`. */
  swap(task: SwapTask): Promise<SwapResult> {
    return this.pool.run(task);
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    // what settles meanwhile may still `finish` its writes: they are part of the drain
    while (this.queue.length > 0 || this.inFlight > 0) await new Promise((r) => setTimeout(r, 5));
    this.drained = true;
    try {
      await this.pool.run({ items: [], now: Date.now(), close: true } satisfies Batch);
    } finally {
      await this.pool.destroy();
      this.stats.state = 'closed';
      this.opts.log.info({ domain: this.name, batches: this.stats.batches }, 'domain worker stopped');
    }
  }
}
