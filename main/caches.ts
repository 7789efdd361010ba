import type { ChannelsApi } from '../shared/domains/channels.js';
import type { Domain } from '../shared/domains/domain.js';
import type { RegistryApi } from '../shared/domains/registry.js';
import type { TokenCache } from './auth.js';
import type { ChannelDirectory } from './channels.js';
import type { Limiter } from './limiter.js';
import type { Settings } from './settings.js';

export interface CacheDeps {
  registry: Domain<RegistryApi>;
  channelsDomain: Domain<ChannelsApi>;
  tokens: TokenCache;
  settings: Settings;
  limiter: Limiter;
  directory: ChannelDirectory;
  /** the alerts that were firing, with their acknowledgements (at start; a restore keeps the current ones) */
  alerts?: { load(stored: unknown): void };
}

/**
 * The main thread's caches of what the domains hold (tokens, settings,
 * limits, channel subscribers, firing alerts), read from the registry and channels domains
 * at start and again after an online restore replaced them.
 */
export async function loadCaches(d: CacheDeps, adminHash: string): Promise<void> {
  const snap = await d.registry.call('snapshot', {});
  d.tokens.load(snap.tokens, adminHash);
  d.settings.load(snap.config);
  d.alerts?.load(snap.config.alerts);
  d.limiter.load(snap.overrides, snap.whitelist);
  d.directory.load(await d.channelsDomain.call('snapshot', {}));
}
