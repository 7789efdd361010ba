import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { LiveFeed, type Viewer } from '../main/live-feed.js';
import { connectAgent, sleep } from './helpers/client.js';
import { ADMIN_TOKEN, api, startTestHub, type TestHub, tokenFor, whitelist } from './helpers/hub.js';

/** A viewer that keeps what it was sent; `stalled` pretends its socket stopped reading. */
function viewer(stalled = false) {
  const got: string[] = [];
  let closed = false;
  const v: Viewer = {
    write: (t) => {
      if (closed) return false;
      got.push(t);
      return true;
    },
    buffered: () => (stalled ? got.join('').length : 0),
    close: () => {
      closed = true;
    },
  };
  return { v, got, isClosed: () => closed };
}

const events = (got: string[]) =>
  got
    .filter((t) => t.startsWith('event:'))
    .map((t) => ({ name: /^event: (.*)$/m.exec(t)?.[1], data: JSON.parse(/^data: (.*)$/m.exec(t)?.[1] ?? 'null') }));

function feed(resolve = {}) {
  const watching: boolean[] = [];
  const f = new LiveFeed({
    flushMs: 5,
    bufferMax: 200,
    resolve,
    tick: () => ({}),
    watching: (on) => watching.push(on),
  });
  return { f, watching };
}

describe('the live feed', () => {
  test('nothing is kept while nobody watches; a viewer gets its snapshot, then coalesced deltas', async () => {
    const { f, watching } = feed({ agents: (k: string) => ({ agent_id: k, n: 2 }) });
    f.set('tasks', 'lost', { id: 'lost' });
    const a = viewer();
    await f.add(a.v, async () => ({ hello: 1 }));
    assert.deepEqual(watching, [true]);
    f.set('tasks', 't1', { status: 'queued' });
    f.set('tasks', 't1', { status: 'assigned' });
    f.touch('agents', 'bob');
    await sleep(30);
    const [snap, delta] = events(a.got);
    assert.deepEqual([snap.name, snap.data.hello], ['snapshot', 1]);
    assert.equal(delta.name, 'delta');
    assert.deepEqual(delta.data.changes, {
      tasks: { t1: { status: 'assigned' } },
      agents: { bob: { agent_id: 'bob', n: 2 } },
    });
    f.close();
    assert.deepEqual(watching, [true, false]);
  });

  test('deltas during a slow snapshot follow it, in order; every viewer gets the same event', async () => {
    const { f } = feed();
    const a = viewer();
    await f.add(a.v, async () => ({}));
    const b = viewer();
    let release = () => {};
    const pending = f.add(b.v, () => new Promise((r) => (release = () => r({ late: true }))));
    f.set('alerts', 'x', { rule_id: 'x' });
    await sleep(30);
    assert.equal(b.got.length, 0, 'nothing before the snapshot');
    release();
    await pending;
    const names = events(b.got).map((e) => e.name);
    assert.deepEqual(names, ['snapshot', 'delta']);
    assert.equal(b.got[1], a.got[1], 'one encoding for every viewer');
    f.close();
  });

  test('a viewer that stops reading is cut off at its buffer cap; the others go on', async () => {
    const { f } = feed();
    const slow = viewer(true);
    const fast = viewer();
    await f.add(slow.v, async () => ({}));
    await f.add(fast.v, async () => ({}));
    for (let i = 0; i < 20; i++) {
      f.set('tasks', `t${i}`, { pad: 'x'.repeat(50) });
      await sleep(10);
    }
    assert.ok(slow.isClosed(), 'the stalled viewer is closed');
    assert.equal(f.dropped, 1);
    assert.ok(!fast.isClosed());
    assert.ok(events(fast.got).length > 2);
    f.close();
  });
});

describe('GET /admin/live', () => {
  let hub: TestHub;
  before(async () => {
    hub = await startTestHub();
    await whitelist(hub, 'livy');
  });
  after(() => hub.stop());

  test('needs the admin token; streams a snapshot, then the changes (an agent and a task)', async () => {
    assert.equal((await api(hub.adminUrl, 'GET', '/admin/live')).status, 401);
    const ctrl = new AbortController();
    const res = await fetch(`${hub.adminUrl}/admin/live`, {
      headers: { authorization: `Bearer ${ADMIN_TOKEN}` },
      signal: ctrl.signal,
    });
    assert.match(res.headers.get('content-type') ?? '', /text\/event-stream/);
    const reader = (res.body as ReadableStream<Uint8Array>).getReader();
    const dec = new TextDecoder();
    let text = '';
    const until = async (pred: (t: string) => boolean) => {
      const deadline = Date.now() + 10_000;
      while (!pred(text)) {
        assert.ok(Date.now() < deadline, `timed out; got ${text.slice(-500)}`);
        const { value } = await reader.read();
        text += dec.decode(value, { stream: true });
      }
    };
    await until((t) => t.includes('event: snapshot'));
    const snap = JSON.parse(/event: snapshot\ndata: (.*)\n/.exec(text)?.[1] ?? '{}');
    for (const k of ['health', 'figures', 'agents', 'tasks', 'dead', 'alerts', 'channels', 'backups', 'spark'])
      assert.ok(k in snap, k);
    const c = await connectAgent(hub.wsUrl, 'livy', await tokenFor(hub, 'livy'));
    await until((t) => t.includes('"livy"'));
    const r = await api(hub.url, 'POST', '/api/tasks', {
      token: await tokenFor(hub, 'livy'),
      body: { description: 'seen live', needed_capabilities: ['nobody'] },
    });
    await until((t) => t.includes(r.body.task_id) && t.includes('"figures"'));
    c.close();
    ctrl.abort();
  });
});

describe('GET /admin/rate-limited', () => {
  let hub: TestHub;
  before(async () => {
    hub = await startTestHub({ rateLimits: { http: { capacity: 2, per_min: 0 } } });
  });
  after(() => hub.stop());

  test('lists the keys the limiter refused lately, with the action and how often', async () => {
    const token = await tokenFor(hub, 'greedy');
    const codes: number[] = [];
    for (let i = 0; i < 4; i++) codes.push((await api(hub.url, 'GET', '/api/agents/states', { token })).status);
    assert.deepEqual(codes, [200, 200, 429, 429]);
    const r = await api(hub.adminUrl, 'GET', '/admin/rate-limited', { token: ADMIN_TOKEN });
    const mine = r.body.refusals.find((x: { key: string }) => x.key === 'a:greedy');
    assert.deepEqual([mine.action, mine.count], ['http', 2]);
  });
});
