import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { Candidate } from '../shared/domains/tasks.js';
import { HubError } from '../shared/errors.js';
import type { Task, TaskSubmit } from '../shared/schemas/tasks.js';
import { sweepTasks } from '../storage/task-sweep.js';
import { ROUTING_KEYS } from './helpers/task-frames.js';
import { tasks } from './helpers/task-store.js';

const agent = (agent_id: string, ...capabilities: string[]): Candidate => ({ agent_id, capabilities });
const events = (t: Task) => t.history.map((h) => h.event);

describe('task lanes and the scheduler', () => {
  test('lanes run urgent → high → normal → low, FIFO inside a lane; an unknown priority is normal', () => {
    const { submit, schedule } = tasks();
    const specs: Array<[string, string | undefined]> = [
      ['low-1', 'low'],
      ['normal-1', undefined],
      ['urgent-1', 'urgent'],
      ['weird-1', 'whenever'],
      ['high-1', 'high'],
      ['low-2', 'low'],
      ['urgent-2', 'urgent'],
      ['normal-2', 'normal'],
      ['high-2', 'high'],
      ['caps-1', 'URGENT'],
    ];
    const byName = new Map<string, Task>();
    specs.forEach(([name, priority], i) => {
      byName.set(name, submit({ description: name, priority }, 100 + i));
    });
    assert.deepEqual(
      ['urgent-1', 'high-1', 'normal-1', 'low-1', 'weird-1', 'caps-1'].map((n) => byName.get(n)?.priority),
      [0, 1, 2, 3, 2, 2],
      'lanes urgent 0 < high 1 < normal 2 < low 3; unknown names → 2',
    );
    // one agent, one task per pass: the order of passes is the queue order
    const order: string[] = [];
    for (let i = 0; i < specs.length; i++) order.push(schedule([agent(`w${i}`)], 1_000 + i)[0].description);
    assert.deepEqual(order, [
      'urgent-1',
      'urgent-2',
      'high-1',
      'high-2',
      'normal-1',
      'weird-1',
      'normal-2',
      'caps-1',
      'low-1',
      'low-2',
    ]);
    assert.deepEqual(schedule([agent('idle')], 2_000), [], 'nothing left');
  });

  test('many candidates in one pass: queue order, one task per agent, the rest stay queued', () => {
    const { store, submit, schedule } = tasks();
    const ids = [1, 2, 3, 4, 5].map((i) => submit({ description: `t${i}` }, i).id);
    const got = schedule([agent('a'), agent('b'), agent('c')], 10);
    assert.deepEqual(
      got.map((t) => [t.id, t.assigned_to, t.status]),
      [
        [ids[0], 'a', 'assigned'],
        [ids[1], 'b', 'assigned'],
        [ids[2], 'c', 'assigned'],
      ],
    );
    assert.deepEqual(
      ids.map((id) => store.get(id).status),
      ['assigned', 'assigned', 'assigned', 'queued', 'queued'],
    );
    assert.equal(store.stats().queued_index_size, 2);
  });

  test('needed_capabilities must be a subset of the agent capabilities (exact strings)', () => {
    const { store, submit, schedule } = tasks();
    const gpu = submit({ description: 'gpu', needed_capabilities: ['code', 'gpu'] }, 1);
    const docs = submit({ description: 'docs', needed_capabilities: ['docs'] }, 2);
    const code = submit({ description: 'code', needed_capabilities: ['code'] }, 3);
    const nobody = submit({ description: 'nobody', needed_capabilities: ['quantum'] }, 4);
    const any = submit({ description: 'any' }, 5);
    // coder first: it does not cover gpu, so gpu goes to the gpu box; coder takes the code task
    const got = schedule([agent('coder', 'code'), agent('box', 'gpu', 'code', 'extra'), agent('writer', 'Docs')], 10);
    const assigned = new Map(got.map((t) => [t.id, t.assigned_to]));
    assert.equal(assigned.get(gpu.id), 'box');
    assert.equal(assigned.get(code.id), 'coder');
    assert.equal(assigned.get(any.id), 'writer', '"Docs" does not cover "docs"; an empty need fits anyone');
    assert.equal(assigned.has(docs.id), false);
    assert.equal(store.get(docs.id).status, 'queued');
    assert.deepEqual(
      schedule([agent('w2', 'docs')], 11).map((t) => t.id),
      [docs.id],
    );
    assert.deepEqual(schedule([agent('w3', 'code', 'gpu', 'docs')], 12), [], 'a need nobody covers stays queued');
    assert.equal(store.get(nobody.id).status, 'queued');
  });

  test('assign_to and metadata.assign_to: only that agent gets the task, others take the next one', () => {
    const { store, submit, schedule } = tasks();
    const pinned = submit({ description: 'pinned', priority: 'urgent', assign_to: 'zed' }, 1);
    const viaMeta = submit({ description: 'meta', priority: 'urgent', metadata: { assign_to: 'yan' } }, 2);
    const free = submit({ description: 'free' }, 3);
    const got = schedule([agent('abe'), agent('bo')], 10);
    assert.deepEqual(
      got.map((t) => [t.id, t.assigned_to]),
      [[free.id, 'abe']],
      'the pinned tasks wait for their agents',
    );
    assert.deepEqual([store.get(pinned.id).status, store.get(viaMeta.id).status], ['queued', 'queued']);
    const second = schedule([agent('bo'), agent('yan'), agent('zed')], 11);
    assert.deepEqual(
      second.map((t) => [t.id, t.assigned_to]),
      [
        [pinned.id, 'zed'],
        [viaMeta.id, 'yan'],
      ],
    );
  });

  test('a task with depends_on is schedulable only once every dependency is completed', () => {
    const { store, tx, submit, schedule } = tasks();
    const a = submit({ description: 'a' }, 1);
    const b = submit({ description: 'b' }, 2);
    const child = submit({ description: 'child', priority: 'urgent', depends_on: [a.id, b.id] }, 3);
    const first = schedule([agent('w1'), agent('w2'), agent('w3')], 10);
    assert.deepEqual(first.map((t) => t.id).sort(), [a.id, b.id].sort(), 'the urgent child waits');
    tx(() => store.complete({ task_id: a.id, generation: 1 }, 11));
    assert.deepEqual(schedule([agent('w1')], 12), [], 'one dependency still open');
    tx(() => store.complete({ task_id: b.id, generation: 1 }, 13));
    assert.deepEqual(
      schedule([agent('w1')], 14).map((t) => t.id),
      [child.id],
    );
  });

  test('unknown depends_on ids are a validation_failed HubError naming each one', () => {
    const { store, submit, code } = tasks();
    const known = submit({ description: 'known' }, 1);
    let err: unknown;
    try {
      store.submit({ description: 'x', depends_on: [known.id, 'task-0000000000000000', 'nope'] }, 's', 2);
    } catch (e) {
      err = e;
    }
    assert.ok(err instanceof HubError);
    assert.equal(err.code, 'validation_failed');
    const errors = err.fields.errors as Array<{ field: string; error: string; detail: string }>;
    assert.deepEqual(
      errors.map((e) => e.field),
      ['depends_on[1]', 'depends_on[2]'],
    );
    assert.ok(errors.every((e) => typeof e.error === 'string' && typeof e.detail === 'string'));
    assert.equal(
      code(() => store.submit({ description: 'y', depends_on: ['missing'] }, 's', 3)),
      'validation_failed',
    );
    assert.equal(store.stats().by_status.queued, 1, 'nothing was stored');
  });
});

