import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { connectAgent, TestClient } from './helpers/client.js';
import { ADMIN_TOKEN, api, startTestHub, type TestHub, tokenFor, whitelist } from './helpers/hub.js';

const HINT = { error: 'unauthorized', hint: 'provide Authorization: Bearer <token>' };
const PLAIN = { error: 'unauthorized' };
const WRONG = 'f'.repeat(64);
const HEX64 = /^[0-9a-f]{64}$/;

type RouteRow = [method: string, path: string, body?: unknown];

/** `auth` routes (PROTOCOL.md §1, §3): Bearer header only. */
const AUTH_ROUTES: RouteRow[] = [
  ['POST', '/api/message', {}],
  ['GET', '/api/agents/states'],
  ['GET', '/api/agents/alice/state'],
  ['POST', '/api/tasks', {}],
  ['GET', '/api/tasks'],
  ['GET', '/api/tasks/dead-letter'],
  ['GET', '/api/tasks/stats'],
  ['GET', '/api/tasks/task-0000000000000000'],
  ['POST', '/api/tasks/task-0000000000000000/retry'],
  ['POST', '/api/tasks/task-0000000000000000/cancel'],
  ['POST', '/api/channels', {}],
  ['POST', '/api/channels/general/subscribe'],
  ['POST', '/api/channels/general/unsubscribe'],
  ['POST', '/api/channels/general/publish', {}],
  ['GET', '/api/config/alert-thresholds'],
];

/** `tok` routes: Bearer header or `?token=`. */
const TOK_ROUTES: RouteRow[] = [
  ['GET', '/api/messages'],
  ['GET', '/api/threads/0123456789abcdef'],
  ['GET', '/api/threads/0123456789abcdef/replies'],
  ['GET', '/api/threads/0123456789abcdef/root'],
  ['GET', '/api/config/heartbeat-interval'],
  ['GET', '/api/config/mailbox-retention'],
];

/** `own` routes: tok, and the token's agent must be `:agent_id`. */
const OWN_ROUTES: RouteRow[] = [
  ['GET', '/api/mailbox/alice'],
  ['POST', '/api/mailbox/alice/ack', { seq: 0 }],
];

const withToken = (path: string, token: string) => `${path}${path.includes('?') ? '&' : '?'}token=${token}`;

/** A hub where alice and bob hold tokens and gone's token was revoked; fills `tok` with all three. */
async function hubWithRevokedGone(tok: Record<string, string>): Promise<TestHub> {
  const hub = await startTestHub();
  for (const id of ['alice', 'bob', 'gone']) tok[id] = await tokenFor(hub, id);
  await whitelist(hub, 'alice', 'bob', 'gone');
  const revoked = await api(hub.adminUrl, 'DELETE', '/admin/tokens/gone', { token: ADMIN_TOKEN });
  assert.equal(revoked.status, 200);
  return hub;
}

