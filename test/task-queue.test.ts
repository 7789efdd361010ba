import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { connectAgent, type TestClient } from './helpers/client.js';
import { ADMIN_TOKEN, api } from './helpers/hub.js';
import { type Ctx, harness, until } from './helpers/tasks.js';

const submit = (ctx: Ctx, body: object) => api(ctx.hub.url, 'POST', '/api/tasks', { token: ctx.tok.sub, body });
const task = async (ctx: Ctx, id: string) =>
  (await api(ctx.hub.adminUrl, 'GET', `/api/tasks/${id}`, { token: ADMIN_TOKEN })).body;
const admin = (ctx: Ctx, path: string, body: object = {}) =>
  api(ctx.hub.adminUrl, 'POST', path, { token: ADMIN_TOKEN, body });
const stats = async (ctx: Ctx) => (await api(ctx.hub.adminUrl, 'GET', '/api/tasks/stats', { token: ADMIN_TOKEN })).body;
const list = async (ctx: Ctx, q: string) =>
  (await api(ctx.hub.adminUrl, 'GET', `/api/tasks${q}`, { token: ADMIN_TOKEN })).body.tasks.map(
    (t: { id: string }) => t.id,
  );

/** Accepts every assignment and answers it with `outcome` (recorded with the frame). */
function worker(c: TestClient, outcome: 'complete' | 'fail', got: any[] = []): any[] {
  c.ws.on('message', (d) => {
    const f = JSON.parse(String(d));
    if (f.type !== 'task_assign') return;
    got.push({ ...f, at: Date.now() });
    c.send({ type: 'task_accepted', task_id: f.task_id });
    if (outcome === 'complete')
      c.send({ type: 'task_complete', task_id: f.task_id, generation: f.generation, result: { ok: 1 } });
    else c.send({ type: 'task_failed', task_id: f.task_id, generation: f.generation, error: 'boom' });
  });
  return got;
}

