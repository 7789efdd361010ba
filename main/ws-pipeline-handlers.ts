import { HubError } from '../shared/errors.js';
import type { Connection } from './connection.js';
import type { Handlers } from './ws-handlers.js';

/** Task errors keep the original's text form, e.g. `task_complete_failed: stale_generation`. */
function taskError(conn: Connection, prefix: string, err: unknown): void {
  if (!(err instanceof HubError)) throw err;
  conn.sendJson({ type: 'error', error: `${prefix}: ${err.code}`, task_id: err.fields.task_id as string | undefined });
}

/** Task frames from agents (§2.1, §9.8–9.10, §9.27). */
export const taskHandlers: Handlers = {
  task_accepted(hub, conn, f) {
    conn.sendJson({ type: 'task_ack', task_id: f.task_id, status: 'accepted' });
    hub.pipeline.accepted(conn.agentId as string, f.task_id);
  },

  task_progress(hub, _conn, f) {
    hub.pipeline.touch(f.task_id);
  },

  async task_complete(hub, conn, f) {
    try {
      const r = await hub.tasks.call('complete', { ...f, next: hub.pipeline.offerFor(conn, f.task_id) });
      conn.sendJson({ type: 'task_ack', task_id: f.task_id, status: r.outcome });
      hub.metrics.taskOutcome(r.outcome, r.created_at, Date.now());
      hub.log.info({ task_id: f.task_id, agent_id: r.agent, outcome: r.outcome }, 'task finished');
      hub.pipeline.finished(r.agent, f.task_id, r.next);
    } catch (err) {
      taskError(conn, 'task_complete_failed', err);
    }
  },

  async task_failed(hub, conn, f) {
    try {
      const error = f.error ?? f.reason ?? 'unknown';
      const next = hub.pipeline.offerFor(conn, f.task_id);
      const r = await hub.tasks.call('fail', { task_id: f.task_id, generation: f.generation, error, next });
      conn.sendJson({ type: 'task_ack', task_id: f.task_id, status: r.outcome });
      hub.metrics.taskOutcome(r.outcome, r.created_at, Date.now());
      hub.log.info({ task_id: f.task_id, agent_id: r.agent, outcome: r.outcome, error }, 'task failed');
      hub.pipeline.finished(r.agent, f.task_id, r.next);
    } catch (err) {
      taskError(conn, 'task_fail_failed', err);
    }
  },

  async task_rejected(hub, conn, f) {
    const agent = conn.agentId as string;
    const t = await hub.tasks.call('reject', { id: f.task_id, agent, reason: f.reason ?? 'busy' });
    if (t) hub.log.info({ task_id: f.task_id, agent_id: agent, reason: f.reason ?? 'busy' }, 'task rejected');
    if (hub.pipeline.taskOf(agent) === f.task_id || hub.pipeline.stateOf(agent) === 'idle')
      hub.pipeline.rejected(agent);
  },

  async task_recovering(hub, conn, f) {
    const agent = conn.agentId as string;
    const r = await hub.tasks.call('recover', { id: f.task_id, agent });
    if (r.action === 'continue') {
      hub.pipeline.working(agent, f.task_id);
      conn.sendJson({ type: 'task_continue', task_id: f.task_id, generation: r.generation });
    } else {
      conn.sendJson({ type: 'task_reassign', task_id: f.task_id });
    }
  },

  async state_report(hub, conn, f) {
    const agent = conn.agentId as string;
    const action = await hub.tasks.call('stateReport', { id: f.task_id, agent, generation: f.generation ?? null });
    if (action === 'continue') hub.pipeline.working(agent, f.task_id);
    else if (hub.pipeline.taskOf(agent) === f.task_id) hub.pipeline.idle(agent);
    else hub.pipeline.reported(agent);
    conn.sendJson({ type: 'state_report_ack', task_id: f.task_id, action });
  },

  wake_result(hub, _conn, f) {
    if (f.status === 'success') hub.pipeline.touch(f.task_id);
  },
};
