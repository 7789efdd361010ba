import type { WebSocket } from 'ws';
import type { HubFrame, PresenceAgent } from '../../shared/schemas/hub-frames.js';

/** What a frame is, for the slow-consumer policy (§9.18, §9.20). */
export const FrameKind = {
  /** replies to the socket's own requests: always sent */
  Reply: 0,
  /** deliveries: dropped over the cap (the caller keeps them in the mailbox) */
  Live: 1,
  /** join/leave: the first thing dropped, never replayed */
  Presence: 2,
} as const;
export type FrameKind = (typeof FrameKind)[keyof typeof FrameKind];

/** A frame's JSON text, or that text already encoded once for a fan-out. */
export type Frame = string | Buffer;

/** Encodes a fan-out frame once; every recipient gets the same bytes. */
export const encodeOnce = (frame: HubFrame): Buffer => Buffer.from(JSON.stringify(frame));

const TEXT = { binary: false } as const;

/**
 * Sockets written to in this event-loop turn. Each is corked on its first
 * frame and uncorked once per turn, so a batch's acks and deliveries to one
 * socket leave in one writev instead of one syscall per frame.
 */
const corked: Connection[] = [];
let uncorkScheduled = false;

function uncorkAll(): void {
  uncorkScheduled = false;
  for (const c of corked.splice(0)) c.uncork();
}

/** How many caps of replies over its cap a socket that does not read may be sent before it is cut. */
export const REPLY_OVERRUN = 4;
/** A stall clock this old is past any slowConsumerMs: cut at the slow-consumer timer's next look. */
const OVERRUN = 1;

/** One WebSocket and what the hub knows of it. Volatile: lives and dies with the socket. */
export class Connection {
  agentId: string | null = null;
  tokenHash = '';
  name = '';
  status = '';
  capabilities: string[] = [];
  connectedAt = 0;
  lastSeen: number;
  protocolVersion: number | string | null = null;
  clientType: string | null = null;
  presenceEvents = true;
  resources: Record<string, number> | null = null;
  ollamaUrl: string | null = null;
  /** timestamps of recent violations (§2.3) */
  readonly violations: number[] = [];
  /** set while a mailbox replay is being sent: live frames wait behind it */
  pending: Array<{ text: Frame; seq?: number }> | null = null;
  private pendingBytes = 0;
  /** asked for while a replay runs: the running one starts again from here (one replay per socket) */
  replayRestart: number | null = null;
  /** the seq of the first durable frame queued behind the running replay */
  private queuedFrom: number | null = null;
  /** the `mailbox_since` of the identify, null when the agent asked for no replay */
  replayFrom: number | null = null;
  /** `acked`: every direct and broadcast message is also kept in the mailbox until acked (§9.32) */
  delivery: 'live' | 'acked' = 'live';
  /**
   * The seq of the first durable frame dropped for this socket while it stays
   * open (§9.20): it and every later durable frame wait in the mailbox, in
   * order, until the buffer drains and they are pushed; null when none waits.
   */
  heldFrom: number | null = null;
  /**
   * The stall clock (§9.20): since when this socket has not taken what it
   * was sent, over the cap or with a paced replay write waiting to drain;
   * 0 while it reads.
   */
  private stalledAt = 0;
  /** a paced replay write is waiting for the buffer to drain */
  private pacing = false;
  /** bytes of replies written while the buffer was over the cap, since it was last under */
  private overrunBytes = 0;
  /** past REPLY_OVERRUN caps of those: a reply went unwritten, so the socket is cut at the timer's next look */
  private overrun = false;
  dropped = 0;
  /**
   * Seqs of durable frames written since this socket's buffer was last empty:
   * if it is cut off as a slow consumer, these may never have left userland,
   * so they are copied to its mailbox.
   */
  private readonly unflushed: number[] = [];
  closing = false;
  /** a catch-up of held frames is armed or running */
  catchingUp = false;
  pongPending = false;
  private isCorked = false;

  constructor(
    readonly id: number,
    readonly ws: WebSocket,
    readonly ip: string,
    private readonly bufferMax: number,
    now: number,
    /** told when the stall clock starts: the fleet's slow-consumer timer watches the socket from then on */
    private readonly onStall: (conn: Connection) => void,
  ) {
    this.lastSeen = now;
  }

  get limiterKey(): string {
    return this.agentId ? `a:${this.agentId}` : `c:${this.id}`;
  }

  agent(): PresenceAgent {
    return {
      agent_id: this.agentId ?? '',
      name: this.name,
      status: this.status,
      capabilities: this.capabilities,
      connected_at: this.connectedAt,
      last_seen: this.lastSeen,
      protocol_version: this.protocolVersion,
      ...(this.resources ? { resources: this.resources } : {}),
    };
  }

