import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { connectAgent, sleep } from './helpers/client.js';
import { ADMIN_TOKEN, api, startTestHub, type TestHub, tokenFor, whitelist } from './helpers/hub.js';

describe('the HTTP surface agents and admins use', () => {
  let hub: TestHub;
  const tok: Record<string, string> = {};

  before(async () => {
    hub = await startTestHub();
    for (const id of ['ann', 'ben', 'cat']) tok[id] = await tokenFor(hub, id);
    await whitelist(hub, 'ann', 'ben', 'cat');
  });
  after(() => hub.stop());

  test('POST /api/message delivers live, is idempotent, and feeds history, threads and analytics', async () => {
    const ben = await connectAgent(hub.wsUrl, 'ben', tok.ben);
    const send = (body: object, key?: string) =>
      api(hub.url, 'POST', '/api/message', { token: tok.ann, body, headers: key ? { 'Idempotency-Key': key } : {} });
    const root = await send({ to: 'ben', payload: { q: 'root' } }, 'k1');
    assert.equal(root.body.status, 'sent');
    assert.equal(
      (await send({ to: 'ben', payload: { q: 'root' } }, 'k1')).body.id,
      root.body.id,
      'a repeat creates nothing',
    );
    assert.equal((await ben.next('message')).id, root.body.id);
    const reply = await send({ to: 'ben', payload: { q: 'r1' }, reply_to: root.body.id, type: 'answer' });
    const reply2 = await send({ to: 'ben', payload: { q: 'r2' }, reply_to: reply.body.id });
    const got = await ben.next('message', (m) => m.id === reply.body.id);
    assert.deepEqual([got.message_type, got.reply_to], ['answer', root.body.id]);
    const hist = await api(hub.url, 'GET', `/api/messages?from=ann&token=${tok.ben}`);
    assert.equal(hist.body.messages.filter((m: { id: string }) => m.id === root.body.id).length, 1);
    const thread = await api(hub.url, 'GET', `/api/threads/${reply2.body.id}?token=${tok.ben}`);
    assert.equal(thread.body.root, root.body.id);
    assert.deepEqual(
      thread.body.messages.map((m: { id: string }) => m.id),
      [root.body.id, reply.body.id, reply2.body.id],
    );
    const replies = await api(hub.url, 'GET', `/api/threads/${root.body.id}/replies?token=${tok.ben}`);
    assert.deepEqual([replies.body.parent, replies.body.count], [root.body.id, 1]);
    const r = await api(hub.url, 'GET', `/api/threads/${reply2.body.id}/root?token=${tok.ben}`);
    assert.deepEqual(r.body, { message_id: reply2.body.id, root: root.body.id });
    const summary = await api(hub.url, 'GET', '/api/analytics/summary');
    assert.ok(summary.body.total_messages_24h >= 3);
    const per = await api(hub.url, 'GET', '/api/analytics/agents');
    const ann = per.body.agents.find((a: { agent_id: string }) => a.agent_id === 'ann');
    assert.ok(ann.messages_sent_24h >= 3);
    const hourly = await api(hub.url, 'GET', '/api/analytics/agents/ben/hourly');
    assert.equal(hourly.body.hourly.length, 24);
    assert.ok(hourly.body.hourly[23].received >= 3);
    ben.close();
  });

  test('agents routes, mailbox poll and ack over HTTP, and a graceful restart keeps the mailbox', async () => {
    const ann = await connectAgent(hub.wsUrl, 'ann', tok.ann, { capabilities: ['x'] });
    const agents = await api(hub.url, 'GET', '/api/agents');
    const me = agents.body.agents.find((a: { agent_id: string }) => a.agent_id === 'ann');
    assert.deepEqual([me.capabilities, me.fsm_state], [['x'], 'idle']);
    const states = await api(hub.url, 'GET', '/api/agents/states', { token: tok.ben });
    assert.ok(states.body.agents.some((a: { agent_id: string }) => a.agent_id === 'ann'));
    assert.deepEqual(
      (await api(hub.url, 'GET', '/api/agents/nobody/state', { token: tok.ben })).body.error,
      'agent_not_found',
    );
    for (let i = 0; i < 3; i++) await ann.request({ type: 'message', to: 'cat', payload: { i } }, 'message_sent');
    const poll = await api(hub.url, 'GET', '/api/mailbox/cat?since=0', { token: tok.cat });
    assert.equal(poll.body.count, 3);
    const ack = await api(hub.url, 'POST', '/api/mailbox/cat/ack', {
      token: tok.cat,
      body: { seq: poll.body.messages[0].seq },
    });
    assert.deepEqual(ack.body, { status: 'acked', up_to: poll.body.messages[0].seq });
    assert.equal(
      (await api(hub.url, 'POST', '/api/mailbox/cat/ack', { token: tok.cat, body: { seq: -1 } })).status,
      422,
    );
    ann.close();
    await hub.stop({ keepData: true });
    hub = await startTestHub({}, hub.dataDir);
    const after = await api(hub.url, 'GET', '/api/mailbox/cat', { token: tok.cat });
    assert.equal(after.body.count, 2, 'unacked entries survive a restart');
    const cat = await connectAgent(hub.wsUrl, 'cat', tok.cat, { mailbox_since: 0 });
    assert.deepEqual((await cat.next('message')).payload, { i: 1 });
    cat.close();
    await sleep(20);
  });

  test('admin: whitelist, reset-token, restart, config routes and storage health', async () => {
    const wl = await api(hub.adminUrl, 'PUT', '/admin/rate-limits/whitelist', {
      token: ADMIN_TOKEN,
      body: { agent_ids: ['ann'] },
    });
    assert.deepEqual(wl.body.whitelist, ['ann']);
    await api(hub.adminUrl, 'DELETE', '/admin/rate-limits/whitelist/ann', { token: ADMIN_TOKEN });
    assert.deepEqual(
      (await api(hub.adminUrl, 'GET', '/admin/rate-limits/whitelist', { token: ADMIN_TOKEN })).body.whitelist,
      [],
    );
    await api(hub.adminUrl, 'PUT', '/admin/rate-limits/whitelist', {
      token: ADMIN_TOKEN,
      body: { agent_ids: ['ann', 'ben', 'cat'] },
    });
    const limits = await api(hub.adminUrl, 'GET', '/admin/rate-limits', { token: ADMIN_TOKEN });
    assert.deepEqual(limits.body.defaults.message, { capacity: 100, per_min: 100 });
    const bad = await api(hub.adminUrl, 'PUT', '/admin/rate-limits/ann', {
      token: ADMIN_TOKEN,
      body: { message: { capacity: 0 } },
    });
    assert.equal(bad.status, 422);
    const ben = await connectAgent(hub.wsUrl, 'ben', tok.ben);
    const restart = await api(hub.adminUrl, 'POST', '/api/admin/agents/ben/restart', { token: ADMIN_TOKEN, body: {} });
    assert.deepEqual(restart.body, { status: 'restart_commanded', agent_id: 'ben', reason: 'hub_commanded' });
    assert.equal((await ben.next('restart_sidecar')).reason, 'hub_commanded');
    const reset = await api(hub.adminUrl, 'POST', '/admin/agents/ben/reset-token', { token: ADMIN_TOKEN });
    assert.equal(reset.status, 201);
    assert.deepEqual(await ben.waitClose(), { code: 4003, reason: 'token_revoked' });
    (await connectAgent(hub.wsUrl, 'ben', reset.body.token)).close();
    tok.ben = reset.body.token;
    assert.equal(
      (await api(hub.adminUrl, 'POST', '/admin/agents/ghost/reset-token', { token: ADMIN_TOKEN })).status,
      404,
    );
    const put = (path: string, body: object) => api(hub.adminUrl, 'PUT', path, { token: ADMIN_TOKEN, body });
    assert.equal((await put('/api/config/mailbox-retention', { mailbox_ttl_ms: 1000 })).body.mailbox_ttl_ms, 1000);
    assert.equal((await put('/api/config/mailbox-retention', { mailbox_ttl_ms: 1.5 })).status, 422);
    assert.equal((await put('/api/config/default-repo', { url: 'git@x:y' })).body.default_repo, 'git@x:y');
    assert.deepEqual((await api(hub.url, 'GET', '/api/config/default-repo')).body, {
      default_repo: 'git@x:y',
      configured: true,
    });
    assert.equal(
      (await put('/api/config/alert-thresholds', { queue_growing_min: 5 })).body.effective,
      'next_check_cycle',
    );
    assert.equal(
      (await api(hub.adminUrl, 'POST', '/api/mailbox/evict', { token: ADMIN_TOKEN })).body.status,
      'eviction_triggered',
    );
    const health = await api(hub.adminUrl, 'GET', '/admin/storage-health', { token: ADMIN_TOKEN });
    assert.deepEqual([health.body.health_status, health.body.stale_backup], ['warning', true], 'no backup yet');
    assert.ok(health.body.tables.some((t: { table: string }) => t.table === 'messaging.history'));
    const page = await fetch(`${hub.adminUrl}/dashboard`);
    assert.match(page.headers.get('content-type') ?? '', /text\/html/);
    assert.match(await page.text(), /AgentCom hub/);
    assert.equal((await api(hub.adminUrl, 'GET', '/admin/overview')).status, 401, 'the data needs the admin token');
    const overview = await api(hub.adminUrl, 'GET', '/admin/overview', { token: ADMIN_TOKEN });
    for (const k of ['health', 'metrics', 'alerts', 'tasks', 'dead_letter', 'agents']) assert.ok(k in overview.body, k);
    const schemas = await api(hub.url, 'GET', '/api/schemas');
    const message = schemas.body.schemas.websocket.find((w: { type: string }) => w.type === 'message');
    assert.deepEqual(message.required_fields, [{ name: 'payload', type: 'object' }]);
    assert.ok(schemas.body.schemas.http.some((r: { path: string }) => r.path === '/api/tasks'));
    const metrics = await api(hub.url, 'GET', '/api/metrics');
    for (const k of ['queue_depth', 'task_latency', 'agent_utilization', 'error_rates', 'dets_health'])
      assert.ok(k in metrics.body, k);
  });

  test('bad input on task and channel frames and routes', async () => {
    const c = await connectAgent(hub.wsUrl, 'ann', tok.ann);
    const cases: Array<[object, string, string]> = [
      [{ type: 'task_accepted' }, 'task_id', 'required'],
      [{ type: 'task_progress', task_id: 't', progress: 'half' }, 'progress', 'wrong_type'],
      [{ type: 'state_report', task_id: 't', generation: 1.5 }, 'generation', 'wrong_type'],
      [{ type: 'task_failed', task_id: 't', generation: 1, error: 'e'.repeat(2001) }, 'error', 'too_long'],
      [{ type: 'wake_result', task_id: 't' }, 'status', 'required'],
      [{ type: 'resource_report', cpu_percent: 'hot' }, 'cpu_percent', 'wrong_type'],
      [{ type: 'channel_history', channel: 'x', limit: -1 }, 'limit', 'wrong_type'],
      [{ type: 'channel_subscribe', channel: 7 }, 'channel', 'wrong_type'],
      [{ type: 'task_rejected', task_id: '' }, 'task_id', 'required'],
    ];
    for (const [frame, field, kind] of cases) {
      const e = await c.request(frame, 'error');
      assert.deepEqual(
        [e.error, e.errors[0].field, e.errors[0].error],
        ['validation_failed', field, kind],
        JSON.stringify(frame),
      );
    }
    assert.equal(
      (await c.request({ type: 'channel_subscribe', channel: 'missing' }, 'error')).error,
      'channel_not_found',
    );
    const ch = await api(hub.url, 'POST', '/api/channels', { token: tok.ann, body: { name: 5 } });
    assert.deepEqual([ch.status, ch.body.errors[0].field], [422, 'name']);
    assert.equal((await api(hub.url, 'GET', `/api/channels/${'a'.repeat(80)}`)).status, 422);
    assert.equal(
      (await api(hub.url, 'POST', '/api/channels/nope/publish', { token: tok.ann, body: { payload: {} } })).status,
      404,
    );
    assert.equal((await api(hub.url, 'POST', '/api/tasks', { token: tok.ann, raw: '{"description":' })).status, 400);
    assert.equal((await api(hub.url, 'GET', '/api/tasks?status=weird', { token: tok.ann })).status, 422);
    assert.ok((await c.request({ type: 'ping' }, 'pong')).timestamp > 0);
    c.close();
  });
});
