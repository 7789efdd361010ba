import assert from 'node:assert/strict';
import { connect } from 'node:net';
import { after, before, describe, test } from 'node:test';
import type { WebSocket } from 'ws';
import { Connection, FrameKind } from '../main/ws/connection.js';
import { connectAgent, reading, sleep, TestClient, until } from './helpers/client.js';
import { api, startTestHub, type TestHub, tempDir, tokenFor, waitOffline, whitelist } from './helpers/hub.js';

/**
 * The slow-consumer policy (§9.18, §9.20): a socket over its send-buffer cap
 * has its durable frames held in the mailbox and pushed once it reads again;
 * one that stays stalled past slowConsumerMs is closed 4008 while everyone
 * else carries on, and nothing acked is lost either way.
 */

/** Tokens for `ids`, all whitelisted so the rate limits never interfere. */
async function tokens(hub: TestHub, ids: string[]): Promise<Record<string, string>> {
  const tok: Record<string, string> = {};
  for (const id of ids) tok[id] = await tokenFor(hub, id);
  await whitelist(hub, ...ids);
  return tok;
}

/** Every id in the agent's mailbox, paging with `since`. */
async function mailboxIds(hub: TestHub, agent: string, token: string): Promise<Set<string>> {
  const out = new Set<string>();
  let since = 0;
  for (;;) {
    const r = await api(hub.url, 'GET', `/api/mailbox/${agent}?since=${since}`, { token });
    assert.equal(r.status, 200);
    if (r.body.count === 0) return out;
    for (const m of r.body.messages) out.add(m.id);
    since = r.body.last_seq;
  }
}

const subscribe = (hub: TestHub, token: string) => api(hub.url, 'POST', '/api/channels/firehose/subscribe', { token });

async function sendTo(c: TestClient, to: string, n: number, extra: object = {}): Promise<string[]> {
  const ids: string[] = [];
  for (let i = 0; i < n; i++)
    ids.push((await c.request({ type: 'message', to, payload: { i, ...extra } }, 'message_sent')).id);
  return ids;
}

/** Waits until every one of `ids` reached the client, then checks their first arrivals came in send order. */
async function arrivedInOrder(c: TestClient, ids: string[]): Promise<void> {
  const messages = () => c.frames.filter((f) => f.type === 'message');
  await until(
    () => {
      const seen = new Set(messages().map((f) => f.id));
      return ids.every((id) => seen.has(id));
    },
    'every acked message reached the socket',
    10_000,
  );
  const got = messages();
  assert.deepEqual(
    got.filter((f, i) => got.findIndex((g) => g.id === f.id) === i).map((f) => f.id),
    ids,
    'first arrivals in send order',
  );
}

/** Sends to `agent` (its client not reading), `perStep` at a time, until the hub holds frames back; the acked ids. */
async function untilHeld(
  hub: TestHub,
  sender: TestClient,
  agent: string,
  perStep: number,
  blob: string,
): Promise<string[]> {
  const ids: string[] = [];
  // enough to fill the kernel buffers and the 64 KiB cap many times over
  for (let i = 0; i < 400 && hub.fleet.local(agent)?.heldFrom === null; i++)
    ids.push(...(await sendTo(sender, agent, perStep, { blob })));
  assert.notEqual(hub.fleet.local(agent)?.heldFrom, null, 'the hub started holding frames back');
  return ids;
}

/**
 * 300 messages of 32 KiB to `agent` while it is offline, far more than the
 * socket and the cap hold; then a client that does not read identifies with
 * `mailbox_since: 0`, so its replay waits for the reader.
 */
async function stalledReplay(hub: TestHub, sender: TestClient, agent: string, token: string) {
  const ids = await sendTo(sender, agent, 300, { blob: 'x'.repeat(32 * 1024) });
  const client = await TestClient.open(hub.wsUrl);
  reading(client, false);
  client.send({ type: 'identify', agent_id: agent, token, mailbox_since: 0 });
  return { ids, client };
}

