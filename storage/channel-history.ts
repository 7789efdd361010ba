import type { HistEntry, Msg } from '../shared/schemas/records.js';
import { count, type Db, first, span } from './env.js';

interface ChanRec {
  entry: HistEntry;
  /** global history seq, the key of the entry's `chanAll` row */
  gseq: number;
}

/**
 * Channel history (§4, §9.5): a per-channel seq from 1, at most `perChannel`
 * entries per channel and `total` across channels, oldest evicted inside the
 * publishing write. `chanAll` orders every entry by global seq for the
 * global cap.
 */
export class ChannelHistory {
  private total: number;

  constructor(
    private readonly db: { chanHist: Db; chanAll: Db; chanCount: Db },
    private readonly caps: { perChannel: number; total: number },
    /** channel seqs continue above it: never reuse a seq the data no longer shows (§9.31) */
    private readonly floor: () => number = () => 0,
  ) {
    this.total = count(db.chanAll);
  }

  recount(): void {
    this.total = count(this.db.chanAll);
  }

  size(): number {
    return this.total;
  }

  /** Appends a published message (already in global history as `gseq`); returns its channel seq. */
  append(channel: string, msg: Msg, gseq: number, now: number): number {
    const seq = Math.max((this.db.chanCount.get(['seq', channel]) as number | undefined) ?? 0, this.floor()) + 1;
    this.db.chanCount.putSync(['seq', channel], seq);
    const entry: HistEntry = { seq, message: { ...msg, channel }, stored_at: now };
    this.db.chanHist.putSync([channel, seq], { entry, gseq } satisfies ChanRec);
    this.db.chanAll.putSync(gseq, [channel, seq]);
    this.total++;
    const n = ((this.db.chanCount.get(['n', channel]) as number | undefined) ?? 0) + 1;
    this.db.chanCount.putSync(['n', channel], n);
    if (n > this.caps.perChannel) {
      const head = first(this.db.chanHist.getRange({ ...span(channel), limit: 1 }));
      if (head) this.remove(channel, (head.key as [string, number])[1], (head.value as ChanRec).gseq);
    }
    while (this.total > this.caps.total) {
      const head = first(this.db.chanAll.getRange({ limit: 1 }));
      if (!head) break;
      const [ch, s] = head.value as [string, number];
      this.remove(ch, s, head.key as number);
    }
    return seq;
  }

  private remove(channel: string, chanSeq: number, globalSeq: number): void {
    if (!this.db.chanHist.doesExist([channel, chanSeq])) return;
    this.db.chanHist.removeSync([channel, chanSeq]);
    this.db.chanAll.removeSync(globalSeq);
    this.total--;
    const n = (this.db.chanCount.get(['n', channel]) as number) - 1;
    this.db.chanCount.putSync(['n', channel], Math.max(0, n));
  }

  /** Newest `limit` entries with seq > since, ascending. */
  list(channel: string, limit: number, since: number): HistEntry[] {
    const out: HistEntry[] = [];
    for (const { value } of this.db.chanHist.getRange({
      start: [channel, Number.MAX_SAFE_INTEGER],
      end: [channel, since],
      reverse: true,
      limit,
    })) {
      out.push((value as ChanRec).entry);
    }
    return out.reverse();
  }
}
