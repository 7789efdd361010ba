import type { ReconnectOptions } from './backoff.js';
import type { AgentComError } from './errors.js';
import type { FrameEvents } from './frame-kinds.js';
import type { HubFrame } from './frames.js';
import type { SocketFactory } from './socket.js';
import type { TaskOutcome } from './worker.js';

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
  /** one mailbox ack at most this often, covering all handled since (default 1 s: acks spend the agent's rate limit) */
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

/**
 * Events, as callbacks (`on`) and as async iterators (`iterate`): the hub's
 * frames under the names in HUB_FRAMES (`message`, `taskAssigned`, …), and these.
 */
export interface ClientEvents extends FrameEvents {
  taskFinished: TaskOutcome;
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