describe('generation fencing and outcomes', () => {
  test('generation: 0 at submit, +1 on assign, failure-retry, reclaim and dead-letter retry', () => {
    const { store, tx, submit, schedule } = tasks();
    const t = submit({ description: 'g', max_retries: 2 }, 1);
    assert.deepEqual([t.generation, t.status, t.retry_count, t.assigned_to], [0, 'queued', 0, null]);
    assert.equal(schedule([agent('w')], 2)[0].generation, 1, 'assign');
    assert.equal(tx(() => store.fail({ task_id: t.id, generation: 1, error: 'e1' }, 3)).outcome, 'retried');
    assert.equal(store.get(t.id).generation, 2, 'failure-retry');
    assert.equal(schedule([agent('w')], 4)[0].generation, 3, 'assign');
    assert.equal(tx(() => store.reclaim(t.id, 'test', 5))?.generation, 4, 'reclaim');
    assert.equal(schedule([agent('w')], 6)[0].generation, 5, 'assign');
    assert.equal(tx(() => store.fail({ task_id: t.id, generation: 5, error: 'e2' }, 7)).outcome, 'dead_letter');
    const dead = store.get(t.id);
    assert.equal(dead.status, 'dead_letter');
    assert.equal(tx(() => store.retry(t.id, null, 8)).generation, dead.generation + 1, 'dead-letter retry');
    assert.equal(schedule([agent('w')], 9)[0].generation, dead.generation + 2, 'assign');
  });

  test('complete and fail need status assigned and the current generation', () => {
    const { store, tx, submit, schedule, code } = tasks();
    const t = submit({ description: 'f' }, 1);
    assert.equal(
      code(() => store.complete({ task_id: t.id, generation: 0 }, 2)),
      'invalid_state',
      'queued',
    );
    assert.equal(
      code(() => store.fail({ task_id: t.id, generation: 0, error: 'x' }, 2)),
      'invalid_state',
      'queued',
    );
    schedule([agent('w')], 3);
    for (const g of [0, 2, -1]) {
      assert.equal(
        code(() => store.complete({ task_id: t.id, generation: g }, 4)),
        'stale_generation',
        `complete gen ${g}`,
      );
      assert.equal(
        code(() => store.fail({ task_id: t.id, generation: g, error: 'x' }, 4)),
        'stale_generation',
        `fail gen ${g}`,
      );
    }
    assert.equal(
      code(() => store.complete({ task_id: 'task-ffffffffffffffff', generation: 1 }, 4)),
      'not_found',
    );
    assert.equal(
      code(() => store.fail({ task_id: 'task-ffffffffffffffff', generation: 1, error: 'x' }, 4)),
      'not_found',
    );
    assert.equal(store.get(t.id).status, 'assigned', 'refused calls changed nothing');
    const r = tx(() =>
      store.complete({ task_id: t.id, generation: 1, result: { status: 'success', tokens_used: 7 } }, 5),
    );
    assert.deepEqual([r.outcome, r.agent, r.task.status, r.task.tokens_used], ['complete', 'w', 'completed', 7]);
    assert.equal(
      code(() => store.complete({ task_id: t.id, generation: 1 }, 6)),
      'invalid_state',
      'completed once',
    );
    const done = store.get(t.id);
    assert.equal(events(done).filter((e) => e === 'completed').length, 1);
    assert.deepEqual(events(done), ['completed', 'assigned', 'queued'], 'history newest first');
    assert.deepEqual(done.history[1].details, { agent_id: 'w', generation: 1 });
  });

  test('tokens_used wins over result.tokens_used; result and verification fields are stored', () => {
    const { store, tx, submit, schedule } = tasks();
    const t = submit({ description: 't' }, 1);
    schedule([agent('w')], 2);
    const r = tx(() =>
      store.complete(
        {
          task_id: t.id,
          generation: 1,
          tokens_used: 42,
          result: { status: 'success', output: 'ok', tokens_used: 1 },
          verification_report: { passed: true },
          verification_history: [{ run: 1 }],
        },
        3,
      ),
    );
    assert.equal(r.task.tokens_used, 42);
    const stored = store.get(t.id);
    assert.deepEqual(
      [stored.result, stored.verification_report, stored.verification_history],
      [{ status: 'success', output: 'ok', tokens_used: 1 }, { passed: true }, [{ run: 1 }]],
    );
    assert.deepEqual(stored.history[0].details.tokens_used, 42);
  });

  test('failures count retries and dead-letter the task once retry_count reaches max_retries', () => {
    const { store, tx, submit, schedule } = tasks();
    const t = submit({ description: 'doomed' }, 1);
    assert.equal(t.max_retries, 3, 'default max_retries');
    const outcomes: string[] = [];
    for (let i = 1; i <= 3; i++) {
      const a = schedule([agent('w')], 10 * i)[0];
      assert.equal(a.retry_count, i - 1);
      outcomes.push(
        tx(() => store.fail({ task_id: t.id, generation: a.generation, error: `e${i}` }, 10 * i + 1)).outcome,
      );
    }
    assert.deepEqual(outcomes, ['retried', 'retried', 'dead_letter']);
    const dead = store.get(t.id);
    assert.deepEqual(
      [dead.status, dead.retry_count, dead.last_error, dead.assigned_to],
      ['dead_letter', 3, 'e3', null],
    );
    assert.equal(dead.history[0].event, 'dead_letter');
    assert.equal(events(dead).filter((e) => e === 'retry').length, 2);
    assert.deepEqual(schedule([agent('w')], 100), [], 'a dead letter is not scheduled');
    assert.deepEqual(
      store.queries.list({ status: 'dead_letter' }).tasks.map((d) => d.id),
      [t.id],
    );
    assert.equal(
      store.queries.list({}).tasks.some((x) => x.id === t.id),
      false,
      'the list leaves dead letters out',
    );
  });

  test('max_retries 0 and 1 dead-letter on the first failure', () => {
    const { store, tx, submit, schedule } = tasks();
    for (const max of [0, 1]) {
      const t = submit({ description: `m${max}`, max_retries: max }, max + 1);
      const a = schedule([agent('w')], 10 + max)[0];
      assert.equal(a.id, t.id);
      assert.equal(tx(() => store.fail({ task_id: t.id, generation: 1, error: 'x' }, 20 + max)).outcome, 'dead_letter');
    }
  });

  test('a completion whose result.status is "failed" counts as a failure (§9.10)', () => {
    const { store, tx, submit, schedule } = tasks();
    const t = submit({ description: 'r', max_retries: 2 }, 1);
    schedule([agent('w')], 2);
    const r = tx(() =>
      store.complete({ task_id: t.id, generation: 1, result: { status: 'failed', error: 'tests red' } }, 3),
    );
    assert.equal(r.outcome, 'retried');
    const back = store.get(t.id);
    assert.deepEqual([back.status, back.retry_count, back.last_error, back.generation], ['queued', 1, 'tests red', 2]);
    assert.equal(events(back).includes('completed'), false);
    schedule([agent('w')], 4);
    const r2 = tx(() => store.complete({ task_id: t.id, generation: 3, result: { status: 'failed' } }, 5));
    assert.equal(r2.outcome, 'dead_letter');
    assert.equal(store.get(t.id).status, 'dead_letter');
  });

  test('reject returns the task to the front of its lane with no retry counted', () => {
    const { store, tx, submit, schedule } = tasks();
    const t = submit({ description: 'busy' }, 1);
    const later = submit({ description: 'later' }, 2);
    schedule([agent('w')], 3);
    assert.equal(
      tx(() => store.reject(t.id, 'other', 'busy', 4)),
      null,
      'only its agent may reject it',
    );
    const r = tx(() => store.reject(t.id, 'w', 'busy', 4));
    assert.ok(r);
    assert.deepEqual([r.status, r.retry_count, r.assigned_to, r.priority], ['queued', 0, null, 2]);
    assert.ok(r.generation > 1, 'the rejected assignment is fenced off');
    assert.deepEqual(
      schedule([agent('v')], 5).map((x) => x.id),
      [t.id],
      'FIFO position kept (created_at), ahead of a later task',
    );
    assert.equal(store.get(later.id).status, 'queued');
    assert.equal(
      tx(() => store.reject(later.id, 'v', 'busy', 6)),
      null,
      'a queued task cannot be rejected',
    );
  });

  test('reclaims do not count as retries; the 5th reclaim dead-letters the task as "stalled"', () => {
    const { store, tx, submit, schedule } = tasks();
    const t = submit({ description: 'stall', max_retries: 1 }, 1);
    for (let i = 1; i <= 4; i++) {
      schedule([agent('w')], 10 * i);
      const r = tx(() => store.reclaim(t.id, 'stale', 10 * i + 1));
      assert.deepEqual([r?.status, r?.retry_count], ['queued', 0], `reclaim ${i}`);
    }
    schedule([agent('w')], 50);
    const r = tx(() => store.reclaim(t.id, 'stale', 51));
    assert.deepEqual([r?.status, r?.last_error, r?.retry_count], ['dead_letter', 'stalled', 0]);
    assert.equal(events(store.get(t.id)).filter((e) => e === 'reclaimed').length, 4);
    assert.equal(
      tx(() => store.reclaim(t.id, 'stale', 52)),
      null,
      'a dead letter is not reclaimed',
    );
  });

  test('reclaimAgent returns every task of a departed agent to its lane, keeping its retry count', () => {
    const { store, tx, submit, schedule } = tasks();
    const t = submit({ description: 'x' }, 1);
    schedule([agent('w')], 2);
    tx(() => store.fail({ task_id: t.id, generation: 1, error: 'e' }, 3));
    const again = schedule([agent('w')], 4)[0];
    assert.deepEqual(
      store.assignedTo('w').map((x) => x.id),
      [t.id],
    );
    const back = tx(() => store.reclaimAgent('w', 'agent_disconnected', 5));
    assert.deepEqual(
      back.map((x) => [x.id, x.status, x.retry_count, x.generation]),
      [[t.id, 'queued', 1, again.generation + 1]],
    );
    assert.deepEqual(store.assignedTo('w'), []);
  });

  test('state_report and task_recovering answer by agent and generation', () => {
    const { store, tx, submit, schedule } = tasks();
    const t = submit({ description: 's' }, 1);
    schedule([agent('w')], 2);
    assert.equal(
      tx(() => store.stateReport(t.id, 'w', 1, 3)),
      'continue',
    );
    assert.equal(store.get(t.id).updated_at, 3, 'continue refreshes updated_at');
    assert.equal(
      tx(() => store.stateReport(t.id, 'x', 1, 4)),
      'abort',
    );
    assert.equal(
      tx(() => store.stateReport('nope', 'w', 1, 4)),
      'abort',
    );
    assert.deepEqual(
      tx(() => store.recover(t.id, 'w', 5)),
      { action: 'continue', generation: 1 },
    );
    assert.deepEqual(
      tx(() => store.recover(t.id, 'x', 5)),
      { action: 'reassign' },
    );
    tx(() => store.complete({ task_id: t.id, generation: 1 }, 6));
    assert.deepEqual(
      tx(() => store.recover(t.id, 'w', 7)),
      { action: 'reassign' },
    );
    const u = submit({ description: 'stale holder' }, 8);
    schedule([agent('w')], 9);
    assert.equal(
      tx(() => store.stateReport(u.id, 'w', 0, 10)),
      'abort',
    );
    assert.deepEqual(
      [store.get(u.id).status, store.get(u.id).generation],
      ['queued', 2],
      'an abort of its own task reclaims it at once (the agent drops it)',
    );
  });
});

