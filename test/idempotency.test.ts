import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { connectAgent, type TestClient } from './helpers/client.js';
import { api, startTestHub, type TestHub, tokenFor, whitelist } from './helpers/hub.js';

let hub: TestHub;
let tok: string;
let c: TestClient;
before(async () => {
  hub = await startTestHub();
  tok = await tokenFor(hub, 'idem');
  await whitelist(hub, 'idem');
  await api(hub.url, 'POST', '/api/channels', { token: tok, body: { name: 'idem-ch' } });
  await api(hub.url, 'POST', `/api/channels/idem-ch/subscribe`, { token: await tokenFor(hub, 'listener') });
  c = await connectAgent(hub.wsUrl, 'idem', tok);
});
after(async () => {
  c.close();
  await hub.stop();
});

const post = (path: string, body: unknown, key?: string) =>
  api(hub.url, 'POST', path, { token: tok, body, headers: key === undefined ? {} : { 'idempotency-key': key } });

describe('idempotency keys are exact (§9.28)', () => {
  test('a repeated channel publish returns exactly the first reply, over HTTP and over WS, and stores one post', async () => {
    const first = await post('/api/channels/idem-ch/publish', { payload: { n: 1 } }, 'pub-1');
    const again = await post('/api/channels/idem-ch/publish', { payload: { n: 1 } }, 'pub-1');
    assert.equal(first.status, 200);
    assert.deepEqual(again.body, first.body);
    assert.deepEqual(Object.keys(first.body).sort(), ['id', 'seq', 'status']);
    const frame = { type: 'channel_publish', channel: 'idem-ch', payload: { n: 2 }, idempotency_key: 'pub-2' };
    const ws1 = await c.request(frame, 'channel_published');
    const ws2 = await c.request(frame, 'channel_published');
    assert.deepEqual(ws2, ws1, 'no internal field (mailboxed, dropped, channelSeq, subscriber ids) leaks');
    assert.deepEqual(Object.keys(ws1).sort(), ['channel', 'id', 'seq', 'type']);
    const history = await api(hub.url, 'GET', '/api/channels/idem-ch/history');
    assert.equal(history.body.count, 2, 'one post per key');
  });

  test('the same key with a different request is refused with idempotency_key_reused', async () => {
    const first = await post('/api/message', { to: 'x', payload: { n: 1 } }, 'send-1');
    assert.equal(first.status, 200);
    const reused = await post('/api/message', { to: 'x', payload: { n: 2 } }, 'send-1');
    assert.deepEqual([reused.status, reused.body.error], [422, 'idempotency_key_reused']);
    const same = await post('/api/message', { to: 'x', payload: { n: 1 } }, 'send-1');
    assert.deepEqual(same.body, first.body, 'the same request still gets its first reply');
    const ws = await c.request(
      { type: 'message', to: 'y', payload: { n: 9 }, idempotency_key: 'send-1' },
      'error',
      (f) => f.error === 'idempotency_key_reused',
    );
    assert.equal(ws.idempotency_key, 'send-1');
    const task = await post('/api/tasks', { description: 'one' }, 'task-1');
    const otherTask = await post('/api/tasks', { description: 'two' }, 'task-1');
    assert.equal(task.status, 201);
    assert.deepEqual([otherTask.status, otherTask.body.error], [422, 'idempotency_key_reused']);
  });

  test('an Idempotency-Key header over 128 characters is refused (422), never truncated into another key', async () => {
    const base = 'k'.repeat(128);
    const ok = await post('/api/message', { to: 'x', payload: { n: 1 } }, base);
    assert.equal(ok.status, 200, 'exactly 128 is fine');
    for (const path of ['/api/message', '/api/channels/idem-ch/publish', '/api/tasks']) {
      const body = path === '/api/tasks' ? { description: 'd' } : { to: 'x', payload: { n: 2 } };
      const long = await post(path, body, `${base}-different`);
      assert.equal(long.status, 422, path);
      assert.deepEqual(long.body.errors[0], {
        field: 'Idempotency-Key',
        error: 'too_long',
        detail: 'at most 128 characters',
      });
    }
  });

  test('a repeated task submit returns exactly the first 201 body (with 200), even after the task moved on', async () => {
    const first = await post('/api/tasks', { description: 'cancel me' }, 'task-2');
    assert.equal(first.status, 201);
    await post(`/api/tasks/${first.body.task_id}/cancel`, {});
    const again = await post('/api/tasks', { description: 'cancel me' }, 'task-2');
    assert.equal(again.status, 200);
    assert.deepEqual(again.body, first.body);
  });
});
