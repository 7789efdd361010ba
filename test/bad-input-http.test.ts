import assert from 'node:assert/strict';
import { connect, type Socket } from 'node:net';
import { after, before, describe, test } from 'node:test';
import { big, type FieldKind, KIB64, nest } from './helpers/bad-input.js';
import { until } from './helpers/client.js';
import { ADMIN_TOKEN, api, startTestHub, type TestHub, tokenFor, whitelist } from './helpers/hub.js';
import { type LoggedHub, startLoggedHub } from './helpers/logged-hub.js';
import { rawExchange } from './helpers/raw-http.js';

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
    msg('a payload with a __proto__ key', '{"payload":{"__proto__":{"x":1}}}', 422, v('message', 'wrong_type')),
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
    // a path parameter is bounded: an oversize one would reach lmdb as a key over its limit (a 500)
    ...[
      '/api/threads/:p',
      '/api/threads/:p/replies',
      '/api/threads/:p/root',
      '/api/tasks/:p',
      '/api/agents/:p/state',
    ].map(
      (route): HttpCase => ({
        name: `GET ${route} with a 3,000-character parameter`,
        method: 'GET',
        path: route.replace(':p', 'a'.repeat(3000)),
        status: 422,
        want: v('id', 'too_long'),
      }),
    ),
    // a page cursor is a key of the list it came from: any other JSON is 422, never a 500 or an internal record
    ...[
      '/api/tasks?cursor=eyJhIjoxfQ',
      '/api/tasks?cursor=W10',
      '/api/tasks?cursor=bnVsbA',
      '/api/tasks?cursor=not-json',
      '/api/tasks?status=queued&cursor=W10',
      '/api/tasks?status=queued&cursor=eyJhIjoxfQ',
      '/api/tasks/dead-letter?cursor=eyJhIjoxfQ',
      '/api/channels?cursor=eyJhIjoxfQ',
      '/api/channels?cursor=bnVsbA',
    ].map(
      (path): HttpCase => ({ name: `GET ${path}`, method: 'GET', path, status: 422, want: v('cursor', 'wrong_type') }),
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

  test('a cursor of the right shape pages on; one of another list is refused', async () => {
    for (const name of ['pa', 'pb']) await api(hub.url, 'POST', '/api/channels', { token, body: { name } });
    const first = await api(hub.url, 'GET', '/api/channels?limit=1');
    assert.equal(first.body.channels.length, 1);
    const next = await api(hub.url, 'GET', `/api/channels?limit=1&cursor=${first.body.cursor}`);
    assert.equal(next.status, 200);
    assert.notEqual(next.body.channels[0].name, first.body.channels[0].name, 'the next page, not the first again');
    const tokens = await api(hub.adminUrl, 'GET', '/admin/tokens?limit=1', { token: ADMIN_TOKEN });
    const foreign = await api(hub.url, 'GET', `/api/channels?cursor=${tokens.body.cursor}`);
    assert.deepEqual(
      [foreign.status, foreign.body.errors[0].field],
      [422, 'cursor'],
      'a tokens cursor is not a channel key',
    );
    // a list's keys have one shape: a tuple where the task ids are strings, a string where the queue has tuples
    await api(hub.url, 'POST', '/api/tasks', { token, body: { description: 'cursor shapes' } });
    for (const path of ['/api/tasks?cursor=WyJ4Il0', '/api/tasks?status=queued&cursor=Ingi']) {
      const r = await api(hub.url, 'GET', path, { token });
      assert.deepEqual([r.status, r.body.errors?.[0].field], [422, 'cursor'], path);
    }
    const admin = await api(hub.adminUrl, 'GET', '/admin/tokens?cursor=W10', { token: ADMIN_TOKEN });
    assert.deepEqual([admin.status, admin.body.errors[0].field], [422, 'cursor']);
  });

  test('admin routes check :agent_id by the agent-id rule (1–64 of [A-Za-z0-9._-]): 422, never a 500 or a write', async () => {
    const routes: Array<[string, string, unknown?]> = [
      ['DELETE', '/admin/tokens/:a'],
      ['POST', '/admin/agents/:a/reset-token'],
      ['POST', '/admin/agents/:a/restart', {}],
      ['POST', '/admin/agents/:a/disconnect'],
      ['PUT', '/admin/rate-limits/:a', { message: { capacity: 1, per_min: 1 } }],
      ['DELETE', '/admin/rate-limits/:a'],
      ['DELETE', '/admin/rate-limits/whitelist/:a'],
    ];
    for (const [method, route, body] of routes) {
      for (const [id, kind] of [
        ['a'.repeat(3000), 'too_long'],
        ['a'.repeat(1000), 'too_long'],
        ['a'.repeat(65), 'too_long'],
        ['bad%20id', 'wrong_type'],
      ]) {
        const r = await api(hub.adminUrl, method, route.replace(':a', id), { token: ADMIN_TOKEN, body });
        const what = `${method} ${route} with ${id.slice(0, 12)}… (${id.length})`;
        assert.equal(r.status, 422, `${what}: ${JSON.stringify(r.body)}`);
        assert.deepEqual(
          [r.body.error, r.body.errors[0].field, r.body.errors[0].error],
          ['validation_failed', 'agent_id', kind],
          what,
        );
      }
    }
    const limits = await api(hub.adminUrl, 'GET', '/admin/rate-limits', { token: ADMIN_TOKEN });
    assert.ok(
      !JSON.stringify(limits.body).includes('aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa'),
      'no override stored',
    );
    const ok = await api(hub.adminUrl, 'PUT', `/admin/rate-limits/${'a'.repeat(64)}`, {
      token: ADMIN_TOKEN,
      body: { message: { capacity: 1, per_min: 1 } },
    });
    assert.equal(ok.status, 200, 'a 64-character agent id is one');
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

/** The status and JSON body of a raw answer. */
function parsed(text: string): { status: number; body: unknown } {
  const [head, body] = text.split('\r\n\r\n');
  return { status: Number(head.split(' ')[1]), body: body ? JSON.parse(body) : null };
}

/** Lines at error level or above written since line `from`: what an operator is paged for. */
const errorsSince = (hub: LoggedHub, from: number) => hub.lines.slice(from).filter((l) => (l.level as number) >= 50);

describe('malformed HTTP and clients that go away: the JSON error shape, nothing logged as an error', () => {
  let hub: LoggedHub;
  let token: string;

  before(async () => {
    hub = await startLoggedHub({}, 'debug');
    token = await tokenFor(hub, 'fuzz');
  });
  after(() => hub.stop());

  for (const target of ['//[', 'http://[', 'http://hub:99999/health']) {
    test(`a request target no URL parser takes (${target}) is 400 bad_request on both ports`, async () => {
      const from = hub.lines.length;
      for (const port of [hub.port, hub.adminPort]) {
        const text = await rawExchange(port, `GET ${target} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n`);
        assert.deepEqual(parsed(text), { status: 400, body: { error: 'bad_request' } }, text);
      }
      assert.deepEqual(errorsSince(hub, from), []);
    });
  }

  /** The head of a request the port's handler reads a body for, so the parser, not a route, meets what follows. */
  const bodyRoute = (port: number) =>
    port === hub.port
      ? `POST /api/message HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${token}\r\n`
      : `PUT /admin/log-level HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${ADMIN_TOKEN}\r\n`;

  const framing: Array<[string, (head: string) => string, number, string]> = [
    ['a bad Content-Length', (h) => `${h}Content-Length: abc\r\n\r\n`, 400, 'bad_request'],
    [
      'Content-Length with Transfer-Encoding',
      (h) => `${h}Content-Length: 2\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n`,
      400,
      'bad_request',
    ],
    ['a bad chunk size', (h) => `${h}Transfer-Encoding: chunked\r\n\r\nzz\r\n`, 400, 'bad_request'],
    ['a garbage request line', () => 'NOT HTTP AT ALL\r\n\r\n', 400, 'bad_request'],
    ['a header without a colon', (h) => `${h}no colon here\r\n\r\n`, 400, 'bad_request'],
    ['headers over 16 KiB', (h) => `${h}X-Big: ${'a'.repeat(20_000)}\r\n\r\n`, 431, 'headers_too_large'],
    ['a 100 KB URL', () => `GET /health?${'a'.repeat(100_000)} HTTP/1.1\r\nHost: x\r\n\r\n`, 431, 'headers_too_large'],
  ];
  for (const [name, request, status, error] of framing) {
    test(`${name}: ${status} ${error} as JSON, then the connection closes (both ports)`, async () => {
      const from = hub.lines.length;
      for (const port of [hub.port, hub.adminPort]) {
        const text = await rawExchange(port, request(bodyRoute(port)));
        assert.deepEqual(parsed(text), { status, body: { error } }, text);
        assert.match(text, /connection: close/i);
      }
      assert.deepEqual(errorsSince(hub, from), []);
      assert.equal((await api(hub.url, 'GET', '/health')).body.status, 'ok');
    });
  }

  /** A POST whose body stops halfway, once the handler reads it (after `100 Continue`); then `end` closes the socket. */
  async function abortedUpload(end: (s: Socket) => void): Promise<void> {
    const sock = connect(hub.port, '127.0.0.1');
    sock.on('error', () => {});
    await new Promise((r) => sock.once('connect', r));
    sock.write(
      `${bodyRoute(hub.port)}Content-Type: application/json\r\nContent-Length: 100\r\nExpect: 100-continue\r\n\r\n`,
    );
    await new Promise((r) => sock.once('data', r));
    sock.write('{"payload":');
    end(sock);
  }

  for (const [how, end] of [
    ['FIN', (s: Socket) => s.end()],
    ['RST', (s: Socket) => s.resetAndDestroy()],
  ] as const) {
    test(`a client that goes away mid-upload (${how}) is a debug line, not an error`, async () => {
      const from = hub.lines.length;
      await abortedUpload(end);
      await until(
        () => hub.lines.slice(from).some((l) => l.msg === 'http client went away mid-request'),
        'the debug line for the aborted upload',
      );
      assert.deepEqual(errorsSince(hub, from), []);
      const ok = await api(hub.url, 'POST', '/api/message', { token, body: { to: 'nobody', payload: {} } });
      assert.equal(ok.body.status, 'sent', 'the hub still serves');
    });
  }
});