describe('cancel, retry and ownership', () => {
  test('cancel deletes a task in any state and unblocks nothing else', () => {
    const { store, tx, submit, schedule, code } = tasks();
    const queued = submit({ description: 'queued' }, 1);
    const assigned = submit({ description: 'assigned', priority: 'urgent' }, 2);
    const completed = submit({ description: 'completed', priority: 'urgent' }, 3);
    const dead = submit({ description: 'dead', priority: 'urgent', max_retries: 1 }, 4);
    schedule([agent('a'), agent('c'), agent('d')], 5);
    tx(() => store.complete({ task_id: completed.id, generation: 1 }, 6));
    tx(() => store.fail({ task_id: dead.id, generation: 1, error: 'x' }, 6));
    assert.deepEqual(
      [queued, assigned, completed, dead].map((t) => store.get(t.id).status),
      ['queued', 'assigned', 'completed', 'dead_letter'],
    );
    for (const t of [queued, assigned, completed, dead]) {
      const before = store.get(t.id).status;
      const out = tx(() => store.cancel(t.id, 'sub', 7)).task;
      assert.equal(out.status, before, 'cancel returns the task as it was (previous_status)');
      assert.equal(store.find(t.id), undefined);
      assert.equal(
        code(() => store.get(t.id)),
        'task_not_found',
      );
    }
    assert.deepEqual(store.assignedTo('a'), [], 'the agent index forgot the assignment');
    assert.deepEqual(store.stats(), {
      by_status: { scheduled: 0, queued: 0, assigned: 0, completed: 0 },
      by_priority: {},
      dead_letter: 0,
      queued_index_size: 0,
      dependency_failed: 0,
      paused: { all: false, lanes: [] },
      removed: { completed: 0, dead_letter: 0 },
    });
    assert.deepEqual(schedule([agent('z')], 7), []);
    assert.equal(
      code(() => store.cancel('task-ffffffffffffffff', null, 7)),
      'task_not_found',
    );
  });

  test('retry requeues a dead letter with retry_count and last_error reset; anything else is not found', () => {
    const { store, tx, submit, schedule, code } = tasks();
    const t = submit({ description: 'r', max_retries: 1, priority: 'high' }, 1);
    schedule([agent('w')], 2);
    tx(() => store.fail({ task_id: t.id, generation: 1, error: 'bad' }, 3));
    const back = tx(() => store.retry(t.id, 'sub', 4));
    assert.deepEqual(
      [back.status, back.retry_count, back.last_error, back.priority, back.assigned_to],
      ['queued', 0, null, 1, null],
    );
    assert.equal(back.history[0].event, 'queued');
    assert.equal(
      code(() => store.retry(t.id, 'sub', 5)),
      'task_not_found',
      'a queued task is no dead letter',
    );
    assert.equal(
      code(() => store.retry('task-ffffffffffffffff', null, 5)),
      'task_not_found',
    );
    assert.equal(schedule([agent('w')], 6)[0].id, t.id);
  });

  test('only the submitter or the admin (by null) may cancel or retry', () => {
    const { store, tx, submit, schedule, code } = tasks();
    const t = submit({ description: 'mine', max_retries: 1 }, 1, 'owner');
    schedule([agent('w')], 2);
    tx(() => store.fail({ task_id: t.id, generation: 1, error: 'x' }, 3));
    assert.equal(
      code(() => store.retry(t.id, 'stranger', 4)),
      'admin_port_only',
    );
    assert.equal(
      code(() => store.retry(t.id, 'w', 4)),
      'admin_port_only',
      'not even its agent',
    );
    assert.equal(
      code(() => store.cancel(t.id, 'stranger', 4)),
      'admin_port_only',
    );
    assert.equal(store.get(t.id).status, 'dead_letter', 'refusals changed nothing');
    assert.equal(tx(() => store.retry(t.id, null, 5)).status, 'queued', 'admin retry');
    const other = submit({ description: 'other' }, 6, 'owner');
    assert.equal(tx(() => store.cancel(other.id, 'owner', 7)).task.id, other.id, 'the submitter cancels');
    assert.equal(tx(() => store.cancel(t.id, null, 7)).task.id, t.id, 'the admin cancels');
  });
});

