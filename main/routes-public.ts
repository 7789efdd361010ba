import { ErrorCode, HubError } from '../shared/errors.js';
import type { HttpBody } from '../shared/schemas/http.js';
import { issueToken } from './auth.js';
import type { Ctx, Route } from './http-server.js';
import { idempotencyKey, query } from './http-server.js';
import { sendMessage } from './messaging.js';
import { channelRoutes } from './routes-channels.js';
import { taskRoutes } from './routes-tasks.js';

/** A poll returns at most this many entries; page with `since=last_seq` (a departure: the original returned all). */

const adminOnly = () => {
  throw new HubError(ErrorCode.adminPortOnly);
};

/** Config reads (§3.4); writes live on the admin port (§9.1). */
export const configReads: Route[] = [
  {
    method: 'GET',
    path: '/api/config/heartbeat-interval',
    auth: 'tok',
    handler: ({ hub }) => ({ body: { heartbeat_interval_ms: hub.settings.heartbeat_interval_ms } }),
  },
  {
    method: 'GET',
    path: '/api/config/mailbox-retention',
    auth: 'tok',
    handler: ({ hub }) => ({ body: { mailbox_ttl_ms: hub.settings.mailbox_ttl_ms } }),
  },
  {
    method: 'GET',
    path: '/api/config/default-repo',
    auth: 'none',
    handler: ({ hub }) => ({
      body: { default_repo: hub.settings.default_repo, configured: hub.settings.default_repo !== null },
    }),
  },
  {
    method: 'GET',
    path: '/api/config/alert-thresholds',
    auth: 'auth',
    handler: ({ hub }) => ({ body: hub.settings.alert_thresholds }),
  },
];

function agentState(ctx: Ctx, id: string) {
  const c = ctx.hub.conns.online(id);
  if (!c) return null;
  return {
    agent_id: id,
    name: c.name,
    fsm_state: ctx.hub.pipeline.stateOf(id),
    current_task_id: ctx.hub.pipeline.taskOf(id),
    capabilities: c.capabilities.map((name) => ({ name })),
    flags: ctx.hub.pipeline.flagsOf(id),
    connected_at: c.connectedAt,
  };
}

