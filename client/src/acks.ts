/**
 * Mailbox acks, batched: `mailbox_ack {seq}` deletes every entry up to seq,
 * so one ack covers all the messages handled since the last. One goes out
 * after `every` handled messages or `delayMs` after the first, whichever
 * comes first, and never two at a time.
 */
export class AckBatcher {
  private handledSeq = 0;
  private ackedSeq: number;
  private count = 0;
  private timer: ReturnType<typeof setTimeout> | null = null;
  private inFlight: Promise<void> | null = null;

  constructor(
    private readonly send: (seq: number) => Promise<unknown>,
    private readonly o: { delayMs: number; every: number; from: number },
  ) {
    this.ackedSeq = o.from;
  }

  handled(seq: number): void {
    this.handledSeq = Math.max(this.handledSeq, seq);
    if (++this.count >= this.o.every) this.flushSoon(0);
    else this.flushSoon(this.o.delayMs);
  }

  private flushSoon(ms: number): void {
    if (this.timer && ms > 0) return;
    if (this.timer) clearTimeout(this.timer);
    this.timer = setTimeout(() => {
      this.timer = null;
      void this.flush().catch(() => {});
    }, ms);
  }

  /** Acks everything handled so far; resolves when the hub confirmed it. */
  async flush(): Promise<void> {
    while (this.inFlight) await this.inFlight.catch(() => {});
    if (this.handledSeq <= this.ackedSeq) return;
    const seq = this.handledSeq;
    this.count = 0;
    const p = this.send(seq).then(() => {
      this.ackedSeq = Math.max(this.ackedSeq, seq);
    });
    this.inFlight = p;
    try {
      await p;
    } finally {
      if (this.inFlight === p) this.inFlight = null;
    }
  }

  stop(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
  }
}
