import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { big, type FieldKind, KIB64, nest } from './helpers/bad-input.js';
import { ADMIN_TOKEN, api, startTestHub, type TestHub, tokenFor, whitelist } from './helpers/hub.js';

interface HttpCase {
  name: string;
  method: string;
  path: string;
  raw?: string;
  body?: unknown;
  status: number;
  /** exact body, or the error code and errors[0].field */
  want: object | { error: string; field?: string; kind?: FieldKind };
}

describe('malformed HTTP bodies and queries: each refused with its status, the hub keeps serving', () => {
  let hub: TestHub;
  let token: string;

  before(async () => {
    hub = await startTestHub();
    token = await tokenFor(hub, 'fuzz');
    await whitelist(hub, 'fuzz');
  });
  after(() => hub.stop());

  const msg = (name: string, raw: string, status: number, want: HttpCase['want']): HttpCase => ({
    name,
    method: 'POST',
    path: '/api/message',
    raw,
    status,
    want,
  });
  const v = (field: string, kind?: FieldKind) => ({ error: 'validation_failed', field, kind });

  const CASES: HttpCase[] = [
    msg('bad JSON', '{nope', 400, { error: 'invalid_json' }),
    msg('truncated JSON', '{"payload":{}', 400, { error: 'invalid_json' }),
    msg('an array body', '[1]', 422, v('message', 'wrong_type')),
    msg('a string body', '"hi"', 422, v('message', 'wrong_type')),
    msg('a number body', '42', 422, v('message', 'wrong_type')),
    msg('a null body', 'null', 422, v('message', 'wrong_type')),
    msg('no payload', '{}', 422, v('payload', 'required')),
    msg('payload null', '{"payload":null}', 422, v('payload', 'required')),
    msg('payload an array', '{"payload":[]}', 422, v('payload', 'wrong_type')),
    msg('to a number', '{"payload":{},"to":5}', 422, v('to', 'wrong_type')),
    msg('type an object', '{"payload":{},"type":{}}', 422, v('type', 'wrong_type')),
    msg('payload over 64 KiB', JSON.stringify({ payload: { x: big(KIB64) } }), 422, v('payload', 'too_long')),
    msg('a body 40 levels deep', `{"payload":${nest(40)}}`, 422, v('message', 'too_long')),
    msg('100,000 open brackets', '['.repeat(100_000), 422, v('message', 'too_long')),
    {
      name: 'ack seq "1"',
      method: 'POST',
      path: '/api/mailbox/fuzz/ack',
      body: { seq: '1' },
      status: 422,
      want: v('seq', 'wrong_type'),
    },
    {
      name: 'ack seq 1.5',
      method: 'POST',
      path: '/api/mailbox/fuzz/ack',
      body: { seq: 1.5 },
      status: 422,
      want: v('seq'),
    },
    {
      name: 'ack seq -1',
      method: 'POST',
      path: '/api/mailbox/fuzz/ack',
      body: { seq: -1 },
      status: 422,
      want: v('seq'),
    },
    {
      name: 'ack without seq',
      method: 'POST',
      path: '/api/mailbox/fuzz/ack',
      body: {},
      status: 422,
      want: v('seq', 'required'),
    },
    // non-integer query numbers (§9.13): 422, never 500
    ...[
      'limit=abc',
      'limit=1.5',
      'limit=-1',
      'limit=',
      'cursor=1.5',
      'cursor=abc',
      'cursor=1e3',
      'cursor=99999999999999999999',
      'start_time=-1',
      'end_time=abc',
    ].map(
      (q): HttpCase => ({
        name: `GET /api/messages?${q}`,
        method: 'GET',
        path: `/api/messages?${q}`,
        status: 422,
        want: v(q.split('=')[0]),
      }),
    ),
    ...['since=abc', 'since=1.5', 'limit=x'].map(
      (q): HttpCase => ({
        name: `GET /api/mailbox/fuzz?${q}`,
        method: 'GET',
        path: `/api/mailbox/fuzz?${q}`,
        status: 422,
        want: v(q.split('=')[0]),
      }),
    ),
    {
      name: 'a bad percent-encoded path segment',
      method: 'GET',
      path: '/api/agents/%E0%A4%A/state',
      status: 422,
      want: v('id'),
    },
    // unknown routes and methods
    ...(
      [
        ['GET', '/api/nothing'],
        ['GET', '/'],
        ['GET', '/ws'],
        ['GET', '/api/goals'],
        ['POST', '/api/goals'],
        ['GET', '/api/hub/state'],
        ['GET', '/api/room/messages'],
        ['POST', '/api/tasks/task-0000000000000000/classify'],
      ] as const
    ).map(
      ([method, path]): HttpCase => ({
        name: `${method} ${path}`,
        method,
        path,
        status: 404,
        want: { error: 'not_found' },
      }),
    ),
    // a known path with another method: 405 naming the methods it takes
    ...(
      [
        ['POST', '/api/agents', ['GET', 'HEAD']],
        ['DELETE', '/api/message', ['POST']],
        ['PATCH', '/api/message', ['POST']],
      ] as const
    ).map(
      ([method, path, allow]): HttpCase => ({
        name: `${method} ${path}`,
        method,
        path,
        status: 405,
        want: { error: 'method_not_allowed', allow: [...allow] },
      }),
    ),
  ];

  for (const c of CASES) {
    test(`HTTP ${c.name} → ${c.status}`, async () => {
      const r = await api(hub.url, c.method, c.path, { token, raw: c.raw, body: c.body });
      assert.equal(r.status, c.status, JSON.stringify(r.body));
      const want = c.want as { error: string; field?: string; kind?: FieldKind };
      if (want.field === undefined) {
        assert.deepEqual(r.body, c.want);
      } else {
        assert.equal(r.body.error, 'validation_failed');
        assert.ok(Array.isArray(r.body.errors) && r.body.errors.length >= 1);
        assert.equal(r.body.errors[0].field, want.field);
        if (want.kind) assert.equal(r.body.errors[0].error, want.kind);
      }
      assert.equal((await api(hub.url, 'GET', '/health')).body.status, 'ok');
      const ok = await api(hub.url, 'POST', '/api/message', { token, body: { to: 'nobody', payload: { ok: 1 } } });
      assert.equal(ok.body.status, 'sent', 'the hub still serves');
    });
  }

  test('admin-port bodies are checked the same way', async () => {
    const bad = await api(hub.adminUrl, 'PUT', '/admin/log-level', { token: ADMIN_TOKEN, raw: '{' });
    assert.deepEqual([bad.status, bad.body], [400, { error: 'invalid_json' }]);
    const id = await api(hub.adminUrl, 'POST', '/admin/tokens', { token: ADMIN_TOKEN, body: { agent_id: 'bad id' } });
    assert.deepEqual([id.status, id.body.error, id.body.errors[0].field], [422, 'validation_failed', 'agent_id']);
    const deep = await api(hub.adminUrl, 'PUT', '/api/config/alert-thresholds', {
      token: ADMIN_TOKEN,
      raw: `{"x":${nest(40)}}`,
    });
    assert.deepEqual([deep.status, deep.body.error], [422, 'validation_failed']);
  });

  test('a body over 8 MB is 413; the hub keeps serving', async () => {
    const r = await api(hub.url, 'POST', '/api/message', {
      token,
      raw: `{"payload":{"x":"${big(8 * 1024 * 1024)}"}}`,
    });
    assert.equal(r.status, 413);
    const ok = await api(hub.url, 'POST', '/api/message', { token, body: { to: 'nobody', payload: {} } });
    assert.equal(ok.body.status, 'sent');
  });

  test('a chunked body (no Content-Length) over 8 MB is 413 too', async () => {
    const chunk = new TextEncoder().encode(big(1024 * 1024));
    const stream = new ReadableStream<Uint8Array>({
      start(ctl) {
        ctl.enqueue(new TextEncoder().encode('{"payload":{"x":"'));
        for (let i = 0; i < 9; i++) ctl.enqueue(chunk);
        ctl.enqueue(new TextEncoder().encode('"}}'));
        ctl.close();
      },
    });
    const init = {
      method: 'POST',
      headers: { authorization: `Bearer ${token}` },
      body: stream,
      duplex: 'half',
    } as RequestInit;
    const r = await fetch(`${hub.url}/api/message`, init);
    assert.equal(r.status, 413);
  });
});
