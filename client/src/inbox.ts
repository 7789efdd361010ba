import type { Delivery } from './frame-kinds.js';

export interface InboxOptions {
  /** frames waiting for the handler before the client stops taking more */
  highWater: number;
  /** the mailbox seq handled last (a previous run's, to skip what it handled) */
  lastSeq: number;
  /** hands a frame to the application; resolves once every handler returned */
  dispatch(f: Delivery): Promise<void>;
  /** a message with this mailbox seq was handled: ack up to it */
  handled(seq: number): void;
  /** the queue reached `highWater` (true) or drained to half of it (false) */
  onFull(full: boolean): void;
}

/** Ids of the last `max` messages seen, to drop a second copy (replay after live, or a slow-consumer copy). */
class RecentIds {
  private readonly set = new Set<string>();
  private readonly order: string[] = [];
  constructor(private readonly max: number) {}
  has(id: string): boolean {
    return this.set.has(id);
  }
  add(id: string): void {
    this.set.add(id);
    this.order.push(id);
    if (this.order.length > this.max) this.set.delete(this.order.shift() as string);
  }
}

/**
 * Deliveries between the socket and the handlers: in order, one at a time,
 * each seen once. A message is handled when its handlers have returned; its
 * mailbox seq then becomes `lastSeq`, which a reconnect resumes from and the
 * mailbox ack deletes up to. While the queue is full, messages the hub keeps
 * in the mailbox are left there (`skipped`) and fetched again by resuming.
 */
export class Inbox {
  lastSeq: number;
  private readonly queue: Delivery[] = [];
  private readonly seen = new RecentIds(10_000);
  private running: Promise<void> | null = null;
  /** deliveries queue until `open()`: handlers registered right after `await connect()` see the first one */
  private opened = false;
  private full = false;
  private holding = false;
  private skippedAny = false;

  constructor(private readonly o: InboxOptions) {
    this.lastSeq = o.lastSeq;
  }

  get size(): number {
    return this.queue.length;
  }

  /**
   * While a resume is asked for on the open socket, frames still on their way
   * from before it would come ahead of the replay: they are left to the replay.
   */
  hold(on: boolean): void {
    this.holding = on;
  }

  /** True (once) when a message was left in the mailbox since the last call. */
  takeSkipped(): boolean {
    const s = this.skippedAny;
    this.skippedAny = false;
    return s;
  }

  push(f: Delivery): void {
    const id = f.type === 'message' || f.type === 'channel_message' ? f.id : null;
    const seq = f.type === 'message' ? f.seq : undefined;
    if ((seq !== undefined && seq <= this.lastSeq) || (id !== null && this.seen.has(id))) return;
    if ((this.full || this.holding) && seq !== undefined) {
      this.skippedAny = true;
      return;
    }
    if (id !== null) this.seen.add(id);
    this.queue.push(f);
    if (!this.full && this.queue.length >= this.o.highWater) {
      this.full = true;
      this.o.onFull(true);
    }
    if (this.opened) this.running ??= this.run();
  }

  private async run(): Promise<void> {
    while (this.queue.length) {
      const f = this.queue[0];
      await this.o.dispatch(f);
      this.queue.shift();
      if (f.type === 'message' && f.seq !== undefined && f.seq > this.lastSeq) {
        this.lastSeq = f.seq;
        this.o.handled(f.seq);
      }
      if (this.full && this.queue.length <= this.o.highWater / 2) {
        this.full = false;
        this.o.onFull(false);
      }
    }
    this.running = null;
  }

  open(): void {
    if (this.opened) return;
    this.opened = true;
    if (this.queue.length) this.running ??= this.run();
  }
}
