import { workerData } from 'piscina';
import type { DomainWorkerData } from '../shared/batch.js';
import type { ChannelsApi } from '../shared/domains/channels.js';
import type { OpsFor } from '../shared/domains/domain.js';
import { CHANNEL_DBS, ChannelStore } from '../storage/channels.js';
import { openDomainEnv } from '../storage/env.js';
import { batchHandler } from './batch-handler.js';

const { dataDir } = workerData as DomainWorkerData;
/** Opens the environment and its store; called again after a compaction swap. */
const open = () => {
  const env = openDomainEnv(dataDir, 'channels', CHANNEL_DBS);
  return { root: env.root, path: env.path, store: new ChannelStore(env) };
};

export const ops: OpsFor<ChannelsApi, ChannelStore> = {
  create: (s, a, now) => s.create(a.name, a.description, a.by, now),
  get: (s, a) => s.get(a.name),
  list: (s, a) => s.list(a),
  subscribe: (s, a, now) => s.subscribe(a.name, a.agent, now),
  unsubscribe: (s, a) => s.unsubscribe(a.name, a.agent),
  subscriptionsOf: (s, a) => s.subscriptionsOf(a.agent),
  snapshot: (s) => s.snapshot(),
  health: (s) => ({ counts: s.counts() }),
};

export default batchHandler(open, ops, { names: CHANNEL_DBS });