describe('HTTP routes refuse a missing, wrong or revoked token', () => {
  let hub: TestHub;
  const tok: Record<string, string> = {};

  before(async () => {
    hub = await hubWithRevokedGone(tok);
  });
  after(() => hub.stop());

  for (const [method, path, body] of AUTH_ROUTES) {
    test(`auth ${method} ${path}: 401 with the Bearer hint; a valid Bearer token passes`, async () => {
      const call = (opts: { token?: string; headers?: Record<string, string> } = {}, p = path) =>
        api(hub.url, method, p, { ...opts, body });
      for (const [what, r] of [
        ['no token', await call()],
        ['a wrong token', await call({ token: WRONG })],
        ['a revoked token', await call({ token: tok.gone })],
        ['the admin token (not an agent token)', await call({ token: ADMIN_TOKEN })],
        ['a valid token in ?token= (header only)', await call({}, withToken(path, tok.alice))],
        ['a non-Bearer scheme', await call({ headers: { authorization: `Basic ${tok.alice}` } })],
      ] as const) {
        assert.equal(r.status, 401, what);
        assert.deepEqual(r.body, HINT, what);
      }
      const ok = await call({ token: tok.alice });
      assert.ok(ok.status !== 401 && ok.status !== 403 && ok.status < 500, `valid token: ${ok.status}`);
    });
  }

  for (const [method, path] of TOK_ROUTES) {
    test(`tok ${method} ${path}: 401 {"error":"unauthorized"}; header or ?token= passes`, async () => {
      for (const [what, r] of [
        ['no token', await api(hub.url, method, path)],
        ['a wrong Bearer token', await api(hub.url, method, path, { token: WRONG })],
        ['a wrong ?token=', await api(hub.url, method, withToken(path, WRONG))],
        ['a revoked ?token=', await api(hub.url, method, withToken(path, tok.gone))],
        ['a revoked Bearer token', await api(hub.url, method, path, { token: tok.gone })],
      ] as const) {
        assert.equal(r.status, 401, what);
        assert.deepEqual(r.body, PLAIN, what);
      }
      assert.equal((await api(hub.url, method, path, { token: tok.alice })).status, 200, 'Bearer');
      assert.equal((await api(hub.url, method, withToken(path, tok.alice))).status, 200, '?token=');
    });
  }

  for (const [method, path, body] of OWN_ROUTES) {
    test(`own ${method} ${path}: 401 for no, wrong, revoked or another agent's token`, async () => {
      for (const [what, r] of [
        ['no token', await api(hub.url, method, path, { body })],
        ['a wrong token', await api(hub.url, method, path, { token: WRONG, body })],
        ['a revoked token', await api(hub.url, method, path, { token: tok.gone, body })],
        ["another agent's Bearer token", await api(hub.url, method, path, { token: tok.bob, body })],
        ["another agent's ?token=", await api(hub.url, method, withToken(path, tok.bob), { body })],
      ] as const) {
        assert.equal(r.status, 401, what);
        assert.deepEqual(r.body, PLAIN, what);
      }
      assert.equal((await api(hub.url, method, path, { token: tok.alice, body })).status, 200, 'owner, Bearer');
      assert.equal((await api(hub.url, method, withToken(path, tok.alice), { body })).status, 200, 'owner, ?token=');
    });
  }

  test('an own route answers the owner with its own data only', async () => {
    const poll = await api(hub.url, 'GET', '/api/mailbox/alice', { token: tok.alice });
    assert.equal(poll.body.agent_id, 'alice');
    const ack = await api(hub.url, 'POST', '/api/mailbox/alice/ack', { token: tok.alice, body: { seq: 0 } });
    assert.deepEqual(ack.body, { status: 'acked', up_to: 0 });
  });
});

describe('WebSocket identify', () => {
  let hub: TestHub;
  const tok: Record<string, string> = {};

  before(async () => {
    hub = await hubWithRevokedGone(tok);
  });
  after(() => hub.stop());

  test('a wrong token is refused with invalid_token and the socket may try again', async () => {
    const c = await TestClient.open(hub.wsUrl);
    const err = await c.request({ type: 'identify', agent_id: 'alice', token: WRONG }, 'error');
    assert.deepEqual(err, { type: 'error', error: 'invalid_token' });
    const ok = await c.request({ type: 'identify', agent_id: 'alice', token: tok.alice }, 'identified');
    assert.equal(ok.agent_id, 'alice');
    c.close();
  });

  test("another agent's token is refused with token_agent_mismatch", async () => {
    const c = await TestClient.open(hub.wsUrl);
    const err = await c.request({ type: 'identify', agent_id: 'alice', token: tok.bob }, 'error');
    assert.deepEqual(err, { type: 'error', error: 'token_agent_mismatch' });
    assert.deepEqual(await c.request({ type: 'ping' }, 'error'), { type: 'error', error: 'not_identified' });
    c.close();
  });

  test('a revoked token and the admin token are refused with invalid_token', async () => {
    const c = await TestClient.open(hub.wsUrl);
    for (const [agent, token] of [
      ['gone', tok.gone],
      ['alice', ADMIN_TOKEN],
    ]) {
      const err = await c.request({ type: 'identify', agent_id: agent, token }, 'error');
      assert.deepEqual(err, { type: 'error', error: 'invalid_token' }, agent);
    }
    c.close();
  });

  const BEFORE_IDENTIFY: object[] = [
    { type: 'ping' },
    { type: 'message', to: 'bob', payload: { n: 1 } },
    { type: 'status', status: 'busy' },
    { type: 'list_agents' },
    { type: 'list_channels' },
    { type: 'channel_subscribe', channel: 'general' },
    { type: 'mailbox_ack', seq: 1 },
    { type: 'task_accepted', task_id: 'task-0000000000000000' },
  ];

  test('valid frames before identify each get {"type":"error","error":"not_identified"}', async () => {
    const c = await TestClient.open(hub.wsUrl);
    for (const frame of BEFORE_IDENTIFY) {
      assert.deepEqual(
        await c.request(frame, 'error'),
        { type: 'error', error: 'not_identified' },
        JSON.stringify(frame),
      );
    }
    assert.equal(c.frames.length, 0, 'nothing but the errors');
    const ok = await c.request({ type: 'identify', agent_id: 'bob', token: tok.bob }, 'identified');
    assert.equal(ok.agent_id, 'bob');
    assert.ok((await c.request({ type: 'ping' }, 'pong')).timestamp > 0);
    c.close();
  });

  test('an invalid frame before identify is a validation failure (§2: validate, then not_identified)', async () => {
    const c = await TestClient.open(hub.wsUrl);
    try {
      const err = await c.request({ type: 'message', to: 'bob' }, 'error');
      assert.equal(err.error, 'validation_failed');
      assert.equal(err.message_type, 'message');
      assert.deepEqual([err.errors[0].field, err.errors[0].error], ['payload', 'required']);
    } finally {
      c.close();
    }
  });
});

