import type { ChannelsApi } from '../shared/domains/channels.js';
import type { Domain } from '../shared/domains/domain.js';
import type { MessagingApi, PublishReply } from '../shared/domains/messaging.js';
import { ErrorCode, HubError } from '../shared/errors.js';
import type { NewMsg } from '../shared/schemas/records.js';
import type { Analytics } from './analytics.js';
import type { Fanout } from './fanout.js';
import type { Fleet } from './fleet.js';
import type { Logger } from './log.js';
import { encodeOnce } from './ws/connection.js';

/**
 * Main's copy of the channels domain's subscriber sets (§9.22), for fan-out
 * without a thread hop. Updated only after the channels worker commits.
 */
export class ChannelDirectory {
  private readonly subs = new Map<string, Set<string>>();
  /** told when a channel is created or its subscribers change (the live dashboard) */
  onChange: ((name: string) => void) | null = null;

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
    this.onChange?.(name);
  }

  subscribers(name: string): ReadonlySet<string> {
    return this.subs.get(name) ?? new Set();
  }

  subscribe(name: string, agent: string): void {
    this.subs.get(name)?.add(agent);
    this.onChange?.(name);
  }

  unsubscribe(name: string, agent: string): void {
    this.subs.get(name)?.delete(agent);
    this.onChange?.(name);
  }

  /** Channels and their subscriber counts, in name order, at most `max`. */
  summary(max: number): Array<{ name: string; subscriber_count: number }> {
    return [...this.subs]
      .map(([name, s]) => ({ name, subscriber_count: s.size }))
      .sort((a, b) => (a.name < b.name ? -1 : 1))
      .slice(0, max);
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

export interface ChannelDeps {
  channelsDomain: Domain<ChannelsApi>;
  messaging: Domain<MessagingApi>;
  directory: ChannelDirectory;
  fleet: Fleet;
  fanout: Fanout;
  analytics: Analytics;
  log: Logger;
  /** a history read returns at most this many entries */
  historyMax: number;
}

/** Channels as WS and HTTP use them: create, subscribe, unsubscribe, publish, history. */
export class Channels {
  constructor(private readonly d: ChannelDeps) {}

  get directory(): ChannelDirectory {
    return this.d.directory;
  }

  /** `name` is normalised and valid; 409 channel_exists on a repeat. */
  async create(name: string, description: string, by: string): Promise<void> {
    await this.d.channelsDomain.call('create', { name, description, by });
    this.d.directory.created(name);
    this.d.log.info({ channel: name, agent_id: by }, 'channel created');
  }

  mustExist(channel: string): void {
    if (!this.d.directory.has(channel)) throw new HubError(ErrorCode.channelNotFound, { channel });
  }

  /** The channel's history after `since`, at most `limit` (50 by default, never over historyMax). */
  history(channel: string, limit?: number | null, since?: number | null) {
    this.mustExist(channel);
    const n = Math.min(limit ?? 50, this.d.historyMax);
    return this.d.messaging.call('channelHistory', { channel, limit: n, since: since ?? 0 });
  }

  /**
   * One batch to messaging: a channel-history record (also in global history)
   * and mailbox copies for subscribers without a socket; then the fan-out
   * sends one encoded `channel_message` to every following socket but the
   * sender's, and copies what a slow subscriber missed before the ack.
   */
  async publish(from: string, channel: string, input: PublishInput): Promise<PublishReply> {
    this.mustExist(channel);
    const { directory, fleet } = this.d;
    const now = Date.now();
    const subs = directory.subscribers(channel);
    const mailboxFor: string[] = [];
    for (const a of subs) if (a !== from && !fleet.isOnline(a)) mailboxFor.push(a);
    const msg: NewMsg = {
      from,
      to: null,
      type: input.type ?? 'chat',
      payload: input.payload,
      reply_to: input.reply_to ?? null,
      timestamp: now,
    };
    const idem = input.idempotency_key ? { agent: from, key: input.idempotency_key } : null;
    const res = await this.d.messaging.call('publish', { channel, msg, mailboxFor, idem });
    if ('replay' in res) return res.replay;
    this.d.analytics.sent(from, now);
    const frame = {
      type: 'channel_message' as const,
      channel,
      id: res.id,
      from,
      message_type: msg.type,
      payload: msg.payload,
      reply_to: msg.reply_to,
      timestamp: now,
      seq: res.channelSeq,
    };
    await this.d.fanout.channel(frame, { seq: res.seq, mailboxed: mailboxFor, dropped: res.dropped }, subs);
    return { channel, seq: res.channelSeq, id: res.id };
  }

  /** False when already subscribed. An HTTP subscribe reaches the agent's open socket at once (§9.7). */
  async subscribe(agent: string, channel: string): Promise<boolean> {
    this.mustExist(channel);
    const added = await this.d.channelsDomain.call('subscribe', { name: channel, agent });
    this.d.directory.subscribe(channel, agent);
    if (added) {
      const text = encodeOnce({ type: 'channel_agent_joined', channel, agent_id: agent });
      for (const a of this.d.directory.subscribers(channel)) if (a !== agent) this.d.fleet.deliver(a, text);
    }
    return added;
  }

  async unsubscribe(agent: string, channel: string): Promise<void> {
    this.mustExist(channel);
    await this.d.channelsDomain.call('unsubscribe', { name: channel, agent });
    this.d.directory.unsubscribe(channel, agent);
  }
}
