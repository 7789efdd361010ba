import { ErrorCode } from '../../shared/errors.js';
import { AgentComError, ClientErrorCode } from './errors.js';
import type { ReplyType } from './frame-kinds.js';
import type { ClientFrame, HubFrame } from './frames.js';

/**
 * The calls waiting for the socket, and the one on the wire.
 *
 * The hub's replies carry no request id, and they do not keep request order
 * across kinds: a `rate_limited` or `validation_failed` error is sent while
 * the frame is read, before the ack of an earlier write that is still being
 * flushed. So the client keeps ONE call on the wire at a time (stop-and-wait):
 * whatever reply or error arrives next belongs to it. Calls therefore take
 * effect in the order they were made, also across retries and reconnects.
 * Frames without a reply (`task_progress`, `task_rejected`) go out between
 * calls; an error they cause is taken for the current call's, which at worst
 * sends that call again with the same idempotency key: the hub answers a repeat
 * with the first reply, and a reply seen twice is dropped.
 */

export interface OutboxOptions {
  /** user calls that may wait; past it a call fails with `queue_full` */
  maxQueue: number;
  /** `rate_limited` / `overloaded` retries per call */
  maxRetries: number;
  maxFrameBytes: number;
  /** no reply for this long: the socket is taken for dead */
  replyTimeoutMs: number;
  write(text: string): void;
  onReplyTimeout(): void;
  /** an error frame while no call was on the wire */
  onStrayError(err: AgentComError): void;
  /** true while a call waits for its reply (the client must keep reading) */
  onBusy(busy: boolean): void;
}

export interface CallOptions<R extends ReplyType> {
  /** acks, pings, task frames: ahead of user calls, not counted in `maxQueue` */
  internal?: boolean;
  /** a ping: forgotten if the socket drops */
  dropOnDisconnect?: boolean;
  /** a reply of the right type that is not this call's (a late duplicate) is ignored */
  accept?: (reply: HubFrame<R>) => boolean;
}

interface Call {
  text: string;
  replies: ReadonlySet<string> | null;
  internal: boolean;
  dropOnDisconnect: boolean;
  accept: ((reply: HubFrame<ReplyType>) => boolean) | null;
  resolve: (f: HubFrame<ReplyType> | null) => void;
  reject: (e: AgentComError) => void;
  retries: number;
  sends: number;
}

const RETRYABLE = new Set<string>([ErrorCode.rateLimited, ErrorCode.overloaded, ErrorCode.shuttingDown]);

/**
 * Replies that name what they answer by a unique id: when such a call went out
 * twice on one socket, its reply is kept to drop the twin. Other replies are
 * checked against their call's content instead (`accept`).
 */
const UNIQUE_REPLIES = new Set(['message_sent', 'channel_published']);
const TWINS_KEPT = 32;

export class Outbox {
  private readonly urgent: Call[] = [];
  private readonly normal: Call[] = [];
  private current: Call | null = null;
  private ready = false;
  private retryTimer: ReturnType<typeof setTimeout> | null = null;
  private replyTimer: ReturnType<typeof setTimeout> | null = null;
  private readonly twins: string[] = [];
  private idleWaiters: Array<() => void> = [];
  /** set once the client stopped: every later call fails with it */
  private dead: AgentComError | null = null;
  private readonly encoder = new TextEncoder();

  constructor(private readonly o: OutboxOptions) {}

  /** Queued user calls (not counting the one on the wire). */
  get queued(): number {
    return this.normal.length;
  }

  get busy(): boolean {
    return this.current !== null;
  }

  /** True when nothing waits and nothing is on the wire. */
  get idle(): boolean {
    return !this.current && this.urgent.length === 0 && this.normal.length === 0;
  }

  /** Resolves once nothing waits and nothing is on the wire. */
  whenIdle(): Promise<void> {
    if (this.idle) return Promise.resolve();
    return new Promise((r) => this.idleWaiters.push(r));
  }

  /** Queues a frame; resolves with its reply. */
  call<R extends ReplyType>(
    frame: ClientFrame,
    replies: readonly R[],
    opts: CallOptions<R> = {},
  ): Promise<HubFrame<R>> {
    return this.enqueue(frame, replies, opts) as Promise<HubFrame<R>>;
  }

  /**
   * Queues a frame the hub does not answer (progress, a task handed back).
   * Best effort: resolves once written, or when it is dropped with the socket
   * (the hub reclaims a disconnected agent's task anyway) or the client.
   */
  fire(frame: ClientFrame): Promise<void> {
    return this.enqueue(frame, null, { internal: true, dropOnDisconnect: true }).then(
      () => undefined,
      () => undefined,
    );
  }

