import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { ACTIONS } from '../shared/ratelimit.js';
import { ALERT_THRESHOLD_DEFAULTS } from '../shared/schemas/alerts.js';
import { connectAgent, sleep, type TestClient } from './helpers/client.js';
import { ADMIN_TOKEN, api, startTestHub, type TestHub, tokenFor, whitelist } from './helpers/hub.js';
import { startLoggedHub } from './helpers/logged-hub.js';

const HEX64 = /^[0-9a-f]{64}$/;
const admin = (hub: TestHub, method: string, path: string, body?: unknown) =>
  api(hub.adminUrl, method, path, { token: ADMIN_TOKEN, body });

/** Polls until `check` holds; the hub closes sockets asynchronously. */
async function eventually(check: () => Promise<boolean>, what: string, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`never: ${what}`);
    await sleep(20);
  }
}

/** The first frame, from now on, whose type is one of `types`. */
async function firstOf(c: TestClient, types: string[], timeoutMs = 5000): Promise<any> {
  const from = c.frames.length;
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const f = c.frames.slice(from).find((x) => types.includes(x.type));
    if (f) return f;
    if (Date.now() > deadline) throw new Error(`no ${types.join('/')} frame`);
    await sleep(10);
  }
}

type Row = [method: string, path: string, body?: unknown];

/** Admin-only routes and hub-wide writes (PROTOCOL.md §9.1): the public port answers 403 admin_port_only. */
const PUBLIC_FORBIDDEN: Row[] = [
  ['GET', '/admin/tokens'],
  ['POST', '/admin/tokens', { agent_id: 'sneaky' }],
  ['DELETE', '/admin/tokens/alice'],
  ['GET', '/api/admin/tokens'],
  ['POST', '/admin/agents/alice/reset-token'],
  ['POST', '/api/admin/agents/alice/reset-token'],
  ['POST', '/api/admin/agents/alice/restart', {}],
  ['GET', '/admin/rate-limits'],
  ['PUT', '/admin/rate-limits/alice', { message: { capacity: 1, per_min: 1 } }],
  ['GET', '/api/admin/rate-limits/whitelist'],
  ['POST', '/api/admin/rate-limits/whitelist', { agent_id: 'alice' }],
  ['PUT', '/admin/log-level', { level: 'debug' }],
  ['PUT', '/api/admin/log-level', { level: 'debug' }],
  ['POST', '/admin/backup'],
  ['POST', '/api/admin/compact'],
  ['GET', '/admin/storage-health'],
  ['GET', '/api/admin/dets-health'],
  ['POST', '/api/admin/push-task', { agent_id: 'alice', description: 'x' }],
  ['POST', '/api/admin/reset'],
  ['PUT', '/api/config/heartbeat-interval', { heartbeat_interval_ms: 1 }],
  ['PUT', '/api/config/mailbox-retention', { mailbox_ttl_ms: 1 }],
  ['PUT', '/api/config/default-repo', { url: 'https://example.com/sneaky.git' }],
  ['PUT', '/api/config/alert-thresholds', { stuck_ms: 60_000 }],
  ['POST', '/api/alerts/no_agents_online/acknowledge'],
  ['POST', '/api/mailbox/evict'],
];

/** Admin-port routes that need the admin token. */
const ADMIN_ONLY: Row[] = [
  ['GET', '/admin/tokens'],
  ['GET', '/api/admin/tokens'],
  ['POST', '/admin/tokens', { agent_id: 'sneaky' }],
  ['DELETE', '/admin/tokens/alice'],
  ['POST', '/admin/agents/alice/reset-token'],
  ['POST', '/admin/agents/alice/restart', {}],
  ['GET', '/admin/rate-limits'],
  ['PUT', '/admin/rate-limits/alice', { message: { capacity: 1, per_min: 1 } }],
  ['DELETE', '/admin/rate-limits/alice'],
  ['GET', '/admin/rate-limits/whitelist'],
  ['PUT', '/admin/rate-limits/whitelist', { agent_ids: [] }],
  ['PUT', '/admin/log-level', { level: 'debug' }],
  ['GET', '/admin/storage-health'],
  ['GET', '/admin/overview'],
  ['GET', '/admin/live'],
  ['POST', '/admin/queue/pause', {}],
  ['POST', '/admin/queue/resume', {}],
  ['POST', '/admin/queue/drain', {}],
  ['POST', '/admin/dead-letter/retry', {}],
  ['POST', '/admin/dead-letter/clean', {}],
  ['POST', '/admin/agents/alice/disconnect'],
  ['POST', '/api/alerts/queue_growing/acknowledge'],
  ['GET', '/admin/channels'],
  ['GET', '/admin/channels/news'],
  ['GET', '/admin/backups'],
  ['GET', '/admin/rate-limited'],
  ['GET', '/metrics'],
  ['PUT', '/api/config/heartbeat-interval', { heartbeat_interval_ms: 1 }],
  ['GET', '/api/config/heartbeat-interval'],
  ['PUT', '/api/config/alert-thresholds', { stuck_ms: 60_000 }],
  ['GET', '/api/alerts'],
  ['POST', '/api/alerts/no_agents_online/acknowledge'],
  ['POST', '/api/mailbox/evict'],
];

