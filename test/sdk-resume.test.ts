import assert from 'node:assert/strict';
import { rmSync } from 'node:fs';
import { after, describe, test } from 'node:test';
import type { WebSocket } from 'ws';
import { type AgentComClient, type ClientEvents, connect } from '../client/src/index.js';
import type { SocketFactory } from '../client/src/socket.js';
import { killChildHubs, spawnChildHub } from './helpers/child-hub.js';
import { startTestHub, type TestHub, tempDir, tokenFor, whitelist } from './helpers/hub.js';
import { collect, TapSocket, until } from './helpers/sdk.js';

const fast = { reconnect: { initialDelayMs: 20, maxDelayMs: 200 }, WebSocket: TapSocket } as const;

/** Records what a client's handler saw, and every connect/disconnect. */
function watch(c: AgentComClient) {
  const ids: string[] = [];
  const downs: Array<ClientEvents['disconnected']> = [];
  c.on('message', (m) => {
    ids.push(m.id);
  });
  c.on('disconnected', (d) => {
    downs.push(d);
  });
  return { ids, downs };
}

/** TapSocket counting how often the client stopped and restarted reading. */
function countingSocket() {
  const reads = { pauses: 0, resumes: 0 };
  const Socket = class extends (TapSocket as unknown as typeof WebSocket) {
    pause(): void {
      reads.pauses++;
      super.pause();
    }
    resume(): void {
      reads.resumes++;
      super.resume();
    }
  } as unknown as SocketFactory;
  return { reads, Socket };
}

/**
 * A sender and a receiver whose handler waits for `release()`; `ids` is what the handler saw, in order;
 * `reads` counts the receiver's pauses and resumes.
 */
async function slowPair(hub: TestHub, prefix: string, highWater: number) {
  const [sender, receiver] = [`${prefix}a`, `${prefix}b`];
  const [ta, tb] = [await tokenFor(hub, sender), await tokenFor(hub, receiver)];
  await whitelist(hub, sender, receiver);
  const { reads, Socket } = countingSocket();
  const a = await connect({ url: hub.wsUrl, agentId: sender, token: ta, ...fast });
  const b = await connect({ url: hub.wsUrl, agentId: receiver, token: tb, ...fast, WebSocket: Socket, highWater });
  let release: () => void = () => {};
  const gate = new Promise<void>((r) => {
    release = r;
  });
  const ids: string[] = [];
  b.on('message', async (m) => {
    await gate;
    ids.push(m.id);
  });
  return { a, b, receiver, ids, reads, release: () => release() };
}

