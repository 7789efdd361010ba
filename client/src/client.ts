import { normaliseChannel } from '../../shared/channel-name.js';
import { AckBatcher } from './acks.js';
import type { ReconnectOptions } from './backoff.js';
import { Connection } from './connection.js';
import { AgentComError, ClientErrorCode } from './errors.js';
import { Events } from './events.js';
import type {
  AssignedTask,
  ChannelSummary,
  ClientFrame,
  HistEntry,
  HubFrame,
  HubFrameType,
  Payload,
  PresenceAgent,
  TaskSubmitInput,
  TaskSubmitted,
  TaskView,
} from './frames.js';
import { HubHttp, httpBaseOf } from './http.js';
import { type Delivery, Inbox } from './inbox.js';
import { Outbox } from './outbox.js';
import type { SocketFactory } from './socket.js';
import { type TaskHandler, type TaskOutcome, TaskWorker, type WorkerOptions } from './worker.js';

/** pino-shaped; every method optional. The client never writes to the console itself. */
export interface Logger {
  debug?(obj: object, msg: string): void;
  info?(obj: object, msg: string): void;
  warn?(obj: object, msg: string): void;
  error?(obj: object, msg: string): void;
}

export interface ClientOptions {
  /** hub WebSocket URLs (`ws://host:4000/ws`); reconnects go round them */
  urls?: string[];
  url?: string;
  agentId: string;
  token: string;
  capabilities?: string[];
  name?: string;
  status?: string;
  /** join/leave/status frames for other agents (default true) */
  presenceEvents?: boolean;
  /**
   * "acked" (default): every message is kept in the mailbox until this client
   * acks it after its handler returned, so a reconnect resumes without loss.
   * "live": the original's delivery, for hubs without it.
   */
  delivery?: 'acked' | 'live';
  /** the last mailbox seq a previous run of this agent handled (persist `client.lastSeq`); default 0 */
  resumeFrom?: number;
  /** a ping goes out when nothing was sent for this long (default 20 s; the hub reaps after 60 s) */
  heartbeatMs?: number;
  /** back-off between reconnects, or false to stop at the first drop */
  reconnect?: ReconnectOptions | false;
  /** retries of a call refused as rate_limited / overloaded, each after the hub's retry_after_ms (default 5) */
  maxRetries?: number;
  /** calls that may wait for the socket; past it a call fails with queue_full (default 1000) */
  maxQueue?: number;
  /** larger frames fail with frame_too_large before they are sent (default 1 MiB, the hub's default cap) */
  maxFrameBytes?: number;
  /** a call without a reply for this long means the socket is dead: it is dropped and the call sent again (default 30 s) */
  replyTimeoutMs?: number;
  /** deliveries waiting for handlers before the client stops reading (default 1000) */
  highWater?: number;
  /** acks go out after this many handled messages … (default 100) */
  ackEvery?: number;
  /** … or this long after the first unacked one (default 100 ms) */
  ackDelayMs?: number;
  /** the hub's HTTP base for submitTask/getTask (default: from the first URL) */
  httpUrl?: string;
  logger?: Logger;
  /** a WebSocket constructor (default: `ws` on Node, the global one elsewhere) */
  WebSocket?: SocketFactory;
}

export interface SendOptions {
  /** `message_type` (default "chat") */
  type?: string;
  replyTo?: string;
  /** default: a fresh random key, so a retry after a drop or a refusal happens once */
  idempotencyKey?: string;
}

export type Sent = Omit<HubFrame<'message_sent'>, 'type'>;
export type Published = Omit<HubFrame<'channel_published'>, 'type'>;

/** Events, as callbacks (`on`) and as async iterators (`iterate`). */
export interface ClientEvents {
  message: HubFrame<'message'>;
  channelMessage: HubFrame<'channel_message'>;
  agentJoined: HubFrame<'agent_joined'>;
  agentLeft: HubFrame<'agent_left'>;
  statusChanged: HubFrame<'status_changed'>;
  channelAgentJoined: HubFrame<'channel_agent_joined'>;
  taskAssigned: HubFrame<'task_assign'>;
  taskCancelled: HubFrame<'task_cancelled'>;
  taskFinished: TaskOutcome;
  restartRequested: HubFrame<'restart_sidecar'>;
  rateLimitWarning: HubFrame<'rate_limit_warning'>;
  /** identified on a fresh socket: `delivery` as the hub granted it, the seq it resumed from */
  connected: {
    url: string;
    agentId: string;
    delivery: HubFrame<'identified'>['delivery'];
    oldestSeq: number | null;
    resumedFrom: number;
  };
  disconnected: { code: number; reason: string; reconnectInMs: number | null };
  /** the handlers fell `highWater` deliveries behind (paused) or caught up */
  backpressure: { paused: boolean; queued: number };
  error: AgentComError;
  closed: { error: AgentComError | null };
}

