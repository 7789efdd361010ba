import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { connectAgent, sleep, TestClient } from './helpers/client.js';
import { type ApiResponse, api, startTestHub, type TestHub, tokenFor, waitOffline, whitelist } from './helpers/hub.js';

/** Tokens for `ids`, all whitelisted so the rate limits never interfere. */
async function tokens(hub: TestHub, ids: string[]): Promise<Record<string, string>> {
  const tok: Record<string, string> = {};
  for (const id of ids) tok[id] = await tokenFor(hub, id);
  await whitelist(hub, ...ids);
  return tok;
}

const create = (hub: TestHub, token: string, body: unknown) => api(hub.url, 'POST', '/api/channels', { token, body });
const post = (hub: TestHub, token: string | undefined, path: string, body?: unknown) =>
  api(hub.url, 'POST', path, { token, body });

/** §2.3 WS frame: exactly type, error, message_type, errors; the first error names `field` with `error`. */
function assertWsInvalid(f: any, messageType: string, field: string, error: string): void {
  assert.equal(f.type, 'error');
  assert.deepEqual(Object.keys(f).sort(), ['error', 'errors', 'message_type', 'type']);
  assert.equal(f.error, 'validation_failed');
  assert.equal(f.message_type, messageType);
  assert.equal(f.errors[0].field, field, JSON.stringify(f));
  assert.equal(f.errors[0].error, error, JSON.stringify(f));
  assert.equal(typeof f.errors[0].detail, 'string');
}

/** §3 HTTP: 422 with exactly error and errors; the first error names `field` with `error`. */
function assertHttpInvalid(r: ApiResponse, field: string, error: string): void {
  assert.equal(r.status, 422, JSON.stringify(r.body));
  assert.deepEqual(Object.keys(r.body).sort(), ['error', 'errors']);
  assert.equal(r.body.error, 'validation_failed');
  assert.equal(r.body.errors[0].field, field, JSON.stringify(r.body));
  assert.equal(r.body.errors[0].error, error, JSON.stringify(r.body));
  assert.equal(typeof r.body.errors[0].detail, 'string');
}

/**
 * Publishes to `barrier` from `via` and waits for `c` to get it: every frame
 * the hub wrote to `c` before that publish has then been read.
 */
async function drain(c: TestClient, via: TestClient, barrier = 'barrier'): Promise<void> {
  const ack = await via.request({ type: 'channel_publish', channel: barrier, payload: {} }, 'channel_published');
  await c.next('channel_message', (f) => f.id === ack.id);
}

const channelMessages = (c: TestClient, channel: string) =>
  c.frames.filter((f) => f.type === 'channel_message' && f.channel === channel);

const seqs = (entries: Array<{ seq: number }>) => entries.map((e) => e.seq);

