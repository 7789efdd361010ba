import type { Hub } from './context.js';

/**
 * The main thread's caches of what the domains hold (tokens, settings,
 * limits, channel subscribers, the scheduler's view), read again after an
 * online restore replaced the domains under them.
 */
export async function reloadCaches(hub: Hub): Promise<void> {
  // the admin token in use stays: a restore must not lock the admin out with the backup's
  await hub.registry.call('setAdminHash', { hash: hub.tokens.adminTokenHash });
  const snap = await hub.registry.call('snapshot', {});
  hub.tokens.load(snap.tokens, hub.tokens.adminTokenHash);
  hub.settings.load(snap.config);
  hub.limiter.load(snap.overrides, snap.whitelist);
  hub.channels.load(await hub.channelsDomain.call('snapshot', {}));
  // a socket whose token the restored registry does not hold is treated as revoked (§9.25)
  for (const c of hub.conns.all.values())
    if (c.tokenHash && !hub.tokens.has(c.tokenHash)) c.close(4003, 'token_revoked');
  hub.pipeline.resync();
}