/** Records the close code the hub asks for on the agent's server-side socket. */
function spyClose(hub: TestHub, agent: string): Array<[number | undefined, string]> {
  const conn = hub.fleet.local(agent);
  assert.ok(conn, `${agent} is online`);
  const calls: Array<[number | undefined, string]> = [];
  const ws = conn.ws as WebSocket;
  const orig = ws.close.bind(ws);
  ws.close = ((code?: number, reason?: string | Buffer) => {
    calls.push([code, String(reason ?? '')]);
    orig(code, reason);
  }) as WebSocket['close'];
  return calls;
}

describe('held frames reach a slow consumer that catches up (§9.20)', () => {
  let hub: TestHub;
  let tok: Record<string, string>;

  before(async () => {
    // no cut-off here: the socket stays open while it does not read; a small queue the last test can fill
    hub = await startTestHub({ sendBufferMax: 64 * 1024, slowConsumerMs: 60_000, queueMax: 20 });
    tok = await tokens(hub, ['sender', 'slow', 'replayer', 'stuck']);
  });
  after(() => hub.stop());

  test('frames dropped while a socket stopped reading are pushed in order once it reads again, without a reconnect', async () => {
    const sender = await connectAgent(hub.wsUrl, 'sender', tok.sender);
    const slow = await connectAgent(hub.wsUrl, 'slow', tok.slow);
    reading(slow, false);
    const blob = 'x'.repeat(16 * 1024);
    const ids = await untilHeld(hub, sender, 'slow', 8, blob);
    ids.push(...(await sendTo(sender, 'slow', 20, { blob })));
    reading(slow, true);
    // held ones came before anything newer
    await arrivedInOrder(slow, ids);
    assert.equal(slow.closed, null, 'still connected');
    slow.close();
    sender.close();
  });

  test('frames that overflow a replay’s queue follow it, and a re-identify restarts it: none lost, first arrivals in order', async () => {
    const sender = await connectAgent(hub.wsUrl, 'sender', tok.sender);
    const blob = 'x'.repeat(32 * 1024);
    const { ids, client: replayer } = await stalledReplay(hub, sender, 'replayer', tok.replayer);
    await until(() => hub.fleet.local('replayer')?.replaying, 'the replay started');
    // live frames queue behind the replay until the queue is over the cap; the rest are held in the mailbox
    for (let i = 0; i < 10; i++) ids.push(...(await sendTo(sender, 'replayer', 1, { blob })));
    assert.notEqual(hub.fleet.local('replayer')?.heldFrom, null, 'the queue overflowed');
    replayer.send({ type: 'identify', agent_id: 'replayer', token: tok.replayer, mailbox_since: 0 });
    ids.push(...(await sendTo(sender, 'replayer', 2, { blob })));
    reading(replayer, true);
    await arrivedInOrder(replayer, ids);
    replayer.close();
    sender.close();
  });

  test('a catch-up that cannot read the mailbox is tried again: the held frames still arrive, in order, once the mailbox can be read', async () => {
    const sender = await connectAgent(hub.wsUrl, 'sender', tok.sender);
    const stuck = await connectAgent(hub.wsUrl, 'stuck', tok.stuck);
    reading(stuck, false);
    const blob = 'x'.repeat(16 * 1024);
    const ids = await untilHeld(hub, sender, 'stuck', 1, blob);
    ids.push(...(await sendTo(sender, 'stuck', 5, { blob })));
    // the messaging queue full: the catch-up's mailbox read is refused as overloaded
    const messaging = hub.domains.messaging;
    await messaging.pause();
    const waiting: Promise<unknown>[] = [];
    for (let i = 0; i < 20; i++) waiting.push(messaging.call('health', {}));
    reading(stuck, true);
    await sleep(1500);
    messaging.resume();
    await Promise.all(waiting);
    await arrivedInOrder(stuck, ids);
    stuck.close();
    sender.close();
  });
});

