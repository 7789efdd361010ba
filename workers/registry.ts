import { workerData } from 'piscina';
import { openDomainEnv, type PageArgs } from '../storage/env.js';
import { type Overrides, REGISTRY_DBS, RegistryStore } from '../storage/registry.js';
import { batchHandler } from './runtime.js';

const { dataDir } = workerData as { dataDir: string };
/** Opens the environment and its store; called again after a compaction swap. */
const open = () => {
  const env = openDomainEnv(dataDir, 'registry', REGISTRY_DBS);
  return { root: env.root, path: env.path, store: new RegistryStore(env) };
};

export const ops = {
  snapshot: (s: RegistryStore) => s.snapshot(),
  ensureAdminToken: (s: RegistryStore, a: { provided: string }) => s.ensureAdminToken(a.provided),
  setAdminHash: (s: RegistryStore, a: { hash: string }) => s.setAdminHash(a.hash),
  createToken: (s: RegistryStore, a: { agent_id: string }, now: number) => s.createToken(a.agent_id, now),
  onboard: (s: RegistryStore, a: { agent_id: string }, now: number) => s.onboard(a.agent_id, now),
  listTokens: (s: RegistryStore, a: PageArgs) => s.listTokens(a),
  revokeAgent: (s: RegistryStore, a: { agent_id: string }) => s.revokeAgent(a.agent_id),
  resetToken: (s: RegistryStore, a: { agent_id: string }, now: number) => s.resetToken(a.agent_id, now),
  setConfig: (s: RegistryStore, a: { key: string; value: unknown }) => s.setConfig(a.key, a.value),
  setOverrides: (s: RegistryStore, a: { agent_id: string; overrides: Overrides }) =>
    s.setOverrides(a.agent_id, a.overrides),
  removeOverrides: (s: RegistryStore, a: { agent_id: string }) => s.removeOverrides(a.agent_id),
  setWhitelist: (s: RegistryStore, a: { ids: string[] }) => s.setWhitelist(a.ids),
  addWhitelist: (s: RegistryStore, a: { id: string }) => s.addWhitelist(a.id),
  removeWhitelist: (s: RegistryStore, a: { id: string }) => s.removeWhitelist(a.id),
  health: (s: RegistryStore) => ({ counts: s.counts() }),
};

export type RegistryOps = typeof ops;
export default batchHandler(open, ops, { domain: 'registry', names: REGISTRY_DBS });
