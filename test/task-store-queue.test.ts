import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { BatchResult } from '../shared/batch.js';
import type { TaskReport } from '../shared/domains/tasks.js';
import { openDomainEnv } from '../storage/env.js';
import { cleanDead, drain, retryDead } from '../storage/task-bulk.js';
import { taskBatchHooks, taskOps } from '../storage/task-ops.js';
import { BACKOFF_MAX_MS, backoffWait, TASK_DBS, TaskStore, unpausedSpans } from '../storage/tasks.js';
import { batchHandler } from '../workers/batch-handler.js';
import { tasks } from './helpers/task-store.js';

describe('dependencies that fail', () => {
  test('a dependant of a dead-lettered dependency fails as dependency_failed, and its own dependants with it', () => {
    const { store, tx, submit, schedule, agent } = tasks();
    const dep = submit({ description: 'dep', max_retries: 1 }, 1);
    const child = submit({ description: 'child', depends_on: [dep.id] }, 2);
    const grandchild = submit({ description: 'grandchild', depends_on: [child.id], delay_ms: 50 }, 3);
    schedule([agent('w')], 4);
    tx(() => store.fail({ task_id: dep.id, generation: 1, error: 'no' }, 5));
    assert.equal(store.get(dep.id).status, 'dead_letter');
    const c = store.get(child.id);
    assert.deepEqual([c.status, c.last_error], ['dead_letter', `dependency_failed: ${dep.id} dead_letter (no)`]);
    assert.deepEqual(c.history[0].details, { reason: c.last_error, dependency: dep.id, cause: 'dead_letter (no)' });
    const g = store.get(grandchild.id);
    assert.equal(g.status, 'dead_letter', 'a scheduled dependant fails too');
    assert.equal(g.last_error, `dependency_failed: ${child.id} dead_letter (dependency_failed)`);
    assert.equal(store.stats().dependency_failed, 2);
    assert.deepEqual(schedule([agent('w')], 6), []);
  });

  test('a dependant of a cancelled dependency fails; a submit on a dead letter is refused; a retry waits for a live one', () => {
    const { store, tx, submit, schedule, agent, code } = tasks();
    const dep = submit({ description: 'dep', max_retries: 1 }, 1);
    const child = submit({ description: 'child', depends_on: [dep.id] }, 2);
    tx(() => store.cancel(dep.id, null, 3));
    assert.equal(store.get(child.id).last_error, `dependency_failed: ${dep.id} cancelled`);
    // the dependency dies; a new dependant is refused, a retried one waits for it again
    const dep2 = submit({ description: 'dep2', max_retries: 1 }, 4);
    const child2 = submit({ description: 'child2', depends_on: [dep2.id] }, 5);
    schedule([agent('w')], 6);
    tx(() => store.fail({ task_id: dep2.id, generation: 1, error: 'no' }, 7));
    assert.equal(
      code(() => store.submit({ description: 'x', depends_on: [dep2.id] }, 's', 8)),
      'validation_failed',
    );
    assert.equal(
      code(() => store.retry(child2.id, null, 8)),
      'dependency_failed',
    );
    tx(() => store.retry(dep2.id, null, 9));
    assert.equal(tx(() => store.retry(child2.id, null, 10)).status, 'queued');
    assert.deepEqual(
      schedule([agent('w')], 11).map((t) => t.id),
      [dep2.id],
      'the dependant still waits',
    );
    tx(() => store.complete({ task_id: dep2.id, generation: 3 }, 12));
    assert.deepEqual(
      schedule([agent('w')], 13).map((t) => t.id),
      [child2.id],
    );
    assert.equal(store.stats().dependency_failed, 1, 'the retried one left the count');
  });
});

