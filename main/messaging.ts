import type { Domain, Done } from '../shared/domains/domain.js';
import type { MessagingApi, SendReply } from '../shared/domains/messaging.js';
import type { NewMsg } from '../shared/schemas/records.js';
import type { Analytics } from './analytics.js';
import type { Fanout } from './fanout.js';
import type { Fleet } from './fleet.js';

export interface SendInput {
  to?: string | null;
  payload: Record<string, unknown>;
  type?: string | null;
  reply_to?: string | null;
  idempotency_key?: string | null;
}

export interface SendDeps {
  messaging: Domain<MessagingApi>;
  fleet: Fleet;
  fanout: Fanout;
  analytics: Analytics;
  /** agents holding a token: the broadcast mailbox audience (§9.12) */
  tokenHolders: () => Iterable<string>;
}

/**
 * Direct or broadcast send, shared by WS and HTTP. The write (history,
 * threads, mailbox copies for agents without a socket, and for agents that
 * identified with `delivery: "acked"`) commits and flushes first; then the
 * fan-out delivers, with late mailbox copies before the sender's ack
 * (§9.20–9.21, §9.32).
 */
export function sendMessage(d: SendDeps, from: string, input: SendInput, done: Done<SendReply>): void {
  const now = Date.now();
  const broadcast = !input.to || input.to === 'broadcast';
  const draft: NewMsg = {
    from,
    to: broadcast ? null : (input.to as string),
    type: input.type ?? 'chat',
    payload: input.payload,
    reply_to: input.reply_to ?? null,
    timestamp: now,
  };
  const keeps = (agent: string) => d.fleet.deliveryOf(agent) !== 'live';
  const mailboxFor: string[] = [];
  // who was online when the copies were decided: each gets the live frame, or a late copy if it left meanwhile
  let liveFor: string[];
  if (broadcast) {
    for (const a of d.tokenHolders()) if (a !== from && keeps(a)) mailboxFor.push(a);
    liveFor = [...d.fleet.agentIds()];
  } else {
    const to = draft.to as string;
    if (keeps(to)) mailboxFor.push(to);
    liveFor = d.fleet.isOnline(to) ? [to] : [];
  }
  const idem = input.idempotency_key ? { agent: from, key: input.idempotency_key } : null;
  d.messaging.submit('send', { msg: draft, mailboxFor, idem }, (err, res) => {
    if (err || !res) return done(err);
    if ('replay' in res) return done(null, res.replay);
    d.analytics.sent(from, now);
    const reply = { id: res.id, seq: res.seq };
    let late: Promise<void> | undefined;
    try {
      late = d.fanout.message(
        { id: res.id, ...draft },
        { seq: res.seq, mailboxed: mailboxFor, dropped: res.dropped },
        liveFor,
      );
    } catch (e) {
      return done(e as Error);
    }
    if (!late) return done(null, reply);
    late.then(
      () => done(null, reply),
      (e: Error) => done(e),
    );
  });
}
