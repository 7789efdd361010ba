import assert from 'node:assert/strict';
import { afterEach, describe, test } from 'node:test';
import type { Candidate, TaskFilter } from '../shared/domains/tasks.js';
import { HubError } from '../shared/errors.js';
import type { Task, TaskSubmit } from '../shared/schemas/tasks.js';
import { sleep } from './helpers/client.js';
import { BACKENDS, type ContractDomains, code, contractDomains } from './helpers/domain-backends.js';
import { ROUTING_KEYS } from './helpers/task-frames.js';

/** The stats of an empty queue. */
const EMPTY = {
  by_status: { scheduled: 0, queued: 0, assigned: 0, completed: 0 },
  by_priority: {},
  dead_letter: 0,
  queued_index_size: 0,
  dependency_failed: 0,
  paused: { all: false, lanes: [] },
  removed: { completed: 0, dead_letter: 0 },
};
const agent = (agent_id: string, ...capabilities: string[]): Candidate => ({ agent_id, capabilities });
const events = (t: Task) => t.history.map((h) => h.event);

/**
 * The tasks contract (shared/domains/tasks.ts) through `call`: each backend
 * runs it. Every test starts from an empty queue (the one before it cancels
 * what it left), and each submit is a millisecond after the last, so FIFO
 * inside a lane is submit order. The sweep's timings are the store's suite.
 */
