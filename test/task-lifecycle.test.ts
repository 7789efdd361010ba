import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { connectAgent } from './helpers/client.js';
import { ADMIN_TOKEN, api } from './helpers/hub.js';
import { ASSIGN_KEYS, ROUTING_KEYS } from './helpers/task-frames.js';
import {
  accept,
  complete,
  getTask,
  harness,
  leave,
  refusal,
  settle,
  stateOf,
  submit,
  until,
  WAIT,
} from './helpers/tasks.js';

describe('task lifecycle: shapes, outcomes, reclaims and recovery', () => {
  const agents = ['sub', 'other', 'shape', 'late1', 'late2', 'dis1', 'dis2', 'dl', 'rj', 'rj2', 'rj3', 'sr', 'push'];
  const ctx = harness({ violationMax: 1000, rejectCooldownMs: 60_000, restartGraceMs: 0 }, agents);

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

    assert.deepEqual(await accept(c, a), {
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
    const done = await c.request(
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
      undefined,
      WAIT,
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
    await complete(c, b);
    await leave(ctx, [c, 'shape']);
  });

  test('a late task_complete after a reclaim is refused as stale_generation and completes nothing', async () => {
    const first = await connectAgent(ctx.hub.wsUrl, 'late1', ctx.tok.late1, { capabilities: ['late'] });
    const { body } = await submit(ctx, 'sub', { description: 'reclaim me', needed_capabilities: ['late'] });
    const a = await first.next('task_assign', undefined, WAIT);
    assert.equal(a.task_id, body.task_id);
    await accept(first, a);
    await leave(ctx, [first, 'late1']);
    const second = await connectAgent(ctx.hub.wsUrl, 'late2', ctx.tok.late2, { capabilities: ['late'] });
    const again = await second.next('task_assign', (f) => f.task_id === a.task_id, WAIT);
    assert.ok(again.generation > a.generation);
    const back = await connectAgent(ctx.hub.wsUrl, 'late1', ctx.tok.late1, { capabilities: ['not-late'] });
    const stale = { task_id: a.task_id, generation: a.generation, result: { status: 'success', output: 'old' } };
    assert.deepEqual(await refusal(back, { type: 'task_complete', ...stale }), {
      type: 'error',
      error: 'task_complete_failed: stale_generation',
    });
    assert.deepEqual(
      await refusal(back, { type: 'task_failed', task_id: a.task_id, generation: a.generation, error: 'x' }),
      { type: 'error', error: 'task_fail_failed: stale_generation' },
    );
    const mid = (await getTask(ctx, a.task_id)).body;
    assert.deepEqual([mid.status, mid.assigned_to, mid.retry_count, mid.result], ['assigned', 'late2', 0, null]);
    const ok = { type: 'task_complete', task_id: a.task_id, generation: again.generation, result: { output: 'new' } };
    assert.equal((await second.request(ok, 'task_ack', undefined, WAIT)).status, 'complete');
    assert.deepEqual(await refusal(second, ok), {
      type: 'error',
      error: 'task_complete_failed: invalid_state',
    });
    assert.deepEqual(await refusal(back, { type: 'task_complete', ...stale }), {
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
    const ack = await d1.request(
      { type: 'task_failed', task_id: a.task_id, generation: a.generation, reason: 'oops' },
      'task_ack',
      undefined,
      WAIT,
    );
    assert.deepEqual(ack, { type: 'task_ack', task_id: a.task_id, status: 'retried' });
    const b = await d1.next('task_assign', (f) => f.task_id === body.task_id, WAIT);
    assert.ok(b.generation > a.generation);
    await accept(d1, b);
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
    await complete(d2, c);
    await leave(ctx, [d2, 'dis2']);
  });

  test('failures retry into dead letter; the submitter or the admin requeue and cancel, others may not', async () => {
    const w = await connectAgent(ctx.hub.wsUrl, 'dl', ctx.tok.dl, { capabilities: ['dl'] });
    const { body } = await submit(ctx, 'sub', { description: 'doomed', needed_capabilities: ['dl'], max_retries: 2 });
    const id = body.task_id;
    const first = await w.next('task_assign', undefined, WAIT);
    const r1 = await w.request(
      { type: 'task_failed', task_id: id, generation: first.generation, error: 'boom1' },
      'task_ack',
      undefined,
      WAIT,
    );
    assert.deepEqual(r1, { type: 'task_ack', task_id: id, status: 'retried' });
    const second = await w.next('task_assign', (f) => f.task_id === id, WAIT);
    const r2 = await w.request(
      { type: 'task_failed', task_id: id, generation: second.generation, error: 'boom2' },
      'task_ack',
      undefined,
      WAIT,
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
    await accept(w, third);

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
    assert.equal(
      (await w.request(dead, 'task_ack', undefined, WAIT)).status,
      'dead_letter',
      'a failed result counts as a failure',
    );
    const adminRetry = await api(ctx.hub.adminUrl, 'POST', `/api/tasks/${two}/retry`, { token: ADMIN_TOKEN });
    assert.deepEqual([adminRetry.status, adminRetry.body], [200, { status: 'requeued', task_id: two, priority: 2 }]);
    const aliasDl = await api(ctx.hub.adminUrl, 'GET', '/api/tasks/dead-letter', { token: ADMIN_TOKEN });
    assert.equal(aliasDl.status, 200);
    const a3 = await w.next('task_assign', (f) => f.task_id === two, WAIT);
    await complete(w, a3);
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
    await complete(s, b);
    const c = await s.next('task_assign', undefined, WAIT);
    assert.equal(c.task_id, two);
    await complete(s, c);
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
      assert.equal((await r.request(report, 'state_report_ack', undefined, WAIT)).action, 'abort');
      const b = await r.next('task_assign', (f) => f.task_id === body.task_id, 3_000);
      await complete(r, b);
    } finally {
      await leave(ctx, [r, 'rj3']);
    }
  });

  test('reconnect: state_report continues a live assignment (FSM working) or aborts; task_recovering', async () => {
    const one = await connectAgent(ctx.hub.wsUrl, 'sr', ctx.tok.sr, { capabilities: ['sr'] });
    const { body } = await submit(ctx, 'sub', { description: 'long job', needed_capabilities: ['sr'] });
    const a = await one.next('task_assign', undefined, WAIT);
    await accept(one, a);
    // a new socket for the same agent (newest wins): no disconnect, so no reclaim
    const two = await connectAgent(ctx.hub.wsUrl, 'sr', ctx.tok.sr, { capabilities: ['sr'] });
    assert.equal((await one.waitClose(WAIT)).code, 4001);
    const report = { type: 'state_report', task_id: a.task_id, status: 'working', assigned_at: a.assigned_at };
    const cont = await two.request({ ...report, generation: a.generation }, 'state_report_ack', undefined, WAIT);
    assert.deepEqual(cont, { type: 'state_report_ack', task_id: a.task_id, action: 'continue' });
    const st = await stateOf(ctx, 'sr');
    assert.deepEqual([st.fsm_state, st.current_task_id], ['working', a.task_id]);
    const unknown = 'task-0000000000000000';
    assert.deepEqual(
      await two.request({ ...report, task_id: unknown, generation: 1 }, 'state_report_ack', undefined, WAIT),
      {
        type: 'state_report_ack',
        task_id: unknown,
        action: 'abort',
      },
    );
    assert.deepEqual(
      await two.request({ type: 'task_recovering', task_id: a.task_id }, 'task_continue', undefined, WAIT),
      {
        type: 'task_continue',
        task_id: a.task_id,
        generation: a.generation,
      },
    );
    assert.deepEqual(
      await two.request({ type: 'task_recovering', task_id: unknown }, 'task_reassign', undefined, WAIT),
      {
        type: 'task_reassign',
        task_id: unknown,
      },
    );
    assert.equal((await stateOf(ctx, 'sr')).fsm_state, 'working');
    const t = (await getTask(ctx, body.task_id)).body;
    assert.deepEqual([t.status, t.assigned_to, t.generation], ['assigned', 'sr', a.generation]);
    assert.equal((await complete(two, a)).status, 'complete');
    assert.deepEqual(
      await two.request({ type: 'task_recovering', task_id: a.task_id }, 'task_reassign', undefined, WAIT),
      {
        type: 'task_reassign',
        task_id: a.task_id,
      },
    );
    assert.deepEqual(await two.request({ ...report, generation: a.generation }, 'state_report_ack', undefined, WAIT), {
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
    assert.deepEqual(await refusal(slow, { type: 'task_complete', task_id: a.task_id, generation: a.generation }), {
      type: 'error',
      error: 'task_complete_failed: stale_generation',
    });
    await accept(slow, b);
    const ok = await complete(slow, b);
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
    await complete(r, b);
    await leave(ctx, [r, 'cool']);
  });

  test('complete_by is honoured: past it, a queued or assigned task is dead-lettered and its agent told', async () => {
    const c = await connectAgent(ctx.hub.wsUrl, 'cb', ctx.tok.cb, { capabilities: ['cb'] });
    const soon = Date.now() + 400;
    const q = (await submit(ctx, 'sub', { description: 'q', complete_by: soon, needed_capabilities: ['nobody'] })).body;
    const a = (await submit(ctx, 'sub', { description: 'a', complete_by: soon, needed_capabilities: ['cb'] })).body;
    const f = await c.next('task_assign', undefined, WAIT);
    assert.equal(f.task_id, a.task_id);
    await accept(c, a);
    const note = await c.next('task_cancelled', undefined, WAIT);
    assert.equal(note.task_id, a.task_id);
    for (const id of [q.task_id, a.task_id]) {
      const t = await until(async () => {
        const r = (await getTask(ctx, id)).body;
        return r.status === 'dead_letter' && r;
      }, `${id} expired`);
      assert.equal(t.last_error, 'complete_by_expired');
    }
    assert.deepEqual(await refusal(c, { type: 'task_complete', task_id: a.task_id, generation: f.generation }), {
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
      assert.equal((await c.request(report, 'state_report_ack', undefined, WAIT)).action, 'abort');
      // the sidecar drops the task on abort: the hub must not keep it assigned to this agent (no timer, no offer)
      const again = await c.next('task_assign', (f) => f.task_id === body.task_id, 3_000);
      assert.ok(again.generation > a.generation);
      await complete(c, again);
    } finally {
      await leave(ctx, [c, 'ab']);
    }
  });
});