describe('delayed tasks and back-off in the store', () => {
  test('a delayed task is queued when due, in its lane at its due time (behind what was queued before)', () => {
    const { store, tx, submit, agent } = tasks();
    const delayed = submit({ description: 'd', run_at: 100 }, 1);
    const early = submit({ description: 'e' }, 50);
    assert.equal(delayed.status, 'scheduled');
    assert.deepEqual(
      tx(() => store.promote(99)),
      { promoted: 0, next_due: 100 },
    );
    const late = submit({ description: 'l' }, 150);
    assert.deepEqual(
      tx(() => store.promote(200)),
      { promoted: 1, next_due: null },
    );
    const order = tx(() => store.schedule([agent('a'), agent('b'), agent('c')], 201)).map((t) => t.id);
    assert.deepEqual(order, [early.id, delayed.id, late.id]);
  });

  test('back-off waits: fixed, or doubling from delay_ms; capped; none without a back-off', () => {
    assert.deepEqual(
      [1, 2, 3].map((n) => backoffWait({ type: 'exponential', delay_ms: 100 }, n)),
      [100, 200, 400],
    );
    assert.deepEqual(
      [1, 2].map((n) => backoffWait({ type: 'fixed', delay_ms: 70 }, n)),
      [70, 70],
    );
    assert.equal(backoffWait({ type: 'exponential', delay_ms: 1000 }, 100), BACKOFF_MAX_MS);
    assert.equal(backoffWait(null, 3), 0);
  });

  test('a failure with a back-off schedules the retry; it is due at retry_at, then queued', () => {
    const { store, tx, submit, agent } = tasks();
    const t = submit({ description: 'b', backoff: { type: 'fixed', delay_ms: 30 } }, 1);
    tx(() => store.schedule([agent('a')], 2));
    const r = tx(() => store.fail({ task_id: t.id, generation: 1, error: 'x' }, 10));
    assert.deepEqual([r.outcome, r.task.status, r.task.retry_at], ['retried', 'scheduled', 40]);
    assert.deepEqual(
      tx(() => store.schedule([agent('a')], 20)),
      [],
      'not before its back-off',
    );
    assert.equal(tx(() => store.promote(40)).promoted, 1);
    const again = store.get(t.id);
    assert.deepEqual([again.status, again.retry_at], ['queued', null]);
  });
  test('a delayed dependant is tracked once, at submit: queued when due, it still fails with its dependency', () => {
    const { env, store, tx, submit, schedule, agent } = tasks();
    const dep = submit({ description: 'dep', needed_capabilities: ['x'] }, 1);
    const child = submit({ description: 'child', depends_on: [dep.id], delay_ms: 10 }, 2);
    assert.equal(tx(() => store.promote(12)).promoted, 1);
    tx(() => store.cancel(dep.id, null, 13));
    assert.equal(store.get(child.id).last_error, `dependency_failed: ${dep.id} cancelled`);
    // a back-off retry waits on nothing: it was assigned, so its dependencies had completed
    const dep2 = submit({ description: 'dep2' }, 20);
    const retried = submit({ description: 'r', depends_on: [dep2.id], backoff: { type: 'fixed', delay_ms: 5 } }, 21);
    schedule([agent('w')], 22);
    tx(() => store.complete({ task_id: dep2.id, generation: 1 }, 23));
    schedule([agent('w')], 24);
    tx(() => store.fail({ task_id: retried.id, generation: 1, error: 'x' }, 25));
    assert.equal(tx(() => store.promote(30)).promoted, 1);
    assert.equal(store.get(retried.id).status, 'queued');
    assert.deepEqual([...env.dbs.deps.getKeys({})], []);
  });
});

