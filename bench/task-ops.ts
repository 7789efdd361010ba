import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { taskCaps } from '../main/domains.js';
import type { Batch, BatchItem, BatchResult } from '../shared/batch.js';
import { parseConfig } from '../shared/config.js';
import type { Candidate, Finished } from '../shared/domains/tasks.js';
import { openDomainEnv } from '../storage/env.js';
import { taskBatchHooks, taskOps } from '../storage/task-ops.js';
import { TASK_DBS, TaskStore } from '../storage/tasks.js';
import { batchHandler } from '../workers/batch-handler.js';
import { NEEDS } from './gen/tasks.js';

const AGENTS = 100;
const QUEUED = 700;

/**
 * What the tasks worker spends on the `tasks` scenario's cycle, without
 * threads, sockets or a generator: `AGENTS` agents each hold a task, `QUEUED`
 * wait, and every batch completes the tasks of `perBatch` agents (each
 * complete offers its agent the next task in the same transaction) and
 * submits as many, through the worker's own batch handler and the hub's
 * default retention. `npm run bench:task-ops -- [batches] [per batch]`.
 */
async function main(): Promise<void> {
  const batches = Number(process.argv[2] ?? 2000);
  const perBatch = Number(process.argv[3] ?? 28);
  const dir = mkdtempSync(join(tmpdir(), 'agentcom-task-ops-'));
  try {
    const apply = batchHandler(
      () => {
        const env = openDomainEnv(dir, 'tasks', TASK_DBS);
        return { root: env.root, path: env.path, store: new TaskStore(env, taskCaps(parseConfig({}))) };
      },
      taskOps,
      taskBatchHooks,
    );
    const run = async (items: BatchItem[]) =>
      ((await apply({ items, now: Date.now() } satisfies Batch)) as BatchResult).results;
    let n = 0;
    const submit = (): BatchItem => ({
      op: 'submit',
      args: {
        input: {
          description: 'bench task',
          complexity_tier: 'trivial',
          needed_capabilities: NEEDS[n++ % NEEDS.length],
          metadata: { bt: 0, ph: 0, by: 'bench' },
        },
        by: 'bench',
        key: null,
        ignored: [],
      },
    });
    const agents: Candidate[] = Array.from({ length: AGENTS }, (_, i) => ({
      agent_id: `agent-${i}`,
      capabilities: ['code', 'test', 'docs'],
    }));
    await run(Array.from({ length: QUEUED + AGENTS }, submit));
    const held = new Map<string, { id: string; generation: number }>();
    const [first] = await run([{ op: 'schedule', args: { candidates: agents } }]);
    for (const t of (first as { value: Array<{ id: string; assigned_to: string; generation: number }> }).value)
      held.set(t.assigned_to, t);
    const warm = Math.min(200, Math.floor(batches / 5));
    let t0 = 0;
    let cpu0 = process.cpuUsage();
    for (let b = 0; b < batches; b++) {
      if (b === warm) {
        t0 = performance.now();
        cpu0 = process.cpuUsage();
      }
      const who = Array.from({ length: perBatch }, (_, i) => agents[(b * perBatch + i) % AGENTS]);
      const items = who.flatMap((a): BatchItem[] => {
        const h = held.get(a.agent_id);
        const complete = { task_id: h?.id, generation: h?.generation, result: { status: 'success' }, next: a };
        return [{ op: 'complete', args: complete }, submit()];
      });
      const results = await run(items);
      who.forEach((a, i) => {
        const r = results[2 * i];
        const next = r.ok ? (r.value as Finished).next : null;
        if (next) held.set(a.agent_id, next);
        else throw new Error(`agent ${a.agent_id} got no next task: ${JSON.stringify(r)}`);
      });
    }
    const ms = performance.now() - t0;
    const cpu = process.cpuUsage(cpu0);
    const cycles = (batches - warm) * perBatch;
    process.stdout.write(
      `${batches - warm} batches of ${perBatch} cycles (${2 * perBatch} items): ` +
        `${(ms / (batches - warm)).toFixed(2)} ms per batch, ${((ms * 1000) / cycles).toFixed(1)} µs per cycle, ` +
        `${((cpu.user + cpu.system) / cycles).toFixed(1)} µs of CPU per cycle, ` +
        `${Math.round((cycles * 1000) / ms)} cycles/s on one thread (commit and fdatasync included)\n`,
    );
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

main().catch((err) => {
  process.stderr.write(`${err instanceof Error ? err.stack : err}\n`);
  process.exit(1);
});
