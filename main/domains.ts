import type { Config } from '../shared/config.js';
import type { ChannelsApi } from '../shared/domains/channels.js';
import type { MessagingApi } from '../shared/domains/messaging.js';
import type { RegistryApi } from '../shared/domains/registry.js';
import type { TaskApi, TaskCaps } from '../shared/domains/tasks.js';
import { Batcher, type BatcherOptions } from './batcher.js';

/** What the tasks store is told of the config: reclaims, TTLs, idempotency and retention. */
export function taskCaps(config: Config): TaskCaps {
  return {
    maxReclaims: config.maxReclaims,
    taskTtlMs: config.taskTtlMs,
    staleMs: config.staleMs,
    staleWorkingMs: config.staleWorkingMs,
    idempotencyTtlMs: config.idempotencyTtlMs,
    keepCompleted: config.taskKeepCompleted,
    keepCompletedMs: config.taskKeepCompletedMs,
    keepDead: config.taskKeepDead,
    keepDeadMs: config.taskKeepDeadMs,
  };
}

/** The four domains over LMDB, one worker thread and one environment each under `dataDir`. */
export function lmdbDomains(dataDir: string, config: Config, batching: BatcherOptions) {
  return {
    registry: new Batcher<RegistryApi>('registry', { dataDir, caps: undefined }, batching),
    messaging: new Batcher<MessagingApi>(
      'messaging',
      {
        dataDir,
        caps: {
          historyMax: config.historyMax,
          threadMax: config.threadMax,
          mailboxMax: config.mailboxMax,
          channelHistoryPerChannel: config.channelHistoryPerChannel,
          channelHistoryTotal: config.channelHistoryTotal,
          idempotencyTtlMs: config.idempotencyTtlMs,
        },
      },
      batching,
    ),
    channels: new Batcher<ChannelsApi>('channels', { dataDir, caps: undefined }, batching),
    tasks: new Batcher<TaskApi>(
      'tasks',
      {
        dataDir,
        caps: taskCaps(config),
      },
      batching,
    ),
  };
}

export type Domains = ReturnType<typeof lmdbDomains>;
