import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { connectAgent, type TestClient } from './helpers/client.js';
import { ADMIN_TOKEN, api } from './helpers/hub.js';
import { ASSIGN_KEYS, ROUTING_KEYS } from './helpers/task-frames.js';
import { type Ctx, harness, until, WAIT } from './helpers/tasks.js';

/** Sends a frame and waits (generously) for the reply of `type`. */
function ask(c: TestClient, frame: object, type: string, pred?: (f: any) => boolean): Promise<any> {
  const p = c.next(type, pred, WAIT);
  c.send(frame);
  return p;
}

/** Round trip on the socket: every reply to frames sent before it has arrived. */
async function settle(c: TestClient): Promise<void> {
  await ask(c, { type: 'ping' }, 'pong');
}

const submit = (ctx: Ctx, by: string, body: object, headers?: Record<string, string>) =>
  api(ctx.hub.url, 'POST', '/api/tasks', { token: ctx.tok[by], body, headers });
const getTask = (ctx: Ctx, id: string, by = 'sub') =>
  api(ctx.hub.url, 'GET', `/api/tasks/${id}`, { token: ctx.tok[by] });
const stateOf = async (ctx: Ctx, agent: string) =>
  (await api(ctx.hub.url, 'GET', `/api/agents/${agent}/state`, { token: ctx.tok.sub })).body;

/** Closes the sockets and waits until the hub has let the agents go. */
async function leave(ctx: Ctx, ...pairs: Array<[TestClient, string]>): Promise<void> {
  for (const [c] of pairs) c.close();
  await until(async () => {
    const r = await api(ctx.hub.url, 'GET', '/api/agents');
    const online = new Set(r.body.agents.map((a: { agent_id: string }) => a.agent_id));
    return pairs.every(([, id]) => !online.has(id));
  }, 'agents left');
}

/** Accepts and completes every assignment at once, recording what it was given. */
function autoWorker(c: TestClient, got: string[]): void {
  c.ws.on('message', (d) => {
    const f = JSON.parse(String(d));
    if (f.type !== 'task_assign') return;
    got.push(f.task_id);
    c.send({ type: 'task_accepted', task_id: f.task_id });
    c.send({ type: 'task_complete', task_id: f.task_id, generation: f.generation, result: { status: 'success' } });
  });
}

const keyOf = (t: { priority: number; created_at: number }) => [t.priority, t.created_at] as const;
const before_ = (a: readonly [number, number], b: readonly [number, number]) =>
  a[0] < b[0] || (a[0] === b[0] && a[1] <= b[1]);

