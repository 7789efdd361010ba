import type { HubFrame } from '../shared/schemas/hub-frames.js';
import type { Msg, NewMsg, StoredMsg } from '../shared/schemas/records.js';
import { type Connection, encodeOnce, type Frame } from './connection.js';
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
export function messageFrame(m: Msg | StoredMsg, seq?: number): HubFrame<'message'> {
  const frame: HubFrame<'message'> = {
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
 * threads, mailbox copies for agents without a socket, and for agents that
 * identified with `delivery: "acked"`) commits and flushes first; then live
 * frames go out, with `seq` to every recipient holding a mailbox copy; a live
 * frame dropped for a slow consumer is copied to that mailbox before the
 * sender's ack (§9.20–9.21, §9.32).
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
  const keeps = (agent: string) => {
    const c = hub.conns.online(agent);
    return !c || c.delivery === 'acked';
  };
  const mailboxFor: string[] = [];
  // who was online when the copies were decided: each gets the live frame, or a late copy if it left meanwhile
  let liveFor: string[];
  if (broadcast) {
    for (const a of hub.tokens.agents()) if (a !== from && keeps(a)) mailboxFor.push(a);
    liveFor = [...hub.conns.agentIds()];
  } else {
    const to = draft.to as string;
    if (keeps(to)) mailboxFor.push(to);
    liveFor = hub.conns.online(to) ? [to] : [];
  }
  const idem = input.idempotency_key ? { agent: from, key: input.idempotency_key } : null;
  const res = await hub.messaging.call('send', { msg: draft, mailboxFor, idem });
  if ('replay' in res) return res.replay as SendReply;
  const msg: Msg = { id: res.id, ...draft };

  hub.analytics.sent(from, now);
  const mailboxed = new Set(res.mailboxed);
  // encoded once per variant: recipients holding a mailbox copy get `seq` (to ack it), the others the original's frame
  const encoded: Partial<Record<'plain' | 'withSeq', Frame>> = {};
  const frame = (boxed: boolean): Frame => {
    const variant = boxed ? 'withSeq' : 'plain';
    encoded[variant] ??= encodeOnce(messageFrame(msg, boxed ? res.seq : undefined));
    return encoded[variant];
  };
  const late: string[] = [];
  const expected = new Set(liveFor);
  // the recipients now: those online at the decision, those with a copy (a socket may have identified meanwhile),
  // and for a broadcast every socket identified by now
  const recipients = broadcast
    ? new Set([...liveFor, ...mailboxed, ...hub.conns.agentIds()])
    : new Set([draft.to as string]);
  for (const agent of recipients) {
    const boxed = mailboxed.has(agent);
    const c = hub.conns.online(agent);
    if (c && hub.conns.deliver(c, frame(boxed), res.seq)) hub.analytics.received(agent, now);
    else if (!boxed && (c || expected.has(agent)) && !(broadcast && agent === from)) late.push(agent);
  }
  if (late.length) {
    hub.counters.liveDropped += late.length;
    const copy = await hub.messaging.call('mailboxCopy', { agents: late, seqs: [res.seq] });
    noteMailboxDrops(hub, copy.dropped);
  }
  noteMailboxDrops(hub, res.dropped);
  return { id: res.id, seq: res.seq };
}

/** Mailbox-cap drops (§9.12): counted, and each agent whose mailbox overflows is logged once per minute. */
export function noteMailboxDrops(hub: Hub, dropped: Record<string, number>): void {
  const now = Date.now();
  for (const [agent, n] of Object.entries(dropped)) {
    hub.counters.mailboxDropped += n;
    const last = overflowLogged.get(agent) ?? 0;
    if (now - last < 60_000) continue;
    overflowLogged.set(agent, now);
    hub.log.warn(
      { agent_id: agent, dropped: n, mailbox_max: hub.config.mailboxMax },
      'mailbox full: oldest entries dropped',
    );
  }
}
const overflowLogged = new Map<string, number>();

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

/**
 * A socket held durable frames back (§9.20): once its send buffer is under
 * the cap again, they are pushed from its mailbox in seq order, ahead of
 * newer live frames, while it stays connected. Another hold during the push
 * arms the next one.
 */
export function catchUp(hub: Hub, conn: Connection): void {
  const socket = (conn.ws as unknown as { _socket?: { once(e: 'drain', f: () => void): void } })._socket;
  const attempt = () => {
    if (conn.closing || conn.heldFrom === null) {
      conn.catchingUp = false;
      return;
    }
    if (conn.ws.bufferedAmount > hub.config.sendBufferMax) {
      socket?.once('drain', attempt);
      return;
    }
    replayMailbox(hub, conn, conn.heldFrom - 1).then(
      () => {
        conn.catchingUp = false;
        if (conn.heldFrom !== null && !conn.closing) {
          conn.catchingUp = true;
          attempt();
        }
      },
      (err) => {
        conn.catchingUp = false;
        hub.log.error({ err, agent_id: conn.agentId }, 'pushing held mailbox entries failed');
      },
    );
  };
  attempt();
}
