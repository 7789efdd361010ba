import type { EventEmitter } from 'node:events';
import type { Config } from '../shared/config.js';
import type { ChannelsApi } from '../shared/domains/channels.js';
import type { MessagingApi } from '../shared/domains/messaging.js';
import type { RegistryApi } from '../shared/domains/registry.js';
import type { TaskApi } from '../shared/domains/tasks.js';
import type { Alerts } from './alerts.js';
import type { Analytics } from './analytics.js';
import type { TokenCache } from './auth.js';
import type { Batcher } from './batcher.js';
import type { ChannelDirectory } from './channels.js';
import type { Connections } from './connections.js';
import type { Limiter } from './limiter.js';
import type { Logger } from './log.js';
import type { MaintenanceClient } from './maintenance.js';
import type { Metrics } from './metrics.js';
import type { Pipeline } from './pipeline.js';
import type { Settings } from './settings.js';
import type { Validator } from './validation.js';
import type { Violations } from './violations.js';

/** Everything a handler on the main thread may use. Built once by `startHub`. */
export interface Hub {
  config: Config;
  log: Logger;
  dataDir: string;
  validator: Validator;
  limiter: Limiter;
  violations: Violations;
  tokens: TokenCache;
  conns: Connections;
  analytics: Analytics;
  settings: Settings;
  registry: Batcher<RegistryApi>;
  messaging: Batcher<MessagingApi>;
  channelsDomain: Batcher<ChannelsApi>;
  tasks: Batcher<TaskApi>;
  /** main's copy of channel subscribers, for fan-out */
  channels: ChannelDirectory;
  /** agent FSM and scheduler */
  pipeline: Pipeline;
  startedAt: number;
  publicUrl: () => { ws: string; api: string };
  /** `identified` and `left` (a Connection): the scheduler listens */
  events: EventEmitter;
  sweepMailboxes: () => void;
  metrics: Metrics;
  alerts: Alerts;
  backup: () => Promise<Record<string, unknown>>;
  /** an online restore of the named backup (a folder under data/backups, or a path) */
  restore: (name: string) => Promise<Record<string, unknown>>;
  domains: () => Array<Batcher<any>>;
  maintenance: MaintenanceClient;
  /** §3.5 storage health, from the last sample */
  storageHealth: () => Record<string, unknown>;
  /** samples the storage figures now (an admin asking wants current numbers) */
  measureStorage: () => Promise<void>;
  health: () => Record<string, unknown>;
  /** counters for /metrics and /health */
  counters: { mailboxDropped: number; liveDropped: number };
}
