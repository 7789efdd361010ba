import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { connectAgent, sleep, TestClient } from './helpers/client.js';
import { api, startTestHub, type TestHub, tokenFor, whitelist } from './helpers/hub.js';

const ID = /^[0-9a-f]{16}$/;
const MSG_KEYS = ['from', 'id', 'payload', 'reply_to', 'timestamp', 'to', 'type'];
const HOUR = 3_600_000;

type Msg = { id: string; from: string; to: string | null; type: string; seq: number; timestamp: number };

const ids = (list: Array<{ id: string }>) => list.map((m) => m.id);

/** Polls until `check` holds. */
async function eventually(check: () => Promise<boolean>, what: string, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`never: ${what}`);
    await sleep(20);
  }
}

describe('POST /api/message', () => {
  let hub: TestHub;
  const tok: Record<string, string> = {};
  const post = (from: string, body: object, headers: Record<string, string> = {}) =>
    api(hub.url, 'POST', '/api/message', { token: tok[from], body, headers });

  before(async () => {
    hub = await startTestHub();
    for (const id of ['ann', 'ben', 'cat', 'dan']) tok[id] = await tokenFor(hub, id);
    await whitelist(hub, 'ann', 'ben', 'cat', 'dan');
  });
  after(() => hub.stop());

  test('a direct message → {status:"sent", id}, delivered live over WS to the recipient', async () => {
    const ben = await connectAgent(hub.wsUrl, 'ben', tok.ben);
    const r = await post('ann', { to: 'ben', payload: { n: 1 } });
    assert.equal(r.status, 200);
    assert.deepEqual(Object.keys(r.body).sort(), ['id', 'status']);
    assert.equal(r.body.status, 'sent');
    assert.match(r.body.id, ID);
    const got = await ben.next('message', (m) => m.id === r.body.id);
    assert.equal(typeof got.timestamp, 'number');
    assert.deepEqual(got, {
      type: 'message',
      id: r.body.id,
      from: 'ann',
      message_type: 'chat',
      payload: { n: 1 },
      reply_to: null,
      timestamp: got.timestamp,
    });
    ben.close();
  });

  test('type and reply_to pass through; from is always the token’s agent', async () => {
    const ben = await connectAgent(hub.wsUrl, 'ben', tok.ben);
    const first = await post('ann', { to: 'ben', payload: {} });
    const r = await post('ann', {
      to: 'ben',
      payload: { q: 1 },
      type: 'question',
      reply_to: first.body.id,
      from: 'mallory',
    });
    const got = await ben.next('message', (m) => m.id === r.body.id);
    assert.deepEqual([got.from, got.message_type, got.reply_to], ['ann', 'question', first.body.id]);
    ben.close();
  });

  test('without to, or to "broadcast", it reaches every socket, the sender’s too, and history has to:null', async () => {
    const ann = await connectAgent(hub.wsUrl, 'ann', tok.ann);
    const ben = await connectAgent(hub.wsUrl, 'ben', tok.ben);
    for (const body of [{ payload: { b: 1 } }, { to: 'broadcast', payload: { b: 2 } }]) {
      const r = await post('ann', body);
      assert.equal((await ann.next('message', (m) => m.id === r.body.id)).from, 'ann');
      assert.equal((await ben.next('message', (m) => m.id === r.body.id)).from, 'ann');
      const hist = await api(hub.url, 'GET', '/api/messages?from=ann&limit=200', { token: tok.ann });
      const stored = hist.body.messages.find((m: Msg) => m.id === r.body.id);
      assert.equal(stored.to, null, JSON.stringify(body));
    }
    ann.close();
    ben.close();
  });

  test('a repeated Idempotency-Key returns the same id and stores and delivers one message', async () => {
    const ben = await connectAgent(hub.wsUrl, 'ben', tok.ben);
    const marker = { idem: 'header' };
    const first = await post('ann', { to: 'ben', payload: marker }, { 'Idempotency-Key': 'k-1' });
    for (let i = 0; i < 3; i++) {
      const again = await post('ann', { to: 'ben', payload: marker }, { 'Idempotency-Key': 'k-1' });
      assert.deepEqual([again.status, again.body], [200, first.body]);
    }
    const sentinel = await post('ann', { to: 'ben', payload: { sentinel: 1 } });
    await ben.next('message', (m) => m.id === sentinel.body.id);
    assert.equal(ben.frames.filter((f) => f.id === first.body.id).length, 1, 'one live frame');
    const hist = await api(hub.url, 'GET', '/api/messages?from=ann&to=ben&limit=200', { token: tok.ann });
    assert.equal(
      hist.body.messages.filter((m: { payload: unknown }) => JSON.stringify(m.payload) === JSON.stringify(marker))
        .length,
      1,
    );
    ben.close();
  });

  test('the key may come in the body; it is scoped to the sender; another key is another message', async () => {
    const a = await post('ann', { to: 'cat', payload: { k: 'body' }, idempotency_key: 'k-2' });
    const a2 = await post('ann', { to: 'cat', payload: { k: 'body' }, idempotency_key: 'k-2' });
    assert.equal(a2.body.id, a.body.id);
    const other = await post('ann', { to: 'cat', payload: { k: 'body' }, idempotency_key: 'k-3' });
    assert.notEqual(other.body.id, a.body.id);
    const byBen = await post('ben', { to: 'cat', payload: { k: 'body' }, idempotency_key: 'k-2' });
    assert.notEqual(byBen.body.id, a.body.id, 'keys are per sending agent');
    const mailbox = await api(hub.url, 'GET', '/api/mailbox/cat', { token: tok.cat });
    const got = ids(mailbox.body.messages);
    assert.equal(got.filter((id) => id === a.body.id).length, 1);
    assert.ok(got.includes(other.body.id) && got.includes(byBen.body.id));
    const last = mailbox.body.last_seq;
    await api(hub.url, 'POST', '/api/mailbox/cat/ack', { token: tok.cat, body: { seq: last } });
  });
});

