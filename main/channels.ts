import { ErrorCode, HubError } from '../shared/errors.js';
import type { NewMsg } from '../shared/schemas/records.js';
import { encodeOnce } from './connection.js';
import type { Hub } from './context.js';
import { noteMailboxDrops } from './messaging.js';

/**
 * Main's copy of the channels domain's subscriber sets (§9.22), for fan-out
 * without a thread hop. Updated only after the channels worker commits.
 */
export class ChannelDirectory {
  private readonly subs = new Map<string, Set<string>>();

  /** Replaces the copy with the channels domain's (at start, and after a restore). */
  load(snapshot: Array<[string, string[]]>): void {
    this.subs.clear();
    for (const [name, agents] of snapshot) this.subs.set(name, new Set(agents));
  }

  has(name: string): boolean {
    return this.subs.has(name);
  }

  created(name: string): void {
    if (!this.subs.has(name)) this.subs.set(name, new Set());
  }

  subscribers(name: string): ReadonlySet<string> {
    return this.subs.get(name) ?? new Set();
  }

  subscribe(name: string, agent: string): void {
    this.subs.get(name)?.add(agent);
  }

  unsubscribe(name: string, agent: string): void {
    this.subs.get(name)?.delete(agent);
  }

  of(agent: string): string[] {
    return [...this.subs].filter(([, s]) => s.has(agent)).map(([n]) => n);
  }
}

export interface PublishInput {
  payload: Record<string, unknown>;
  type?: string | null;
  reply_to?: string | null;
  idempotency_key?: string | null;
}

export interface PublishReply {
  channel: string;
  seq: number;
  id: string;
}

/**
 * One batch to messaging: a channel-history record (also in global history)
 * and mailbox copies for subscribers without a socket. Then one encoded
 * `channel_message` goes to every following socket but the sender's; a frame
 * dropped for a slow subscriber lands in its mailbox before the ack.
 */
export async function publish(hub: Hub, from: string, channel: string, input: PublishInput): Promise<PublishReply> {
  if (!hub.channels.has(channel)) throw new HubError(ErrorCode.channelNotFound, { channel });
  const now = Date.now();
  const subs = hub.channels.subscribers(channel);
  const mailboxFor: string[] = [];
  for (const a of subs) if (a !== from && !hub.conns.online(a)) mailboxFor.push(a);
  const msg: NewMsg = {
    from,
    to: null,
    type: input.type ?? 'chat',
    payload: input.payload,
    reply_to: input.reply_to ?? null,
    timestamp: now,
  };
  const idem = input.idempotency_key ? { agent: from, key: input.idempotency_key } : null;
  const res = await hub.messaging.call('publish', { channel, msg, mailboxFor, idem });
  if ('replay' in res) return res.replay as PublishReply;
  hub.analytics.sent(from, now);
  const mailboxed = new Set(res.mailboxed);
  const frame = encodeOnce({
    type: 'channel_message',
    channel,
    id: res.id,
    from,
    message_type: msg.type,
    payload: msg.payload,
    reply_to: msg.reply_to,
    timestamp: now,
    seq: res.channelSeq,
  });
  const late: string[] = [];
  for (const agent of subs) {
    if (agent === from || mailboxed.has(agent)) continue;
    const c = hub.conns.online(agent);
    if (!c) late.push(agent);
    else if (hub.conns.deliver(c, frame, res.seq)) hub.analytics.received(agent, now);
    else late.push(agent);
  }
  if (late.length) {
    hub.counters.liveDropped += late.length;
    const copy = await hub.messaging.call('mailboxCopy', { agents: late, seqs: [res.seq] });
    noteMailboxDrops(hub, copy.dropped);
  }
  noteMailboxDrops(hub, res.dropped);
  return { channel, seq: res.channelSeq, id: res.id };
}

export async function subscribe(hub: Hub, agent: string, channel: string): Promise<boolean> {
  const added = await hub.channelsDomain.call('subscribe', { name: channel, agent });
  hub.channels.subscribe(channel, agent);
  if (added) {
    const text = encodeOnce({ type: 'channel_agent_joined', channel, agent_id: agent });
    for (const a of hub.channels.subscribers(channel)) {
      const c = a === agent ? undefined : hub.conns.online(a);
      if (c) hub.conns.deliver(c, text);
    }
  }
  return added;
}

export async function unsubscribe(hub: Hub, agent: string, channel: string): Promise<void> {
  await hub.channelsDomain.call('unsubscribe', { name: channel, agent });
  hub.channels.unsubscribe(channel, agent);
}
