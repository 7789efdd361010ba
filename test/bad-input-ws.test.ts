import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { big, type FieldKind, KIB64, nest, stillServes } from './helpers/bad-input.js';
import { connectAgent, TestClient } from './helpers/client.js';
import { startFuzzHub, type TestHub, tokenFor } from './helpers/hub.js';

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

/** Frames of one feature (tasks, channels) are tabled in that feature's suite; these are the common ones. */
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
    name: 'mailbox_ack without seq',
    frame: obj({ type: 'mailbox_ack' }),
    expect: vf('mailbox_ack', 'seq', 'required'),
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
    name: 'a seq past 2^53 (it could not be told from its neighbours)',
    frame: '{"type":"mailbox_ack","seq":1e308}',
    expect: vf('mailbox_ack', 'seq', 'wrong_type'),
  },
  {
    name: 'a payload with a __proto__ key (the store could not give it back as sent)',
    frame: '{"type":"message","to":"nobody","payload":{"a":1,"b":{"__proto__":{"x":1}}}}',
    expect: vf('message', 'message', 'wrong_type'),
  },
  {
    name: 'the same key written with escapes',
    frame: '{"type":"message","to":"nobody","payload":{"\\u005f_proto__":1}}',
    expect: vf('message', 'message', 'wrong_type'),
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
describe('malformed WebSocket frames: each refused with its error, the socket stays usable', () => {
  let hub: TestHub;
  let token: string;

  before(async () => {
    ({ hub, token } = await startFuzzHub());
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

  test('a binary frame whose JSON holds bytes that are not UTF-8 is invalid_json, never stored with replacement characters', async () => {
    const c = await connectAgent(hub.wsUrl, 'fuzz', token);
    const got = c.next('error');
    const frame = Buffer.concat([
      Buffer.from('{"type":"status","status":"'),
      Buffer.from([0xc3, 0x28]),
      Buffer.from('"}'),
    ]);
    c.sendRaw(frame);
    assert.deepEqual(await got, { type: 'error', error: 'invalid_json' });
    assert.equal(c.frames.filter((f) => f.type === 'status_updated').length, 0);
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
