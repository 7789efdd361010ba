import type { OpsFor } from '../shared/domains/domain.js';
import type { Candidate, Finished, Outcome, TaskApi, TaskReport } from '../shared/domains/tasks.js';
import type { Task, TaskSubmitted } from '../shared/schemas/tasks.js';
import { offered } from '../shared/task-frames.js';
import { cleanDead, drain, retryDead } from './task-bulk.js';
import { dueAt } from './task-index.js';
import { sweepTasks } from './task-sweep.js';
import { TASK_DBS, type TaskStore } from './tasks.js';

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
): Finished {
  const offer = next && r.agent === next.agent_id ? (s.schedule([next], now)[0] ?? null) : null;
  const due = r.task.status === 'scheduled' ? dueAt(r.task) : null;
  return { outcome: r.outcome, agent: r.agent, created_at: r.task.created_at, next: offer && offered(offer), due };
}

/** The 201 body of a submit, remembered whole so a repeat gets exactly it (§9.28). */
function submitReply(r: { task: Task; warnings: string[] }, ignored: string[]): TaskSubmitted {
  const t = r.task;
  return {
    status: t.status,
    task_id: t.id,
    priority: t.priority,
    created_at: t.created_at,
    ...(r.warnings.length ? { warnings: r.warnings } : {}),
    ...(t.status === 'scheduled' ? { run_at: dueAt(t) } : {}),
    ...(ignored.length ? { ignored_fields: ignored } : {}),
  };
}

/** The tasks domain's ops: what a batch item names, over the store (the worker wires them to piscina). */
export const taskOps: OpsFor<TaskApi, TaskStore> = {
  submit: (s, a, now) => {
    const { idempotency_key: _k, ...request } = a.input;
    const r = s.idem.once(
      a.key ? { agent: a.by, key: a.key } : null,
      request,
      now,
      () => s.submit(a.input, a.by, now),
      (out) => submitReply(out, a.ignored),
    );
    return 'replay' in r ? { replay: true, reply: r.replay } : { replay: false, reply: submitReply(r, a.ignored) };
  },
  get: (s, a) => s.get(a.id),
  list: (s, a) => s.queries.list(a),
  stats: (s) => s.stats(),
  schedule: (s, a, now) => s.schedule(a.candidates, now).map(offered),
  touch: (s, a, now) => s.touch(a.id, now) !== null,
  complete: (s, a, now) => offerNext(s, s.complete(a, now), a.next, now),
  fail: (s, a, now) => offerNext(s, s.fail(a, now), a.next, now),
  reject: (s, a, now) => s.reject(a.id, a.agent, a.reason, now),
  reclaim: (s, a, now) => s.reclaim(a.id, a.reason, now),
  reclaimAgent: (s, a, now) => s.reclaimAgent(a.agent, a.reason, now),
  assignedTo: (s, a) => s.assignedTo(a.agent),
  stateReport: (s, a, now) => s.stateReport(a.id, a.agent, a.generation, now),
  recover: (s, a, now) => s.recover(a.id, a.agent, now),
  cancel: (s, a, now) => s.cancel(a.id, a.by, now),
  retry: (s, a, now) => s.retry(a.id, a.by, now),
  sweep: (s, a, now) => ({ ...sweepTasks(s, a, now), idempotency: s.idem.sweep(now) }),
  promote: (s, _a, now) => s.promote(now),
  pause: (s, a) => s.pause(a.lane, a.paused),
  drain: (s, a, now) => drain(s, a, now),
  retryDead: (s, a, now) => retryDead(s, a, now),
  cleanDead: (s, a, now) => cleanDead(s, a, now),
  health: (s) => ({ counts: s.counts() }),
};

/** The tasks worker's batch hooks (see workers/batch-handler.ts), here so that bench:task-ops runs the worker's own. */
export const taskBatchHooks = {
  names: TASK_DBS,
  // the count limits of retention, once per batch: as many go as the batch finished over them
  endBatch: (s: TaskStore) => s.retention.trimCounts(),
  changes: (s: TaskStore) => s.changes,
  // the pause is the one thing the store keeps in memory
  aborted: (s: TaskStore) => s.pauses.reload(),
  report: (s: TaskStore): TaskReport => ({ figures: s.figures(), changes: s.changes.take() }),
};
