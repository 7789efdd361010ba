import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import { type Remote, releaseProxy, wrap } from 'comlink';
import nodeEndpoint from 'comlink/dist/esm/node-adapter.mjs';
import type { MaintenanceApi } from '../shared/maintenance.js';

const ext = import.meta.url.endsWith('.ts') ? '.ts' : '.js';

export interface MaintenanceClient {
  api: Remote<MaintenanceApi>;
  /**
   * Backups, restores and compactions run one at a time: a restore never
   * swaps under a running backup, and retention never races one.
   */
  exclusive<T>(job: () => Promise<T>): Promise<T>;
  close(): Promise<void>;
}

/**
 * Starts the maintenance thread over the domains' environments (opened after
 * the domain workers, with the same options, so lmdb-js shares them) and
 * wraps its API with comlink.
 */
export function startMaintenance(dataDir: string, domains: readonly string[]): MaintenanceClient {
  const entry = new URL(`../workers/maintenance${ext}`, import.meta.url);
  const worker =
    ext === '.ts'
      ? new Worker(new URL('../workers/source-entry.cjs', import.meta.url), {
          workerData: { dataDir, domains, entry: fileURLToPath(entry) },
        })
      : new Worker(entry, { workerData: { dataDir, domains } });
  const api = wrap<MaintenanceApi>(nodeEndpoint(worker));
  let chain: Promise<unknown> = Promise.resolve();
  return {
    api,
    exclusive(job) {
      const run = chain.then(job, job);
      chain = run.catch(() => {});
      return run;
    },
    async close() {
      await chain;
      await api.close();
      api[releaseProxy]();
      await worker.terminate();
    },
  };
}
