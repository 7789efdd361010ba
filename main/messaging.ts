import type { Msg, NewMsg, StoredMsg } from '../shared/schemas/records.js';
import { type Connection, encodeOnce } from './connection.js';
import type { Hub } from './context.js';

export interface SendInput {
  to?: string | null;
  payload: Record<string, unknown>;
  type?: string | null;
  reply_to?: string | null;
  idempotency_key?: string | null;
}

export interface SendReply {
  id: string;
  seq: number;
}

/** The `message` frame an agent receives; mailbox deliveries carry their `seq` (§9.21). */
export function messageFrame(m: Msg | StoredMsg, seq?: number): Record<string, unknown> {
  const frame: Record<string, unknown> = {
    type: 'message',
    id: m.id,
    from: m.from,
    message_type: m.type,
    payload: m.payload,
    reply_to: m.reply_to,
    timestamp: m.timestamp,
  };
  if (m.channel !== undefined) frame.channel = m.channel;
  if (seq !== undefined) frame.seq = seq;
  return frame;
}

/**
 * Direct or broadcast send, shared by WS and HTTP. The write (history,
 * threads, mailbox copies for agents without a socket) commits and flushes
 * first; then live frames go out; a live frame dropped for a slow consumer is
 * copied to that mailbox before the sender's ack (§9.20–9.21).
 */
export async function sendMessage(hub: Hub, from: string, input: SendInput): Promise<SendReply> {
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
  let mailboxFor: string[];
  // who was online when the copies were decided: each gets the live frame, or a late copy if it left meanwhile
  let liveFor: string[];
  if (broadcast) {
    mailboxFor = [];
    liveFor = [];
    for (const a of hub.tokens.agents()) if (a !== from && !hub.conns.online(a)) mailboxFor.push(a);
    for (const a of hub.conns.agentIds()) liveFor.push(a);
  } else {
    const online = hub.conns.online(draft.to as string) !== undefined;
    mailboxFor = online ? [] : [draft.to as string];
    liveFor = online ? [draft.to as string] : [];
  }
  const idem = input.idempotency_key ? { agent: from, key: input.idempotency_key } : null;
  const res = await hub.messaging.call('send', { msg: draft, mailboxFor, idem });
  if ('replay' in res) return res.replay as SendReply;
  const msg: Msg = { id: res.id, ...draft };

  hub.analytics.sent(from, now);
  const mailboxed = new Set(res.mailboxed);
  const live = broadcast ? encodeOnce(messageFrame(msg)) : JSON.stringify(messageFrame(msg));
  const late: string[] = [];
  const seen = new Set(liveFor);
  // agents that identified while the write was in flight got a mailbox copy; send it live too if they want no replay
  for (const agent of mailboxed) {
    const c = hub.conns.online(agent);
    if (c && c.replayFrom === null) hub.conns.deliver(c, JSON.stringify(messageFrame(msg, res.seq)));
  }
  for (const agent of liveFor) {
    const c = hub.conns.online(agent);
    if (c && hub.conns.deliver(c, live, res.seq)) hub.analytics.received(agent, now);
    else if (agent !== from || !broadcast) late.push(agent);
  }
  // a socket that was not online at the decision (and not mailboxed) may still want the broadcast
  if (broadcast) {
    for (const c of hub.conns.agents()) {
      const agent = c.agentId as string;
      if (!seen.has(agent) && !mailboxed.has(agent) && hub.conns.deliver(c, live, res.seq))
        hub.analytics.received(agent, now);
    }
  }
  if (late.length) {
    hub.counters.liveDropped += late.length;
    await hub.messaging.call('mailboxCopy', { agents: late, seqs: [res.seq] });
  }
  if (res.dropped) hub.counters.mailboxDropped += res.dropped;
  return { id: res.id, seq: res.seq };
}

/** Sends the agent's mailbox after `since`, in order, before any live frame (§9.21). */
export async function replayMailbox(hub: Hub, conn: Connection, since: number): Promise<void> {
  conn.beginReplay();
  try {
    let cursor = since;
    for (;;) {
      const page = await hub.messaging.call('poll', {
        agent: conn.agentId as string,
        since: cursor,
        limit: REPLAY_PAGE,
      });
      for (const m of page.messages) {
        if (conn.closing) return;
        await conn.sendPaced(JSON.stringify(messageFrame(m, m.seq)));
      }
      if (page.messages.length < REPLAY_PAGE) return;
      cursor = page.last_seq;
    }
  } finally {
    conn.endReplay();
  }
}

const REPLAY_PAGE = 500;
