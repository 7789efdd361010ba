import type { HistoryQuery, MessagingCaps, SendResult } from '../shared/domains/messaging.js';
import type { Msg, NewMsg, StoredMsg } from '../shared/schemas/records.js';
import { messageId, seqOfMessageId } from '../shared/tokens.js';
import { ChannelHistory } from './channel-history.js';
import { all, count, type Db, type DomainEnv, first, span } from './env.js';
import { IdempotencyStore } from './idempotency.js';
import type { SeqReservation } from './seq-mark.js';
import { ThreadStore } from './threads.js';

export const MESSAGING_DBS = [
  'meta',
  'history',
  'mailbox',
  'mailboxTime',
  'mailboxCount',
  'threads',
  'threadIndex',
  'replies',
  'threadCount',
  'chanHist',
  'chanAll',
  'chanCount',
  'idem',
  'idemTime',
] as const;
export type MessagingDb = (typeof MESSAGING_DBS)[number];

interface MailboxRec {
  msg: StoredMsg;
  stored_at: number;
}

/**
 * The messaging domain: every message record (§9.22): global history, the
 * id index, threads, mailboxes and channel history. Plain synchronous
 * functions meant to run inside one write transaction per batch.
 */
export class MessagingStore {
  private readonly db: Record<MessagingDb, Db>;
  readonly idem: IdempotencyStore;
  readonly threads: ThreadStore;
  readonly channels: ChannelHistory;
  private seq: number;
  /** channel seqs continue above this: set when the global seq jumped past what the data holds (§9.31) */
  private chanFloor: number;
  private historyCount: number;

  /**
   * `seqs` keeps the high-water mark outside the environment; `known` is the
   * last seq this process handed out, when it reopens the environment.
   */
  constructor(
    env: DomainEnv<MessagingDb>,
    private readonly caps: MessagingCaps,
    private readonly seqs: SeqReservation,
    known?: number,
  ) {
    this.db = env.dbs;
    this.idem = new IdempotencyStore(this.db.idem, this.db.idemTime, caps.idempotencyTtlMs);
    const stored = (this.db.meta.get('seq') as number | undefined) ?? 0;
    this.seq = seqs.start(stored, known);
    const floor = (this.db.meta.get('chanFloor') as number | undefined) ?? 0;
    // the data is behind what was handed out: channel seqs it holds may have been issued again, so continue above
    this.chanFloor = this.seq > stored ? Math.max(floor, this.seq) : floor;
    this.historyCount = count(this.db.history);
    this.threads = new ThreadStore(this.db, caps.threadMax, (id) => this.fromHistory(id));
    this.channels = new ChannelHistory(
      this.db,
      { perChannel: caps.channelHistoryPerChannel, total: caps.channelHistoryTotal },
      () => this.chanFloor,
    );
  }

  private nextSeq(): number {
    this.seq += 1;
    this.seqs.cover(this.seq);
    return this.seq;
  }

  /** Once per batch, inside its transaction: persist the seq counters and trim history to its cap. */
  endBatch(): void {
    if (this.db.meta.get('seq') !== this.seq) this.db.meta.putSync('seq', this.seq);
    if ((this.db.meta.get('chanFloor') ?? 0) !== this.chanFloor) this.db.meta.putSync('chanFloor', this.chanFloor);
    const over = this.historyCount - this.caps.historyMax;
    if (over <= 0) return;
    for (const key of all(this.db.history.getKeys({ limit: over }))) {
      this.db.history.removeSync(key);
      this.historyCount--;
    }
  }

  /** Reads the cached record counts again, after a rolled-back op may have moved them (seq gaps are harmless). */
  recount(): void {
    this.historyCount = count(this.db.history);
    this.channels.recount();
  }

  lastSeq(): number {
    return this.seq;
  }

  /** The oldest mailbox seq still held for `agent`, or null when its mailbox is empty (§9.31). */
  mailboxHead(agent: string): number | null {
    const head = first(this.db.mailbox.getKeys({ ...span(agent), limit: 1 }));
    return head === undefined ? null : (head as [string, number])[1];
  }

  counts(): Record<string, number> {
    return {
      history: count(this.db.history),
      mailbox: count(this.db.mailbox),
      threads: this.threads.count(),
      channel_history: this.channels.size(),
    };
  }

  /** Stores a direct or broadcast message: history, thread index, and mailbox copies for `mailboxFor`. */
  send(msg: NewMsg, mailboxFor: readonly string[], now: number): SendResult {
    const seq = this.nextSeq();
    const id = messageId(seq);
    const stored: StoredMsg = { id, ...msg, seq };
    this.db.history.putSync(seq, stored);
    this.historyCount++;
    if (msg.reply_to) this.threads.add({ id, ...msg });
    const dropped = this.mailboxAll(mailboxFor, stored, now);
    return dropped ? { seq, id, dropped } : { seq, id };
  }

  /** A channel publish: one channel-history record (also in global history) and mailbox copies (§9.22). */
  publish(
    channel: string,
    msg: NewMsg,
    mailboxFor: readonly string[],
    now: number,
  ): SendResult & { channelSeq: number } {
    const res = this.send({ ...msg, channel }, [], now);
    const channelSeq = this.channels.append(channel, { id: res.id, ...msg }, res.seq, now);
    const stored: StoredMsg = { id: res.id, ...msg, channel, seq: res.seq, payload: { ...msg.payload, channel } };
    const dropped = this.mailboxAll(mailboxFor, stored, now);
    return dropped ? { seq: res.seq, id: res.id, channelSeq, dropped } : { seq: res.seq, id: res.id, channelSeq };
  }

