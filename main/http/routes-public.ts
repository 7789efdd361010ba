import { type Domain, type Done, promised } from '../../shared/domains/domain.js';
import type { MessagingApi, SendReply } from '../../shared/domains/messaging.js';
import { ErrorCode, HubError } from '../../shared/errors.js';
import type { HttpBody } from '../../shared/schemas/http.js';
import type { Alerts } from '../alerts.js';
import type { Analytics } from '../analytics.js';
import type { Fleet } from '../fleet.js';
import type { SendInput } from '../messaging.js';
import type { Scheduler } from '../scheduler.js';
import type { Settings } from '../settings.js';
import { type AuthMode, idempotencyKey, type Route } from './router.js';

export interface PublicDeps {
  fleet: Fleet;
  scheduler: Scheduler;
  messaging: Domain<MessagingApi>;
  send: (from: string, input: SendInput, done: Done<SendReply>) => void;
  /** a token for a new agent (onboarding); refused when the agent already has one */
  onboard: (agentId: string) => Promise<string>;
  settings: Settings;
  alerts: Alerts;
  analytics: Analytics;
  metricsApi: () => unknown;
  publicUrl: () => { ws: string; api: string };
}

const adminOnly = () => {
  throw new HubError(ErrorCode.adminPortOnly);
};

/** Config reads (§3.4); writes live on the admin port (§9.1). */
export const configReads = (d: { settings: Settings }): Route[] => [
  {
    method: 'GET',
    path: '/api/config/heartbeat-interval',
    auth: 'tok',
    handler: () => ({ body: { heartbeat_interval_ms: d.settings.heartbeat_interval_ms } }),
  },
  {
    method: 'GET',
    path: '/api/config/mailbox-retention',
    auth: 'tok',
    handler: () => ({ body: { mailbox_ttl_ms: d.settings.mailbox_ttl_ms } }),
  },
  {
    method: 'GET',
    path: '/api/config/default-repo',
    auth: 'none',
    handler: () => ({
      body: { default_repo: d.settings.default_repo, configured: d.settings.default_repo !== null },
    }),
  },
  {
    method: 'GET',
    path: '/api/config/alert-thresholds',
    auth: 'auth',
    handler: () => ({ body: d.settings.alertThresholds() }),
  },
];

/** `POST /api/alerts/:rule_id/acknowledge`: the admin's (admin port); persisted before the answer. */
export const acknowledgeAlert = (alerts: Alerts, auth: AuthMode): Route => ({
  method: 'POST',
  path: '/api/alerts/:rule_id/acknowledge',
  auth,
  handler: async ({ params }) => {
    if (!(await alerts.acknowledge(params.rule_id)))
      throw new HubError(ErrorCode.alertNotFound, { rule_id: params.rule_id });
    return { body: { status: 'acknowledged', rule_id: params.rule_id } };
  },
});

function agentState(d: PublicDeps, id: string) {
  const a = d.fleet.agent(id);
  if (!a) return null;
  return {
    agent_id: id,
    name: a.name,
    fsm_state: d.scheduler.stateOf(id),
    current_task_id: d.scheduler.taskOf(id),
    capabilities: a.capabilities.map((name) => ({ name })),
    flags: d.scheduler.flagsOf(id),
    connected_at: a.connected_at,
  };
}

