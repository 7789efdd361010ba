import WebSocket from 'ws';
import type { AgentSpec, OpKind, OpSpec } from '../types.js';
import { Fifo } from '../util.js';
import { frameType as frameTypeOf } from './frames.js';

/** A send waiting for its reply: scheduled (open loop) or actual (closed loop) time, phase, op. */
export interface Pending {
  t: number;
  ph: number;
  kind: OpKind;
  /** the recipient is offline: the message lands in its mailbox */
  mailbox: boolean;
}

interface Waiter {
  type: string;
  resolve: (text: string) => void;
  reject: (err: Error) => void;
}

export type FrameHandler = (agent: BenchAgent, type: string, text: string) => void;

/** One simulated agent: its socket, its reply FIFOs and, for senders, its op mix. */
export class BenchAgent {
  ws: WebSocket | null = null;
  /** reply type → sends waiting for that reply, in send order (the hub answers one socket in order per domain) */
  readonly pending = new Map<string, Fifo<Pending>>();
  /** ops in flight (closed-loop window), including task cycles */
  outstanding = 0;
  private readonly cycle: OpSpec[] = [];
  private next = 0;
  private waiter: Waiter | null = null;
  closedCode: number | null = null;
  /** delivery "acked": the highest seq read, and the highest acked */
  private seenSeq = 0;
  private ackedSeq = 0;

  constructor(readonly spec: AgentSpec) {
    // a deterministic interleaving of the weighted mix, e.g. 15 direct, 4 publish, 1 task per 20 sends
    // (smooth weighted round robin)
    const ops = spec.ops ?? [];
    const total = ops.reduce((s, o) => s + o.weight, 0);
    const credit = ops.map(() => 0);
    for (let i = 0; total > 0 && i < 20; i++) {
      let best = 0;
      for (let k = 0; k < ops.length; k++) {
        credit[k] += ops[k].weight / total;
        if (credit[k] > credit[best]) best = k;
      }
      credit[best] -= 1;
      this.cycle.push(ops[best]);
    }
  }

  /** Notes a delivered frame's seq (it is the frame's last field; no parse). */
  sawSeq(text: string): void {
    const at = text.lastIndexOf('"seq":');
    if (at < 0) return;
    const seq = Number.parseInt(text.slice(at + 6), 10);
    if (seq > this.seenSeq) this.seenSeq = seq;
  }

  /** Acks the mailbox up to the highest seq read, when it moved. */
  ackMailbox(): void {
    if (this.seenSeq <= this.ackedSeq || this.closedCode !== null) return;
    this.ackedSeq = this.seenSeq;
    this.send(`{"type":"mailbox_ack","seq":${this.seenSeq}}`);
  }

  get id(): string {
    return this.spec.id;
  }

  get isSender(): boolean {
    return this.cycle.length > 0;
  }

  get taskOnly(): boolean {
    return this.cycle.length > 0 && this.cycle.every((o) => o.kind === 'task');
  }

  nextOp(): OpSpec {
    const op = this.cycle[this.next];
    this.next = (this.next + 1) % this.cycle.length;
    return op;
  }

  fifo(replyType: string): Fifo<Pending> {
    let f = this.pending.get(replyType);
    if (!f) {
      f = new Fifo<Pending>();
      this.pending.set(replyType, f);
    }
    return f;
  }

  /** Pops the oldest pending send across reply types (an error frame answers it). */
  shiftOldest(): Pending | undefined {
    let best: Fifo<Pending> | null = null;
    for (const f of this.pending.values()) {
      const head = f.peek();
      if (head && (!best || head.t < (best.peek() as Pending).t)) best = f;
    }
    return best?.shift();
  }

  pendingCount(): number {
    let n = 0;
    for (const f of this.pending.values()) n += f.size;
    return n;
  }

  open(url: string, onFrame: FrameHandler, onClose: (agent: BenchAgent, code: number) => void): Promise<void> {
    return new Promise((resolve, reject) => {
      const ws = new WebSocket(url, { perMessageDeflate: false });
      this.ws = ws;
      ws.on('message', (data: Buffer) => {
        const text = data.toString();
        const type = frameTypeOf(text);
        const w = this.waiter;
        if (w && type === w.type) {
          this.waiter = null;
          w.resolve(text);
        } else if (w && type === 'error') {
          this.waiter = null;
          w.reject(new Error(`${w.type} refused: ${text}`));
        } else onFrame(this, type, text);
      });
      ws.once('open', () => resolve());
      ws.once('error', (err) => reject(err));
      ws.on('close', (code) => {
        this.closedCode = code;
        this.waiter?.reject(new Error(`socket closed (${code}) while waiting for ${this.waiter.type}`));
        this.waiter = null;
        onClose(this, code);
      });
    });
  }

  /** Sends a setup frame and waits for its reply type (or an error frame). */
  request(frame: Record<string, unknown>, replyType: string, timeoutMs = 30_000): Promise<string> {
    return new Promise((resolve, reject) => {
      const t = setTimeout(() => {
        this.waiter = null;
        reject(new Error(`timed out waiting for ${replyType} (agent ${this.id})`));
      }, timeoutMs);
      this.waiter = {
        type: replyType,
        resolve: (x) => {
          clearTimeout(t);
          resolve(x);
        },
        reject: (e) => {
          clearTimeout(t);
          reject(e);
        },
      };
      this.send(JSON.stringify(frame));
    });
  }

  send(text: string): void {
    this.ws?.send(text);
  }

  get buffered(): number {
    return this.ws?.bufferedAmount ?? 0;
  }

  close(): void {
    this.ws?.close(1000);
  }
}