  /** Copies `msg` to each agent's mailbox; returns the agents whose oldest entry the cap dropped, if any. */
  private mailboxAll(agents: readonly string[], msg: StoredMsg, now: number): Record<string, number> | undefined {
    let dropped: Record<string, number> | undefined;
    for (const agent of agents) {
      if (!this.mailboxPut(agent, msg, now)) continue;
      dropped ??= {};
      dropped[agent] = (dropped[agent] ?? 0) + 1;
    }
    return dropped;
  }

  /** Returns 1 when the cap made it drop the agent's oldest entry. */
  private mailboxPut(agent: string, msg: StoredMsg, now: number): number {
    const key = [agent, msg.seq];
    if (this.db.mailbox.doesExist(key)) return 0;
    this.db.mailbox.putSync(key, { msg, stored_at: now } satisfies MailboxRec);
    this.db.mailboxTime.putSync([now, agent, msg.seq], 1);
    const n = ((this.db.mailboxCount.get(agent) as number | undefined) ?? 0) + 1;
    if (n <= this.caps.mailboxMax) {
      this.db.mailboxCount.putSync(agent, n);
      return 0;
    }
    const oldest = first(this.db.mailbox.getRange({ ...span(agent), limit: 1 }));
    if (oldest) this.mailboxRemove(oldest.key as [string, number], (oldest.value as MailboxRec).stored_at);
    this.db.mailboxCount.putSync(agent, n - 1);
    return 1;
  }

  private mailboxRemove(key: [string, number], storedAt: number): void {
    this.db.mailbox.removeSync(key);
    this.db.mailboxTime.removeSync([storedAt, key[0], key[1]]);
  }

  /** Late mailbox copy of already stored messages (their live frames were dropped, §9.21). */
  mailboxCopy(
    agents: readonly string[],
    seqs: readonly number[],
    now: number,
  ): { stored: number; dropped: Record<string, number> } {
    let stored = 0;
    const dropped: Record<string, number> = {};
    for (const seq of seqs) {
      const rec = this.db.history.get(seq) as StoredMsg | undefined;
      if (!rec) continue;
      // a channel post reaches a mailbox with payload.channel, as publish() stores it (§4)
      const msg = rec.channel === undefined ? rec : { ...rec, payload: { ...rec.payload, channel: rec.channel } };
      for (const [a, n] of Object.entries(this.mailboxAll(agents, msg, now) ?? {})) dropped[a] = (dropped[a] ?? 0) + n;
      stored += agents.length;
    }
    return { stored, dropped };
  }

  /** Entries with seq > since, ascending. `last_seq` is the highest returned, else `since`. */
  poll(agent: string, since: number, limit = Number.MAX_SAFE_INTEGER): { messages: StoredMsg[]; last_seq: number } {
    const messages: StoredMsg[] = [];
    for (const { value } of this.db.mailbox.getRange({
      start: [agent, since + 1],
      end: [agent, Number.MAX_SAFE_INTEGER],
      limit,
    })) {
      messages.push((value as MailboxRec).msg);
    }
    const last = messages.length ? messages[messages.length - 1].seq : since;
    return { messages, last_seq: last };
  }

  /** Deletes the agent's entries with seq ≤ upTo. */
  ack(agent: string, upTo: number): number {
    let n = 0;
    for (const { key, value } of all(this.db.mailbox.getRange({ start: [agent, 0], end: [agent, upTo + 1] }))) {
      this.mailboxRemove(key as [string, number], (value as MailboxRec).stored_at);
      n++;
    }
    if (n) {
      const left = ((this.db.mailboxCount.get(agent) as number | undefined) ?? n) - n;
      if (left > 0) this.db.mailboxCount.putSync(agent, left);
      else this.db.mailboxCount.removeSync(agent);
    }
    return n;
  }

  /** Drops entries stored before now − ttl. */
  sweepMailbox(now: number, ttlMs: number): number {
    let n = 0;
    const touched = new Map<string, number>();
    for (const { key } of all(this.db.mailboxTime.getRange({ end: [now - ttlMs] }))) {
      const [at, agent, seq] = key as [number, string, number];
      this.mailboxRemove([agent, seq], at);
      touched.set(agent, (touched.get(agent) ?? 0) + 1);
      n++;
    }
    for (const [agent, k] of touched) {
      const left = ((this.db.mailboxCount.get(agent) as number | undefined) ?? k) - k;
      if (left > 0) this.db.mailboxCount.putSync(agent, left);
      else this.db.mailboxCount.removeSync(agent);
    }
    return n;
  }

  /** Global history, filters ANDed, cursor exclusive, ascending (§4 History). */
  history(q: HistoryQuery): { messages: StoredMsg[]; cursor: number } {
    const limit = Math.min(Math.max(q.limit ?? 50, 1), 200);
    const messages: StoredMsg[] = [];
    for (const { value } of this.db.history.getRange({ start: (q.cursor ?? 0) + 1 })) {
      const m = value as StoredMsg;
      if (q.from !== undefined && m.from !== q.from) continue;
      if (q.to !== undefined && m.to !== q.to) continue;
      if (q.channel !== undefined && (m.channel ?? m.payload.channel) !== q.channel) continue;
      if (q.start_time !== undefined && m.timestamp < q.start_time) continue;
      if (q.end_time !== undefined && m.timestamp > q.end_time) continue;
      messages.push(m);
      if (messages.length >= limit) break;
    }
    const cursor = messages.length ? messages[messages.length - 1].seq : (q.cursor ?? 0);
    return { messages, cursor };
  }

  /** A message still in global history, by id. */
  private fromHistory(id: string): Msg | undefined {
    const seq = seqOfMessageId(id);
    const rec = seq === undefined ? undefined : (this.db.history.get(seq) as StoredMsg | undefined);
    if (rec?.id !== id) return undefined;
    const { seq: _s, ...msg } = rec;
    return msg;
  }
}