/** The public port's own routes (channels, tasks and config reads are added beside them). */
export const publicRoutes = (d: PublicDeps): Route[] => [
  {
    method: 'GET',
    path: '/health',
    auth: 'none',
    action: null,
    handler: () => ({ body: { status: 'ok', service: 'agent_com', agents_connected: d.fleet.count() } }),
  },
  {
    method: 'POST',
    path: '/api/onboard/register',
    auth: 'none',
    action: 'onboard',
    body: 'onboard',
    handler: async ({ body }) => {
      const { agent_id } = body as HttpBody<'onboard'>;
      const token = await d.onboard(agent_id);
      const urls = d.publicUrl();
      return {
        status: 201,
        body: {
          agent_id,
          token,
          hub_ws_url: urls.ws,
          hub_api_url: urls.api,
          default_repo: d.settings.default_repo,
        },
      };
    },
  },
  {
    method: 'GET',
    path: '/api/agents',
    auth: 'none',
    handler: () => ({
      body: { agents: d.fleet.list().map((a) => ({ ...a, fsm_state: d.scheduler.stateOf(a.agent_id) })) },
    }),
  },
  {
    method: 'GET',
    path: '/api/agents/states',
    auth: 'auth',
    handler: () => ({ body: { agents: [...d.fleet.agentIds()].map((id) => agentState(d, id)) } }),
  },
  {
    method: 'GET',
    path: '/api/agents/:id/state',
    auth: 'auth',
    handler: (ctx) => {
      const s = agentState(d, ctx.params.id);
      if (!s) throw new HubError(ErrorCode.agentNotFound);
      return { body: { ...s, last_state_change: d.scheduler.sinceOf(ctx.params.id) } };
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
      const r = await promised<SendReply>((done) => d.send(ctx.agent, { ...b, idempotency_key: key }, done));
      return { body: { status: 'sent', id: r.id } };
    },
  },
  {
    method: 'GET',
    path: '/api/mailbox/:agent_id',
    auth: 'own',
    action: 'mailbox_poll',
    handler: async (ctx) => {
      const q = ctx.parse('mailboxQuery');
      // everything after since, as §4 says (the mailbox cap bounds it); `limit` is an optional page size
      const limit = q.limit === undefined ? undefined : Math.max(q.limit, 1);
      const r = await d.messaging.call('poll', { agent: ctx.agent, since: q.since ?? 0, limit });
      return { body: { agent_id: ctx.agent, messages: r.messages, last_seq: r.last_seq, count: r.messages.length } };
    },
  },
  {
    method: 'POST',
    path: '/api/mailbox/:agent_id/ack',
    auth: 'own',
    body: 'mailboxAck',
    handler: async ({ agent, body }) => {
      const { seq } = body as HttpBody<'mailboxAck'>;
      await d.messaging.call('ack', { agent, seq });
      return { body: { status: 'acked', up_to: seq } };
    },
  },
  { method: 'POST', path: '/api/mailbox/evict', auth: 'none', action: null, handler: adminOnly },
  {
    method: 'GET',
    path: '/api/messages',
    auth: 'tok',
    handler: async (ctx) => {
      const q = ctx.parse('messagesQuery');
      const r = await d.messaging.call('history', q);
      return { body: { messages: r.messages, cursor: r.cursor, count: r.messages.length } };
    },
  },
  {
    method: 'GET',
    path: '/api/threads/:id/replies',
    auth: 'tok',
    handler: async ({ params }) => {
      const replies = await d.messaging.call('replies', { id: params.id });
      return { body: { parent: params.id, replies, count: replies.length } };
    },
  },
  {
    method: 'GET',
    path: '/api/threads/:id/root',
    auth: 'tok',
    handler: async ({ params }) => {
      const root = await d.messaging.call('root', { id: params.id });
      return { body: { message_id: params.id, root } };
    },
  },
  {
    method: 'GET',
    path: '/api/threads/:id',
    auth: 'tok',
    handler: async ({ params }) => {
      const t = await d.messaging.call('thread', { id: params.id });
      return { body: { root: t.root, messages: t.messages, count: t.messages.length } };
    },
  },
  { method: 'PUT', path: '/api/config/:key', auth: 'none', action: null, handler: adminOnly },
  {
    method: 'GET',
    path: '/api/alerts',
    auth: 'none',
    handler: () => ({ body: { alerts: d.alerts.list(), timestamp: Date.now() } }),
  },
  // acknowledging is the admin's (admin port), and persisted
  { method: 'POST', path: '/api/alerts/:rule_id/acknowledge', auth: 'none', action: null, handler: adminOnly },
  { method: 'GET', path: '/api/metrics', auth: 'none', handler: () => ({ body: d.metricsApi() }) },
  {
    method: 'GET',
    path: '/api/analytics/summary',
    auth: 'none',
    handler: () => ({ body: d.analytics.summary(d.fleet.agentIds(), Date.now()) }),
  },
  {
    method: 'GET',
    path: '/api/analytics/agents',
    auth: 'none',
    handler: () => {
      const statusOf = (id: string) => d.fleet.agent(id)?.status ?? null;
      return { body: { agents: d.analytics.perAgent(d.fleet.agentIds(), statusOf, Date.now()) } };
    },
  },
  {
    method: 'GET',
    path: '/api/analytics/agents/:id/hourly',
    auth: 'none',
    handler: ({ params }) => ({ body: d.analytics.hourly(params.id, Date.now()) }),
  },
  ...['GET', 'POST', 'PUT', 'DELETE'].flatMap((method) => [
    { method, path: '/admin/.*', auth: 'none' as const, action: null, handler: adminOnly },
    { method, path: '/api/admin/.*', auth: 'none' as const, action: null, handler: adminOnly },
  ]),
];
