import { parentPort, workerData } from 'node:worker_threads';
import { expose } from 'comlink';
import nodeEndpoint from 'comlink/dist/esm/node-adapter.mjs';
import { DOMAIN_DBS } from '../storage/domains.js';
import { Maintenance } from '../storage/maintenance.js';

/**
 * The maintenance thread: its API (shared/maintenance.ts) is served over
 * comlink, so backups, verification, sampling and compaction copies run here,
 * never on a domain worker's thread or the main thread.
 */
const { dataDir, domains } = workerData as { dataDir: string; domains: string[] };
if (!parentPort) throw new Error('workers/maintenance.ts runs as a worker thread');
expose(new Maintenance(dataDir, Object.fromEntries(domains.map((d) => [d, DOMAIN_DBS[d]]))), nodeEndpoint(parentPort));