const EVENT_OF = {
  message: 'message',
  channel_message: 'channelMessage',
  agent_joined: 'agentJoined',
  agent_left: 'agentLeft',
  status_changed: 'statusChanged',
  channel_agent_joined: 'channelAgentJoined',
} as const satisfies Record<Delivery['type'], keyof ClientEvents>;

const newKey = () => globalThis.crypto.randomUUID();
const strip = <T extends { type: string }>({ type: _, ...rest }: T): Omit<T, 'type'> => rest;

/**
 * An agent's connection to the hub. Calls resolve with the hub's ack;
 * deliveries reach handlers in order, each once; see README "Writing an agent".
 */
export class AgentComClient {
  readonly agentId: string;
  /** the oldest mailbox seq the hub still held at the last identify (null: empty) */
  oldestSeq: number | null = null;
  private readonly o: ClientOptions;
  private readonly conn: Connection;
  private readonly outbox: Outbox;
  private readonly inbox: Inbox;
  private readonly acks: AckBatcher;
  private readonly events = new Events<ClientEvents>();
  private readonly http: HubHttp;
  private capabilities: string[];
  private status: string | undefined;
  private taskWorker: TaskWorker | null = null;
  private started: { resolve: () => void; reject: (e: AgentComError) => void } | null = null;
  private stopped: { error: AgentComError | null } | null = null;
  /** deliveries are over `highWater`: read only while a call waits for its reply */
  private backlogged = false;
  private socketPaused = false;

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
      { delayMs: opts.ackDelayMs ?? 100, every: opts.ackEvery ?? 100, from: opts.resumeFrom ?? 0 },
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
  start(): Promise<this> {
    if (this.stopped) return Promise.reject(this.stopped.error ?? this.closedError());
    if (this.started) throw new TypeError('start: already starting');
    const p = new Promise<void>((resolve, reject) => {
      this.started = { resolve, reject };
    });
    this.conn.start();
    return p.then(() => this);
  }

  /** The last mailbox seq whose handlers returned: persist it and pass it back as `resumeFrom`. */
  get lastSeq(): number {
    return this.inbox.lastSeq;
  }

  get connected(): boolean {
    return this.conn.ready;
  }

  /** Calls waiting for the socket. */
  get queued(): number {
    return this.outbox.queued;
  }

  // ---- calls -------------------------------------------------------------

  /** A direct message; resolves once the hub has stored and flushed it. */
  send(to: string, payload: Payload, opts: SendOptions = {}): Promise<Sent> {
    return this.message(to, payload, opts);
  }

  /** A message for every agent (the sender's socket gets it too). */
  broadcast(payload: Payload, opts: SendOptions = {}): Promise<Sent> {
    return this.message(undefined, payload, opts);
  }

  private async message(to: string | undefined, payload: Payload, opts: SendOptions): Promise<Sent> {
    const frame: ClientFrame<'message'> = {
      type: 'message',
      to,
      payload,
      message_type: opts.type,
      reply_to: opts.replyTo,
      idempotency_key: opts.idempotencyKey ?? newKey(),
    };
    return strip(await this.outbox.call(frame, ['message_sent']));
  }

  publish(channel: string, payload: Payload, opts: SendOptions = {}): Promise<Published> {
    const frame: ClientFrame<'channel_publish'> = {
      type: 'channel_publish',
      channel,
      payload,
      message_type: opts.type,
      reply_to: opts.replyTo,
      idempotency_key: opts.idempotencyKey ?? newKey(),
    };
    return this.outbox.call(frame, ['channel_published'], { accept: sameChannel(channel) }).then(strip);
  }

  /** Follows a channel (the subscription persists across reconnects and restarts). */
  async subscribe(channel: string): Promise<{ channel: string; alreadySubscribed: boolean }> {
    const r = await this.outbox.call({ type: 'channel_subscribe', channel }, ['channel_subscribed'], {
      accept: sameChannel(channel),
    });
    return { channel: r.channel, alreadySubscribed: r.note === 'already_subscribed' };
  }

  async unsubscribe(channel: string): Promise<{ channel: string }> {
    const r = await this.outbox.call({ type: 'channel_unsubscribe', channel }, ['channel_unsubscribed'], {
      accept: sameChannel(channel),
    });
    return { channel: r.channel };
  }

  /** The newest `limit` posts (default 50) with a channel seq above `since`, oldest first. */
  async history(channel: string, opts: { limit?: number; since?: number } = {}): Promise<HistEntry[]> {
    const r = await this.outbox.call(
      { type: 'channel_history', channel, limit: opts.limit, since: opts.since },
      ['channel_history'],
      { accept: sameChannel(channel) },
    );
    return r.messages;
  }

  async listAgents(): Promise<PresenceAgent[]> {
    return (await this.outbox.call({ type: 'list_agents' }, ['agents'])).agents;
  }

  async listChannels(): Promise<ChannelSummary[]> {
    return (await this.outbox.call({ type: 'list_channels' }, ['channels'])).channels;
  }

