import type { Promoted, SweepInput, SweepResult } from '../shared/domains/tasks.js';
import type { Task } from '../shared/schemas/tasks.js';
import type { TaskStore } from './tasks.js';

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
  for (const t of store.sweepable(now)) {
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
