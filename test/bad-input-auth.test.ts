import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { connectAgent, sleep, TestClient } from './helpers/client.js';
import { ADMIN_TOKEN, api, startFuzzHub, startTestHub, type TestHub, tokenFor } from './helpers/hub.js';

type Expect = { error: string; field?: string; kind?: string };

/** Malformed WS frames and what the hub must answer; the socket stays usable after each. */
const FRAMES: Array<[string, string, Expect]> = [
  ['malformed JSON', '{"type":', { error: 'invalid_json' }],
  ['a JSON array', '[1,2]', { error: 'validation_failed', field: 'message', kind: 'wrong_type' }],
  ['a JSON number', '42', { error: 'validation_failed', field: 'message', kind: 'wrong_type' }],
  ['null', 'null', { error: 'validation_failed', field: 'message', kind: 'wrong_type' }],
  ['no type', '{"to":"x"}', { error: 'validation_failed', field: 'type', kind: 'required' }],
  ['a numeric type', '{"type":5}', { error: 'validation_failed', field: 'type', kind: 'wrong_type' }],
  [
    'an unknown type',
    '{"type":"teleport"}',
    { error: 'validation_failed', field: 'type', kind: 'unknown_message_type' },
  ],
  [
    'message without payload',
    '{"type":"message","to":"b"}',
    { error: 'validation_failed', field: 'payload', kind: 'required' },
  ],
  [
    'payload an array',
    '{"type":"message","payload":[]}',
    { error: 'validation_failed', field: 'payload', kind: 'wrong_type' },
  ],
  [
    'to a number',
    '{"type":"message","payload":{},"to":7}',
    { error: 'validation_failed', field: 'to', kind: 'wrong_type' },
  ],
  [
    'status too long',
    JSON.stringify({ type: 'status', status: 's'.repeat(300) }),
    { error: 'validation_failed', field: 'status', kind: 'too_long' },
  ],
  [
    'payload over 64 KiB',
    JSON.stringify({ type: 'message', payload: { x: 'y'.repeat(70_000) } }),
    { error: 'validation_failed', field: 'payload', kind: 'too_long' },
  ],
  [
    'seq as a string',
    '{"type":"mailbox_ack","seq":"5"}',
    { error: 'validation_failed', field: 'seq', kind: 'wrong_type' },
  ],
  [
    'nested 40 deep',
    `{"type":"message","payload":${'{"a":'.repeat(40)}1${'}'.repeat(40)}}`,
    { error: 'validation_failed', field: 'message', kind: 'too_long' },
  ],
  [
    'nested 40 deep, large',
    `{"type":"message","payload":{"pad":"${'p'.repeat(20_000)}","x":${'['.repeat(40)}${']'.repeat(40)}}}`,
    { error: 'validation_failed', field: 'message', kind: 'too_long' },
  ],
  [
    'a channel that normalises to nothing',
    '{"type":"channel_subscribe","channel":"##"}',
    { error: 'validation_failed', field: 'channel', kind: 'wrong_type' },
  ],
];

