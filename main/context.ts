import type { EventEmitter } from 'node:events';
import type { Config } from '../shared/config.js';
import type { ChannelOps } from '../workers/channels.js';
import type { MessagingOps } from '../workers/messaging.js';
import type { RegistryOps } from '../workers/registry.js';
import type { TaskOps } from '../workers/tasks.js';
import type { Alerts } from './alerts.js';
import type { Analytics } from './analytics.js';
import type { TokenCache } from './auth.js';
import type { ChannelDirectory } from './channels.js';
import type { Connections } from './connections.js';
import type { DomainClient } from './domain-client.js';
import type { Limiter } from './limiter.js';
import type { Logger } from './log.js';
import type { Metrics } from './metrics.js';
import type { Pipeline } from './pipeline.js';
import type { Settings } from './settings.js';
import type { Validator } from './validation.js';
import type { Violations } from './violations.js';

/** Everything a handler on the main thread may use. Built once by `startHub`. */
export interface Hub {
  config: Config;
  log: Logger;
  validator: Validator;
  limiter: Limiter;
  violations: Violations;
  tokens: TokenCache;
  conns: Connections;
  analytics: Analytics;
  settings: Settings;
  registry: DomainClient<RegistryOps>;
  messaging: DomainClient<MessagingOps>;
  channelsDomain: DomainClient<ChannelOps>;
  tasks: DomainClient<TaskOps>;
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
  /**
   * Backups, restores and compactions run one at a time: a restore never
   * swaps under a running backup, and retention never races one.
   */
  maintenance: <T>(job: () => Promise<T>) => Promise<T>;
  backup: () => Promise<Record<string, unknown>>;
  /** an online restore of the named backup (a folder under data/backups, or a path) */
  restore: (name: string) => Promise<Record<string, unknown>>;
  domains: () => Array<DomainClient<any>>;
  /** §3.5 storage health, from the last sample */
  storageHealth: () => Record<string, unknown>;
  /** samples the storage figures now (an admin asking wants current numbers) */
  measureStorage: () => Promise<void>;
  health: () => Record<string, unknown>;
  /** counters for /metrics and /health */
  counters: { mailboxDropped: number; liveDropped: number };
}