for (const backend of BACKENDS) {
  describe(`tasks contract (${backend.name})`, () => {
    const ctx = contractDomains(backend);
    const call: ContractDomains['tasks']['call'] = (op, args) => ctx.d.tasks.call(op, args);
    let last = 0;

    /** Submits as `by` and returns the stored task. */
    async function submit(input: TaskSubmit, by = 'sub'): Promise<Task> {
      while (Date.now() <= last) await sleep(1);
      const r = await call('submit', { input, by, key: null, ignored: [] });
      last = r.reply.created_at;
      return call('get', { id: r.reply.task_id });
    }
    const schedule = (...candidates: Candidate[]) => call('schedule', { candidates });
    const get = (id: string) => call('get', { id });
    const stats = () => call('stats', {});
    const complete = (task_id: string, generation: number, more: { result?: Record<string, unknown> } = {}) =>
      call('complete', { task_id, generation, next: null, ...more });
    const fail = (task_id: string, generation: number, error = 'x') =>
      call('fail', { task_id, generation, error, next: null });
    /** the code a call is refused with, or 'ok' */
    const codeOf = (p: Promise<unknown>) =>
      p.then(
        () => 'ok',
        (e) => code(e),
      );

    afterEach(async () => {
      for (const status of [undefined, 'dead_letter'] as const) {
        for (const t of (await call('list', { status, limit: 1000 })).tasks)
          await call('cancel', { id: t.id, by: null });
      }
    });

    test('lanes run urgent → high → normal → low, FIFO inside a lane; an unknown priority is normal', async () => {
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
      for (const [name, priority] of specs) byName.set(name, await submit({ description: name, priority }));
      assert.deepEqual(
        ['urgent-1', 'high-1', 'normal-1', 'low-1', 'weird-1', 'caps-1'].map((n) => byName.get(n)?.priority),
        [0, 1, 2, 3, 2, 2],
        'lanes urgent 0 < high 1 < normal 2 < low 3; unknown names → 2',
      );
      const nameOf = new Map([...byName].map(([name, t]) => [t.id, name]));
      // one agent, one task per pass: the order of passes is the queue order
      const order: string[] = [];
      for (let i = 0; i < specs.length; i++) order.push(nameOf.get((await schedule(agent(`w${i}`)))[0].id) as string);
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
      assert.deepEqual(await schedule(agent('idle')), [], 'nothing left');
    });

    test('many candidates in one pass: queue order, one task per agent, the rest stay queued', async () => {
      const ids: string[] = [];
      for (let i = 1; i <= 5; i++) ids.push((await submit({ description: `t${i}` })).id);
      const got = await schedule(agent('a'), agent('b'), agent('c'));
      assert.deepEqual(
        got.map((t) => [t.id, t.assigned_to, t.generation]),
        [
          [ids[0], 'a', 1],
          [ids[1], 'b', 1],
          [ids[2], 'c', 1],
        ],
      );
      const statuses = [];
      for (const id of ids) statuses.push((await get(id)).status);
      assert.deepEqual(statuses, ['assigned', 'assigned', 'assigned', 'queued', 'queued']);
      assert.equal((await stats()).queued_index_size, 2);
    });

    test('needed_capabilities must be a subset of the agent capabilities (exact strings)', async () => {
      const gpu = await submit({ description: 'gpu', needed_capabilities: ['code', 'gpu'] });
      const docs = await submit({ description: 'docs', needed_capabilities: ['docs'] });
      const code = await submit({ description: 'code', needed_capabilities: ['code'] });
      const nobody = await submit({ description: 'nobody', needed_capabilities: ['quantum'] });
      const any = await submit({ description: 'any' });
      // coder first: it does not cover gpu, so gpu goes to the gpu box; coder takes the code task
      const got = await schedule(agent('coder', 'code'), agent('box', 'gpu', 'code', 'extra'), agent('writer', 'Docs'));
      const assigned = new Map(got.map((t) => [t.id, t.assigned_to]));
      assert.equal(assigned.get(gpu.id), 'box');
      assert.equal(assigned.get(code.id), 'coder');
      assert.equal(assigned.get(any.id), 'writer', '"Docs" does not cover "docs"; an empty need fits anyone');
      assert.equal(assigned.has(docs.id), false);
      assert.equal((await get(docs.id)).status, 'queued');
      assert.deepEqual(
        (await schedule(agent('w2', 'docs'))).map((t) => t.id),
        [docs.id],
      );
      assert.deepEqual(await schedule(agent('w3', 'code', 'gpu', 'docs')), [], 'a need nobody covers stays queued');
      assert.equal((await get(nobody.id)).status, 'queued');
    });

    test('assign_to and metadata.assign_to: only that agent gets the task, others take the next one', async () => {
      const pinned = await submit({ description: 'pinned', priority: 'urgent', assign_to: 'zed' });
      const viaMeta = await submit({ description: 'meta', priority: 'urgent', metadata: { assign_to: 'yan' } });
      const free = await submit({ description: 'free' });
      assert.deepEqual(
        (await schedule(agent('abe'), agent('bo'))).map((t) => [t.id, t.assigned_to]),
        [[free.id, 'abe']],
        'the pinned tasks wait for their agents',
      );
      assert.deepEqual([(await get(pinned.id)).status, (await get(viaMeta.id)).status], ['queued', 'queued']);
      assert.deepEqual(
        (await schedule(agent('bo'), agent('yan'), agent('zed'))).map((t) => [t.id, t.assigned_to]),
        [
          [pinned.id, 'zed'],
          [viaMeta.id, 'yan'],
        ],
      );
    });

    test('a task with depends_on is schedulable only once every dependency is completed', async () => {
      const a = await submit({ description: 'a' });
      const b = await submit({ description: 'b' });
      const child = await submit({ description: 'child', priority: 'urgent', depends_on: [a.id, b.id] });
      const first = await schedule(agent('w1'), agent('w2'), agent('w3'));
      assert.deepEqual(first.map((t) => t.id).sort(), [a.id, b.id].sort(), 'the urgent child waits');
      await complete(a.id, 1);
      assert.deepEqual(await schedule(agent('w1')), [], 'one dependency still open');
      await complete(b.id, 1);
      assert.deepEqual(
        (await schedule(agent('w1'))).map((t) => t.id),
        [child.id],
      );
    });

    test('unknown depends_on ids are refused as validation_failed, naming each one; nothing is stored', async () => {
      const known = await submit({ description: 'known' });
      const depends_on = [known.id, 'task-0000000000000000', 'nope'];
      await assert.rejects(
        call('submit', { input: { description: 'x', depends_on }, by: 's', key: null, ignored: [] }),
        (err) => {
          assert.ok(err instanceof HubError);
          assert.equal(err.code, 'validation_failed');
          const errors = err.fields.errors as Array<{ field: string; error: string; detail: string }>;
          assert.deepEqual(
            errors.map((e) => e.field),
            ['depends_on[1]', 'depends_on[2]'],
          );
          assert.ok(errors.every((e) => typeof e.error === 'string' && typeof e.detail === 'string'));
          return true;
        },
      );
      const missing = call('submit', {
        input: { description: 'y', depends_on: ['missing'] },
        by: 's',
        key: null,
        ignored: [],
      });
      assert.equal(await codeOf(missing), 'validation_failed');
      assert.equal((await stats()).by_status.queued, 1, 'nothing was stored');
    });

    test('generation: 0 at submit, +1 on assign, failure-retry, reclaim and dead-letter retry', async () => {
      const t = await submit({ description: 'g', max_retries: 2 });
      assert.deepEqual([t.generation, t.status, t.retry_count, t.assigned_to], [0, 'queued', 0, null]);
      assert.equal((await schedule(agent('w')))[0].generation, 1, 'assign');
      assert.equal((await fail(t.id, 1, 'e1')).outcome, 'retried');
      assert.equal((await get(t.id)).generation, 2, 'failure-retry');
      assert.equal((await schedule(agent('w')))[0].generation, 3, 'assign');
      assert.equal((await call('reclaim', { id: t.id, reason: 'test' }))?.generation, 4, 'reclaim');
      assert.equal((await schedule(agent('w')))[0].generation, 5, 'assign');
      assert.equal((await fail(t.id, 5, 'e2')).outcome, 'dead_letter');
      const dead = await get(t.id);
      assert.equal(dead.status, 'dead_letter');
      assert.equal((await call('retry', { id: t.id, by: null })).generation, dead.generation + 1, 'dead-letter retry');
      assert.equal((await schedule(agent('w')))[0].generation, dead.generation + 2, 'assign');
    });

    test('complete and fail need status assigned and the current generation', async () => {
      const t = await submit({ description: 'f' });
      assert.equal(await codeOf(complete(t.id, 0)), 'invalid_state', 'queued');
      assert.equal(await codeOf(fail(t.id, 0)), 'invalid_state', 'queued');
      await schedule(agent('w'));
      for (const g of [0, 2, -1]) {
        assert.equal(await codeOf(complete(t.id, g)), 'stale_generation', `complete gen ${g}`);
        assert.equal(await codeOf(fail(t.id, g)), 'stale_generation', `fail gen ${g}`);
      }
      assert.equal(await codeOf(complete('task-ffffffffffffffff', 1)), 'not_found');
      assert.equal(await codeOf(fail('task-ffffffffffffffff', 1)), 'not_found');
      assert.equal((await get(t.id)).status, 'assigned', 'refused calls changed nothing');
      const r = await complete(t.id, 1, { result: { status: 'success', tokens_used: 7 } });
      assert.deepEqual([r.outcome, r.agent, r.next], ['complete', 'w', null]);
      const done = await get(t.id);
      assert.deepEqual([done.status, done.tokens_used], ['completed', 7]);
      assert.equal(await codeOf(complete(t.id, 1)), 'invalid_state', 'completed once');
      assert.equal(events(await get(t.id)).filter((e) => e === 'completed').length, 1);
      assert.deepEqual(events(done), ['completed', 'assigned', 'queued'], 'history newest first');
      assert.deepEqual(done.history[1].details, { agent_id: 'w', generation: 1 });
    });

    test('complete and fail offer the finishing agent its next task in the same write, and no other agent', async () => {
      const one = await submit({ description: 'one', needed_capabilities: ['nx'] });
      const two = await submit({ description: 'two', needed_capabilities: ['nx'] });
      const three = await submit({ description: 'three', needed_capabilities: ['nx'], max_retries: 1 });
      await schedule(agent('nw', 'nx'));
      const r = await call('complete', { task_id: one.id, generation: 1, next: agent('nw', 'nx') });
      assert.deepEqual([r.next?.id, r.next?.assigned_to, r.next?.generation], [two.id, 'nw', 1]);
      assert.equal(JSON.parse(r.next?.frame as string).task_id, two.id, 'with its task_assign frame');
      const f = await call('fail', { task_id: two.id, generation: 1, error: 'x', next: agent('nw', 'nx') });
      assert.equal(f.next?.id, two.id, 'the retried task is next in its lane again');
      const stranger = await call('fail', {
        task_id: two.id,
        generation: 3,
        error: 'x',
        next: agent('other', 'nx'),
      });
      assert.equal(stranger.next, null, 'only the agent that finished is offered more');
      assert.equal((await get(three.id)).status, 'queued');
    });

    test('tokens_used wins over result.tokens_used; result and verification fields are stored', async () => {
      const t = await submit({ description: 't' });
      await schedule(agent('w'));
      await call('complete', {
        task_id: t.id,
        generation: 1,
        next: null,
        tokens_used: 42,
        result: { status: 'success', output: 'ok', tokens_used: 1 },
        verification_report: { passed: true },
        verification_history: [{ run: 1 }],
      });
      const stored = await get(t.id);
      assert.equal(stored.tokens_used, 42);
      assert.deepEqual(
        [stored.result, stored.verification_report, stored.verification_history],
        [{ status: 'success', output: 'ok', tokens_used: 1 }, { passed: true }, [{ run: 1 }]],
      );
      assert.deepEqual(stored.history[0].details.tokens_used, 42);
    });

    test('failures count retries and dead-letter the task once retry_count reaches max_retries', async () => {
      const t = await submit({ description: 'doomed' });
      assert.equal(t.max_retries, 3, 'default max_retries');
      const outcomes: string[] = [];
      for (let i = 1; i <= 3; i++) {
        const a = (await schedule(agent('w')))[0];
        assert.equal((await get(t.id)).retry_count, i - 1);
        outcomes.push((await fail(t.id, a.generation, `e${i}`)).outcome);
      }
      assert.deepEqual(outcomes, ['retried', 'retried', 'dead_letter']);
      const dead = await get(t.id);
      assert.deepEqual(
        [dead.status, dead.retry_count, dead.last_error, dead.assigned_to],
        ['dead_letter', 3, 'e3', null],
      );
      assert.equal(dead.history[0].event, 'dead_letter');
      assert.equal(events(dead).filter((e) => e === 'retry').length, 2);
      assert.deepEqual(await schedule(agent('w')), [], 'a dead letter is not scheduled');
      assert.deepEqual(
        (await call('list', { status: 'dead_letter' })).tasks.map((d) => d.id),
        [t.id],
      );
      assert.equal(
        (await call('list', {})).tasks.some((x) => x.id === t.id),
        false,
        'the list leaves dead letters out',
      );
    });

    test('max_retries 0 and 1 dead-letter on the first failure', async () => {
      for (const max of [0, 1]) {
        const t = await submit({ description: `m${max}`, max_retries: max });
        assert.equal((await schedule(agent('w')))[0].id, t.id);
        assert.equal((await fail(t.id, 1)).outcome, 'dead_letter');
      }
    });

    test('a completion whose result.status is "failed" counts as a failure (§9.10)', async () => {
      const t = await submit({ description: 'r', max_retries: 2 });
      await schedule(agent('w'));
      const r = await complete(t.id, 1, { result: { status: 'failed', error: 'tests red' } });
      assert.equal(r.outcome, 'retried');
      const back = await get(t.id);
      assert.deepEqual(
        [back.status, back.retry_count, back.last_error, back.generation],
        ['queued', 1, 'tests red', 2],
      );
      assert.equal(events(back).includes('completed'), false);
      await schedule(agent('w'));
      assert.equal((await complete(t.id, 3, { result: { status: 'failed' } })).outcome, 'dead_letter');
      assert.equal((await get(t.id)).status, 'dead_letter');
    });

    test('reject returns the task to the front of its lane with no retry counted', async () => {
      const t = await submit({ description: 'busy' });
      const later = await submit({ description: 'later' });
      await schedule(agent('w'));
      const reject = (id: string, by: string) => call('reject', { id, agent: by, reason: 'busy' });
      assert.equal(await reject(t.id, 'other'), null, 'only its agent may reject it');
      const r = await reject(t.id, 'w');
      assert.ok(r);
      assert.deepEqual([r.status, r.retry_count, r.assigned_to, r.priority], ['queued', 0, null, 2]);
      assert.ok(r.generation > 1, 'the rejected assignment is fenced off');
      assert.deepEqual(
        (await schedule(agent('v'))).map((x) => x.id),
        [t.id],
        'FIFO position kept (created_at), ahead of a later task',
      );
      assert.equal((await get(later.id)).status, 'queued');
      assert.equal(await reject(later.id, 'v'), null, 'a queued task cannot be rejected');
    });

    test('reclaims do not count as retries; the 5th reclaim dead-letters the task as "stalled"', async () => {
      const t = await submit({ description: 'stall', max_retries: 1 });
      const reclaim = () => call('reclaim', { id: t.id, reason: 'stale' });
      for (let i = 1; i <= 4; i++) {
        await schedule(agent('w'));
        const r = await reclaim();
        assert.deepEqual([r?.status, r?.retry_count], ['queued', 0], `reclaim ${i}`);
      }
      await schedule(agent('w'));
      const r = await reclaim();
      assert.deepEqual([r?.status, r?.last_error, r?.retry_count], ['dead_letter', 'stalled', 0]);
      assert.equal(events(await get(t.id)).filter((e) => e === 'reclaimed').length, 4);
      assert.equal(await reclaim(), null, 'a dead letter is not reclaimed');
    });

    test('reclaimAgent returns every task of a departed agent to its lane, keeping its retry count', async () => {
      const t = await submit({ description: 'x' });
      await schedule(agent('w'));
      await fail(t.id, 1, 'e');
      const again = (await schedule(agent('w')))[0];
      assert.deepEqual(
        (await call('assignedTo', { agent: 'w' })).map((x) => x.id),
        [t.id],
      );
      const back = await call('reclaimAgent', { agent: 'w', reason: 'agent_disconnected' });
      assert.deepEqual(
        back.map((x) => [x.id, x.status, x.retry_count, x.generation]),
        [[t.id, 'queued', 1, again.generation + 1]],
      );
      assert.deepEqual(await call('assignedTo', { agent: 'w' }), []);
    });

    test('state_report and task_recovering answer by agent and generation', async () => {
      const t = await submit({ description: 's' });
      await schedule(agent('w'));
      const report = (id: string, by: string, generation: number) => call('stateReport', { id, agent: by, generation });
      const assignedAt = (await get(t.id)).updated_at;
      await sleep(2);
      assert.equal(await report(t.id, 'w', 1), 'continue');
      assert.ok((await get(t.id)).updated_at > assignedAt, 'continue refreshes updated_at');
      assert.equal(await report(t.id, 'x', 1), 'abort');
      assert.equal(await report('nope', 'w', 1), 'abort');
      assert.deepEqual(await call('recover', { id: t.id, agent: 'w' }), { action: 'continue', generation: 1 });
      assert.deepEqual(await call('recover', { id: t.id, agent: 'x' }), { action: 'reassign' });
      await complete(t.id, 1);
      assert.deepEqual(await call('recover', { id: t.id, agent: 'w' }), { action: 'reassign' });
      const u = await submit({ description: 'stale holder' });
      await schedule(agent('w'));
      assert.equal(await report(u.id, 'w', 0), 'abort');
      const dropped = await get(u.id);
      assert.deepEqual(
        [dropped.status, dropped.generation],
        ['queued', 2],
        'an abort of its own task reclaims it at once (the agent drops it)',
      );
    });

    test('cancel deletes a task in any state and unblocks nothing else', async () => {
      const queued = await submit({ description: 'queued' });
      const assigned = await submit({ description: 'assigned', priority: 'urgent' });
      const completed = await submit({ description: 'completed', priority: 'urgent' });
      const dead = await submit({ description: 'dead', priority: 'urgent', max_retries: 1 });
      await schedule(agent('a'), agent('c'), agent('d'));
      await complete(completed.id, 1);
      await fail(dead.id, 1);
      const all = [queued, assigned, completed, dead];
      const statuses = [];
      for (const t of all) statuses.push((await get(t.id)).status);
      assert.deepEqual(statuses, ['queued', 'assigned', 'completed', 'dead_letter']);
      for (const [i, t] of all.entries()) {
        const out = (await call('cancel', { id: t.id, by: 'sub' })).task;
        assert.equal(out.status, statuses[i], 'cancel returns the task as it was (previous_status)');
        assert.equal(await codeOf(get(t.id)), 'task_not_found');
      }
      assert.deepEqual(await call('assignedTo', { agent: 'a' }), [], 'the agent index forgot the assignment');
      assert.deepEqual(await stats(), EMPTY);
      assert.deepEqual(await schedule(agent('z')), []);
      assert.equal(await codeOf(call('cancel', { id: 'task-ffffffffffffffff', by: null })), 'task_not_found');
    });

    test('retry requeues a dead letter with retry_count and last_error reset; anything else is not found', async () => {
      const t = await submit({ description: 'r', max_retries: 1, priority: 'high' });
      await schedule(agent('w'));
      await fail(t.id, 1, 'bad');
      const back = await call('retry', { id: t.id, by: 'sub' });
      assert.deepEqual(
        [back.status, back.retry_count, back.last_error, back.priority, back.assigned_to],
        ['queued', 0, null, 1, null],
      );
      assert.equal(back.history[0].event, 'queued');
      const again = call('retry', { id: t.id, by: 'sub' });
      assert.equal(await codeOf(again), 'task_not_found', 'a queued task is no dead letter');
      assert.equal(await codeOf(call('retry', { id: 'task-ffffffffffffffff', by: null })), 'task_not_found');
      assert.equal((await schedule(agent('w')))[0].id, t.id);
    });

    test('only the submitter or the admin (by null) may cancel or retry', async () => {
      const t = await submit({ description: 'mine', max_retries: 1 }, 'owner');
      await schedule(agent('w'));
      await fail(t.id, 1);
      assert.equal(await codeOf(call('retry', { id: t.id, by: 'stranger' })), 'admin_port_only');
      assert.equal(await codeOf(call('retry', { id: t.id, by: 'w' })), 'admin_port_only', 'not even its agent');
      assert.equal(await codeOf(call('cancel', { id: t.id, by: 'stranger' })), 'admin_port_only');
      assert.equal((await get(t.id)).status, 'dead_letter', 'refusals changed nothing');
      assert.equal((await call('retry', { id: t.id, by: null })).status, 'queued', 'admin retry');
      const other = await submit({ description: 'other' }, 'owner');
      assert.equal((await call('cancel', { id: other.id, by: 'owner' })).task.id, other.id, 'the submitter cancels');
      assert.equal((await call('cancel', { id: t.id, by: null })).task.id, t.id, 'the admin cancels');
    });

    test('stats: counts by status, queued by priority, dead letters and the queue index', async () => {
      assert.deepEqual(await stats(), EMPTY);
      const u = await submit({ description: 'u', priority: 'urgent' });
      const h = await submit({ description: 'h', priority: 'high', max_retries: 1 });
      await submit({ description: 'n1', needed_capabilities: ['none'] });
      await submit({ description: 'n2', needed_capabilities: ['none'] });
      await submit({ description: 'l', priority: 'low', needed_capabilities: ['none'] });
      await submit({ description: 'h2', priority: 'high', needed_capabilities: ['none'] });
      await schedule(agent('a'), agent('b'));
      await complete(u.id, 1);
      await fail(h.id, 1);
      const c = await submit({ description: 'c' });
      await schedule(agent('a'));
      assert.equal((await get(c.id)).status, 'assigned');
      assert.deepEqual(await stats(), {
        by_status: { scheduled: 0, queued: 4, assigned: 1, completed: 1 },
        by_priority: { '1': 1, '2': 2, '3': 1 },
        dead_letter: 1,
        queued_index_size: 4,
        dependency_failed: 0,
        paused: { all: false, lanes: [] },
        removed: { completed: 0, dead_letter: 0 },
      });
    });

    test('list: filters by status, priority, assigned_to, goal, submitter and capability; queued in lane order, the rest by age', async () => {
      const low = await submit({ description: 'low', priority: 'low', needed_capabilities: ['none'] });
      const n1 = await submit({ description: 'n1', goal_id: 'goal-1', needed_capabilities: ['none'] });
      const urgent = await submit({ description: 'u', priority: 'urgent' });
      const n2 = await submit({ description: 'n2', needed_capabilities: ['none', 'gpu'] });
      await schedule(agent('w'));
      const ids = async (f: TaskFilter) => (await call('list', f)).tasks.map((t) => t.id);
      assert.deepEqual(await ids({}), [low.id, n1.id, urgent.id, n2.id]);
      assert.deepEqual(await ids({ status: 'queued' }), [n1.id, n2.id, low.id]);
      assert.deepEqual(await ids({ priority: 2 }), [n1.id, n2.id]);
      assert.deepEqual(await ids({ assigned_to: 'w' }), [urgent.id]);
      assert.deepEqual(await ids({ status: 'assigned' }), [urgent.id]);
      assert.deepEqual(await ids({ goal_id: 'goal-1' }), [n1.id]);
      assert.deepEqual(await ids({ capability: 'gpu' }), [n2.id]);
      assert.deepEqual(await ids({ submitted_by: 'nobody' }), []);
    });

    test('list: pages of `limit` continue with the cursor until it is null', async () => {
      const all: string[] = [];
      for (let i = 0; i < 7; i++) all.push((await submit({ description: `t${i}` })).id);
      for (const status of [undefined, 'queued'] as const) {
        const seen: string[] = [];
        let cursor: string | undefined;
        for (let pages = 0; pages < 10; pages++) {
          const page = await call('list', { status, limit: 3, cursor });
          seen.push(...page.tasks.map((t) => t.id));
          if (page.cursor === null) break;
          cursor = page.cursor;
        }
        assert.deepEqual(seen, all, `every task once, in order (${status ?? 'all'})`);
      }
      assert.equal((await call('list', { limit: 5000 })).tasks.length, 7, 'a limit over 1,000 is clamped, not refused');
    });

    test('complexity comes from complexity_tier or a keyword guess; only trivial tasks get a routing_decision', async () => {
      const specs: Array<[string, TaskSubmit, string, string]> = [
        ['explicit trivial', { description: 'run it', complexity_tier: 'trivial' }, 'trivial', 'explicit'],
        ['inferred trivial', { description: 'fix a typo in the README' }, 'trivial', 'inferred'],
        ['explicit standard', { description: 'fix a typo', complexity_tier: 'standard' }, 'standard', 'explicit'],
        ['complex', { description: 'redesign', complexity_tier: 'complex' }, 'complex', 'explicit'],
        ['unknown', { description: 'hmm', complexity_tier: 'unknown' }, 'unknown', 'explicit'],
        ['inferred standard', { description: 'build the feature' }, 'standard', 'inferred'],
      ];
      const submitted: Task[] = [];
      for (const [, input] of specs) submitted.push(await submit(input));
      for (const [i, t] of submitted.entries()) {
        const [name, input, tier, source] = specs[i];
        assert.equal(t.routing_decision, null, `${name}: no routing before assignment`);
        assert.equal(t.complexity?.effective_tier, tier, name);
        assert.equal(t.complexity?.source, source, name);
        assert.equal(t.complexity?.explicit_tier, input.complexity_tier ?? null, name);
        const inferred = t.complexity?.inferred as { tier: string; confidence: number };
        assert.ok(['trivial', 'standard'].includes(inferred.tier) && typeof inferred.confidence === 'number', name);
      }
      const got = await schedule(...specs.map((_, i) => agent(`w${i}`)));
      assert.equal(got.length, specs.length);
      const frames = new Map(got.map((o) => [o.id, JSON.parse(o.frame)]));
      for (const [i, t] of submitted.entries()) {
        const rd = frames.get(t.id).routing_decision;
        const [name, , tier] = specs[i];
        assert.deepEqual((await get(t.id)).routing_decision, rd, `${name}: the task keeps what its frame carried`);
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
}
