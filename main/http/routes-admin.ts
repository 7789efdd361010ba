import { setTimeout } from 'node:timers/promises';
import type { Domain } from '../../shared/domains/domain.js';
import type { RegistryApi } from '../../shared/domains/registry.js';
import { ErrorCode, HubError } from '../../shared/errors.js';
import type { HttpBody } from '../../shared/schemas/http.js';
import type { TokenCache } from '../auth.js';
import type { Fleet } from '../fleet.js';
import type { Limiter } from '../limiter.js';
import type { Logger } from '../log.js';
import type { Settings } from '../settings.js';
import type { Route } from './router.js';

export interface AdminDeps {
  fleet: Fleet;
  tokens: TokenCache;
  registry: Domain<RegistryApi>;
  limiter: Limiter;
  settings: Settings;
  log: Logger;
  /** the admin `/health` body; `status` is `ok` or `degraded` */
  health: () => { status: string };
  metricsText: () => Promise<string>;
  storage: { measure(): Promise<unknown>; report(): Record<string, unknown> };
  backup: () => Promise<unknown>;
  restore: (backup: string) => Promise<unknown>;
  domainNames: readonly string[];
  compact: (domain: string) => Promise<{ status: string; paused_ms: number }>;
  sweepMailboxes: () => void;
  issueToken: (agentId: string) => Promise<string>;
}

const LEVELS: Record<string, string> = {
  debug: 'debug',
  info: 'info',
  notice: 'info',
  warning: 'warn',
  warn: 'warn',
  error: 'error',
};

/** Drops the revoked tokens from the cache and closes the sockets that used them (§9.25). */
export function closeRevoked(d: { tokens: TokenCache; fleet: Fleet }, hashes: string[]): void {
  d.tokens.remove(hashes);
  const gone = new Set(hashes);
  for (const c of d.fleet.sockets()) if (gone.has(c.tokenHash)) c.close(4003, 'token_revoked');
}

/** Writes a config value to the registry, then applies it (§3.4, admin port per §9.1). */
function configWrite<K extends 'heartbeat' | 'mailboxRetention' | 'defaultRepo' | 'alertThresholds'>(
  path: string,
  body: K,
  apply: (b: HttpBody<K>) => Promise<unknown>,
): Route {
  return {
    method: 'PUT',
    path,
    auth: 'admin',
    body,
    handler: async ({ body: b }) => ({ body: await apply(b as HttpBody<K>) }),
  };
}

/** §3.5 storage health, measured at the request; a measurement queued behind a long backup gives way to the last sample after 2 s. */
const storageHealth = (d: AdminDeps) => async () => {
  await Promise.race([d.storage.measure(), setTimeout(2000, undefined, { ref: false })]);
  return { body: d.storage.report() };
};

