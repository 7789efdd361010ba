import { ErrorCode } from '../../shared/errors.js';
import { identifyRefusedMs } from '../../shared/identify-refusal.js';
import { backoffDelay, type ReconnectOptions } from './backoff.js';
import { AgentComError, ClientErrorCode } from './errors.js';
import type { ClientFrame, HubFrame } from './frames.js';
import { defaultSocketFactory, OPEN, openSocket, type SocketFactory, type SocketLike } from './socket.js';

export interface ConnectionOptions {
  urls: readonly string[];
  reconnect: ReconnectOptions | false;
  /** send a ping when nothing was sent for this long (the hub reaps after 60 s of silence) */
  heartbeatMs: number;
  WebSocket?: SocketFactory;
}

export interface ConnectionHooks {
  /** the identify frame for a fresh socket (it carries the seq to resume from) */
  identify(): ClientFrame<'identify'>;
  identified(f: HubFrame<'identified'>, url: string): void;
  frame(f: HubFrame, text: string): void;
  /** the socket closed; `retryInMs` null when the client stops */
  down(code: number, reason: string, retryInMs: number | null): void;
  /** the hub closed with 1009 over the frame on the wire */
  frameTooLarge(): void;
  /** the client cannot go on (bad token, replaced, revoked) */
  fatal(err: AgentComError): void;
  /** due a heartbeat: the client sends a ping if no call is on the wire */
  heartbeat(): void;
}

/** Identify refusals that no retry can fix. */
const FATAL_IDENTIFY = new Set<string>([
  ErrorCode.invalidToken,
  ErrorCode.tokenAgentMismatch,
  ErrorCode.validationFailed,
]);

/**
 * One logical connection over many sockets: opens, identifies, watches for a
 * dead peer, and after a drop reconnects across the URLs with jittered
 * exponential back-off, following what each close code means:
 *
 * | code | meaning            | the client                                   |
 * | 1001 | going away / idle  | reconnects                                   |
 * | 1008 | violations         | waits as the reason says, then reconnects    |
 * | 1009 | frame too big      | fails that call, reconnects without it       |
 * | 4001 | replaced           | stops: a newer socket is this agent now      |
 * | 4003 | token revoked      | stops with `token_revoked`                   |
 * | 4008 | slow consumer      | reconnects and resumes from its last seq     |
 * | else | network, kill -9   | reconnects                                   |
 */
export class Connection {
  private socket: SocketLike | null = null;
  private identifiedOn: SocketLike | null = null;
  /** the socket this connection stopped reading from: only that one is resumed */
  private pausedOn: SocketLike | null = null;
  private attempt = 0;
  private next = 0;
  private retryTimer: ReturnType<typeof setTimeout> | null = null;
  private beat: ReturnType<typeof setInterval> | null = null;
  private stopped = false;
  private lastSentAt = 0;
  private lastHeardAt = 0;
  url = '';

  constructor(
    private readonly o: ConnectionOptions,
    private readonly hooks: ConnectionHooks,
  ) {}

  get ready(): boolean {
    return this.socket !== null && this.identifiedOn === this.socket && this.socket.readyState === OPEN;
  }

  start(): void {
    this.open();
    this.beat = setInterval(() => this.tick(), Math.max(10, Math.floor(this.o.heartbeatMs / 4)));
    // a Node process may exit while only the heartbeat is left
    (this.beat as { unref?: () => void }).unref?.();
  }

  send(text: string): void {
    if (!this.socket || this.socket.readyState !== OPEN) return;
    this.socket.send(text);
    this.lastSentAt = Date.now();
  }

  pause(): void {
    const s = this.socket;
    if (!s?.pause || this.pausedOn === s) return;
    s.pause();
    this.pausedOn = s;
  }

  resume(): void {
    const s = this.socket;
    if (!s || this.pausedOn !== s) return;
    this.pausedOn = null;
    s.resume?.();
  }

  /** True when this runtime's socket can stop reading (Node's `ws`). */
  get canPause(): boolean {
    return typeof this.socket?.pause === 'function';
  }

  /** Drops the socket (a dead peer, a reply that never came); the usual reconnect follows. */
  drop(): void {
    const s = this.socket;
    if (!s) return;
    if (s.terminate) s.terminate();
    else s.close(4000, 'client gave up on the socket');
  }