describe('retention, bulk actions and the change log', () => {
  test('only the newest completed tasks within the count stay; removals are counted', () => {
    const { store, tx, submit, agent } = tasks({ keepCompleted: 2 });
    const ids: string[] = [];
    for (let i = 0; i < 4; i++) {
      const t = submit({ description: `t${i}` }, i);
      tx(() => store.schedule([agent('a')], 10 + i));
      tx(() => store.complete({ task_id: t.id, generation: 1 }, 20 + i));
      ids.push(t.id);
    }
    tx(() => store.retention.trimCounts());
    assert.deepEqual(
      ids.map((id) => store.find(id)?.status ?? null),
      [null, null, 'completed', 'completed'],
    );
    assert.deepEqual(store.stats().removed, { completed: 2, dead_letter: 0 });
    assert.equal(store.stats().by_status.completed, 2);
  });

  test('drain takes the waiting tasks of a lane; bulk retry and clean take dead letters in steps', () => {
    const { store, tx, submit, agent } = tasks();
    const high = submit({ description: 'h', priority: 'high' }, 1);
    const low = submit({ description: 'l', priority: 'low' }, 2);
    const step = tx(() => drain(store, { lane: 1, scheduled: false }, 3));
    assert.deepEqual(step, { done: [high.id], failed: [], more: false });
    assert.equal(store.get(low.id).status, 'queued');
    const dead: string[] = [];
    for (let i = 0; i < 3; i++) {
      const t = submit({ description: `d${i}`, max_retries: 0, priority: 'urgent' }, 10 + i);
      tx(() => store.schedule([agent('a')], 20 + i));
      tx(() => store.fail({ task_id: t.id, generation: 1, error: 'x' }, 30 + i));
      dead.push(t.id);
    }
    const retried = tx(() => retryDead(store, { before: 31, skip: 0 }, 40));
    assert.deepEqual(retried.done, dead.slice(0, 2), 'those dead by `before`, oldest first');
    const cleaned = tx(() => cleanDead(store, { ids: [dead[2], low.id] }, 41));
    assert.deepEqual(cleaned, { done: [dead[2]], failed: [{ task_id: low.id, error: 'task_not_found' }], more: false });
    assert.equal(store.stats().dead_letter, 0);
  });

  test('a lane drain reads the scheduled tasks of other lanes once, not once per step; one due earlier still goes', () => {
    const { store, tx } = tasks();
    const delayed = (n: number, priority: 'high' | 'low', from: number) =>
      tx(() =>
        Array.from(
          { length: n },
          (_, i) => store.submit({ description: 'd', priority, run_at: from + i }, 's', 1).task.id,
        ),
      );
    const low = delayed(300, 'low', 1_000);
    const high = delayed(1_100, 'high', 2_000);
    const reads = new Map<string, number>();
    const get = store.ix.get.bind(store.ix);
    store.ix.get = (id) => {
      reads.set(id, (reads.get(id) ?? 0) + 1);
      return get(id);
    };
    const step = () => tx(() => drain(store, { lane: 1, scheduled: true }, 5));
    assert.deepEqual([step().done.length, step().done.length], [500, 500]);
    // due before where the drain got to: the next step reads from it
    const late = delayed(1, 'high', 1_500);
    const last = step();
    assert.deepEqual([last.done.length, last.more], [101, false]);
    assert.deepEqual(
      [...high, ...late].filter((id) => store.find(id)),
      [],
    );
    assert.equal(store.stats().by_status.scheduled, low.length);
    assert.equal(Math.max(...low.map((id) => reads.get(id) ?? 0)), 1);
  });

  test('pausing a lane keeps its tasks queued; the pause is kept across a reopen', async () => {
    const { store, tx, submit, agent, dir, close } = tasks();
    const low = submit({ description: 'l', priority: 'low' }, 1);
    tx(() => store.pause(3, true));
    assert.deepEqual(
      tx(() => store.schedule([agent('a')], 2)),
      [],
    );
    await close();
    const again = tasks({}, dir);
    assert.deepEqual(again.store.stats().paused, { all: false, lanes: [3] });
    again.tx(() => again.store.pause(null, true));
    again.tx(() => again.store.pause(3, false));
    assert.deepEqual(
      again.tx(() => again.store.schedule([agent('a')], 3)),
      [],
      'the whole queue is paused',
    );
    again.tx(() => again.store.pause(null, false));
    assert.equal(again.tx(() => again.store.schedule([agent('a')], 4))[0].id, low.id);
  });

  test('a paused lane between two others is skipped: the pass reads the lanes around it, in lane order', () => {
    assert.deepEqual(unpausedSpans([]), [[0, 4]]);
    assert.deepEqual(unpausedSpans([1]), [
      [0, 1],
      [2, 4],
    ]);
    assert.deepEqual(unpausedSpans([0, 3]), [[1, 3]]);
    assert.deepEqual(unpausedSpans([0, 1, 2, 3]), []);
    const { store, tx, submit, agent } = tasks();
    const high = submit({ description: 'h', priority: 'high' }, 1);
    const normal = submit({ description: 'n', priority: 'normal' }, 2);
    const urgent = submit({ description: 'u', priority: 'urgent' }, 3);
    tx(() => store.pause(1, true));
    const ids = tx(() => store.schedule([agent('a'), agent('b'), agent('c')], 4)).map((t) => t.id);
    assert.deepEqual(ids, [urgent.id, normal.id]);
    assert.equal(store.get(high.id).status, 'queued');
  });

  test('a store written before the new indexes is reindexed once: states, counts, failed dependencies', async () => {
    const { env, store, tx, submit, agent, dir, close } = tasks();
    const done = submit({ description: 'done' }, 1);
    tx(() => store.schedule([agent('a')], 2));
    tx(() => store.complete({ task_id: done.id, generation: 1 }, 3));
    const dep = submit({ description: 'dep', needed_capabilities: ['x'] }, 4);
    const child = submit({ description: 'child', depends_on: [dep.id] }, 5);
    // what an older hub left: the task records only (and its dependency cancelled without a cascade)
    tx(() => {
      for (const name of ['queue', 'dead', 'done', 'due', 'deps', 'counts', 'byAgent'] as const) {
        for (const k of [...env.dbs[name].getKeys({})]) env.dbs[name].removeSync(k);
      }
      env.dbs.tasks.removeSync(dep.id);
    });
    await close();
    const again = tasks({}, dir);
    const s = again.store.stats();
    assert.deepEqual(s.by_status, { scheduled: 0, queued: 0, assigned: 0, completed: 1 });
    assert.equal(s.dead_letter, 1);
    assert.equal(again.store.get(child.id).last_error, `dependency_failed: ${dep.id} cancelled`);
    assert.deepEqual(
      again.store.queries.list({ status: 'completed' }).tasks.map((t) => t.id),
      [done.id],
    );
  });

  test('an indexed store starts with a read: no write transaction', async () => {
    const first = tasks();
    await first.close();
    const env = openDomainEnv(first.dir, 'tasks', TASK_DBS);
    const transact = env.root.transactionSync.bind(env.root);
    let writes = 0;
    env.root.transactionSync = (fn, flags) => {
      writes++;
      return transact(fn, flags);
    };
    new TaskStore(env, first.store.caps);
    await env.close();
    assert.equal(writes, 0);
  });

  test('the worker reports figures after each batch, and changes only while main watches (a failed item leaves none)', async () => {
    const { env, store } = tasks();
    const ops = {
      submit: (s: TaskStore, a: { d: string }, now: number) => s.submit({ description: a.d }, 'sub', now).task.id,
      boom: (s: TaskStore, _a: unknown, now: number) => {
        s.submit({ description: 'rolled back' }, 'sub', now);
        throw new Error('boom');
      },
    };
    const run = batchHandler(() => ({ root: env.root, path: env.path, store }), ops, {
      names: TASK_DBS,
      changes: (s) => s.changes,
      report: (s): TaskReport => ({ figures: s.figures(), changes: s.changes.take() }),
    });
    const quiet = (await run({ items: [{ op: 'submit', args: { d: 'a' } }], now: 1 })) as BatchResult;
    assert.deepEqual((quiet.report as TaskReport).changes, []);
    assert.equal((quiet.report as TaskReport).figures.by_status.queued, 1);
    const watched = (await run({
      items: [
        { op: 'submit', args: { d: 'b' } },
        { op: 'boom', args: {} },
      ],
      now: 2,
      live: true,
    })) as BatchResult;
    const changes = (watched.report as TaskReport).changes;
    assert.deepEqual(
      changes.map((c) => ('removed' in c ? 'removed' : c.description)),
      ['b'],
    );
    assert.equal((watched.report as TaskReport).figures.by_status.queued, 2);
  });

  test('a batch run again after an item threw: a pause later in it does not reach the items before it, nor leak', async () => {
    const { env, store, submit, agent } = tasks();
    const queued = submit({ description: 'q' }, 1);
    const run = batchHandler(() => ({ root: env.root, path: env.path, store }), taskOps, taskBatchHooks);
    const missing = { op: 'get', args: { id: 'task-none' } };
    const first = (await run({
      items: [
        { op: 'schedule', args: { candidates: [agent('a')] } },
        { op: 'pause', args: { lane: null, paused: true } },
        missing,
      ],
      now: 2,
    })) as BatchResult;
    assert.deepEqual(
      first.results.map((r) => r.ok),
      [true, true, false],
    );
    assert.deepEqual(
      (first.results[0] as { value: Array<{ id: string }> }).value.map((t) => t.id),
      [queued.id],
      'the schedule ran before the pause, on the second attempt too',
    );
    assert.deepEqual(store.pauses.state, { all: true, lanes: [] });
    const second = (await run({
      items: [
        { op: 'pause', args: { lane: null, paused: false } },
        { op: 'pause', args: { lane: 2, paused: true } },
        missing,
      ],
      now: 3,
    })) as BatchResult;
    assert.deepEqual((second.results[0] as { value: unknown }).value, { all: false, lanes: [] });
    assert.deepEqual((second.results[1] as { value: unknown }).value, { all: false, lanes: [2] });
  });
});
