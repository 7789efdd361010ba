import { setTimeout } from 'node:timers/promises';
import { ErrorCode, HubError } from '../shared/errors.js';
import type { HttpBody } from '../shared/schemas/http.js';
import { issueToken } from './auth.js';
import { compactDomain } from './compaction.js';
import type { Hub } from './context.js';
import { dashboardRoutes } from './dashboard.js';
import { query, type Route } from './http-server.js';
import { configReads } from './routes-public.js';
import { adminTaskRoutes } from './routes-tasks.js';

const LEVELS: Record<string, string> = {
  debug: 'debug',
  info: 'info',
  notice: 'info',
  warning: 'warn',
  warn: 'warn',
  error: 'error',
};

/** Revokes in the registry, drops the cache entries and closes the sockets that used them (§9.25). */
function closeRevoked(hub: Hub, hashes: string[]): void {
  hub.tokens.remove(hashes);
  const gone = new Set(hashes);
  for (const c of hub.conns.all.values()) if (gone.has(c.tokenHash)) c.close(4003, 'token_revoked');
}

/** Writes a config value to the registry, then applies it (§3.4, admin port per §9.1). */
function configWrite<K extends 'heartbeat' | 'mailboxRetention' | 'defaultRepo' | 'alertThresholds'>(
  path: string,
  body: K,
  apply: (hub: Hub, b: HttpBody<K>) => Promise<unknown>,
): Route {
  return {
    method: 'PUT',
    path,
    auth: 'admin',
    body,
    handler: async ({ hub, body: b }) => ({ body: await apply(hub, b) }),
  };
}

/** §3.5 storage health, measured at the request; a measurement queued behind a long backup gives way to the last sample after 2 s. */
async function storageHealth({ hub }: { hub: Hub }) {
  await Promise.race([hub.measureStorage(), setTimeout(2000, undefined, { ref: false })]);
  return { body: hub.storageHealth() };
}