describe('admin routes live only on the admin port, behind the admin token', () => {
  let hub: TestHub;
  let alice: string;

  before(async () => {
    hub = await startTestHub();
    alice = await tokenFor(hub, 'alice');
    await whitelist(hub, 'alice');
  });
  after(() => hub.stop());

  for (const [method, path, body] of PUBLIC_FORBIDDEN) {
    test(`public ${method} ${path} → 403 admin_port_only, whatever the token`, async () => {
      for (const token of [undefined, alice, ADMIN_TOKEN]) {
        const r = await api(hub.url, method, path, { token, body });
        assert.equal(r.status, 403, `token ${token === undefined ? 'none' : token === alice ? 'agent' : 'admin'}`);
        assert.deepEqual(r.body, { error: 'admin_port_only' });
      }
    });
  }

  test('the refused public calls changed nothing', async () => {
    assert.equal((await api(hub.url, 'GET', '/api/agents/states', { token: alice })).status, 200, 'not revoked');
    const hb = await api(hub.url, 'GET', `/api/config/heartbeat-interval?token=${alice}`);
    assert.deepEqual(hb.body, { heartbeat_interval_ms: 900_000 });
    assert.deepEqual((await api(hub.url, 'GET', '/api/config/default-repo')).body, {
      default_repo: null,
      configured: false,
    });
    const tokens = await admin(hub, 'GET', '/admin/tokens');
    assert.ok(!tokens.body.tokens.some((t: { agent_id: string }) => t.agent_id === 'sneaky'));
  });

  for (const [method, path, body] of ADMIN_ONLY) {
    test(`admin-port ${method} ${path} → 401 without the admin token`, async () => {
      for (const [what, token] of [
        ['none', undefined],
        ['wrong', 'not-the-admin-token'],
        ['agent token', alice],
      ] as const) {
        const r = await api(hub.adminUrl, method, path, { token, body });
        assert.equal(r.status, 401, what);
        assert.equal(r.body.error, 'unauthorized', what);
      }
    });
  }

  test('the refused admin calls changed nothing', async () => {
    assert.equal((await api(hub.url, 'GET', '/api/agents/states', { token: alice })).status, 200);
    const limits = await admin(hub, 'GET', '/admin/rate-limits');
    assert.deepEqual(limits.body.overrides, {});
  });

  test('/api/admin/x is the same route as /admin/x on the admin port', async () => {
    const made = await admin(hub, 'POST', '/api/admin/tokens', { agent_id: 'via-api' });
    assert.equal(made.status, 201);
    const a = await admin(hub, 'GET', '/admin/tokens');
    const b = await admin(hub, 'GET', '/api/admin/tokens');
    assert.deepEqual(a.body, b.body);
    assert.ok(a.body.tokens.some((t: { agent_id: string }) => t.agent_id === 'via-api'));
    assert.deepEqual(
      (await admin(hub, 'GET', '/api/admin/rate-limits')).body,
      (await admin(hub, 'GET', '/admin/rate-limits')).body,
    );
    assert.deepEqual(
      (await admin(hub, 'GET', '/api/admin/storage-health')).body.tables,
      (await admin(hub, 'GET', '/admin/storage-health')).body.tables,
    );
    const bad = await admin(hub, 'PUT', '/api/admin/log-level', { level: 'loud' });
    assert.deepEqual([bad.status, bad.body.error], [422, 'invalid_level']);
  });

  test('POST /admin/tokens → 201 {agent_id, token}; GET lists one row per token by 8-hex prefix; DELETE revokes', async () => {
    const one = await admin(hub, 'POST', '/admin/tokens', { agent_id: 'tk' });
    assert.equal(one.status, 201);
    assert.deepEqual(Object.keys(one.body).sort(), ['agent_id', 'token']);
    assert.equal(one.body.agent_id, 'tk');
    assert.match(one.body.token, HEX64);
    const two = await admin(hub, 'POST', '/admin/tokens', { agent_id: 'tk' });
    assert.notEqual(two.body.token, one.body.token);

    const list = await admin(hub, 'GET', '/admin/tokens');
    assert.equal(list.status, 200);
    for (const row of list.body.tokens) {
      assert.deepEqual(Object.keys(row).sort(), ['agent_id', 'token_prefix']);
      assert.match(row.token_prefix, /^[0-9a-f]{8}\.\.\.$/);
    }
    const rows = list.body.tokens.filter((t: { agent_id: string }) => t.agent_id === 'tk');
    assert.deepEqual(
      rows.map((r: { token_prefix: string }) => r.token_prefix).sort(),
      [`${one.body.token.slice(0, 8)}...`, `${two.body.token.slice(0, 8)}...`].sort(),
    );
    assert.ok(!JSON.stringify(list.body).includes(one.body.token), 'whole tokens are never listed');

    for (const body of [{}, { agent_id: '' }, { agent_id: 7 }, { agent_id: 'bad id' }, { agent_id: 'x'.repeat(65) }]) {
      const r = await admin(hub, 'POST', '/admin/tokens', body);
      assert.deepEqual([r.status, r.body.error], [422, 'validation_failed'], JSON.stringify(body));
    }

    const del = await admin(hub, 'DELETE', '/admin/tokens/tk');
    assert.deepEqual(del.body, { status: 'revoked', agent_id: 'tk' });
    const after = await admin(hub, 'GET', '/admin/tokens');
    assert.ok(!after.body.tokens.some((t: { agent_id: string }) => t.agent_id === 'tk'));
  });

  test('health: public keeps the §3.1 shape; the admin port adds worker states', async () => {
    const pub = await api(hub.url, 'GET', '/health');
    assert.deepEqual(pub.body, { status: 'ok', service: 'agent_com', agents_connected: 0 });
    const c = await connectAgent(hub.wsUrl, 'alice', alice);
    assert.deepEqual((await api(hub.url, 'GET', '/health')).body, {
      status: 'ok',
      service: 'agent_com',
      agents_connected: 1,
    });
    const adm = await api(hub.adminUrl, 'GET', '/health');
    assert.equal(adm.status, 200);
    assert.equal(adm.body.status, 'ok');
    assert.equal(adm.body.service, 'agent_com');
    assert.equal(adm.body.agents_connected, 1);
    for (const d of ['registry', 'messaging', 'channels', 'tasks']) {
      assert.equal(adm.body.workers[d]?.state, 'ready', d);
    }
    c.close();
    await eventually(async () => (await api(hub.url, 'GET', '/health')).body.agents_connected === 0, 'agent left');
  });

  test('admin /health is 503 with the reason while a domain is degraded, and 200 once it serves again', async () => {
    // a request that cannot cross to the worker fails its batch: the domain is marked unhealthy
    await hub.domains.messaging.call('health', { fn: () => 1 } as never).catch(() => {});
    const degraded = await api(hub.adminUrl, 'GET', '/health');
    assert.equal(degraded.status, 503);
    assert.equal(degraded.body.status, 'degraded');
    assert.match(degraded.body.reasons.join('\n'), /^messaging storage unhealthy: /);
    await hub.domains.messaging.call('health', {});
    const healthy = await api(hub.adminUrl, 'GET', '/health');
    assert.deepEqual([healthy.status, healthy.body.status, healthy.body.reasons], [200, 'ok', []]);
  });

  test('/dashboard is a page; the overview it reads needs the admin token', async () => {
    const page = await fetch(`${hub.adminUrl}/dashboard`);
    assert.match(page.headers.get('content-type') ?? '', /text\/html/);
    assert.match(await page.text(), /AgentCom hub/);
    const overview = await admin(hub, 'GET', '/admin/overview');
    for (const k of ['health', 'metrics', 'alerts', 'tasks', 'dead_letter', 'agents']) assert.ok(k in overview.body, k);
  });

  test('POST /api/mailbox/evict on the admin port triggers a mailbox sweep', async () => {
    const r = await admin(hub, 'POST', '/api/mailbox/evict');
    assert.deepEqual([r.status, r.body.status], [200, 'eviction_triggered']);
  });

  test('unknown routes on either port are 404 not_found', async () => {
    assert.deepEqual((await admin(hub, 'GET', '/admin/nope')).body, { error: 'not_found' });
    assert.deepEqual((await api(hub.adminUrl, 'GET', '/nothing/here')).body, { error: 'not_found' });
    assert.equal((await api(hub.adminUrl, 'GET', '/nothing/here')).status, 404);
  });

  test('POST /admin/agents/:id/restart sends restart_sidecar to the connected agent; 404 when not connected', async () => {
    const c = await connectAgent(hub.wsUrl, 'alice', alice);
    const r = await admin(hub, 'POST', '/admin/agents/alice/restart', { reason: 'upgrade' });
    assert.deepEqual(r.body, { status: 'restart_commanded', agent_id: 'alice', reason: 'upgrade' });
    assert.deepEqual(await c.next('restart_sidecar'), { type: 'restart_sidecar', reason: 'upgrade' });

    const dflt = await admin(hub, 'POST', '/api/admin/agents/alice/restart', {});
    assert.deepEqual(dflt.body, { status: 'restart_commanded', agent_id: 'alice', reason: 'hub_commanded' });
    assert.deepEqual(await c.next('restart_sidecar'), { type: 'restart_sidecar', reason: 'hub_commanded' });

    const noBody = await api(hub.adminUrl, 'POST', '/admin/agents/alice/restart', { token: ADMIN_TOKEN });
    assert.equal(noBody.body.reason, 'hub_commanded', 'an empty body is allowed');
    await c.next('restart_sidecar');

    for (const id of ['ghost', 'via-api']) {
      const gone = await admin(hub, 'POST', `/admin/agents/${id}/restart`, {});
      assert.deepEqual([gone.status, gone.body.error], [404, 'agent_not_connected'], id);
    }
    c.close();
  });
});