describe('the client SDK across hub restarts, kill -9 and slow consumers', () => {
  const dirs: string[] = [];
  after(async () => {
    await killChildHubs();
    for (const d of dirs) rmSync(d, { recursive: true, force: true });
  });

  test('a hub restart (1001): calls made meanwhile wait, the one in flight is sent again once, the handler sees each message once in order', async () => {
    let hub: TestHub = await startTestHub();
    const [ta, tb] = [await tokenFor(hub, 'ra'), await tokenFor(hub, 'rb')];
    await whitelist(hub, 'ra', 'rb');
    const a = await connect({ url: hub.wsUrl, agentId: 'ra', token: ta, ...fast });
    const b = await connect({ url: hub.wsUrl, agentId: 'rb', token: tb, ...fast });
    const seen = watch(b);
    const sends = Array.from({ length: 40 }, (_, n) => a.send('rb', { n }));
    await until(() => seen.ids.length >= 10, 'some delivered');
    const { port, adminPort, dataDir } = hub;
    await hub.stop({ keepData: true });
    const late = Array.from({ length: 10 }, (_, n) => a.send('rb', { n: 40 + n }));
    hub = await startTestHub({ port, adminPort }, dataDir);
    try {
      const sent = await Promise.all([...sends, ...late]);
      await until(() => seen.ids.length >= 50, 'all 50 delivered', 10_000);
      assert.deepEqual(
        seen.ids,
        sent.map((s) => s.id),
      );
      assert.ok(
        seen.downs.some((d) => d.code === 1001),
        JSON.stringify(seen.downs),
      );
      assert.ok(a.connected && b.connected);
    } finally {
      await a.close();
      await b.close();
      await hub.stop();
    }
  });

  test('kill -9 mid-stream: every message acked to the sender reaches the handler exactly once, in order, after resume', async () => {
    const dir = tempDir();
    dirs.push(dir);
    let child = await spawnChildHub(dir);
    const port = new URL(child.url).port;
    const flags = ['--port', port];
    const [ts, tr] = [await child.token('ks'), await child.token('kr')];
    await child.whitelist(['ks', 'kr']);
    const s = await connect({ url: child.wsUrl, agentId: 'ks', token: ts, ...fast });
    const r = await connect({ url: child.wsUrl, agentId: 'kr', token: tr, ...fast, ackDelayMs: 5 });
    const seen = watch(r);
    const acked: string[] = [];
    const sends = Array.from({ length: 300 }, (_, n) =>
      s.send('kr', { n }).then((x) => {
        acked.push(x.id);
        return x;
      }),
    );
    await until(() => acked.length >= 100, '100 acked');
    child.proc.kill('SIGKILL');
    await child.exited;
    child = await spawnChildHub(dir, { flags });
    try {
      const sent = await Promise.all(sends);
      await until(() => seen.ids.length >= 300, 'all 300 handled', 20_000);
      assert.deepEqual(
        seen.ids,
        sent.map((x) => x.id),
        'each acked message once, in send order',
      );
    } finally {
      await s.close();
      await r.close();
      child.proc.kill('SIGTERM');
      await child.exited;
    }
  });

  test('a handler that keeps up: the client never stops or restarts reading', async () => {
    const hub = await startTestHub();
    const { a, b, receiver, ids, reads, release } = await slowPair(hub, 'k', 10);
    try {
      release();
      for (let n = 0; n < 5; n++) await a.send(receiver, { n });
      await until(() => ids.length === 5, 'all handled');
      await b.listAgents();
      assert.deepEqual(reads, { pauses: 0, resumes: 0 });
    } finally {
      await a.close();
      await b.close();
      await hub.stop();
    }
  });

  test('a slow handler pauses reading and says so; caught up, it resumes on the same socket, losing and repeating nothing', async () => {
    const hub = await startTestHub();
    const { a, b, receiver, ids, reads, release } = await slowPair(hub, 'p', 10);
    const states: boolean[] = [];
    b.on('backpressure', (e) => {
      states.push(e.paused);
    });
    const downs = watch(b).downs;
    try {
      const sent: string[] = [];
      for (let n = 0; n < 100; n++) sent.push((await a.send(receiver, { n })).id);
      await until(() => states.length > 0, 'paused');
      release();
      await until(() => ids.length >= sent.length, 'all handled', 10_000);
      assert.deepEqual(ids, sent);
      assert.ok(
        states.length % 2 === 0 && states.every((p, i) => p === (i % 2 === 0)),
        `paused and caught up in turn: ${states}`,
      );
      assert.deepEqual(downs, [], 'no reconnect was needed');
      assert.ok(
        reads.pauses > 0 && reads.resumes === reads.pauses,
        `each resume undoes a pause: ${JSON.stringify(reads)}`,
      );
    } finally {
      release();
      await a.close();
      await b.close();
      await hub.stop();
    }
  });

  test('a slow handler past the hub’s cap: once it catches up the client finds the 4008, resumes, and loses and repeats nothing', async () => {
    const hub = await startTestHub({ sendBufferMax: 16 * 1024, slowConsumerMs: 200 });
    const { a, b, receiver, ids, release } = await slowPair(hub, 's', 5);
    const paused = collect(b, 'backpressure', 1, (e) => e.paused);
    const downs: number[] = [];
    b.on('disconnected', (d) => {
      downs.push(d.code);
    });
    try {
      const sent: string[] = [];
      const payload = { pad: 'x'.repeat(60 * 1024) };
      // loopback kernel buffers absorb several MB before the hub's own buffer grows
      while (hub.fleet.local(receiver) && sent.length < 2000) sent.push((await a.send(receiver, payload)).id);
      await paused;
      assert.equal(hub.fleet.local(receiver), undefined, 'the hub cut the paused reader off');
      for (let n = 0; n < 3; n++) sent.push((await a.send(receiver, { n })).id);
      // the handler catches up: the client reads again, finds the socket closed, and resumes from the mailbox
      release();
      await until(() => ids.length >= sent.length, 'all handled', 20_000);
      assert.deepEqual(ids, sent);
      assert.ok(
        downs.every((c) => c === 4008 || c === 1006),
        JSON.stringify(downs),
      );
    } finally {
      release();
      await a.close();
      await b.close();
      await hub.stop();
    }
  });
});