describe('the periodic sweep', () => {
  test('a task past complete_by is dead-lettered "complete_by_expired", queued or assigned', () => {
    const { store, submit, schedule, tx } = tasks();
    const queued = submit({ description: 'q', complete_by: 50, needed_capabilities: ['none'] }, 1);
    const assigned = submit({ description: 'a', complete_by: 60 }, 2);
    const future = submit({ description: 'f', complete_by: 10_000, needed_capabilities: ['none'] }, 3);
    schedule([agent('w')], 4);
    const r = tx(() => sweepTasks(store, { connected: ['w'], working: ['w'], graceUntil: 0 }, 100));
    assert.deepEqual(r.expired.map((t) => t.id).sort(), [queued.id, assigned.id].sort());
    assert.equal(r.expired.find((t) => t.id === assigned.id)?.assigned_to, 'w', 'expired copies name the old agent');
    assert.deepEqual(r.reclaimed, []);
    for (const t of [queued, assigned]) {
      const d = store.get(t.id);
      assert.deepEqual([d.status, d.last_error], ['dead_letter', 'complete_by_expired']);
    }
    assert.deepEqual(store.assignedTo('w'), []);
    assert.equal(store.get(future.id).status, 'queued');
  });

  test('a stale assignment is reclaimed (staleMs, or staleWorkingMs for a working agent)', () => {
    const { store, submit, schedule, tx } = tasks({ staleMs: 1_000, staleWorkingMs: 2_000 });
    const idle = submit({ description: 'idle', needed_capabilities: ['i'] }, 1);
    const busy = submit({ description: 'busy', needed_capabilities: ['b'] }, 2);
    schedule([agent('ai', 'i'), agent('ab', 'b')], 10);
    const sweep = (now: number) =>
      tx(() => sweepTasks(store, { connected: ['ai', 'ab'], working: ['ab'], graceUntil: 0 }, now));
    assert.deepEqual(sweep(1_000).reclaimed, [], 'fresh');
    assert.deepEqual(
      sweep(1_011).reclaimed.map((t) => t.id),
      [idle.id],
    );
    assert.equal(store.get(idle.id).history[0].details.reason, 'stale');
    assert.equal(store.get(busy.id).status, 'assigned', 'a working agent gets the longer limit');
    tx(() => store.touch(busy.id, 1_500));
    assert.deepEqual(sweep(3_000).reclaimed, [], 'a progress sign refreshed updated_at');
    const late = sweep(3_501);
    assert.deepEqual(
      late.reclaimed.map((t) => [t.id, t.status, t.retry_count]),
      [[busy.id, 'queued', 0]],
    );
  });

  test('an assignment of an absent agent is reclaimed only once the restart grace is over', () => {
    const { store, submit, schedule, tx } = tasks({ staleMs: 100_000, staleWorkingMs: 100_000 });
    const t = submit({ description: 'after restart' }, 1);
    schedule([agent('gone')], 9_500);
    const sweep = (now: number, connected: string[]) =>
      tx(() => sweepTasks(store, { connected, working: [], graceUntil: 10_000 }, now));
    assert.deepEqual(sweep(9_600, []).reclaimed, [], 'inside the grace');
    assert.deepEqual(sweep(10_500, ['gone']).reclaimed, [], 'its agent is back');
    const r = sweep(10_000, []);
    assert.deepEqual(
      r.reclaimed.map((x) => x.id),
      [t.id],
    );
    assert.equal(store.get(t.id).history[0].details.reason, 'agent_offline');
  });

  test('the queue TTL is off by default; when set it dead-letters old queued non-trivial tasks', () => {
    const off = tasks();
    const kept = off.submit({ description: 'backlog' }, 1);
    off.tx(() => sweepTasks(off.store, { connected: [], working: [], graceUntil: 0 }, 10_000_000));
    assert.equal(off.store.get(kept.id).status, 'queued', 'taskTtlMs 0: a backlog never expires');

    const { store, submit, schedule, tx } = tasks({ taskTtlMs: 1_000, staleMs: 100_000 });
    const old = submit({ description: 'old', needed_capabilities: ['none'] }, 0);
    const trivial = submit(
      { description: 'old trivial', complexity_tier: 'trivial', needed_capabilities: ['none'] },
      0,
    );
    const young = submit({ description: 'young', needed_capabilities: ['none'] }, 1_500);
    const running = submit({ description: 'running' }, 0);
    schedule([agent('w')], 1_900);
    const r = tx(() => sweepTasks(store, { connected: ['w'], working: [], graceUntil: 0 }, 2_000));
    assert.deepEqual(
      r.expired.map((t) => t.id),
      [old.id],
    );
    assert.deepEqual([store.get(old.id).status, store.get(old.id).last_error], ['dead_letter', 'ttl_expired']);
    assert.equal(store.get(trivial.id).status, 'queued');
    assert.equal(store.get(young.id).status, 'queued');
    assert.equal(store.get(running.id).status, 'assigned', 'only queued tasks expire');
  });
});

