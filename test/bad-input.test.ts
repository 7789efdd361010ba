import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { connectAgent, sleep, TestClient } from './helpers/client.js';
import { ADMIN_TOKEN, api, startFuzzHub, startTestHub, type TestHub, tokenFor, whitelist } from './helpers/hub.js';

/** The 19 original client types (PROTOCOL.md §2.1) plus this hub's additions (§9.9, §9.21). */
const KNOWN_TYPES = [
  'identify',
  'message',
  'status',
  'list_agents',
  'list_channels',
  'ping',
  'channel_subscribe',
  'channel_unsubscribe',
  'channel_publish',
  'channel_history',
  'task_accepted',
  'task_progress',
  'task_complete',
  'task_failed',
  'task_recovering',
  'state_report',
  'wake_result',
  'resource_report',
  'ollama_report',
  'task_rejected',
  'agent_restarting',
  'mailbox_ack',
];

/** n nested objects: nest(0) = 1, nest(2) = {"a":{"a":1}}. A frame `{…,"payload":nest(n)}` is n + 1 levels deep. */
const nest = (n: number): string => (n === 0 ? '1' : `{"a":${nest(n - 1)}}`);
const big = (bytes: number) => 'y'.repeat(bytes);
const KIB64 = 64 * 1024;

type FieldKind = 'required' | 'wrong_type' | 'too_long' | 'unknown_message_type';
interface WsCase {
  name: string;
  /** an object is sent as JSON; a string as is */
  frame: string | ((token: string) => object);
  /** invalid_json, or validation_failed with message_type / errors[0] */
  expect: { error: 'invalid_json' } | { error: 'validation_failed'; type: string; field: string; kind: FieldKind };
}

const vf = (type: string, field: string, kind: FieldKind) =>
  ({ error: 'validation_failed', type, field, kind }) as const;
const obj = (o: object) => () => o;

