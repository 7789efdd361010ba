import { workerData } from 'piscina';
import type { DomainWorkerData } from '../shared/batch.js';
import { seqMarkFile } from '../shared/data-layout.js';
import type { OpsFor } from '../shared/domains/domain.js';
import type { MessagingApi, MessagingCaps } from '../shared/domains/messaging.js';
import type { NewMsg } from '../shared/schemas/records.js';
import { openDomainEnv } from '../storage/env.js';
import { MESSAGING_DBS, MessagingStore } from '../storage/messaging.js';
import { SeqReservation } from '../storage/seq-mark.js';
import { batchHandler } from './batch-handler.js';

const { dataDir, caps } = workerData as DomainWorkerData<MessagingCaps>;
const seqs = new SeqReservation(seqMarkFile(dataDir));
/** Opens the environment and its store; called again after a swap, carrying on from the last seq handed out. */
const open = (prev?: MessagingStore) => {
  const env = openDomainEnv(dataDir, 'messaging', MESSAGING_DBS);
  return { root: env.root, path: env.path, store: new MessagingStore(env, caps, seqs, prev?.lastSeq()) };
};

/** What a retry must repeat to count as the same request: everything but the time it was sent. */
const asked = (msg: NewMsg, channel?: string) => ({
  channel,
  to: msg.to,
  type: msg.type,
  payload: msg.payload,
  reply_to: msg.reply_to,
});

export const ops: OpsFor<MessagingApi, MessagingStore> = {
  send: (s, a, now) =>
    s.idem.once(
      a.idem,
      asked(a.msg),
      now,
      () => s.send(a.msg, a.mailboxFor, now),
      (r) => ({ id: r.id, seq: r.seq }),
    ),
  publish: (s, a, now) =>
    s.idem.once(
      a.idem,
      asked(a.msg, a.channel),
      now,
      () => s.publish(a.channel, a.msg, a.mailboxFor, now),
      (r) => ({ channel: a.channel, seq: r.channelSeq, id: r.id }),
    ),
  mailboxCopy: (s, a, now) => s.mailboxCopy(a.agents, a.seqs, now),
  poll: (s, a) => s.poll(a.agent, a.since, a.limit),
  ack: (s, a) => s.ack(a.agent, a.seq),
  sweep: (s, a, now) => ({
    mailbox: s.sweepMailbox(now, a.ttlMs),
    idempotency: s.idem.sweep(now),
  }),
  history: (s, a) => s.history(a),
  channelHistory: (s, a) => s.channels.list(a.channel, a.limit, a.since),
  thread: (s, a) => s.threads.thread(a.id),
  replies: (s, a) => s.threads.replies(a.id),
  root: (s, a) => s.threads.rootOf(a.id),
  mailboxHead: (s, a) => s.mailboxHead(a.agent),
  health: (s) => ({ counts: s.counts(), last_seq: s.lastSeq() }),
};

export default batchHandler(open, ops, {
  names: MESSAGING_DBS,
  endBatch: (s) => s.endBatch(),
  closed: (s) => seqs.close(s.lastSeq()),
  aborted: (s) => s.recount(),
});
