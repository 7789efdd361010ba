import type * as v from 'valibot';
import type { Domain } from '../../shared/domains/domain.js';
import type { TaskApi } from '../../shared/domains/tasks.js';
import { ErrorCode, HubError } from '../../shared/errors.js';
import type { HttpBody } from '../../shared/schemas/http.js';
import { PRIORITIES, type Task, type TaskSubmit, taskView } from '../../shared/schemas/tasks.js';
import { unknownKeys } from '../../shared/schemas/validate.js';
import { assignFrame } from '../../shared/task-frames.js';
import { newId } from '../../shared/tokens.js';
import type { Fleet } from '../fleet.js';
import type { Logger } from '../log.js';
import type { Scheduler } from '../scheduler.js';
import { type AuthMode, type Ctx, idempotencyKey, type Route } from './router.js';

export interface TaskRouteDeps {
  tasks: Domain<TaskApi>;
  scheduler: Scheduler;
  fleet: Fleet;
  log: Logger;
  /** the submit schema: fields it does not know are listed in the reply */
  submitSchema: v.GenericSchema;
}

async function cancel(d: TaskRouteDeps, id: string, by: string | null) {
  const { task: t, dependents_failed } = await d.tasks.call('cancel', { id, by });
  if (t.status === 'assigned' && t.assigned_to) {
    d.fleet.send(t.assigned_to, { type: 'task_cancelled', task_id: id, timestamp: Date.now() });
    d.scheduler.release(t.assigned_to, id);
  }
  d.log.info({ task_id: id, previous_status: t.status, by: by ?? 'admin', dependents_failed }, 'task cancelled');
  // the §3.3 shape, plus how many dependents failed with it when any did
  return {
    status: 'cancelled',
    task_id: id,
    previous_status: t.status,
    ...(dependents_failed ? { dependents_failed } : {}),
  };
}

async function retry(d: TaskRouteDeps, id: string, by: string | null) {
  const t = await d.tasks.call('retry', { id, by });
  d.log.info({ task_id: id, by: by ?? 'admin' }, 'dead-letter task requeued');
  d.scheduler.kick();
  return { status: 'requeued', task_id: id, priority: t.priority };
}

/** A page of tasks as the list routes answer it: `cursor` continues it, null at the end. */
const pageBody = (p: { tasks: Task[]; cursor: string | null }) => {
  const tasks = p.tasks.map(taskView);
  return { tasks, count: tasks.length, cursor: p.cursor };
};

/** Reads shared by the public (agent token) and admin (admin token) ports. */
function reads(d: TaskRouteDeps, auth: AuthMode): Route[] {
  return [
    {
      method: 'GET',
      path: '/api/tasks',
      auth,
      handler: async (ctx: Ctx) => {
        const q = ctx.parse('taskQuery');
        const priority = q.priority === undefined ? undefined : PRIORITIES[q.priority];
        return { body: pageBody(await d.tasks.call('list', { ...q, priority })) };
      },
    },
    {
      method: 'GET',
      path: '/api/tasks/dead-letter',
      auth,
      handler: async (ctx: Ctx) => {
        const q = ctx.parse('pageQuery');
        return { body: pageBody(await d.tasks.call('list', { ...q, status: 'dead_letter' })) };
      },
    },
    {
      method: 'GET',
      path: '/api/tasks/stats',
      auth,
      handler: async () => ({ body: await d.tasks.call('stats', {}) }),
    },
    {
      method: 'GET',
      path: '/api/tasks/:id',
      auth,
      handler: async ({ params }) => ({ body: taskView(await d.tasks.call('get', { id: params.id })) }),
    },
  ];
}

/** Task routes on the public port: the caller's agent token, cancel and retry for the submitter (§9.1). */
export const taskRoutes = (d: TaskRouteDeps): Route[] => [
  {
    method: 'POST',
    path: '/api/tasks',
    auth: 'auth',
    action: 'task_submit',
    body: 'taskSubmit',
    handler: async (ctx) => {
      const { agent } = ctx;
      const input = ctx.body as TaskSubmit;
      const key = idempotencyKey(ctx, input.idempotency_key);
      // accepted and ignored (PROTOCOL.md: unknown fields are ignored), but said so
      const ignored = unknownKeys(d.submitSchema, ctx.raw);
      const r = await d.tasks.call('submit', { input, by: agent, key, ignored });
      if (!r.replay) {
        const { task_id, priority, status, run_at } = r.reply;
        d.log.info({ task_id, by: agent, priority, status, run_at }, 'task submitted');
        if (status === 'scheduled') d.scheduler.due(run_at);
        else d.scheduler.kick();
      }
      return { status: r.replay ? 200 : 201, body: r.reply };
    },
  },
  ...reads(d, 'auth'),
  {
    method: 'POST',
    path: '/api/tasks/:id/retry',
    auth: 'auth',
    handler: async ({ params, agent }) => ({ body: await retry(d, params.id, agent) }),
  },
  {
    method: 'POST',
    path: '/api/tasks/:id/cancel',
    auth: 'auth',
    handler: async ({ params, agent }) => ({ body: await cancel(d, params.id, agent) }),
  },
];

/** Task routes on the admin port: any task, as the admin. */
export const adminTaskRoutes = (d: TaskRouteDeps): Route[] => [
  ...reads(d, 'admin'),
  {
    method: 'POST',
    path: '/api/tasks/:id/retry',
    auth: 'admin',
    handler: async ({ params }) => ({ body: await retry(d, params.id, null) }),
  },
  {
    method: 'POST',
    path: '/api/tasks/:id/cancel',
    auth: 'admin',
    handler: async ({ params }) => ({ body: await cancel(d, params.id, null) }),
  },
  {
    method: 'POST',
    path: '/admin/push-task',
    auth: 'admin',
    body: 'pushTask',
    handler: ({ body }) => {
      const b = body as HttpBody<'pushTask'>;
      const task_id = `task-${newId()}`;
      const frame = assignFrame({ id: task_id, description: b.description, metadata: b.metadata ?? {}, generation: 0 });
      if (!d.fleet.send(b.agent_id, frame)) throw new HubError(ErrorCode.agentNotConnected);
      d.log.info({ task_id, agent_id: b.agent_id }, 'task pushed');
      return { body: { status: 'pushed', task_id, agent_id: b.agent_id } };
    },
  },
];