export const publicRoutes: Route[] = [
  {
    method: 'GET',
    path: '/health',
    auth: 'none',
    action: null,
    handler: ({ hub }) => ({ body: { status: 'ok', service: 'agent_com', agents_connected: hub.conns.count() } }),
  },
  {
    method: 'POST',
    path: '/api/onboard/register',
    auth: 'none',
    action: 'onboard',
    body: 'onboard',
    handler: async ({ hub, body }) => {
      const { agent_id } = body as HttpBody<'onboard'>;
      const token = await issueToken(hub, 'onboard', agent_id);
      const urls = hub.publicUrl();
      return {
        status: 201,
        body: {
          agent_id,
          token,
          hub_ws_url: urls.ws,
          hub_api_url: urls.api,
          default_repo: hub.settings.default_repo,
        },
      };
    },
  },
  {
    method: 'GET',
    path: '/api/agents',
    auth: 'none',
    handler: (ctx) => ({
      body: { agents: ctx.hub.conns.list().map((a) => ({ ...a, fsm_state: ctx.hub.pipeline.stateOf(a.agent_id) })) },
    }),
  },
  {
    method: 'GET',
    path: '/api/agents/states',
    auth: 'auth',
    handler: (ctx) => ({ body: { agents: ctx.hub.conns.agents().map((c) => agentState(ctx, c.agentId as string)) } }),
  },
  {
    method: 'GET',
    path: '/api/agents/:id/state',
    auth: 'auth',
    handler: (ctx) => {
      const s = agentState(ctx, ctx.params.id);
      if (!s) throw new HubError(ErrorCode.agentNotFound);
      return { body: { ...s, last_state_change: ctx.hub.pipeline.sinceOf(ctx.params.id) } };
    },
  },
  {
    method: 'POST',
    path: '/api/message',
    auth: 'auth',
    action: 'message',
    body: 'sendMessage',
    handler: async (ctx) => {
      const b = ctx.body as HttpBody<'sendMessage'>;
      const key = idempotencyKey(ctx, b.idempotency_key);
      const r = await sendMessage(ctx.hub, ctx.agent, { ...b, idempotency_key: key });
      return { body: { status: 'sent', id: r.id } };
    },
  },
  {
    method: 'GET',
    path: '/api/mailbox/:agent_id',
    auth: 'own',
    action: 'mailbox_poll',
    handler: async (ctx) => {
      const q = query(ctx, 'mailboxQuery');
      // everything after since, as §4 says (the mailbox cap bounds it); `limit` is an optional page size
      const limit = q.limit === undefined ? undefined : Math.max(q.limit, 1);
      const r = await ctx.hub.messaging.call('poll', { agent: ctx.agent, since: q.since ?? 0, limit });
      return { body: { agent_id: ctx.agent, messages: r.messages, last_seq: r.last_seq, count: r.messages.length } };
    },
  },
  {
    method: 'POST',
    path: '/api/mailbox/:agent_id/ack',
    auth: 'own',
    body: 'mailboxAck',
    handler: async ({ hub, agent, body }) => {
      const { seq } = body as HttpBody<'mailboxAck'>;
      await hub.messaging.call('ack', { agent, seq });
      return { body: { status: 'acked', up_to: seq } };
    },
  },
  { method: 'POST', path: '/api/mailbox/evict', auth: 'none', action: null, handler: adminOnly },
  {
    method: 'GET',
    path: '/api/messages',
    auth: 'tok',
    handler: async (ctx) => {
      const q = query(ctx, 'messagesQuery');
      const r = await ctx.hub.messaging.call('history', q);
      return { body: { messages: r.messages, cursor: r.cursor, count: r.messages.length } };
    },
  },
  {
    method: 'GET',
    path: '/api/threads/:id/replies',
    auth: 'tok',
    handler: async ({ hub, params }) => {
      const replies = await hub.messaging.call('replies', { id: params.id });
      return { body: { parent: params.id, replies, count: replies.length } };
    },
  },
  {
    method: 'GET',
    path: '/api/threads/:id/root',
    auth: 'tok',
    handler: async ({ hub, params }) => {
      const root = await hub.messaging.call('root', { id: params.id });
      return { body: { message_id: params.id, root } };
    },
  },
  {
    method: 'GET',
    path: '/api/threads/:id',
    auth: 'tok',
    handler: async ({ hub, params }) => {
      const t = await hub.messaging.call('thread', { id: params.id });
      return { body: { root: t.root, messages: t.messages, count: t.messages.length } };
    },
  },
  ...channelRoutes,
  ...taskRoutes,
  ...configReads,
  { method: 'PUT', path: '/api/config/:key', auth: 'none', action: null, handler: adminOnly },
  {
    method: 'GET',
    path: '/api/alerts',
    auth: 'none',
    handler: ({ hub }) => ({ body: { alerts: hub.alerts.list(), timestamp: Date.now() } }),
  },
  {
    method: 'POST',
    path: '/api/alerts/:rule_id/acknowledge',
    auth: 'auth',
    handler: ({ hub, params }) => {
      if (!hub.alerts.acknowledge(params.rule_id))
        throw new HubError(ErrorCode.alertNotFound, { rule_id: params.rule_id });
      return { body: { status: 'acknowledged', rule_id: params.rule_id } };
    },
  },
  { method: 'GET', path: '/api/metrics', auth: 'none', handler: ({ hub }) => ({ body: hub.metrics.api(hub) }) },
  {
    method: 'GET',
    path: '/api/analytics/summary',
    auth: 'none',
    handler: ({ hub }) => ({ body: hub.analytics.summary(hub.conns.agentIds(), Date.now()) }),
  },
  {
    method: 'GET',
    path: '/api/analytics/agents',
    auth: 'none',
    handler: ({ hub }) => {
      const statusOf = (id: string) => hub.conns.online(id)?.status ?? null;
      return { body: { agents: hub.analytics.perAgent(hub.conns.agentIds(), statusOf, Date.now()) } };
    },
  },
  {
    method: 'GET',
    path: '/api/analytics/agents/:id/hourly',
    auth: 'none',
    handler: ({ hub, params }) => ({ body: hub.analytics.hourly(params.id, Date.now()) }),
  },
  ...['GET', 'POST', 'PUT', 'DELETE'].flatMap((method) => [
    { method, path: '/admin/.*', auth: 'none' as const, action: null, handler: adminOnly },
    { method, path: '/api/admin/.*', auth: 'none' as const, action: null, handler: adminOnly },
  ]),
];