describe('a socket that asks and does not read', () => {
  let hub: TestHub;
  let tok: Record<string, string>;

  before(async () => {
    // a long cut-off: only the overrun of replies closes it quickly
    hub = await startTestHub({ sendBufferMax: 64 * 1024, slowConsumerMs: 60_000 });
    tok = await tokens(hub, ['poster', 'asker']);
    // a channel whose history answer is about 600 KB
    const poster = await connectAgent(hub.wsUrl, 'poster', tok.poster);
    await api(hub.url, 'POST', '/api/channels', { token: tok.poster, body: { name: 'big' } });
    for (let i = 0; i < 20; i++)
      await poster.request(
        { type: 'channel_publish', channel: 'big', payload: { pad: 'x'.repeat(30_000) } },
        'channel_published',
      );
    poster.close();
  });
  after(() => hub.stop());

  test('big replies to a reader that stopped are capped and the socket is closed 4008; memory does not follow', async () => {
    const asker = await connectAgent(hub.wsUrl, 'asker', tok.asker);
    const closes = spyClose(hub, 'asker');
    const server = hub.fleet.local('asker');
    reading(asker, false);
    let most = 0;
    for (let i = 0; i < 400 && closes.length === 0; i++) {
      asker.send({ type: 'channel_history', channel: 'big', limit: 20 });
      await sleep(2);
      most = Math.max(most, server?.ws.bufferedAmount ?? 0);
    }
    await until(() => closes.length > 0, 'the socket cut off', 5000);
    assert.deepEqual(closes, [[4008, 'slow_consumer']]);
    // four caps of replies, plus the one reply that crossed the line
    assert.ok(most < 4 * 64 * 1024 + 700_000, `buffered at most ${most} bytes`);
    asker.ws.terminate();
  });

  test('pipelined HTTP requests on a connection that does not read: closed once its answers pass four caps', async () => {
    const socket = connect(hub.port, '127.0.0.1');
    await new Promise((res) => socket.once('connect', res));
    const closed = new Promise((res) => socket.once('close', res));
    socket.on('error', () => {});
    socket.pause();
    socket.write('GET /api/channels/big/history?limit=20 HTTP/1.1\r\nHost: hub\r\n\r\n'.repeat(60));
    await sleep(1000);
    // read what was answered: the connection ends well before sixty answers
    let bytes = 0;
    socket.on('data', (d: Buffer) => {
      bytes += d.length;
    });
    socket.resume();
    const outcome = await Promise.race([closed.then(() => 'closed'), sleep(10_000).then(() => 'still open')]);
    assert.equal(outcome, 'closed');
    assert.ok(bytes < 20 * 600_000, `${bytes} bytes answered`);
    socket.destroy();
  });
});