describe('the mailbox over HTTP', () => {
  let hub: TestHub;
  const tok: Record<string, string> = {};

  before(async () => {
    hub = await startTestHub();
    for (const id of ['ann', 'cat']) tok[id] = await tokenFor(hub, id);
    tok.cat2 = await tokenFor(hub, 'cat');
    await whitelist(hub, 'ann', 'cat');
  });
  after(() => hub.stop());

  test('poll → {agent_id, messages:[Msg+seq], last_seq, count}; polling keeps entries; since filters; ack deletes ≤ seq', async () => {
    const sent: string[] = [];
    for (let i = 0; i < 3; i++) {
      const r = await api(hub.url, 'POST', '/api/message', { token: tok.ann, body: { to: 'cat', payload: { i } } });
      sent.push(r.body.id);
    }
    const poll = await api(hub.url, 'GET', '/api/mailbox/cat', { token: tok.cat });
    assert.equal(poll.status, 200);
    assert.deepEqual(Object.keys(poll.body).sort(), ['agent_id', 'count', 'last_seq', 'messages']);
    assert.equal(poll.body.agent_id, 'cat');
    assert.equal(poll.body.count, 3);
    assert.deepEqual(ids(poll.body.messages), sent);
    for (const m of poll.body.messages) {
      assert.deepEqual(Object.keys(m).sort(), [...MSG_KEYS, 'seq'].sort());
      assert.deepEqual([m.from, m.to, m.type, m.reply_to], ['ann', 'cat', 'chat', null]);
    }
    const seqs = poll.body.messages.map((m: Msg) => m.seq);
    assert.ok(seqs[0] < seqs[1] && seqs[1] < seqs[2], 'ascending seq');
    assert.equal(poll.body.last_seq, seqs[2]);
    assert.deepEqual(
      (await api(hub.url, 'GET', '/api/mailbox/cat?since=0', { token: tok.cat })).body,
      poll.body,
      'kept',
    );

    const since = await api(hub.url, 'GET', `/api/mailbox/cat?since=${seqs[0]}`, { token: tok.cat });
    assert.deepEqual([ids(since.body.messages), since.body.last_seq, since.body.count], [sent.slice(1), seqs[2], 2]);
    const none = await api(hub.url, 'GET', `/api/mailbox/cat?since=${seqs[2]}`, { token: tok.cat });
    assert.deepEqual(none.body, { agent_id: 'cat', messages: [], last_seq: seqs[2], count: 0 });

    const ack = await api(hub.url, 'POST', '/api/mailbox/cat/ack', { token: tok.cat, body: { seq: seqs[1] } });
    assert.deepEqual([ack.status, ack.body], [200, { status: 'acked', up_to: seqs[1] }]);
    const left = await api(hub.url, 'GET', '/api/mailbox/cat', { token: tok.cat2 });
    assert.deepEqual([ids(left.body.messages), left.body.count], [[sent[2]], 1]);
    await api(hub.url, 'POST', '/api/mailbox/cat/ack', { token: tok.cat, body: { seq: seqs[2] } });
    const empty = await api(hub.url, 'GET', '/api/mailbox/cat', { token: tok.cat });
    assert.deepEqual(empty.body, { agent_id: 'cat', messages: [], last_seq: 0, count: 0 });
  });

  test('a poll returns every entry after since, however many (§4; §9 lists no page cap)', async () => {
    const many = await tokenFor(hub, 'many');
    const ann = await connectAgent(hub.wsUrl, 'ann', tok.ann);
    const n = 1005;
    const acks: Promise<unknown>[] = [];
    for (let i = 0; i < n; i++) {
      acks.push(ann.next('message_sent', () => true, 20_000));
      ann.send({ type: 'message', to: 'many', payload: { i } });
    }
    await Promise.all(acks);
    ann.close();
    const poll = await api(hub.url, 'GET', '/api/mailbox/many', { token: many });
    assert.equal(poll.body.count, n);
  });

  test('a broadcast leaves one copy per offline agent (not per token) and none for the sender', async () => {
    const r = await api(hub.url, 'POST', '/api/message', { token: tok.ann, body: { payload: { all: 1 } } });
    const cat = await api(hub.url, 'GET', '/api/mailbox/cat', { token: tok.cat });
    assert.deepEqual(ids(cat.body.messages), [r.body.id]);
    assert.equal(cat.body.messages[0].to, null);
    const ann = await api(hub.url, 'GET', '/api/mailbox/ann', { token: tok.ann });
    assert.ok(!ids(ann.body.messages).includes(r.body.id));
  });
});

