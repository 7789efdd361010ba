import { workerData } from 'piscina';
import type { DomainWorkerData } from '../shared/batch.js';
import type { OpsFor } from '../shared/domains/domain.js';
import type { RegistryApi } from '../shared/domains/registry.js';
import { openDomainEnv } from '../storage/env.js';
import { REGISTRY_DBS, RegistryStore } from '../storage/registry.js';
import { batchHandler } from './batch-handler.js';

const { dataDir } = workerData as DomainWorkerData;
/** Opens the environment and its store; called again after a compaction swap. */
const open = () => {
  const env = openDomainEnv(dataDir, 'registry', REGISTRY_DBS);
  return { root: env.root, path: env.path, store: new RegistryStore(env) };
};

export const ops: OpsFor<RegistryApi, RegistryStore> = {
  snapshot: (s) => s.snapshot(),
  ensureAdminToken: (s, a) => s.ensureAdminToken(a.provided),
  setAdminHash: (s, a) => s.setAdminHash(a.hash),
  createToken: (s, a, now) => s.createToken(a.agent_id, now),
  onboard: (s, a, now) => s.onboard(a.agent_id, now),
  listTokens: (s, a) => s.listTokens(a),
  revokeAgent: (s, a) => s.revokeAgent(a.agent_id),
  resetToken: (s, a, now) => s.resetToken(a.agent_id, now),
  setConfig: (s, a) => s.setConfig(a.key, a.value),
  setOverrides: (s, a) => s.setOverrides(a.agent_id, a.overrides),
  removeOverrides: (s, a) => s.removeOverrides(a.agent_id),
  setWhitelist: (s, a) => s.setWhitelist(a.ids),
  addWhitelist: (s, a) => s.addWhitelist(a.id),
  removeWhitelist: (s, a) => s.removeWhitelist(a.id),
  health: (s) => ({ counts: s.counts() }),
};

export default batchHandler(open, ops, { names: REGISTRY_DBS });