  /** Sets this agent's status (kept across reconnects). */
  async setStatus(status: string): Promise<void> {
    await this.outbox.call({ type: 'status', status }, ['status_updated'], { accept: (r) => r.status === status });
    this.status = status;
  }

  /** POST /api/tasks with this agent's token; retried with one idempotency key, so queued once. */
  submitTask(input: TaskSubmitInput, opts: { idempotencyKey?: string } = {}): Promise<TaskSubmitted> {
    return this.http.submitTask(input, opts.idempotencyKey ?? input.idempotency_key ?? newKey());
  }

  getTask(id: string): Promise<TaskView> {
    return this.http.getTask(id);
  }

  /** POST /api/channels; `created` is false when the channel already existed. */
  async createChannel(
    name: string,
    opts: { description?: string } = {},
  ): Promise<{ channel: string; created: boolean }> {
    const created = await this.http.createChannel(name, opts.description);
    return { channel: normaliseChannel(name), created };
  }

  /**
   * Works the tasks the hub assigns to this agent (one at a time). Without a
   * worker the client hands every assignment back (`task_rejected`).
   */
  worker(opts: WorkerOptions, handler: TaskHandler): TaskWorker {
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

  // ---- events ------------------------------------------------------------

  on<K extends keyof ClientEvents>(name: K, fn: (value: ClientEvents[K]) => unknown): () => void {
    return this.events.on(name, fn);
  }

  off<K extends keyof ClientEvents>(name: K, fn: (value: ClientEvents[K]) => unknown): void {
    this.events.off(name, fn);
  }

  /**
   * The named events as an async iterator. A delivery counts as handled (and
   * is acked) when the loop asks for the next one; `break` ends the iterator.
   */
  iterate<K extends keyof ClientEvents>(...names: K[]): AsyncIterableIterator<ClientEvents[K]> {
    return this.events.iterate(...names);
  }

  // ---- lifecycle ---------------------------------------------------------

  /**
   * Waits (up to `timeoutMs`) for the calls already made and for the acks of
   * handled messages, then closes the socket with 1000. Deliveries not yet
   * handled stay in the mailbox for the next run.
   */
  async close(timeoutMs = 5000): Promise<void> {
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
    if (this.outbox.onFrame(f, text)) return;
    switch (f.type) {
      case 'message':
      case 'channel_message':
      case 'agent_joined':
      case 'agent_left':
      case 'status_changed':
      case 'channel_agent_joined':
        this.inbox.push(f);
        return;
      case 'task_assign':
        this.onTaskAssign(f);
        return;
      case 'task_cancelled':
        this.taskWorker?.cancelled(f.task_id);
        this.emitNow('taskCancelled', f);
        return;
      case 'restart_sidecar':
        this.emitNow('restartRequested', f);
        return;
      case 'rate_limit_warning':
        this.emitNow('rateLimitWarning', f);
        return;
      default:
        this.log('debug', { type: f.type }, 'frame ignored');
    }
  }

  private onTaskAssign(f: AssignedTask): void {
    this.emitNow('taskAssigned', f);
    if (this.taskWorker) this.taskWorker.assigned(f);
    else void this.outbox.fire({ type: 'task_rejected', task_id: f.task_id, reason: 'no_worker' });
  }

  private onDown(code: number, reason: string, retryInMs: number | null): void {
    this.outbox.disconnected();
    this.socketPaused = false;
    this.log('info', { code, reason, retry_in_ms: retryInMs }, 'disconnected');
    this.emitNow('disconnected', { code, reason, reconnectInMs: retryInMs });
    if (retryInMs === null)
      this.stop(new AgentComError(ClientErrorCode.disconnected, `the hub closed the socket (${code} ${reason})`));
  }

  private async dispatch(f: Delivery): Promise<void> {
    // after close, what was not handled stays in the mailbox
    if (this.stopped) return;
    try {
      await this.events.emit(EVENT_OF[f.type], f as never);
    } catch (err) {
      const e = new AgentComError(
        ClientErrorCode.handlerFailed,
        `a ${EVENT_OF[f.type]} handler threw: ${(err as Error)?.message}`,
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
      const resume = this.inbox.takeSkipped() || this.socketPaused;
      this.socketPaused = false;
      this.conn.resume();
      if (resume && this.conn.ready) void this.reidentify(true);
    }
    this.log(full ? 'warn' : 'info', { queued: this.inbox.size }, full ? 'handlers behind: paused' : 'caught up');
    this.emitNow('backpressure', { paused: full, queued: this.inbox.size });
  }

  private applyPause(): void {
    if (this.backlogged && !this.outbox.busy && this.conn.canPause) {
      this.conn.pause();
      this.socketPaused = true;
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

const sameChannel =
  (channel: string) =>
  <R extends HubFrameType>(r: HubFrame<R>) =>
    (r as { channel?: string }).channel === normaliseChannel(channel);

/** Connects and identifies; resolves with the client once the hub answered `identified`. */
export function connect(opts: ClientOptions): Promise<AgentComClient> {
  return new AgentComClient(opts).start();
}
