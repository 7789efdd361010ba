import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { connectAgent, type TestClient } from './helpers/client.js';
import { api, startTestHub, type TestHub, tokenFor, whitelist } from './helpers/hub.js';

let hub: TestHub;
const tok: Record<string, string> = {};
before(async () => {
  hub = await startTestHub({ sendBufferMax: 64 * 1024, slowConsumerMs: 60_000 });
  for (const a of ['sender', 'acked', 'plain', 'slow', 'bcast1', 'bcast2']) tok[a] = await tokenFor(hub, a);
  await whitelist(hub, 'sender');
});
after(() => hub.stop());

async function sendTo(c: TestClient, to: string, n: number, extra: object = {}): Promise<string[]> {
  const ids: string[] = [];
  for (let i = 0; i < n; i++)
    ids.push((await c.request({ type: 'message', to, payload: { i, ...extra } }, 'message_sent')).id);
  return ids;
}

const mailboxOf = async (agent: string) =>
  (await api(hub.url, 'GET', `/api/mailbox/${agent}`, { token: tok[agent] })).body.messages as Array<{
    id: string;
    seq: number;
  }>;

describe('at-least-once delivery, opt-in (§9.32)', () => {
  test('delivery "acked": live frames carry seq, entries stay until mailbox_ack, a reconnect replays every unacked one in order', async () => {
    const sender = await connectAgent(hub.wsUrl, 'sender', tok.sender);
    const r = await connectAgent(hub.wsUrl, 'acked', tok.acked, { delivery: 'acked' });
    const ids = await sendTo(sender, 'acked', 5);
    const live: Array<Record<string, unknown> & { id: string; seq: number }> = [];
    for (let i = 0; i < 5; i++) live.push(await r.next('message'));
    assert.deepEqual(
      live.map((f) => f.id),
      ids,
    );
    assert.ok(live.every((f, i) => typeof f.seq === 'number' && (i === 0 || f.seq > live[i - 1].seq)));
    assert.deepEqual(
      (await mailboxOf('acked')).map((m) => m.id),
      ids,
      'kept until acked',
    );
    await r.request({ type: 'mailbox_ack', seq: live[1].seq }, 'mailbox_acked');
    // the socket dies with three unacked frames: they come back, in order, exactly as they were
    r.ws.terminate();
    await r.waitClose();
    const back = await connectAgent(hub.wsUrl, 'acked', tok.acked, { delivery: 'acked', mailbox_since: live[1].seq });
    const replay: typeof live = [];
    for (let i = 0; i < 3; i++) replay.push(await back.next('message'));
    const strip = (f: Record<string, unknown>) => ({ ...f, seq: f.seq });
    assert.deepEqual(replay.map(strip), live.slice(2).map(strip));
    await back.request({ type: 'mailbox_ack', seq: replay[2].seq }, 'mailbox_acked');
    assert.deepEqual(await mailboxOf('acked'), []);
    back.close();
    sender.close();
  });

  test('broadcasts to an acked socket are kept and carry seq; a default socket gets them without seq and keeps nothing', async () => {
    const sender = await connectAgent(hub.wsUrl, 'sender', tok.sender);
    const kept = await connectAgent(hub.wsUrl, 'bcast1', tok.bcast1, { delivery: 'acked' });
    const plain = await connectAgent(hub.wsUrl, 'bcast2', tok.bcast2);
    const { id } = await sender.request({ type: 'message', payload: { all: true } }, 'message_sent');
    const k = await kept.next('message', (f) => f.id === id);
    const p = await plain.next('message', (f) => f.id === id);
    assert.equal(typeof k.seq, 'number');
    assert.equal(p.seq, undefined, 'the original’s live frame: no seq');
    assert.ok((await mailboxOf('bcast1')).some((m) => m.id === id));
    assert.equal((await mailboxOf('bcast2')).length, 0);
    for (const c of [sender, kept, plain]) c.close();
  });

  test('a default socket is the original’s: live frames without seq, nothing kept after delivery', async () => {
    const sender = await connectAgent(hub.wsUrl, 'sender', tok.sender);
    const r = await connectAgent(hub.wsUrl, 'plain', tok.plain);
    const ids = await sendTo(sender, 'plain', 3);
    for (let i = 0; i < 3; i++) assert.equal((await r.next('message')).seq, undefined);
    assert.ok(
      (await mailboxOf('plain')).every((m) => !ids.includes(m.id)),
      'delivered live, not kept',
    );
    r.close();
    sender.close();
  });
});