describe('direct messages and broadcasts to a stalled reader: cut off with 4008, nothing acked lost', () => {
  let hub: TestHub;
  let tok: Record<string, string>;

  before(async () => {
    hub = await startTestHub({ sendBufferMax: 64 * 1024, slowConsumerMs: 500 }, tempDir('agentcom-slow-'));
    tok = await tokens(hub, ['fast', 'slowd', 'slowb', 'watch']);
  });
  after(() => hub.stop());

  async function stallAndFlood(slowAgent: string, direct: boolean) {
    const sender = await connectAgent(hub.wsUrl, 'fast', tok.fast);
    const watch = await connectAgent(hub.wsUrl, 'watch', tok.watch);
    const slow = await connectAgent(hub.wsUrl, slowAgent, tok[slowAgent]);
    const closes = spyClose(hub, slowAgent);
    reading(slow, false);

    const leftSeen = watch
      .next('agent_left', (f) => f.agent_id === slowAgent, 25_000)
      .then(
        () => true,
        () => false,
      );
    const blob = 'x'.repeat(32 * 1024);
    const acked: string[] = [];
    const errors: unknown[] = [];
    let sent = 0;
    const deadline = Date.now() + 20_000;
    // eight in flight at a time; an ack that takes longer than 5 s counts as an error (the sender was held up)
    // until the hub's verdict on the stalled socket
    while (closes.length === 0 && Date.now() < deadline) {
      const wave = [];
      for (let k = 0; k < 8; k++) {
        const frame = direct
          ? { type: 'message', to: slowAgent, payload: { n: sent, blob } }
          : { type: 'message', payload: { n: sent, blob } };
        sent++;
        wave.push(sender.request(frame, 'message_sent', () => true));
      }
      for (const r of await Promise.allSettled(wave)) {
        if (r.status === 'fulfilled') acked.push(r.value.id);
        else errors.push(r.reason);
      }
    }
    return { sender, watch, slow, closes, acked, errors, sent, leftSeen };
  }

  /** Resumes the stalled client, reads what reached it, and returns the ids of the message frames. */
  async function drainStalled(slow: TestClient): Promise<Set<string>> {
    reading(slow, true);
    await slow.waitClose(10_000);
    return new Set(slow.frames.filter((f) => f.type === 'message').map((f) => f.id));
  }

  for (const direct of [true, false]) {
    const kind = direct ? 'direct messages' : 'broadcasts';
    const agent = direct ? 'slowd' : 'slowb';
    /** what the flood left behind, for the loss check below */
    let outcome: { acked: string[]; received: Set<string>; mailbox: Set<string> } | null = null;

    test(`a receiver that stops reading ${kind} is closed 4008 "slow_consumer"; the sender keeps its acks; drops go to the mailbox`, async (t) => {
      const { sender, watch, slow, closes, acked, errors, sent, leftSeen } = await stallAndFlood(agent, direct);
      assert.deepEqual(closes[0], [4008, 'slow_consumer'], 'the hub closed it as a slow consumer');
      assert.deepEqual(errors, [], 'every send was acked, none timed out');
      assert.equal(acked.length, sent);
      // the others are told it left. A bystander flooded with the same broadcasts may be over half its own
      // cap when agent_left goes out, and presence is the first thing dropped there (§9.18): it sees the list.
      if (direct) assert.ok(await leftSeen, 'the others were told the slow agent left');
      await waitOffline(hub, agent);
      assert.equal(sender.closed, null, 'the sender is still connected');
      assert.equal(watch.closed, null, 'a reading bystander is still connected');
      // the stalled client cannot read a close frame queued behind megabytes; it sees the TCP end
      const received = await drainStalled(slow);
      // the hub may still be committing the copies it made as it cut the socket: give it a moment
      let mailbox = await mailboxIds(hub, agent, tok[agent]);
      const covered = () => acked.every((id) => received.has(id) || mailbox.has(id));
      for (let i = 0; i < 10 && !covered(); i++) {
        await sleep(100);
        mailbox = await mailboxIds(hub, agent, tok[agent]);
      }
      t.diagnostic(`${sent} sent, ${received.size} read by the stalled client, ${mailbox.size} in its mailbox`);
      assert.ok(mailbox.size > 0, 'dropped live frames were parked in the mailbox');
      assert.ok(
        [...mailbox].every((id) => acked.includes(id)),
        'the mailbox holds only what was sent to it',
      );
      outcome = { acked, received, mailbox };
      sender.close();
      watch.close();
      await sender.waitClose();
      await watch.waitClose();
    });

    test(`nothing acked is lost to a slow consumer: every one of the ${kind} was read or is in its mailbox`, {}, () => {
      assert.ok(outcome, 'the flood above ran');
      const { acked, received, mailbox } = outcome;
      const lost = acked.filter((id) => !received.has(id) && !mailbox.has(id));
      assert.deepEqual(lost, [], `${lost.length} of ${acked.length} acked ${kind} neither read nor in the mailbox`);
    });
  }
});