describe('task pipeline: fleet, shapes and lifecycle', () => {
  const agents = ['sub', 'other', 'coder', 'gpubox', 'writer', 'solo', 'shape', 'late1', 'late2', 'dis1', 'dis2'];
  agents.push('dl', 'rj', 'rj2', 'rj3', 'sr', 'push', 'flt', 'bad', 'dep', 'pinA', 'pinB');
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
        assert.ok(before_(prev, cur), `${agent}: ${prev} before ${cur}`);
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
          if (other === id || !covered || tie || !before_(u.key, t.key)) continue;
          assert.ok(
            (assignedAt.get(other) as number) <= (assignedAt.get(id) as number),
            `${agent} took ${t.key} while ${u.key} waited`,
          );
        }
      }
    }
    await leave(ctx, ...clients);
  });

  test('task_assign has the full §2.4 shape; accepted, progress and complete get their replies', async () => {
    const sub = await submit(ctx, 'sub', {
      description: 'compat',
      complexity_tier: 'trivial',
      needed_capabilities: ['shape'],
      metadata: { shell_command: 'echo compat-ok' },
      repo: 'https://example.test/r.git',
      branch: 'main',
      file_hints: [{ path: 'a.ts', reason: 'here' }, { path: 'b.ts' }],
      success_criteria: ['prints compat-ok'],
      verification_steps: [{ type: 'command', target: 'true', description: 'noop' }],
      max_verification_retries: 2,
      verification_timeout_ms: 1000,
      skip_verification: true,
      max_retries: 4,
    });
    assert.equal(sub.status, 201);
    assert.deepEqual(Object.keys(sub.body).sort(), ['created_at', 'priority', 'status', 'task_id']);
    assert.deepEqual([sub.body.status, sub.body.priority], ['queued', 2]);
    assert.match(sub.body.task_id, /^task-[0-9a-f]{16}$/);
    const c = await connectAgent(ctx.hub.wsUrl, 'shape', ctx.tok.shape, { capabilities: ['shape'] });
    const a = await c.next('task_assign', undefined, WAIT);
    assert.deepEqual(Object.keys(a).sort(), ASSIGN_KEYS);
    assert.equal(a.task_id, sub.body.task_id);
    assert.equal(a.description, 'compat');
    assert.deepEqual(a.metadata, { shell_command: 'echo compat-ok' });
    assert.equal(a.generation, 1);
    assert.equal(typeof a.assigned_at, 'number');
    assert.deepEqual([a.repo, a.branch], ['https://example.test/r.git', 'main']);
    assert.deepEqual(a.file_hints, [{ path: 'a.ts', reason: 'here' }, { path: 'b.ts' }]);
    assert.deepEqual(a.success_criteria, ['prints compat-ok']);
    assert.deepEqual(a.verification_steps, [{ type: 'command', target: 'true', description: 'noop' }]);
    assert.deepEqual([a.skip_verification, a.verification_timeout_ms, a.max_verification_retries], [true, 1000, 2]);
    assert.deepEqual(Object.keys(a.complexity).sort(), ['effective_tier', 'explicit_tier', 'inferred', 'source']);
    assert.deepEqual(
      [a.complexity.effective_tier, a.complexity.source, a.complexity.explicit_tier],
      ['trivial', 'explicit', 'trivial'],
    );
    assert.deepEqual(Object.keys(a.complexity.inferred).sort(), ['confidence', 'tier']);
    for (const k of ROUTING_KEYS) assert.ok(k in a.routing_decision, `routing_decision.${k}`);
    assert.deepEqual([a.routing_decision.target_type, a.routing_decision.effective_tier], ['sidecar', 'trivial']);
    assert.ok(['free', 'local', 'api'].includes(a.routing_decision.estimated_cost_tier));

    assert.deepEqual(await ask(c, { type: 'task_accepted', task_id: a.task_id }, 'task_ack'), {
      type: 'task_ack',
      task_id: a.task_id,
      status: 'accepted',
    });
    assert.equal((await stateOf(ctx, 'shape')).fsm_state, 'working');
    c.send({ type: 'task_progress', task_id: a.task_id, progress: 50, execution_event: { event_type: 'stdout' } });
    await settle(c);
    assert.deepEqual(
      c.frames.filter((f) => f.type === 'task_ack' || f.type === 'error'),
      [],
      'task_progress has no reply',
    );
    const done = await ask(
      c,
      {
        type: 'task_complete',
        task_id: a.task_id,
        generation: 1,
        tokens_used: 12,
        result: { status: 'success', output: 'compat-ok\n' },
        verification_report: { status: 'skip' },
        verification_history: [{ attempt: 1 }],
      },
      'task_ack',
    );
    assert.deepEqual(done, { type: 'task_ack', task_id: a.task_id, status: 'complete' });
    const t = (await getTask(ctx, a.task_id)).body;
    assert.equal(t.status, 'completed');
    assert.deepEqual(
      t.history.map((h: { event: string }) => h.event),
      ['completed', 'assigned', 'queued'],
    );
    assert.deepEqual(t.history[1].details, { agent_id: 'shape', generation: 1 });
    assert.equal(t.history[0].details.tokens_used, 12);
    assert.deepEqual(
      [t.result, t.tokens_used, t.verification_report, t.verification_history],
      [{ status: 'success', output: 'compat-ok\n' }, 12, { status: 'skip' }, [{ attempt: 1 }]],
    );
    assert.deepEqual(
      [t.id, t.submitted_by, t.assigned_to, t.generation, t.max_retries],
      [a.task_id, 'sub', 'shape', 1, 4],
    );
    assert.equal(t.routing_decision.target_type, 'sidecar');
    for (const k of ['complexity_tier', 'skip_verification', 'verification_timeout_ms', 'assign_to'])
      assert.equal(k in t, false, `the Task view leaves out ${k}`);
    for (const k of ['needed_capabilities', 'depends_on', 'goal_id', 'complete_by', 'last_error', 'updated_at'])
      assert.ok(k in t, `the Task view has ${k}`);
    assert.equal((await stateOf(ctx, 'shape')).fsm_state, 'idle');

    await submit(ctx, 'sub', { description: 'design a new subsystem', needed_capabilities: ['shape'] });
    const b = await c.next('task_assign', undefined, WAIT);
    assert.deepEqual(Object.keys(b).sort(), ASSIGN_KEYS);
    assert.equal(b.routing_decision, null, 'a standard task takes the wake path');
    assert.deepEqual([b.complexity.effective_tier, b.complexity.source], ['standard', 'inferred']);
    assert.deepEqual(
      [b.repo, b.branch, b.file_hints, b.success_criteria, b.verification_steps],
      [null, null, [], [], []],
    );
    assert.deepEqual([b.skip_verification, b.verification_timeout_ms, b.generation], [false, null, 1]);
    await ask(c, { type: 'task_complete', task_id: b.task_id, generation: b.generation }, 'task_ack');
    await leave(ctx, [c, 'shape']);
  });

  test('a late task_complete after a reclaim is refused as stale_generation and completes nothing', async () => {
    const first = await connectAgent(ctx.hub.wsUrl, 'late1', ctx.tok.late1, { capabilities: ['late'] });
    const { body } = await submit(ctx, 'sub', { description: 'reclaim me', needed_capabilities: ['late'] });
    const a = await first.next('task_assign', undefined, WAIT);
    assert.equal(a.task_id, body.task_id);
    await ask(first, { type: 'task_accepted', task_id: a.task_id }, 'task_ack');
    await leave(ctx, [first, 'late1']);
    const second = await connectAgent(ctx.hub.wsUrl, 'late2', ctx.tok.late2, { capabilities: ['late'] });
    const again = await second.next('task_assign', (f) => f.task_id === a.task_id, WAIT);
    assert.ok(again.generation > a.generation);
    const back = await connectAgent(ctx.hub.wsUrl, 'late1', ctx.tok.late1, { capabilities: ['not-late'] });
    const stale = { task_id: a.task_id, generation: a.generation, result: { status: 'success', output: 'old' } };
    assert.deepEqual(await ask(back, { type: 'task_complete', ...stale }, 'error'), {
      type: 'error',
      error: 'task_complete_failed: stale_generation',
    });
    assert.deepEqual(
      await ask(back, { type: 'task_failed', task_id: a.task_id, generation: a.generation, error: 'x' }, 'error'),
      { type: 'error', error: 'task_fail_failed: stale_generation' },
    );
    const mid = (await getTask(ctx, a.task_id)).body;
    assert.deepEqual([mid.status, mid.assigned_to, mid.retry_count, mid.result], ['assigned', 'late2', 0, null]);
    const ok = { type: 'task_complete', task_id: a.task_id, generation: again.generation, result: { output: 'new' } };
    assert.equal((await ask(second, ok, 'task_ack')).status, 'complete');
    assert.deepEqual(await ask(second, ok, 'error'), { type: 'error', error: 'task_complete_failed: invalid_state' });
    assert.deepEqual(await ask(back, { type: 'task_complete', ...stale }, 'error'), {
      type: 'error',
      error: 'task_complete_failed: invalid_state',
    });
    const t = (await getTask(ctx, a.task_id)).body;
    assert.deepEqual([t.status, t.result], ['completed', { output: 'new' }]);
    assert.equal(t.history.filter((h: { event: string }) => h.event === 'completed').length, 1);
    await leave(ctx, [second, 'late2'], [back, 'late1']);
  });

  test('disconnect mid-task returns the task to its lane with its retry count; another agent gets it', async () => {
    const d1 = await connectAgent(ctx.hub.wsUrl, 'dis1', ctx.tok.dis1, { capabilities: ['dis'] });
    const { body } = await submit(ctx, 'sub', { description: 'flaky', needed_capabilities: ['dis'], max_retries: 3 });
    const a = await d1.next('task_assign', undefined, WAIT);
    const ack = await ask(
      d1,
      { type: 'task_failed', task_id: a.task_id, generation: a.generation, reason: 'oops' },
      'task_ack',
    );
    assert.deepEqual(ack, { type: 'task_ack', task_id: a.task_id, status: 'retried' });
    const b = await d1.next('task_assign', (f) => f.task_id === body.task_id, WAIT);
    assert.ok(b.generation > a.generation);
    await ask(d1, { type: 'task_accepted', task_id: b.task_id }, 'task_ack');
    await leave(ctx, [d1, 'dis1']);
    const back = await until(async () => {
      const t = (await getTask(ctx, body.task_id)).body;
      return t.status === 'queued' && t;
    }, 'task back in its lane');
    assert.deepEqual([back.retry_count, back.last_error, back.assigned_to], [1, 'oops', null]);
    assert.equal(back.history[0].event, 'reclaimed');
    assert.equal(back.history[0].details.reason, 'agent_disconnected');
    const d2 = await connectAgent(ctx.hub.wsUrl, 'dis2', ctx.tok.dis2, { capabilities: ['dis'] });
    const c = await d2.next('task_assign', (f) => f.task_id === body.task_id, WAIT);
    assert.ok(c.generation > b.generation);
    const t = (await getTask(ctx, body.task_id)).body;
    assert.deepEqual([t.status, t.assigned_to, t.retry_count, t.generation], ['assigned', 'dis2', 1, c.generation]);
    await ask(d2, { type: 'task_complete', task_id: c.task_id, generation: c.generation }, 'task_ack');
    await leave(ctx, [d2, 'dis2']);
  });

  test('failures retry into dead letter; the submitter or the admin requeue and cancel, others may not', async () => {
    const w = await connectAgent(ctx.hub.wsUrl, 'dl', ctx.tok.dl, { capabilities: ['dl'] });
    const { body } = await submit(ctx, 'sub', { description: 'doomed', needed_capabilities: ['dl'], max_retries: 2 });
    const id = body.task_id;
    const first = await w.next('task_assign', undefined, WAIT);
    const r1 = await ask(
      w,
      { type: 'task_failed', task_id: id, generation: first.generation, error: 'boom1' },
      'task_ack',
    );
    assert.deepEqual(r1, { type: 'task_ack', task_id: id, status: 'retried' });
    const second = await w.next('task_assign', (f) => f.task_id === id, WAIT);
    const r2 = await ask(
      w,
      { type: 'task_failed', task_id: id, generation: second.generation, error: 'boom2' },
      'task_ack',
    );
    assert.deepEqual(r2, { type: 'task_ack', task_id: id, status: 'dead_letter' });

    const dl = await api(ctx.hub.url, 'GET', '/api/tasks/dead-letter', { token: ctx.tok.other });
    assert.equal(dl.status, 200);
    assert.equal(dl.body.count, dl.body.tasks.length);
    const entry = dl.body.tasks.find((t: { id: string }) => t.id === id);
    assert.deepEqual([entry?.status, entry?.retry_count, entry?.last_error], ['dead_letter', 2, 'boom2']);
    const listed = await api(ctx.hub.url, 'GET', '/api/tasks', { token: ctx.tok.sub });
    assert.equal(
      listed.body.tasks.some((t: { id: string }) => t.id === id),
      false,
      'GET /api/tasks leaves dead letters out',
    );
    assert.equal((await getTask(ctx, id)).body.status, 'dead_letter', 'GET /api/tasks/:id finds dead letters');

    for (const op of ['retry', 'cancel']) {
      const denied = await api(ctx.hub.url, 'POST', `/api/tasks/${id}/${op}`, { token: ctx.tok.other });
      assert.deepEqual([denied.status, denied.body], [403, { error: 'admin_port_only' }], op);
    }
    const rq = await api(ctx.hub.url, 'POST', `/api/tasks/${id}/retry`, { token: ctx.tok.sub });
    assert.deepEqual([rq.status, rq.body], [200, { status: 'requeued', task_id: id, priority: 2 }]);
    const third = await w.next('task_assign', (f) => f.task_id === id, WAIT);
    assert.ok(third.generation > second.generation);
    const t3 = (await getTask(ctx, id)).body;
    assert.deepEqual([t3.status, t3.retry_count, t3.last_error], ['assigned', 0, null]);
    await ask(w, { type: 'task_accepted', task_id: id }, 'task_ack');

    const agentOnAdmin = await api(ctx.hub.adminUrl, 'POST', `/api/tasks/${id}/cancel`, { token: ctx.tok.sub });
    assert.equal(agentOnAdmin.status, 401, 'an agent token is no admin token');
    const cancel = await api(ctx.hub.adminUrl, 'POST', `/api/tasks/${id}/cancel`, { token: ADMIN_TOKEN });
    assert.deepEqual(
      [cancel.status, cancel.body],
      [200, { status: 'cancelled', task_id: id, previous_status: 'assigned' }],
    );
    const note = await w.next('task_cancelled', undefined, WAIT);
    assert.deepEqual(Object.keys(note).sort(), ['task_id', 'timestamp', 'type']);
    assert.equal(note.task_id, id);
    assert.equal(typeof note.timestamp, 'number');
    assert.deepEqual((await getTask(ctx, id)).body, { error: 'task_not_found', task_id: id });
    await until(async () => (await stateOf(ctx, 'dl')).fsm_state === 'idle', 'agent idle after cancel');

    // the admin requeues someone else's dead letter on the admin port
    const two = (await submit(ctx, 'sub', { description: 'doomed too', needed_capabilities: ['dl'], max_retries: 1 }))
      .body.task_id;
    const a2 = await w.next('task_assign', (f) => f.task_id === two, WAIT);
    const dead = { type: 'task_complete', task_id: two, generation: a2.generation, result: { status: 'failed' } };
    assert.equal((await ask(w, dead, 'task_ack')).status, 'dead_letter', 'a failed result counts as a failure');
    const adminRetry = await api(ctx.hub.adminUrl, 'POST', `/api/tasks/${two}/retry`, { token: ADMIN_TOKEN });
    assert.deepEqual([adminRetry.status, adminRetry.body], [200, { status: 'requeued', task_id: two, priority: 2 }]);
    const aliasDl = await api(ctx.hub.adminUrl, 'GET', '/api/tasks/dead-letter', { token: ADMIN_TOKEN });
    assert.equal(aliasDl.status, 200);
    const a3 = await w.next('task_assign', (f) => f.task_id === two, WAIT);
    await ask(w, { type: 'task_complete', task_id: two, generation: a3.generation }, 'task_ack');
    const notDead = await api(ctx.hub.url, 'POST', `/api/tasks/${two}/retry`, { token: ctx.tok.sub });
    assert.deepEqual([notDead.status, notDead.body], [404, { error: 'task_not_found', task_id: two }]);

    // the submitter cancels its own queued task on the public port
    const q = (await submit(ctx, 'sub', { description: 'never mind', needed_capabilities: ['nobody'] })).body.task_id;
    const own = await api(ctx.hub.url, 'POST', `/api/tasks/${q}/cancel`, { token: ctx.tok.sub });
    assert.deepEqual([own.status, own.body], [200, { status: 'cancelled', task_id: q, previous_status: 'queued' }]);
    await leave(ctx, [w, 'dl']);
  });

  test('task_rejected: the task goes back at once, no retry counted, and the agent is not offered work', async () => {
    const r = await connectAgent(ctx.hub.wsUrl, 'rj', ctx.tok.rj, { capabilities: ['rj'] });
    const { body } = await submit(ctx, 'sub', { description: 'busy now', needed_capabilities: ['rj'] });
    const a = await r.next('task_assign', undefined, WAIT);
    r.send({ type: 'task_rejected', task_id: a.task_id, reason: 'busy' });
    const back = await until(async () => {
      const t = (await getTask(ctx, body.task_id)).body;
      return t.status === 'queued' && t;
    }, 'rejected task back in its lane');
    assert.deepEqual([back.retry_count, back.assigned_to, back.last_error], [0, null, null]);
    assert.ok(back.generation > a.generation);
    assert.equal((await stateOf(ctx, 'rj')).fsm_state, 'idle');
    const two = (await submit(ctx, 'sub', { description: 'and another', needed_capabilities: ['rj'] })).body.task_id;
    // the other agent gets both, in FIFO order; the rejecting one is cooling down (rejectCooldownMs 60 s here)
    const s = await connectAgent(ctx.hub.wsUrl, 'rj2', ctx.tok.rj2, { capabilities: ['rj'] });
    const b = await s.next('task_assign', undefined, WAIT);
    assert.equal(b.task_id, body.task_id);
    assert.ok(b.generation > back.generation - 1);
    await ask(s, { type: 'task_complete', task_id: b.task_id, generation: b.generation }, 'task_ack');
    const c = await s.next('task_assign', undefined, WAIT);
    assert.equal(c.task_id, two);
    await ask(s, { type: 'task_complete', task_id: c.task_id, generation: c.generation }, 'task_ack');
    await settle(r);
    assert.deepEqual(
      r.frames.filter((f) => f.type === 'task_assign'),
      [],
      'no offer during the cooldown',
    );
    assert.equal(r.frames.filter((f) => f.type === 'error').length, 0, 'task_rejected is a known frame');
    await leave(ctx, [r, 'rj'], [s, 'rj2']);
  });

  test('after a task_rejected, a state_report ends the cooldown (§9.27)', async () => {
    const r = await connectAgent(ctx.hub.wsUrl, 'rj3', ctx.tok.rj3, { capabilities: ['rj3'] });
    try {
      const { body } = await submit(ctx, 'sub', { description: 'busy again', needed_capabilities: ['rj3'] });
      const a = await r.next('task_assign', undefined, WAIT);
      r.send({ type: 'task_rejected', task_id: a.task_id, reason: 'busy' });
      await until(async () => (await getTask(ctx, body.task_id)).body.status === 'queued', 'rejected');
      const report = { type: 'state_report', task_id: a.task_id, generation: a.generation };
      assert.equal((await ask(r, report, 'state_report_ack')).action, 'abort');
      const b = await r.next('task_assign', (f) => f.task_id === body.task_id, 3_000);
      await ask(r, { type: 'task_complete', task_id: b.task_id, generation: b.generation }, 'task_ack');
    } finally {
      await leave(ctx, [r, 'rj3']);
    }
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
    await ask(dep, { type: 'task_complete', task_id: hold, generation: h.generation }, 'task_ack');
    const a = await dep.next('task_assign', undefined, WAIT);
    assert.equal(a.task_id, first, 'the urgent dependant waits for its dependency');
    assert.equal((await getTask(ctx, second.body.task_id)).body.status, 'queued');
    await ask(dep, { type: 'task_complete', task_id: first, generation: a.generation }, 'task_ack');
    const b = await dep.next('task_assign', undefined, WAIT);
    assert.equal(b.task_id, second.body.task_id);
    assert.deepEqual((await getTask(ctx, second.body.task_id)).body.depends_on, [first]);
    await ask(dep, { type: 'task_complete', task_id: b.task_id, generation: b.generation }, 'task_ack');
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
    await ask(pb, { type: 'task_complete', task_id: x.task_id, generation: x.generation }, 'task_ack');
    const y = await pb.next('task_assign', undefined, WAIT);
    assert.equal(y.task_id, p2.body.task_id);
    await ask(pb, { type: 'task_complete', task_id: y.task_id, generation: y.generation }, 'task_ack');
    await settle(pa);
    assert.deepEqual(
      pa.frames.filter((f) => f.type === 'task_assign'),
      [],
      'pinA is never offered pinned tasks',
    );
    await leave(ctx, [pa, 'pinA'], [pb, 'pinB']);
  });

  test('reconnect: state_report continues a live assignment (FSM working) or aborts; task_recovering', async () => {
    const one = await connectAgent(ctx.hub.wsUrl, 'sr', ctx.tok.sr, { capabilities: ['sr'] });
    const { body } = await submit(ctx, 'sub', { description: 'long job', needed_capabilities: ['sr'] });
    const a = await one.next('task_assign', undefined, WAIT);
    await ask(one, { type: 'task_accepted', task_id: a.task_id }, 'task_ack');
    // a new socket for the same agent (newest wins): no disconnect, so no reclaim
    const two = await connectAgent(ctx.hub.wsUrl, 'sr', ctx.tok.sr, { capabilities: ['sr'] });
    assert.equal((await one.waitClose(WAIT)).code, 4001);
    const report = { type: 'state_report', task_id: a.task_id, status: 'working', assigned_at: a.assigned_at };
    const cont = await ask(two, { ...report, generation: a.generation }, 'state_report_ack');
    assert.deepEqual(cont, { type: 'state_report_ack', task_id: a.task_id, action: 'continue' });
    const st = await stateOf(ctx, 'sr');
    assert.deepEqual([st.fsm_state, st.current_task_id], ['working', a.task_id]);
    const unknown = 'task-0000000000000000';
    assert.deepEqual(await ask(two, { ...report, task_id: unknown, generation: 1 }, 'state_report_ack'), {
      type: 'state_report_ack',
      task_id: unknown,
      action: 'abort',
    });
    assert.deepEqual(await ask(two, { type: 'task_recovering', task_id: a.task_id }, 'task_continue'), {
      type: 'task_continue',
      task_id: a.task_id,
      generation: a.generation,
    });
    assert.deepEqual(await ask(two, { type: 'task_recovering', task_id: unknown }, 'task_reassign'), {
      type: 'task_reassign',
      task_id: unknown,
    });
    assert.equal((await stateOf(ctx, 'sr')).fsm_state, 'working');
    const t = (await getTask(ctx, body.task_id)).body;
    assert.deepEqual([t.status, t.assigned_to, t.generation], ['assigned', 'sr', a.generation]);
    const done = { type: 'task_complete', task_id: a.task_id, generation: a.generation };
    assert.equal((await ask(two, done, 'task_ack')).status, 'complete');
    assert.deepEqual(await ask(two, { type: 'task_recovering', task_id: a.task_id }, 'task_reassign'), {
      type: 'task_reassign',
      task_id: a.task_id,
    });
    assert.deepEqual(await ask(two, { ...report, generation: a.generation }, 'state_report_ack'), {
      type: 'state_report_ack',
      task_id: a.task_id,
      action: 'abort',
    });
    assert.equal((await stateOf(ctx, 'sr')).fsm_state, 'idle');
    await leave(ctx, [two, 'sr']);
  });

  test('admin push-task sends an unqueued task_assign with generation 0 and no routing', async () => {
    const p = await connectAgent(ctx.hub.wsUrl, 'push', ctx.tok.push, { capabilities: ['push'] });
    const r = await api(ctx.hub.adminUrl, 'POST', '/admin/push-task', {
      token: ADMIN_TOKEN,
      body: { agent_id: 'push', description: 'pushed', metadata: { k: 1 } },
    });
    assert.equal(r.status, 200);
    assert.deepEqual(Object.keys(r.body).sort(), ['agent_id', 'status', 'task_id']);
    assert.deepEqual([r.body.status, r.body.agent_id], ['pushed', 'push']);
    assert.match(r.body.task_id, /^task-[0-9a-f]{16}$/);
    const f = await p.next('task_assign', (x) => x.task_id === r.body.task_id, WAIT);
    assert.deepEqual(Object.keys(f).sort(), ASSIGN_KEYS);
    assert.deepEqual([f.description, f.metadata, f.generation, f.routing_decision], ['pushed', { k: 1 }, 0, null]);
    assert.deepEqual((await getTask(ctx, r.body.task_id)).body, { error: 'task_not_found', task_id: r.body.task_id });
    const alias = await api(ctx.hub.adminUrl, 'POST', '/api/admin/push-task', {
      token: ADMIN_TOKEN,
      body: { agent_id: 'push', description: 'via alias' },
    });
    assert.equal(alias.body.status, 'pushed');
    const g = await p.next('task_assign', (x) => x.task_id === alias.body.task_id, WAIT);
    assert.deepEqual([g.metadata, g.generation], [{}, 0]);
    const gone = await api(ctx.hub.adminUrl, 'POST', '/admin/push-task', {
      token: ADMIN_TOKEN,
      body: { agent_id: 'nobody', description: 'x' },
    });
    assert.deepEqual([gone.status, gone.body], [404, { error: 'agent_not_connected' }]);
    const pub = await api(ctx.hub.url, 'POST', '/api/admin/push-task', {
      token: ctx.tok.sub,
      body: { agent_id: 'push', description: 'x' },
    });
    assert.deepEqual([pub.status, pub.body], [403, { error: 'admin_port_only' }]);
    const noAdmin = await api(ctx.hub.adminUrl, 'POST', '/admin/push-task', {
      token: ctx.tok.sub,
      body: { agent_id: 'push', description: 'x' },
    });
    assert.equal(noAdmin.status, 401);
    await leave(ctx, [p, 'push']);
  });

  test('an Idempotency-Key (header or field) returns the first task; one task exists per agent and key', async () => {
    const body = { description: 'exactly once', needed_capabilities: ['nobody'] };
    const h = { 'Idempotency-Key': 'idem-1' };
    const one = await submit(ctx, 'sub', body, h);
    const two = await submit(ctx, 'sub', body, h);
    assert.deepEqual([one.status, two.status], [201, 200]);
    assert.deepEqual(two.body, one.body);
    const viaField = await submit(ctx, 'sub', { ...body, idempotency_key: 'idem-1' });
    assert.deepEqual([viaField.status, viaField.body.task_id], [200, one.body.task_id]);
    const otherAgent = await submit(ctx, 'other', body, h);
    assert.equal(otherAgent.status, 201, 'keys are scoped to the sending agent');
    assert.notEqual(otherAgent.body.task_id, one.body.task_id);
    const f1 = await submit(ctx, 'sub', { ...body, idempotency_key: 'idem-2' });
    const f2 = await submit(ctx, 'sub', { ...body, idempotency_key: 'idem-2' });
    assert.deepEqual([f1.status, f2.status, f2.body.task_id], [201, 200, f1.body.task_id]);
    const all = await api(ctx.hub.url, 'GET', '/api/tasks?status=queued', { token: ctx.tok.sub });
    const mine = all.body.tasks.filter((t: { description: string }) => t.description === 'exactly once');
    assert.deepEqual(
      mine.map((t: { id: string }) => t.id).sort(),
      [one.body.task_id, otherAgent.body.task_id, f1.body.task_id].sort(),
    );
    for (const id of [one.body.task_id, otherAgent.body.task_id, f1.body.task_id])
      await api(ctx.hub.adminUrl, 'POST', `/api/tasks/${id}/cancel`, { token: ADMIN_TOKEN });
  });

  test('GET /api/tasks filters by status, priority name and assigned_to; queued in lane order, the rest by age; pages by cursor', async () => {
    const ids: Record<string, string> = {};
    for (const [name, priority] of [
      ['f-low', 'low'],
      ['f-urgent', 'urgent'],
      ['f-normal', undefined],
      ['f-high', 'high'],
      ['f-urgent2', 'urgent'],
    ] as const) {
      ids[name] = (
        await submit(ctx, 'sub', { description: name, priority, needed_capabilities: ['flt'] })
      ).body.task_id;
    }
    const f = await connectAgent(ctx.hub.wsUrl, 'flt', ctx.tok.flt, { capabilities: ['flt'] });
    const a = await f.next('task_assign', undefined, WAIT);
    assert.equal(a.task_id, ids['f-urgent']);
    const list = async (q: string) => {
      const r = await api(ctx.hub.url, 'GET', `/api/tasks${q}`, { token: ctx.tok.sub });
      assert.equal(r.status, 200, q);
      assert.equal(r.body.count, r.body.tasks.length, q);
      const lanes = q.includes('status=queued');
      // completed tasks page by when they completed, the rest by age
      const at = q.includes('status=completed') ? 'updated_at' : 'created_at';
      for (let i = 1; i < r.body.tasks.length; i++) {
        const [a, b] = [r.body.tasks[i - 1], r.body.tasks[i]];
        assert.ok(lanes ? before_(keyOf(a), keyOf(b)) : a[at] <= b[at], `${q}: ordered`);
      }
      return r.body.tasks as Array<{ id: string; status: string; priority: number; assigned_to: string | null }>;
    };
    const ours = (ts: Array<{ id: string }>) => ts.map((t) => t.id).filter((id) => Object.values(ids).includes(id));
    assert.deepEqual(ours(await list('')), [
      ids['f-low'],
      ids['f-urgent'],
      ids['f-normal'],
      ids['f-high'],
      ids['f-urgent2'],
    ]);
    const paged: string[] = [];
    let cursor = '';
    for (let i = 0; i < 20; i++) {
      const r = await api(ctx.hub.url, 'GET', `/api/tasks?status=queued&limit=2${cursor}`, { token: ctx.tok.sub });
      assert.ok(r.body.tasks.length <= 2);
      paged.push(...r.body.tasks.map((t: { id: string }) => t.id));
      if (r.body.cursor === null) break;
      cursor = `&cursor=${r.body.cursor}`;
    }
    assert.deepEqual(ours(paged.map((id) => ({ id }))), [
      ids['f-urgent2'],
      ids['f-high'],
      ids['f-normal'],
      ids['f-low'],
    ]);
    assert.ok((await list('')).every((t) => t.status !== 'dead_letter'));
    const queued = await list('?status=queued');
    assert.ok(queued.every((t) => t.status === 'queued'));
    assert.deepEqual(ours(queued), [ids['f-urgent2'], ids['f-high'], ids['f-normal'], ids['f-low']]);
    const assigned = await list('?assigned_to=flt');
    assert.deepEqual(
      assigned.map((t) => [t.id, t.status, t.assigned_to]),
      [[ids['f-urgent'], 'assigned', 'flt']],
    );
    assert.deepEqual(
      (await list('?status=assigned&assigned_to=flt')).map((t) => t.id),
      [ids['f-urgent']],
    );
    const urgent = await list('?priority=urgent');
    assert.ok(urgent.every((t) => t.priority === 0));
    assert.deepEqual(ours(urgent), [ids['f-urgent'], ids['f-urgent2']]);
    const lowQueued = await list('?status=queued&priority=low');
    assert.ok(lowQueued.every((t) => t.status === 'queued' && t.priority === 3));
    assert.deepEqual(ours(lowQueued), [ids['f-low']]);
    assert.ok((await list('?status=completed')).every((t) => t.status === 'completed'));
    assert.deepEqual(await list('?assigned_to=nobody-at-all'), []);
    const adminView = await api(ctx.hub.adminUrl, 'GET', '/api/tasks?assigned_to=flt', { token: ADMIN_TOKEN });
    assert.deepEqual(
      adminView.body.tasks.map((t: { id: string }) => t.id),
      [ids['f-urgent']],
    );
    for (const id of Object.values(ids))
      await api(ctx.hub.adminUrl, 'POST', `/api/tasks/${id}/cancel`, { token: ADMIN_TOKEN });
    await leave(ctx, [f, 'flt']);
  });

  test('GET /api/tasks/stats agrees with the lists', async () => {
    const parked = [];
    for (const priority of ['low', 'high', 'high'])
      parked.push((await submit(ctx, 'sub', { description: 'parked', priority, needed_capabilities: ['none'] })).body);
    const steps = Array.from({ length: 11 }, (_, i) => ({ type: 'command', target: `step ${i}` }));
    const warned = await submit(ctx, 'sub', {
      description: 'many steps',
      verification_steps: steps,
      needed_capabilities: ['none'],
    });
    assert.equal(warned.status, 201);
    assert.ok(Array.isArray(warned.body.warnings) && warned.body.warnings.length === 1, 'more than 10 steps warns');
    parked.push(warned.body);
    const r = await api(ctx.hub.url, 'GET', '/api/tasks/stats', { token: ctx.tok.sub });
    assert.equal(r.status, 200);
    assert.deepEqual(Object.keys(r.body).sort(), [
      'by_priority',
      'by_status',
      'dead_letter',
      'dependency_failed',
      'paused',
      'queued_index_size',
      'removed',
    ]);
    const count = async (q: string) =>
      (await api(ctx.hub.url, 'GET', `/api/tasks${q}`, { token: ctx.tok.sub })).body.count as number;
    assert.deepEqual(r.body.by_status, {
      scheduled: await count('?status=scheduled'),
      queued: await count('?status=queued'),
      assigned: await count('?status=assigned'),
      completed: await count('?status=completed'),
    });
    const dl = await api(ctx.hub.url, 'GET', '/api/tasks/dead-letter', { token: ctx.tok.sub });
    assert.equal(r.body.dead_letter, dl.body.count);
    const byPriority: Record<string, number> = {};
    for (const p of ['urgent', 'high', 'normal', 'low']) {
      const n = await count(`?status=queued&priority=${p}`);
      if (n) byPriority[String({ urgent: 0, high: 1, normal: 2, low: 3 }[p])] = n;
    }
    assert.deepEqual(r.body.by_priority, byPriority);
    assert.ok(r.body.by_priority['1'] >= 2 && r.body.by_priority['3'] >= 1);
    assert.equal(r.body.queued_index_size, r.body.by_status.queued);
    const admin = await api(ctx.hub.adminUrl, 'GET', '/api/tasks/stats', { token: ADMIN_TOKEN });
    assert.deepEqual(admin.body, r.body);
    for (const t of parked) await api(ctx.hub.url, 'POST', `/api/tasks/${t.task_id}/cancel`, { token: ctx.tok.sub });
  });

  test('bad input on every task frame gets the exact §2.3 validation_failed frame', async () => {
    const c = await connectAgent(ctx.hub.wsUrl, 'bad', ctx.tok.bad, { capabilities: ['never-used'] });
    const check = async (frame: Record<string, unknown>, field: string, error: string, value?: unknown) => {
      const e = await ask(c, frame, 'error');
      const label = JSON.stringify(frame).slice(0, 120);
      assert.deepEqual(Object.keys(e).sort(), ['error', 'errors', 'message_type', 'type'], label);
      assert.deepEqual([e.type, e.error, e.message_type], ['error', 'validation_failed', frame.type], label);
      assert.equal(e.errors.length, 1, label);
      const item = e.errors[0];
      assert.deepEqual([item.field, item.error], [field, error], label);
      assert.equal(typeof item.detail, 'string', label);
      const keys = ['detail', 'error', 'field', ...(value === undefined ? [] : ['value'])].sort();
      assert.deepEqual(Object.keys(item).sort(), keys, label);
      if (value !== undefined) assert.deepEqual(item.value, value, label);
    };
    const frames = [
      'task_accepted',
      'task_progress',
      'task_complete',
      'task_failed',
      'task_recovering',
      'task_rejected',
      'state_report',
      'wake_result',
    ];
    for (const type of frames) {
      const rest: Record<string, unknown> = {};
      if (type === 'task_complete' || type === 'task_failed') rest.generation = 1;
      if (type === 'wake_result') rest.status = 'success';
      await check({ type, ...rest }, 'task_id', 'required');
      await check({ type, ...rest, task_id: null }, 'task_id', 'required');
      await check({ type, ...rest, task_id: 7 }, 'task_id', 'wrong_type', 7);
      await check({ type, ...rest, task_id: 'x'.repeat(129) }, 'task_id', 'too_long');
    }
    for (const type of ['task_complete', 'task_failed']) {
      await check({ type, task_id: 't' }, 'generation', 'required');
      await check({ type, task_id: 't', generation: 1.5 }, 'generation', 'wrong_type', 1.5);
      await check({ type, task_id: 't', generation: '1' }, 'generation', 'wrong_type', '1');
    }
    await check({ type: 'state_report', task_id: 't', generation: 2.5 }, 'generation', 'wrong_type', 2.5);
    await check({ type: 'state_report', task_id: 't', assigned_at: 'now' }, 'assigned_at', 'wrong_type', 'now');
    await check({ type: 'task_progress', task_id: 't', progress: 0.5 }, 'progress', 'wrong_type', 0.5);
    await check({ type: 'task_progress', task_id: 't', execution_event: [1] }, 'execution_event', 'wrong_type');
    await check({ type: 'task_complete', task_id: 't', generation: 1, result: 'ok' }, 'result', 'wrong_type', 'ok');
    await check(
      { type: 'task_complete', task_id: 't', generation: 1, tokens_used: 1.5 },
      'tokens_used',
      'wrong_type',
      1.5,
    );
    await check({ type: 'task_failed', task_id: 't', generation: 1, error: 'e'.repeat(2001) }, 'error', 'too_long');
    await check({ type: 'task_rejected', task_id: 't', reason: 5 }, 'reason', 'wrong_type', 5);
    await check({ type: 'wake_result', task_id: 't' }, 'status', 'required');
    // unknown ids are domain errors in the original's text form
    assert.deepEqual(
      await ask(c, { type: 'task_complete', task_id: 'task-ffffffffffffffff', generation: 1 }, 'error'),
      {
        type: 'error',
        error: 'task_complete_failed: not_found',
      },
    );
    assert.deepEqual(await ask(c, { type: 'task_failed', task_id: 'task-ffffffffffffffff', generation: 1 }, 'error'), {
      type: 'error',
      error: 'task_fail_failed: not_found',
    });
    // the socket stays usable, and nothing else came back
    await settle(c);
    assert.deepEqual(c.frames, []);
    await leave(ctx, [c, 'bad']);
  });

  test('bad input on every task route gets the exact §3 shape; unknown ids are 404 task_not_found', async () => {
    const post = (body: unknown) => api(ctx.hub.url, 'POST', '/api/tasks', { token: ctx.tok.sub, body });
    const expect422 = async (body: unknown, field: string, error: string, value?: unknown) => {
      const r = await post(body);
      const label = JSON.stringify(body).slice(0, 120);
      assert.equal(r.status, 422, label);
      assert.deepEqual(Object.keys(r.body).sort(), ['error', 'errors'], label);
      assert.equal(r.body.error, 'validation_failed', label);
      const item = r.body.errors.find((e: { field: string }) => e.field === field);
      assert.ok(item, `${label}: ${field} in ${JSON.stringify(r.body.errors)}`);
      assert.equal(item.error, error, label);
      assert.equal(typeof item.detail, 'string', label);
      if (value !== undefined) assert.deepEqual(item.value, value, label);
    };
    const ok = { description: 'fine', needed_capabilities: ['nobody'] };
    await expect422({ needed_capabilities: ['nobody'] }, 'description', 'required');
    await expect422({ ...ok, description: '' }, 'description', 'required');
    await expect422({ ...ok, description: 42 }, 'description', 'wrong_type', 42);
    await expect422({ ...ok, description: 'x'.repeat(4097) }, 'description', 'too_long');
    await expect422({ ...ok, priority: 1 }, 'priority', 'wrong_type', 1);
    await expect422({ ...ok, metadata: [1] }, 'metadata', 'wrong_type');
    await expect422({ ...ok, max_retries: 1.5 }, 'max_retries', 'wrong_type', 1.5);
    await expect422({ ...ok, max_retries: '3' }, 'max_retries', 'wrong_type', '3');
    await expect422({ ...ok, complete_by: 'soon' }, 'complete_by', 'wrong_type', 'soon');
    await expect422({ ...ok, needed_capabilities: 'code' }, 'needed_capabilities', 'wrong_type', 'code');
    await expect422({ ...ok, needed_capabilities: ['ok', 3] }, 'needed_capabilities[1]', 'wrong_type', 3);
    await expect422({ ...ok, file_hints: [{}] }, 'file_hints[0].path', 'required');
    await expect422({ ...ok, file_hints: [{ path: 'a' }, { path: '' }] }, 'file_hints[1].path', 'required');
    await expect422({ ...ok, verification_steps: [{ type: 'cmd' }] }, 'verification_steps[0].target', 'required');
    await expect422({ ...ok, complexity_tier: 'huge' }, 'complexity_tier', 'wrong_type', 'huge');
    const mvr = await post({ ...ok, max_verification_retries: 6 });
    assert.equal(mvr.status, 422);
    assert.equal(mvr.body.errors[0].field, 'max_verification_retries');
    assert.ok(['wrong_type', 'too_long'].includes(mvr.body.errors[0].error));
    assert.equal(mvr.body.errors[0].value, 6);
    await expect422({ ...ok, skip_verification: 'yes' }, 'skip_verification', 'wrong_type', 'yes');
    await expect422({ ...ok, depends_on: ['task-0000000000000000'] }, 'depends_on[0]', 'wrong_type');
    await expect422({ ...ok, assign_to: 'bad id!' }, 'assign_to', 'wrong_type', 'bad id!');
    await expect422('text', 'message', 'wrong_type', 'text');
    const many = await post({ description: 'x'.repeat(5000), file_hints: [{}], max_verification_retries: 9 });
    const fields = many.body.errors.map((e: { field: string }) => e.field);
    for (const f of ['description', 'file_hints[0].path', 'max_verification_retries']) assert.ok(fields.includes(f), f);

    const badJson = await api(ctx.hub.url, 'POST', '/api/tasks', { token: ctx.tok.sub, raw: '{"description":' });
    assert.deepEqual([badJson.status, badJson.body], [400, { error: 'invalid_json' }]);
    const noAuth = await api(ctx.hub.url, 'POST', '/api/tasks', { body: ok });
    assert.deepEqual(
      [noAuth.status, noAuth.body],
      [401, { error: 'unauthorized', hint: 'provide Authorization: Bearer <token>' }],
    );
    const noAuthGet = await api(ctx.hub.url, 'GET', '/api/tasks');
    assert.equal(noAuthGet.status, 401);

    for (const q of ['?status=weird', '?priority=2', '?priority=1.5', '?priority=URGENT']) {
      const r = await api(ctx.hub.url, 'GET', `/api/tasks${q}`, { token: ctx.tok.sub });
      assert.equal(r.status, 422, q);
      assert.equal(r.body.error, 'validation_failed', q);
      assert.equal(r.body.errors[0].field, q.slice(1).split('=')[0], q);
    }

    const missing = 'task-ffffffffffffffff';
    for (const [port, method, path, token] of [
      [ctx.hub.url, 'GET', `/api/tasks/${missing}`, ctx.tok.sub],
      [ctx.hub.url, 'POST', `/api/tasks/${missing}/retry`, ctx.tok.sub],
      [ctx.hub.url, 'POST', `/api/tasks/${missing}/cancel`, ctx.tok.sub],
      [ctx.hub.adminUrl, 'GET', `/api/tasks/${missing}`, ADMIN_TOKEN],
      [ctx.hub.adminUrl, 'POST', `/api/tasks/${missing}/retry`, ADMIN_TOKEN],
      [ctx.hub.adminUrl, 'POST', `/api/tasks/${missing}/cancel`, ADMIN_TOKEN],
    ]) {
      const r = await api(port, method, path, { token });
      assert.deepEqual([r.status, r.body], [404, { error: 'task_not_found', task_id: missing }], `${method} ${path}`);
    }

    const push = (body: unknown) => api(ctx.hub.adminUrl, 'POST', '/admin/push-task', { token: ADMIN_TOKEN, body });
    const p1 = await push({ description: 'x' });
    assert.deepEqual(
      [p1.status, p1.body.error, p1.body.errors[0].field, p1.body.errors[0].error],
      [422, 'validation_failed', 'agent_id', 'required'],
    );
    const p2 = await push({ agent_id: 'bad', description: 'x'.repeat(4097) });
    assert.deepEqual([p2.status, p2.body.errors[0].field, p2.body.errors[0].error], [422, 'description', 'too_long']);
    const p3 = await push({ agent_id: 'bad', description: 'x', metadata: 'm' });
    assert.deepEqual([p3.status, p3.body.errors[0].field], [422, 'metadata']);
  });

  test('a JSON array body is a non-object: field "message" (§2.3)', async () => {
    const r = await api(ctx.hub.url, 'POST', '/api/tasks', { token: ctx.tok.sub, raw: '[1,2]' });
    assert.equal(r.status, 422);
    assert.deepEqual(
      r.body.errors.map((e: { field: string; error: string }) => [e.field, e.error]),
      [['message', 'wrong_type']],
    );
  });
});

