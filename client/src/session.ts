import { AckBatcher } from './acks.js';
import { Connection } from './connection.js';
import { AgentComError, ClientErrorCode } from './errors.js';
import { Events } from './events.js';
import { type Delivery, eventOf, isDelivery, isPush, isReply, type Push } from './frame-kinds.js';
import type { AssignedTask, ClientFrame, HubFrame } from './frames.js';
import { HubHttp, httpBaseOf } from './http.js';
import { Inbox } from './inbox.js';
import type { ClientEvents, ClientOptions, Logger } from './options.js';
import { Outbox } from './outbox.js';
import { type TaskHandler, TaskWorker, type WorkerOptions } from './worker.js';

/**
 * The live side of a client: one logical connection and what flows through
 * it. Calls queue in the outbox, deliveries in the inbox, acks in the
 * batcher; identify, resume, backpressure and stopping are decided here.
 */
export class Session {
  readonly agentId: string;
  oldestSeq: number | null = null;
  readonly outbox: Outbox;
  readonly events = new Events<ClientEvents>();
  readonly http: HubHttp;
  private readonly o: ClientOptions;
  private readonly conn: Connection;
  private readonly inbox: Inbox;
  private readonly acks: AckBatcher;
  private capabilities: string[];
  private status: string | undefined;
  private taskWorker: TaskWorker | null = null;
  private started: { resolve: () => void; reject: (e: AgentComError) => void } | null = null;
  private stopped: { error: AgentComError | null } | null = null;
  /** deliveries are over `highWater`: read only while a call waits for its reply */
  private backlogged = false;
  /** the socket stopped reading during this backlog: the hub may have dropped frames meanwhile */
  private pausedInBacklog = false;

  constructor(opts: ClientOptions) {
    const urls = opts.urls ?? (opts.url ? [opts.url] : []);
    if (urls.length === 0) throw new TypeError('connect: give `urls` (or `url`)');
    for (const u of urls) {
      if (!/^wss?:$/.test(new URL(u).protocol)) throw new TypeError(`connect: ${u} is not a ws:// or wss:// URL`);
    }
    this.o = opts;
    this.agentId = opts.agentId;
    this.capabilities = [...(opts.capabilities ?? [])];
    this.status = opts.status;
    const maxRetries = opts.maxRetries ?? 5;
    this.http = new HubHttp({ baseUrl: opts.httpUrl ?? httpBaseOf(urls[0]), token: opts.token, maxRetries });
    this.outbox = new Outbox({
      maxQueue: opts.maxQueue ?? 1000,
      maxRetries,
      maxFrameBytes: opts.maxFrameBytes ?? 1024 * 1024,
      replyTimeoutMs: opts.replyTimeoutMs ?? 30_000,
      write: (text) => this.conn.send(text),
      onReplyTimeout: () => {
        this.log('warn', {}, 'no reply from the hub: dropping the socket');
        this.conn.drop();
      },
      onStrayError: (err) => this.emitNow('error', err),
      onBusy: () => this.applyPause(),
    });
    this.inbox = new Inbox({
      highWater: opts.highWater ?? 1000,
      lastSeq: opts.resumeFrom ?? 0,
      dispatch: (f) => this.dispatch(f),
      handled: (seq) => this.acks.handled(seq),
      onFull: (full) => this.onBacklog(full),
    });
    this.acks = new AckBatcher(
      (seq) =>
        this.outbox.call({ type: 'mailbox_ack', seq }, ['mailbox_acked'], {
          internal: true,
          accept: (r) => r.up_to === seq,
        }),
      { delayMs: opts.ackDelayMs ?? 1000, from: opts.resumeFrom ?? 0 },
    );
    this.conn = new Connection(
      { urls, reconnect: opts.reconnect ?? {}, heartbeatMs: opts.heartbeatMs ?? 20_000, WebSocket: opts.WebSocket },
      {
        identify: () => this.identifyFrame(true),
        identified: (f, url) => this.onIdentified(f, url),
        frame: (f, text) => this.onFrame(f, text),
        down: (code, reason, retryInMs) => this.onDown(code, reason, retryInMs),
        frameTooLarge: () =>
          this.outbox.failCurrent(
            new AgentComError(ClientErrorCode.frameTooLarge, 'the hub closed the socket over this frame (1009)'),
          ),
        fatal: (err) => this.stop(err),
        heartbeat: () => {
          if (!this.outbox.idle) return;
          this.outbox.call({ type: 'ping' }, ['pong'], { internal: true, dropOnDisconnect: true }).catch(() => {});
        },
      },
    );
  }

