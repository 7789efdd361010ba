import type { ChannelRec } from '../shared/domains/channels.js';
import type { Page } from '../shared/domains/domain.js';
import { ErrorCode, HubError } from '../shared/errors.js';
import type { ChannelSummary } from '../shared/schemas/hub-frames.js';
import { all, count, type Db, type DomainEnv, type PageArgs, readPage } from './env.js';

export const CHANNEL_DBS = ['channels', 'subs', 'subsByAgent'] as const;
export type ChannelDb = (typeof CHANNEL_DBS)[number];

/**
 * The channels domain: channel metadata and subscriptions (§9.22). Channel
 * messages are the messaging domain's; main keeps a copy of the subscriber
 * sets for fan-out, loaded from `snapshot` and updated after each commit.
 */
export class ChannelStore {
  private readonly db: Record<ChannelDb, Db>;

  constructor(env: DomainEnv<ChannelDb>) {
    this.db = env.dbs;
  }

  counts(): Record<string, number> {
    return { channels: count(this.db.channels), subscriptions: count(this.db.subs) };
  }

  create(name: string, description: string, by: string, now: number): ChannelRec {
    if (this.db.channels.doesExist(name)) throw new HubError(ErrorCode.channelExists, { channel: name });
    const rec: ChannelRec = { name, description, created_at: now, created_by: by };
    this.db.channels.putSync(name, rec);
    return rec;
  }

  private must(name: string): ChannelRec {
    const rec = this.db.channels.get(name) as ChannelRec | undefined;
    if (!rec) throw new HubError(ErrorCode.channelNotFound, { channel: name });
    return rec;
  }

  subscribers(name: string): string[] {
    return all(this.db.subs.getKeys({ start: [name], end: [name, '\uffff'] })).map((k) => (k as [string, string])[1]);
  }

  get(name: string) {
    const rec = this.must(name);
    const subscribers = this.subscribers(name);
    return { ...rec, subscribers, subscriber_count: subscribers.length };
  }

  /** A page of ChannelSummary rows by name. */
  list(page: PageArgs = {}): Page<ChannelSummary> {
    return readPage(this.db.channels, page, (_key, value) => {
      const rec = value as ChannelRec;
      return {
        name: rec.name,
        description: rec.description,
        subscriber_count: this.subscribers(rec.name).length,
        created_at: rec.created_at,
      };
    });
  }

  /** Returns false when the agent was already subscribed. */
  subscribe(name: string, agent: string, now: number): boolean {
    this.must(name);
    if (this.db.subs.doesExist([name, agent])) return false;
    this.db.subs.putSync([name, agent], now);
    this.db.subsByAgent.putSync([agent, name], now);
    return true;
  }

  unsubscribe(name: string, agent: string): boolean {
    this.must(name);
    this.db.subsByAgent.removeSync([agent, name]);
    return this.db.subs.removeSync([name, agent]);
  }

  subscriptionsOf(agent: string): string[] {
    return all(this.db.subsByAgent.getKeys({ start: [agent], end: [agent, '\uffff'] })).map(
      (k) => (k as [string, string])[1],
    );
  }

  /** Every channel with its subscribers: main's fan-out copy. */
  snapshot(): Array<[string, string[]]> {
    return all(this.db.channels.getKeys({})).map((name) => [name as string, this.subscribers(name as string)]);
  }
}
