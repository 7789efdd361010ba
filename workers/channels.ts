import { workerData } from 'piscina';
import { CHANNEL_DBS, ChannelStore } from '../storage/channels.js';
import { openDomainEnv, type PageArgs } from '../storage/env.js';
import { batchHandler } from './runtime.js';

const { dataDir } = workerData as { dataDir: string };
/** Opens the environment and its store; called again after a compaction swap. */
const open = () => {
  const env = openDomainEnv(dataDir, 'channels', CHANNEL_DBS);
  return { root: env.root, path: env.path, store: new ChannelStore(env) };
};

export const ops = {
  create: (s: ChannelStore, a: { name: string; description: string; by: string }, now: number) =>
    s.create(a.name, a.description, a.by, now),
  get: (s: ChannelStore, a: { name: string }) => s.get(a.name),
  list: (s: ChannelStore, a: PageArgs) => s.list(a),
  subscribe: (s: ChannelStore, a: { name: string; agent: string }, now: number) => s.subscribe(a.name, a.agent, now),
  unsubscribe: (s: ChannelStore, a: { name: string; agent: string }) => s.unsubscribe(a.name, a.agent),
  subscriptionsOf: (s: ChannelStore, a: { agent: string }) => s.subscriptionsOf(a.agent),
  snapshot: (s: ChannelStore) => s.snapshot(),
  health: (s: ChannelStore) => ({ counts: s.counts() }),
};

export type ChannelOps = typeof ops;
export default batchHandler(open, ops, { domain: 'channels', names: CHANNEL_DBS });