describe('channel directory: create, list, inspect, subscribe', () => {
  let hub: TestHub;
  let tok: Record<string, string>;

  before(async () => {
    hub = await startTestHub({ violationMax: 1000 });
    tok = await tokens(hub, ['owner', 'u1', 'u2', 'u3', 'offline1']);
  });
  after(() => hub.stop());

  test('POST /api/channels answers 201 with the name as sent; a second create of the same name is 409', async () => {
    const r = await create(hub, tok.owner, { name: '#General', description: 'all hands' });
    assert.deepEqual([r.status, r.body], [201, { status: 'created', channel: '#General' }]);
    const dup = await create(hub, tok.u1, { name: 'general' });
    assert.equal(dup.status, 409);
    assert.equal(dup.body.error, 'channel_exists');
    const dup2 = await create(hub, tok.u1, { name: 'GENERAL!' });
    assert.deepEqual([dup2.status, dup2.body.error], [409, 'channel_exists'], '"GENERAL!" normalises to general');
  });

  test('concurrent creates of one name, spelled differently: exactly one wins', async () => {
    const spellings = ['race', '#race', 'RACE', '#Race!', 'r.a.c.e'];
    const rs = await Promise.all(
      spellings.map((name, i) => create(hub, tok[['owner', 'u1', 'u2', 'u3', 'offline1'][i]], { name })),
    );
    assert.deepEqual(rs.map((r) => r.status).sort(), [201, 409, 409, 409, 409]);
    const detail = await api(hub.url, 'GET', '/api/channels/race');
    assert.equal(
      detail.body.created_by,
      ['owner', 'u1', 'u2', 'u3', 'offline1'][rs.findIndex((r) => r.status === 201)],
    );
  });

  test('names are normalised (leading #, case, stray characters) and then validated', async () => {
    const r = await create(hub, tok.owner, { name: '#My Team.Chat!' });
    assert.deepEqual([r.status, r.body.channel], [201, '#My Team.Chat!']);
    assert.equal((await api(hub.url, 'GET', '/api/channels/myteamchat')).status, 200);
    assert.equal((await api(hub.url, 'GET', `/api/channels/${encodeURIComponent('#MyTeamChat')}`)).status, 200);
    const exactly64 = await create(hub, tok.owner, { name: `#${'A'.repeat(64)}` });
    assert.equal(exactly64.status, 201, '64 characters after normalisation is allowed');
    for (const name of ['###', '!!!', '', '#']) {
      const bad = await create(hub, tok.owner, { name });
      assert.equal(bad.status, 422, `${JSON.stringify(name)} normalises to ""`);
      assert.equal(bad.body.error, 'validation_failed');
    }
    const long = await create(hub, tok.owner, { name: 'a'.repeat(65) });
    assert.equal(long.status, 422);
    assert.equal(long.body.errors[0].error, 'too_long');
  });

  test('a create whose name fails validation names the `name` field', async () => {
    const empty = await create(hub, tok.owner, { name: '!!!' });
    assertHttpInvalid(empty, 'name', 'wrong_type');
    assert.match(empty.body.errors[0].detail, /empty after normalisation/, 'not "required": the name was given');
    assertHttpInvalid(await create(hub, tok.owner, { name: 'b'.repeat(65) }), 'name', 'too_long');
  });

  test('list over WS and HTTP gives ChannelSummary rows; GET /api/channels/:ch gives the detail', async () => {
    await create(hub, tok.owner, { name: 'listed' });
    await post(hub, tok.u1, '/api/channels/listed/subscribe');
    await post(hub, tok.u2, '/api/channels/listed/subscribe');
    const c = await connectAgent(hub.wsUrl, 'u3', tok.u3);
    const ws = await c.request({ type: 'list_channels' }, 'channels');
    assert.deepEqual(Object.keys(ws).sort(), ['channels', 'type']);
    const row = ws.channels.find((x: { name: string }) => x.name === 'listed');
    assert.deepEqual(Object.keys(row).sort(), ['created_at', 'description', 'name', 'subscriber_count']);
    assert.deepEqual([row.description, row.subscriber_count, typeof row.created_at], ['', 2, 'number']);
    const general = ws.channels.find((x: { name: string }) => x.name === 'general');
    assert.equal(general.description, 'all hands');
    const http = await api(hub.url, 'GET', '/api/channels');
    assert.equal(http.status, 200);
    assert.deepEqual(http.body, { channels: ws.channels, cursor: null }, 'one page, nothing after it');
    const detail = await api(hub.url, 'GET', '/api/channels/Listed');
    assert.equal(detail.status, 200);
    assert.deepEqual(Object.keys(detail.body).sort(), [
      'created_at',
      'created_by',
      'description',
      'name',
      'subscriber_count',
      'subscribers',
    ]);
    assert.deepEqual(
      [detail.body.name, detail.body.created_by, detail.body.subscriber_count, detail.body.created_at],
      ['listed', 'owner', 2, row.created_at],
    );
    assert.deepEqual([...detail.body.subscribers].sort(), ['u1', 'u2']);
    const missing = await api(hub.url, 'GET', '/api/channels/nowhere');
    assert.equal(missing.status, 404);
    assert.equal(missing.body.error, 'channel_not_found');
    c.close();
  });

  test('WS subscribe and unsubscribe, with already_subscribed and channel_not_found', async () => {
    await create(hub, tok.owner, { name: 'wsub' });
    const c = await connectAgent(hub.wsUrl, 'u1', tok.u1);
    const first = await c.request({ type: 'channel_subscribe', channel: '#WSub' }, 'channel_subscribed');
    assert.deepEqual(first, { type: 'channel_subscribed', channel: 'wsub' });
    const again = await c.request({ type: 'channel_subscribe', channel: 'wsub' }, 'channel_subscribed');
    assert.deepEqual(again, { type: 'channel_subscribed', channel: 'wsub', note: 'already_subscribed' });
    assert.deepEqual((await api(hub.url, 'GET', '/api/agents/u1/subscriptions')).body.channels.includes('wsub'), true);
    const un = await c.request({ type: 'channel_unsubscribe', channel: 'WSUB' }, 'channel_unsubscribed');
    assert.deepEqual(un, { type: 'channel_unsubscribed', channel: 'wsub' });
    assert.equal((await api(hub.url, 'GET', '/api/channels/wsub')).body.subscriber_count, 0);
    for (const type of ['channel_subscribe', 'channel_unsubscribe']) {
      const err = await c.request({ type, channel: 'ghost' }, 'error');
      assert.equal(err.error, 'channel_not_found');
    }
    c.close();
  });

  test('HTTP subscribe and unsubscribe answer with the §3.2 bodies', async () => {
    await create(hub, tok.owner, { name: 'hsub' });
    const s = await post(hub, tok.u2, '/api/channels/HSub/subscribe');
    assert.deepEqual([s.status, s.body], [200, { status: 'subscribed', channel: 'hsub' }]);
    const again = await post(hub, tok.u2, '/api/channels/hsub/subscribe');
    assert.deepEqual([again.status, again.body.status], [200, 'already_subscribed']);
    const subs = (await api(hub.url, 'GET', '/api/agents/u2/subscriptions')).body;
    assert.deepEqual(
      { ...subs, channels: [...subs.channels].sort() },
      { agent_id: 'u2', channels: ['hsub', 'listed'] },
    );
    const u = await post(hub, tok.u2, '/api/channels/hsub/unsubscribe');
    assert.deepEqual([u.status, u.body], [200, { status: 'unsubscribed', channel: 'hsub' }]);
    assert.deepEqual((await api(hub.url, 'GET', '/api/agents/u2/subscriptions')).body.channels, ['listed']);
    assert.deepEqual((await api(hub.url, 'GET', '/api/agents/nobody/subscriptions')).body, {
      agent_id: 'nobody',
      channels: [],
    });
    for (const p of ['/api/channels/ghost/subscribe', '/api/channels/ghost/unsubscribe']) {
      const r = await post(hub, tok.u2, p);
      assert.deepEqual([r.status, r.body.error], [404, 'channel_not_found']);
    }
    for (const p of ['/api/channels', '/api/channels/hsub/subscribe', '/api/channels/hsub/unsubscribe']) {
      const r = await post(hub, undefined, p, { name: 'x' });
      assert.deepEqual(
        [r.status, r.body],
        [401, { error: 'unauthorized', hint: 'provide Authorization: Bearer <token>' }],
        `${p} needs a bearer token`,
      );
    }
  });

  test('channel_agent_joined reaches the other subscribers, not the joiner, not outsiders, not on a repeat', async () => {
    await create(hub, tok.owner, { name: 'joins' });
    await create(hub, tok.owner, { name: 'barrier' });
    const a = await connectAgent(hub.wsUrl, 'u1', tok.u1);
    const b = await connectAgent(hub.wsUrl, 'u2', tok.u2);
    const outsider = await connectAgent(hub.wsUrl, 'u3', tok.u3);
    for (const c of [a, b, outsider])
      await c.request({ type: 'channel_subscribe', channel: 'barrier' }, 'channel_subscribed');
    await a.request({ type: 'channel_subscribe', channel: 'joins' }, 'channel_subscribed');
    await b.request({ type: 'channel_subscribe', channel: 'joins' }, 'channel_subscribed');
    assert.deepEqual(await a.next('channel_agent_joined', (f) => f.channel === 'joins'), {
      type: 'channel_agent_joined',
      channel: 'joins',
      agent_id: 'u2',
    });
    await post(hub, tok.offline1, '/api/channels/joins/subscribe');
    for (const c of [a, b]) {
      const j = await c.next('channel_agent_joined', (f) => f.channel === 'joins');
      assert.equal(j.agent_id, 'offline1', 'an HTTP subscribe is announced too');
    }
    await b.request({ type: 'channel_subscribe', channel: 'joins' }, 'channel_subscribed');
    const owner = await connectAgent(hub.wsUrl, 'owner', tok.owner);
    for (const c of [a, b, outsider]) await drain(c, owner);
    const joinsFor = (c: TestClient) =>
      c.frames.filter((f) => f.type === 'channel_agent_joined' && f.channel === 'joins');
    assert.equal(joinsFor(a).length, 0, 'no second join for an already_subscribed repeat');
    assert.equal(joinsFor(b).length, 0, 'the joiner hears nothing of its own join');
    assert.equal(joinsFor(outsider).length, 0);
    for (const c of [a, b, outsider, owner]) c.close();
  });

  test('an HTTP subscribe takes effect on the open socket at once; an HTTP unsubscribe stops it (§9.7)', async () => {
    await create(hub, tok.owner, { name: 'live-http' });
    const listener = await connectAgent(hub.wsUrl, 'u3', tok.u3);
    const pub = await connectAgent(hub.wsUrl, 'owner', tok.owner);
    await listener.request({ type: 'channel_subscribe', channel: 'barrier' }, 'channel_subscribed');
    await post(hub, tok.u3, '/api/channels/live-http/subscribe');
    const ack = await pub.request(
      { type: 'channel_publish', channel: 'live-http', payload: { n: 1 } },
      'channel_published',
    );
    const m = await listener.next('channel_message', (f) => f.channel === 'live-http');
    assert.equal(m.id, ack.id);
    await post(hub, tok.u3, '/api/channels/live-http/unsubscribe');
    await pub.request({ type: 'channel_publish', channel: 'live-http', payload: { n: 2 } }, 'channel_published');
    await drain(listener, pub);
    assert.equal(channelMessages(listener, 'live-http').length, 0, 'nothing after the HTTP unsubscribe');
    listener.close();
    pub.close();
  });
});