describe('task pipeline: acceptance timeout, reject cooldown, abort', () => {
  const timers = { acceptTimeoutMs: 500, rejectCooldownMs: 300, restartGraceMs: 0, taskSweepMs: 100, maxReclaims: 3 };
  const ctx = harness(timers, ['sub', 'slow', 'cool', 'ab', 'cb', 'stall']);

  test('an assignment not accepted in time is reclaimed and reassigned; the late result is fenced off', async () => {
    const slow = await connectAgent(ctx.hub.wsUrl, 'slow', ctx.tok.slow, { capabilities: ['acc'] });
    const { body } = await submit(ctx, 'sub', { description: 'accept me', needed_capabilities: ['acc'] });
    const a = await slow.next('task_assign', undefined, WAIT);
    const b = await slow.next('task_assign', (f) => f.task_id === body.task_id, WAIT);
    assert.ok(b.generation > a.generation, 'reassigned with a new generation after the timeout');
    const t = (await getTask(ctx, body.task_id)).body;
    const reclaimed = t.history.find((h: { event: string }) => h.event === 'reclaimed');
    assert.equal(reclaimed?.details.reason, 'acceptance_timeout');
    assert.equal(t.retry_count, 0, 'a reclaim is no retry');
    assert.ok((await stateOf(ctx, 'slow')).flags.includes('unresponsive'));
    assert.deepEqual(
      await ask(slow, { type: 'task_complete', task_id: a.task_id, generation: a.generation }, 'error'),
      {
        type: 'error',
        error: 'task_complete_failed: stale_generation',
      },
    );
    await ask(slow, { type: 'task_accepted', task_id: b.task_id }, 'task_ack');
    const ok = await ask(slow, { type: 'task_complete', task_id: b.task_id, generation: b.generation }, 'task_ack');
    assert.equal(ok.status, 'complete');
    const done = (await getTask(ctx, body.task_id)).body;
    assert.equal(done.history.filter((h: { event: string }) => h.event === 'completed').length, 1);
    await leave(ctx, [slow, 'slow']);
  });

  test('a task reclaimed maxReclaims times goes to dead letter as "stalled", with no retry counted', async () => {
    const c = await connectAgent(ctx.hub.wsUrl, 'stall', ctx.tok.stall, { capabilities: ['stall'] });
    const { body } = await submit(ctx, 'sub', { description: 'never accepted', needed_capabilities: ['stall'] });
    const t = await until(async () => {
      const r = (await getTask(ctx, body.task_id)).body;
      return r.status === 'dead_letter' && r;
    }, 'stalled into dead letter');
    assert.deepEqual([t.last_error, t.retry_count, t.assigned_to], ['stalled', 0, null]);
    assert.equal(t.history.filter((h: { event: string }) => h.event === 'reclaimed').length, 2);
    assert.equal(t.history.filter((h: { event: string }) => h.event === 'assigned').length, 3);
    await settle(c);
    const offers = c.frames.filter((f) => f.type === 'task_assign' && f.task_id === body.task_id);
    assert.deepEqual(
      offers.map((f) => f.generation),
      [1, 3, 5],
    );
    const dl = await api(ctx.hub.url, 'GET', '/api/tasks/dead-letter', { token: ctx.tok.sub });
    assert.ok(dl.body.tasks.some((x: { id: string }) => x.id === body.task_id));
    await until(async () => (await stateOf(ctx, 'stall')).fsm_state === 'idle', 'agent idle');
    await leave(ctx, [c, 'stall']);
  });

  test('after a task_rejected the agent is offered work again once the cooldown is over', async () => {
    const r = await connectAgent(ctx.hub.wsUrl, 'cool', ctx.tok.cool, { capabilities: ['cool'] });
    const { body } = await submit(ctx, 'sub', { description: 'later please', needed_capabilities: ['cool'] });
    const a = await r.next('task_assign', undefined, WAIT);
    r.send({ type: 'task_rejected', task_id: a.task_id, reason: 'busy' });
    const b = await r.next('task_assign', (f) => f.task_id === body.task_id, WAIT);
    assert.ok(b.generation > a.generation);
    const t = (await getTask(ctx, body.task_id)).body;
    assert.deepEqual([t.retry_count, t.status, t.assigned_to], [0, 'assigned', 'cool']);
    await ask(r, { type: 'task_complete', task_id: b.task_id, generation: b.generation }, 'task_ack');
    await leave(ctx, [r, 'cool']);
  });

  test('complete_by is honoured: past it, a queued or assigned task is dead-lettered and its agent told', async () => {
    const c = await connectAgent(ctx.hub.wsUrl, 'cb', ctx.tok.cb, { capabilities: ['cb'] });
    const soon = Date.now() + 400;
    const q = (await submit(ctx, 'sub', { description: 'q', complete_by: soon, needed_capabilities: ['nobody'] })).body;
    const a = (await submit(ctx, 'sub', { description: 'a', complete_by: soon, needed_capabilities: ['cb'] })).body;
    const f = await c.next('task_assign', undefined, WAIT);
    assert.equal(f.task_id, a.task_id);
    await ask(c, { type: 'task_accepted', task_id: a.task_id }, 'task_ack');
    const note = await c.next('task_cancelled', undefined, WAIT);
    assert.equal(note.task_id, a.task_id);
    for (const id of [q.task_id, a.task_id]) {
      const t = await until(async () => {
        const r = (await getTask(ctx, id)).body;
        return r.status === 'dead_letter' && r;
      }, `${id} expired`);
      assert.equal(t.last_error, 'complete_by_expired');
    }
    assert.deepEqual(await ask(c, { type: 'task_complete', task_id: a.task_id, generation: f.generation }, 'error'), {
      type: 'error',
      error: 'task_complete_failed: invalid_state',
    });
    await until(async () => (await stateOf(ctx, 'cb')).fsm_state === 'idle', 'agent idle');
    await leave(ctx, [c, 'cb']);
  });

  test('an abort for the agent’s own current task does not strand the assignment', async () => {
    const c = await connectAgent(ctx.hub.wsUrl, 'ab', ctx.tok.ab, { capabilities: ['ab'] });
    try {
      const { body } = await submit(ctx, 'sub', { description: 'abort me', needed_capabilities: ['ab'] });
      const a = await c.next('task_assign', undefined, WAIT);
      const report = { type: 'state_report', task_id: a.task_id, generation: a.generation + 5 };
      assert.equal((await ask(c, report, 'state_report_ack')).action, 'abort');
      // the sidecar drops the task on abort: the hub must not keep it assigned to this agent (no timer, no offer)
      const again = await c.next('task_assign', (f) => f.task_id === body.task_id, 3_000);
      assert.ok(again.generation > a.generation);
      await ask(c, { type: 'task_complete', task_id: again.task_id, generation: again.generation }, 'task_ack');
    } finally {
      await leave(ctx, [c, 'ab']);
    }
  });
});
