import { ErrorCode, HubError } from '../shared/errors.js';
import type { HttpBody } from '../shared/schemas/http.js';
import { PRIORITIES, type Task, type TaskSubmit, taskView } from '../shared/schemas/tasks.js';
import { assignFrame } from '../shared/task-frames.js';
import { newId } from '../shared/tokens.js';
import type { Hub } from './context.js';
import { type AuthMode, type Ctx, idempotencyKey, query, type Route } from './http-server.js';

async function cancel(hub: Hub, id: string, by: string | null) {
  const t = await hub.tasks.call('cancel', { id, by });
  if (t.status === 'assigned' && t.assigned_to) {
    hub.conns.online(t.assigned_to)?.sendJson({ type: 'task_cancelled', task_id: id, timestamp: Date.now() });
    hub.pipeline.release(t.assigned_to, id);
  }
  hub.log.info({ task_id: id, previous_status: t.status, by: by ?? 'admin' }, 'task cancelled');
  return { status: 'cancelled', task_id: id, previous_status: t.status };
}

async function retry(hub: Hub, id: string, by: string | null) {
  const t = await hub.tasks.call('retry', { id, by });
  hub.log.info({ task_id: id, by: by ?? 'admin' }, 'dead-letter task requeued');
  hub.pipeline.kick();
  return { status: 'requeued', task_id: id, priority: t.priority };
}

/** A page of tasks as the list routes answer it: `cursor` continues it, null at the end. */
const pageBody = (p: { tasks: Task[]; cursor: string | null }) => {
  const tasks = p.tasks.map(taskView);
  return { tasks, count: tasks.length, cursor: p.cursor };
};

/** Reads shared by the public (agent token) and admin (admin token) ports. */
function reads(auth: AuthMode): Route[] {
  return [
    {
      method: 'GET',
      path: '/api/tasks',
      auth,
      handler: async (ctx: Ctx) => {
        const q = query(ctx, 'taskQuery');
        const priority = q.priority === undefined ? undefined : PRIORITIES[q.priority];
        return { body: pageBody(await ctx.hub.tasks.call('list', { ...q, priority })) };
      },
    },
    {
      method: 'GET',
      path: '/api/tasks/dead-letter',
      auth,
      handler: async (ctx: Ctx) => {
        const q = query(ctx, 'pageQuery');
        return { body: pageBody(await ctx.hub.tasks.call('list', { ...q, status: 'dead_letter' })) };
      },
    },
    {
      method: 'GET',
      path: '/api/tasks/stats',
      auth,
      handler: async ({ hub }) => ({ body: await hub.tasks.call('stats', {}) }),
    },
    {
      method: 'GET',
      path: '/api/tasks/:id',
      auth,
      handler: async ({ hub, params }) => ({ body: taskView(await hub.tasks.call('get', { id: params.id })) }),
    },
  ];
}

export const taskRoutes: Route[] = [
  {
    method: 'POST',
    path: '/api/tasks',
    auth: 'auth',
    action: 'task_submit',
    body: 'taskSubmit',
    handler: async (ctx) => {
      const { hub, agent } = ctx;
      const input = ctx.body as TaskSubmit;
      const key = idempotencyKey(ctx, input.idempotency_key);
      const r = await hub.tasks.call('submit', { input, by: agent, key });
      if (!r.replay) {
        hub.log.info({ task_id: r.reply.task_id, by: agent, priority: r.reply.priority }, 'task submitted');
        hub.pipeline.kick();
      }
      return { status: r.replay ? 200 : 201, body: r.reply };
    },
  },
  ...reads('auth'),
  {
    method: 'POST',
    path: '/api/tasks/:id/retry',
    auth: 'auth',
    handler: async ({ hub, params, agent }) => ({ body: await retry(hub, params.id, agent) }),
  },
  {
    method: 'POST',
    path: '/api/tasks/:id/cancel',
    auth: 'auth',
    handler: async ({ hub, params, agent }) => ({ body: await cancel(hub, params.id, agent) }),
  },
];

export const adminTaskRoutes: Route[] = [
  ...reads('admin'),
  {
    method: 'POST',
    path: '/api/tasks/:id/retry',
    auth: 'admin',
    handler: async ({ hub, params }) => ({ body: await retry(hub, params.id, null) }),
  },
  {
    method: 'POST',
    path: '/api/tasks/:id/cancel',
    auth: 'admin',
    handler: async ({ hub, params }) => ({ body: await cancel(hub, params.id, null) }),
  },
  {
    method: 'POST',
    path: '/admin/push-task',
    auth: 'admin',
    body: 'pushTask',
    handler: ({ hub, body }) => {
      const b = body as HttpBody<'pushTask'>;
      const c = hub.conns.online(b.agent_id);
      if (!c) throw new HubError(ErrorCode.agentNotConnected);
      const task_id = `task-${newId()}`;
      c.sendText(assignFrame({ id: task_id, description: b.description, metadata: b.metadata ?? {}, generation: 0 }));
      hub.log.info({ task_id, agent_id: b.agent_id }, 'task pushed');
      return { body: { status: 'pushed', task_id, agent_id: b.agent_id } };
    },
  },
];
