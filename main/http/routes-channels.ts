import type { ChannelsApi } from '../../shared/domains/channels.js';
import type { Domain } from '../../shared/domains/domain.js';
import { ErrorCode, HubError } from '../../shared/errors.js';
import type { HttpBody } from '../../shared/schemas/http.js';
import type { Channels } from '../channels.js';
import type { Validator } from '../validation.js';
import { type Ctx, idempotencyKey, type Route } from './router.js';

export interface ChannelRouteDeps {
  channels: Channels;
  channelsDomain: Domain<ChannelsApi>;
  validator: Validator;
}

/** A channel name normalised and validated like every channel name (§4, §9.5); 422 naming `field`. */
function channelName(d: ChannelRouteDeps, name: string, field: string): string {
  const parsed = d.validator.body('channelPath', { channel: name });
  if (!parsed.ok) {
    throw new HubError(ErrorCode.validationFailed, { errors: parsed.errors.map((e) => ({ ...e, field })) });
  }
  return parsed.value.channel;
}

/** `:ch` as a channel that exists; 404 channel_not_found otherwise. */
function channelOf(d: ChannelRouteDeps, ctx: Ctx): string {
  const ch = channelName(d, ctx.params.ch, 'channel');
  d.channels.mustExist(ch);
  return ch;
}

export const channelRoutes = (d: ChannelRouteDeps): Route[] => [
  {
    method: 'GET',
    path: '/api/channels',
    auth: 'none',
    handler: async (ctx) => {
      const page = await d.channelsDomain.call('list', ctx.parse('pageQuery'));
      return { body: { channels: page.items, cursor: page.cursor } };
    },
  },
  {
    method: 'POST',
    path: '/api/channels',
    auth: 'auth',
    action: 'channel_create',
    body: 'createChannel',
    handler: async (ctx) => {
      const b = ctx.body as HttpBody<'createChannel'>;
      await d.channels.create(channelName(d, b.name, 'name'), b.description ?? '', ctx.agent);
      return { status: 201, body: { status: 'created', channel: b.name } };
    },
  },
  {
    method: 'GET',
    path: '/api/channels/:ch',
    auth: 'none',
    handler: async (ctx) => ({ body: await d.channelsDomain.call('get', { name: channelOf(d, ctx) }) }),
  },
  {
    method: 'POST',
    path: '/api/channels/:ch/subscribe',
    auth: 'auth',
    handler: async (ctx) => {
      const channel = channelOf(d, ctx);
      const added = await d.channels.subscribe(ctx.agent, channel);
      return { body: added ? { status: 'subscribed', channel } : { status: 'already_subscribed', channel } };
    },
  },
  {
    method: 'POST',
    path: '/api/channels/:ch/unsubscribe',
    auth: 'auth',
    handler: async (ctx) => {
      const channel = channelOf(d, ctx);
      await d.channels.unsubscribe(ctx.agent, channel);
      return { body: { status: 'unsubscribed', channel } };
    },
  },
  {
    method: 'POST',
    path: '/api/channels/:ch/publish',
    auth: 'auth',
    action: 'channel_publish',
    body: 'channelPublish',
    handler: async (ctx) => {
      const b = ctx.body as HttpBody<'channelPublish'>;
      const key = idempotencyKey(ctx, b.idempotency_key);
      const r = await d.channels.publish(ctx.agent, channelOf(d, ctx), { ...b, idempotency_key: key });
      return { body: { status: 'published', seq: r.seq, id: r.id } };
    },
  },
  {
    method: 'GET',
    path: '/api/channels/:ch/history',
    auth: 'none',
    handler: async (ctx) => {
      const channel = channelOf(d, ctx);
      const q = ctx.parse('channelHistoryQuery');
      const messages = await d.channels.history(channel, q.limit, q.since);
      return { body: { channel, messages, count: messages.length } };
    },
  },
  {
    method: 'GET',
    path: '/api/agents/:id/subscriptions',
    auth: 'none',
    handler: ({ params }) => ({ body: { agent_id: params.id, channels: d.channels.directory.of(params.id) } }),
  },
];
