import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { resolve } from 'node:path';
import type { Config } from '../shared/config.js';
import { DOMAINS, type Domain } from '../shared/data-layout.js';
import { type DataLock, lockDataDir } from '../shared/data-lock.js';
import type { Done } from '../shared/domains/domain.js';
import type { SendReply } from '../shared/domains/messaging.js';
import { alertWebhook } from './alert-webhook.js';
import { Alerts } from './alerts.js';
import { Analytics } from './analytics.js';
import { issueToken, TokenCache } from './auth.js';
import { runBackup } from './backup.js';
import { BackupRuns } from './backup-runs.js';
import { loadCaches } from './caches.js';
import { ChannelDirectory, Channels } from './channels.js';
import { type CompactResult, compactDomain, compactFragmented } from './compaction.js';
import { type Domains, lmdbDomains } from './domains.js';
import { type DeliveryCounters, Fanout } from './fanout.js';
import type { Fleet } from './fleet.js';
import { health } from './health.js';
import { clientError } from './http/client-error.js';
import { dashboardRoutes } from './http/dashboard.js';
import { compile, handler } from './http/router.js';
import { adminRewrite, adminRoutes } from './http/routes-admin.js';
import { channelRoutes } from './http/routes-channels.js';
import { readyRoute } from './http/routes-health.js';
import { liveRoutes } from './http/routes-live.js';
import { configReads, publicRoutes } from './http/routes-public.js';
import { queueRoutes } from './http/routes-queue.js';
import { adminTaskRoutes, taskRoutes } from './http/routes-tasks.js';
import { schemaRoute } from './http/schema-catalog.js';
import { Limiter } from './limiter.js';
import { startLive } from './live.js';
import { LocalFleet } from './local-fleet.js';
import { createLogger, type Logger } from './log.js';
import { type MaintenanceClient, startMaintenance } from './maintenance.js';
import { type SendInput, sendMessage } from './messaging.js';
import { agentsByState, type MetricSources, Metrics } from './metrics.js';
import { restoreOnline } from './restore.js';
import { Scheduler } from './scheduler.js';
import { Settings } from './settings.js';
import { checkDataPresent, logCountsSinceBackup, verifyDataDir } from './startup-check.js';
import { StorageSampler } from './storage-sampler.js';
import { startTimers } from './timers.js';
import { Validator } from './validation.js';
import { Violations } from './violations.js';
import { channelHandlers } from './ws/channel-handlers.js';
import { REPLY_OVERRUN } from './ws/connection.js';
import { attachWebSocket } from './ws/gateway.js';
import { type CoreDeps, coreHandlers, socketClosed } from './ws/handlers.js';
import { taskHandlers } from './ws/task-handlers.js';

/**
 * A running hub: what `startHub` wired, for the CLI and for tests that look
 * inside (the fleet, the domains, the delivery counters).
 */
