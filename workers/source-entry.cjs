// Starts a worker from its TypeScript source in development and tests: tsx's require hook reaches worker
// threads (its import hook does not), as piscina's domain workers rely on. dist/ starts compiled workers directly.
require(require('node:worker_threads').workerData.entry);