const WS_CASES: WsCase[] = [
  // not JSON
  { name: 'malformed JSON', frame: '{"type":', expect: { error: 'invalid_json' } },
  { name: 'trailing garbage', frame: '{"type":"ping"} x', expect: { error: 'invalid_json' } },
  { name: 'an empty frame', frame: '', expect: { error: 'invalid_json' } },
  // JSON but not an object
  { name: 'an array', frame: '[{"type":"ping"}]', expect: vf('unknown', 'message', 'wrong_type') },
  { name: 'a number', frame: '42', expect: vf('unknown', 'message', 'wrong_type') },
  { name: 'a string', frame: '"ping"', expect: vf('unknown', 'message', 'wrong_type') },
  { name: 'null', frame: 'null', expect: vf('unknown', 'message', 'wrong_type') },
  { name: 'a boolean', frame: 'true', expect: vf('unknown', 'message', 'wrong_type') },
  // type
  { name: 'no type', frame: '{"to":"x"}', expect: vf('unknown', 'type', 'required') },
  { name: 'type null', frame: '{"type":null}', expect: vf('unknown', 'type', 'required') },
  { name: 'a numeric type', frame: '{"type":5}', expect: vf('unknown', 'type', 'wrong_type') },
  { name: 'an array type', frame: '{"type":["ping"]}', expect: vf('unknown', 'type', 'wrong_type') },
  { name: 'an object type', frame: '{"type":{}}', expect: vf('unknown', 'type', 'wrong_type') },
  { name: 'an unknown type', frame: '{"type":"teleport"}', expect: vf('unknown', 'type', 'unknown_message_type') },
  { name: 'a type in the wrong case', frame: '{"type":"PING"}', expect: vf('unknown', 'type', 'unknown_message_type') },
  { name: 'type __proto__', frame: '{"type":"__proto__"}', expect: vf('unknown', 'type', 'unknown_message_type') },
  { name: 'type constructor', frame: '{"type":"constructor"}', expect: vf('unknown', 'type', 'unknown_message_type') },
  { name: 'type toString', frame: '{"type":"toString"}', expect: vf('unknown', 'type', 'unknown_message_type') },
  // missing required fields (null = absent)
  {
    name: 'message without payload',
    frame: obj({ type: 'message', to: 'b' }),
    expect: vf('message', 'payload', 'required'),
  },
  {
    name: 'message with payload null',
    frame: obj({ type: 'message', payload: null }),
    expect: vf('message', 'payload', 'required'),
  },
  { name: 'status without status', frame: obj({ type: 'status' }), expect: vf('status', 'status', 'required') },
  {
    name: 'subscribe without channel',
    frame: obj({ type: 'channel_subscribe' }),
    expect: vf('channel_subscribe', 'channel', 'required'),
  },
  {
    name: 'publish without payload',
    frame: obj({ type: 'channel_publish', channel: 'general' }),
    expect: vf('channel_publish', 'payload', 'required'),
  },
  {
    name: 'mailbox_ack without seq',
    frame: obj({ type: 'mailbox_ack' }),
    expect: vf('mailbox_ack', 'seq', 'required'),
  },
  {
    name: 'task_complete without generation',
    frame: obj({ type: 'task_complete', task_id: 'task-1' }),
    expect: vf('task_complete', 'generation', 'required'),
  },
  {
    name: 'task_failed without task_id',
    frame: obj({ type: 'task_failed', generation: 1 }),
    expect: vf('task_failed', 'task_id', 'required'),
  },
  {
    name: 'ollama_report without url',
    frame: obj({ type: 'ollama_report' }),
    expect: vf('ollama_report', 'ollama_url', 'required'),
  },
  {
    name: 'identify without token',
    frame: obj({ type: 'identify', agent_id: 'fuzz' }),
    expect: vf('identify', 'token', 'required'),
  },
  {
    name: 'identify with an empty token',
    frame: obj({ type: 'identify', agent_id: 'fuzz', token: '' }),
    expect: vf('identify', 'token', 'required'),
  },
  // wrong types, no coercion
  {
    name: 'seq "5" for an int',
    frame: obj({ type: 'mailbox_ack', seq: '5' }),
    expect: vf('mailbox_ack', 'seq', 'wrong_type'),
  },
  {
    name: 'generation "1" for an int',
    frame: obj({ type: 'task_complete', task_id: 't', generation: '1' }),
    expect: vf('task_complete', 'generation', 'wrong_type'),
  },
  {
    name: 'generation 1.5 for an int',
    frame: obj({ type: 'task_complete', task_id: 't', generation: 1.5 }),
    expect: vf('task_complete', 'generation', 'wrong_type'),
  },
  {
    name: 'history limit "10"',
    frame: obj({ type: 'channel_history', channel: 'general', limit: '10' }),
    expect: vf('channel_history', 'limit', 'wrong_type'),
  },
  { name: 'status a number', frame: obj({ type: 'status', status: 5 }), expect: vf('status', 'status', 'wrong_type') },
  {
    name: 'status a boolean',
    frame: obj({ type: 'status', status: true }),
    expect: vf('status', 'status', 'wrong_type'),
  },
  {
    name: 'payload a string',
    frame: obj({ type: 'message', payload: 'hello' }),
    expect: vf('message', 'payload', 'wrong_type'),
  },
  {
    name: 'payload an array',
    frame: obj({ type: 'message', payload: [] }),
    expect: vf('message', 'payload', 'wrong_type'),
  },
  {
    name: 'to a number',
    frame: obj({ type: 'message', payload: {}, to: 7 }),
    expect: vf('message', 'to', 'wrong_type'),
  },
  {
    name: 'reply_to an object',
    frame: obj({ type: 'message', payload: {}, reply_to: {} }),
    expect: vf('message', 'reply_to', 'wrong_type'),
  },
  {
    name: 'capabilities a string',
    frame: (t) => ({ type: 'identify', agent_id: 'fuzz', token: t, capabilities: 'code' }),
    expect: vf('identify', 'capabilities', 'wrong_type'),
  },
  {
    name: 'presence_events "yes"',
    frame: (t) => ({ type: 'identify', agent_id: 'fuzz', token: t, presence_events: 'yes' }),
    expect: vf('identify', 'presence_events', 'wrong_type'),
  },
  {
    name: 'an agent_id outside [A-Za-z0-9._-]',
    frame: (t) => ({ type: 'identify', agent_id: 'has space', token: t }),
    expect: vf('identify', 'agent_id', 'wrong_type'),
  },
  {
    name: 'cpu_percent "90"',
    frame: obj({ type: 'resource_report', cpu_percent: '90' }),
    expect: vf('resource_report', 'cpu_percent', 'wrong_type'),
  },
  {
    name: 'execution_event an array',
    frame: obj({ type: 'task_progress', task_id: 't', execution_event: [] }),
    expect: vf('task_progress', 'execution_event', 'wrong_type'),
  },
  {
    name: 'a bad list item is reported as name[i]',
    frame: (t) => ({ type: 'identify', agent_id: 'fuzz', token: t, capabilities: ['a', 'b', 'c', 5] }),
    expect: vf('identify', 'capabilities[3]', 'wrong_type'),
  },
  // limits (§9.2)
  {
    name: 'agent_id of 65 chars',
    frame: (t) => ({ type: 'identify', agent_id: 'a'.repeat(65), token: t }),
    expect: vf('identify', 'agent_id', 'too_long'),
  },
  {
    name: 'status of 257 chars',
    frame: obj({ type: 'status', status: 's'.repeat(257) }),
    expect: vf('status', 'status', 'too_long'),
  },
  {
    name: 'name of 129 chars',
    frame: (t) => ({ type: 'identify', agent_id: 'fuzz', token: t, name: 'n'.repeat(129) }),
    expect: vf('identify', 'name', 'too_long'),
  },
  {
    name: 'payload over 64 KiB',
    frame: obj({ type: 'message', to: 'nobody', payload: { x: big(KIB64) } }),
    expect: vf('message', 'payload', 'too_long'),
  },
  {
    name: 'payload of ~1,000,000 bytes in a frame under 1 MiB',
    frame: obj({ type: 'message', to: 'nobody', payload: { x: big(1_000_000) } }),
    expect: vf('message', 'payload', 'too_long'),
  },
  {
    name: 'publish payload over 64 KiB',
    frame: obj({ type: 'channel_publish', channel: 'general', payload: { x: big(KIB64) } }),
    expect: vf('channel_publish', 'payload', 'too_long'),
  },
  {
    name: '21 capabilities',
    frame: (t) => ({
      type: 'identify',
      agent_id: 'fuzz',
      token: t,
      capabilities: Array.from({ length: 21 }, (_, i) => `c${i}`),
    }),
    expect: vf('identify', 'capabilities', 'too_long'),
  },
  {
    name: 'a capability of 65 chars',
    frame: (t) => ({ type: 'identify', agent_id: 'fuzz', token: t, capabilities: ['ok', 'c'.repeat(65)] }),
    expect: vf('identify', 'capabilities[1]', 'too_long'),
  },
  {
    name: 'a channel of 65 chars',
    frame: obj({ type: 'channel_subscribe', channel: 'c'.repeat(65) }),
    expect: vf('channel_subscribe', 'channel', 'too_long'),
  },
  {
    name: 'an error text of 2001 chars',
    frame: obj({ type: 'task_failed', task_id: 't', generation: 1, error: 'e'.repeat(2001) }),
    expect: vf('task_failed', 'error', 'too_long'),
  },
  // nesting (§9.19)
  {
    name: 'a frame 33 levels deep',
    frame: `{"type":"message","to":"nobody","payload":${nest(32)}}`,
    expect: vf('unknown', 'message', 'too_long'),
  },
  {
    name: 'deep nesting in an ignored field',
    frame: `{"type":"ping","extra":${'['.repeat(40)}${']'.repeat(40)}}`,
    expect: vf('unknown', 'message', 'too_long'),
  },
  {
    name: 'deep nesting inside a large frame',
    frame: `{"type":"message","to":"nobody","payload":{"pad":"${big(20_000)}","x":${'['.repeat(40)}${']'.repeat(40)}}}`,
    expect: vf('unknown', 'message', 'too_long'),
  },
  {
    name: '200,000 open brackets',
    frame: '['.repeat(200_000),
    expect: vf('unknown', 'message', 'too_long'),
  },
  {
    name: '100,000 nested objects, closed',
    frame: `${'{"a":'.repeat(100_000)}1${'}'.repeat(100_000)}`,
    expect: vf('unknown', 'message', 'too_long'),
  },
];