  /** Opens the connection; resolves once identified (transient failures are retried meanwhile). */
  start(): Promise<void> {
    if (this.stopped) return Promise.reject(this.stopped.error ?? this.closedError());
    if (this.started) throw new TypeError('start: already starting');
    const p = new Promise<void>((resolve, reject) => {
      this.started = { resolve, reject };
    });
    this.conn.start();
    return p;
  }

  get lastSeq(): number {
    return this.inbox.lastSeq;
  }

  get connected(): boolean {
    return this.conn.ready;
  }

  get queued(): number {
    return this.outbox.queued;
  }

  /** The worker gets task frames; its capabilities join the identify's. */
  attachWorker(opts: WorkerOptions, handler: TaskHandler): TaskWorker {
    if (this.taskWorker) throw new TypeError('worker: this client already has one');
    if ((opts.concurrency ?? 1) !== 1) throw new TypeError('worker: the hub gives an agent one task at a time');
    this.taskWorker = new TaskWorker(
      {
        call: (frame, replies, accept) => this.outbox.call(frame, replies, { internal: true, accept }),
        fire: (frame) => this.outbox.fire(frame),
        getTask: (id) => this.http.getTask(id),
        finished: (o) => this.emitNow('taskFinished', o),
        warn: (err, msg) => this.log('warn', { err }, msg),
      },
      handler,
      opts,
    );
    const extra = (opts.capabilities ?? []).filter((c) => !this.capabilities.includes(c));
    if (extra.length) {
      this.capabilities.push(...extra);
      // identifying again on the open socket updates what the scheduler matches
      if (this.conn.ready) void this.reidentify(false);
    }
    return this.taskWorker;
  }

  /** A status the hub confirmed: later identifies carry it. */
  statusSet(status: string): void {
    this.status = status;
  }

  /** See `AgentComClient.close`. */
  async close(timeoutMs: number): Promise<void> {
    if (this.stopped) return;
    if (this.conn.ready) {
      let timer: ReturnType<typeof setTimeout> | undefined;
      const timeout = new Promise<void>((r) => {
        timer = setTimeout(r, timeoutMs);
      });
      const settled = Promise.all([this.outbox.whenIdle(), this.acks.flush()]).then(() => {});
      await Promise.race([settled.catch(() => {}), timeout]);
      clearTimeout(timer);
    }
    this.stop(null);
  }

  private stop(error: AgentComError | null): void {
    if (this.stopped) return;
    this.stopped = { error };
    this.conn.stop();
    this.acks.stop();
    this.taskWorker?.abort();
    this.outbox.failAll(error ?? this.closedError());
    if (error) this.log('error', { code: error.code }, error.message);
    this.started?.reject(error ?? this.closedError());
    this.started = null;
    // iterators end once they have seen `closed`
    void this.events
      .emit('closed', { error })
      .catch(() => {})
      .finally(() => this.events.endAll());
  }

  private closedError(): AgentComError {
    return new AgentComError(ClientErrorCode.closed, 'the client is closed');
  }

  private identifyFrame(replay: boolean): ClientFrame<'identify'> {
    return {
      type: 'identify',
      agent_id: this.agentId,
      token: this.o.token,
      name: this.o.name,
      status: this.status,
      capabilities: this.capabilities,
      presence_events: this.o.presenceEvents ?? true,
      delivery: this.o.delivery ?? 'acked',
      mailbox_since: replay ? this.inbox.lastSeq : undefined,
      client_type: 'agentcom-client',
      protocol_version: 1,
    };
  }

  private onIdentified(f: HubFrame<'identified'>, url: string): void {
    this.oldestSeq = f.oldest_seq;
    this.log('info', { url, resumed_from: this.inbox.lastSeq }, 'identified');
    // the task report goes ahead of every queued call
    this.taskWorker?.reconnected();
    this.outbox.connected();
    this.applyPause();
    void this.acks.flush().catch(() => {});
    this.emitNow('connected', {
      url,
      agentId: this.agentId,
      delivery: f.delivery,
      oldestSeq: this.oldestSeq,
      resumedFrom: this.inbox.lastSeq,
    });
    this.started?.resolve();
    this.started = null;
    // after the caller's `await connect()` continuation, where it registers its handlers
    setTimeout(() => this.inbox.open(), 0);
  }

