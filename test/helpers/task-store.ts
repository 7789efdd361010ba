import assert from 'node:assert/strict';
import { rmSync } from 'node:fs';
import { after } from 'node:test';
import type { Candidate, TaskCaps } from '../../shared/domains/tasks.js';
import { HubError } from '../../shared/errors.js';
import type { Task, TaskSubmit } from '../../shared/schemas/tasks.js';
import { type DomainEnv, openDomainEnv } from '../../storage/env.js';
import { TASK_DBS, type TaskDb, TaskStore } from '../../storage/tasks.js';
import { tempDir } from './hub.js';

const dirs: string[] = [];
const envs: DomainEnv<TaskDb>[] = [];
const closed = new Set<DomainEnv<TaskDb>>();
after(async () => {
  for (const e of envs) if (!closed.has(e)) await e.close();
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

/** A tasks environment of its own (in `dir`, a new temp dir by default); every call runs in one write transaction, as a worker batch does. */
export function tasks(caps: Partial<TaskCaps> = {}, dir = tempDir('agentcom-taskstore-')) {
  dirs.push(dir);
  const env = openDomainEnv(dir, 'tasks', TASK_DBS);
  envs.push(env);
  const store = new TaskStore(env, {
    maxReclaims: 5,
    taskTtlMs: 0,
    staleMs: 1_000,
    staleWorkingMs: 2_000,
    idempotencyTtlMs: 1_000,
    keepCompleted: 1_000,
    keepCompletedMs: 0,
    keepDead: 1_000,
    keepDeadMs: 0,
    ...caps,
  });
  const tx = <T>(fn: () => T): T => env.root.transactionSync(fn);
  /** submits at time `at` as `by` */
  const submit = (input: TaskSubmit, at: number, by = 'sub'): Task => tx(() => store.submit(input, by, at).task);
  const schedule = (candidates: Candidate[], at: number): Task[] => tx(() => store.schedule(candidates, at));
  /** the HubError code a call throws, or 'ok' */
  const code = (fn: () => unknown): string => {
    try {
      tx(fn);
    } catch (e) {
      assert.ok(e instanceof HubError, `expected a HubError, got ${String(e)}`);
      return e.code;
    }
    return 'ok';
  };
  const agent = (agent_id: string, ...capabilities: string[]): Candidate => ({ agent_id, capabilities });
  /** closes the environment (to open `dir` again) */
  const close = async () => {
    closed.add(env);
    await env.close();
  };
  return { env, dir, store, tx, submit, schedule, code, agent, close };
}