/** Input at the edge of a limit, or with null/unknown fields, that must be accepted. */
const WS_ACCEPTED: Array<{ name: string; frame: string | ((token: string) => object); reply: string }> = [
  {
    name: 'status of exactly 256 chars',
    frame: obj({ type: 'status', status: 's'.repeat(256) }),
    reply: 'status_updated',
  },
  {
    name: 'payload of exactly 64 KiB as JSON',
    frame: obj({ type: 'message', to: 'nobody', payload: { x: big(KIB64 - '{"x":""}'.length) } }),
    reply: 'message_sent',
  },
  {
    name: 'a frame exactly 32 levels deep',
    frame: `{"type":"message","to":"nobody","payload":${nest(31)}}`,
    reply: 'message_sent',
  },
  {
    name: '20 capabilities of 64 chars and a name of 128',
    frame: (t) => ({
      type: 'identify',
      agent_id: 'fuzz',
      token: t,
      name: 'n'.repeat(128),
      capabilities: Array.from({ length: 20 }, (_, i) => `${i}`.padEnd(64, 'c')),
    }),
    reply: 'identified',
  },
  { name: 'unknown fields are ignored', frame: obj({ type: 'ping', foo: 1, bar: { baz: [1] } }), reply: 'pong' },
  {
    name: 'null optional fields mean absent',
    frame: obj({ type: 'message', to: null, message_type: null, reply_to: null, payload: {} }),
    reply: 'message_sent',
  },
  { name: 'a binary frame holding JSON is read as text', frame: 'BINARY:{"type":"ping"}', reply: 'pong' },
];