export interface RunningHub {
  port: number;
  adminPort: number;
  /** the admin token when this start generated it (first start, no AGENTCOM_ADMIN_TOKEN) */
  generatedAdminToken?: string;
  fleet: Fleet;
  domains: Domains;
  counters: DeliveryCounters;
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

/** The address a server is bound to, as `host:port` (`[::]:4000` for IPv6). */
function bindOf(server: Server): string {
  const a = server.address() as AddressInfo;
  return a.family === 'IPv6' ? `[${a.address}]:${a.port}` : `${a.address}:${a.port}`;
}

export async function startHub(config: Config, log: Logger = createLogger(config)): Promise<RunningHub> {
  const dataDir = resolve(config.data);
  const lock = await lockDataDir(dataDir, 'hub');
  try {
    return await startLocked(config, log, dataDir, lock);
  } catch (err) {
    await lock.release();
    throw err;
  }
}

/**
 * The one place that wires the hub: each component gets the few things it
 * uses. The data directory is this process's; the lock is released at close.
 */
async function startLocked(config: Config, log: Logger, dataDir: string, lock: DataLock): Promise<RunningHub> {
  checkDataPresent(dataDir, DOMAINS);
  const verified = await verifyDataDir(dataDir, DOMAINS, config.verifyOnStart);
  const startedAt = Date.now();
  const metrics = new Metrics();
  const domains = lmdbDomains(dataDir, config, {
    batchMax: config.batchMax,
    queueMax: config.queueMax,
    inFlightMax: config.batchesInFlight,
    log,
    observe: (d: string, us: number) => metrics.batch(d, us),
  });
  const { registry, messaging, channels: channelsDomain, tasks } = domains;
  const all = [registry, messaging, channelsDomain, tasks];
  // every domain has a `health` op; each is typed by its own contract
  const healthOf: Record<Domain, () => Promise<{ counts: Record<string, number> }>> = {
    registry: () => registry.call('health', {}),
    messaging: () => messaging.call('health', {}),
    channels: () => channelsDomain.call('health', {}),
    tasks: () => tasks.call('health', {}),
  };
  const closeDomains = () => Promise.allSettled(all.map((d) => d.close()));

  const validator = new Validator(config, log);
  const limiter = new Limiter(config);
  const violations = new Violations(config);
  const tokens = new TokenCache();
  const analytics = new Analytics();
  const settings = new Settings(config.mailboxTtlMs, log);
  const directory = new ChannelDirectory();
  const alerts = new Alerts({
    persist: (active) => registry.call('setConfig', { key: 'alerts', value: active }),
    notify: config.alertWebhookUrl
      ? alertWebhook({ url: config.alertWebhookUrl, timeoutMs: config.alertWebhookTimeoutMs, log })
      : undefined,
    log,
  });
  const counters: DeliveryCounters = { mailboxDropped: 0, liveDropped: 0 };
  const fleet = new LocalFleet(config.sendBufferMax, (c) => fanout.catchUp(c));
  const fanout = new Fanout({
    fleet,
    messaging,
    analytics,
    counters,
    log,
    limits: {
      sendBufferMax: config.sendBufferMax,
      slowConsumerMs: config.slowConsumerMs,
      mailboxMax: config.mailboxMax,
    },
  });
  const sendDeps = { messaging, fleet, fanout, analytics, tokenHolders: () => tokens.agents() };
  const send = (from: string, input: SendInput, done: Done<SendReply>) => sendMessage(sendDeps, from, input, done);
  const channels = new Channels({
    channelsDomain,
    messaging,
    directory,
    fleet,
    fanout,
    analytics,
    log,
    historyMax: config.channelHistoryPerChannel,
  });

  let maintenance: MaintenanceClient | undefined;
  let generatedAdminToken: string | undefined;
  try {
    const admin = await registry.call('ensureAdminToken', { provided: config.adminToken });
    generatedAdminToken = admin.generated;
    await loadCaches({ registry, channelsDomain, tokens, settings, limiter, directory, alerts }, admin.hash);
    await healthOf.messaging();
    await healthOf.tasks();
    for (const d of all) log.info({ domain: d.name, path: resolve(dataDir, d.name) }, 'domain worker ready');
    // after the domain workers: lmdb-js gives the maintenance thread the environments they opened
    maintenance = startMaintenance(dataDir, DOMAINS);
    logCountsSinceBackup(dataDir, verified, log);
  } catch (err) {
    await maintenance?.close();
    await closeDomains();
    throw err;
  }
  const m = maintenance;

  const scheduler = new Scheduler({
    tasks,
    fleet,
    violations,
    log,
    timers: {
      acceptTimeoutMs: config.acceptTimeoutMs,
      restartGraceMs: config.restartGraceMs,
      rejectCooldownMs: config.rejectCooldownMs,
      schedulerFallbackMs: config.schedulerFallbackMs,
      taskSweepMs: config.taskSweepMs,
    },
  });
  const backupRuns = new BackupRuns();
  const live = startLive({
    tasks,
    fleet,
    scheduler,
    alerts,
    directory,
    limiter,
    backups: backupRuns,
    storage: { report: () => storage.report() },
    health: () => hubHealth(),
    counters,
    violations,
    dataDir,
  });
  const storage = new StorageSampler({
    domains: all,
    counts: async (name) => (await healthOf[name as Domain]()).counts,
    maintenance: m,
    dataDir,
    compactMinBytes: config.compactMinBytes,
    queueDepth: (depth, now) => metrics.sampleQueue(depth, now),
    sampled: () => live.sampled(),
  });
  await storage.sample();
  const sources: MetricSources = { fleet, agents: scheduler, tokens, storageHealth: () => storage.report() };
  const agentStates = { counts: () => agentsByState(sources) };
  metrics.prom.expose({
    connections: () => [...fleet.sockets()].length,
    agentsConnected: () => fleet.count(),
    agentsByState: agentStates.counts,
    domains: all,
    counters,
    violations,
    validator,
    storage: () => storage.spaces(),
    lastBackup: () => storage.lastBackup(),
    alerts: () => alerts.states(),
    tasks: live.figures,
  });
  const metricsApi = () => metrics.api(sources);
  const hubHealth = () =>
    health({
      domains: all,
      fleet,
      agents: agentStates,
      counters,
      violations,
      validator,
      startedAt,
      tasks: live.figures,
    });
  const sweepMailboxes = () => {
    messaging.call('sweep', { ttlMs: settings.mailbox_ttl_ms }).then(
      (r) => {
        if (r.mailbox || r.idempotency) log.info(r, 'mailbox sweep evicted entries');
      },
      (err) => log.error({ err }, 'mailbox sweep failed'),
    );
  };
  const byName = new Map(all.map((d) => [d.name, d]));
  const observeCompaction = (r: CompactResult & { paused_ms: number }) =>
    metrics.prom.compaction(r.table, r.status, r.paused_ms / 1000, r.bytes_before - r.bytes_after);
  const compact = (name: string) =>
    compactDomain(byName.get(name) as (typeof all)[number], dataDir, m, log, observeCompaction);
  const backup = () =>
    backupRuns.record(() =>
      runBackup({
        maintenance: m,
        dataDir,
        keep: config.backupKeep,
        log,
        observe: (s, sec) => metrics.prom.backup(s, sec),
      }).finally(() => storage.backupsChanged()),
    );
  const restore = (name: string) =>
    restoreOnline(
      {
        domains: all,
        maintenance: m,
        dataDir,
        log,
        reload: async () => {
          // the admin token in use stays: a restore must not lock the admin out with the backup's
          await registry.call('setAdminHash', { hash: tokens.adminTokenHash });
          await loadCaches({ registry, channelsDomain, tokens, settings, limiter, directory }, tokens.adminTokenHash);
          // the alerts firing now stay, acknowledgements included, over the backup's
          await alerts.save();
          // a socket whose token the restored registry does not hold is treated as revoked (§9.25)
          for (const c of fleet.sockets()) if (c.tokenHash && !tokens.has(c.tokenHash)) c.close(4003, 'token_revoked');
          scheduler.resync();
          storage.backupsChanged();
        },
      },
      name,
    );

  let ports = { public: 0, admin: 0 };
  const publicUrl = () => {
    const host = config.host === '0.0.0.0' || config.host === '::' ? '127.0.0.1' : config.host;
    return { ws: `ws://${host}:${ports.public}/ws`, api: `http://${host}:${ports.public}` };
  };
  const router = {
    tokens,
    limiter,
    violations,
    validator,
    log,
    maxBodyBytes: config.maxBodyBytes,
    unsentMax: config.sendBufferMax * REPLY_OVERRUN,
    maxDepth: config.maxDepth,
  };
  const taskDeps = { tasks, scheduler, fleet, log, submitSchema: validator.http.taskSubmit };
  let open = false;
  let closing: Promise<void> | null = null;
  const ready = readyRoute({ domains: all, queueMax: config.queueMax, closing: () => closing !== null });
  const pub = [
    ...publicRoutes({
      fleet,
      scheduler,
      messaging,
      send,
      onboard: (agentId) => issueToken({ registry, tokens, log }, 'onboard', agentId),
      settings,
      alerts,
      analytics,
      metricsApi,
      publicUrl,
    }),
    ...channelRoutes({ channels, channelsDomain, validator }),
    ...taskRoutes(taskDeps),
    ...configReads({ settings }),
    ready,
  ];
  const adm = [
    ...adminRoutes({
      fleet,
      tokens,
      registry,
      limiter,
      settings,
      log,
      health: hubHealth,
      metricsText: () => metrics.prom.text(),
      storage,
      backup,
      restore,
      domainNames: DOMAINS,
      compact,
      sweepMailboxes,
      issueToken: (agentId) => issueToken({ registry, tokens, log }, 'createToken', agentId),
    }),
    ...adminTaskRoutes(taskDeps),
    ...queueRoutes({ tasks, kick: () => scheduler.kick(), log }),
    ...dashboardRoutes({ tasks, fleet, scheduler, alerts, health: hubHealth, metricsApi }),
    ...liveRoutes({ ...live, fleet, alerts, directory, limiter, backups: backupRuns, dataDir, log }),
    ...configReads({ settings }).map((r) => ({ ...r, auth: 'admin' as const })),
    ready,
  ];
  const publicServer = createServer(handler(router, compile([...pub, schemaRoute(validator, pub)])));
  const adminServer = createServer(handler(router, compile(adm), adminRewrite));
  for (const server of [publicServer, adminServer]) server.on('clientError', clientError(log));

  const core: CoreDeps = {
    fleet,
    tokens,
    violations,
    limiter,
    messaging,
    fanout,
    send,
    analytics,
    agents: scheduler,
    log,
  };
  const wss = attachWebSocket(
    {
      fleet,
      handlers: {
        ...coreHandlers(core),
        ...channelHandlers({ channels, channelsDomain }),
        ...taskHandlers({
          tasks,
          scheduler,
          metrics: {
            taskOutcome: (outcome, createdAt, now) => {
              metrics.taskOutcome(outcome, createdAt, now);
              live.outcome(outcome, createdAt, now);
            },
          },
          log,
        }),
      },
      validator,
      limiter,
      violations,
      log,
      maxDepth: config.maxDepth,
      maxFrameBytes: config.maxFrameBytes,
      closed: (conn, code) => socketClosed(core, conn, code),
      answered: (type, seconds) => metrics.prom.ack(type, seconds),
    },
    publicServer,
    () => open,
  );
  try {
    ports = {
      public: await listen(publicServer, config.port, config.host),
      admin: await listen(adminServer, config.adminPort, config.adminHost),
    };
  } catch (err) {
    // a taken port must not leave worker threads behind
    scheduler.stop();
    storage.stop();
    publicServer.close();
    adminServer.close();
    await m.close();
    await closeDomains();
    throw err;
  }
  open = true;
  const stopTimers = startTimers({
    config,
    fleet,
    fanout,
    log,
    sweepLimits: (now) => {
      limiter.sweep(now);
      violations.sweep(now);
    },
    sweepMailboxes,
    checkAlerts: () =>
      alerts.check({ metricsApi, tasks, fleet, thresholds: () => settings.alertThresholds(), violations, log }),
    backup,
    compactFragmented: () =>
      compactFragmented(
        all,
        dataDir,
        m,
        { minFragmentation: config.compactMinFragmentation, minBytes: config.compactMinBytes },
        log,
        observeCompaction,
      ),
  });
  log.info(
    {
      public: publicUrl().api,
      ws: publicUrl().ws,
      admin: `http://${config.adminHost}:${ports.admin}`,
      public_bind: bindOf(publicServer),
      admin_bind: bindOf(adminServer),
      data: dataDir,
      admin_token_from: generatedAdminToken
        ? 'generated now: printed once on stderr'
        : config.adminToken
          ? 'AGENTCOM_ADMIN_TOKEN / --admin-token'
          : 'stored hash of an earlier start (a lost token: restart with AGENTCOM_ADMIN_TOKEN=<new>)',
      validation: config.validationMode,
    },
    'hub listening',
  );

  const close = () => {
    closing ??= (async () => {
      open = false;
      live.feed.close();
      stopTimers();
      storage.stop();
      scheduler.stop();
      publicServer.close();
      adminServer.close();
      const deadline = Date.now() + config.shutdownMs / 2;
      while (Date.now() < deadline && all.some((d) => d.stats.queued > 0 || d.stats.in_flight > 0)) {
        await new Promise((r) => setTimeout(r, 10));
      }
      for (const c of fleet.sockets()) c.close(1001, 'hub shutting down');
      wss.close();
      // its handles go first: the domain workers' close is then the environments' last, and flushes them
      await m.close();
      await closeDomains();
      publicServer.closeAllConnections();
      adminServer.closeAllConnections();
      await lock.release();
      log.info('hub stopped');
    })();
    return closing;
  };

  return { port: ports.public, adminPort: ports.admin, generatedAdminToken, fleet, domains, counters, close };
}
