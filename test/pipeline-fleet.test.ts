import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { connectAgent, sleep, type TestClient } from './helpers/client.js';
import { ADMIN_TOKEN, api, startTestHub, type TestHub, tokenFor, whitelist } from './helpers/hub.js';

const submit = (hub: TestHub, token: string, body: object) => api(hub.url, 'POST', '/api/tasks', { token, body });

/** An agent that accepts and completes whatever it is given, recording the order. */
function autoWorker(c: TestClient, log: Array<{ agent: string; task: string }>, agent: string): void {
  c.ws.on('message', (d) => {
    const f = JSON.parse(String(d));
    if (f.type !== 'task_assign') return;
    log.push({ agent, task: f.task_id });
    c.send({ type: 'task_accepted', task_id: f.task_id });
    c.send({ type: 'task_complete', task_id: f.task_id, generation: f.generation, result: { status: 'success' } });
  });
}

describe('task pipeline with a scripted fleet', () => {
  let hub: TestHub;
  const tok: Record<string, string> = {};
  const agents = ['sub', 'coder', 'gpu', 'writer', 'a1', 'a2', 'a3', 'a4'];

  before(async () => {
    hub = await startTestHub({ acceptTimeoutMs: 400, restartGraceMs: 0, rejectCooldownMs: 300, taskSweepMs: 100 });
    for (const a of agents) tok[a] = await tokenFor(hub, a);
    await whitelist(hub, ...agents);
  });
  after(() => hub.stop());

  test('a mixed batch runs to completion by lane and capability', async () => {
    const specs = [
      { description: 'low docs', priority: 'low', needed_capabilities: ['docs'] },
      { description: 'normal code', needed_capabilities: ['code'] },
      { description: 'urgent gpu', priority: 'urgent', needed_capabilities: ['code', 'gpu'] },
      { description: 'high any', priority: 'high' },
      { description: 'urgent docs', priority: 'urgent', needed_capabilities: ['docs'] },
      { description: 'normal gpu', needed_capabilities: ['gpu'] },
    ];
    const ids: Record<string, string> = {};
    for (const s of specs) ids[s.description] = (await submit(hub, tok.sub, s)).body.task_id;
    const log: Array<{ agent: string; task: string }> = [];
    const caps: Record<string, string[]> = { coder: ['code'], gpu: ['code', 'gpu'], writer: ['docs'] };
    const clients: TestClient[] = [];
    for (const [a, c] of Object.entries(caps)) {
      const client = await connectAgent(hub.wsUrl, a, tok[a], { capabilities: c });
      autoWorker(client, log, a);
      clients.push(client);
    }
    const deadline = Date.now() + 10_000;
    while (log.length < specs.length && Date.now() < deadline) await sleep(20);
    await sleep(100);
    const byTask = new Map(log.map((l) => [l.task, l.agent]));
    for (const s of specs) {
      const agent = byTask.get(ids[s.description]);
      assert.ok(agent, `${s.description} assigned`);
      for (const need of s.needed_capabilities ?? []) assert.ok(caps[agent].includes(need), `${agent} covers ${need}`);
      const t = await api(hub.url, 'GET', `/api/tasks/${ids[s.description]}`, { token: tok.sub });
      assert.equal(t.body.status, 'completed');
    }
    const writerOrder = log.filter((l) => l.agent === 'writer').map((l) => l.task);
    assert.deepEqual(writerOrder, [ids['urgent docs'], ids['low docs']], 'lanes: urgent before low');
    for (const c of clients) c.close();
    await sleep(50);
  });

  test('task_assign carries the §2.4 shape; trivial tasks route to the sidecar', async () => {
    const w = await connectAgent(hub.wsUrl, 'a1', tok.a1, { capabilities: ['x1'] });
    await submit(hub, tok.sub, {
      description: 'compat',
      complexity_tier: 'trivial',
      needed_capabilities: ['x1'],
      metadata: { shell_command: 'echo compat-ok' },
      skip_verification: true,
    });
    const a = await w.next('task_assign');
    assert.equal(a.generation, 1);
    assert.equal(a.routing_decision.target_type, 'sidecar');
    assert.equal(a.complexity.effective_tier, 'trivial');
    assert.equal(a.skip_verification, true);
    for (const k of ['repo', 'branch', 'verification_timeout_ms']) assert.equal(a[k], null);
    assert.deepEqual([a.file_hints, a.success_criteria, a.verification_steps], [[], [], []]);
    assert.equal((await w.request({ type: 'task_accepted', task_id: a.task_id }, 'task_ack')).status, 'accepted');
    const done = await w.request(
      {
        type: 'task_complete',
        task_id: a.task_id,
        generation: 1,
        result: { status: 'success', output: 'compat-ok\n' },
      },
      'task_ack',
    );
    assert.equal(done.status, 'complete');
    const t = await api(hub.url, 'GET', `/api/tasks/${a.task_id}`, { token: tok.sub });
    assert.equal(t.body.result.output, 'compat-ok\n');
    await submit(hub, tok.sub, { description: 'design a thing', needed_capabilities: ['x1'] });
    const b = await w.next('task_assign');
    assert.equal(b.routing_decision, null);
    await w.request({ type: 'task_complete', task_id: b.task_id, generation: b.generation }, 'task_ack');
    w.close();
    await sleep(50);
  });

  test('disconnect mid-task reclaims it; the late result is fenced off', async () => {
    const first = await connectAgent(hub.wsUrl, 'a2', tok.a2, { capabilities: ['x2'] });
    const { body } = await submit(hub, tok.sub, { description: 'reclaim me', needed_capabilities: ['x2'] });
    const a = await first.next('task_assign');
    assert.equal(a.task_id, body.task_id);
    first.close();
    const second = await connectAgent(hub.wsUrl, 'a3', tok.a3, { capabilities: ['x2'] });
    const again = await second.next('task_assign');
    assert.equal(again.task_id, a.task_id);
    assert.ok(again.generation > a.generation);
    const late = await connectAgent(hub.wsUrl, 'a2', tok.a2, { capabilities: ['none'] });
    const err = await late.request({ type: 'task_complete', task_id: a.task_id, generation: a.generation }, 'error');
    assert.equal(err.error, 'task_complete_failed: stale_generation');
    await second.request({ type: 'task_complete', task_id: a.task_id, generation: again.generation }, 'task_ack');
    const t = await api(hub.url, 'GET', `/api/tasks/${a.task_id}`, { token: tok.sub });
    assert.equal(t.body.history.filter((h: { event: string }) => h.event === 'completed').length, 1);
    late.close();
    second.close();
    await sleep(50);
  });

  test('an assignment not accepted in time returns to its lane', async () => {
    const slow = await connectAgent(hub.wsUrl, 'a4', tok.a4, { capabilities: ['x4'] });
    await submit(hub, tok.sub, { description: 'accept me', needed_capabilities: ['x4'] });
    const a = await slow.next('task_assign');
    const b = await slow.next('task_assign', (f) => f.task_id === a.task_id, 5000);
    assert.ok(b.generation > a.generation, 'reassigned with a new generation after the timeout');
    await slow.request({ type: 'task_complete', task_id: b.task_id, generation: b.generation }, 'task_ack');
    slow.close();
    await sleep(50);
  });

  test('failures retry into dead letter; the submitter requeues, others may not', async () => {
    const w = await connectAgent(hub.wsUrl, 'a1', tok.a1, { capabilities: ['x5'] });
    const { body } = await submit(hub, tok.sub, { description: 'doomed', needed_capabilities: ['x5'], max_retries: 2 });
    const first = await w.next('task_assign');
    assert.equal(
      (
        await w.request(
          { type: 'task_failed', task_id: body.task_id, generation: first.generation, error: 'boom' },
          'task_ack',
        )
      ).status,
      'retried',
    );
    const second = await w.next('task_assign');
    const ack = await w.request(
      { type: 'task_complete', task_id: body.task_id, generation: second.generation, result: { status: 'failed' } },
      'task_ack',
    );
    assert.equal(ack.status, 'dead_letter', 'a failed result counts as a failure (§9.10)');
    const dl = await api(hub.url, 'GET', '/api/tasks/dead-letter', { token: tok.sub });
    assert.ok(dl.body.tasks.some((t: { id: string }) => t.id === body.task_id));
    const other = await api(hub.url, 'POST', `/api/tasks/${body.task_id}/retry`, { token: tok.a2 });
    assert.deepEqual([other.status, other.body.error], [403, 'admin_port_only']);
    const rq = await api(hub.url, 'POST', `/api/tasks/${body.task_id}/retry`, { token: tok.sub });
    assert.equal(rq.body.status, 'requeued');
    const third = await w.next('task_assign');
    assert.equal(third.task_id, body.task_id);
    const cancel = await api(hub.adminUrl, 'POST', `/api/tasks/${body.task_id}/cancel`, { token: ADMIN_TOKEN });
    assert.equal(cancel.body.previous_status, 'assigned');
    assert.equal((await w.next('task_cancelled')).task_id, body.task_id);
    w.close();
    await sleep(50);
  });

  test('task_rejected sends the task back without a retry; state_report continues a live assignment', async () => {
    const w = await connectAgent(hub.wsUrl, 'a2', tok.a2, { capabilities: ['x6'] });
    const { body } = await submit(hub, tok.sub, { description: 'busy', needed_capabilities: ['x6'] });
    const a = await w.next('task_assign');
    w.send({ type: 'task_rejected', task_id: a.task_id, reason: 'busy' });
    const b = await w.next('task_assign', (f) => f.task_id === body.task_id, 5000);
    const t = await api(hub.url, 'GET', `/api/tasks/${body.task_id}`, { token: tok.sub });
    assert.equal(t.body.retry_count, 0);
    const ack = await w.request(
      { type: 'state_report', task_id: b.task_id, generation: b.generation },
      'state_report_ack',
    );
    assert.equal(ack.action, 'continue');
    const st = await api(hub.url, 'GET', '/api/agents/a2/state', { token: tok.sub });
    assert.equal(st.body.fsm_state, 'working');
    const stale = await w.request({ type: 'state_report', task_id: b.task_id, generation: 0 }, 'state_report_ack');
    assert.equal(stale.action, 'abort');
    // the agent drops an aborted task, so the hub reclaims it at once and offers it again
    const c = await w.next('task_assign', (f) => f.task_id === body.task_id, 5000);
    assert.ok(c.generation > b.generation);
    const rec = await w.request({ type: 'task_recovering', task_id: c.task_id }, 'task_continue');
    assert.equal(rec.generation, c.generation);
    await w.request({ type: 'task_complete', task_id: c.task_id, generation: c.generation }, 'task_ack');
    assert.equal(
      (await w.request({ type: 'task_recovering', task_id: c.task_id }, 'task_reassign')).task_id,
      c.task_id,
    );
    w.close();
    await sleep(50);
  });

  test('idempotent submit, dependencies, filters and bad input', async () => {
    const key = { 'Idempotency-Key': 'k-1' };
    const one = await api(hub.url, 'POST', '/api/tasks', {
      token: tok.sub,
      body: { description: 'once' },
      headers: key,
    });
    const two = await api(hub.url, 'POST', '/api/tasks', {
      token: tok.sub,
      body: { description: 'once' },
      headers: key,
    });
    assert.deepEqual([one.status, two.status, two.body.task_id], [201, 200, one.body.task_id]);
    const unknown = await submit(hub, tok.sub, { description: 'dep', depends_on: ['task-0000000000000000'] });
    assert.equal(unknown.status, 422);
    assert.equal(unknown.body.errors[0].field, 'depends_on[0]');
    const bad = await submit(hub, tok.sub, {
      description: 'x'.repeat(5000),
      file_hints: [{}],
      max_verification_retries: 9,
    });
    assert.equal(bad.status, 422);
    const fields = bad.body.errors.map((e: { field: string }) => e.field);
    for (const f of ['description', 'file_hints[0].path', 'max_verification_retries']) assert.ok(fields.includes(f), f);
    assert.equal((await api(hub.url, 'GET', '/api/tasks?priority=nope', { token: tok.sub })).status, 422);
    const q = await api(hub.url, 'GET', '/api/tasks?status=queued&priority=normal', { token: tok.sub });
    assert.ok(
      q.body.tasks.every((t: { status: string; priority: number }) => t.status === 'queued' && t.priority === 2),
    );
    const missing = await api(hub.url, 'GET', '/api/tasks/task-ffffffffffffffff', { token: tok.sub });
    assert.deepEqual(missing.body, { error: 'task_not_found', task_id: 'task-ffffffffffffffff' });
    const w = await connectAgent(hub.wsUrl, 'a3', tok.a3);
    const e = await w.request({ type: 'task_complete', task_id: 'x', generation: '1' }, 'error');
    assert.equal(e.errors[0].error, 'wrong_type');
    const nf = await w.request({ type: 'task_failed', task_id: 'nope', generation: 1 }, 'error');
    assert.equal(nf.error, 'task_fail_failed: not_found');
    const push = await api(hub.adminUrl, 'POST', '/admin/push-task', {
      token: ADMIN_TOKEN,
      body: { agent_id: 'a3', description: 'pushed' },
    });
    assert.equal(push.body.status, 'pushed');
    const pushed = await w.next('task_assign', (f) => f.task_id === push.body.task_id);
    assert.deepEqual([pushed.generation, pushed.routing_decision], [0, null]);
    const gone = await api(hub.adminUrl, 'POST', '/admin/push-task', {
      token: ADMIN_TOKEN,
      body: { agent_id: 'nobody', description: 'x' },
    });
    assert.deepEqual([gone.status, gone.body.error], [404, 'agent_not_connected']);
    w.close();
  });
});
