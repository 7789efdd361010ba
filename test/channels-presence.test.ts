import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { connectAgent, sleep, TestClient } from './helpers/client.js';
import { api, startTestHub, type TestHub, tokenFor, whitelist } from './helpers/hub.js';

describe('channels', () => {
  let hub: TestHub;
  const tok: Record<string, string> = {};
  const ids = ['pub', 's1', 's2', 's3', 'slow', 'off'];

  before(async () => {
    hub = await startTestHub({
      channelHistoryPerChannel: 5,
      channelHistoryTotal: 8,
      sendBufferMax: 64 * 1024,
      slowConsumerMs: 300,
    });
    for (const id of ids) tok[id] = await tokenFor(hub, id);
    await whitelist(hub, ...ids);
  });
  after(() => hub.stop());

  test('create, normalise, subscribe, publish, fan-out, mailbox copies and history', async () => {
    const created = await api(hub.url, 'POST', '/api/channels', { token: tok.pub, body: { name: '#General' } });
    assert.deepEqual([created.status, created.body], [201, { status: 'created', channel: '#General' }]);
    const dup = await api(hub.url, 'POST', '/api/channels', { token: tok.pub, body: { name: 'general' } });
    assert.deepEqual([dup.status, dup.body.error], [409, 'channel_exists']);
    assert.equal((await api(hub.url, 'POST', '/api/channels', { token: tok.pub, body: { name: '###' } })).status, 422);
    const pub = await connectAgent(hub.wsUrl, 'pub', tok.pub);
    const subs = [await connectAgent(hub.wsUrl, 's1', tok.s1), await connectAgent(hub.wsUrl, 's2', tok.s2)];
    for (const s of subs) await s.request({ type: 'channel_subscribe', channel: 'General' }, 'channel_subscribed');
    const again = await subs[0].request({ type: 'channel_subscribe', channel: 'general' }, 'channel_subscribed');
    assert.equal(again.note, 'already_subscribed');
    assert.equal((await subs[0].next('channel_agent_joined')).agent_id, 's2');
    const http = await api(hub.url, 'POST', '/api/channels/general/subscribe', { token: tok.off });
    assert.deepEqual(http.body, { status: 'subscribed', channel: 'general' });
    const s3 = await connectAgent(hub.wsUrl, 's3', tok.s3);
    await api(hub.url, 'POST', '/api/channels/general/subscribe', { token: tok.s3 });
    const ack = await pub.request(
      { type: 'channel_publish', channel: '#general', payload: { n: 1 } },
      'channel_published',
    );
    assert.deepEqual([ack.channel, ack.seq], ['general', 1]);
    for (const s of [...subs, s3]) {
      const m = await s.next('channel_message');
      assert.deepEqual([m.channel, m.id, m.from, m.payload], ['general', ack.id, 'pub', { n: 1 }]);
    }
    await sleep(50);
    assert.equal(pub.frames.filter((f) => f.type === 'channel_message').length, 0, 'not to the sender');
    const box = await api(hub.url, 'GET', '/api/mailbox/off', { token: tok.off });
    assert.equal(box.body.count, 1);
    assert.equal(box.body.messages[0].payload.channel, 'general');
    assert.equal((await api(hub.url, 'GET', '/api/mailbox/s1', { token: tok.s1 })).body.count, 0);
    const hist = await api(hub.url, 'GET', `/api/messages?channel=general&token=${tok.s1}`);
    assert.equal(hist.body.count, 1);
    for (let i = 2; i <= 7; i++)
      await pub.request({ type: 'channel_publish', channel: 'general', payload: { n: i } }, 'channel_published');
    const h = await pub.request({ type: 'channel_history', channel: 'general', limit: 50 }, 'channel_history');
    assert.deepEqual(
      h.messages.map((e: { seq: number }) => e.seq),
      [3, 4, 5, 6, 7],
      'per-channel cap keeps the newest 5',
    );
    const since = await api(hub.url, 'GET', '/api/channels/general/history?since=5&limit=1');
    assert.deepEqual(
      since.body.messages.map((e: { seq: number }) => e.seq),
      [7],
    );
    await api(hub.url, 'POST', '/api/channels', { token: tok.pub, body: { name: 'other' } });
    for (let i = 0; i < 5; i++)
      await pub.request({ type: 'channel_publish', channel: 'other', payload: { i } }, 'channel_published');
    const g = await api(hub.url, 'GET', '/api/channels/general/history?limit=50');
    const o = await api(hub.url, 'GET', '/api/channels/other/history?limit=50');
    assert.equal(g.body.count + o.body.count, 8, 'global cap keeps 8 across channels');
    assert.equal(o.body.count, 5);
    const info = await api(hub.url, 'GET', '/api/channels/general');
    assert.deepEqual(info.body.subscribers.sort(), ['off', 's1', 's2', 's3']);
    assert.deepEqual((await api(hub.url, 'GET', '/api/agents/s1/subscriptions')).body.channels, ['general']);
    assert.equal(
      (await pub.request({ type: 'channel_publish', channel: 'nope', payload: {} }, 'error')).error,
      'channel_not_found',
    );
    const tooBig = await pub.request(
      { type: 'channel_publish', channel: 'general', payload: { x: 'y'.repeat(70_000) } },
      'error',
    );
    assert.equal(tooBig.errors[0].error, 'too_long');
    assert.equal((await api(hub.url, 'GET', '/api/channels/general/history?limit=x')).status, 422);
    for (const c of [pub, ...subs, s3]) c.close();
    await sleep(50);
  });

  test('a subscriber that stops reading is cut off without slowing the rest, and keeps its messages', async () => {
    await api(hub.url, 'POST', '/api/channels', { token: tok.pub, body: { name: 'firehose' } });
    for (const a of ['s1', 'slow']) await api(hub.url, 'POST', '/api/channels/firehose/subscribe', { token: tok[a] });
    const pub = await connectAgent(hub.wsUrl, 'pub', tok.pub);
    const fast = await connectAgent(hub.wsUrl, 's1', tok.s1);
    const slow = await connectAgent(hub.wsUrl, 'slow', tok.slow);
    (slow.ws as unknown as { _socket: { pause(): void } })._socket.pause();
    // loopback kernel buffers absorb several MB before ws's own buffer grows, so send well past them
    const payload = { blob: 'z'.repeat(60 * 1024) };
    let got = 0;
    fast.ws.on('message', (d) => {
      if (JSON.parse(String(d)).type === 'channel_message') got++;
    });
    // the paused client cannot read its close frame; the hub's verdict shows as agent_left to the others
    let cutOff = false;
    fast
      .next('agent_left', (f) => f.agent_id === 'slow', 20_000)
      .then(() => {
        cutOff = true;
      });
    let sent = 0;
    const deadline = Date.now() + 15_000;
    while (!cutOff && Date.now() < deadline) {
      await pub.request({ type: 'channel_publish', channel: 'firehose', payload }, 'channel_published');
      sent++;
    }
    assert.ok(cutOff, 'the slow subscriber was closed');
    while (got < sent) await sleep(10);
    let inBox = 0;
    let since = 0;
    for (;;) {
      const r = await api(hub.url, 'GET', `/api/mailbox/slow?since=${since}`, { token: tok.slow });
      if (r.body.count === 0) break;
      inBox += r.body.count;
      since = r.body.last_seq;
    }
    assert.ok(inBox > 0, 'frames dropped for the slow subscriber are in its mailbox');
    pub.close();
    fast.close();
  });

  test('channels, subscriptions and history survive a restart', async () => {
    await hub.stop({ keepData: true });
    hub = await startTestHub({}, hub.dataDir);
    const pub = await connectAgent(hub.wsUrl, 'pub', tok.pub);
    const s1 = await connectAgent(hub.wsUrl, 's1', tok.s1);
    const list = await pub.request({ type: 'list_channels' }, 'channels');
    assert.ok(list.channels.some((c: { name: string }) => c.name === 'general'));
    const h = await api(hub.url, 'GET', '/api/channels/firehose/history');
    assert.ok(h.body.count > 0);
    await pub.request(
      { type: 'channel_publish', channel: 'general', payload: { after: 'restart' } },
      'channel_published',
    );
    assert.deepEqual((await s1.next('channel_message')).payload, { after: 'restart' });
    pub.close();
    s1.close();
  });
});