describe('GET /api/messages', () => {
  let hub: TestHub;
  const tok: Record<string, string> = {};
  /** m1 a→b, m2 b→a, m3 a→c, m4 a→b, m5 c→broadcast, with distinct timestamps */
  let m: Msg[] = [];
  const get = async (q: string) => (await api(hub.url, 'GET', `/api/messages?${q}`, { token: tok.a })).body;

  before(async () => {
    hub = await startTestHub();
    for (const id of ['a', 'b', 'c']) tok[id] = await tokenFor(hub, id);
    await whitelist(hub, 'a', 'b', 'c');
    for (const [from, to] of [
      ['a', 'b'],
      ['b', 'a'],
      ['a', 'c'],
      ['a', 'b'],
      ['c', undefined],
    ] as const) {
      await api(hub.url, 'POST', '/api/message', { token: tok[from], body: { to, payload: { from, to } } });
      await sleep(3);
    }
    m = (await get('')).messages;
  });
  after(() => hub.stop());

  test('unfiltered: every message in seq order as Msg+seq, cursor = last seq, count', async () => {
    const all = await get('');
    assert.deepEqual(Object.keys(all).sort(), ['count', 'cursor', 'messages']);
    assert.equal(all.count, 5);
    assert.deepEqual(
      all.messages.map((x: Msg) => [x.from, x.to]),
      [
        ['a', 'b'],
        ['b', 'a'],
        ['a', 'c'],
        ['a', 'b'],
        ['c', null],
      ],
    );
    for (const x of all.messages) assert.deepEqual(Object.keys(x).sort(), [...MSG_KEYS, 'seq'].sort());
    for (let i = 1; i < 5; i++) {
      assert.ok(m[i].seq > m[i - 1].seq, 'ascending seq');
      assert.ok(m[i].timestamp > m[i - 1].timestamp, 'distinct timestamps');
    }
    assert.equal(all.cursor, m[4].seq);
  });

  test('from, to and both (ANDed)', async () => {
    assert.deepEqual(ids((await get('from=a')).messages), ids([m[0], m[2], m[3]]));
    assert.deepEqual(ids((await get('to=b')).messages), ids([m[0], m[3]]));
    assert.deepEqual(ids((await get('from=a&to=b')).messages), ids([m[0], m[3]]));
    assert.deepEqual(ids((await get('from=b&to=c')).messages), []);
    assert.deepEqual(ids((await get('from=c')).messages), ids([m[4]]));
  });

  test('start_time and end_time are inclusive', async () => {
    assert.deepEqual(
      ids((await get(`start_time=${m[1].timestamp}&end_time=${m[3].timestamp}`)).messages),
      ids([m[1], m[2], m[3]]),
    );
    assert.deepEqual(ids((await get(`start_time=${m[3].timestamp}`)).messages), ids([m[3], m[4]]));
    assert.deepEqual(ids((await get(`end_time=${m[0].timestamp}`)).messages), ids([m[0]]));
    assert.deepEqual(ids((await get(`from=a&start_time=${m[1].timestamp}`)).messages), ids([m[2], m[3]]));
    assert.deepEqual(ids((await get(`start_time=${m[4].timestamp + 1}`)).messages), []);
  });

  test('cursor is exclusive; a page returns its last seq, an empty page the input cursor', async () => {
    assert.deepEqual(ids((await get(`cursor=${m[1].seq}`)).messages), ids([m[2], m[3], m[4]]));
    const p1 = await get('limit=2');
    assert.deepEqual([ids(p1.messages), p1.cursor, p1.count], [ids([m[0], m[1]]), m[1].seq, 2]);
    const p2 = await get(`limit=2&cursor=${p1.cursor}`);
    assert.deepEqual([ids(p2.messages), p2.cursor], [ids([m[2], m[3]]), m[3].seq]);
    const p3 = await get(`limit=2&cursor=${p2.cursor}`);
    assert.deepEqual([ids(p3.messages), p3.cursor], [ids([m[4]]), m[4].seq]);
    const p4 = await get(`limit=2&cursor=${p3.cursor}`);
    assert.deepEqual([p4.messages, p4.cursor, p4.count], [[], m[4].seq, 0]);
    const filtered = await get(`from=a&cursor=${m[0].seq}&limit=1`);
    assert.deepEqual([ids(filtered.messages), filtered.cursor], [ids([m[2]]), m[2].seq]);
  });

  test('limit defaults to 50 and is capped at 200; paging with the cursor sees every message once', async () => {
    const c: TestClient = await connectAgent(hub.wsUrl, 'a', tok.a);
    const n = 210;
    const acks: Promise<unknown>[] = [];
    for (let i = 0; i < n; i++) {
      acks.push(c.next('message_sent', () => true, 10_000));
      c.send({ type: 'message', to: 'b', payload: { i } });
    }
    await Promise.all(acks);
    c.close();
    assert.equal((await get('')).count, 50);
    assert.equal((await get('limit=200')).count, 200);
    assert.equal((await get('limit=500')).count, 200);
    const seen: number[] = [];
    let cursor = 0;
    for (;;) {
      const page = await get(`limit=200&cursor=${cursor}`);
      if (page.count === 0) {
        assert.equal(page.cursor, cursor);
        break;
      }
      seen.push(...page.messages.map((x: Msg) => x.seq));
      cursor = page.cursor;
    }
    assert.equal(seen.length, n + 5);
    assert.equal(new Set(seen).size, seen.length, 'no duplicates');
    assert.deepEqual(
      seen,
      [...seen].sort((x, y) => x - y),
      'ascending',
    );
  });
});