describe('a channel subscriber that stops reading', () => {
  let hub: TestHub;
  let tok: Record<string, string>;
  /** the slow subscriber's mailbox after the first test */
  const mailboxed: any[] = [];

  before(async () => {
    hub = await startTestHub({ sendBufferMax: 64 * 1024, slowConsumerMs: 500 });
    tok = await tokens(hub, ['hose', 'fast1', 'fast2', 'slow']);
    await api(hub.url, 'POST', '/api/channels', { token: tok.hose, body: { name: 'firehose' } });
    for (const a of ['fast1', 'fast2', 'slow']) await subscribe(hub, tok[a]);
  });
  after(() => hub.stop());

  test('a subscriber that stops reading is closed with 4008 while the publisher and the others carry on', async () => {
    const pub = await connectAgent(hub.wsUrl, 'hose', tok.hose, { presence_events: false });
    const fast = [
      await connectAgent(hub.wsUrl, 'fast1', tok.fast1, { presence_events: false }),
      await connectAgent(hub.wsUrl, 'fast2', tok.fast2, { presence_events: false }),
    ];
    const slow = await connectAgent(hub.wsUrl, 'slow', tok.slow, { presence_events: false });
    // the hub's side of the slow socket: how the hub closes it is observed there
    const serverSide = hub.fleet.local('slow')!;
    let verdict: { code: number; reason: string } | null = null;
    const close = serverSide.close.bind(serverSide);
    serverSide.close = (code: number, reason: string) => {
      verdict ??= { code, reason };
      close(code, reason);
    };
    reading(slow, false);

    const received = fast.map(() => [] as string[]);
    for (const [i, c] of fast.entries()) {
      c.ws.on('message', (d) => {
        const f = JSON.parse(String(d));
        if (f.type === 'channel_message') received[i].push(f.id);
        c.frames.length = 0;
      });
    }
    const payload = { blob: 'z'.repeat(60 * 1024) };
    const sent: string[] = [];
    const deadline = Date.now() + 15_000;
    // loopback kernel buffers absorb several MB before the hub's own buffer grows
    while (!verdict && Date.now() < deadline) {
      const ack = await pub.request({ type: 'channel_publish', channel: 'firehose', payload }, 'channel_published');
      sent.push(ack.id);
    }
    assert.deepEqual(verdict, { code: 4008, reason: 'slow_consumer' });
    for (let i = 0; i < 3; i++)
      sent.push(
        (await pub.request({ type: 'channel_publish', channel: 'firehose', payload: { i } }, 'channel_published')).id,
      );
    const until = Date.now() + 10_000;
    while (received.some((r) => r.length < sent.length) && Date.now() < until) await sleep(10);
    for (const r of received) assert.deepEqual(r, sent, 'the other subscribers got every post, in order');
    await waitOffline(hub, 'slow');

    const box = new Set<string>();
    let since = 0;
    for (;;) {
      const r = await api(hub.url, 'GET', `/api/mailbox/slow?since=${since}`, { token: tok.slow });
      if (r.body.count === 0) break;
      for (const m of r.body.messages) {
        assert.ok(sent.includes(m.id), 'only firehose posts');
        box.add(m.id);
        mailboxed.push(m);
      }
      since = r.body.last_seq;
    }
    assert.ok(box.size > 0, 'posts the slow subscriber missed are in its mailbox');
    for (const id of sent.slice(-3)) assert.ok(box.has(id), 'posts after the close are mailboxed');
    pub.close();
    for (const c of fast) c.close();
    await sleep(50);
  });

  test('mailbox copies of posts dropped for the slow subscriber carry payload.channel like any channel copy', () => {
    assert.ok(mailboxed.length > 0);
    const without = mailboxed.filter((m) => m.payload.channel !== 'firehose');
    assert.equal(without.length, 0, `${without.length} of ${mailboxed.length} copies lack payload.channel`);
  });

  test('the cut-off subscriber, once it reads again, sees close code 4008 and loses no post', async () => {
    await subscribe(hub, tok.slow);
    const pub = await connectAgent(hub.wsUrl, 'hose', tok.hose, { presence_events: false });
    const slow = await connectAgent(hub.wsUrl, 'slow', tok.slow, { presence_events: false });
    reading(slow, false);
    const payload = { blob: 'y'.repeat(60 * 1024) };
    const sent: string[] = [];
    const deadline = Date.now() + 15_000;
    // until the hub has cut it off and let it go (the other subscribers' presence frames may be dropped under the flood)
    while (hub.fleet.local('slow') && Date.now() < deadline) {
      sent.push((await pub.request({ type: 'channel_publish', channel: 'firehose', payload }, 'channel_published')).id);
    }
    assert.equal(hub.fleet.local('slow'), undefined, 'the hub cut the stalled subscriber off');
    reading(slow, true);
    const closed = await slow.waitClose(10_000);
    const live = new Set(slow.frames.filter((f) => f.type === 'channel_message').map((f) => f.id as string));
    const box = await mailboxIds(hub, 'slow', tok.slow);
    const lost = sent.filter((id) => !live.has(id) && !box.has(id));
    // the hub closes with 4008, but a close frame cannot pass a full buffer: a stalled reader may only see 1006
    assert.ok([4008, 1006].includes(closed.code), `close code ${closed.code}`);
    assert.equal(lost.length, 0, `${lost.length} of ${sent.length} posts neither read nor mailboxed`);
    pub.close();
  });
});