describe('bad input never breaks a connection or the hub', () => {
  let hub: TestHub;
  let token: string;

  before(async () => {
    ({ hub, token } = await startFuzzHub());
  });
  after(() => hub.stop());

  for (const [name, raw, want] of FRAMES) {
    test(`WS: ${name}`, async () => {
      const c = await connectAgent(hub.wsUrl, 'fuzz', token);
      const err = c.next('error');
      c.sendRaw(raw);
      const e = await err;
      assert.equal(e.error, want.error);
      if (want.field) {
        assert.equal(e.errors[0].field, want.field);
        assert.equal(e.errors[0].error, want.kind);
      }
      if (want.kind === 'unknown_message_type') assert.ok(e.errors[0].known_types.includes('identify'));
      assert.ok((await c.request({ type: 'ping' }, 'pong')).timestamp > 0, 'still serving');
      c.close();
    });
  }

  test('WS: a frame over 1 MiB closes with 1009; binary frames are read as text', async () => {
    const c = await connectAgent(hub.wsUrl, 'fuzz', token);
    c.sendRaw(Buffer.from('{"type":"ping"}'));
    await c.next('pong');
    c.sendRaw('x'.repeat(1024 * 1024 + 10));
    assert.equal((await c.waitClose()).code, 1009);
  });

  test('HTTP: bad JSON 400, schema 422, oversize 413, bad numbers 422, unknown route 404', async () => {
    const post = (raw: string) => api(hub.url, 'POST', '/api/message', { token, raw });
    assert.deepEqual((await post('{nope')).body, { error: 'invalid_json' });
    const v = await post('{"to":"x"}');
    assert.deepEqual([v.status, v.body.error, v.body.errors[0].field], [422, 'validation_failed', 'payload']);
    assert.equal((await post(`{"payload":{"x":"${'y'.repeat(9 * 1024 * 1024)}"}}`)).status, 413);
    for (const q of ['limit=abc', 'cursor=1.5', 'start_time=-1']) {
      assert.equal((await api(hub.url, 'GET', `/api/messages?${q}&token=${token}`)).status, 422, q);
    }
    assert.deepEqual((await api(hub.url, 'GET', '/api/nothing')).body, { error: 'not_found' });
    assert.equal((await api(hub.url, 'GET', '/health')).body.status, 'ok');
  });

  test('ten violations within the window close with 1008 and start the identify back-off', async () => {
    const strictHub = await startTestHub({ backoffMs: [1000] });
    const t = await tokenFor(strictHub, 'noisy');
    const c = await connectAgent(strictHub.wsUrl, 'noisy', t);
    for (let i = 0; i < 10; i++) c.sendRaw('nope');
    assert.equal((await c.waitClose()).code, 1008);
    const again = await TestClient.open(strictHub.wsUrl);
    again.send({ type: 'identify', agent_id: 'noisy', token: t });
    assert.equal((await again.waitClose()).code, 1008, 'refused during back-off');
    await sleep(1100);
    (await connectAgent(strictHub.wsUrl, 'noisy', t)).close();
    await strictHub.stop();
  });

  test('log-only mode accepts a broken limit but still refuses a wrong type', async () => {
    const lax = await startTestHub({ validationMode: 'log-only' });
    const t = await tokenFor(lax, 'lax');
    const c = await connectAgent(lax.wsUrl, 'lax', t);
    assert.equal((await c.request({ type: 'status', status: 's'.repeat(300) }, 'status_updated')).status.length, 300);
    assert.equal((await c.request({ type: 'status', status: 5 }, 'error')).errors[0].error, 'wrong_type');
    c.close();
    await lax.stop();
  });
});

