import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { big, KIB64, nest, stillServes } from './helpers/bad-input.js';
import { connectAgent } from './helpers/client.js';
import { api, startTestHub, type TestHub, tokenFor, whitelist } from './helpers/hub.js';

describe('validation mode log-only (§9.3)', () => {
  let hub: TestHub;
  let token: string;

  before(async () => {
    hub = await startTestHub({ validationMode: 'log-only' });
    token = await tokenFor(hub, 'lax');
    await whitelist(hub, 'lax');
  });
  after(() => hub.stop());

  test('a broken limit is accepted and processed', async () => {
    const c = await connectAgent(hub.wsUrl, 'lax', token);
    const st = await c.request({ type: 'status', status: 's'.repeat(300) }, 'status_updated');
    assert.equal(st.status.length, 300);
    await c.request({ type: 'message', to: 'nobody', payload: { x: big(KIB64 + 10) } }, 'message_sent');
    const caps = Array.from({ length: 25 }, (_, i) => `c${i}`);
    await c.request({ type: 'identify', agent_id: 'lax', token, capabilities: caps }, 'identified');
    const http = await api(hub.url, 'POST', '/api/message', {
      token,
      body: { to: 'nobody', payload: { x: big(KIB64 + 10) } },
    });
    assert.equal(http.body.status, 'sent');
    c.close();
  });

  test('a wrong type is still refused, even next to a broken limit', async () => {
    const c = await connectAgent(hub.wsUrl, 'lax', token);
    const e = await c.request({ type: 'status', status: 5 }, 'error');
    assert.deepEqual([e.error, e.errors[0].field, e.errors[0].error], ['validation_failed', 'status', 'wrong_type']);
    const mixed = await c.request(
      { type: 'identify', agent_id: 'lax', token, name: 'n'.repeat(200), capabilities: 'code' },
      'error',
    );
    assert.equal(mixed.error, 'validation_failed');
    assert.ok(mixed.errors.some((x: { error: string }) => x.error === 'wrong_type'));
    const missing = await c.request({ type: 'message', to: 'nobody' }, 'error');
    assert.equal(missing.errors[0].error, 'required');
    const http = await api(hub.url, 'POST', '/api/message', { token, body: { to: 5, payload: {} } });
    assert.deepEqual([http.status, http.body.errors[0].error], [422, 'wrong_type']);
    await stillServes(c);
    c.close();
  });

  test('unparseable, untyped, too deep and oversized frames are refused as in strict mode', async () => {
    const c = await connectAgent(hub.wsUrl, 'lax', token);
    const cases: Array<[string, string]> = [
      ['{', 'invalid_json'],
      ['{"to":"x"}', 'validation_failed'],
      ['{"type":"nope"}', 'validation_failed'],
      [`{"type":"message","to":"nobody","payload":${nest(40)}}`, 'validation_failed'],
    ];
    for (const [raw, error] of cases) {
      const e = c.next('error');
      c.sendRaw(raw);
      assert.equal((await e).error, error, raw);
    }
    await stillServes(c);
    c.sendRaw(JSON.stringify({ type: 'message', payload: { x: big(1024 * 1024) } }));
    assert.equal((await c.waitClose()).code, 1009);
  });
});