function sendCase(c: TestClient, frame: string | ((token: string) => object), token: string): void {
  if (typeof frame === 'function') c.send(frame(token));
  else if (frame.startsWith('BINARY:')) c.sendRaw(Buffer.from(frame.slice('BINARY:'.length)));
  else c.sendRaw(frame);
}

async function stillServes(c: TestClient): Promise<void> {
  const pong = await c.request({ type: 'ping' }, 'pong');
  assert.ok(pong.timestamp > 0, 'the same socket still answers ping');
  assert.equal(c.closed, null, 'the socket stays open');
}

describe('malformed WebSocket frames: each refused with its error, the socket stays usable', () => {
  let hub: TestHub;
  let token: string;

  before(async () => {
    ({ hub, token } = await startFuzzHub());
    await api(hub.url, 'POST', '/api/channels', { token, body: { name: 'general' } });
  });
  after(() => hub.stop());

  for (const { name, frame, expect } of WS_CASES) {
    test(`WS ${name} → ${expect.error}${'field' in expect ? ` ${expect.field} ${expect.kind}` : ''}`, async () => {
      const c = await connectAgent(hub.wsUrl, 'fuzz', token);
      try {
        const got = c.next('error');
        sendCase(c, frame, token);
        const e = await got;
        if (expect.error === 'invalid_json') {
          assert.deepEqual(e, { type: 'error', error: 'invalid_json' });
        } else {
          assert.equal(e.error, 'validation_failed');
          assert.equal(e.message_type, expect.type);
          assert.ok(Array.isArray(e.errors) && e.errors.length >= 1);
          assert.equal(e.errors[0].field, expect.field);
          assert.equal(e.errors[0].error, expect.kind);
          assert.equal(typeof e.errors[0].detail, 'string');
          if (expect.kind === 'unknown_message_type') {
            for (const t of KNOWN_TYPES) assert.ok(e.errors[0].known_types.includes(t), `known_types has ${t}`);
          }
        }
        await stillServes(c);
      } finally {
        c.close();
      }
    });
  }

  test('a wrong_type error carries the offending short value', async () => {
    const c = await connectAgent(hub.wsUrl, 'fuzz', token);
    const e = await c.request({ type: 'mailbox_ack', seq: '5' }, 'error');
    assert.equal(e.errors[0].value, '5');
    c.close();
  });

  for (const { name, frame, reply } of WS_ACCEPTED) {
    test(`WS accepted: ${name} → ${reply}`, async () => {
      const c = await connectAgent(hub.wsUrl, 'fuzz', token);
      try {
        const got = c.next(reply);
        sendCase(c, frame, token);
        await got;
        assert.ok(!c.frames.some((f) => f.type === 'error'), JSON.stringify(c.frames.find((f) => f.type === 'error')));
        await stillServes(c);
      } finally {
        c.close();
      }
    });
  }

  test('a binary frame that is not UTF-8 JSON is invalid_json; the socket stays usable', async () => {
    const c = await connectAgent(hub.wsUrl, 'fuzz', token);
    const got = c.next('error');
    c.sendRaw(Buffer.from([0xff, 0xfe, 0x00, 0x80, 0x7b]));
    assert.deepEqual(await got, { type: 'error', error: 'invalid_json' });
    await stillServes(c);
    c.close();
  });

  test('a frame over 1 MiB closes the socket with 1009; the hub keeps serving others', async () => {
    const bystander = await connectAgent(hub.wsUrl, 'bystander', await tokenFor(hub, 'bystander'));
    const c = await connectAgent(hub.wsUrl, 'fuzz', token);
    c.sendRaw(JSON.stringify({ type: 'message', to: 'nobody', payload: { x: big(1024 * 1024) } }));
    assert.equal((await c.waitClose()).code, 1009);
    await stillServes(bystander);
    const again = await connectAgent(hub.wsUrl, 'fuzz', token);
    await stillServes(again);
    again.close();
    bystander.close();
  });

  test('a WebSocket upgrade on a path other than /ws is refused with 404', async () => {
    await assert.rejects(TestClient.open(hub.wsUrl.replace(/\/ws$/, '/wss')), /404/);
  });
});

