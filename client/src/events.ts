type Listener<T> = (value: T) => unknown;

interface Slot<T> {
  value: T;
  /** called when the consumer asks for the next item: this one is done */
  done: () => void;
}

/** One async iterator's queue: `emit` waits until the consumer has moved past the item. */
class Subscription<T> implements AsyncIterableIterator<T> {
  private readonly buffer: Slot<T>[] = [];
  private current: Slot<T> | null = null;
  private waiting: ((r: IteratorResult<T>) => void) | null = null;
  private ended = false;

  constructor(private readonly onEnd: () => void) {}

  push(value: T): Promise<void> {
    if (this.ended) return Promise.resolve();
    return new Promise((done) => {
      const slot = { value, done };
      if (this.waiting) {
        const w = this.waiting;
        this.waiting = null;
        this.current = slot;
        w({ value, done: false });
      } else this.buffer.push(slot);
    });
  }

  next(): Promise<IteratorResult<T>> {
    this.current?.done();
    this.current = null;
    const slot = this.buffer.shift();
    if (slot) {
      this.current = slot;
      return Promise.resolve({ value: slot.value, done: false });
    }
    if (this.ended) return Promise.resolve({ value: undefined, done: true });
    return new Promise((resolve) => {
      this.waiting = resolve;
    });
  }

  return(): Promise<IteratorResult<T>> {
    this.end();
    return Promise.resolve({ value: undefined, done: true });
  }

  end(): void {
    if (this.ended) return;
    this.ended = true;
    this.current?.done();
    this.current = null;
    for (const s of this.buffer.splice(0)) s.done();
    this.waiting?.({ value: undefined, done: true });
    this.waiting = null;
    this.onEnd();
  }

  [Symbol.asyncIterator](): AsyncIterableIterator<T> {
    return this;
  }
}

/**
 * Typed events, as callbacks and as async iterators. `emit` resolves once
 * every callback has returned (awaiting the promises they return) and every
 * iterator has asked for its next item: that is when an item counts as
 * handled, so the client acks a message only then.
 */
export class Events<M extends object> {
  private readonly listeners = new Map<keyof M, Set<Listener<any>>>();
  private readonly subs = new Map<keyof M, Set<Subscription<any>>>();

  /** Calls `fn` for every `name` event; returns a function that removes it. */
  on<K extends keyof M>(name: K, fn: Listener<M[K]>): () => void {
    let set = this.listeners.get(name);
    if (!set) {
      set = new Set();
      this.listeners.set(name, set);
    }
    set.add(fn);
    return () => this.off(name, fn);
  }

  off<K extends keyof M>(name: K, fn: Listener<M[K]>): void {
    this.listeners.get(name)?.delete(fn);
  }

  /** An async iterator over the named events, in order; `break` (or `return()`) ends it. */
  iterate<K extends keyof M>(...names: K[]): AsyncIterableIterator<M[K]> {
    const sub: Subscription<M[K]> = new Subscription(() => {
      for (const n of names) this.subs.get(n)?.delete(sub);
    });
    for (const n of names) {
      let set = this.subs.get(n);
      if (!set) {
        set = new Set();
        this.subs.set(n, set);
      }
      set.add(sub);
    }
    return sub;
  }

  /** True when something would see a `name` event. */
  has(name: keyof M): boolean {
    return (this.listeners.get(name)?.size ?? 0) + (this.subs.get(name)?.size ?? 0) > 0;
  }

  /** Delivers to every callback in turn, then to the iterators; rejects with the first callback's error. */
  async emit<K extends keyof M>(name: K, value: M[K]): Promise<void> {
    let failure: unknown = null;
    for (const fn of [...(this.listeners.get(name) ?? [])]) {
      try {
        await fn(value);
      } catch (err) {
        failure ??= err;
      }
    }
    const subs = [...(this.subs.get(name) ?? [])];
    if (subs.length) await Promise.all(subs.map((s) => s.push(value)));
    if (failure !== null) throw failure;
  }

  /** Ends every iterator (the client closed). */
  endAll(): void {
    for (const set of this.subs.values()) for (const s of [...set]) s.end();
  }
}
