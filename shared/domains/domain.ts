/**
 * A domain as main sees it: an op table behind `call`, whatever stores it.
 * `Batcher` (piscina + LMDB, one worker per domain) is the implementation
 * today; a cluster backend implements the same contracts. Each domain's op
 * table is an interface in this folder (`MessagingApi`, `TaskApi`, …), and
 * a worker's ops are checked against it with `OpsFor`.
 */
/** An op table: every member takes one argument object (interfaces qualify, without an index signature). */
export type OpApi<A> = { [K in keyof A]: (args: any) => unknown };

export type ArgsOf<A extends OpApi<A>, K extends keyof A> = Parameters<A[K]>[0];
export type ResultOf<A extends OpApi<A>, K extends keyof A> = ReturnType<A[K]>;

/** A worker's implementation of an op table: plain functions over its store, given the batch's time. */
export type OpsFor<A extends OpApi<A>, S> = {
  [K in keyof A]: (store: S, args: ArgsOf<A, K>, now: number) => ResultOf<A, K>;
};

export interface DomainStats {
  state: 'ready' | 'unhealthy' | 'closed';
  batches: number;
  items: number;
  max_batch: number;
  queued: number;
  in_flight: number;
  last_error: string | null;
}

/** A callback for one op: the op's HubError, or null and its result. */
export type Done<T> = (err: Error | null, value?: T) => void;

/** The Promise of a callback-style call. */
export const promised = <T>(run: (done: Done<T>) => void): Promise<T> =>
  new Promise((resolve, reject) => run((err, value) => (err ? reject(err) : resolve(value as T))));

export interface Domain<A extends OpApi<A>> {
  readonly name: string;
  readonly stats: DomainStats;
  /** Runs one op; resolves once its write (if any) is durable, rejects with the op's HubError. */
  call<K extends keyof A & string>(op: K, args: ArgsOf<A, K>): Promise<ResultOf<A, K>>;
  /** `call` with a callback instead of a Promise, for the per-message paths. */
  submit<K extends keyof A & string>(op: K, args: ArgsOf<A, K>, done: Done<ResultOf<A, K>>): void;
  /**
   * `call` for work that completes a write already committed (a late mailbox
   * copy owed before the sender's ack): taken even when the queue is full or
   * the domain is closing, until its last batch has run. Refusing it would
   * answer the sender with an error for a message whose retry is then acked
   * from the idempotency record, with the copy never written.
   */
  finish<K extends keyof A & string>(op: K, args: ArgsOf<A, K>): Promise<ResultOf<A, K>>;
  /** Stops taking requests out of the queue once what is in flight is done (a compaction or a restore swap). */
  pause(): Promise<void>;
  resume(): void;
  /** Finishes what is queued, makes it durable, and releases the store. */
  close(): Promise<void>;
}

/** A page of a list op: items after the cursor, and the next cursor (null at the end). */
export interface PageArgs {
  limit?: number;
  cursor?: string;
}
export interface Page<T> {
  items: T[];
  cursor: string | null;
}