describe('publishing: acks, fan-out, mailbox copies, global history, channel history', () => {
  let hub: TestHub;
  let tok: Record<string, string>;
  const fleet = Array.from({ length: 50 }, (_, i) => `f${i}`);

  before(async () => {
    hub = await startTestHub();
    tok = await tokens(hub, ['pub', 'sub1', 'sub2', 'away', 'other', ...fleet]);
    for (const name of ['news', 'sports', 'barrier', 'hist', 'fleet']) await create(hub, tok.pub, { name });
  });
  after(() => hub.stop());

  test('channel_published carries channel, seq and id; seq counts per channel from 1', async () => {
    const pub = await connectAgent(hub.wsUrl, 'pub', tok.pub);
    const n1 = await pub.request({ type: 'channel_publish', channel: '#News', payload: { a: 1 } }, 'channel_published');
    assert.deepEqual(Object.keys(n1).sort(), ['channel', 'id', 'seq', 'type']);
    assert.deepEqual([n1.channel, n1.seq], ['news', 1]);
    assert.match(n1.id, /^[0-9a-f]{16}$/);
    const s1 = await pub.request({ type: 'channel_publish', channel: 'sports', payload: {} }, 'channel_published');
    const n2 = await pub.request({ type: 'channel_publish', channel: 'news', payload: {} }, 'channel_published');
    const h = await api(hub.url, 'POST', '/api/channels/news/publish', { token: tok.other, body: { payload: {} } });
    assert.deepEqual([s1.seq, n2.seq], [1, 2]);
    assert.equal(h.status, 200);
    assert.equal(h.body.status, 'published');
    assert.equal(h.body.seq, 3, 'HTTP and WS share the channel seq; publishing needs no subscription');
    assert.notEqual(n1.id, n2.id);
    pub.close();
  });

  test('channel_message goes to every subscribed socket but the sender, with the message fields', async () => {
    const pub = await connectAgent(hub.wsUrl, 'pub', tok.pub);
    const s1 = await connectAgent(hub.wsUrl, 'sub1', tok.sub1);
    const s2 = await connectAgent(hub.wsUrl, 'sub2', tok.sub2);
    const outsider = await connectAgent(hub.wsUrl, 'other', tok.other);
    for (const c of [pub, s1, s2, outsider])
      await c.request({ type: 'channel_subscribe', channel: 'barrier' }, 'channel_subscribed');
    for (const c of [pub, s1, s2])
      await c.request({ type: 'channel_subscribe', channel: 'sports' }, 'channel_subscribed');
    const sentAt = Date.now();
    const ack = await pub.request(
      { type: 'channel_publish', channel: 'sports', payload: { score: 3 }, message_type: 'result', reply_to: 'abc' },
      'channel_published',
    );
    for (const c of [s1, s2]) {
      const m = await c.next('channel_message', (f) => f.channel === 'sports');
      assert.deepEqual(
        [m.channel, m.id, m.from, m.message_type, m.payload, m.reply_to],
        ['sports', ack.id, 'pub', 'result', { score: 3 }, 'abc'],
      );
      assert.ok(m.timestamp >= sentAt && m.timestamp <= Date.now());
    }
    const plain = await pub.request({ type: 'channel_publish', channel: 'sports', payload: {} }, 'channel_published');
    const m2 = await s1.next('channel_message', (f) => f.id === plain.id);
    assert.deepEqual([m2.message_type, m2.reply_to], ['chat', null], 'defaults: message_type chat, reply_to null');
    await s2.next('channel_message', (f) => f.id === plain.id);
    const viaHttp = await api(hub.url, 'POST', '/api/channels/sports/publish', {
      token: tok.sub2,
      body: { payload: { via: 'http' }, type: 'note' },
    });
    const m3 = await s1.next('channel_message', (f) => f.payload.via === 'http');
    assert.deepEqual([m3.from, m3.message_type, m3.id], ['sub2', 'note', viaHttp.body.id]);
    await pub.next('channel_message', (f) => f.payload.via === 'http');
    const third = await connectAgent(hub.wsUrl, 'away', tok.away);
    await drain(pub, third);
    await drain(outsider, third);
    await drain(s2, third);
    assert.equal(channelMessages(pub, 'sports').length, 0, 'the sender gets no copy of its own posts');
    assert.equal(channelMessages(outsider, 'sports').length, 0, 'a socket that did not subscribe gets nothing');
    assert.equal(channelMessages(s2, 'sports').length, 0, 'the HTTP sender sub2 gets no copy on its socket');
    for (const c of [pub, s1, s2, outsider, third]) c.close();
    await sleep(50);
  });

  test('a subscriber without a socket gets a mailbox copy with payload.channel; an online one does not', async () => {
    await waitOffline(hub, 'away');
    await waitOffline(hub, 'pub');
    await post(hub, tok.away, '/api/channels/news/subscribe');
    await post(hub, tok.sub1, '/api/channels/news/subscribe');
    await post(hub, tok.pub, '/api/channels/news/subscribe');
    const online = await connectAgent(hub.wsUrl, 'sub1', tok.sub1);
    const pub = await api(hub.url, 'POST', '/api/channels/news/publish', {
      token: tok.pub,
      body: { payload: { headline: 'x' }, type: 'bulletin' },
    });
    assert.equal(pub.status, 200);
    await online.next('channel_message', (f) => f.id === pub.body.id);
    const box = await api(hub.url, 'GET', '/api/mailbox/away', { token: tok.away });
    const copies = box.body.messages.filter((m: { id: string }) => m.id === pub.body.id);
    assert.equal(copies.length, 1);
    assert.deepEqual(
      [copies[0].from, copies[0].type, copies[0].payload],
      ['pub', 'bulletin', { headline: 'x', channel: 'news' }],
    );
    const onlineBox = await api(hub.url, 'GET', '/api/mailbox/sub1', { token: tok.sub1 });
    assert.equal(onlineBox.body.messages.filter((m: { id: string }) => m.id === pub.body.id).length, 0);
    const selfBox = await api(hub.url, 'GET', '/api/mailbox/pub', { token: tok.pub });
    assert.equal(
      selfBox.body.messages.filter((m: { id: string }) => m.id === pub.body.id).length,
      0,
      'the publisher, subscribed and offline, gets no copy of its own post',
    );
    online.close();
  });

  test('channel posts enter global history, found by ?channel= (§9.5)', async () => {
    const ack = await api(hub.url, 'POST', '/api/channels/sports/publish', {
      token: tok.other,
      body: { payload: { final: true } },
    });
    const r = await api(hub.url, 'GET', `/api/messages?channel=sports&limit=200&token=${tok.sub1}`);
    assert.equal(r.status, 200);
    const m = r.body.messages.find((x: { id: string }) => x.id === ack.body.id);
    assert.ok(m, 'the post is in global history');
    assert.deepEqual([m.from, m.to, m.payload.final], ['other', null, true]);
    assert.ok(r.body.messages.every((x: any) => (x.channel ?? x.payload.channel) === 'sports'));
    const news = await api(hub.url, 'GET', `/api/messages?channel=news&limit=200&token=${tok.sub1}`);
    assert.ok(!news.body.messages.some((x: { id: string }) => x.id === ack.body.id), 'filtered by channel');
  });

  test('history: newest `limit` with seq > since, ascending, over WS and HTTP', async () => {
    const pub = await connectAgent(hub.wsUrl, 'pub', tok.pub);
    const ids: string[] = [];
    for (let i = 1; i <= 6; i++)
      ids.push(
        (await pub.request({ type: 'channel_publish', channel: 'hist', payload: { i } }, 'channel_published')).id,
      );
    const all = await pub.request({ type: 'channel_history', channel: 'Hist' }, 'channel_history');
    assert.deepEqual(Object.keys(all).sort(), ['channel', 'messages', 'type']);
    assert.equal(all.channel, 'hist');
    assert.deepEqual(seqs(all.messages), [1, 2, 3, 4, 5, 6]);
    const e = all.messages[0];
    assert.deepEqual(Object.keys(e).sort(), ['message', 'seq', 'stored_at']);
    assert.equal(typeof e.stored_at, 'number');
    for (const k of ['id', 'from', 'to', 'type', 'payload', 'reply_to', 'timestamp']) assert.ok(k in e.message, k);
    assert.deepEqual([e.message.id, e.message.from, e.message.payload], [ids[0], 'pub', { i: 1 }]);
    const cases: Array<[string, object, number[]]> = [
      ['limit=2', { limit: 2 }, [5, 6]],
      ['since=2', { since: 2 }, [3, 4, 5, 6]],
      ['since=2&limit=2', { since: 2, limit: 2 }, [5, 6]],
      ['since=4&limit=50', { since: 4, limit: 50 }, [5, 6]],
      ['since=6', { since: 6 }, []],
      ['limit=0', { limit: 0 }, []],
    ];
    for (const [q, frame, want] of cases) {
      const w = await pub.request({ type: 'channel_history', channel: 'hist', ...frame }, 'channel_history');
      assert.deepEqual(seqs(w.messages), want, `WS ${q}`);
      const h = await api(hub.url, 'GET', `/api/channels/hist/history?${q}`);
      assert.equal(h.status, 200);
      assert.deepEqual(Object.keys(h.body).sort(), ['channel', 'count', 'messages']);
      assert.deepEqual([h.body.channel, seqs(h.body.messages), h.body.count], ['hist', want, want.length], `HTTP ${q}`);
    }
    const empty = await api(hub.url, 'GET', '/api/channels/barrier/history');
    assert.deepEqual(empty.body.channel, 'barrier');
    const missing = await api(hub.url, 'GET', '/api/channels/ghost/history');
    assert.deepEqual([missing.status, missing.body.error], [404, 'channel_not_found']);
    assert.equal(
      (await pub.request({ type: 'channel_history', channel: 'ghost' }, 'error')).error,
      'channel_not_found',
    );
    pub.close();
  });

  test('fan-out to 50 subscribed sockets: every one gets every post, in order', async () => {
    const clients: TestClient[] = [];
    for (const id of fleet) {
      const c = await connectAgent(hub.wsUrl, id, tok[id], { presence_events: false });
      await c.request({ type: 'channel_subscribe', channel: 'fleet' }, 'channel_subscribed');
      clients.push(c);
    }
    const pub = await connectAgent(hub.wsUrl, 'pub', tok.pub, { presence_events: false });
    const acks: any[] = [];
    for (let i = 0; i < 3; i++)
      acks.push(await pub.request({ type: 'channel_publish', channel: 'fleet', payload: { i } }, 'channel_published'));
    assert.deepEqual(
      acks.map((a) => a.seq),
      [1, 2, 3],
    );
    await Promise.all(
      clients.map(async (c) => {
        const got = [];
        for (let i = 0; i < 3; i++) got.push((await c.next('channel_message', (f) => f.channel === 'fleet')).id);
        assert.deepEqual(
          got,
          acks.map((a) => a.id),
        );
      }),
    );
    assert.equal((await api(hub.url, 'GET', '/api/channels/fleet')).body.subscriber_count, 50);
    for (const c of [...clients, pub]) c.close();
    await sleep(50);
  });
});