describe('threads: /api/threads/:id, /replies, /root', () => {
  let hub: TestHub;
  const tok: Record<string, string> = {};
  const t: Record<string, string> = {};
  const get = async (path: string) => (await api(hub.url, 'GET', path, { token: tok.a })).body;

  before(async () => {
    hub = await startTestHub();
    for (const id of ['a', 'b']) tok[id] = await tokenFor(hub, id);
    await whitelist(hub, 'a', 'b');
    const send = async (from: string, to: string, reply_to?: string) => {
      const r = await api(hub.url, 'POST', '/api/message', { token: tok[from], body: { to, payload: {}, reply_to } });
      await sleep(3);
      return r.body.id as string;
    };
    t.root = await send('a', 'b');
    t.r1 = await send('b', 'a', t.root);
    t.r2 = await send('a', 'b', t.r1);
    t.r3 = await send('b', 'a', t.root);
    // one reply over WebSocket: both paths feed the thread index
    const ws = await connectAgent(hub.wsUrl, 'a', tok.a);
    t.r4 = (await ws.request({ type: 'message', to: 'b', payload: {}, reply_to: t.r2 }, 'message_sent')).id;
    ws.close();
    t.lone = await send('a', 'b');
    t.orphan = await send('a', 'b', 'feedfacefeedface');
  });
  after(() => hub.stop());

  test('a thread is its root plus every descendant by timestamp, from any member', async () => {
    const want = [t.root, t.r1, t.r2, t.r3, t.r4];
    for (const from of [t.root, t.r2, t.r4]) {
      const th = await get(`/api/threads/${from}`);
      assert.deepEqual(Object.keys(th).sort(), ['count', 'messages', 'root']);
      assert.equal(th.root, t.root);
      assert.deepEqual(ids(th.messages), want, `from ${from}`);
      assert.equal(th.count, 5);
      for (const x of th.messages) {
        for (const k of MSG_KEYS) assert.ok(k in x, k);
      }
      const times = th.messages.map((x: Msg) => x.timestamp);
      assert.deepEqual(
        times,
        [...times].sort((x: number, y: number) => x - y),
      );
    }
    const byToken = await api(hub.url, 'GET', `/api/threads/${t.r1}?token=${tok.b}`);
    assert.equal(byToken.body.root, t.root);
  });

  test('replies are the direct children of a message', async () => {
    assert.deepEqual(await get(`/api/threads/${t.root}/replies`).then((r) => [r.parent, ids(r.replies), r.count]), [
      t.root,
      [t.r1, t.r3],
      2,
    ]);
    assert.deepEqual(ids((await get(`/api/threads/${t.r1}/replies`)).replies), [t.r2]);
    assert.deepEqual(ids((await get(`/api/threads/${t.r2}/replies`)).replies), [t.r4]);
    assert.deepEqual(await get(`/api/threads/${t.r4}/replies`), { parent: t.r4, replies: [], count: 0 });
  });

  test('root walks reply_to up to the top', async () => {
    for (const id of [t.root, t.r1, t.r2, t.r3, t.r4]) {
      assert.deepEqual(await get(`/api/threads/${id}/root`), { message_id: id, root: t.root });
    }
  });

  test('an unknown id is its own root with an empty thread; a message without replies is a thread of one', async () => {
    const x = '0123456789abcdef';
    assert.deepEqual(await get(`/api/threads/${x}/root`), { message_id: x, root: x });
    assert.deepEqual(await get(`/api/threads/${x}`), { root: x, messages: [], count: 0 });
    assert.deepEqual(await get(`/api/threads/${x}/replies`), { parent: x, replies: [], count: 0 });
    const lone = await get(`/api/threads/${t.lone}`);
    assert.deepEqual([lone.root, ids(lone.messages), lone.count], [t.lone, [t.lone], 1]);
  });

  test('a reply to an unknown id hangs under that id as its root', async () => {
    assert.deepEqual(await get(`/api/threads/${t.orphan}/root`), { message_id: t.orphan, root: 'feedfacefeedface' });
    const th = await get('/api/threads/feedfacefeedface');
    assert.deepEqual([th.root, ids(th.messages)], ['feedfacefeedface', [t.orphan]]);
  });
});

