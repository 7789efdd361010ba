import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { type AgentComClient, AgentComError, connect } from '../client/src/index.js';
import { ADMIN_TOKEN, api, startTestHub, type TestHub, tokenFor } from './helpers/hub.js';
import { agent, assertTappedFramesMatchSchemas, collect, TapSocket, until } from './helpers/sdk.js';

describe('the client SDK against a real hub: every call and event', () => {
  let hub: TestHub;
  const open: AgentComClient[] = [];
  const join = async (id: string, opts: Parameters<typeof agent>[2] = {}) => {
    const c = await agent(hub, id, opts);
    open.push(c);
    return c;
  };

  before(async () => {
    hub = await startTestHub();
  });
  after(async () => {
    for (const c of open) await c.close();
    await hub.stop();
  });

  test('send resolves with the stored id once flushed; parallel calls take effect in call order, each once', async () => {
    const a = await join('a1');
    const b = await join('b1');
    const got = collect(b, 'message', 20);
    const sent = await Promise.all(Array.from({ length: 20 }, (_, n) => a.send('b1', { n })));
    const msgs = await got;
    assert.deepEqual(
      msgs.map((m) => m.payload.n),
      Array.from({ length: 20 }, (_, n) => n),
    );
    assert.deepEqual(
      msgs.map((m) => m.id),
      sent.map((s) => s.id),
      'each call resolved with the id of its own message',
    );
    assert.equal(msgs[0].from, 'a1');
    assert.equal(msgs[0].message_type, 'chat');
  });

  test('broadcast reaches every agent, the sender too; type and replyTo are carried', async () => {
    const a = await join('a2');
    const b = await join('b2');
    const toA = collect(a, 'message', 1);
    const toB = collect(b, 'message', 1);
    const r = await a.broadcast({ hello: 'all' }, { type: 'notice', replyTo: 'abc' });
    for (const [m] of [await toA, await toB]) {
      assert.equal(m.id, r.id);
      assert.equal(m.message_type, 'notice');
      assert.equal(m.reply_to, 'abc');
    }
  });

  test('a repeated idempotency key returns the first reply and stores one message; reused for another, it is refused', async () => {
    const a = await join('a3');
    const first = await a.send('nobody3', { x: 1 }, { idempotencyKey: 'k-1' });
    const again = await a.send('nobody3', { x: 1 }, { idempotencyKey: 'k-1' });
    assert.equal(again.id, first.id);
    const box = await api(hub.url, 'GET', '/api/mailbox/nobody3', { token: await tokenFor(hub, 'nobody3') });
    assert.equal(box.body.count, 1);
    await assert.rejects(a.send('nobody3', { x: 2 }, { idempotencyKey: 'k-1' }), { code: 'idempotency_key_reused' });
  });

  test('channels: subscribe (normalised), publish, history, unsubscribe, listChannels, and their events', async () => {
    const a = await join('a4');
    const b = await join('b4');
    assert.equal(
      (await api(hub.url, 'POST', '/api/channels', { token: await tokenFor(hub, 'a4'), body: { name: 'news' } }))
        .status,
      201,
    );
    const joined = collect(b, 'channelAgentJoined', 1);
    assert.deepEqual(await b.subscribe('#News'), { channel: 'news', alreadySubscribed: false });
    assert.deepEqual(await b.subscribe('news'), { channel: 'news', alreadySubscribed: true });
    assert.deepEqual(await a.subscribe('news'), { channel: 'news', alreadySubscribed: false });
    assert.equal((await joined)[0].agent_id, 'a4');
    const posts = collect(b, 'channelMessage', 2);
    const p1 = await a.publish('news', { n: 1 });
    const p2 = await a.publish('#NEWS', { n: 2 }, { type: 'update' });
    assert.deepEqual([p1.channel, p2.seq - p1.seq], ['news', 1]);
    const [m1, m2] = await posts;
    assert.deepEqual([m1.id, m1.seq, m1.from, m2.message_type], [p1.id, p1.seq, 'a4', 'update']);
    const hist = await b.history('news', { since: p1.seq - 1 });
    assert.deepEqual(
      hist.map((h) => h.message.payload),
      [{ n: 1 }, { n: 2 }],
    );
    assert.ok((await a.listChannels()).some((c) => c.name === 'news' && c.subscriber_count === 2));
    assert.deepEqual(await b.unsubscribe('news'), { channel: 'news' });
    assert.ok((await a.listChannels()).some((c) => c.name === 'news' && c.subscriber_count === 1));
  });

  test('presence: agentJoined, statusChanged, agentLeft; presenceEvents false gets none; listAgents, setStatus', async () => {
    const watcher = await join('w5');
    const quiet = await join('q5', { presenceEvents: false });
    const heard: string[] = [];
    quiet.on('agentJoined', (f) => heard.push(f.agent.agent_id));
    const joinedEv = collect(watcher, 'agentJoined', 1, (f) => f.agent.agent_id === 'm5');
    const mover = await join('m5', { capabilities: ['code'], name: 'Mover' });
    const [j] = await joinedEv;
    assert.deepEqual([j.agent.agent_id, j.agent.name, j.agent.capabilities], ['m5', 'Mover', ['code']]);
    const changed = collect(watcher, 'statusChanged', 1, (f) => f.agent.agent_id === 'm5');
    await mover.setStatus('busy');
    assert.equal((await changed)[0].agent.status, 'busy');
    const listed = await watcher.listAgents();
    assert.equal(listed.find((x) => x.agent_id === 'm5')?.status, 'busy');
    const left = collect(watcher, 'agentLeft', 1, (f) => f.agent_id === 'm5');
    await mover.close();
    assert.equal((await left)[0].agent_id, 'm5');
    assert.deepEqual(heard, []);
  });

  test('errors are AgentComError with the stable code, the hub’s fields and the field errors', async () => {
    const a = await join('a6');
    await assert.rejects(a.subscribe('nope'), (e: AgentComError) => {
      assert.ok(e instanceof AgentComError);
      assert.deepEqual([e.code, e.details.channel], ['channel_not_found', 'nope']);
      return true;
    });
    await assert.rejects(a.history('nope', { limit: -1 }), (e: AgentComError) => {
      assert.equal(e.code, 'validation_failed');
      assert.deepEqual([e.fields[0].field, e.fields[0].error], ['limit', 'wrong_type']);
      return true;
    });
    // the socket stays usable
    assert.ok(Array.isArray(await a.listAgents()));
  });

  test('a frame over maxFrameBytes fails before it is sent; past maxQueue a call fails with queue_full', async () => {
    const a = await join('a7', { maxFrameBytes: 1000, maxQueue: 2 });
    await assert.rejects(a.send('x', { pad: 'x'.repeat(2000) }), { code: 'frame_too_large' });
    const calls = [a.listAgents(), a.listAgents(), a.listAgents(), a.listAgents()];
    const settled = await Promise.allSettled(calls);
    assert.deepEqual(
      settled.map((s) => (s.status === 'rejected' ? (s.reason as AgentComError).code : 'ok')),
      ['ok', 'ok', 'ok', 'queue_full'],
    );
  });

  test('an async iterator yields deliveries in order; one counts as handled when the loop asks for the next', async () => {
    const a = await join('a8');
    for (let n = 0; n < 3; n++) await a.send('b8', { n });
    // b8 is offline: its mailbox holds the three, replayed with their seqs on connect
    const b = await join('b8');
    const seen: number[] = [];
    const before: number[] = [];
    for await (const m of b.iterate('message')) {
      before.push(b.lastSeq);
      seen.push(m.seq as number);
      if (seen.length === 3) break;
    }
    assert.deepEqual(before, [0, seen[0], seen[1]], 'lastSeq moves only once the loop body is done');
    await until(() => b.lastSeq === seen[2], 'the last one handled');
  });

  test('the mailbox is replayed on connect, acked after the handlers return, and a resumed run skips it', async () => {
    const a = await join('a9');
    const ids = [];
    for (let n = 0; n < 5; n++) ids.push((await a.send('b9', { n })).id);
    const token = await tokenFor(hub, 'b9');
    const b = await connect({ url: hub.wsUrl, agentId: 'b9', token, WebSocket: TapSocket, ackDelayMs: 10 });
    open.push(b);
    const got = await collect(b, 'message', 5);
    assert.deepEqual(
      got.map((m) => m.id),
      ids,
    );
    await until(async () => (await api(hub.url, 'GET', '/api/mailbox/b9', { token })).body.count === 0, 'acked');
    const lastSeq = b.lastSeq;
    await b.close();
    await a.send('b9', { n: 5 });
    const again = await connect({ url: hub.wsUrl, agentId: 'b9', token, WebSocket: TapSocket, resumeFrom: lastSeq });
    open.push(again);
    const [next] = await collect(again, 'message', 1);
    assert.deepEqual(next.payload, { n: 5 });
  });

  test('submitTask and getTask go over HTTP with the agent’s token; a repeated key queues one task', async () => {
    const a = await join('a10');
    const t = await a.submitTask(
      { description: 'sdk task', needed_capabilities: ['none-has-this'] },
      { idempotencyKey: 't-1' },
    );
    const again = await a.submitTask(
      { description: 'sdk task', needed_capabilities: ['none-has-this'] },
      { idempotencyKey: 't-1' },
    );
    assert.equal(again.task_id, t.task_id);
    const view = await a.getTask(t.task_id);
    assert.deepEqual([view.description, view.status, view.submitted_by], ['sdk task', 'queued', 'a10']);
    await assert.rejects(a.getTask('task-0000000000000000'), { code: 'task_not_found' });
  });

  test('an agent without a worker hands an assignment back without counting a retry', async () => {
    const a = await join('a11', { capabilities: ['only-a11'] });
    const assigned = collect(a, 'taskAssigned', 1);
    const t = await a.submitTask({ description: 'no worker', needed_capabilities: ['only-a11'] });
    assert.equal((await assigned)[0].task_id, t.task_id);
    await until(async () => (await a.getTask(t.task_id)).status === 'queued', 'back in the queue');
    assert.equal((await a.getTask(t.task_id)).retry_count, 0);
  });

  test('restartRequested, taskCancelled and a throwing handler’s `error` event; the message still counts as handled', async () => {
    const a = await join('a12');
    const b = await join('b12');
    const restart = collect(b, 'restartRequested', 1);
    const r = await api(hub.adminUrl, 'POST', '/admin/agents/b12/restart', {
      token: ADMIN_TOKEN,
      body: { reason: 'upgrade' },
    });
    assert.equal(r.status, 200);
    assert.equal((await restart)[0].reason, 'upgrade');
    const errors = collect(b, 'error', 1);
    const off = b.on('message', () => {
      throw new Error('boom');
    });
    const { seq } = await a.send('b12', { n: 1 });
    const [e] = await errors;
    assert.deepEqual([e.code, e.details.frame], ['handler_failed', 'message']);
    off();
    const cancelled = collect(b, 'taskCancelled', 1);
    b.worker(
      { capabilities: ['only-b12'] },
      (_t, ctx) => new Promise((done) => ctx.signal.addEventListener('abort', () => done({}))),
    );
    const assigned = collect(b, 'taskAssigned', 1);
    const t = await b.submitTask({ description: 'to cancel', needed_capabilities: ['only-b12'] });
    await assigned;
    const c = await api(hub.url, 'POST', `/api/tasks/${t.task_id}/cancel`, { token: await tokenFor(hub, 'b12') });
    assert.equal(c.status, 200);
    assert.equal((await cancelled)[0].task_id, t.task_id);
    assert.ok(b.lastSeq >= seq, 'the message whose handler threw was handled');
  });

  test('rateLimitWarning: a bucket under 20 % says so before the reply', async () => {
    const limited = await startTestHub({ rateLimits: { message: { capacity: 5, per_min: 60 } } });
    try {
      const c = await agent(limited, 'warned', { limited: true, WebSocket: TapSocket });
      const warned = collect(c, 'rateLimitWarning', 1);
      for (let n = 0; n < 5; n++) await c.send('nobody', { n });
      const [w] = await warned;
      assert.deepEqual([w.action, w.capacity], ['message', 5]);
      await c.close();
    } finally {
      await limited.stop();
    }
  });

  test('every frame the hub sent matches its schema in shared/schemas/hub-frames.ts', () => {
    const seen = assertTappedFramesMatchSchemas();
    for (const t of [
      'identified',
      'message',
      'message_sent',
      'channel_published',
      'channel_message',
      'agents',
      'error',
    ])
      assert.ok(seen.has(t), `no ${t} frame was checked`);
  });
});