  /** Closes for good. */
  stop(code = 1000, reason = 'client closed'): void {
    this.stopped = true;
    if (this.retryTimer) clearTimeout(this.retryTimer);
    if (this.beat) clearInterval(this.beat);
    this.retryTimer = null;
    this.beat = null;
    const s = this.socket;
    this.socket = null;
    if (s && s.readyState <= OPEN) s.close(code, reason);
  }

  private open(): void {
    if (this.o.WebSocket) this.connect(this.o.WebSocket);
    else
      defaultSocketFactory().then(
        (Socket) => this.connect(Socket),
        (err) =>
          this.hooks.fatal(new AgentComError(ClientErrorCode.noWebSocket, `no WebSocket implementation: ${err}`)),
      );
  }

  private connect(Socket: SocketFactory): void {
    if (this.stopped) return;
    const url = this.o.urls[this.next % this.o.urls.length];
    this.next++;
    this.url = url;
    const s = openSocket(Socket, url, this.silenceMs);
    this.socket = s;
    s.onopen = () => {
      this.lastHeardAt = Date.now();
      s.send(JSON.stringify(this.hooks.identify()));
      this.lastSentAt = Date.now();
    };
    s.onmessage = (ev) => this.onMessage(s, String(ev.data));
    s.onerror = () => {};
    s.onclose = (ev) => this.onClose(s, ev.code, ev.reason);
  }

  private onMessage(s: SocketLike, text: string): void {
    if (s !== this.socket) return;
    this.lastHeardAt = Date.now();
    let f: HubFrame;
    try {
      f = JSON.parse(text);
    } catch {
      return;
    }
    if (this.identifiedOn === s) {
      this.hooks.frame(f, text);
      return;
    }
    if (f.type === 'identified') {
      this.identifiedOn = s;
      this.attempt = 0;
      this.hooks.identified(f, this.url);
    } else if (f.type === 'error') {
      const err = AgentComError.from(f);
      if (FATAL_IDENTIFY.has(err.code)) this.hooks.fatal(err);
      else this.retry(err.retryAfterMs ?? backoffDelay(this.attempt++, this.reconnectOpts()));
    }
  }

  private onClose(s: SocketLike, code: number, reason: string): void {
    if (s !== this.socket) return;
    this.socket = null;
    this.identifiedOn = null;
    this.pausedOn = null;
    if (this.stopped) return;
    if (code === 4001) {
      this.hooks.fatal(new AgentComError(ClientErrorCode.replaced, 'another socket identified as this agent (4001)'));
      return;
    }
    if (code === 4003) {
      this.hooks.fatal(new AgentComError(ClientErrorCode.tokenRevoked, 'the token was revoked (4003)'));
      return;
    }
    if (code === 1009) this.hooks.frameTooLarge();
    if (this.o.reconnect === false) {
      this.hooks.down(code, reason, null);
      return;
    }
    const wait =
      (code === 1008 ? identifyRefusedMs(reason) : null) ?? backoffDelay(this.attempt++, this.reconnectOpts());
    this.hooks.down(code, reason, wait);
    this.schedule(wait);
  }

  /** The identify was refused for now (rate limited): try again on a fresh socket. */
  private retry(ms: number): void {
    const s = this.socket;
    this.socket = null;
    s?.close(1000, 'identify retry');
    this.hooks.down(1000, 'identify refused for now', ms);
    this.schedule(ms);
  }

  private schedule(ms: number): void {
    if (this.retryTimer) clearTimeout(this.retryTimer);
    this.retryTimer = setTimeout(() => {
      this.retryTimer = null;
      this.open();
    }, ms);
  }

  private reconnectOpts(): ReconnectOptions {
    return this.o.reconnect || {};
  }

  /** Pings get pongs, so a peer silent for this long is gone (a half-open TCP connection, a hung identify). */
  private get silenceMs(): number {
    return this.o.heartbeatMs * 2.5;
  }

  private tick(): void {
    const s = this.socket;
    if (!s || s.readyState !== OPEN) return;
    const now = Date.now();
    if (now - this.lastHeardAt > this.silenceMs) {
      this.drop();
      return;
    }
    if (this.ready && now - this.lastSentAt >= this.o.heartbeatMs) this.hooks.heartbeat();
  }
}
