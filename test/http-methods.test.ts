import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { ADMIN_TOKEN, api, startTestHub, type TestHub } from './helpers/hub.js';
import { rawRequest } from './helpers/raw-http.js';

describe('HEAD and wrong methods', () => {
  let hub: TestHub;
  before(async () => {
    hub = await startTestHub();
  });
  after(() => hub.stop());

  test('HEAD /health answers like GET without a body, on both ports', async () => {
    for (const base of [hub.url, hub.adminUrl]) {
      const get = await fetch(`${base}/health`);
      const head = await fetch(`${base}/health`, { method: 'HEAD' });
      assert.equal(head.status, get.status, base);
      assert.equal(await head.text(), '', base);
      assert.equal(head.headers.get('content-type'), 'application/json', base);
    }
  });

  test('a known path with a wrong method is 405 with Allow, on both ports; an unknown path stays 404', async () => {
    const cases: Array<[base: string, method: string, path: string, allow: string]> = [
      [hub.url, 'POST', '/health', 'GET, HEAD'],
      [hub.url, 'DELETE', '/api/tasks', 'GET, HEAD, POST'],
      [hub.url, 'PUT', '/api/alerts', 'GET, HEAD'],
      [hub.adminUrl, 'POST', '/health', 'GET, HEAD'],
      [hub.adminUrl, 'GET', '/admin/backup', 'POST'],
      [hub.adminUrl, 'DELETE', '/metrics', 'GET, HEAD'],
      [hub.adminUrl, 'PATCH', '/admin/tokens', 'GET, HEAD, POST'],
    ];
    for (const [base, method, path, allow] of cases) {
      const r = await api(base, method, path, { token: ADMIN_TOKEN });
      assert.equal(r.status, 405, `${method} ${path}`);
      assert.equal(r.headers.get('allow'), allow, `${method} ${path}`);
      assert.equal(r.body.error, 'method_not_allowed', `${method} ${path}`);
    }
    assert.equal((await api(hub.url, 'POST', '/nowhere')).status, 404);
    assert.equal((await api(hub.adminUrl, 'GET', '/nowhere', { token: ADMIN_TOKEN })).status, 404);
  });
});

describe('readiness: GET /ready says whether the hub takes writes', () => {
  let hub: TestHub;
  before(async () => {
    hub = await startTestHub({ queueMax: 2, shutdownMs: 2000 });
  });
  after(() => hub.stop());

  test('ready on both ports once started', async () => {
    for (const base of [hub.url, hub.adminUrl]) {
      const r = await api(base, 'GET', '/ready');
      assert.deepEqual([r.status, r.body], [200, { status: 'ready', reasons: [] }], base);
    }
  });

  test('not ready while a domain cannot store writes, ready again once it does', async () => {
    // a request that cannot cross to the worker fails its batch: the domain is marked unhealthy
    await hub.domains.tasks.call('health', { fn: () => 1 } as never).catch(() => {});
    const r = await api(hub.url, 'GET', '/ready');
    assert.equal(r.status, 503);
    assert.match(r.body.reasons.join('\n'), /^tasks storage unhealthy$/);
    await hub.domains.tasks.call('health', {});
    assert.equal((await api(hub.url, 'GET', '/ready')).status, 200);
  });

  test('not ready while a domain queue is full (its writes are refused as overloaded)', async () => {
    await hub.domains.messaging.pause();
    const waiting = [hub.domains.messaging.call('health', {}), hub.domains.messaging.call('health', {})];
    const r = await api(hub.adminUrl, 'GET', '/ready');
    assert.deepEqual([r.status, r.body.reasons], [503, ['messaging overloaded: 2 requests waiting']]);
    hub.domains.messaging.resume();
    await Promise.all(waiting);
    assert.equal((await api(hub.adminUrl, 'GET', '/ready')).status, 200);
  });

  test('not ready once the shutdown started', async () => {
    // a request already on the wire when the shutdown starts is still answered; the paused domain holds the close open
    const req = rawRequest(hub.adminPort, 'GET /ready HTTP/1.1\r\nHost: hub\r\n');
    await req.start();
    await hub.domains.messaging.pause();
    const waiting = hub.domains.messaging.call('health', {}).catch(() => {});
    const closed = hub.stop();
    const text = await req.finish('Connection: close\r\n\r\n');
    assert.match(text, /^HTTP\/1\.1 503 /);
    assert.match(text, /"reasons":\["shutting down"/);
    hub.domains.messaging.resume();
    await waiting;
    await closed;
  });
});
