import type { Promoted, SweepInput, SweepResult } from '../shared/domains/tasks.js';
import type { Task } from '../shared/schemas/tasks.js';
import type { QueueEntry } from './task-index.js';
import type { TaskStore } from './tasks.js';

/**
 * The tasks the sweep must look at, from the indexes (never a scan of the
 * task table): waiting ones past their deadline or, with a queue TTL,
 * queued ones older than it; and every assigned one.
 */
function sweepable(store: TaskStore, now: number): Task[] {
  const out: Task[] = [];
  const ttl = store.caps.taskTtlMs;
  for (const { key, value } of store.ix.db.queue.getRange({})) {
    const [, since, id] = key as [number, number, string];
    const e = value as QueueEntry;
    const late = e.by != null && e.by < now;
    if (late || (ttl > 0 && e.ttl !== false && now - since > ttl)) out.push(store.get(id));
  }
  for (const { key, value } of store.ix.db.due.getRange({})) {
    if (value != null && (value as number) < now) out.push(store.get((key as [number, string])[1]));
  }
  for (const key of store.ix.db.byAgent.getKeys({})) {
    const t = store.find((key as [string, string])[1]);
    if (t?.status === 'assigned') out.push(t);
  }
  return out;
}

/** Removals for age per sweep at most; the next sweep goes on. */
const RETENTION_STEP = 10_000;

/**
 * The periodic sweep (§4, §9.11, §9.27): a task past `complete_by` is
 * dead-lettered; a stale assignment, or one whose agent is absent after the
 * restart grace, is reclaimed; the optional queue TTL (off by default)
 * dead-letters old non-trivial backlog. It also queues scheduled tasks that
 * are due (a fallback for main's timer) and removes finished tasks past
 * their age.
 */
export function sweepTasks(store: TaskStore, input: SweepInput, now: number): SweepResult & Promoted {
  const connected = new Set(input.connected);
  const working = new Set(input.working);
  const { taskTtlMs, staleMs, staleWorkingMs } = store.caps;
  const reclaimed: Task[] = [];
  const expired: Task[] = [];
  for (const t of sweepable(store, now)) {
    if (t.complete_by !== null && t.complete_by < now) {
      expired.push({ ...t });
      store.expire(t, 'complete_by_expired', now);
      continue;
    }
    if (t.status === 'queued') {
      if (taskTtlMs > 0 && t.complexity_tier !== 'trivial' && now - t.created_at > taskTtlMs) {
        expired.push({ ...t });
        store.expire(t, 'ttl_expired', now);
      }
      continue;
    }
    const agent = t.assigned_to as string;
    let reason: string | null = null;
    if (now - t.updated_at > (working.has(agent) ? staleWorkingMs : staleMs)) reason = 'stale';
    else if (!connected.has(agent) && now >= input.graceUntil) reason = 'agent_offline';
    const r = reason ? store.reclaim(t.id, reason, now) : null;
    if (r) reclaimed.push(r);
  }
  const removed = store.retention.trimAges(now, RETENTION_STEP);
  return { reclaimed, expired, removed, ...store.promote(now) };
}
