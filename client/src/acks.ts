/**
 * Mailbox acks, batched: `mailbox_ack {seq}` deletes every entry up to seq,
 * so one ack covers all the messages handled since the last. One goes out
 * `delayMs` after the first message handled since the last ack, never two at
 * a time: however fast messages come, acks spend at most one frame of the
 * agent's rate limit per `delayMs`.
 */
export class AckBatcher {
  private handledSeq = 0;
  private ackedSeq: number;
  private timer: ReturnType<typeof setTimeout> | null = null;
  private inFlight: Promise<void> | null = null;

  constructor(
    private readonly send: (seq: number) => Promise<unknown>,
    private readonly o: { delayMs: number; from: number },
  ) {
    this.ackedSeq = o.from;
  }

  handled(seq: number): void {
    this.handledSeq = Math.max(this.handledSeq, seq);
    this.timer ??= setTimeout(() => {
      this.timer = null;
      void this.flush().catch(() => {});
    }, this.o.delayMs);
  }

  /** Acks everything handled so far; resolves when the hub confirmed it. */
  async flush(): Promise<void> {
    while (this.inFlight) await this.inFlight.catch(() => {});
    if (this.handledSeq <= this.ackedSeq) return;
    const seq = this.handledSeq;
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