export const adminRoutes: Route[] = [
  {
    method: 'GET',
    path: '/health',
    auth: 'none',
    // a load balancer or monitor reads the status code: degraded is 503, with the reason in the body
    handler: ({ hub }) => {
      const h = hub.health();
      return { status: h.status === 'ok' ? 200 : 503, body: h };
    },
  },
  {
    method: 'POST',
    path: '/admin/compact',
    auth: 'admin',
    handler: async ({ hub }) => {
      const results = [];
      for (const d of hub.domains()) results.push(await compactDomain(d, hub.dataDir, hub.maintenance, hub.log));
      const compacted = results.filter((r) => r.status === 'compacted').length;
      return {
        body: {
          status: compacted === results.length ? 'complete' : 'partial',
          tables_total: results.length,
          tables_compacted: compacted,
          tables_skipped: results.length - compacted,
          results,
        },
      };
    },
  },
  {
    method: 'POST',
    path: '/admin/compact/:table',
    auth: 'admin',
    handler: async ({ hub, params }) => {
      const d = hub.domains().find((x) => x.name === params.table);
      if (!d)
        throw new HubError(ErrorCode.unknownTable, { table: params.table, tables: hub.domains().map((x) => x.name) });
      const r = await compactDomain(d, hub.dataDir, hub.maintenance, hub.log);
      return { body: { ...r, duration_ms: r.paused_ms } };
    },
  },
  { method: 'POST', path: '/admin/backup', auth: 'admin', handler: async ({ hub }) => ({ body: await hub.backup() }) },
  {
    method: 'POST',
    path: '/admin/restore',
    auth: 'admin',
    body: 'restore',
    handler: async ({ hub, body }) => ({ body: await hub.restore((body as HttpBody<'restore'>).backup) }),
  },
  { method: 'GET', path: '/metrics', auth: 'admin', handler: ({ hub }) => ({ body: hub.metrics.prometheus(hub) }) },
  { method: 'GET', path: '/admin/storage-health', auth: 'admin', handler: storageHealth },
  { method: 'GET', path: '/admin/dets-health', auth: 'admin', handler: storageHealth },
  {
    method: 'POST',
    path: '/admin/tokens',
    auth: 'admin',
    body: 'createToken',
    handler: async ({ hub, body }) => {
      const { agent_id } = body as HttpBody<'createToken'>;
      return { status: 201, body: { agent_id, token: await issueToken(hub, 'createToken', agent_id) } };
    },
  },
  {
    method: 'GET',
    path: '/admin/tokens',
    auth: 'admin',
    handler: async (ctx) => {
      const page = await ctx.hub.registry.call('listTokens', query(ctx, 'pageQuery'));
      return { body: { tokens: page.items, cursor: page.cursor } };
    },
  },
  {
    method: 'DELETE',
    path: '/admin/tokens/:agent_id',
    auth: 'admin',
    handler: async ({ hub, params }) => {
      const hashes = await hub.registry.call('revokeAgent', { agent_id: params.agent_id });
      closeRevoked(hub, hashes);
      hub.log.info({ agent_id: params.agent_id, tokens: hashes.length }, 'tokens revoked');
      return { body: { status: 'revoked', agent_id: params.agent_id } };
    },
  },
  {
    method: 'POST',
    path: '/admin/agents/:agent_id/reset-token',
    auth: 'admin',
    handler: async ({ hub, params }) => {
      const r = await hub.registry.call('resetToken', { agent_id: params.agent_id });
      closeRevoked(hub, r.revoked);
      hub.tokens.add(r.hash, r.agent_id);
      hub.log.info({ agent_id: r.agent_id }, 'token reset');
      return {
        status: 201,
        body: { agent_id: r.agent_id, token: r.token, hint: 'all previous tokens of this agent are revoked' },
      };
    },
  },
  {
    method: 'POST',
    path: '/admin/agents/:agent_id/restart',
    auth: 'admin',
    body: 'restart',
    handler: ({ hub, params, body }) => {
      const c = hub.conns.online(params.agent_id);
      if (!c) throw new HubError(ErrorCode.agentNotConnected);
      const reason = (body as HttpBody<'restart'>).reason ?? 'hub_commanded';
      c.sendJson({ type: 'restart_sidecar', reason });
      hub.log.info({ agent_id: params.agent_id, reason }, 'restart commanded');
      return { body: { status: 'restart_commanded', agent_id: params.agent_id, reason } };
    },
  },
  {
    method: 'GET',
    path: '/admin/rate-limits',
    auth: 'admin',
    handler: ({ hub }) => ({ body: hub.limiter.describe() }),
  },
  {
    method: 'GET',
    path: '/admin/rate-limits/whitelist',
    auth: 'admin',
    handler: ({ hub }) => ({ body: { whitelist: hub.limiter.whitelistIds() } }),
  },
  {
    method: 'PUT',
    path: '/admin/rate-limits/whitelist',
    auth: 'admin',
    body: 'whitelistPut',
    handler: async ({ hub, body }) => {
      const ids = await hub.registry.call('setWhitelist', { ids: (body as HttpBody<'whitelistPut'>).agent_ids });
      hub.limiter.setWhitelist(ids);
      return { body: { status: 'updated', whitelist: ids } };
    },
  },
  {
    method: 'POST',
    path: '/admin/rate-limits/whitelist',
    auth: 'admin',
    body: 'whitelistPost',
    handler: async ({ hub, body }) => {
      const id = (body as HttpBody<'whitelistPost'>).agent_id;
      await hub.registry.call('addWhitelist', { id });
      hub.limiter.setWhitelist([...hub.limiter.whitelistIds(), id]);
      return { body: { status: 'added', agent_id: id, whitelist: hub.limiter.whitelistIds() } };
    },
  },
  {
    method: 'DELETE',
    path: '/admin/rate-limits/whitelist/:agent_id',
    auth: 'admin',
    handler: async ({ hub, params }) => {
      await hub.registry.call('removeWhitelist', { id: params.agent_id });
      hub.limiter.setWhitelist(hub.limiter.whitelistIds().filter((x) => x !== params.agent_id));
      return { body: { status: 'removed', agent_id: params.agent_id, whitelist: hub.limiter.whitelistIds() } };
    },
  },
  {
    method: 'PUT',
    path: '/admin/rate-limits/:agent_id',
    auth: 'admin',
    body: 'overrides',
    bodyError: ErrorCode.invalidOverrides,
    handler: async ({ hub, params, body }) => {
      const overrides = await hub.registry.call('setOverrides', {
        agent_id: params.agent_id,
        overrides: body as HttpBody<'overrides'>,
      });
      hub.limiter.setOverrides(params.agent_id, overrides);
      return { body: { status: 'updated', agent_id: params.agent_id, overrides } };
    },
  },
  {
    method: 'DELETE',
    path: '/admin/rate-limits/:agent_id',
    auth: 'admin',
    handler: async ({ hub, params }) => {
      await hub.registry.call('removeOverrides', { agent_id: params.agent_id });
      hub.limiter.setOverrides(params.agent_id, null);
      return { body: { status: 'removed', agent_id: params.agent_id } };
    },
  },
  {
    method: 'PUT',
    path: '/admin/log-level',
    auth: 'admin',
    body: 'logLevel',
    handler: ({ hub, body }) => {
      const asked = (body as HttpBody<'logLevel'>).level;
      const level = LEVELS[asked];
      if (!level) throw new HubError(ErrorCode.invalidLevel, { valid: Object.keys(LEVELS) });
      hub.log.level = level;
      hub.log.info({ level }, 'log level changed');
      return { body: { status: 'ok', level: asked } };
    },
  },
  {
    method: 'POST',
    path: '/api/mailbox/evict',
    auth: 'admin',
    handler: ({ hub }) => {
      hub.sweepMailboxes();
      return { body: { status: 'eviction_triggered' } };
    },
  },
  ...adminTaskRoutes,
  ...dashboardRoutes,
  ...configReads.map((r) => ({ ...r, auth: 'admin' as const })),
  configWrite('/api/config/heartbeat-interval', 'heartbeat', async (hub, b) => {
    await hub.registry.call('setConfig', { key: 'heartbeat_interval_ms', value: b.heartbeat_interval_ms });
    hub.settings.heartbeat_interval_ms = b.heartbeat_interval_ms;
    return { status: 'updated', heartbeat_interval_ms: b.heartbeat_interval_ms };
  }),
  configWrite('/api/config/mailbox-retention', 'mailboxRetention', async (hub, b) => {
    await hub.registry.call('setConfig', { key: 'mailbox_ttl_ms', value: b.mailbox_ttl_ms });
    hub.settings.mailbox_ttl_ms = b.mailbox_ttl_ms;
    return { status: 'updated', mailbox_ttl_ms: b.mailbox_ttl_ms };
  }),
  configWrite('/api/config/default-repo', 'defaultRepo', async (hub, b) => {
    await hub.registry.call('setConfig', { key: 'default_repo', value: b.url });
    hub.settings.default_repo = b.url;
    return { status: 'ok', default_repo: b.url };
  }),
  configWrite('/api/config/alert-thresholds', 'alertThresholds', async (hub, b) => {
    await hub.registry.call('setConfig', { key: 'alert_thresholds', value: b });
    hub.settings.alert_thresholds = b;
    return { status: 'updated', effective: 'next_check_cycle' };
  }),
];

/** On the admin port `/api/admin/x` is the same route as `/admin/x` (§9.1). */
export const adminRewrite = (path: string) => (path.startsWith('/api/admin/') ? path.slice(4) : path);
