import { normaliseChannel } from '../../shared/channel-name.js';
import type { ReplyType } from './frame-kinds.js';
import type {
  ChannelSummary,
  ClientFrame,
  HistEntry,
  HubFrame,
  Payload,
  PresenceAgent,
  TaskSubmitInput,
  TaskSubmitted,
  TaskView,
} from './frames.js';
import type { ClientEvents, ClientOptions, Published, SendOptions, Sent } from './options.js';
import { Session } from './session.js';
import type { TaskHandler, TaskWorker, WorkerOptions } from './worker.js';

const newKey = () => globalThis.crypto.randomUUID();
const strip = <T extends { type: string }>({ type: _, ...rest }: T): Omit<T, 'type'> => rest;

/**
 * An agent's connection to the hub. Calls resolve with the hub's ack;
 * deliveries reach handlers in order, each once; see README "Writing an agent".
 */
export class AgentComClient {
  readonly agentId: string;
  private readonly s: Session;

  constructor(opts: ClientOptions) {
    this.s = new Session(opts);
    this.agentId = this.s.agentId;
  }

  /** Opens the connection; resolves once identified (transient failures are retried meanwhile). */
  async start(): Promise<this> {
    await this.s.start();
    return this;
  }

  /** The last mailbox seq whose handlers returned: persist it and pass it back as `resumeFrom`. */
  get lastSeq(): number {
    return this.s.lastSeq;
  }

  /** The oldest mailbox seq the hub still held at the last identify (null: empty). */
  get oldestSeq(): number | null {
    return this.s.oldestSeq;
  }

  get connected(): boolean {
    return this.s.connected;
  }

  /** Calls waiting for the socket. */
  get queued(): number {
    return this.s.queued;
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
    return strip(await this.s.outbox.call(frame, ['message_sent']));
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
    return this.s.outbox.call(frame, ['channel_published'], { accept: sameChannel(channel) }).then(strip);
  }

  /** Follows a channel (the subscription persists across reconnects and restarts). */
  async subscribe(channel: string): Promise<{ channel: string; alreadySubscribed: boolean }> {
    const r = await this.s.outbox.call({ type: 'channel_subscribe', channel }, ['channel_subscribed'], {
      accept: sameChannel(channel),
    });
    return { channel: r.channel, alreadySubscribed: r.note === 'already_subscribed' };
  }

  async unsubscribe(channel: string): Promise<{ channel: string }> {
    const r = await this.s.outbox.call({ type: 'channel_unsubscribe', channel }, ['channel_unsubscribed'], {
      accept: sameChannel(channel),
    });
    return { channel: r.channel };
  }

  /** The newest `limit` posts (default 50) with a channel seq above `since`, oldest first. */
  async history(channel: string, opts: { limit?: number; since?: number } = {}): Promise<HistEntry[]> {
    const r = await this.s.outbox.call(
      { type: 'channel_history', channel, limit: opts.limit, since: opts.since },
      ['channel_history'],
      { accept: sameChannel(channel) },
    );
    return r.messages;
  }

  async listAgents(): Promise<PresenceAgent[]> {
    return (await this.s.outbox.call({ type: 'list_agents' }, ['agents'])).agents;
  }

  async listChannels(): Promise<ChannelSummary[]> {
    return (await this.s.outbox.call({ type: 'list_channels' }, ['channels'])).channels;
  }

  /** Sets this agent's status (kept across reconnects). */
  async setStatus(status: string): Promise<void> {
    await this.s.outbox.call({ type: 'status', status }, ['status_updated'], { accept: (r) => r.status === status });
    this.s.statusSet(status);
  }

  /** POST /api/tasks with this agent's token; retried with one idempotency key, so queued once. */
  submitTask(input: TaskSubmitInput, opts: { idempotencyKey?: string } = {}): Promise<TaskSubmitted> {
    return this.s.http.submitTask(input, opts.idempotencyKey ?? input.idempotency_key ?? newKey());
  }

  getTask(id: string): Promise<TaskView> {
    return this.s.http.getTask(id);
  }

  /** POST /api/channels; `created` is false when the channel already existed. */
  async createChannel(
    name: string,
    opts: { description?: string } = {},
  ): Promise<{ channel: string; created: boolean }> {
    const created = await this.s.http.createChannel(name, opts.description);
    return { channel: normaliseChannel(name), created };
  }

  /**
   * Works the tasks the hub assigns to this agent (one at a time). Without a
   * worker the client hands every assignment back (`task_rejected`).
   */
  worker(opts: WorkerOptions, handler: TaskHandler): TaskWorker {
    return this.s.attachWorker(opts, handler);
  }

  // ---- events ------------------------------------------------------------

  on<K extends keyof ClientEvents>(name: K, fn: (value: ClientEvents[K]) => unknown): () => void {
    return this.s.events.on(name, fn);
  }

  off<K extends keyof ClientEvents>(name: K, fn: (value: ClientEvents[K]) => unknown): void {
    this.s.events.off(name, fn);
  }

  /**
   * The named events as an async iterator. A delivery counts as handled (and
   * is acked) when the loop asks for the next one; `break` ends the iterator.
   */
  iterate<K extends keyof ClientEvents>(...names: K[]): AsyncIterableIterator<ClientEvents[K]> {
    return this.s.events.iterate(...names);
  }

  /**
   * Waits (up to `timeoutMs`) for the calls already made and for the acks of
   * handled messages, then closes the socket with 1000. Deliveries not yet
   * handled stay in the mailbox for the next run.
   */
  close(timeoutMs = 5000): Promise<void> {
    return this.s.close(timeoutMs);
  }
}

const sameChannel =
  (channel: string) =>
  <R extends ReplyType>(r: HubFrame<R>) =>
    (r as { channel?: string }).channel === normaliseChannel(channel);

/** Connects and identifies; resolves with the client once the hub answered `identified`. */
export function connect(opts: ClientOptions): Promise<AgentComClient> {
  return new AgentComClient(opts).start();
}