describe('revoking tokens', () => {
  let hub: TestHub;

  before(async () => {
    hub = await startTestHub();
  });
  after(() => hub.stop());

  test("DELETE /admin/tokens/:agent_id closes the agent's sockets with 4003 token_revoked; the token then fails", async () => {
    const t = await tokenFor(hub, 'rev');
    const wt = await tokenFor(hub, 'watcher');
    await whitelist(hub, 'rev', 'watcher');
    const watcher = await connectAgent(hub.wsUrl, 'watcher', wt);
    const rev = await connectAgent(hub.wsUrl, 'rev', t);
    await watcher.next('agent_joined', (f) => f.agent.agent_id === 'rev');

    const r = await api(hub.adminUrl, 'DELETE', '/admin/tokens/rev', { token: ADMIN_TOKEN });
    assert.deepEqual([r.status, r.body], [200, { status: 'revoked', agent_id: 'rev' }]);
    assert.deepEqual(await rev.waitClose(), { code: 4003, reason: 'token_revoked' });
    assert.equal((await watcher.next('agent_left', (f) => f.agent_id === 'rev')).agent_id, 'rev');
    assert.ok((await watcher.request({ type: 'ping' }, 'pong')).timestamp > 0, 'other agents are untouched');

    const http = await api(hub.url, 'GET', '/api/agents/states', { token: t });
    assert.deepEqual([http.status, http.body], [401, HINT]);
    assert.deepEqual((await api(hub.url, 'GET', `/api/messages?token=${t}`)).body, PLAIN);
    assert.equal((await api(hub.url, 'GET', '/api/mailbox/rev', { token: t })).status, 401);
    const again = await TestClient.open(hub.wsUrl);
    assert.deepEqual(await again.request({ type: 'identify', agent_id: 'rev', token: t }, 'error'), {
      type: 'error',
      error: 'invalid_token',
    });
    const listed = await api(hub.adminUrl, 'GET', '/admin/tokens', { token: ADMIN_TOKEN });
    assert.ok(!listed.body.tokens.some((x: { agent_id: string }) => x.agent_id === 'rev'));
    again.close();
    watcher.close();
  });

  test('revoking revokes every token of the agent and only that agent', async () => {
    const t1 = await tokenFor(hub, 'multi');
    const t2 = await tokenFor(hub, 'multi');
    const other = await tokenFor(hub, 'other');
    assert.equal((await api(hub.url, 'GET', '/api/agents/states', { token: t1 })).status, 200);
    assert.equal((await api(hub.url, 'GET', '/api/agents/states', { token: t2 })).status, 200);
    await api(hub.adminUrl, 'DELETE', '/admin/tokens/multi', { token: ADMIN_TOKEN });
    assert.equal((await api(hub.url, 'GET', '/api/agents/states', { token: t1 })).status, 401);
    assert.equal((await api(hub.url, 'GET', '/api/agents/states', { token: t2 })).status, 401);
    assert.equal((await api(hub.url, 'GET', '/api/agents/states', { token: other })).status, 200);
  });

  test('reset-token revokes the old token (closing its socket), returns a new working one (201)', async () => {
    const old = await tokenFor(hub, 'rst');
    await whitelist(hub, 'rst');
    const sock = await connectAgent(hub.wsUrl, 'rst', old);
    const r = await api(hub.adminUrl, 'POST', '/admin/agents/rst/reset-token', { token: ADMIN_TOKEN });
    assert.equal(r.status, 201);
    assert.equal(r.body.agent_id, 'rst');
    assert.match(r.body.token, HEX64);
    assert.notEqual(r.body.token, old);
    assert.equal(typeof r.body.hint, 'string');
    assert.deepEqual(await sock.waitClose(), { code: 4003, reason: 'token_revoked' });

    assert.equal((await api(hub.url, 'GET', '/api/agents/states', { token: old })).status, 401, 'old token fails');
    const stale = await TestClient.open(hub.wsUrl);
    assert.equal(
      (await stale.request({ type: 'identify', agent_id: 'rst', token: old }, 'error')).error,
      'invalid_token',
    );
    stale.close();

    assert.equal((await api(hub.url, 'GET', '/api/agents/states', { token: r.body.token })).status, 200);
    const fresh = await connectAgent(hub.wsUrl, 'rst', r.body.token);
    assert.ok((await fresh.request({ type: 'ping' }, 'pong')).timestamp > 0);

    const viaApi = await api(hub.adminUrl, 'POST', '/api/admin/agents/rst/reset-token', { token: ADMIN_TOKEN });
    assert.equal(viaApi.status, 201, '/api/admin/… is the same route');
    assert.deepEqual(await fresh.waitClose(), { code: 4003, reason: 'token_revoked' });
    assert.equal((await api(hub.url, 'GET', '/api/agents/states', { token: viaApi.body.token })).status, 200);
  });

  test('reset-token of an unknown agent is 404 agent_not_found', async () => {
    for (const p of ['/admin/agents/nobody/reset-token', '/api/admin/agents/nobody/reset-token']) {
      const r = await api(hub.adminUrl, 'POST', p, { token: ADMIN_TOKEN });
      assert.deepEqual([r.status, r.body.error], [404, 'agent_not_found'], p);
    }
  });
});