  /**
   * Sends a pre-encoded frame unless the policy drops it. Returns false when
   * the frame was not sent (the caller decides whether a mailbox keeps it).
   */
  send(text: Frame, kind: FrameKind, now = Date.now(), seq?: number): boolean {
    if (this.closing || this.ws.readyState !== 1) return false;
    // durable frames behind a held one wait in the mailbox too, so they arrive in order (a replay's queue included)
    if (kind === FrameKind.Live && seq !== undefined && this.heldFrom !== null) return false;
    if (kind === FrameKind.Live && this.pending) {
      if (this.pendingBytes + text.length > this.bufferMax) return this.hold(seq);
      this.pendingBytes += text.length;
      this.pending.push({ text, seq });
      if (seq !== undefined) this.queuedFrom ??= seq;
      return true;
    }
    const buffered = this.ws.bufferedAmount;
    if (kind !== FrameKind.Reply) {
      const cap = kind === FrameKind.Presence ? this.bufferMax / 2 : this.bufferMax;
      if (buffered > cap) {
        this.stall(now);
        this.dropped++;
        return kind === FrameKind.Live ? this.hold(seq) : false;
      }
    } else if (buffered > this.bufferMax) {
      // a reply is not dropped for a slow reader, but a reader that asks and does not read is a stalled one;
      // past REPLY_OVERRUN caps of replies over the cap it is cut at the timer's next look, and memory stops
      // growing with it (§9.20)
      this.stall(now);
      this.overrunBytes += text.length;
      if (this.overrunBytes > this.bufferMax * REPLY_OVERRUN) this.overrun = true;
    }
    // a reply was not written: nothing more is, and the socket is cut whatever it reads meanwhile
    if (this.overrun) {
      this.dropped++;
      return kind === FrameKind.Live ? this.hold(seq) : false;
    }
    if (buffered <= this.bufferMax) {
      this.overrunBytes = 0;
      if (!this.pacing) this.stalledAt = 0;
    }
    this.writeDurable(text, seq);
    return true;
  }

  /** Writes a frame, remembering its seq until the buffer is next seen empty (see `takeUnflushed`). */
  private writeDurable(text: Frame, seq: number | undefined): void {
    if (seq !== undefined) {
      if (this.ws.bufferedAmount === 0) this.unflushed.length = 0;
      this.unflushed.push(seq);
    }
    this.write(text);
  }

  private stall(now: number): void {
    if (this.stalledAt !== 0) return;
    this.stalledAt = now;
    this.onStall(this);
  }

  /** A durable frame was not sent: it starts the held run when it is the first. Returns false (not sent). */
  private hold(seq: number | undefined): false {
    if (seq !== undefined && this.heldFrom === null) this.heldFrom = seq;
    return false;
  }

  private write(text: Frame): void {
    // ws keeps its net.Socket private; corking it is the documented stream API
    const socket = (this.ws as unknown as { _socket?: { cork(): void } })._socket;
    if (!this.isCorked && socket) {
      socket.cork();
      this.isCorked = true;
      corked.push(this);
      if (!uncorkScheduled) {
        uncorkScheduled = true;
        setImmediate(uncorkAll);
      }
    }
    this.ws.send(text, TEXT);
  }

  uncork(): void {
    this.isCorked = false;
    (this.ws as unknown as { _socket?: { uncork(): void } })._socket?.uncork();
  }

  get replaying(): boolean {
    return this.pending !== null;
  }

  /**
   * Where the running replay stops: the first durable frame that came live
   * meanwhile (queued behind it, or held in the mailbox). That one and the
   * newer ones follow the replay, so nothing arrives ahead of an older seq.
   */
  replayBound(): number {
    return Math.min(this.queuedFrom ?? Number.POSITIVE_INFINITY, this.heldFrom ?? Number.POSITIVE_INFINITY);
  }

  /** Starts a mailbox replay: live frames queue (bounded) until `endReplay`; held frames are part of it. */
  beginReplay(): void {
    this.pending = [];
    this.pendingBytes = 0;
    this.queuedFrom = null;
    this.heldFrom = null;
  }

  /**
   * Seqs of every durable frame written since the buffer was last empty, and
   * of those still queued behind a replay. On a slow-consumer cut-off they
   * all go to the mailbox: ws's queues make the exact unsent boundary
   * unknowable, and a frame seen twice (same id) beats an acked frame lost.
   */
  takeUnflushed(): number[] {
    const queued = (this.pending ?? []).flatMap((f) => (f.seq === undefined ? [] : [f.seq]));
    return [...this.unflushed.splice(0), ...queued];
  }

  /** Ends a mailbox replay: frames that arrived meanwhile go out in order. */
  endReplay(): void {
    const pending = this.pending ?? [];
    this.pending = null;
    this.pendingBytes = 0;
    this.queuedFrom = null;
    // these were accepted when they queued (bounded by the cap), so they go out whatever the buffer holds
    if (!this.closing && this.ws.readyState === 1) for (const f of pending) this.writeDurable(f.text, f.seq);
  }

  /** Sends in order, waiting for the socket to drain past half the cap: a replay never floods memory. */
  async sendPaced(text: Frame): Promise<void> {
    if (this.closing || this.ws.readyState !== 1) return;
    if (this.ws.bufferedAmount < this.bufferMax / 2) {
      this.write(text);
      return;
    }
    // a replay waiting on a socket that does not drain is a stalled reader too
    this.pacing = true;
    this.stall(Date.now());
    try {
      await new Promise<void>((resolve) => this.ws.send(text, TEXT, () => resolve()));
    } finally {
      this.pacing = false;
      // it took the frame: a reader slower than the replay, not a stalled one
      if (this.ws.bufferedAmount <= this.bufferMax) this.stalledAt = 0;
    }
  }

  /** Since when this socket has not taken what it was sent; 0, and the clock stopped, once it reads again. */
  stalledSince(): number {
    if (this.overrun) return OVERRUN;
    if (!this.pacing && this.ws.bufferedAmount <= this.bufferMax) this.stalledAt = 0;
    return this.stalledAt;
  }

  sendJson(frame: HubFrame): void {
    this.send(JSON.stringify(frame), FrameKind.Reply);
  }

  /** A pre-encoded frame that must not be dropped (replies, task assignments). */
  sendText(text: Frame): void {
    this.send(text, FrameKind.Reply);
  }

  close(code: number, reason: string): void {
    if (this.closing) return;
    this.closing = true;
    this.ws.close(code, reason);
    // a peer that never answers the close handshake must not hold the slot
    setTimeout(() => this.ws.terminate(), 2000).unref();
  }
}