describe('history caps', () => {
  let hub: TestHub;
  let tok: Record<string, string>;

  before(async () => {
    hub = await startTestHub({ channelHistoryPerChannel: 5, channelHistoryTotal: 8 });
    tok = await tokens(hub, ['p']);
    for (const name of ['a', 'b']) await create(hub, tok.p, { name });
  });
  after(() => hub.stop());

  const history = async (ch: string) =>
    seqs((await api(hub.url, 'GET', `/api/channels/${ch}/history?limit=50`)).body.messages);

  test('the per-channel cap keeps the newest entries, evicting in the publishing write', async () => {
    const pub = await connectAgent(hub.wsUrl, 'p', tok.p);
    for (let i = 1; i <= 5; i++)
      await pub.request({ type: 'channel_publish', channel: 'a', payload: { i } }, 'channel_published');
    assert.deepEqual(await history('a'), [1, 2, 3, 4, 5]);
    const sixth = await pub.request({ type: 'channel_publish', channel: 'a', payload: { i: 6 } }, 'channel_published');
    assert.equal(sixth.seq, 6, 'seq keeps counting past the cap');
    assert.deepEqual(await history('a'), [2, 3, 4, 5, 6], 'evicted by the time the ack arrives');
    await pub.request({ type: 'channel_publish', channel: 'a', payload: { i: 7 } }, 'channel_published');
    const ws = await pub.request({ type: 'channel_history', channel: 'a', limit: 50 }, 'channel_history');
    assert.deepEqual(seqs(ws.messages), [3, 4, 5, 6, 7]);
    pub.close();
  });

  test('the global cap evicts the oldest entries of any channel in the same write', async () => {
    const steps: Array<[number, number[], number[]]> = [
      [1, [3, 4, 5, 6, 7], [1]],
      [2, [3, 4, 5, 6, 7], [1, 2]],
      [3, [3, 4, 5, 6, 7], [1, 2, 3]],
      [4, [4, 5, 6, 7], [1, 2, 3, 4]],
      [5, [5, 6, 7], [1, 2, 3, 4, 5]],
      [6, [5, 6, 7], [2, 3, 4, 5, 6]],
    ];
    for (const [i, a, b] of steps) {
      const r = await api(hub.url, 'POST', '/api/channels/b/publish', { token: tok.p, body: { payload: { i } } });
      assert.equal(r.body.seq, i);
      assert.deepEqual([await history('a'), await history('b')], [a, b], `after b#${i}`);
    }
    const global = await api(hub.url, 'GET', `/api/messages?limit=200&token=${tok.p}`);
    assert.equal(global.body.count, 13, 'global message history keeps every post: the channel caps are separate');
  });
});

