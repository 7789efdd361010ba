import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { connectAgent } from './helpers/client.js';
import { api, startTestHub, type TestHub, tokenFor, whitelist } from './helpers/hub.js';
import { startLoggedHub } from './helpers/logged-hub.js';

describe('direct and broadcast messages', () => {
  let hub: TestHub;
  const tok: Record<string, string> = {};

  before(async () => {
    hub = await startTestHub();
    for (const id of ['alice', 'bob', 'carol']) tok[id] = await tokenFor(hub, id);
    await whitelist(hub, 'alice', 'bob', 'carol');
  });
  after(() => hub.stop());

  test('a direct message reaches an online recipient live and is acked with its id', async () => {
    const a = await connectAgent(hub.wsUrl, 'alice', tok.alice);
    const b = await connectAgent(hub.wsUrl, 'bob', tok.bob);
    const ack = await a.request({ type: 'message', to: 'bob', payload: { n: 1 } }, 'message_sent');
    const got = await b.next('message');
    assert.equal(got.id, ack.id);
    assert.equal(got.from, 'alice');
    assert.equal(got.message_type, 'chat');
    assert.deepEqual(got.payload, { n: 1 });
    assert.equal(got.seq, undefined, 'live frames carry no mailbox seq');
    a.close();
    b.close();
  });

  test('a message for an offline agent waits in its mailbox and is replayed after mailbox_since', async () => {
    const a = await connectAgent(hub.wsUrl, 'alice', tok.alice);
    const ids: string[] = [];
    for (let i = 0; i < 3; i++)
      ids.push((await a.request({ type: 'message', to: 'carol', payload: { i } }, 'message_sent')).id);
    const c = await connectAgent(hub.wsUrl, 'carol', tok.carol, { mailbox_since: 0 });
    const replayed = [await c.next('message'), await c.next('message'), await c.next('message')];
    assert.deepEqual(
      replayed.map((m) => m.id),
      ids,
    );
    assert.ok(replayed[0].seq < replayed[1].seq && replayed[1].seq < replayed[2].seq);
    const poll = await api(hub.url, 'GET', '/api/mailbox/carol?since=0', { token: tok.carol });
    assert.equal(poll.status, 200);
    assert.equal(poll.body.count, 3);
    await c.request({ type: 'mailbox_ack', seq: replayed[2].seq }, 'mailbox_acked');
    const after = await api(hub.url, 'GET', '/api/mailbox/carol', { token: tok.carol });
    assert.equal(after.body.count, 0);
    a.close();
    c.close();
  });

  test('a broadcast reaches every socket, sender too, and the history', async () => {
    const a = await connectAgent(hub.wsUrl, 'alice', tok.alice);
    const b = await connectAgent(hub.wsUrl, 'bob', tok.bob);
    const ack = await a.request({ type: 'message', payload: { hello: 'all' } }, 'message_sent');
    assert.equal((await a.next('message', (m) => m.id === ack.id)).from, 'alice');
    assert.equal((await b.next('message', (m) => m.id === ack.id)).from, 'alice');
    const hist = await api(hub.url, 'GET', `/api/messages?from=alice&token=${tok.bob}`);
    assert.ok(hist.body.messages.some((m: any) => m.id === ack.id && m.to === null));
    a.close();
    b.close();
  });
});

describe('mailbox cap (§9.12)', () => {
  test('a full mailbox drops its oldest entries, counts them, and logs the agent once (not once per message)', async () => {
    const hub = await startLoggedHub({ mailboxMax: 2 }, 'info');
    const a = await tokenFor(hub, 'a');
    const b = await tokenFor(hub, 'b');
    await whitelist(hub, 'a');
    const c = await connectAgent(hub.wsUrl, 'a', a);
    for (let i = 0; i < 5; i++) await c.request({ type: 'message', to: 'b', payload: { i } }, 'message_sent');
    const box = await api(hub.url, 'GET', '/api/mailbox/b', { token: b });
    assert.deepEqual(
      box.body.messages.map((m: { payload: { i: number } }) => m.payload.i),
      [3, 4],
    );
    assert.equal(hub.counters.mailboxDropped, 3);
    const lines = hub.lines.filter((l) => l.msg === 'mailbox full: oldest entries dropped');
    assert.equal(lines.length, 1);
    assert.deepEqual([lines[0].agent_id, lines[0].mailbox_max, lines[0].level], ['b', 2, 40]);
    c.close();
    await hub.stop();
  });
});