describe('PUT /admin/log-level', () => {
  test('accepts the §3.5 levels, changes what the hub logs at once, refuses others with 422 invalid_level', async () => {
    const hub = await startLoggedHub({}, 'error');
    try {
      const opened = () => hub.lines.filter((l) => l.msg === 'socket opened').length;
      const open = async () => {
        const c = await connectAgent(hub.wsUrl, 'lv', await tokenFor(hub, 'lv'));
        c.close();
      };
      await open();
      assert.equal(opened(), 0, 'no debug lines at level error');

      const r = await admin(hub, 'PUT', '/admin/log-level', { level: 'debug' });
      assert.deepEqual([r.status, r.body], [200, { status: 'ok', level: 'debug' }]);
      await open();
      assert.ok(opened() >= 1, 'debug lines once the level is debug');

      for (const level of ['info', 'notice', 'warning', 'error']) {
        const ok = await admin(hub, 'PUT', '/api/admin/log-level', { level });
        assert.deepEqual(ok.body, { status: 'ok', level }, level);
      }
      const before = opened();
      await open();
      assert.equal(opened(), before, 'debug lines stop at level error');

      const bad = await admin(hub, 'PUT', '/admin/log-level', { level: 'loud' });
      assert.equal(bad.status, 422);
      assert.equal(bad.body.error, 'invalid_level');
      for (const body of [{}, { level: 5 }, { level: null }]) {
        const r2 = await admin(hub, 'PUT', '/admin/log-level', body);
        assert.equal(r2.status, 422, JSON.stringify(body));
      }
    } finally {
      await hub.stop();
    }
  });
});