  private enqueue<R extends ReplyType>(
    frame: ClientFrame,
    replies: readonly R[] | null,
    opts: CallOptions<R>,
  ): Promise<HubFrame<ReplyType> | null> {
    if (this.dead) return Promise.reject(this.dead);
    const text = JSON.stringify(frame);
    if (this.tooLarge(text)) {
      return Promise.reject(
        new AgentComError(ClientErrorCode.frameTooLarge, `a ${frame.type} frame over ${this.o.maxFrameBytes} bytes`),
      );
    }
    const internal = opts.internal ?? false;
    if (!internal && this.normal.length >= this.o.maxQueue) {
      return Promise.reject(
        new AgentComError(ClientErrorCode.queueFull, `${this.o.maxQueue} calls are already waiting for the hub`),
      );
    }
    return new Promise((resolve, reject) => {
      const call: Call = {
        text,
        replies: replies ? new Set(replies) : null,
        internal,
        dropOnDisconnect: opts.dropOnDisconnect ?? false,
        accept: (opts.accept as Call['accept']) ?? null,
        resolve,
        reject,
        retries: 0,
        sends: 0,
      };
      (internal ? this.urgent : this.normal).push(call);
      this.pump();
    });
  }

  private tooLarge(text: string): boolean {
    // UTF-8 takes at most 3 bytes per UTF-16 unit: short texts need no encoding to know
    return text.length * 3 > this.o.maxFrameBytes && this.encoder.encode(text).length > this.o.maxFrameBytes;
  }

  /** The socket is identified: send. */
  connected(): void {
    this.ready = true;
    this.pump();
  }

  /** The socket dropped: the call on the wire goes back to the head of its queue, to be sent again. */
  disconnected(): void {
    this.ready = false;
    this.clearTimers();
    const c = this.current;
    this.current = null;
    if (c) (c.internal ? this.urgent : this.normal).unshift(c);
    const gone = new AgentComError(ClientErrorCode.disconnected, 'the socket dropped');
    for (const q of [this.urgent, this.normal]) {
      for (let i = q.length - 1; i >= 0; i--) {
        // the replies of the old socket are gone with it
        q[i].sends = 0;
        if (q[i].dropOnDisconnect) q.splice(i, 1)[0].reject(gone);
      }
    }
    this.o.onBusy(false);
  }

  /** Fails the call on the wire (the hub closed with 1009 over it): it is not sent again. */
  failCurrent(err: AgentComError): void {
    const c = this.current;
    if (!c) return;
    this.finish();
    c.reject(err);
  }

  /** Fails every call (the client stopped). */
  failAll(err: AgentComError): void {
    this.dead = err;
    this.ready = false;
    this.clearTimers();
    const all = [...(this.current ? [this.current] : []), ...this.urgent.splice(0), ...this.normal.splice(0)];
    this.current = null;
    for (const c of all) c.reject(err);
    for (const w of this.idleWaiters.splice(0)) w();
  }

  /** A reply: the call on the wire's, or a late duplicate (dropped). */
  onReply(f: HubFrame<ReplyType>, text: string): void {
    const c = this.current;
    if (this.twins.includes(text)) {
      this.twins.splice(this.twins.indexOf(text), 1);
      return;
    }
    if (!c) {
      if (f.type === 'error') this.o.onStrayError(AgentComError.from(f));
      return;
    }
    if (f.type === 'error') {
      this.onError(c, f);
      return;
    }
    if (!c.replies?.has(f.type) || (c.accept && !c.accept(f))) return;
    this.finish();
    if (c.sends > 1 && UNIQUE_REPLIES.has(f.type)) {
      this.twins.push(text);
      if (this.twins.length > TWINS_KEPT) this.twins.shift();
    }
    c.resolve(f);
  }

  private onError(c: Call, f: HubFrame<'error'>): void {
    const err = AgentComError.from(f);
    if (RETRYABLE.has(err.code) && c.retries < this.o.maxRetries) {
      c.retries++;
      this.clearTimers();
      // still the current call: if its own reply arrives meanwhile, the error was another frame's
      this.retryTimer = setTimeout(() => {
        this.retryTimer = null;
        if (this.current === c && this.ready) this.write(c);
      }, err.retryAfterMs ?? 1000);
      return;
    }
    this.finish();
    c.reject(err);
  }

  private finish(): void {
    this.current = null;
    this.clearTimers();
    this.o.onBusy(false);
    queueMicrotask(() => this.pump());
  }

  private pump(): void {
    while (this.ready && !this.current) {
      const c = this.urgent.shift() ?? this.normal.shift();
      if (!c) {
        for (const w of this.idleWaiters.splice(0)) w();
        return;
      }
      if (!c.replies) {
        this.o.write(c.text);
        c.resolve(null);
        continue;
      }
      this.current = c;
      this.o.onBusy(true);
      this.write(c);
    }
  }

  private write(c: Call): void {
    c.sends++;
    this.o.write(c.text);
    if (this.replyTimer) clearTimeout(this.replyTimer);
    this.replyTimer = setTimeout(() => {
      this.replyTimer = null;
      if (this.current === c) this.o.onReplyTimeout();
    }, this.o.replyTimeoutMs);
  }

  private clearTimers(): void {
    if (this.retryTimer) clearTimeout(this.retryTimer);
    if (this.replyTimer) clearTimeout(this.replyTimer);
    this.retryTimer = null;
    this.replyTimer = null;
  }
}
