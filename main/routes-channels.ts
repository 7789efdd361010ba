import { ErrorCode, HubError } from '../shared/errors.js';
import type { HttpBody } from '../shared/schemas/http.js';
import { publish, subscribe, unsubscribe } from './channels.js';
import { type Ctx, idempotencyKey, query, type Route } from './http-server.js';

/** `:ch` normalised and validated like every channel name (§4, §9.5); 404 when it does not exist. */
function channelOf(ctx: Ctx, mustExist = true): string {
  const parsed = ctx.hub.validator.body('channelPath', { channel: ctx.params.ch });
  if (!parsed.ok) throw new HubError(ErrorCode.validationFailed, { errors: parsed.errors });
  const ch = parsed.value.channel;
  if (mustExist && !ctx.hub.channels.has(ch)) throw new HubError(ErrorCode.channelNotFound, { channel: ch });
  return ch;
}

export const channelRoutes: Route[] = [
  {
    method: 'GET',
    path: '/api/channels',
    auth: 'none',
    handler: async (ctx) => {
      const page = await ctx.hub.channelsDomain.call('list', query(ctx, 'pageQuery'));
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
      const parsed = ctx.hub.validator.body('channelPath', { channel: b.name });
      if (!parsed.ok) {
        const errors = parsed.errors.map((e) => ({ ...e, field: 'name' }));
        throw new HubError(ErrorCode.validationFailed, { errors });
      }
      const name = parsed.value.channel;
      await ctx.hub.channelsDomain.call('create', { name, description: b.description ?? '', by: ctx.agent });
      ctx.hub.channels.created(name);
      ctx.hub.log.info({ channel: name, agent_id: ctx.agent }, 'channel created');
      return { status: 201, body: { status: 'created', channel: b.name } };
    },
  },
  {
    method: 'GET',
    path: '/api/channels/:ch',
    auth: 'none',
    handler: async (ctx) => ({ body: await ctx.hub.channelsDomain.call('get', { name: channelOf(ctx) }) }),
  },
  {
    method: 'POST',
    path: '/api/channels/:ch/subscribe',
    auth: 'auth',
    handler: async (ctx) => {
      const channel = channelOf(ctx);
      const added = await subscribe(ctx.hub, ctx.agent, channel);
      return { body: added ? { status: 'subscribed', channel } : { status: 'already_subscribed', channel } };
    },
  },
  {
    method: 'POST',
    path: '/api/channels/:ch/unsubscribe',
    auth: 'auth',
    handler: async (ctx) => {
      const channel = channelOf(ctx);
      await unsubscribe(ctx.hub, ctx.agent, channel);
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
      const r = await publish(ctx.hub, ctx.agent, channelOf(ctx), { ...b, idempotency_key: key });
      return { body: { status: 'published', seq: r.seq, id: r.id } };
    },
  },
  {
    method: 'GET',
    path: '/api/channels/:ch/history',
    auth: 'none',
    handler: async (ctx) => {
      const channel = channelOf(ctx);
      const q = query(ctx, 'channelHistoryQuery');
      const limit = Math.min(q.limit ?? 50, ctx.hub.config.channelHistoryPerChannel);
      const messages = await ctx.hub.messaging.call('channelHistory', { channel, limit, since: q.since ?? 0 });
      return { body: { channel, messages, count: messages.length } };
    },
  },
  {
    method: 'GET',
    path: '/api/agents/:id/subscriptions',
    auth: 'none',
    handler: ({ hub, params }) => ({ body: { agent_id: params.id, channels: hub.channels.of(params.id) } }),
  },
];
