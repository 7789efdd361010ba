import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { connectAgent, sleep, TestClient } from './helpers/client.js';
import { api, startTestHub, type TestHub, tempDir, tokenFor, waitOffline, whitelist } from './helpers/hub.js';

/** A ping round trip: every frame the hub wrote to `c` before it answered has arrived. */
async function barrier(c: TestClient): Promise<void> {
  await c.request({ type: 'ping' }, 'pong');
}

/** Closes the client and waits until the hub has forgotten the agent. */
async function leave(hub: TestHub, c: TestClient, agent: string): Promise<void> {
  c.close();
  await c.waitClose();
  for (let i = 0; i < 200 && hub.fleet.local(agent); i++) await sleep(10);
  assert.equal(hub.fleet.local(agent), undefined, `${agent} left`);
}

function assertAgentShape(a: any): void {
  assert.equal(typeof a.agent_id, 'string');
  assert.equal(typeof a.name, 'string');
  assert.equal(typeof a.status, 'string');
  assert.ok(Array.isArray(a.capabilities));
  assert.equal(typeof a.connected_at, 'number');
}

describe('presence', () => {
  let hub: TestHub;
  const tok: Record<string, string> = {};
  const ids = ['w', 'j', 'd', 's', 'q', 'x', 'nw', 'pv', 'un', 'pp', 'bs', 'bl', 'ga', 'gb', 'race'];

  before(async () => {
    hub = await startTestHub({}, tempDir('agentcom-presence-'));
    for (const id of ids) tok[id] = await tokenFor(hub, id);
    await whitelist(hub, ...ids);
  });
  after(() => hub.stop());

  test('agent_joined goes to the others, never to the joiner, with the Agent fields', async () => {
    const w = await connectAgent(hub.wsUrl, 'w', tok.w);
    const t0 = Date.now();
    const j = await connectAgent(hub.wsUrl, 'j', tok.j, {
      name: 'Joiner',
      status: 'idle',
      capabilities: ['code', 'review'],
    });
    const joined = await w.next('agent_joined', (f) => f.agent.agent_id === 'j');
    assertAgentShape(joined.agent);
    assert.equal(joined.agent.name, 'Joiner');
    assert.equal(joined.agent.status, 'idle');
    assert.deepEqual(joined.agent.capabilities, ['code', 'review']);
    assert.ok(joined.agent.connected_at >= t0 - 1000 && joined.agent.connected_at <= Date.now() + 1000);
    await barrier(j);
    assert.deepEqual(
      j.frames.filter((f) => f.type === 'agent_joined'),
      [],
      'the joiner hears nothing about itself (and nothing about agents already there)',
    );
    await leave(hub, j, 'j');
    await leave(hub, w, 'w');
  });

  test('identify defaults: name = agent_id, status "connected", capabilities []', async () => {
    const w = await connectAgent(hub.wsUrl, 'w', tok.w);
    const d = await connectAgent(hub.wsUrl, 'd', tok.d);
    const joined = await w.next('agent_joined', (f) => f.agent.agent_id === 'd');
    assert.equal(joined.agent.name, 'd');
    assert.equal(joined.agent.status, 'connected');
    assert.deepEqual(joined.agent.capabilities, []);
    const list = await w.request({ type: 'list_agents' }, 'agents');
    const mine = list.agents.find((a: any) => a.agent_id === 'd');
    assert.deepEqual([mine.name, mine.status, mine.capabilities], ['d', 'connected', []]);
    await leave(hub, d, 'd');
    await leave(hub, w, 'w');
  });

  test('agent_left reaches the others when a socket ends; list_agents follows', async () => {
    const w = await connectAgent(hub.wsUrl, 'w', tok.w);
    const d = await connectAgent(hub.wsUrl, 'd', tok.d);
    await w.next('agent_joined', (f) => f.agent.agent_id === 'd');
    const listed = await w.request({ type: 'list_agents' }, 'agents');
    assert.deepEqual(listed.agents.map((a: any) => a.agent_id).sort(), ['d', 'w']);
    for (const a of listed.agents) assertAgentShape(a);
    d.close();
    const left = await w.next('agent_left', (f) => f.agent_id === 'd');
    assert.deepEqual(left, { type: 'agent_left', agent_id: 'd' });
    const after = await w.request({ type: 'list_agents' }, 'agents');
    assert.deepEqual(
      after.agents.map((a: any) => a.agent_id),
      ['w'],
    );
    await leave(hub, w, 'w');
  });

  test('an agent that leaves while broadcasts are in flight gets every acked one, live or in its mailbox', async () => {
    const sender = await connectAgent(hub.wsUrl, 'bs', tok.bs);
    const acked: string[] = [];
    const received = new Set<string>();
    let sent = 0;
    // several rounds: the leaver joins, reads 30 broadcasts, closes gracefully (so every frame the hub
    // writes before it sees the close is still read), while a steady stream keeps writes in flight
    for (let round = 0; round < 6; round++) {
      const leaver = await connectAgent(hub.wsUrl, 'bl', tok.bl);
      let seen = 0;
      leaver.ws.on('message', (d) => {
        if (JSON.parse(String(d)).type === 'message' && ++seen === 30) leaver.close();
      });
      let after = 0;
      while (!leaver.closed || after++ < 2) {
        const wave = [];
        for (let k = 0; k < 8; k++, sent++) {
          wave.push(sender.request({ type: 'message', payload: { i: sent } }, 'message_sent', () => true));
        }
        for (const r of await Promise.all(wave)) acked.push(r.id);
      }
      for (const f of leaver.frames) if (f.type === 'message') received.add(f.id);
      for (let i = 0; i < 100 && hub.fleet.local('bl'); i++) await sleep(5);
    }
    const mailbox = new Set<string>();
    let since = 0;
    for (;;) {
      const box = await api(hub.url, 'GET', `/api/mailbox/bl?since=${since}`, { token: tok.bl });
      if (box.body.count === 0) break;
      for (const m of box.body.messages) mailbox.add(m.id);
      since = box.body.last_seq;
    }
    const lost = acked.filter((id) => !received.has(id) && !mailbox.has(id));
    await leave(hub, sender, 'bs');
    assert.deepEqual(lost, [], `${lost.length} of ${acked.length} acked broadcasts neither read nor in the mailbox`);
  });

  test('list_agents lists identified sockets only', async () => {
    const w = await connectAgent(hub.wsUrl, 'w', tok.w);
    const anon = await TestClient.open(hub.wsUrl);
    const list = await w.request({ type: 'list_agents' }, 'agents');
    assert.deepEqual(
      list.agents.map((a: any) => a.agent_id),
      ['w'],
    );
    anon.close();
    await leave(hub, w, 'w');
  });

  test('status: status_updated to self, status_changed to everyone, self included', async () => {
    const w = await connectAgent(hub.wsUrl, 'w', tok.w);
    const s = await connectAgent(hub.wsUrl, 's', tok.s);
    const upd = await s.request({ type: 'status', status: 'busy' }, 'status_updated');
    assert.equal(upd.status, 'busy');
    const self = await s.next('status_changed');
    const other = await w.next('status_changed');
    for (const f of [self, other]) {
      assertAgentShape(f.agent);
      assert.equal(f.agent.agent_id, 's');
      assert.equal(f.agent.status, 'busy');
    }
    const list = await w.request({ type: 'list_agents' }, 'agents');
    assert.equal(list.agents.find((a: any) => a.agent_id === 's').status, 'busy');
    await leave(hub, s, 's');
    await leave(hub, w, 'w');
  });

  test('presence_events:false gets no agent_joined/agent_left, but the others still see it come and go', async () => {
    const w = await connectAgent(hub.wsUrl, 'w', tok.w);
    const q = await connectAgent(hub.wsUrl, 'q', tok.q, { presence_events: false });
    await w.next('agent_joined', (f) => f.agent.agent_id === 'q');
    const x = await connectAgent(hub.wsUrl, 'x', tok.x);
    await w.next('agent_joined', (f) => f.agent.agent_id === 'x');
    x.close();
    await w.next('agent_left', (f) => f.agent_id === 'x');
    await barrier(q);
    assert.deepEqual(
      q.frames.filter((f) => f.type === 'agent_joined' || f.type === 'agent_left'),
      [],
    );
    const list = await q.request({ type: 'list_agents' }, 'agents');
    assert.deepEqual(list.agents.map((a: any) => a.agent_id).sort(), ['q', 'w'], 'it can still ask');
    q.close();
    await w.next('agent_left', (f) => f.agent_id === 'q');
    await leave(hub, w, 'w');
  });

  test('identify twice: the older socket is closed 4001 "replaced", presence is kept, messages go to the newer', async () => {
    const w = await connectAgent(hub.wsUrl, 'w', tok.w);
    const old = await connectAgent(hub.wsUrl, 'nw', tok.nw, { name: 'first' });
    await w.next('agent_joined', (f) => f.agent.agent_id === 'nw');
    const newer = await connectAgent(hub.wsUrl, 'nw', tok.nw, { name: 'second' });
    assert.deepEqual(await old.waitClose(), { code: 4001, reason: 'replaced' });
    // let the hub see the old socket's close before looking for a stray agent_left
    await sleep(100);
    await barrier(w);
    assert.deepEqual(
      w.frames.filter((f) => f.type === 'agent_left'),
      [],
      'no agent_left for a replaced socket',
    );
    const list = await w.request({ type: 'list_agents' }, 'agents');
    const nw = list.agents.filter((a: any) => a.agent_id === 'nw');
    assert.equal(nw.length, 1, 'listed once');
    assert.equal(nw[0].name, 'second', 'the newest identify describes the agent');
    const http = await api(hub.url, 'GET', '/api/agents');
    assert.ok(http.body.agents.some((a: any) => a.agent_id === 'nw'));
    const ack = await w.request({ type: 'message', to: 'nw', payload: { hi: 'newest' } }, 'message_sent');
    const got = await newer.next('message');
    assert.equal(got.id, ack.id);
    assert.deepEqual(got.payload, { hi: 'newest' });
    assert.equal(old.frames.filter((f) => f.type === 'message').length, 0);
    const box = await api(hub.url, 'GET', '/api/mailbox/nw', { token: tok.nw });
    assert.ok(
      !box.body.messages.some((m: { id: string }) => m.id === ack.id),
      'delivered live, not parked in the mailbox',
    );
    newer.close();
    assert.deepEqual(await w.next('agent_left', (f) => f.agent_id === 'nw'), { type: 'agent_left', agent_id: 'nw' });
    await sleep(50);
    await barrier(w);
    assert.equal(w.frames.filter((f) => f.type === 'agent_left').length, 0, 'exactly one agent_left');
    await leave(hub, w, 'w');
  });

  test('two identifies for two agents in one write: the second is refused, and no ghost stays after the close', async () => {
    const c = await TestClient.open(hub.wsUrl);
    const socket = (c.ws as unknown as { _socket: { cork(): void; uncork(): void } })._socket;
    socket.cork();
    c.send({ type: 'identify', agent_id: 'ga', token: tok.ga });
    c.send({ type: 'identify', agent_id: 'gb', token: tok.gb });
    socket.uncork();
    await c.next('identified');
    assert.equal((await c.next('error')).error, 'token_agent_mismatch');
    c.close();
    await c.waitClose();
    // a ghost is never removed, so these time out
    await waitOffline(hub, 'ga');
    await waitOffline(hub, 'gb');
    assert.deepEqual([hub.fleet.local('ga'), hub.fleet.local('gb')], [undefined, undefined]);
  });

  test('a socket that closes right after its identify leaves no ghost', async () => {
    for (let i = 0; i < 20; i++) {
      const c = await TestClient.open(hub.wsUrl);
      c.send({ type: 'identify', agent_id: 'race', token: tok.race });
      c.ws.terminate();
    }
    // long enough for every identify to have finished its wait
    await sleep(200);
    await waitOffline(hub, 'race');
    assert.equal(hub.fleet.local('race'), undefined);
  });

  test('ping → pong with a timestamp', async () => {
    const p = await connectAgent(hub.wsUrl, 'pp', tok.pp);
    const t0 = Date.now();
    const pong = await p.request({ type: 'ping' }, 'pong');
    assert.equal(typeof pong.timestamp, 'number');
    assert.ok(Number.isInteger(pong.timestamp));
    assert.ok(pong.timestamp >= t0 - 1000 && pong.timestamp <= Date.now() + 1000);
    await leave(hub, p, 'pp');
  });

  test('unknown fields in frames are ignored', async () => {
    const w = await connectAgent(hub.wsUrl, 'w', tok.w);
    const u = await connectAgent(hub.wsUrl, 'un', tok.un, { color: 'blue', nested: { deep: [1, 2] }, n: 7 });
    const joined = await w.next('agent_joined', (f) => f.agent.agent_id === 'un');
    assert.equal(joined.agent.color, undefined, 'unknown identify fields are not echoed into presence');
    await u.request({ type: 'ping', extra: true }, 'pong');
    await u.request({ type: 'status', status: 'ok', mood: 'fine' }, 'status_updated');
    await u.request({ type: 'list_agents', verbose: 1 }, 'agents');
    const ack = await u.request(
      { type: 'message', to: 'w', payload: { k: 1 }, priority: 'high', trace: { id: 'x' } },
      'message_sent',
    );
    const got = await w.next('message', (m) => m.id === ack.id);
    assert.deepEqual(got.payload, { k: 1 });
    assert.equal(got.priority, undefined);
    await barrier(u);
    assert.deepEqual(
      u.frames.filter((f) => f.type === 'error'),
      [],
    );
    await leave(hub, u, 'un');
    await leave(hub, w, 'w');
  });

  test('protocol_version in identify (number or string) is accepted and reported in presence', async () => {
    const w = await connectAgent(hub.wsUrl, 'w', tok.w);
    const pv = await connectAgent(hub.wsUrl, 'pv', tok.pv, { protocol_version: 1 });
    const list = await w.request({ type: 'list_agents' }, 'agents');
    assert.equal(list.agents.find((a: any) => a.agent_id === 'pv').protocol_version, 1);
    await pv.request({ type: 'ping', protocol_version: 1 }, 'pong');
    await leave(hub, pv, 'pv');
    await w.next('agent_left', (f) => f.agent_id === 'pv');
    const pv2 = await connectAgent(hub.wsUrl, 'pv', tok.pv, { protocol_version: '1.1' });
    const list2 = await w.request({ type: 'list_agents' }, 'agents');
    assert.equal(list2.agents.find((a: any) => a.agent_id === 'pv').protocol_version, '1.1');
    await barrier(pv2);
    assert.deepEqual(
      pv2.frames.filter((f) => f.type === 'error'),
      [],
    );
    await leave(hub, pv2, 'pv');
    await leave(hub, w, 'w');
  });
});