describe('restart persistence', () => {
  let hub: TestHub;
  let tok: Record<string, string>;

  before(async () => {
    hub = await startTestHub();
    tok = await tokens(hub, ['rp', 'rs', 'ro']);
  });
  after(() => hub.stop());

  test('channels, subscriptions and history survive a restart; fan-out and seq carry on', async () => {
    await create(hub, tok.rp, { name: 'durable', description: 'kept' });
    await create(hub, tok.rp, { name: 'empty' });
    const rs = await connectAgent(hub.wsUrl, 'rs', tok.rs);
    await rs.request({ type: 'channel_subscribe', channel: 'durable' }, 'channel_subscribed');
    rs.close();
    await post(hub, tok.ro, '/api/channels/durable/subscribe');
    for (let i = 1; i <= 3; i++)
      await api(hub.url, 'POST', '/api/channels/durable/publish', { token: tok.rp, body: { payload: { i } } });
    const beforeRestart = (await api(hub.url, 'GET', '/api/channels/durable')).body;

    await hub.stop({ keepData: true });
    hub = await startTestHub({}, hub.dataDir);

    const afterRestart = (await api(hub.url, 'GET', '/api/channels/durable')).body;
    assert.deepEqual(
      { ...afterRestart, subscribers: [...afterRestart.subscribers].sort() },
      { ...beforeRestart, subscribers: ['ro', 'rs'] },
    );
    const list = (await api(hub.url, 'GET', '/api/channels')).body.channels.map((c: { name: string }) => c.name);
    assert.deepEqual(list.sort(), ['durable', 'empty']);
    assert.deepEqual((await api(hub.url, 'GET', '/api/agents/rs/subscriptions')).body.channels, ['durable']);
    const hist = (await api(hub.url, 'GET', '/api/channels/durable/history')).body;
    assert.deepEqual(
      hist.messages.map((e: any) => [e.seq, e.message.payload.i]),
      [
        [1, 1],
        [2, 2],
        [3, 3],
      ],
    );
    assert.equal((await create(hub, tok.rp, { name: 'durable' })).status, 409);

    await whitelist(hub, 'rp', 'rs', 'ro');
    const sub = await connectAgent(hub.wsUrl, 'rs', tok.rs);
    const pub = await connectAgent(hub.wsUrl, 'rp', tok.rp);
    const ack = await pub.request(
      { type: 'channel_publish', channel: 'durable', payload: { after: 'restart' } },
      'channel_published',
    );
    assert.equal(ack.seq, 4, 'the channel seq continues after a restart');
    const m = await sub.next('channel_message');
    assert.deepEqual([m.id, m.payload], [ack.id, { after: 'restart' }]);
    const box = await api(hub.url, 'GET', '/api/mailbox/ro', { token: tok.ro });
    assert.ok(
      box.body.messages.some((x: { id: string }) => x.id === ack.id),
      'the offline subscriber gets its copy after the restart too',
    );
    sub.close();
    pub.close();
  });
});

