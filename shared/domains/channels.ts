import type { ChannelSummary } from '../schemas/hub-frames.js';
import type { ChannelRec } from '../schemas/records.js';
import type { Page, PageArgs } from './domain.js';

export type { ChannelRec };

/** The channels domain (§9.22): channel metadata and subscriptions. */
export interface ChannelsApi {
  create(a: { name: string; description: string; by: string }): ChannelRec;
  get(a: { name: string }): ChannelRec & { subscribers: string[]; subscriber_count: number };
  list(a: PageArgs): Page<ChannelSummary>;
  subscribe(a: { name: string; agent: string }): boolean;
  unsubscribe(a: { name: string; agent: string }): boolean;
  subscriptionsOf(a: { agent: string }): string[];
  /** every channel with its subscribers: main's fan-out copy */
  snapshot(a: Record<string, never>): Array<[string, string[]]>;
  health(a: Record<string, never>): { counts: Record<string, number> };
}
