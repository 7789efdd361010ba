import type { Domain } from '../../shared/domains/domain.js';
import type { Finished, TaskApi } from '../../shared/domains/tasks.js';
import { HubError } from '../../shared/errors.js';
import type { Logger } from '../log.js';
import type { Metrics } from '../metrics.js';
import type { Scheduler } from '../scheduler.js';
import type { Connection } from './connection.js';
import type { Handlers } from './handlers.js';

export interface TaskFrameDeps {
  tasks: Domain<TaskApi>;
  scheduler: Scheduler;
  metrics: Pick<Metrics, 'taskOutcome'>;
  log: Logger;
}

/** Task errors keep the original's text form, e.g. `task_complete_failed: stale_generation`. */
function taskError(conn: Connection, prefix: string, err: unknown): void {
  if (!(err instanceof HubError)) throw err;
  conn.sendJson({ type: 'error', error: `${prefix}: ${err.code}`, task_id: err.fields.task_id as string | undefined });
}

/** Task frames from agents (§2.1, §9.8–9.10, §9.27). */
export function taskHandlers(d: TaskFrameDeps): Handlers {
  const { tasks, scheduler, metrics, log } = d;
  /** A complete or a fail, once stored: the agent's ack, the outcome's figures and log line, its next task. */
  async function finish(
    conn: Connection,
    taskId: string,
    stored: Promise<Finished>,
    how: { errPrefix: string; logLine: string; fields?: object },
  ) {
    try {
      const r = await stored;
      conn.sendJson({ type: 'task_ack', task_id: taskId, status: r.outcome });
      metrics.taskOutcome(r.outcome, r.created_at, Date.now());
      log.info({ task_id: taskId, agent_id: r.agent, outcome: r.outcome, ...how.fields }, how.logLine);
      scheduler.finished(taskId, r);
    } catch (err) {
      taskError(conn, how.errPrefix, err);
    }
  }
  return {
    task_accepted(conn, f) {
      conn.sendJson({ type: 'task_ack', task_id: f.task_id, status: 'accepted' });
      scheduler.accepted(conn.agentId as string, f.task_id);
    },

    task_progress(_conn, f) {
      scheduler.touch(f.task_id);
    },

    async task_complete(conn, f) {
      const next = scheduler.offerFor(conn, f.task_id);
      const stored = tasks.call('complete', { ...f, next });
      await finish(conn, f.task_id, stored, { errPrefix: 'task_complete_failed', logLine: 'task finished' });
    },

    async task_failed(conn, f) {
      const error = f.error ?? f.reason ?? 'unknown';
      const next = scheduler.offerFor(conn, f.task_id);
      const stored = tasks.call('fail', { task_id: f.task_id, generation: f.generation, error, next });
      await finish(conn, f.task_id, stored, {
        errPrefix: 'task_fail_failed',
        logLine: 'task failed',
        fields: { error },
      });
    },

    async task_rejected(conn, f) {
      const agent = conn.agentId as string;
      const t = await tasks.call('reject', { id: f.task_id, agent, reason: f.reason ?? 'busy' });
      if (t) log.info({ task_id: f.task_id, agent_id: agent, reason: f.reason ?? 'busy' }, 'task rejected');
      if (scheduler.taskOf(agent) === f.task_id || scheduler.stateOf(agent) === 'idle') scheduler.rejected(agent);
    },

    async task_recovering(conn, f) {
      const agent = conn.agentId as string;
      const r = await tasks.call('recover', { id: f.task_id, agent });
      if (r.action === 'continue') {
        scheduler.working(agent, f.task_id);
        conn.sendJson({ type: 'task_continue', task_id: f.task_id, generation: r.generation });
      } else {
        conn.sendJson({ type: 'task_reassign', task_id: f.task_id });
      }
    },

    async state_report(conn, f) {
      const agent = conn.agentId as string;
      const action = await tasks.call('stateReport', { id: f.task_id, agent, generation: f.generation ?? null });
      if (action === 'continue') scheduler.working(agent, f.task_id);
      else if (scheduler.taskOf(agent) === f.task_id) scheduler.idle(agent);
      else scheduler.reported(agent);
      conn.sendJson({ type: 'state_report_ack', task_id: f.task_id, action });
    },

    wake_result(_conn, f) {
      if (f.status === 'success') scheduler.touch(f.task_id);
    },
  };
}