describe('task queue: delays, back-off, pauses, dependencies, bulk actions', () => {
  const agents = ['sub', 'dly', 'bo', 'ps', 'dr'];
  const ctx = harness({ violationMax: 1000, restartGraceMs: 0, alertCheckMs: 50, taskSweepMs: 200 }, agents);

  test('delay_ms and run_at make a task scheduled; it is queued in its lane and assigned once due', async () => {
    const t0 = Date.now();
    const delayed = await submit(ctx, { description: 'later', delay_ms: 400, needed_capabilities: ['dly'] });
    assert.equal(delayed.status, 201);
    assert.equal(delayed.body.status, 'scheduled');
    assert.ok(delayed.body.run_at >= t0 + 400);
    const at = await submit(ctx, { description: 'at', run_at: Date.now() + 300, needed_capabilities: ['dly'] });
    assert.equal(at.body.status, 'scheduled');
    const past = await submit(ctx, { description: 'past', run_at: 1, needed_capabilities: ['nobody'] });
    assert.deepEqual([past.body.status, past.body.run_at], ['queued', undefined], 'a run_at gone by queues at once');
    const both = await submit(ctx, { description: 'both', run_at: 1, delay_ms: 1 });
    assert.deepEqual([both.status, both.body.errors[0].field], [422, 'delay_ms']);
    const bad = await submit(ctx, { description: 'bad', delay_ms: -1, backoff: { type: 'linear', delay_ms: 1 } });
    assert.deepEqual(
      bad.body.errors.map((e: { field: string }) => e.field),
      ['delay_ms', 'backoff.type'],
    );

    const scheduled = (await task(ctx, delayed.body.task_id)) as { status: string; run_at: number; history: any[] };
    if (scheduled.status === 'scheduled') {
      assert.equal(scheduled.history[0].event, 'scheduled');
      assert.ok((await list(ctx, '?status=scheduled')).includes(delayed.body.task_id));
    }
    const got = worker(await connectAgent(ctx.hub.wsUrl, 'dly', ctx.tok.dly, { capabilities: ['dly'] }), 'complete');
    await until(async () => got.length === 2, 'both delayed tasks ran');
    const byId = new Map(got.map((f) => [f.task_id, f]));
    for (const r of [delayed, at]) {
      const f = byId.get(r.body.task_id);
      assert.ok(f.assigned_at >= r.body.run_at, 'not assigned before it was due');
      const t = await until(async () => {
        const x = await task(ctx, r.body.task_id);
        return x.status === 'completed' && x;
      }, 'completed');
      assert.deepEqual(t.history.map((h: { event: string }) => h.event).reverse(), [
        'scheduled',
        'queued',
        'assigned',
        'completed',
      ]);
    }
    await admin(ctx, `/api/tasks/${past.body.task_id}/cancel`);
  });

  test('unknown fields are accepted and listed in ignored_fields; a repeat gets the same reply', async () => {
    const body = { description: 'extra', needed_capabilities: ['nobody'], colour: 'red', retries: 3 };
    const r = await api(ctx.hub.url, 'POST', '/api/tasks', {
      token: ctx.tok.sub,
      body,
      headers: { 'idempotency-key': 'ignored-1' },
    });
    assert.equal(r.status, 201);
    assert.deepEqual(r.body.ignored_fields, ['colour', 'retries']);
    const again = await api(ctx.hub.url, 'POST', '/api/tasks', {
      token: ctx.tok.sub,
      body,
      headers: { 'idempotency-key': 'ignored-1' },
    });
    assert.deepEqual([again.status, again.body], [200, r.body]);
    const plain = await submit(ctx, { description: 'plain', needed_capabilities: ['nobody'] });
    assert.equal('ignored_fields' in plain.body, false);
    for (const id of [r.body.task_id, plain.body.task_id]) await admin(ctx, `/api/tasks/${id}/cancel`);
  });

  test('a failed task waits for its back-off (fixed or exponential) before it is offered again', async () => {
    const fixed = await submit(ctx, {
      description: 'fixed',
      needed_capabilities: ['bo'],
      max_retries: 3,
      backoff: { type: 'fixed', delay_ms: 300 },
    });
    const expo = await submit(ctx, {
      description: 'expo',
      needed_capabilities: ['bo'],
      max_retries: 3,
      backoff: { type: 'exponential', delay_ms: 100 },
    });
    const got = worker(await connectAgent(ctx.hub.wsUrl, 'bo', ctx.tok.bo, { capabilities: ['bo'] }), 'fail');
    const dead = async (id: string) => {
      const t = await task(ctx, id);
      return t.status === 'dead_letter' && t;
    };
    const f = await until(() => dead(fixed.body.task_id), 'fixed dead');
    const e = await until(() => dead(expo.body.task_id), 'expo dead');
    const waits = (t: { history: Array<{ event: string; timestamp: number; details: { retry_at?: number } }> }) =>
      t.history
        .filter((h) => h.event === 'retry')
        .reverse()
        .map((h) => (h.details.retry_at as number) - h.timestamp);
    assert.deepEqual(waits(f), [300, 300]);
    assert.deepEqual(waits(e), [100, 200]);
    for (const t of [f, e]) {
      const retries = t.history.filter((h: { event: string }) => h.event === 'retry').reverse();
      const offers = got.filter((x) => x.task_id === t.id);
      assert.equal(offers.length, 3);
      for (const [i, r] of retries.entries())
        assert.ok(offers[i + 1].assigned_at >= r.details.retry_at, 'offered after');
    }
  });

  test('pause stops assignments of a lane or of the whole queue; resume starts them again', async () => {
    assert.deepEqual((await admin(ctx, '/admin/queue/pause', { lane: 'low' })).body, {
      status: 'paused',
      lane: 'low',
      paused: { all: false, lanes: [3] },
    });
    const low = await submit(ctx, { description: 'low', priority: 'low', needed_capabilities: ['ps'] });
    const normal = await submit(ctx, { description: 'normal', needed_capabilities: ['ps'] });
    const got = worker(await connectAgent(ctx.hub.wsUrl, 'ps', ctx.tok.ps, { capabilities: ['ps'] }), 'complete');
    await until(async () => (await task(ctx, normal.body.task_id)).status === 'completed', 'normal ran');
    assert.equal((await task(ctx, low.body.task_id)).status, 'queued', 'the paused lane waits');
    assert.deepEqual((await stats(ctx)).paused, { all: false, lanes: [3] });
    await admin(ctx, '/admin/queue/pause');
    assert.deepEqual((await admin(ctx, '/admin/queue/resume', { lane: 'low' })).body.paused, { all: true, lanes: [] });
    const n2 = await submit(ctx, { description: 'n2', needed_capabilities: ['ps'] });
    assert.equal((await task(ctx, n2.body.task_id)).status, 'queued');
    assert.equal((await admin(ctx, '/admin/queue/resume')).body.status, 'resumed');
    await until(async () => got.length === 3, 'both ran after the resume');
    const bad = await admin(ctx, '/admin/queue/pause', { lane: 'sideways' });
    assert.deepEqual([bad.status, bad.body.errors[0].field], [422, 'lane']);
    const pub = await api(ctx.hub.url, 'POST', '/admin/queue/pause', { token: ctx.tok.sub, body: {} });
    assert.deepEqual([pub.status, pub.body.error], [403, 'admin_port_only']);
  });

  test('drain removes the waiting tasks of a lane or of all lanes; running and finished ones stay', async () => {
    const ids = [];
    for (const priority of ['high', 'high', 'low']) {
      ids.push((await submit(ctx, { description: 'wait', priority, needed_capabilities: ['dr'] })).body.task_id);
    }
    const later = (await submit(ctx, { description: 'later', delay_ms: 60_000, needed_capabilities: ['dr'] })).body;
    assert.deepEqual((await admin(ctx, '/admin/queue/drain', { lane: 'high' })).body, {
      status: 'drained',
      lane: 'high',
      removed: 2,
    });
    assert.equal((await task(ctx, ids[0])).error, 'task_not_found');
    assert.equal((await task(ctx, ids[2])).status, 'queued');
    assert.equal((await admin(ctx, '/admin/queue/drain')).body.removed >= 1, true);
    assert.equal((await task(ctx, ids[2])).error, 'task_not_found');
    assert.equal((await task(ctx, later.task_id)).status, 'scheduled', 'scheduled ones stay unless asked');
    assert.equal((await admin(ctx, '/admin/queue/drain', { scheduled: true })).body.removed, 1);
    assert.equal((await stats(ctx)).by_status.scheduled, 0);
  });

  test('dependents of a cancelled task fail as dependency_failed (alert raised); bulk retry and clean', async () => {
    const dep = (await submit(ctx, { description: 'dep', needed_capabilities: ['nobody'] })).body.task_id;
    const kids = [];
    for (let i = 0; i < 3; i++) {
      kids.push(
        (await submit(ctx, { description: `kid ${i}`, depends_on: [dep], needed_capabilities: ['nobody'] })).body
          .task_id,
      );
    }
    const grandkid = (await submit(ctx, { description: 'gk', depends_on: [kids[0]] })).body.task_id;
    const cancelled = await admin(ctx, `/api/tasks/${dep}/cancel`);
    assert.equal(cancelled.body.dependents_failed, 4);
    const k0 = await task(ctx, kids[0]);
    assert.deepEqual([k0.status, k0.last_error], ['dead_letter', `dependency_failed: ${dep} cancelled`]);
    assert.equal(k0.history[0].details.dependency, dep);
    assert.equal(
      (await task(ctx, grandkid)).last_error,
      `dependency_failed: ${kids[0]} dead_letter (dependency_failed)`,
    );
    assert.equal((await stats(ctx)).dependency_failed, 4);
    const alert = await until(async () => {
      const r = await api(ctx.hub.url, 'GET', '/api/alerts');
      return r.body.alerts.find((a: { rule_id: string }) => a.rule_id === 'dependency_failed');
    }, 'dependency_failed alert');
    assert.equal(alert.severity, 'warning');

    const one = await admin(ctx, '/admin/dead-letter/retry', { task_ids: [kids[1], 'task-ffffffffffffffff'] });
    assert.deepEqual(one.body, {
      status: 'requeued',
      requeued: 1,
      failed: [{ task_id: 'task-ffffffffffffffff', error: 'task_not_found' }],
      failed_count: 1,
    });
    assert.equal((await task(ctx, kids[1])).status, 'queued', 'its dependency is gone: it no longer waits');
    await admin(ctx, `/api/tasks/${kids[1]}/cancel`);
    const clean = await admin(ctx, '/admin/dead-letter/clean', { task_ids: [kids[2]] });
    assert.equal(clean.body.removed, 1);
    const all = await admin(ctx, '/admin/dead-letter/clean', {});
    assert.ok(all.body.removed >= 2);
    assert.deepEqual(await list(ctx, '?status=dead_letter'), []);
    await until(async () => {
      const r = await api(ctx.hub.url, 'GET', '/api/alerts');
      return !r.body.alerts.some((a: { rule_id: string }) => a.rule_id === 'dependency_failed');
    }, 'the alert cleared');
  });

  test('lists per state, search by id prefix, capability and submitter; per-state counts', async () => {
    const a = (await submit(ctx, { description: 'a', needed_capabilities: ['find-me'] })).body.task_id;
    const b = (await submit(ctx, { description: 'b', delay_ms: 60_000, needed_capabilities: ['find-me'] })).body
      .task_id;
    assert.deepEqual(await list(ctx, `?id=${a}`), [a]);
    assert.deepEqual(await list(ctx, `?id=${a.slice(0, -2)}&capability=find-me`), [a]);
    assert.deepEqual(await list(ctx, '?capability=find-me'), [a, b]);
    assert.deepEqual(await list(ctx, '?capability=find-me&status=scheduled'), [b]);
    assert.deepEqual(await list(ctx, '?capability=find-me&submitted_by=nobody'), []);
    assert.ok((await list(ctx, '?submitted_by=sub&status=queued')).includes(a));
    const s = await stats(ctx);
    assert.ok(s.by_status.scheduled >= 1 && s.by_status.queued >= 1);
    const h = await api(ctx.hub.adminUrl, 'GET', '/health', { token: ADMIN_TOKEN });
    assert.deepEqual(h.body.tasks.by_status.scheduled, s.by_status.scheduled);
    for (const id of [a, b]) await admin(ctx, `/api/tasks/${id}/cancel`);
  });
});