describe('idle reaper', () => {
  let hub: TestHub;
  const tok: Record<string, string> = {};

  before(async () => {
    hub = await startTestHub({ reaperIntervalMs: 100, idleTimeoutMs: 300 }, tempDir('agentcom-reaper-'));
    for (const id of ['watch', 'silent', 'talker']) tok[id] = await tokenFor(hub, id);
    await whitelist(hub, 'watch', 'silent', 'talker');
  });
  after(() => hub.stop());

  test('a connection that sends nothing is closed, and the others get agent_left', async () => {
    const watch = await connectAgent(hub.wsUrl, 'watch', tok.watch);
    const alive = setInterval(() => watch.send({ type: 'ping' }), 80);
    try {
      const silent = await connectAgent(hub.wsUrl, 'silent', tok.silent);
      const left = await watch.next('agent_left', (f) => f.agent_id === 'silent', 5000);
      assert.deepEqual(left, { type: 'agent_left', agent_id: 'silent' });
      const closed = await silent.waitClose();
      assert.ok(closed.code >= 1000, `closed with ${closed.code}`);
      assert.equal(watch.closed, null, 'the pinging watcher is still connected');
      const list = await watch.request({ type: 'list_agents' }, 'agents');
      assert.deepEqual(
        list.agents.map((a: any) => a.agent_id),
        ['watch'],
      );
    } finally {
      clearInterval(alive);
      watch.close();
      await watch.waitClose();
    }
  });

  test('a socket that keeps sending frames (any frame, not only ping) lives well past idleTimeoutMs', async () => {
    const talker = await connectAgent(hub.wsUrl, 'talker', tok.talker);
    const frames = [{ type: 'list_agents' }, { type: 'status', status: 'working' }, { type: 'list_channels' }];
    let i = 0;
    const talk = setInterval(() => talker.send(frames[i++ % frames.length]), 80);
    try {
      await sleep(1200);
      assert.equal(talker.closed, null, 'not reaped while talking');
      const list = await talker.request({ type: 'list_agents' }, 'agents');
      assert.ok(list.agents.some((a: any) => a.agent_id === 'talker'));
    } finally {
      clearInterval(talk);
    }
    // once it goes quiet the reaper takes it
    assert.ok((await talker.waitClose(5000)).code >= 1000);
  });

  test('a socket that never identifies gets not_identified and is reaped too', async () => {
    const c = await TestClient.open(hub.wsUrl);
    assert.equal((await c.request({ type: 'ping' }, 'error')).error, 'not_identified');
    assert.ok((await c.waitClose(3000)).code > 0);
  });
});
