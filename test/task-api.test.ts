import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { connectAgent } from './helpers/client.js';
import { ADMIN_TOKEN, api } from './helpers/hub.js';
import { harness, inLaneOrder, keyOf, leave, refusal, settle, submit, WAIT } from './helpers/tasks.js';

describe('the task API: idempotency, lists, stats and bad input', () => {
  const agents = ['sub', 'other', 'flt', 'bad'];
  const ctx = harness({ violationMax: 1000, rejectCooldownMs: 60_000, restartGraceMs: 0 }, agents);

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
        assert.ok(lanes ? inLaneOrder(keyOf(a), keyOf(b)) : a[at] <= b[at], `${q}: ordered`);
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
      const e = await refusal(c, frame);
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
      await check({ type, ...rest, task_id: '' }, 'task_id', 'required');
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
    assert.deepEqual(await refusal(c, { type: 'task_complete', task_id: 'task-ffffffffffffffff', generation: 1 }), {
      type: 'error',
      error: 'task_complete_failed: not_found',
    });
    assert.deepEqual(await refusal(c, { type: 'task_failed', task_id: 'task-ffffffffffffffff', generation: 1 }), {
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
