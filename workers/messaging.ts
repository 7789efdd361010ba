import { workerData } from 'piscina';
import { seqMarkFile } from '../shared/data-layout.js';
import type { NewMsg } from '../shared/schemas/records.js';
import { openDomainEnv } from '../storage/env.js';
import { type HistoryQuery, MESSAGING_DBS, type MessagingCaps, MessagingStore } from '../storage/messaging.js';
import { SeqReservation } from '../storage/seq-mark.js';
import { batchHandler } from './runtime.js';

const { dataDir, caps } = workerData as { dataDir: string; caps: MessagingCaps };
const seqs = new SeqReservation(seqMarkFile(dataDir));
/** Opens the environment and its store; called again after a swap, carrying on from the last seq handed out. */
const open = (prev?: MessagingStore) => {
  const env = openDomainEnv(dataDir, 'messaging', MESSAGING_DBS);
  return { root: env.root, path: env.path, store: new MessagingStore(env, caps, seqs, prev?.lastSeq()) };
};

type Idem = { agent: string; key: string } | null;

/** What a retry must repeat to count as the same request: everything but the time it was sent. */
const asked = (msg: NewMsg, channel?: string) => ({
  channel,
  to: msg.to,
  type: msg.type,
  payload: msg.payload,
  reply_to: msg.reply_to,
});

export const ops = {
  send: (s: MessagingStore, a: { msg: NewMsg; mailboxFor: string[]; idem: Idem }, now: number) =>
    s.idem.once(
      a.idem,
      asked(a.msg),
      now,
      () => s.send(a.msg, a.mailboxFor, now),
      (r) => ({ id: r.id, seq: r.seq }),
    ),
  publish: (s: MessagingStore, a: { channel: string; msg: NewMsg; mailboxFor: string[]; idem: Idem }, now: number) =>
    s.idem.once(
      a.idem,
      asked(a.msg, a.channel),
      now,
      () => s.publish(a.channel, a.msg, a.mailboxFor, now),
      (r) => ({ channel: a.channel, seq: r.channelSeq, id: r.id }),
    ),
  mailboxCopy: (s: MessagingStore, a: { agents: string[]; seqs: number[] }, now: number) =>
    s.mailboxCopy(a.agents, a.seqs, now),
  poll: (s: MessagingStore, a: { agent: string; since: number; limit?: number }) => s.poll(a.agent, a.since, a.limit),
  ack: (s: MessagingStore, a: { agent: string; seq: number }) => s.ack(a.agent, a.seq),
  sweep: (s: MessagingStore, a: { ttlMs: number }, now: number) => ({
    mailbox: s.sweepMailbox(now, a.ttlMs),
    idempotency: s.idem.sweep(now),
  }),
  history: (s: MessagingStore, a: HistoryQuery) => s.history(a),
  channelHistory: (s: MessagingStore, a: { channel: string; limit: number; since: number }) =>
    s.channels.list(a.channel, a.limit, a.since),
  thread: (s: MessagingStore, a: { id: string }) => s.threads.thread(a.id),
  replies: (s: MessagingStore, a: { id: string }) => s.threads.replies(a.id),
  root: (s: MessagingStore, a: { id: string }) => s.threads.rootOf(a.id),
  mailboxHead: (s: MessagingStore, a: { agent: string }) => s.mailboxHead(a.agent),
  health: (s: MessagingStore) => ({ counts: s.counts(), last_seq: s.lastSeq() }),
};

export type MessagingOps = typeof ops;
export default batchHandler(open, ops, {
  domain: 'messaging',
  names: MESSAGING_DBS,
  endBatch: (s) => s.endBatch(),
  closed: (s) => seqs.close(s.lastSeq()),
  aborted: (s) => s.recount(),
});