describe('agents: /api/agents, /api/agents/states, /api/agents/:id/state', () => {
  let hub: TestHub;
  const tok: Record<string, string> = {};

  before(async () => {
    hub = await startTestHub();
    for (const id of ['ann', 'ben', 'offline']) tok[id] = await tokenFor(hub, id);
    await whitelist(hub, 'ann', 'ben', 'offline');
  });
  after(() => hub.stop());

  test('GET /api/agents lists identified agents only, with fsm_state', async () => {
    const ann = await connectAgent(hub.wsUrl, 'ann', tok.ann, {
      name: 'Ann A.',
      status: 'busy',
      capabilities: ['code', 'review'],
    });
    const ben = await connectAgent(hub.wsUrl, 'ben', tok.ben);
    const anon = await TestClient.open(hub.wsUrl);
    const r = await api(hub.url, 'GET', '/api/agents');
    assert.equal(r.status, 200);
    assert.deepEqual(r.body.agents.map((a: { agent_id: string }) => a.agent_id).sort(), ['ann', 'ben']);
    const a = r.body.agents.find((x: { agent_id: string }) => x.agent_id === 'ann');
    for (const k of ['agent_id', 'name', 'status', 'capabilities', 'connected_at', 'fsm_state']) assert.ok(k in a, k);
    assert.deepEqual([a.name, a.status, a.capabilities, a.fsm_state], ['Ann A.', 'busy', ['code', 'review'], 'idle']);
    assert.equal(typeof a.connected_at, 'number');
    const b = r.body.agents.find((x: { agent_id: string }) => x.agent_id === 'ben');
    assert.deepEqual([b.name, b.status, b.capabilities], ['ben', 'connected', []], 'identify defaults');

    await ann.request({ type: 'status', status: 'reviewing' }, 'status_updated');
    const again = await api(hub.url, 'GET', '/api/agents');
    assert.equal(again.body.agents.find((x: { agent_id: string }) => x.agent_id === 'ann').status, 'reviewing');

    ben.close();
    await eventually(
      async () =>
        !(await api(hub.url, 'GET', '/api/agents')).body.agents.some((x: { agent_id: string }) => x.agent_id === 'ben'),
      'ben leaves the list',
    );
    ann.close();
    anon.close();
    await eventually(async () => (await api(hub.url, 'GET', '/api/agents')).body.agents.length === 0, 'all gone');
  });

  test('GET /api/agents/states and /api/agents/:id/state (auth); 404 agent_not_found', async () => {
    const ann = await connectAgent(hub.wsUrl, 'ann', tok.ann, { capabilities: ['code', 'review'] });
    const states = await api(hub.url, 'GET', '/api/agents/states', { token: tok.ben });
    assert.equal(states.status, 200);
    assert.equal(states.body.agents.length, 1);
    const s = states.body.agents[0];
    assert.deepEqual(Object.keys(s).sort(), [
      'agent_id',
      'capabilities',
      'connected_at',
      'current_task_id',
      'flags',
      'fsm_state',
      'name',
    ]);
    assert.deepEqual(
      [s.agent_id, s.name, s.fsm_state, s.current_task_id, s.capabilities],
      ['ann', 'ann', 'idle', null, [{ name: 'code' }, { name: 'review' }]],
    );
    assert.ok(Array.isArray(s.flags));

    const one = await api(hub.url, 'GET', '/api/agents/ann/state', { token: tok.ben });
    assert.equal(one.status, 200);
    const { last_state_change, ...rest } = one.body;
    assert.deepEqual(rest, s);
    assert.ok(last_state_change === null || typeof last_state_change === 'number');

    for (const id of ['nobody', 'offline']) {
      const r = await api(hub.url, 'GET', `/api/agents/${id}/state`, { token: tok.ben });
      assert.deepEqual([r.status, r.body.error], [404, 'agent_not_found'], id);
    }
    ann.close();
  });
});

