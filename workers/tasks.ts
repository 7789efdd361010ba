import { workerData } from 'piscina';
import type { Task, TaskSubmit, TaskSubmitted } from '../shared/schemas/tasks.js';
import { offered } from '../shared/task-frames.js';
import { openDomainEnv } from '../storage/env.js';
import type { TaskFilter } from '../storage/task-queries.js';
import { type SweepInput, sweepTasks } from '../storage/task-sweep.js';
import { type Candidate, type Outcome, TASK_DBS, type TaskCaps, TaskStore } from '../storage/tasks.js';
import { batchHandler } from './runtime.js';

const { dataDir, caps } = workerData as { dataDir: string; caps: TaskCaps };
/** Opens the environment and its store; called again after a compaction swap. */
const open = () => {
  const env = openDomainEnv(dataDir, 'tasks', TASK_DBS);
  return { root: env.root, path: env.path, store: new TaskStore(env, caps) };
};

type Fenced = { task_id: string; generation: number };
/** the finishing agent, when it may take another task at once */
type Offer = { next: Candidate | null };

/**
 * A finished task's agent is offered its next task in the same transaction,
 * saving a scheduler round trip per cycle; it gets one only if it was the
 * agent the task was assigned to. Main gets what it acts on, not the records.
 */
function offerNext(
  s: TaskStore,
  r: { task: Task; outcome: Outcome; agent: string | null },
  next: Candidate | null,
  now: number,
) {
  const offer = next && r.agent === next.agent_id ? (s.schedule([next], now)[0] ?? null) : null;
  return { outcome: r.outcome, agent: r.agent, created_at: r.task.created_at, next: offer && offered(offer) };
}

/** The 201 body of a submit, remembered whole so a repeat gets exactly it (§9.28). */
function submitReply(r: { task: Task; warnings: string[] }): TaskSubmitted {
  const t = r.task;
  return {
    status: t.status,
    task_id: t.id,
    priority: t.priority,
    created_at: t.created_at,
    ...(r.warnings.length ? { warnings: r.warnings } : {}),
  };
}

export const ops = {
  submit: (s: TaskStore, a: { input: TaskSubmit; by: string; key: string | null }, now: number) => {
    const { idempotency_key: _k, ...request } = a.input;
    const r = s.idem.once(
      a.key ? { agent: a.by, key: a.key } : null,
      request,
      now,
      () => s.submit(a.input, a.by, now),
      submitReply,
    );
    return 'replay' in r
      ? { replay: true as const, reply: r.replay }
      : { replay: false as const, reply: submitReply(r) };
  },
  get: (s: TaskStore, a: { id: string }) => s.get(a.id),
  list: (s: TaskStore, a: TaskFilter) => s.queries.list(a),
  stats: (s: TaskStore) => s.queries.stats(),
  schedule: (s: TaskStore, a: { candidates: Candidate[] }, now: number) => s.schedule(a.candidates, now).map(offered),
  touch: (s: TaskStore, a: { id: string }, now: number) => s.touch(a.id, now) !== null,
  complete: (s: TaskStore, a: Parameters<TaskStore['complete']>[0] & Offer, now: number) =>
    offerNext(s, s.complete(a, now), a.next, now),
  fail: (s: TaskStore, a: Fenced & { error: string } & Offer, now: number) => offerNext(s, s.fail(a, now), a.next, now),
  reject: (s: TaskStore, a: { id: string; agent: string; reason: string }, now: number) =>
    s.reject(a.id, a.agent, a.reason, now),
  reclaim: (s: TaskStore, a: { id: string; reason: string }, now: number) => s.reclaim(a.id, a.reason, now),
  reclaimAgent: (s: TaskStore, a: { agent: string; reason: string }, now: number) =>
    s.reclaimAgent(a.agent, a.reason, now),
  assignedTo: (s: TaskStore, a: { agent: string }) => s.assignedTo(a.agent),
  stateReport: (s: TaskStore, a: { id: string; agent: string; generation: number | null }, now: number) =>
    s.stateReport(a.id, a.agent, a.generation, now),
  recover: (s: TaskStore, a: { id: string; agent: string }, now: number) => s.recover(a.id, a.agent, now),
  cancel: (s: TaskStore, a: { id: string; by: string | null }) => s.cancel(a.id, a.by),
  retry: (s: TaskStore, a: { id: string; by: string | null }, now: number) => s.retry(a.id, a.by, now),
  sweep: (s: TaskStore, a: SweepInput, now: number) => ({ ...sweepTasks(s, a, now), idempotency: s.idem.sweep(now) }),
  health: (s: TaskStore) => ({ counts: s.counts() }),
};

export type TaskOps = typeof ops;
export default batchHandler(open, ops, { domain: 'tasks', names: TASK_DBS });
