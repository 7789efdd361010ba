import { EventEmitter } from 'node:events';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { resolve } from 'node:path';
import type { Config } from '../shared/config.js';
import { DOMAINS } from '../shared/data-layout.js';
import { type DataLock, lockDataDir } from '../shared/data-lock.js';
import { Alerts } from './alerts.js';
import { Analytics } from './analytics.js';
import { TokenCache } from './auth.js';
import { runBackup } from './backup.js';
import { ChannelDirectory } from './channels.js';
import { Connections } from './connections.js';
import type { Hub } from './context.js';
import { lmdbDomains } from './domains.js';
import { compile, handler } from './http-server.js';
import { Limiter } from './limiter.js';
import { createLogger, type Logger } from './log.js';
import { type MaintenanceClient, startMaintenance } from './maintenance.js';
import { catchUp } from './messaging.js';
import { Metrics } from './metrics.js';
import { Pipeline } from './pipeline.js';
import { reloadCaches } from './reload.js';
import { restoreOnline } from './restore.js';
import { adminRewrite, adminRoutes } from './routes-admin.js';
import { publicRoutes } from './routes-public.js';
import { schemaRoute } from './schema-catalog.js';
import { Settings } from './settings.js';
import { checkDataPresent, logCountsSinceBackup, verifyDataDir } from './startup-check.js';
import { StorageSampler } from './storage-sampler.js';
import { startTimers } from './timers.js';
import { Validator } from './validation.js';
import { Violations } from './violations.js';
import { attachWebSocket } from './ws-gateway.js';

export interface RunningHub {
  hub: Hub;
  port: number;
  adminPort: number;
  /** the admin token when this start generated it (first start, no AGENTCOM_ADMIN_TOKEN) */
  generatedAdminToken?: string;
  close(): Promise<void>;
}

function listen(server: Server, port: number, host: string): Promise<number> {
  return new Promise((ok, fail) => {
    server.once('error', fail);
    server.listen(port, host, () => {
      server.off('error', fail);
      ok((server.address() as AddressInfo).port);
    });
  });
}

export async function startHub(config: Config, log: Logger = createLogger(config.logLevel)): Promise<RunningHub> {
  const dataDir = resolve(config.data);
  const lock = await lockDataDir(dataDir, 'hub');
  try {
    return await startLocked(config, log, dataDir, lock);
  } catch (err) {
    await lock.release();
    throw err;
  }
}

