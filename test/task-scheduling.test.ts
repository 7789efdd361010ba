import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { connectAgent, type TestClient } from './helpers/client.js';
import {
  autoWorker,
  complete,
  getTask,
  harness,
  inLaneOrder,
  keyOf,
  leave,
  settle,
  submit,
  until,
  WAIT,
} from './helpers/tasks.js';

describe('task scheduling: lanes, capabilities, dependencies and pinning', () => {
  const agents = ['sub', 'coder', 'gpubox', 'writer', 'solo', 'dep', 'pinA', 'pinB'];
  const ctx = harness({ violationMax: 1000, rejectCooldownMs: 60_000, restartGraceMs: 0 }, agents);

  test('one agent covering everything takes a backlog in lane order, FIFO inside a lane', async () => {
    const lanes = ['low', 'normal', undefined, 'high', 'urgent', 'bogus', 'urgent', 'low', 'high', 'normal'];
    const keys = new Map<string, readonly [number, number]>();
    for (const [i, priority] of lanes.entries()) {
      const r = await submit(ctx, 'sub', {
        description: `solo ${i}`,
        priority,
        needed_capabilities: i % 2 ? ['s1'] : ['s1', 's2'],
      });
      assert.equal(r.status, 201);
      keys.set(r.body.task_id, keyOf(r.body));
    }
    const got: string[] = [];
    const c = await connectAgent(ctx.hub.wsUrl, 'solo', ctx.tok.solo, { capabilities: ['s2', 's1'] });
    autoWorker(c, got);
    await until(async () => got.length === lanes.length, 'solo drained');
    const seen = got.map((id) => keys.get(id) as readonly [number, number]);
    const sorted = [...keys.values()].sort((a, b) => a[0] - b[0] || a[1] - b[1]);
    assert.deepEqual(seen, sorted, 'assignment order is (priority, created_at)');
    assert.deepEqual(
      seen.map((k) => k[0]),
      [0, 0, 1, 1, 2, 2, 2, 2, 3, 3],
      'the "bogus" lane is normal',
    );
    await leave(ctx, [c, 'solo']);
  });

  test('a fleet with different capabilities runs a mixed batch to completion by lane and capability', async () => {
    const lanes = ['low', 'normal', undefined, 'high', 'urgent'];
    const needs = [[], ['code'], ['code', 'gpu'], ['docs'], ['gpu']];
    const caps: Record<string, string[]> = { coder: ['code'], gpubox: ['code', 'gpu'], writer: ['docs'] };
    const tasks = new Map<string, { need: string[]; key: readonly [number, number] }>();
    for (let i = 0; i < 30; i++) {
      const need = needs[(i + Math.floor(i / 5)) % 5];
      const r = await submit(ctx, 'sub', {
        description: `fleet ${i}`,
        priority: lanes[i % 5],
        needed_capabilities: need,
      });
      assert.equal(r.status, 201);
      tasks.set(r.body.task_id, { need, key: keyOf(r.body) });
    }
    // nobody is idle while the batch is submitted: the fleet connects afterwards
    const got: Record<string, string[]> = { coder: [], gpubox: [], writer: [] };
    const clients: Array<[TestClient, string]> = [];
    for (const [a, c] of Object.entries(caps)) {
      const client = await connectAgent(ctx.hub.wsUrl, a, ctx.tok[a], { capabilities: c });
      autoWorker(client, got[a]);
      clients.push([client, a]);
    }
    await until(
      async () => Object.values(got).reduce((n, l) => n + l.length, 0) === tasks.size,
      'the batch is assigned',
    );
    const all = Object.values(got).flat();
    assert.equal(new Set(all).size, tasks.size, 'every task assigned exactly once');
    for (const [agent, ids] of Object.entries(got)) {
      for (const id of ids) {
        const t = tasks.get(id);
        assert.ok(t, `${agent} got a task of this batch`);
        for (const need of t.need) assert.ok(caps[agent].includes(need), `${agent} covers ${need}`);
      }
      // the queue only shrinks, so each agent's assignments never go back to an earlier (lane, time)
      for (let i = 1; i < ids.length; i++) {
        const prev = tasks.get(ids[i - 1])?.key as readonly [number, number];
        const cur = tasks.get(ids[i])?.key as readonly [number, number];
        assert.ok(inLaneOrder(prev, cur), `${agent}: ${prev} before ${cur}`);
      }
    }
    assert.ok(
      got.writer.every((id) => tasks.get(id)?.need.length !== 2),
      'the writer never gets a code+gpu task',
    );
    const assignedAt = new Map<string, number>();
    for (const id of tasks.keys()) {
      const t = await until(async () => {
        const r = await getTask(ctx, id);
        return r.body.status === 'completed' && r.body;
      }, `${id} completed`);
      assert.equal(t.history.filter((h: { event: string }) => h.event === 'completed').length, 1);
      assignedAt.set(id, t.assigned_at);
    }
    // lane order across the fleet: when an agent took a task, every earlier task it covered was already taken
    for (const [agent, ids] of Object.entries(got)) {
      for (const id of ids) {
        const t = tasks.get(id) as { key: readonly [number, number] };
        for (const [other, u] of tasks) {
          const covered = u.need.every((n) => caps[agent].includes(n));
          const tie = u.key[0] === t.key[0] && u.key[1] === t.key[1];
          if (other === id || !covered || tie || !inLaneOrder(u.key, t.key)) continue;
          assert.ok(
            (assignedAt.get(other) as number) <= (assignedAt.get(id) as number),
            `${agent} took ${t.key} while ${u.key} waited`,
          );
        }
      }
    }
    await leave(ctx, ...clients);
  });

  test('depends_on holds a task back until its dependency completes; assign_to pins a task to one agent', async () => {
    const dep = await connectAgent(ctx.hub.wsUrl, 'dep', ctx.tok.dep, { capabilities: ['dep'] });
    // submitted while the agent is busy with something else, so both wait in the queue together
    const hold = (await submit(ctx, 'sub', { description: 'hold', needed_capabilities: ['dep'] })).body.task_id;
    const h = await dep.next('task_assign', undefined, WAIT);
    assert.equal(h.task_id, hold);
    const first = (await submit(ctx, 'sub', { description: 'first', needed_capabilities: ['dep'] })).body.task_id;
    const second = await submit(ctx, 'sub', {
      description: 'second',
      priority: 'urgent',
      needed_capabilities: ['dep'],
      depends_on: [first],
    });
    assert.equal(second.status, 201);
    await complete(dep, h);
    const a = await dep.next('task_assign', undefined, WAIT);
    assert.equal(a.task_id, first, 'the urgent dependant waits for its dependency');
    assert.equal((await getTask(ctx, second.body.task_id)).body.status, 'queued');
    await complete(dep, a);
    const b = await dep.next('task_assign', undefined, WAIT);
    assert.equal(b.task_id, second.body.task_id);
    assert.deepEqual((await getTask(ctx, second.body.task_id)).body.depends_on, [first]);
    await complete(dep, b);
    await leave(ctx, [dep, 'dep']);

    const pa = await connectAgent(ctx.hub.wsUrl, 'pinA', ctx.tok.pinA, { capabilities: ['pin'] });
    const pb = await connectAgent(ctx.hub.wsUrl, 'pinB', ctx.tok.pinB, { capabilities: ['pin'] });
    const p1 = await submit(ctx, 'sub', { description: 'for B', needed_capabilities: ['pin'], assign_to: 'pinB' });
    const p2 = await submit(ctx, 'sub', {
      description: 'B too',
      needed_capabilities: ['pin'],
      metadata: { assign_to: 'pinB' },
    });
    const x = await pb.next('task_assign', undefined, WAIT);
    assert.equal(x.task_id, p1.body.task_id);
    await complete(pb, x);
    const y = await pb.next('task_assign', undefined, WAIT);
    assert.equal(y.task_id, p2.body.task_id);
    await complete(pb, y);
    await settle(pa);
    assert.deepEqual(
      pa.frames.filter((f) => f.type === 'task_assign'),
      [],
      'pinA is never offered pinned tasks',
    );
    await leave(ctx, [pa, 'pinA'], [pb, 'pinB']);
  });
});