describe('rate-limit administration', () => {
  let hub: TestHub;
  const tok: Record<string, string> = {};
  const sockets: TestClient[] = [];

  before(async () => {
    hub = await startTestHub();
    for (const id of ['lim', 'lim2', 'lim0', 'httpy', 'w1', 'w2', 'w3', 'keep']) tok[id] = await tokenFor(hub, id);
  });
  after(async () => {
    for (const s of sockets) s.close();
    await hub.stop();
  });

  const connect = async (id: string) => {
    const c = await connectAgent(hub.wsUrl, id, tok[id]);
    sockets.push(c);
    return c;
  };
  const send = (c: TestClient) => c.request({ type: 'message', to: 'nobody', payload: {} }, 'message_sent');

  test('GET /admin/rate-limits: defaults per action {capacity, per_min}, no overrides, empty whitelist', async () => {
    const r = await admin(hub, 'GET', '/admin/rate-limits');
    assert.equal(r.status, 200);
    assert.deepEqual(Object.keys(r.body).sort(), ['defaults', 'overrides', 'whitelist']);
    assert.deepEqual(Object.keys(r.body.defaults).sort(), [...ACTIONS].sort());
    for (const a of ACTIONS) {
      assert.deepEqual(Object.keys(r.body.defaults[a]).sort(), ['capacity', 'per_min'], a);
    }
    assert.deepEqual(r.body.defaults.ws_message, { capacity: 200, per_min: 200 });
    assert.deepEqual(r.body.defaults.message, { capacity: 100, per_min: 100 });
    assert.deepEqual(r.body.defaults.channel_publish, { capacity: 50, per_min: 50 });
    assert.deepEqual(r.body.defaults.task_submit, { capacity: 20, per_min: 20 });
    assert.deepEqual(r.body.defaults.mailbox_poll, { capacity: 30, per_min: 30 });
    assert.deepEqual(r.body.defaults.channel_create, { capacity: 5, per_min: 5 });
    assert.deepEqual(r.body.defaults.http, { capacity: 300, per_min: 300 });
    assert.equal(r.body.defaults.onboard.capacity, 3);
    assert.ok(Math.abs(r.body.defaults.onboard.per_min - 0.6) < 1e-9, '3 per 5 min');
    assert.deepEqual(r.body.overrides, {});
    assert.deepEqual(r.body.whitelist, []);
  });

  test('PUT /admin/rate-limits/:agent_id applies at once to an open socket: the 3rd message is rate_limited', async () => {
    const c = await connect('lim');
    assert.ok((await c.request({ type: 'ping' }, 'pong')).timestamp > 0, 'the socket is open and identified');
    const put = await admin(hub, 'PUT', '/admin/rate-limits/lim', { message: { capacity: 2, per_min: 1 } });
    assert.deepEqual(put.body, {
      status: 'updated',
      agent_id: 'lim',
      overrides: { message: { capacity: 2, per_min: 1 } },
    });
    await send(c);
    await send(c);
    const refused = await c.request({ type: 'message', to: 'nobody', payload: {} }, 'error');
    assert.deepEqual(Object.keys(refused).sort(), ['action', 'error', 'retry_after_ms', 'type']);
    assert.equal(refused.error, 'rate_limited');
    assert.equal(refused.action, 'message');
    assert.ok(Number.isInteger(refused.retry_after_ms) && refused.retry_after_ms > 0);
    assert.ok(refused.retry_after_ms <= 60_000, 'one token per minute');
    assert.ok((await c.request({ type: 'ping' }, 'pong')).timestamp > 0, 'other frames still pass');
    const listed = await admin(hub, 'GET', '/admin/rate-limits');
    assert.deepEqual(listed.body.overrides.lim, { message: { capacity: 2, per_min: 1 } });
  });

  test('an override with per_min 0 is a hard cap of capacity (no refill), not unlimited', async () => {
    const c = await connect('lim0');
    await admin(hub, 'PUT', '/admin/rate-limits/lim0', { message: { capacity: 2, per_min: 0 } });
    await send(c);
    await send(c);
    const refused = await c.request({ type: 'message', to: 'nobody', payload: {} }, 'error');
    assert.deepEqual([refused.error, refused.action], ['rate_limited', 'message']);
  });

  test('an http override turns authenticated routes into 429 + Retry-After with action http', async () => {
    await admin(hub, 'PUT', '/admin/rate-limits/httpy', { http: { capacity: 2, per_min: 1 } });
    const get = () => api(hub.url, 'GET', '/api/agents/states', { token: tok.httpy });
    assert.equal((await get()).status, 200);
    assert.equal((await get()).status, 200);
    const r = await get();
    assert.equal(r.status, 429);
    assert.deepEqual(Object.keys(r.body).sort(), ['action', 'error', 'retry_after_ms']);
    assert.deepEqual([r.body.error, r.body.action], ['rate_limited', 'http']);
    assert.equal(Number(r.headers.get('retry-after')), Math.max(1, Math.ceil(r.body.retry_after_ms / 1000)));
  });

  test('DELETE /admin/rate-limits/:agent_id removes the override', async () => {
    const del = await admin(hub, 'DELETE', '/admin/rate-limits/httpy');
    assert.deepEqual(del.body, { status: 'removed', agent_id: 'httpy' });
    const listed = await admin(hub, 'GET', '/admin/rate-limits');
    assert.equal(listed.body.overrides.httpy, undefined);
  });

  test('after DELETE the defaults apply at once: an agent that used 2 of a 2-per-minute override may send again', async () => {
    const c = await connect('lim2');
    await admin(hub, 'PUT', '/admin/rate-limits/lim2', { message: { capacity: 2, per_min: 1 } });
    await send(c);
    await send(c);
    await admin(hub, 'DELETE', '/admin/rate-limits/lim2');
    c.send({ type: 'message', to: 'nobody', payload: {} });
    const reply = await firstOf(c, ['message_sent', 'error']);
    assert.equal(reply.type, 'message_sent', JSON.stringify(reply));
  });

  test('bad override bodies are 422', async () => {
    for (const body of [
      { message: { capacity: 0, per_min: 1 } },
      { message: { capacity: 1.5, per_min: 1 } },
      { message: { capacity: 1, per_min: -1 } },
      { message: { capacity: '1', per_min: 1 } },
      { message: { capacity: 1 } },
      { bogus: { capacity: 1, per_min: 1 } },
      { message: 5 },
    ]) {
      const r = await admin(hub, 'PUT', '/admin/rate-limits/lim', body);
      assert.equal(r.status, 422, JSON.stringify(body));
    }
    const still = await admin(hub, 'GET', '/admin/rate-limits');
    assert.deepEqual(still.body.overrides.lim, { message: { capacity: 2, per_min: 1 } }, 'unchanged');
  });

  test('a bad override body is 422 invalid_overrides (§3.5) with the field errors', async () => {
    const r = await admin(hub, 'PUT', '/admin/rate-limits/lim', { message: { capacity: 0, per_min: 1 } });
    assert.deepEqual([r.status, r.body.error], [422, 'invalid_overrides']);
    assert.ok(Array.isArray(r.body.errors) && r.body.errors.length > 0);
  });

  test('whitelist: GET, PUT replaces, POST adds, DELETE removes', async () => {
    assert.deepEqual((await admin(hub, 'GET', '/admin/rate-limits/whitelist')).body, { whitelist: [] });
    const put = await admin(hub, 'PUT', '/admin/rate-limits/whitelist', { agent_ids: ['w2', 'w1'] });
    assert.deepEqual(put.body, { status: 'updated', whitelist: ['w1', 'w2'] });
    const post = await admin(hub, 'POST', '/api/admin/rate-limits/whitelist', { agent_id: 'w3' });
    assert.deepEqual(post.body, { status: 'added', agent_id: 'w3', whitelist: ['w1', 'w2', 'w3'] });
    const del = await admin(hub, 'DELETE', '/admin/rate-limits/whitelist/w1');
    assert.deepEqual(del.body, { status: 'removed', agent_id: 'w1', whitelist: ['w2', 'w3'] });
    assert.deepEqual((await admin(hub, 'GET', '/admin/rate-limits/whitelist')).body, { whitelist: ['w2', 'w3'] });
    assert.deepEqual((await admin(hub, 'GET', '/admin/rate-limits')).body.whitelist, ['w2', 'w3']);
    for (const [method, body] of [
      ['PUT', { agent_ids: 'w1' }],
      ['PUT', {}],
      ['PUT', { agent_ids: ['bad id'] }],
      ['POST', {}],
      ['POST', { agent_id: 5 }],
    ] as const) {
      const r = await admin(hub, method, '/admin/rate-limits/whitelist', body);
      assert.equal(r.status, 422, `${method} ${JSON.stringify(body)}`);
    }
    assert.deepEqual((await admin(hub, 'GET', '/admin/rate-limits/whitelist')).body.whitelist, ['w2', 'w3']);
  });

  test('the whitelist lifts an override at once; leaving it reinstates the override at once', async () => {
    const c = await connect('w2');
    await admin(hub, 'PUT', '/admin/rate-limits/w2', { message: { capacity: 1, per_min: 1 } });
    for (let i = 0; i < 5; i++) await send(c);
    await admin(hub, 'DELETE', '/admin/rate-limits/whitelist/w2');
    await send(c);
    const refused = await c.request({ type: 'message', to: 'nobody', payload: {} }, 'error');
    assert.deepEqual([refused.error, refused.action], ['rate_limited', 'message']);
    await admin(hub, 'POST', '/admin/rate-limits/whitelist', { agent_id: 'w2' });
    await send(c);
  });

  test('overrides and the whitelist survive a restart on the same data dir and still apply', async () => {
    await admin(hub, 'PUT', '/admin/rate-limits/keep', { message: { capacity: 2, per_min: 1 } });
    const before = (await admin(hub, 'GET', '/admin/rate-limits')).body;
    for (const s of sockets.splice(0)) s.close();
    await hub.stop({ keepData: true });
    hub = await startTestHub({}, hub.dataDir);

    const after = (await admin(hub, 'GET', '/admin/rate-limits')).body;
    assert.deepEqual(after.overrides, before.overrides);
    assert.deepEqual(after.whitelist, ['w2', 'w3']);
    assert.deepEqual(after.overrides.keep, { message: { capacity: 2, per_min: 1 } });

    const k = await connect('keep');
    await send(k);
    await send(k);
    const refused = await k.request({ type: 'message', to: 'nobody', payload: {} }, 'error');
    assert.deepEqual([refused.error, refused.action], ['rate_limited', 'message']);
    const w = await connect('w2');
    for (let i = 0; i < 3; i++) await send(w);
  });
});