/** The hub over a data directory this process holds; the lock is released when it closes. */
async function startLocked(config: Config, log: Logger, dataDir: string, lock: DataLock): Promise<RunningHub> {
  checkDataPresent(dataDir, DOMAINS);
  const verified = await verifyDataDir(dataDir, DOMAINS, config.verifyOnStart);
  const metrics = new Metrics();
  const batching = {
    batchMax: config.batchMax,
    queueMax: config.queueMax,
    log,
    observe: (d: string, us: number) => metrics.batch(d, us),
  };
  const { registry, messaging, channels: channelsDomain, tasks } = lmdbDomains(dataDir, config, batching);
  const domains = [registry, messaging, channelsDomain, tasks];

  let ports = { public: 0, admin: 0 };
  let open = false;
  const hub: Hub = {
    config,
    log,
    dataDir,
    validator: new Validator(config, log),
    limiter: new Limiter(config),
    violations: new Violations(config),
    tokens: new TokenCache(),
    conns: new Connections(config.sendBufferMax, (c) => catchUp(hub, c)),
    analytics: new Analytics(),
    settings: new Settings(config.mailboxTtlMs),
    registry,
    messaging,
    channelsDomain,
    tasks,
    channels: new ChannelDirectory(),
    // set below: the pipeline subscribes to hub.events, so the hub object must exist first
    pipeline: undefined as unknown as Pipeline,
    events: new EventEmitter(),
    startedAt: Date.now(),
    counters: { mailboxDropped: 0, liveDropped: 0 },
    metrics,
    alerts: new Alerts(),
    domains: () => domains,
    storageHealth: () => storage.report(),
    measureStorage: async () => {
      await storage.measure();
    },
    // set below, once the domain workers have opened their environments (lmdb-js shares them with it)
    maintenance: undefined as unknown as MaintenanceClient,
    backup: () => runBackup({ maintenance: hub.maintenance, dataDir, keep: config.backupKeep, log }),
    restore: (name) =>
      restoreOnline({ domains, maintenance: hub.maintenance, dataDir, log, reload: () => reloadCaches(hub) }, name),
    publicUrl: () => {
      const host = config.host === '0.0.0.0' || config.host === '::' ? '127.0.0.1' : config.host;
      return { ws: `ws://${host}:${ports.public}/ws`, api: `http://${host}:${ports.public}` };
    },
    sweepMailboxes: () => {
      messaging.call('sweep', { ttlMs: hub.settings.mailbox_ttl_ms }).then(
        (r) => {
          if (r.mailbox || r.idempotency) log.info(r, 'mailbox sweep evicted entries');
        },
        (err) => log.error({ err }, 'mailbox sweep failed'),
      );
    },
    health: () => ({
      status: domains.every((d) => d.stats.state === 'ready') ? 'ok' : 'degraded',
      reasons: domains
        .filter((d) => d.stats.state !== 'ready')
        .map((d) => `${d.name} storage ${d.stats.state}${d.stats.last_error ? `: ${d.stats.last_error}` : ''}`),
      service: 'agent_com',
      uptime_ms: Date.now() - hub.startedAt,
      agents_connected: hub.conns.count(),
      connections: hub.conns.all.size,
      workers: Object.fromEntries(domains.map((d) => [d.name, { ...d.stats }])),
      agents: hub.pipeline.counts(),
      counters: { ...hub.counters, violations: hub.violations.total, lenient: hub.validator.lenientAccepted },
    }),
  };

  let generatedAdminToken: string | undefined;
  try {
    const admin = await registry.call('ensureAdminToken', { provided: config.adminToken });
    generatedAdminToken = admin.generated;
    const snap = await registry.call('snapshot', {});
    hub.tokens.load(snap.tokens, admin.hash);
    hub.settings.load(snap.config);
    hub.limiter.load(snap.overrides, snap.whitelist);
    await messaging.call('health', {});
    await tasks.call('health', {});
    hub.channels.load(await channelsDomain.call('snapshot', {}));
    for (const d of domains) log.info({ domain: d.name, path: resolve(dataDir, d.name) }, 'domain worker ready');
    hub.maintenance = startMaintenance(dataDir, DOMAINS);
    logCountsSinceBackup(dataDir, verified, log);
  } catch (err) {
    await hub.maintenance?.close();
    await Promise.allSettled(domains.map((d) => d.close()));
    throw err;
  }

  hub.pipeline = new Pipeline(hub);
  const storage = new StorageSampler(hub, dataDir);
  await storage.sample();
  const publicServer = createServer(handler(hub, compile([...publicRoutes, schemaRoute(hub.validator, publicRoutes)])));
  const adminServer = createServer(handler(hub, compile(adminRoutes), adminRewrite));
  const wss = attachWebSocket(hub, publicServer, () => open);
  try {
    ports = {
      public: await listen(publicServer, config.port, config.host),
      admin: await listen(adminServer, config.adminPort, config.adminHost),
    };
  } catch (err) {
    // a taken port must not leave four worker threads behind
    hub.pipeline.stop();
    storage.stop();
    publicServer.close();
    adminServer.close();
    await hub.maintenance.close();
    await Promise.allSettled(domains.map((d) => d.close()));
    throw err;
  }
  open = true;
  const stopTimers = startTimers(hub);
  log.info(
    {
      public: hub.publicUrl().api,
      ws: hub.publicUrl().ws,
      admin: `http://${config.adminHost}:${ports.admin}`,
      data: dataDir,
      validation: config.validationMode,
    },
    'hub listening',
  );

  let closing: Promise<void> | null = null;
  const close = () => {
    closing ??= (async () => {
      open = false;
      stopTimers();
      storage.stop();
      hub.pipeline.stop();
      publicServer.close();
      adminServer.close();
      const deadline = Date.now() + config.shutdownMs / 2;
      while (Date.now() < deadline && domains.some((d) => d.stats.queued > 0 || d.stats.in_flight > 0)) {
        await new Promise((r) => setTimeout(r, 10));
      }
      for (const c of hub.conns.all.values()) c.close(1001, 'hub shutting down');
      wss.close();
      // its handles go first: the domain workers' close is then the environments' last, and flushes them
      await hub.maintenance.close();
      await Promise.allSettled(domains.map((d) => d.close()));
      publicServer.closeAllConnections();
      adminServer.closeAllConnections();
      await lock.release();
      log.info('hub stopped');
    })();
    return closing;
  };

  return { hub, port: ports.public, adminPort: ports.admin, generatedAdminToken, close };
}
