import type { HistEntry, Msg, NewMsg, StoredMsg } from '../schemas/records.js';

/** The messaging domain (§9.22): history, threads, mailboxes, channel history. */
export interface MessagingCaps {
  historyMax: number;
  threadMax: number;
  mailboxMax: number;
  channelHistoryPerChannel: number;
  channelHistoryTotal: number;
  idempotencyTtlMs: number;
}

export type Idem = { agent: string; key: string } | null;

/**
 * Lean on purpose: it is cloned back to main once per message. The mailbox
 * copies went to the `mailboxFor` main sent.
 */
export interface SendResult {
  seq: number;
  id: string;
  /** per agent, how many of its oldest mailbox entries the cap dropped; absent when none */
  dropped?: Record<string, number>;
}

/** What a sender is answered: the same on a repeat of its idempotency key (§9.28). */
export interface SendReply {
  id: string;
  seq: number;
}
export interface PublishReply {
  channel: string;
  seq: number;
  id: string;
}

export interface HistoryQuery {
  from?: string;
  to?: string;
  channel?: string;
  start_time?: number;
  end_time?: number;
  cursor?: number;
  limit?: number;
}

export interface MessagingApi {
  send(a: { msg: NewMsg; mailboxFor: string[]; idem: Idem }): SendResult | { replay: SendReply };
  publish(a: {
    channel: string;
    msg: NewMsg;
    mailboxFor: string[];
    idem: Idem;
  }): (SendResult & { channelSeq: number }) | { replay: PublishReply };
  mailboxCopy(a: { agents: string[]; seqs: number[] }): { stored: number; dropped: Record<string, number> };
  poll(a: { agent: string; since: number; limit?: number }): { messages: StoredMsg[]; last_seq: number };
  ack(a: { agent: string; seq: number }): number;
  mailboxHead(a: { agent: string }): number | null;
  sweep(a: { ttlMs: number }): { mailbox: number; idempotency: number };
  history(a: HistoryQuery): { messages: StoredMsg[]; cursor: number };
  channelHistory(a: { channel: string; limit: number; since: number }): HistEntry[];
  thread(a: { id: string }): { root: string; messages: Msg[] };
  replies(a: { id: string }): Msg[];
  root(a: { id: string }): string;
  health(a: Record<string, never>): { counts: Record<string, number>; last_seq: number };
}