describe('config routes: written on the admin port, read on the public port', () => {
  let hub: TestHub;
  let agent: string;

  before(async () => {
    hub = await startTestHub();
    agent = await tokenFor(hub, 'reader');
    await whitelist(hub, 'reader');
  });
  after(() => hub.stop());

  const read = (path: string) => api(hub.url, 'GET', path, { token: agent });

  test('defaults', async () => {
    assert.deepEqual((await read('/api/config/heartbeat-interval')).body, { heartbeat_interval_ms: 900_000 });
    assert.deepEqual((await read('/api/config/mailbox-retention')).body, { mailbox_ttl_ms: 604_800_000 });
    assert.deepEqual((await api(hub.url, 'GET', '/api/config/default-repo')).body, {
      default_repo: null,
      configured: false,
    });
    assert.deepEqual((await read('/api/config/alert-thresholds')).body, ALERT_THRESHOLD_DEFAULTS);
  });

  test('heartbeat-interval: PUT echoes with status updated; the public GET (tok) returns it', async () => {
    const r = await admin(hub, 'PUT', '/api/config/heartbeat-interval', { heartbeat_interval_ms: 5000 });
    assert.deepEqual([r.status, r.body], [200, { status: 'updated', heartbeat_interval_ms: 5000 }]);
    assert.deepEqual((await read('/api/config/heartbeat-interval')).body, { heartbeat_interval_ms: 5000 });
    const q = await api(hub.url, 'GET', `/api/config/heartbeat-interval?token=${agent}`);
    assert.deepEqual(q.body, { heartbeat_interval_ms: 5000 });
    const viaAdmin = await admin(hub, 'GET', '/api/config/heartbeat-interval');
    assert.deepEqual(viaAdmin.body, { heartbeat_interval_ms: 5000 });
  });

  test('mailbox-retention: PUT echoes with status updated; the public GET returns it', async () => {
    const r = await admin(hub, 'PUT', '/api/config/mailbox-retention', { mailbox_ttl_ms: 3_600_000 });
    assert.deepEqual(r.body, { status: 'updated', mailbox_ttl_ms: 3_600_000 });
    assert.deepEqual((await read('/api/config/mailbox-retention')).body, { mailbox_ttl_ms: 3_600_000 });
  });

  test('default-repo: PUT {url} → {status:"ok", default_repo}; the public GET (no auth) reports it configured', async () => {
    const url = 'https://github.com/example/project.git';
    const r = await admin(hub, 'PUT', '/api/config/default-repo', { url });
    assert.deepEqual(r.body, { status: 'ok', default_repo: url });
    assert.deepEqual((await api(hub.url, 'GET', '/api/config/default-repo')).body, {
      default_repo: url,
      configured: true,
    });
  });

  test('alert-thresholds: PUT sets thresholds over the defaults; GET (auth) shows those in effect', async () => {
    const r = await admin(hub, 'PUT', '/api/config/alert-thresholds', { queue_growing_min: 3, stuck_ms: 60_000 });
    const effective = { ...ALERT_THRESHOLD_DEFAULTS, queue_growing_min: 3, stuck_ms: 60_000 };
    assert.deepEqual(r.body, { status: 'updated', effective: 'next_check_cycle', thresholds: effective });
    assert.deepEqual((await read('/api/config/alert-thresholds')).body, effective);
  });

  const BAD: Array<[path: string, raw: string]> = [
    ['/api/config/heartbeat-interval', '{"heartbeat_interval_ms":0}'],
    ['/api/config/heartbeat-interval', '{"heartbeat_interval_ms":-5}'],
    ['/api/config/heartbeat-interval', '{"heartbeat_interval_ms":1.5}'],
    ['/api/config/heartbeat-interval', '{"heartbeat_interval_ms":"5000"}'],
    ['/api/config/heartbeat-interval', '{"heartbeat_interval_ms":null}'],
    ['/api/config/heartbeat-interval', '{}'],
    ['/api/config/mailbox-retention', '{"mailbox_ttl_ms":0}'],
    ['/api/config/mailbox-retention', '{"mailbox_ttl_ms":2.5}'],
    ['/api/config/mailbox-retention', '{"mailbox_ttl_ms":"1"}'],
    ['/api/config/mailbox-retention', '{}'],
    ['/api/config/default-repo', '{"url":5}'],
    ['/api/config/default-repo', '{}'],
    ['/api/config/default-repo', JSON.stringify({ url: 'x'.repeat(513) })],
    ['/api/config/alert-thresholds', '[]'],
    ['/api/config/alert-thresholds', '"high"'],
    ['/api/config/alert-thresholds', '5'],
    // values no rule could meet, or that a rule would not read: never stored
    ['/api/config/alert-thresholds', '{"queue_growing_min":"10"}'],
    ['/api/config/alert-thresholds', '{"queue_growing_min":0}'],
    ['/api/config/alert-thresholds', '{"failure_rate_pct":150}'],
    ['/api/config/alert-thresholds', '{"failure_min_tasks":2.5}'],
    ['/api/config/alert-thresholds', '{"stuck_ms":-1}'],
    ['/api/config/alert-thresholds', '{"violations_per_min":null}'],
    ['/api/config/alert-thresholds', '{"queue_growing":{"checks":3}}'],
  ];

  test('bad values are 422 validation_failed and change nothing', async () => {
    for (const [path, raw] of BAD) {
      const r = await api(hub.adminUrl, 'PUT', path, { token: ADMIN_TOKEN, raw });
      assert.deepEqual([r.status, r.body.error], [422, 'validation_failed'], `${path} ${raw}`);
      assert.ok(Array.isArray(r.body.errors) && r.body.errors.length > 0, `${path} ${raw}`);
    }
    const broken = await api(hub.adminUrl, 'PUT', '/api/config/heartbeat-interval', { token: ADMIN_TOKEN, raw: '{' });
    assert.deepEqual([broken.status, broken.body], [400, { error: 'invalid_json' }]);
    assert.deepEqual((await read('/api/config/heartbeat-interval')).body, { heartbeat_interval_ms: 5000 });
    assert.deepEqual((await read('/api/config/mailbox-retention')).body, { mailbox_ttl_ms: 3_600_000 });
    assert.equal((await api(hub.url, 'GET', '/api/config/default-repo')).body.configured, true);
    const thresholds = (await read('/api/config/alert-thresholds')).body;
    assert.deepEqual([thresholds.queue_growing_min, thresholds.failure_rate_pct], [3, 50]);
  });

  test('config survives a restart on the same data dir', async () => {
    const thresholds = (await read('/api/config/alert-thresholds')).body;
    await hub.stop({ keepData: true });
    hub = await startTestHub({}, hub.dataDir);
    assert.deepEqual((await read('/api/config/heartbeat-interval')).body, { heartbeat_interval_ms: 5000 });
    assert.deepEqual((await read('/api/config/mailbox-retention')).body, { mailbox_ttl_ms: 3_600_000 });
    assert.deepEqual((await api(hub.url, 'GET', '/api/config/default-repo')).body, {
      default_repo: 'https://github.com/example/project.git',
      configured: true,
    });
    assert.deepEqual((await read('/api/config/alert-thresholds')).body, thresholds);
  });
});