describe('a mailbox replay to a reader that stops: cut off with 4008 like any stalled socket', () => {
  let hub: TestHub;
  let tok: Record<string, string>;

  before(async () => {
    hub = await startTestHub({ sendBufferMax: 64 * 1024, slowConsumerMs: 300 });
    tok = await tokens(hub, ['sender', 'replayer']);
  });
  after(() => hub.stop());

  test('a replay waiting on a socket that does not drain is closed after slowConsumerMs, with no live frame for it', async () => {
    const sender = await connectAgent(hub.wsUrl, 'sender', tok.sender);
    const { client: replayer } = await stalledReplay(hub, sender, 'replayer', tok.replayer);
    await until(() => hub.fleet.local('replayer'), 'replayer identified');
    const closes = spyClose(hub, 'replayer');
    await until(() => closes.length > 0, 'the stalled replay cut off', 5000);
    assert.deepEqual(closes, [[4008, 'slow_consumer']]);
    await until(() => hub.fleet.local('replayer') === undefined, 'its slot freed');
    replayer.ws.terminate();
    sender.close();
  });
});

describe('the stall clock of a paced replay', () => {
  /** A socket that takes a write only when told to (`drain`); what the replay sees of ws. */
  function scriptedSocket() {
    const waiting: Array<() => void> = [];
    const ws = {
      readyState: 1,
      bufferedAmount: 100 * 1024,
      send: (_text: unknown, _opts: unknown, cb?: () => void) => {
        if (cb) waiting.push(cb);
      },
    };
    const drain = () => {
      ws.bufferedAmount = 0;
      for (const cb of waiting.splice(0)) cb();
    };
    return { ws, drain };
  }

  test('replies to a socket that does not read start its stall clock past the cap; past four caps more they are not written', () => {
    const { ws, drain } = scriptedSocket();
    const conn = new Connection(1, ws as unknown as WebSocket, '127.0.0.1', 64 * 1024, Date.now(), () => {});
    const reply = 'x'.repeat(100 * 1024);
    ws.bufferedAmount = 32 * 1024;
    assert.equal(conn.send(reply, FrameKind.Reply), true);
    assert.equal(conn.stalledSince(), 0, 'under the cap: a reader that keeps up');
    ws.bufferedAmount = 100 * 1024;
    assert.equal(conn.send(reply, FrameKind.Reply), true, 'over the cap a reply is still written');
    assert.ok(conn.stalledSince() > 0, 'and the stall clock runs');
    assert.equal(conn.send(reply, FrameKind.Reply), true);
    assert.equal(conn.send(reply, FrameKind.Reply), false, 'the one that takes it past four caps is not');
    assert.equal(conn.stalledSince(), 1, 'cut at the timer’s next look');
    drain();
    // a reply was lost: the socket is cut even if it reads before the timer looks, and nothing more goes out
    assert.equal(conn.stalledSince(), 1);
    assert.equal(conn.send('small', FrameKind.Reply), false);
  });

  test('each wait a reader ends stops the clock: a slow but steady reader is never taken for a stalled one', async () => {
    const { ws, drain } = scriptedSocket();
    const conn = new Connection(1, ws as unknown as WebSocket, '127.0.0.1', 64 * 1024, Date.now(), () => {});
    // three waits of 30 ms each, the slow-consumer timer looking at none of them
    for (let i = 0; i < 3; i++) {
      ws.bufferedAmount = 100 * 1024;
      const sent = conn.sendPaced(`frame ${i}`);
      await sleep(30);
      drain();
      await sent;
    }
    ws.bufferedAmount = 100 * 1024;
    const startedAt = Date.now();
    const last = conn.sendPaced('frame 3');
    assert.ok(conn.stalledSince() >= startedAt, 'the clock started with this wait, not with the first');
    drain();
    await last;
    assert.equal(conn.stalledSince(), 0);
  });
});