describe('onboarding: POST /api/onboard/register', () => {
  test('201 with the agent’s token and URLs; taken 409; "" 422; the 4th request in 5 min is 429', async () => {
    const hub = await startTestHub();
    try {
      const ok = await api(hub.url, 'POST', '/api/onboard/register', { body: { agent_id: 'newbie' } });
      assert.equal(ok.status, 201);
      assert.deepEqual(Object.keys(ok.body).sort(), ['agent_id', 'default_repo', 'hub_api_url', 'hub_ws_url', 'token']);
      assert.equal(ok.body.agent_id, 'newbie');
      assert.match(ok.body.token, HEX64);
      assert.equal(ok.body.hub_ws_url, hub.wsUrl);
      assert.equal(ok.body.hub_api_url, hub.url);
      assert.equal(ok.body.default_repo, null);

      const taken = await api(hub.url, 'POST', '/api/onboard/register', { body: { agent_id: 'newbie' } });
      assert.deepEqual([taken.status, taken.body], [409, { error: 'agent_id already registered' }]);

      const empty = await api(hub.url, 'POST', '/api/onboard/register', { body: { agent_id: '' } });
      assert.equal(empty.status, 422);
      assert.equal(empty.body.error, 'validation_failed');
      assert.equal(empty.body.errors[0].field, 'agent_id');

      const limited = await api(hub.url, 'POST', '/api/onboard/register', { body: { agent_id: 'fourth' } });
      assert.equal(limited.status, 429);
      assert.deepEqual(Object.keys(limited.body).sort(), ['action', 'error', 'retry_after_ms']);
      assert.equal(limited.body.error, 'rate_limited');
      assert.equal(limited.body.action, 'onboard');
      const ms = limited.body.retry_after_ms;
      assert.ok(Number.isInteger(ms) && ms > 0, `retry_after_ms ${ms}`);
      const header = Number(limited.headers.get('retry-after'));
      assert.ok(Number.isInteger(header) && header >= 1, `Retry-After ${header}`);
      assert.equal(header, Math.max(1, Math.ceil(ms / 1000)));

      const c = await connectAgent(hub.wsUrl, 'newbie', ok.body.token);
      assert.ok((await c.request({ type: 'ping' }, 'pong')).timestamp > 0, 'the onboarded token identifies');
      c.close();
    } finally {
      await hub.stop();
    }
  });

  test('ids already holding an admin-issued token are taken; bad ids are 422; default_repo is reported', async () => {
    const hub = await startTestHub({ rateLimits: { onboard: { capacity: 100, per_min: 100 } } });
    try {
      await tokenFor(hub, 'preissued');
      const reg = (body: unknown) => api(hub.url, 'POST', '/api/onboard/register', { body });
      assert.deepEqual((await reg({ agent_id: 'preissued' })).body, { error: 'agent_id already registered' });
      for (const body of [
        {},
        { agent_id: null },
        { agent_id: 5 },
        { agent_id: 'has space' },
        { agent_id: 'x'.repeat(65) },
      ]) {
        const r = await reg(body);
        assert.deepEqual([r.status, r.body.error], [422, 'validation_failed'], JSON.stringify(body));
      }
      const repo = 'https://github.com/example/repo.git';
      await api(hub.adminUrl, 'PUT', '/api/config/default-repo', { token: ADMIN_TOKEN, body: { url: repo } });
      const ok = await reg({ agent_id: 'with-repo' });
      assert.deepEqual([ok.status, ok.body.default_repo], [201, repo]);
    } finally {
      await hub.stop();
    }
  });
});