describe('bad input on every channel frame and route', () => {
  let hub: TestHub;
  let tok: Record<string, string>;
  let c: TestClient;

  before(async () => {
    hub = await startTestHub({ violationMax: 1000 });
    tok = await tokens(hub, ['bad']);
    await create(hub, tok.bad, { name: 'ok' });
    c = await connectAgent(hub.wsUrl, 'bad', tok.bad);
  });
  after(async () => {
    c.close();
    await hub.stop();
  });

  const big = { x: 'y'.repeat(64 * 1024) };

  test('WS channel frames: missing, wrongly typed, empty-after-normalisation and over-long fields', async () => {
    const cases: Array<[object, string, string, string]> = [
      [{ type: 'channel_subscribe' }, 'channel_subscribe', 'channel', 'required'],
      [{ type: 'channel_subscribe', channel: null }, 'channel_subscribe', 'channel', 'required'],
      [{ type: 'channel_subscribe', channel: 5 }, 'channel_subscribe', 'channel', 'wrong_type'],
      [{ type: 'channel_subscribe', channel: ['ok'] }, 'channel_subscribe', 'channel', 'wrong_type'],
      [{ type: 'channel_subscribe', channel: 'c'.repeat(65) }, 'channel_subscribe', 'channel', 'too_long'],
      [{ type: 'channel_subscribe', channel: '##' }, 'channel_subscribe', 'channel', 'wrong_type'],
      [{ type: 'channel_unsubscribe' }, 'channel_unsubscribe', 'channel', 'required'],
      [{ type: 'channel_unsubscribe', channel: true }, 'channel_unsubscribe', 'channel', 'wrong_type'],
      [{ type: 'channel_publish', payload: {} }, 'channel_publish', 'channel', 'required'],
      [{ type: 'channel_publish', channel: 'ok' }, 'channel_publish', 'payload', 'required'],
      [{ type: 'channel_publish', channel: 'ok', payload: 'text' }, 'channel_publish', 'payload', 'wrong_type'],
      [{ type: 'channel_publish', channel: 'ok', payload: [1, 2] }, 'channel_publish', 'payload', 'wrong_type'],
      [{ type: 'channel_publish', channel: 'ok', payload: 7 }, 'channel_publish', 'payload', 'wrong_type'],
      [{ type: 'channel_publish', channel: 'ok', payload: big }, 'channel_publish', 'payload', 'too_long'],
      [
        { type: 'channel_publish', channel: 'ok', payload: {}, message_type: 1 },
        'channel_publish',
        'message_type',
        'wrong_type',
      ],
      [
        { type: 'channel_publish', channel: 'ok', payload: {}, reply_to: {} },
        'channel_publish',
        'reply_to',
        'wrong_type',
      ],
      [{ type: 'channel_history' }, 'channel_history', 'channel', 'required'],
      [{ type: 'channel_history', channel: 'ok', limit: '5' }, 'channel_history', 'limit', 'wrong_type'],
      [{ type: 'channel_history', channel: 'ok', limit: 1.5 }, 'channel_history', 'limit', 'wrong_type'],
      [{ type: 'channel_history', channel: 'ok', limit: -1 }, 'channel_history', 'limit', 'wrong_type'],
      [{ type: 'channel_history', channel: 'ok', since: '0' }, 'channel_history', 'since', 'wrong_type'],
      [{ type: 'channel_history', channel: 'ok', since: 2.5 }, 'channel_history', 'since', 'wrong_type'],
    ];
    for (const [frame, type, field, error] of cases)
      assertWsInvalid(await c.request(frame, 'error'), type, field, error);
    for (const name of ['###', '!', '']) {
      const f = await c.request({ type: 'channel_publish', channel: name, payload: {} }, 'error');
      assert.equal(f.error, 'validation_failed', `${JSON.stringify(name)} normalises to ""`);
      assert.equal(f.errors[0].field, 'channel');
    }
    const value = await c.request({ type: 'channel_history', channel: 'ok', limit: 1.5 }, 'error');
    assert.equal(value.errors[0].value, 1.5, 'a bad number is echoed as value');
    const ok = await c.request({ type: 'channel_publish', channel: 'ok', payload: { fine: 1 } }, 'channel_published');
    assert.equal(ok.seq, 1, 'the socket stays usable and nothing bad was stored');
    assert.equal(c.closed, null);
  });

  test('WS: publish, subscribe or history on a missing channel is channel_not_found; none before identify', async () => {
    for (const type of ['channel_publish', 'channel_subscribe', 'channel_unsubscribe', 'channel_history']) {
      const f = await c.request({ type, channel: '#Ghost', payload: {} }, 'error');
      assert.deepEqual(f, { type: 'error', error: 'channel_not_found', channel: 'ghost' });
    }
    const anon = await TestClient.open(hub.wsUrl);
    for (const type of ['list_channels', 'channel_subscribe', 'channel_publish', 'channel_history']) {
      const f = await anon.request({ type, channel: 'ok', payload: {} }, 'error');
      assert.deepEqual(f, { type: 'error', error: 'not_identified' });
    }
    anon.close();
  });

  test('HTTP create: missing, wrongly typed and malformed bodies', async () => {
    assertHttpInvalid(await create(hub, tok.bad, {}), 'name', 'required');
    assertHttpInvalid(await create(hub, tok.bad, { name: null }), 'name', 'required');
    assertHttpInvalid(await create(hub, tok.bad, { name: 12 }), 'name', 'wrong_type');
    assertHttpInvalid(await create(hub, tok.bad, { name: 'fine', description: 5 }), 'description', 'wrong_type');
    assertHttpInvalid(await create(hub, tok.bad, 'fine'), 'message', 'wrong_type');
    const list = await create(hub, tok.bad, ['fine']);
    assert.deepEqual([list.status, list.body.error], [422, 'validation_failed'], 'an array body is refused');
    const raw = await api(hub.url, 'POST', '/api/channels', { token: tok.bad, raw: '{"name":' });
    assert.deepEqual([raw.status, raw.body], [400, { error: 'invalid_json' }]);
    assert.equal((await create(hub, tok.bad, { name: 'fine', description: null })).status, 201, 'null = absent');
  });

  test('HTTP publish: payload missing, not an object, over 64 KiB; bad type; missing channel; no token', async () => {
    const pub = (body: unknown, ch = 'ok') =>
      api(hub.url, 'POST', `/api/channels/${ch}/publish`, { token: tok.bad, body });
    assertHttpInvalid(await pub({}), 'payload', 'required');
    assertHttpInvalid(await pub({ payload: 'text' }), 'payload', 'wrong_type');
    assertHttpInvalid(await pub({ payload: [1] }), 'payload', 'wrong_type');
    assertHttpInvalid(await pub({ payload: big }), 'payload', 'too_long');
    assertHttpInvalid(await pub({ payload: {}, type: 3 }), 'type', 'wrong_type');
    assertHttpInvalid(await pub({ payload: {}, reply_to: 3 }), 'reply_to', 'wrong_type');
    const missing = await pub({ payload: {} }, 'ghost');
    assert.deepEqual([missing.status, missing.body.error], [404, 'channel_not_found']);
    const anon = await api(hub.url, 'POST', '/api/channels/ok/publish', { body: { payload: {} } });
    assert.equal(anon.status, 401);
    const viaQuery = await api(hub.url, 'POST', `/api/channels/ok/publish?token=${tok.bad}`, { body: { payload: {} } });
    assert.equal(viaQuery.status, 401, 'auth routes take the bearer header only');
    const hist = await api(hub.url, 'GET', '/api/channels/ok/history');
    assert.equal(hist.body.count, 1, 'no refused publish was stored');
  });

  test('HTTP history: non-integer limit or since is 422, never 500 (§9.13)', async () => {
    for (const q of ['limit=x', 'limit=1.5', 'limit=-1', 'since=abc', 'since=2.5', 'since=-3', 'limit=', 'since=1e3']) {
      const [field] = q.split('=');
      assertHttpInvalid(await api(hub.url, 'GET', `/api/channels/ok/history?${q}`), field, 'wrong_type');
    }
  });

  test('HTTP :ch that normalises to nothing or is too long is 422 on every channel route', async () => {
    const routes: Array<[string, string]> = [
      ['GET', ''],
      ['GET', '/history'],
      ['POST', '/subscribe'],
      ['POST', '/unsubscribe'],
      ['POST', '/publish'],
    ];
    for (const [method, tail] of routes) {
      for (const [ch, error] of [
        ['%23%23%23', 'wrong_type'],
        ['d'.repeat(65), 'too_long'],
      ]) {
        const body = method === 'POST' ? { payload: {} } : undefined;
        const r = await api(hub.url, method, `/api/channels/${ch}${tail}`, { token: tok.bad, body });
        assertHttpInvalid(r, 'channel', error);
      }
    }
  });

  test('HTTP :ch with a malformed %-escape is a 4xx, never a 500', async () => {
    const r = await api(hub.url, 'GET', '/api/channels/%E0%A4%A');
    assert.ok(r.status >= 400 && r.status < 500, `got ${r.status}`);
  });
});
