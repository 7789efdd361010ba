import { workerData } from 'piscina';
import type { DomainWorkerData } from '../shared/batch.js';
import type { TaskCaps } from '../shared/domains/tasks.js';
import { openDomainEnv } from '../storage/env.js';
import { taskBatchHooks, taskOps } from '../storage/task-ops.js';
import { TASK_DBS, TaskStore } from '../storage/tasks.js';
import { batchHandler } from './batch-handler.js';

const { dataDir, caps } = workerData as DomainWorkerData<TaskCaps>;
/** Opens the environment and its store; called again after a compaction swap. */
const open = () => {
  const env = openDomainEnv(dataDir, 'tasks', TASK_DBS);
  return { root: env.root, path: env.path, store: new TaskStore(env, caps) };
};

export default batchHandler(open, taskOps, taskBatchHooks);
