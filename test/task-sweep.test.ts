import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { sweepTasks } from '../storage/task-sweep.js';
import { tasks } from './helpers/task-store.js';

/**
 * The task store's sweep at explicit times: deadlines, staleness, the restart
 * grace and the queue TTL. What the ops do is the tasks contract's
 * (domain-contract-tasks), which every backend runs.
 */
describe('the periodic sweep', () => {
  test('a task past complete_by is dead-lettered "complete_by_expired", queued or assigned', () => {
    const { store, submit, schedule, tx, agent } = tasks();
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
    const { store, submit, schedule, tx, agent } = tasks({ staleMs: 1_000, staleWorkingMs: 2_000 });
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
    const { store, submit, schedule, tx, agent } = tasks({ staleMs: 100_000, staleWorkingMs: 100_000 });
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

    const { store, submit, schedule, tx, agent } = tasks({ taskTtlMs: 1_000, staleMs: 100_000 });
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