/** Opens a socket and identifies; resolves with whether it was identified or closed. */
async function tryIdentify(url: string, agent: string, token: string): Promise<{ c: TestClient; identified: boolean }> {
  const c = await TestClient.open(url);
  c.send({ type: 'identify', agent_id: agent, token });
  const deadline = Date.now() + 5000;
  for (;;) {
    if (c.frames.some((f) => f.type === 'identified')) return { c, identified: true };
    if (c.closed) return { c, identified: false };
    if (Date.now() > deadline) throw new Error('identify: neither identified nor closed');
    await sleep(10);
  }
}

describe('the violation policy: the 10th failure within the window closes with 1008', () => {
  test('a burst of 12 invalid frames is one close and one step of the ladder: the first back-off (30 s), not 300 s', async () => {
    const hub = await startTestHub();
    try {
      const t = await tokenFor(hub, 'burst');
      await whitelist(hub, 'burst');
      const c = await connectAgent(hub.wsUrl, 'burst', t);
      for (let i = 0; i < 12; i++) c.sendRaw('nope');
      assert.equal((await c.waitClose()).code, 1008);
      const refused = await tryIdentify(hub.wsUrl, 'burst', t);
      assert.equal(refused.identified, false);
      const reason = (await refused.c.waitClose()).reason;
      assert.match(reason, /^identify refused for (29|30) s/, 'frames behind the close were not punished again');
    } finally {
      await hub.stop();
    }
  });

  test('an identified agent is closed on the 10th and refused at identify during its back-off, which escalates', async () => {
    const hub = await startTestHub({ backoffMs: [1000, 60_000] });
    try {
      const t = await tokenFor(hub, 'noisy');
      const quiet = await tokenFor(hub, 'quiet');
      await whitelist(hub, 'noisy', 'quiet');
      const bad = ['nope', '{"type":"teleport"}', '{"type":"status","status":5}', '{"type":"mailbox_ack"}', '[1]'];
      const offend = async (c: TestClient, n: number) => {
        for (let i = 0; i < n; i++) {
          const e = c.next('error');
          c.sendRaw(bad[i % bad.length]);
          await e;
        }
      };

      const c = await connectAgent(hub.wsUrl, 'noisy', t);
      await offend(c, 9);
      await stillServes(c);
      c.sendRaw('nope');
      assert.deepEqual(await c.waitClose(), { code: 1008, reason: 'too many validation errors' });

      const refused = await tryIdentify(hub.wsUrl, 'noisy', t);
      assert.equal(refused.identified, false, 'identify refused during the back-off');
      assert.equal(refused.c.closed?.code, 1008);

      const other = await connectAgent(hub.wsUrl, 'quiet', quiet);
      await stillServes(other);

      // the first back-off ends: identify works again
      let back: TestClient | null = null;
      const deadline = Date.now() + 10_000;
      while (!back && Date.now() < deadline) {
        await sleep(200);
        const attempt = await tryIdentify(hub.wsUrl, 'noisy', t);
        if (attempt.identified) back = attempt.c;
      }
      assert.ok(back, 'identify works once the back-off is over');

      // a second offence escalates to the next step (60 s): still refused after the first step's length
      await offend(back, 9);
      back.sendRaw('nope');
      assert.equal((await back.waitClose()).code, 1008);
      await sleep(1200);
      const later = await tryIdentify(hub.wsUrl, 'noisy', t);
      assert.equal(later.identified, false, 'the back-off escalated');
      assert.equal(later.c.closed?.code, 1008);
      other.close();
    } finally {
      await hub.stop();
    }
  });

  test('an unidentified socket is closed on the 10th failure; no agent is blocked', async () => {
    const hub = await startTestHub();
    try {
      const t = await tokenFor(hub, 'anon');
      const c = await TestClient.open(hub.wsUrl);
      for (let i = 0; i < 9; i++) {
        const e = c.next('error');
        c.sendRaw('{bad');
        assert.equal((await e).error, 'invalid_json');
      }
      c.sendRaw('{bad');
      assert.deepEqual(await c.waitClose(), { code: 1008, reason: 'too many validation errors' });
      (await connectAgent(hub.wsUrl, 'anon', t)).close();
    } finally {
      await hub.stop();
    }
  });

  test('failures older than the window do not count', async () => {
    const hub = await startTestHub({ violationWindowMs: 200 });
    try {
      const t = await tokenFor(hub, 'slow');
      await whitelist(hub, 'slow');
      const c = await connectAgent(hub.wsUrl, 'slow', t);
      for (const _round of [1, 2]) {
        for (let i = 0; i < 9; i++) {
          const e = c.next('error');
          c.sendRaw('nope');
          await e;
        }
        await sleep(300);
      }
      await stillServes(c);
      c.close();
    } finally {
      await hub.stop();
    }
  });

  test('rate-limit refusals count toward the same 10', async () => {
    const hub = await startTestHub({ backoffMs: [1000] });
    try {
      const t = await tokenFor(hub, 'spammer');
      await api(hub.adminUrl, 'PUT', '/admin/rate-limits/spammer', {
        token: ADMIN_TOKEN,
        body: { message: { capacity: 1, per_min: 1 } },
      });
      const c = await connectAgent(hub.wsUrl, 'spammer', t);
      await c.request({ type: 'message', to: 'nobody', payload: {} }, 'message_sent');
      for (let i = 0; i < 9; i++) {
        const e = await c.request({ type: 'message', to: 'nobody', payload: {} }, 'error');
        assert.deepEqual([e.error, e.action], ['rate_limited', 'message']);
      }
      await stillServes(c);
      c.send({ type: 'message', to: 'nobody', payload: {} });
      assert.equal((await c.waitClose()).code, 1008);
    } finally {
      await hub.stop();
    }
  });
});

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
    await api(hub.url, 'POST', '/api/channels', { token, body: { name: 'general' } });
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
      name: 'task without description',
      method: 'POST',
      path: '/api/tasks',
      body: {},
      status: 422,
      want: v('description', 'required'),
    },
    {
      name: 'task description a number',
      method: 'POST',
      path: '/api/tasks',
      body: { description: 5 },
      status: 422,
      want: v('description', 'wrong_type'),
    },
    {
      name: 'task bad JSON',
      method: 'POST',
      path: '/api/tasks',
      raw: '{"description":',
      status: 400,
      want: { error: 'invalid_json' },
    },
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
    {
      name: 'channel name a number',
      method: 'POST',
      path: '/api/channels',
      body: { name: 5 },
      status: 422,
      want: v('name', 'wrong_type'),
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
    ...['limit=abc', 'since=0.5'].map(
      (q): HttpCase => ({
        name: `GET /api/channels/general/history?${q}`,
        method: 'GET',
        path: `/api/channels/general/history?${q}`,
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
