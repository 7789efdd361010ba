import WebSocket from 'ws';
import { frameType } from './gen/frames.js';
import type { AdminClient } from './http.js';
import { MAINTAINED } from './maintenance.js';
import { nowUs } from './util.js';

export interface FillReport {
  target_mb: number;
  /** the messaging file's size when the fill stopped */
  reached_mb: number;
  messages: number;
  payload_bytes: number;
  seconds: number;
  /** messaging records after the fill (history, mailbox, …) */
  records: Record<string, number>;
  /** why it stopped short of the target, if it did */
  stopped?: string;
}

const SENDERS = 4;
/** offline recipients: each message lands in one mailbox and in history, so it is stored twice */
const MAILBOXES = 8;
const WINDOW = 8;
/** messages per round between two size readings */
const ROUND_MAX = 1024;
const MB = 1024 * 1024;

/** One filling agent: a socket that keeps WINDOW large messages in flight until its share is acked. */
class Filler {
  private ws!: WebSocket;
  private left = 0;
  private inFlight = 0;
  private done: { resolve: () => void; reject: (e: Error) => void } | null = null;

  constructor(
    readonly id: string,
    private readonly frames: Buffer[],
  ) {}

  open(url: string, token: string): Promise<void> {
    return new Promise((resolve, reject) => {
      this.ws = new WebSocket(url, { perMessageDeflate: false });
      this.ws.on('error', reject);
      this.ws.on('close', (code) => this.done?.reject(new Error(`fill socket closed (${code})`)));
      this.ws.on('message', (data: Buffer) => {
        const text = data.toString();
        const type = frameType(text);
        if (type === 'identified') resolve();
        else if (type === 'message_sent') this.acked();
        else if (type === 'error' || type === 'rate_limited') {
          const err = new Error(`the hub refused a fill message: ${text.slice(0, 300)}`);
          reject(err);
          this.done?.reject(err);
        }
      });
      this.ws.on('open', () =>
        this.ws.send(JSON.stringify({ type: 'identify', agent_id: this.id, token, presence_events: false })),
      );
    });
  }

  /** Sends `n` messages with WINDOW in flight; resolves when all are acked. */
  send(n: number): Promise<void> {
    if (n === 0) return Promise.resolve();
    this.left = n;
    return new Promise((resolve, reject) => {
      this.done = { resolve, reject };
      while (this.inFlight < WINDOW && this.left > 0) this.next();
    });
  }

  private next(): void {
    this.left--;
    this.inFlight++;
    this.ws.send(this.frames[this.left % this.frames.length]);
  }

  private acked(): void {
    this.inFlight--;
    if (this.left > 0) this.next();
    else if (this.inFlight === 0) this.done?.resolve();
  }

  close(): void {
    this.ws?.close(1000);
  }
}

/**
 * Grows the messaging environment to `targetMb` as users would: agents send
 * large direct messages to offline agents, so each is written to history
 * and to a mailbox. Sends in rounds sized from what is still missing and
 * reads the file's size (`GET /admin/storage-health`) after each round.
 */
export async function fillMessaging(
  admin: AdminClient,
  wsUrl: string,
  o: { targetMb: number; payloadBytes: number; runId: string },
  status: (text: string) => void,
): Promise<FillReport> {
  const started = nowUs();
  const pad = 'x'.repeat(Math.max(0, o.payloadBytes - '{"pad":""}'.length));
  const frames = Array.from({ length: MAILBOXES }, (_, i) =>
    Buffer.from(`{"type":"message","to":"b${o.runId}-vault${i}","payload":{"pad":"${pad}"}}`),
  );
  const ids = Array.from({ length: SENDERS }, (_, i) => `b${o.runId}-fill${i}`);
  const tokens = await admin.issueTokens(ids);
  await admin.setWhitelist([...new Set([...(await admin.whitelist()), ...ids])]);
  const fillers = ids.map((id) => new Filler(id, frames));
  const target = o.targetMb * MB;
  let messages = 0;
  let stopped: string | undefined;
  try {
    await Promise.all(fillers.map((f) => f.open(wsUrl, tokens.get(f.id) as string)));
    let size = (await admin.storage(MAINTAINED)).bytes;
    while (size < target) {
      const n = Math.min(ROUND_MAX, Math.ceil((target - size) / (2 * o.payloadBytes)));
      await Promise.all(fillers.map((f, i) => f.send(Math.floor(n / SENDERS) + (i < n % SENDERS ? 1 : 0))));
      messages += n;
      const grown = (await admin.storage(MAINTAINED)).bytes;
      status(`fill: ${MAINTAINED} at ${Math.round(grown / MB)} of ${o.targetMb} MiB (${messages} messages)`);
      // caps trimming history or mailboxes recycle pages instead of growing the file
      if (grown - size < (n * o.payloadBytes) / 2) {
        stopped = 'the file stopped growing: raise the hub caps (--hub-arg=--history-max=…, --mailbox-max=…)';
        size = grown;
        break;
      }
      size = grown;
    }
  } finally {
    for (const f of fillers) f.close();
    await admin.revokeTokens(ids).catch(() => {});
  }
  const after = await admin.storage(MAINTAINED);
  return {
    target_mb: o.targetMb,
    reached_mb: Math.round((after.bytes / MB) * 10) / 10,
    messages,
    payload_bytes: o.payloadBytes,
    seconds: Math.round((nowUs() - started) / 1e5) / 10,
    records: after.records,
    ...(stopped ? { stopped } : {}),
  };
}