describe('presence', () => {
  let hub: TestHub;
  const tok: Record<string, string> = {};

  before(async () => {
    hub = await startTestHub({ reaperIntervalMs: 100, idleTimeoutMs: 400 });
    for (const id of ['p1', 'p2', 'p3']) tok[id] = await tokenFor(hub, id);
  });
  after(() => hub.stop());

  test('join, leave, status, newest-wins and opting out of presence', async () => {
    const p1 = await connectAgent(hub.wsUrl, 'p1', tok.p1);
    const quiet = await connectAgent(hub.wsUrl, 'p3', tok.p3, { presence_events: false });
    const p2 = await connectAgent(hub.wsUrl, 'p2', tok.p2, {
      capabilities: ['c'],
      protocol_version: 1,
      extra: 'ignored',
    });
    const joined = await p1.next('agent_joined', (f) => f.agent.agent_id === 'p2');
    assert.deepEqual([joined.agent.agent_id, joined.agent.name, joined.agent.status], ['p2', 'p2', 'connected']);
    const status = await p2.request({ type: 'status', status: 'busy' }, 'status_updated');
    assert.equal(status.status, 'busy');
    assert.equal((await p1.next('status_changed')).agent.status, 'busy');
    assert.equal((await p2.next('status_changed')).agent.agent_id, 'p2', 'status_changed reaches self too');
    const newer = await connectAgent(hub.wsUrl, 'p2', tok.p2);
    assert.deepEqual(await p2.waitClose(), { code: 4001, reason: 'replaced' });
    const list = await p1.request({ type: 'list_agents' }, 'agents');
    assert.ok(list.agents.some((a: { agent_id: string }) => a.agent_id === 'p2'));
    await p1.request({ type: 'message', to: 'p2', payload: { to: 'newest' } }, 'message_sent');
    assert.deepEqual((await newer.next('message')).payload, { to: 'newest' });
    newer.close();
    assert.equal((await p1.next('agent_left')).agent_id, 'p2');
    await sleep(100);
    assert.equal(quiet.frames.filter((f) => f.type === 'agent_joined' || f.type === 'agent_left').length, 0);
    p1.close();
    quiet.close();
  });

  test('the reaper closes a silent connection; a talking one lives on', async () => {
    const watcher = await connectAgent(hub.wsUrl, 'p1', tok.p1);
    const silent = await connectAgent(hub.wsUrl, 'p2', tok.p2);
    const t = setInterval(() => watcher.send({ type: 'ping' }), 100);
    const left = await watcher.next('agent_left', (f) => f.agent_id === 'p2', 3000);
    assert.equal(left.agent_id, 'p2');
    assert.ok((await silent.waitClose()).code > 0);
    assert.equal(watcher.closed, null);
    clearInterval(t);
    watcher.close();
  });

  test('a socket that never identifies gets not_identified and is reaped too', async () => {
    const c = await TestClient.open(hub.wsUrl);
    assert.equal((await c.request({ type: 'ping' }, 'error')).error, 'not_identified');
    assert.ok((await c.waitClose(3000)).code > 0);
  });
});