describe('views and routing', () => {
  test('stats(): counts by status, queued by priority, dead letters and the queue index', () => {
    const { store, tx, submit, schedule } = tasks();
    assert.deepEqual(store.stats(), {
      by_status: { scheduled: 0, queued: 0, assigned: 0, completed: 0 },
      by_priority: {},
      dead_letter: 0,
      queued_index_size: 0,
      dependency_failed: 0,
      paused: { all: false, lanes: [] },
      removed: { completed: 0, dead_letter: 0 },
    });
    const u = submit({ description: 'u', priority: 'urgent' }, 1);
    const h = submit({ description: 'h', priority: 'high', max_retries: 1 }, 2);
    submit({ description: 'n1', needed_capabilities: ['none'] }, 3);
    submit({ description: 'n2', needed_capabilities: ['none'] }, 4);
    submit({ description: 'l', priority: 'low', needed_capabilities: ['none'] }, 5);
    submit({ description: 'h2', priority: 'high', needed_capabilities: ['none'] }, 6);
    schedule([agent('a'), agent('b')], 10);
    tx(() => store.complete({ task_id: u.id, generation: 1 }, 11));
    tx(() => store.fail({ task_id: h.id, generation: 1, error: 'x' }, 11));
    const c = submit({ description: 'c' }, 12);
    schedule([agent('a')], 13);
    assert.equal(store.get(c.id).status, 'assigned');
    assert.deepEqual(store.stats(), {
      by_status: { scheduled: 0, queued: 4, assigned: 1, completed: 1 },
      by_priority: { '1': 1, '2': 2, '3': 1 },
      dead_letter: 1,
      queued_index_size: 4,
      dependency_failed: 0,
      paused: { all: false, lanes: [] },
      removed: { completed: 0, dead_letter: 0 },
    });
  });

  test('list(): filters by status, priority, assigned_to, goal, submitter and capability; queued in lane order, the rest by age', () => {
    const { store, submit, schedule } = tasks();
    const low = submit({ description: 'low', priority: 'low', needed_capabilities: ['none'] }, 1);
    const n1 = submit({ description: 'n1', goal_id: 'goal-1', needed_capabilities: ['none'] }, 2);
    const urgent = submit({ description: 'u', priority: 'urgent' }, 3);
    const n2 = submit({ description: 'n2', needed_capabilities: ['none', 'gpu'] }, 4);
    schedule([agent('w')], 5);
    const ids = (f: Parameters<typeof store.queries.list>[0]) => store.queries.list(f).tasks.map((t) => t.id);
    assert.deepEqual(ids({}), [low.id, n1.id, urgent.id, n2.id]);
    assert.deepEqual(ids({ status: 'queued' }), [n1.id, n2.id, low.id]);
    assert.deepEqual(ids({ priority: 2 }), [n1.id, n2.id]);
    assert.deepEqual(ids({ assigned_to: 'w' }), [urgent.id]);
    assert.deepEqual(ids({ status: 'assigned' }), [urgent.id]);
    assert.deepEqual(ids({ goal_id: 'goal-1' }), [n1.id]);
    assert.deepEqual(ids({ capability: 'gpu' }), [n2.id]);
    assert.deepEqual(ids({ submitted_by: 'nobody' }), []);
  });

  test('list(): pages of `limit` continue with the cursor until it is null', () => {
    const { store, submit } = tasks();
    const all = Array.from({ length: 7 }, (_, i) => submit({ description: `t${i}` }, i + 1).id);
    for (const status of [undefined, 'queued'] as const) {
      const seen: string[] = [];
      let cursor: string | undefined;
      for (let pages = 0; pages < 10; pages++) {
        const page = store.queries.list({ status, limit: 3, cursor });
        seen.push(...page.tasks.map((t) => t.id));
        if (page.cursor === null) break;
        cursor = page.cursor;
      }
      assert.deepEqual(seen, all, `every task once, in order (${status ?? 'all'})`);
    }
    assert.equal(store.queries.list({ limit: 5000 }).tasks.length, 7, 'a limit over 1,000 is clamped, not refused');
  });

  test('complexity comes from complexity_tier or a keyword guess; only trivial tasks get a routing_decision', () => {
    const { submit, schedule } = tasks();
    const specs: Array<[string, TaskSubmit, string, string]> = [
      ['explicit trivial', { description: 'run it', complexity_tier: 'trivial' }, 'trivial', 'explicit'],
      ['inferred trivial', { description: 'fix a typo in the README' }, 'trivial', 'inferred'],
      ['explicit standard', { description: 'fix a typo', complexity_tier: 'standard' }, 'standard', 'explicit'],
      ['complex', { description: 'redesign', complexity_tier: 'complex' }, 'complex', 'explicit'],
      ['unknown', { description: 'hmm', complexity_tier: 'unknown' }, 'unknown', 'explicit'],
      ['inferred standard', { description: 'build the feature' }, 'standard', 'inferred'],
    ];
    const submitted = specs.map(([, input], i) => submit(input, i + 1));
    for (const [i, t] of submitted.entries()) {
      const [name, input, tier, source] = specs[i];
      assert.equal(t.routing_decision, null, `${name}: no routing before assignment`);
      assert.equal(t.complexity?.effective_tier, tier, name);
      assert.equal(t.complexity?.source, source, name);
      assert.equal(t.complexity?.explicit_tier, input.complexity_tier ?? null, name);
      const inferred = t.complexity?.inferred as { tier: string; confidence: number };
      assert.ok(['trivial', 'standard'].includes(inferred.tier) && typeof inferred.confidence === 'number', name);
    }
    const got = schedule(
      specs.map((_, i) => agent(`w${i}`)),
      100,
    );
    assert.equal(got.length, specs.length);
    const byId = new Map(got.map((t) => [t.id, t]));
    for (const [i, t] of submitted.entries()) {
      const rd = byId.get(t.id)?.routing_decision;
      const [name, , tier] = specs[i];
      if (tier !== 'trivial') {
        assert.equal(rd, null, `${name}: the wake path`);
        continue;
      }
      assert.ok(rd, name);
      for (const k of ROUTING_KEYS) assert.ok(k in rd, `${name}: ${k}`);
      assert.deepEqual([rd.effective_tier, rd.target_type], ['trivial', 'sidecar'], name);
      assert.ok(['free', 'local', 'api'].includes(rd.estimated_cost_tier as string), name);
    }
  });
});
