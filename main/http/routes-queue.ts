import type { Domain } from '../../shared/domains/domain.js';
import type { BulkStep, TaskApi } from '../../shared/domains/tasks.js';
import type { HttpBody } from '../../shared/schemas/http.js';
import { PRIORITIES } from '../../shared/schemas/tasks.js';
import type { Logger } from '../log.js';
import type { Route } from './router.js';

export interface QueueRouteDeps {
  tasks: Domain<TaskApi>;
  /** a scheduler pass (after a resume or a requeue) */
  kick: () => void;
  log: Logger;
}

/** Failures a bulk reply lists; the count says how many there were. */
const FAILED_SHOWN = 100;

/** Runs a bulk action's bounded steps (each its own batch item) until the worker says there is no more. */
async function steps(step: (skip: number) => Promise<BulkStep>) {
  let done = 0;
  const failed: BulkStep['failed'] = [];
  for (let more = true; more; ) {
    const r = await step(failed.length);
    done += r.done.length;
    failed.push(...r.failed);
    more = r.more;
  }
  return { done, failed: failed.slice(0, FAILED_SHOWN), failed_count: failed.length };
}

const laneOf = (lane: keyof typeof PRIORITIES | null | undefined) => (lane == null ? null : PRIORITIES[lane]);

/** These dead letters, or every one that died at least `older_than_ms` ago (all of them without it). */
function selection(b: HttpBody<'deadLetterBulk'>) {
  const before = Date.now() - (b.older_than_ms ?? 0);
  return (skip: number) => (b.task_ids ? { ids: b.task_ids } : { before, skip });
}

/**
 * What BullMQ's Queue gives an operator, on the admin port (§9.1): pause and
 * resume the queue or one lane (assignments stop; submits, running tasks and
 * scheduled tasks coming due go on), drain the waiting tasks, and retry or
 * clean dead letters in bulk.
 */
export const queueRoutes = (d: QueueRouteDeps): Route[] => {
  const pause = (paused: boolean): Route => ({
    method: 'POST',
    path: paused ? '/admin/queue/pause' : '/admin/queue/resume',
    auth: 'admin',
    body: 'queueLane',
    handler: async ({ body }) => {
      const lane = (body as HttpBody<'queueLane'>).lane ?? null;
      const state = await d.tasks.call('pause', { lane: laneOf(lane), paused });
      d.log.info({ lane: lane ?? 'all', paused: state }, paused ? 'queue paused' : 'queue resumed');
      if (!paused) d.kick();
      return { body: { status: paused ? 'paused' : 'resumed', lane, paused: state } };
    },
  });
  return [
    pause(true),
    pause(false),
    {
      method: 'POST',
      path: '/admin/queue/drain',
      auth: 'admin',
      body: 'queueDrain',
      handler: async ({ body }) => {
        const b = body as HttpBody<'queueDrain'>;
        const args = { lane: laneOf(b.lane), scheduled: b.scheduled ?? false };
        const r = await steps(() => d.tasks.call('drain', args));
        d.log.info({ lane: b.lane ?? 'all', scheduled: args.scheduled, removed: r.done }, 'queue drained');
        return { body: { status: 'drained', lane: b.lane ?? null, removed: r.done } };
      },
    },
    ...(['retry', 'clean'] as const).map(
      (what): Route => ({
        method: 'POST',
        path: `/admin/dead-letter/${what}`,
        auth: 'admin',
        body: 'deadLetterBulk',
        handler: async ({ body }) => {
          const sel = selection(body as HttpBody<'deadLetterBulk'>);
          const op = what === 'retry' ? 'retryDead' : 'cleanDead';
          const r = await steps((skip) => d.tasks.call(op, sel(skip)));
          d.log.info({ done: r.done, failed: r.failed_count }, `dead letters: ${what}`);
          if (what === 'retry' && r.done) d.kick();
          const done =
            what === 'retry' ? { status: 'requeued', requeued: r.done } : { status: 'cleaned', removed: r.done };
          return { body: { ...done, failed: r.failed, failed_count: r.failed_count } };
        },
      }),
    ),
  ];
};