  /** Identifies again on the open socket: with `replay`, the mailbox after `lastSeq` comes first. */
  private async reidentify(replay: boolean): Promise<void> {
    if (replay) this.inbox.hold(true);
    try {
      const f = await this.outbox.call(this.identifyFrame(replay), ['identified'], {
        internal: true,
        dropOnDisconnect: true,
      });
      this.oldestSeq = f.oldest_seq;
      this.taskWorker?.reconnected();
    } catch (err) {
      // after a drop the fresh socket's identify resumes instead
      if ((err as AgentComError).code !== ClientErrorCode.disconnected)
        this.log('warn', { err }, 'identify on the open socket failed');
    } finally {
      this.inbox.hold(false);
    }
  }

  private onFrame(f: HubFrame, text: string): void {
    // synchronously: the replay that follows `identified` must not be held back
    if (f.type === 'identified') this.inbox.hold(false);
    if (isReply(f)) this.outbox.onReply(f, text);
    else if (isDelivery(f)) this.inbox.push(f);
    else if (isPush(f)) this.onPush(f);
    // a type this client does not know (a newer hub's)
    else this.log('debug', { type: (f as HubFrame).type }, 'frame ignored');
  }

  private onPush(f: Push): void {
    if (f.type === 'task_cancelled') this.taskWorker?.cancelled(f.task_id);
    this.emitNow(eventOf(f), f as never);
    if (f.type === 'task_assign') this.onTaskAssign(f);
  }

  private onTaskAssign(f: AssignedTask): void {
    if (this.taskWorker) this.taskWorker.assigned(f);
    else void this.outbox.fire({ type: 'task_rejected', task_id: f.task_id, reason: 'no_worker' });
  }

  private onDown(code: number, reason: string, retryInMs: number | null): void {
    this.outbox.disconnected();
    this.pausedInBacklog = false;
    this.log('info', { code, reason, retry_in_ms: retryInMs }, 'disconnected');
    this.emitNow('disconnected', { code, reason, reconnectInMs: retryInMs });
    if (retryInMs === null)
      this.stop(new AgentComError(ClientErrorCode.disconnected, `the hub closed the socket (${code} ${reason})`));
  }

  private async dispatch(f: Delivery): Promise<void> {
    // after close, what was not handled stays in the mailbox
    if (this.stopped) return;
    try {
      await this.events.emit(eventOf(f), f as never);
    } catch (err) {
      const e = new AgentComError(
        ClientErrorCode.handlerFailed,
        `a ${eventOf(f)} handler threw: ${(err as Error)?.message}`,
        {
          details: { frame: f.type, cause: err },
        },
      );
      this.emitNow('error', e);
    }
  }

  /**
   * Past `highWater`, messages the hub keeps in the mailbox are left there and
   * the socket stops reading, except while a call waits for its reply (else a
   * handler awaiting a call would wait forever). Caught up, the client asks
   * for the mailbox after its last seq again on the same socket: whatever it
   * left, or the hub dropped while it did not read, comes back in order.
   */
  private onBacklog(full: boolean): void {
    this.backlogged = full;
    this.applyPause();
    if (!full) {
      const replay = this.inbox.takeSkipped() || this.pausedInBacklog;
      this.pausedInBacklog = false;
      if (replay && this.conn.ready) void this.reidentify(true);
    }
    this.log(full ? 'warn' : 'info', { queued: this.inbox.size }, full ? 'handlers behind: paused' : 'caught up');
    this.emitNow('backpressure', { paused: full, queued: this.inbox.size });
  }

  /** Reads only while not backlogged or while a call waits; the connection resumes only a socket it paused. */
  private applyPause(): void {
    if (this.backlogged && !this.outbox.busy && this.conn.canPause) {
      this.conn.pause();
      this.pausedInBacklog = true;
    } else this.conn.resume();
  }

  private emitNow<K extends keyof ClientEvents>(name: K, value: ClientEvents[K]): void {
    if (name === 'error' && !this.events.has('error')) {
      this.log('warn', { code: (value as AgentComError).code }, (value as AgentComError).message);
      return;
    }
    this.events.emit(name, value).catch((err) => this.log('warn', { err, event: name }, 'event listener threw'));
  }

  private log(level: keyof Logger, obj: object, msg: string): void {
    this.o.logger?.[level]?.({ agent_id: this.agentId, ...obj }, msg);
  }
}