describe('task retention', () => {
  const ctx = harness({ violationMax: 1000, taskKeepCompleted: 2, taskKeepDead: 1, taskSweepMs: 100 }, ['sub', 'rt']);

  test('completed tasks and dead letters past their count are removed, oldest first, and counted', async () => {
    const ids = [];
    for (let i = 0; i < 4; i++)
      ids.push((await submit(ctx, { description: `r${i}`, needed_capabilities: ['rt'] })).body.task_id);
    worker(await connectAgent(ctx.hub.wsUrl, 'rt', ctx.tok.rt, { capabilities: ['rt'] }), 'complete');
    await until(async () => (await stats(ctx)).removed.completed === 2, 'two removed');
    assert.equal((await stats(ctx)).by_status.completed, 2);
    assert.deepEqual(await list(ctx, '?status=completed'), ids.slice(2), 'the newest two stay');
    assert.equal((await task(ctx, ids[0])).error, 'task_not_found');
    for (let i = 0; i < 2; i++) {
      const d = (await submit(ctx, { description: 'd', needed_capabilities: ['nobody'], complete_by: Date.now() + 50 }))
        .body;
      await until(async () => (await task(ctx, d.task_id)).status !== 'queued', 'expired');
    }
    await until(async () => (await stats(ctx)).removed.dead_letter === 1, 'one dead letter removed');
    const h = await api(ctx.hub.adminUrl, 'GET', '/health', { token: ADMIN_TOKEN });
    assert.deepEqual(h.body.tasks.removed, { completed: 2, dead_letter: 1 });
    const prom = (await api(ctx.hub.adminUrl, 'GET', '/metrics', { token: ADMIN_TOKEN })).body as string;
    assert.match(prom, /agentcom_tasks_removed_total\{state="completed"\} 2/);
    assert.match(prom, /agentcom_tasks\{state="completed"\} 2/);
  });
});

describe('task retention by age', () => {
  const ctx = harness({ violationMax: 1000, taskKeepCompletedMs: 1, taskSweepMs: 50 }, ['sub', 'age']);

  test('completed tasks older than the age limit are removed by the sweep', async () => {
    const id = (await submit(ctx, { description: 'old', needed_capabilities: ['age'] })).body.task_id;
    worker(await connectAgent(ctx.hub.wsUrl, 'age', ctx.tok.age, { capabilities: ['age'] }), 'complete');
    await until(async () => (await task(ctx, id)).error === 'task_not_found', 'removed for its age');
    assert.equal((await stats(ctx)).removed.completed, 1);
  });
});