describe('analytics reflect real sends', () => {
  test('/api/analytics/summary, /agents and /agents/:id/hourly', async () => {
    const hub = await startTestHub();
    try {
      const tok: Record<string, string> = {};
      for (const id of ['p', 'q', 'r', 's']) tok[id] = await tokenFor(hub, id);
      await whitelist(hub, 'p', 'q', 'r', 's');
      const hourAtStart = Math.floor(Date.now() / HOUR);

      const p = await connectAgent(hub.wsUrl, 'p', tok.p);
      const q = await connectAgent(hub.wsUrl, 'q', tok.q);
      const r = await connectAgent(hub.wsUrl, 'r', tok.r);
      const s = await connectAgent(hub.wsUrl, 's', tok.s);
      s.close();
      await eventually(async () => (await api(hub.url, 'GET', '/health')).body.agents_connected === 3, 's left');

      for (let i = 0; i < 3; i++) {
        const sent = await api(hub.url, 'POST', '/api/message', { token: tok.p, body: { to: 'q', payload: { i } } });
        await q.next('message', (m) => m.id === sent.body.id);
      }
      const back = await q.request({ type: 'message', to: 'p', payload: {} }, 'message_sent');
      await p.next('message', (m) => m.id === back.id);
      await api(hub.url, 'POST', '/api/message', { token: tok.p, body: { to: 'nobody', payload: {} } });
      const sameHour = Math.floor(Date.now() / HOUR) === hourAtStart;

      const summary = (await api(hub.url, 'GET', '/api/analytics/summary')).body;
      assert.deepEqual(Object.keys(summary).sort(), [
        'agents_active',
        'agents_connected',
        'agents_idle',
        'agents_offline',
        'timestamp',
        'total_agents',
        'total_messages_24h',
      ]);
      const { timestamp, ...counts } = summary;
      assert.equal(typeof timestamp, 'number');
      assert.deepEqual(counts, {
        total_agents: 4,
        agents_connected: 3,
        agents_active: 2,
        agents_idle: 1,
        agents_offline: 1,
        total_messages_24h: 5,
      });

      const per = (await api(hub.url, 'GET', '/api/analytics/agents')).body.agents;
      const by = (id: string) => per.find((a: { agent_id: string }) => a.agent_id === id);
      assert.deepEqual(per.map((a: { agent_id: string }) => a.agent_id).sort(), ['p', 'q', 'r', 's']);
      for (const a of per) {
        assert.deepEqual(Object.keys(a).sort(), [
          'agent_id',
          'connected',
          'connection_time_24h_ms',
          'idle_ms',
          'last_active',
          'last_seen',
          'messages_received_24h',
          'messages_sent_24h',
          'messages_sent_this_hour',
          'status',
          'total_connections',
        ]);
        assert.equal(a.total_connections, 1, a.agent_id);
        assert.ok(a.connection_time_24h_ms >= 0);
      }
      assert.deepEqual(
        [by('p').connected, by('p').messages_sent_24h, by('p').messages_received_24h, by('p').status],
        [true, 4, 1, 'connected'],
      );
      assert.deepEqual([by('q').messages_sent_24h, by('q').messages_received_24h], [1, 3]);
      assert.deepEqual([by('r').messages_sent_24h, by('r').messages_received_24h, by('r').last_active], [0, 0, null]);
      assert.deepEqual([by('s').connected, by('s').status], [false, 'offline']);
      assert.equal(typeof by('p').last_active, 'number');
      if (sameHour) assert.equal(by('p').messages_sent_this_hour, 4);

      for (const [id, sent, received] of [
        ['p', 4, 1],
        ['q', 1, 3],
        ['r', 0, 0],
        ['ghost', 0, 0],
      ] as const) {
        const h = (await api(hub.url, 'GET', `/api/analytics/agents/${id}/hourly`)).body;
        assert.equal(h.agent_id, id);
        assert.equal(h.hourly.length, 24);
        h.hourly.forEach((b: { bucket: number; hour: number }, i: number) => {
          assert.equal(b.bucket, i);
          assert.equal(b.hour % HOUR, 0);
          if (i > 0) assert.equal(b.hour - h.hourly[i - 1].hour, HOUR);
        });
        const sum = (k: 'sent' | 'received') => h.hourly.reduce((n: number, b: Record<string, number>) => n + b[k], 0);
        assert.deepEqual([sum('sent'), sum('received')], [sent, received], id);
        if (sameHour) assert.deepEqual([h.hourly[23].sent, h.hourly[23].received], [sent, received]);
      }
      p.close();
      q.close();
      r.close();
    } finally {
      await hub.stop();
    }
  });
});

describe('hub information: schemas and metrics', () => {
  let hub: TestHub;

  before(async () => {
    hub = await startTestHub();
  });
  after(() => hub.stop());

  test('GET /api/schemas lists every frame and route with its fields; GET /api/metrics has the §3 sections', async () => {
    const schemas = await api(hub.url, 'GET', '/api/schemas');
    const message = schemas.body.schemas.websocket.find((w: { type: string }) => w.type === 'message');
    assert.deepEqual(message.required_fields, [{ name: 'payload', type: 'object' }]);
    assert.ok(schemas.body.schemas.http.some((r: { path: string }) => r.path === '/api/tasks'));
    const metrics = await api(hub.url, 'GET', '/api/metrics');
    for (const k of ['queue_depth', 'task_latency', 'agent_utilization', 'error_rates', 'dets_health'])
      assert.ok(k in metrics.body, k);
  });
});