describe('auth and the admin port', () => {
  let hub: TestHub;
  let alice: string;
  let bob: string;

  before(async () => {
    hub = await startTestHub();
    alice = await tokenFor(hub, 'alice');
    bob = await tokenFor(hub, 'bob');
  });
  after(() => hub.stop());

  test('routes refuse a missing or wrong token with the protocol shapes', async () => {
    const authHint = { error: 'unauthorized', hint: 'provide Authorization: Bearer <token>' };
    for (const [m, p] of [
      ['POST', '/api/message'],
      ['GET', '/api/agents/states'],
      ['POST', '/api/tasks'],
      ['POST', '/api/channels'],
    ] as const) {
      const body = m === 'GET' ? undefined : {};
      assert.deepEqual((await api(hub.url, m, p, { body })).body, authHint, p);
      assert.equal((await api(hub.url, m, p, { token: 'f'.repeat(64), body })).status, 401, p);
    }
    assert.deepEqual((await api(hub.url, 'GET', '/api/messages')).body, { error: 'unauthorized' });
    assert.equal((await api(hub.url, 'GET', `/api/messages?token=${alice}`)).status, 200);
    assert.equal((await api(hub.url, 'GET', '/api/mailbox/alice', { token: bob })).status, 401, 'own');
    assert.equal((await api(hub.url, 'GET', '/api/mailbox/alice', { token: alice })).status, 200);
  });

  test('identify refuses a wrong token or another agent’s token', async () => {
    const c = await TestClient.open(hub.wsUrl);
    assert.equal(
      (await c.request({ type: 'identify', agent_id: 'alice', token: 'x' }, 'error')).error,
      'invalid_token',
    );
    assert.equal(
      (await c.request({ type: 'identify', agent_id: 'alice', token: bob }, 'error')).error,
      'token_agent_mismatch',
    );
    c.close();
  });

  test('admin routes: admin port and admin token only', async () => {
    for (const p of ['/admin/tokens', '/api/admin/tokens']) {
      const r = await api(hub.url, 'GET', p, { token: alice });
      assert.deepEqual([r.status, r.body.error], [403, 'admin_port_only']);
    }
    assert.equal((await api(hub.url, 'PUT', '/api/config/heartbeat-interval', { token: alice, body: {} })).status, 403);
    assert.equal((await api(hub.url, 'POST', '/api/mailbox/evict', { token: alice })).status, 403);
    assert.equal(
      (await api(hub.adminUrl, 'GET', '/admin/tokens', { token: alice })).status,
      401,
      'agent tokens never grant admin',
    );
    const list = await api(hub.adminUrl, 'GET', '/api/admin/tokens', { token: ADMIN_TOKEN });
    assert.ok(list.body.tokens.every((t: { token_prefix: string }) => /^[0-9a-f]{8}\.\.\.$/.test(t.token_prefix)));
    const health = await api(hub.adminUrl, 'GET', '/health');
    for (const d of ['registry', 'messaging', 'channels', 'tasks']) assert.equal(health.body.workers[d].state, 'ready');
    assert.match((await api(hub.adminUrl, 'GET', '/metrics', { token: ADMIN_TOKEN })).body, /agentcom_batch_seconds/);
    assert.equal(
      (await api(hub.adminUrl, 'PUT', '/admin/log-level', { token: ADMIN_TOKEN, body: { level: 'loud' } })).body.error,
      'invalid_level',
    );
    const hb = await api(hub.adminUrl, 'PUT', '/api/config/heartbeat-interval', {
      token: ADMIN_TOKEN,
      body: { heartbeat_interval_ms: 5000 },
    });
    assert.deepEqual(hb.body, { status: 'updated', heartbeat_interval_ms: 5000 });
    assert.equal(
      (await api(hub.url, 'GET', `/api/config/heartbeat-interval?token=${alice}`)).body.heartbeat_interval_ms,
      5000,
    );
  });

  test('rate-limit overrides apply at once; revoking a token closes its sockets with 4003', async () => {
    const set = await api(hub.adminUrl, 'PUT', '/admin/rate-limits/alice', {
      token: ADMIN_TOKEN,
      body: { message: { capacity: 2, per_min: 1 } },
    });
    assert.equal(set.body.status, 'updated');
    const a = await connectAgent(hub.wsUrl, 'alice', alice);
    await a.request({ type: 'message', to: 'bob', payload: {} }, 'message_sent');
    await a.request({ type: 'message', to: 'bob', payload: {} }, 'message_sent');
    const refused = await a.request({ type: 'message', to: 'bob', payload: {} }, 'error');
    assert.equal(refused.error, 'rate_limited');
    assert.equal(refused.action, 'message');
    assert.ok(refused.retry_after_ms >= 1000);
    const b = await connectAgent(hub.wsUrl, 'bob', bob);
    await api(hub.adminUrl, 'DELETE', '/admin/tokens/bob', { token: ADMIN_TOKEN });
    assert.deepEqual(await b.waitClose(), { code: 4003, reason: 'token_revoked' });
    assert.equal((await api(hub.url, 'GET', '/api/mailbox/bob', { token: bob })).status, 401);
    a.close();
  });

  test('onboarding: 201, 409 when taken, 422 when empty, then rate limited per IP', async () => {
    const ok = await api(hub.url, 'POST', '/api/onboard/register', { body: { agent_id: 'newbie' } });
    assert.equal(ok.status, 201);
    assert.match(ok.body.token, /^[0-9a-f]{64}$/);
    assert.match(ok.body.hub_ws_url, /^ws:\/\/127\.0\.0\.1:\d+\/ws$/);
    const taken = await api(hub.url, 'POST', '/api/onboard/register', { body: { agent_id: 'newbie' } });
    assert.deepEqual([taken.status, taken.body.error], [409, 'agent_id already registered']);
    assert.equal((await api(hub.url, 'POST', '/api/onboard/register', { body: { agent_id: '' } })).status, 422);
    const limited = await api(hub.url, 'POST', '/api/onboard/register', { body: { agent_id: 'fourth' } });
    assert.deepEqual([limited.status, limited.body.action], [429, 'onboard']);
    assert.ok(Number(limited.headers.get('retry-after')) >= 1);
  });
});