/** The admin port's own routes (admin task routes, the dashboard and config reads are added beside them). */
export const adminRoutes = (d: AdminDeps): Route[] => [
  {
    method: 'GET',
    path: '/health',
    auth: 'none',
    // a load balancer or monitor reads the status code: degraded is 503, with the reason in the body
    handler: () => {
      const h = d.health();
      return { status: h.status === 'ok' ? 200 : 503, body: h };
    },
  },
  {
    method: 'POST',
    path: '/admin/compact',
    auth: 'admin',
    handler: async () => {
      const results = [];
      for (const name of d.domainNames) results.push(await d.compact(name));
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
    handler: async ({ params }) => {
      if (!d.domainNames.includes(params.table))
        throw new HubError(ErrorCode.unknownTable, { table: params.table, tables: d.domainNames });
      const r = await d.compact(params.table);
      return { body: { ...r, duration_ms: r.paused_ms } };
    },
  },
  { method: 'POST', path: '/admin/backup', auth: 'admin', handler: async () => ({ body: await d.backup() }) },
  {
    method: 'POST',
    path: '/admin/restore',
    auth: 'admin',
    body: 'restore',
    handler: async ({ body }) => ({ body: await d.restore((body as HttpBody<'restore'>).backup) }),
  },
  { method: 'GET', path: '/metrics', auth: 'admin', handler: async () => ({ body: await d.metricsText() }) },
  { method: 'GET', path: '/admin/storage-health', auth: 'admin', handler: storageHealth(d) },
  { method: 'GET', path: '/admin/dets-health', auth: 'admin', handler: storageHealth(d) },
  {
    method: 'POST',
    path: '/admin/tokens',
    auth: 'admin',
    body: 'createToken',
    handler: async ({ body }) => {
      const { agent_id } = body as HttpBody<'createToken'>;
      return { status: 201, body: { agent_id, token: await d.issueToken(agent_id) } };
    },
  },
  {
    method: 'GET',
    path: '/admin/tokens',
    auth: 'admin',
    handler: async (ctx) => {
      const page = await d.registry.call('listTokens', ctx.parse('pageQuery'));
      return { body: { tokens: page.items, cursor: page.cursor } };
    },
  },
  {
    method: 'DELETE',
    path: '/admin/tokens/:agent_id',
    auth: 'admin',
    handler: async ({ params }) => {
      const hashes = await d.registry.call('revokeAgent', { agent_id: params.agent_id });
      closeRevoked(d, hashes);
      d.log.info({ agent_id: params.agent_id, tokens: hashes.length }, 'tokens revoked');
      return { body: { status: 'revoked', agent_id: params.agent_id } };
    },
  },
  {
    method: 'POST',
    path: '/admin/agents/:agent_id/reset-token',
    auth: 'admin',
    handler: async ({ params }) => {
      const r = await d.registry.call('resetToken', { agent_id: params.agent_id });
      closeRevoked(d, r.revoked);
      d.tokens.add(r.hash, r.agent_id);
      d.log.info({ agent_id: r.agent_id }, 'token reset');
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
    handler: ({ params, body }) => {
      const reason = (body as HttpBody<'restart'>).reason ?? 'hub_commanded';
      if (!d.fleet.send(params.agent_id, { type: 'restart_sidecar', reason }))
        throw new HubError(ErrorCode.agentNotConnected);
      d.log.info({ agent_id: params.agent_id, reason }, 'restart commanded');
      return { body: { status: 'restart_commanded', agent_id: params.agent_id, reason } };
    },
  },
  {
    method: 'GET',
    path: '/admin/rate-limits',
    auth: 'admin',
    handler: () => ({ body: d.limiter.describe() }),
  },
  {
    method: 'GET',
    path: '/admin/rate-limits/whitelist',
    auth: 'admin',
    handler: () => ({ body: { whitelist: d.limiter.whitelistIds() } }),
  },
  {
    method: 'PUT',
    path: '/admin/rate-limits/whitelist',
    auth: 'admin',
    body: 'whitelistPut',
    handler: async ({ body }) => {
      const ids = await d.registry.call('setWhitelist', { ids: (body as HttpBody<'whitelistPut'>).agent_ids });
      d.limiter.setWhitelist(ids);
      return { body: { status: 'updated', whitelist: ids } };
    },
  },
  {
    method: 'POST',
    path: '/admin/rate-limits/whitelist',
    auth: 'admin',
    body: 'whitelistPost',
    handler: async ({ body }) => {
      const id = (body as HttpBody<'whitelistPost'>).agent_id;
      await d.registry.call('addWhitelist', { id });
      d.limiter.setWhitelist([...d.limiter.whitelistIds(), id]);
      return { body: { status: 'added', agent_id: id, whitelist: d.limiter.whitelistIds() } };
    },
  },
  {
    method: 'DELETE',
    path: '/admin/rate-limits/whitelist/:agent_id',
    auth: 'admin',
    handler: async ({ params }) => {
      await d.registry.call('removeWhitelist', { id: params.agent_id });
      d.limiter.setWhitelist(d.limiter.whitelistIds().filter((x) => x !== params.agent_id));
      return { body: { status: 'removed', agent_id: params.agent_id, whitelist: d.limiter.whitelistIds() } };
    },
  },
  {
    method: 'PUT',
    path: '/admin/rate-limits/:agent_id',
    auth: 'admin',
    body: 'overrides',
    bodyError: ErrorCode.invalidOverrides,
    handler: async ({ params, body }) => {
      const overrides = await d.registry.call('setOverrides', {
        agent_id: params.agent_id,
        overrides: body as HttpBody<'overrides'>,
      });
      d.limiter.setOverrides(params.agent_id, overrides);
      return { body: { status: 'updated', agent_id: params.agent_id, overrides } };
    },
  },
  {
    method: 'DELETE',
    path: '/admin/rate-limits/:agent_id',
    auth: 'admin',
    handler: async ({ params }) => {
      await d.registry.call('removeOverrides', { agent_id: params.agent_id });
      d.limiter.setOverrides(params.agent_id, null);
      return { body: { status: 'removed', agent_id: params.agent_id } };
    },
  },
  {
    method: 'PUT',
    path: '/admin/log-level',
    auth: 'admin',
    body: 'logLevel',
    handler: ({ body }) => {
      const asked = (body as HttpBody<'logLevel'>).level;
      const level = LEVELS[asked];
      if (!level) throw new HubError(ErrorCode.invalidLevel, { valid: Object.keys(LEVELS) });
      d.log.level = level;
      d.log.info({ level }, 'log level changed');
      return { body: { status: 'ok', level: asked } };
    },
  },
  {
    method: 'POST',
    path: '/api/mailbox/evict',
    auth: 'admin',
    handler: () => {
      d.sweepMailboxes();
      return { body: { status: 'eviction_triggered' } };
    },
  },
  configWrite('/api/config/heartbeat-interval', 'heartbeat', async (b) => {
    await d.registry.call('setConfig', { key: 'heartbeat_interval_ms', value: b.heartbeat_interval_ms });
    d.settings.heartbeat_interval_ms = b.heartbeat_interval_ms;
    return { status: 'updated', heartbeat_interval_ms: b.heartbeat_interval_ms };
  }),
  configWrite('/api/config/mailbox-retention', 'mailboxRetention', async (b) => {
    await d.registry.call('setConfig', { key: 'mailbox_ttl_ms', value: b.mailbox_ttl_ms });
    d.settings.mailbox_ttl_ms = b.mailbox_ttl_ms;
    return { status: 'updated', mailbox_ttl_ms: b.mailbox_ttl_ms };
  }),
  configWrite('/api/config/default-repo', 'defaultRepo', async (b) => {
    await d.registry.call('setConfig', { key: 'default_repo', value: b.url });
    d.settings.default_repo = b.url;
    return { status: 'ok', default_repo: b.url };
  }),
  // validated by its schema: a value no rule can meet is 422, never stored; the reply shows the thresholds in effect
  configWrite('/api/config/alert-thresholds', 'alertThresholds', async (b) => {
    await d.registry.call('setConfig', { key: 'alert_thresholds', value: b });
    d.settings.alert_thresholds = b;
    d.log.info({ thresholds: d.settings.alertThresholds() }, 'alert thresholds changed');
    return { status: 'updated', effective: 'next_check_cycle', thresholds: d.settings.alertThresholds() };
  }),
];

/** On the admin port `/api/admin/x` is the same route as `/admin/x` (§9.1). */
export const adminRewrite = (path: string) => (path.startsWith('/api/admin/') ? path.slice(4) : path);
