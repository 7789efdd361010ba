import assert from 'node:assert/strict';
import { once } from 'node:events';
import type { AddressInfo } from 'node:net';
import { after, afterEach, before, describe, test } from 'node:test';
import { type WebSocket, WebSocketServer } from 'ws';
import type { Fleet } from '../main/fleet.js';
import { LocalFleet } from '../main/local-fleet.js';
import type { Connection } from '../main/ws/connection.js';
import { reading, sleep, TestClient } from './helpers/client.js';

/**
 * The Fleet contract (main/fleet.ts) as its users see it: real `ws` sockets
 * on loopback, the fleet on the accepting side. Every implementation runs
 * this same suite; the in-process registry of one hub is the one today.
 */
const BACKENDS: Array<{ name: string; start: (bufferMax: number, onHeld: (conn: Connection) => void) => Fleet }> = [
  { name: 'local', start: (bufferMax, onHeld) => new LocalFleet(bufferMax, onHeld) },
];

/** What a socket says about itself at identify (the hub copies these from the frame). */
interface Identity {
  name?: string;
  status?: string;
  capabilities?: string[];
  presenceEvents?: boolean;
  delivery?: 'live' | 'acked';
  protocolVersion?: number | string | null;
}

for (const backend of BACKENDS) {
  describe(`fleet contract (${backend.name})`, () => {
    let wss: WebSocketServer;
    let url: string;
    const clients: TestClient[] = [];

    before(async () => {
      wss = new WebSocketServer({ host: '127.0.0.1', port: 0 });
      await once(wss, 'listening');
      url = `ws://127.0.0.1:${(wss.address() as AddressInfo).port}`;
    });
    afterEach(() => {
      for (const c of clients.splice(0)) c.ws.terminate();
    });
    after(() => new Promise<void>((resolve) => wss.close(() => resolve())));

    /** A fresh fleet with a send-buffer cap; `held` records each socket the fleet asked to catch up. */
    function fleetWith(bufferMax = 1024 * 1024) {
      const held: Connection[] = [];
      const fleet = backend.start(bufferMax, (conn) => held.push(conn));

      /** A client socket and the fleet's side of it, added but not identified. */
      async function open(): Promise<{ client: TestClient; conn: Connection }> {
        const accepted = once(wss, 'connection') as Promise<[WebSocket]>;
        const client = await TestClient.open(url);
        clients.push(client);
        const [ws] = await accepted;
        return { client, conn: fleet.add(ws, '127.0.0.1', Date.now()) };
      }

      /** Identifies `conn` as `agent`, as the identify handler does; returns what `bind` answered. */
      function identify(conn: Connection, agent: string, me: Identity = {}): boolean {
        conn.agentId = agent;
        conn.name = me.name ?? agent;
        conn.status = me.status ?? 'connected';
        conn.capabilities = me.capabilities ?? [];
        conn.presenceEvents = me.presenceEvents ?? true;
        conn.delivery = me.delivery ?? 'live';
        conn.protocolVersion = me.protocolVersion ?? null;
        conn.connectedAt = Date.now();
        return fleet.bind(conn);
      }

      /** Opens and identifies a socket for `agent`. */
      async function join(agent: string, me: Identity = {}) {
        const s = await open();
        const replaced = identify(s.conn, agent, me);
        return { ...s, replaced };
      }

      return { fleet, held, open, identify, join };
    }

    /** A `send` round trip: every frame the fleet wrote to the socket before it has arrived. */
    async function barrier(fleet: Fleet, agent: string, c: TestClient): Promise<void> {
      const marker = `m-${Math.random()}`;
      assert.equal(fleet.send(agent, JSON.stringify({ type: 'pong', timestamp: 0, marker })), true);
      await c.next('pong', (f) => f.marker === marker);
    }

    test('add: a socket is counted among the sockets, but nobody is online until it identifies', async () => {
      const { fleet, open } = fleetWith();
      const { conn } = await open();
      assert.deepEqual([...fleet.sockets()], [conn]);
      assert.equal(conn.agentId, null);
      assert.deepEqual([fleet.count(), [...fleet.agentIds()], fleet.list()], [0, [], []]);
      assert.equal(fleet.isOnline('nobody'), false);
      assert.equal(fleet.local('nobody'), undefined);
      const other = await open();
      assert.notEqual(other.conn.id, conn.id, 'each socket has its own id');
      assert.equal([...fleet.sockets()].length, 2);
    });

    test('bind: the first socket of an agent replaces nothing; binding it again (a re-identify) closes nothing', async () => {
      const { fleet, open, identify } = fleetWith();
      const { client, conn } = await open();
      assert.equal(identify(conn, 'ann'), false);
      assert.equal(fleet.local('ann'), conn);
      assert.equal(identify(conn, 'ann', { status: 'busy' }), false, 'the same socket again');
      assert.equal(fleet.agent('ann')?.status, 'busy');
      await barrier(fleet, 'ann', client);
      assert.equal(client.closed, null);
    });

    test('bind: the newest socket wins; the older one is closed 4001 "replaced" and the agent stays listed once', async () => {
      const { fleet, join } = fleetWith();
      const first = await join('bob', { name: 'first' });
      assert.equal(first.replaced, false);
      const second = await join('bob', { name: 'second' });
      assert.equal(second.replaced, true);
      assert.deepEqual(await first.client.waitClose(), { code: 4001, reason: 'replaced' });
      assert.equal(fleet.local('bob'), second.conn);
      assert.deepEqual(
        fleet.list().map((a) => [a.agent_id, a.name]),
        [['bob', 'second']],
      );
      assert.equal(fleet.count(), 1);
      assert.equal(fleet.deliver('bob', JSON.stringify({ type: 'message', n: 1 })), 'sent');
      assert.equal((await second.client.next('message')).n, 1, 'deliveries go to the newest socket');
      assert.equal(second.client.closed, null);
    });

    test('remove: true only for the agent’s current socket; a replaced or unidentified socket leaves nobody', async () => {
      const { fleet, open, join } = fleetWith();
      const old = await join('cat');
      const cur = await join('cat');
      const anon = await open();
      assert.equal(fleet.remove(old.conn), false, 'the replaced socket');
      assert.equal(fleet.isOnline('cat'), true);
      assert.equal(fleet.remove(anon.conn), false, 'a socket that never identified');
      assert.equal(fleet.remove(cur.conn), true, 'the agent left');
      assert.equal(fleet.isOnline('cat'), false);
      assert.equal(fleet.local('cat'), undefined);
      assert.deepEqual([...fleet.sockets()], [], 'every removed socket is forgotten');
      assert.equal(fleet.remove(cur.conn), false, 'removing twice');
      assert.equal(fleet.deliver('cat', '{}'), 'offline');
      assert.equal(fleet.send('cat', '{}'), false);
    });

    test('who is online: agentIds, count, isOnline, agent, list, deliveryOf and local agree', async () => {
      const { fleet, open, join } = fleetWith();
      const t0 = Date.now();
      const dan = await join('dan', {
        name: 'Dan',
        status: 'idle',
        capabilities: ['code', 'gpu'],
        delivery: 'acked',
        protocolVersion: 1,
      });
      const eve = await join('eve');
      await open();
      assert.deepEqual([...fleet.agentIds()].sort(), ['dan', 'eve']);
      assert.equal(fleet.count(), 2);
      assert.deepEqual(
        ['dan', 'eve', 'fay'].map((a) => fleet.isOnline(a)),
        [true, true, false],
      );
      assert.deepEqual(
        ['dan', 'eve', 'fay'].map((a) => fleet.deliveryOf(a)),
        ['acked', 'live', null],
      );
      const d = fleet.agent('dan');
      assert.ok(d);
      assert.deepEqual(
        [d.agent_id, d.name, d.status, d.capabilities, d.protocol_version],
        ['dan', 'Dan', 'idle', ['code', 'gpu'], 1],
      );
      assert.ok(d.connected_at >= t0 && d.last_seen >= t0);
      assert.equal(fleet.agent('fay'), undefined);
      dan.conn.resources = { cpu_percent: 12.5 };
      assert.deepEqual(fleet.agent('dan')?.resources, { cpu_percent: 12.5 }, 'presence shows the latest report');
      assert.deepEqual(
        fleet
          .list()
          .map((a) => a.agent_id)
          .sort(),
        ['dan', 'eve'],
      );
      assert.deepEqual(
        fleet.list().find((a) => a.agent_id === 'dan'),
        fleet.agent('dan'),
      );
      assert.equal(fleet.local('eve'), eve.conn);
      assert.equal([...fleet.sockets()].length, 3, 'the unidentified socket too');
      fleet.remove(eve.conn);
      assert.deepEqual([...fleet.agentIds()], ['dan']);
    });

    test('deliver: "sent" reaches the agent’s socket as is; "offline" for an agent with no socket', async () => {
      const { fleet, join } = fleetWith();
      const { client } = await join('gus');
      const text = JSON.stringify({ type: 'message', id: 'x1', payload: { n: 1 } });
      assert.equal(fleet.deliver('gus', text), 'sent');
      assert.equal(fleet.deliver('gus', Buffer.from(JSON.stringify({ type: 'message', id: 'x2' })), 7), 'sent');
      assert.deepEqual(await client.next('message', (f) => f.id === 'x1'), JSON.parse(text));
      await client.next('message', (f) => f.id === 'x2');
      assert.equal(fleet.deliver('nobody', text), 'offline');
      assert.equal(fleet.congested.size, 0);
    });

    test('deliver: over the socket’s buffer cap a frame is "dropped" and the socket congested; a durable drop asks for a catch-up once', async () => {
      const { fleet, held, join } = fleetWith(64 * 1024);
      const slow = await join('hal');
      const fine = await join('ivy');
      reading(slow.client, false);
      const blob = JSON.stringify({ type: 'message', pad: 'x'.repeat(256 * 1024) });
      let live = 0;
      // loopback kernel buffers take a few MB before the fleet's own buffer grows
      for (let i = 0; i < 2000 && fleet.deliver('hal', blob) === 'sent'; i++) {
        live++;
        await new Promise(setImmediate);
      }
      assert.ok(live > 0, 'frames went out while the socket could take them');
      assert.equal(fleet.deliver('hal', blob), 'dropped', 'still over the cap');
      assert.ok(fleet.congested.has(slow.conn), 'the slow-consumer policy gets to look at it');
      assert.deepEqual(held, [], 'a frame without a seq is not kept, so there is nothing to catch up');

      assert.equal(fleet.deliver('hal', blob, 41), 'dropped');
      assert.deepEqual(held, [slow.conn], 'the first durable drop asks for a catch-up');
      assert.equal(fleet.deliver('hal', blob, 42), 'dropped');
      assert.deepEqual(held, [slow.conn], 'once: the catch-up is already armed');

      assert.equal(fleet.deliver('ivy', '{"type":"message","id":"y"}'), 'sent', 'other sockets are untouched');
      assert.ok(!fleet.congested.has(fine.conn));
      await fine.client.next('message', (f) => f.id === 'y');
      fleet.remove(slow.conn);
      assert.ok(!fleet.congested.has(slow.conn), 'a removed socket leaves the congested set');
    });

    test('send: never dropped, even over the cap; false only when the agent has no socket', async () => {
      const { fleet, join } = fleetWith(64 * 1024);
      const { client } = await join('jo');
      reading(client, false);
      const blob = JSON.stringify({ type: 'message', pad: 'x'.repeat(256 * 1024) });
      for (let i = 0; i < 2000 && fleet.deliver('jo', blob) === 'sent'; i++) await new Promise(setImmediate);
      assert.equal(fleet.deliver('jo', blob), 'dropped');
      assert.equal(fleet.send('jo', { type: 'task_cancelled', task_id: 't-1', timestamp: 1 }), true);
      assert.equal(fleet.send('jo', JSON.stringify({ type: 'restart_sidecar', reason: 'r' })), true);
      assert.equal(fleet.send('jo', Buffer.from(JSON.stringify({ type: 'task_cancelled', task_id: 't-2' }))), true);
      reading(client, true);
      assert.equal((await client.next('task_cancelled', (f) => f.task_id === 't-1', 20_000)).timestamp, 1);
      assert.equal((await client.next('restart_sidecar', undefined, 20_000)).reason, 'r');
      await client.next('task_cancelled', (f) => f.task_id === 't-2', 20_000);
      assert.equal(fleet.send('nobody', { type: 'restart_sidecar', reason: 'r' }), false);
    });

    test('presence: to every identified socket that wants it, except `except`; not to opted-out, replaced or unidentified ones', async () => {
      const { fleet, open, join, identify } = fleetWith();
      const joiner = await join('kim');
      const watcher = await join('lea');
      const quiet = await join('max', { presenceEvents: false });
      const anon = await open();
      const stale = await join('ned');
      const ned = await join('ned');
      await stale.client.waitClose();
      const kim = fleet.agent('kim');
      assert.ok(kim);
      fleet.presence({ type: 'agent_joined', agent: kim }, joiner.conn);
      fleet.presence({ type: 'agent_left', agent_id: 'gone' });
      for (const [agent, c] of [
        ['kim', joiner.client],
        ['lea', watcher.client],
        ['max', quiet.client],
        ['ned', ned.client],
      ] as const)
        await barrier(fleet, agent, c);
      const presenceOf = (c: TestClient) =>
        c.frames.filter((f) => f.type === 'agent_joined' || f.type === 'agent_left').map((f) => f.type);
      assert.deepEqual(presenceOf(watcher.client), ['agent_joined', 'agent_left']);
      assert.equal(watcher.client.frames.find((f) => f.type === 'agent_joined').agent.agent_id, 'kim');
      assert.deepEqual(presenceOf(ned.client), ['agent_joined', 'agent_left']);
      assert.deepEqual(presenceOf(joiner.client), ['agent_left'], '`except` is skipped for that frame only');
      assert.deepEqual(presenceOf(quiet.client), [], 'presence_events: false');
      assert.deepEqual(presenceOf(stale.client), [], 'a replaced socket');
      assert.equal(fleet.congested.size, 0, 'no socket is over its cap, the replaced one included');
      await sleep(20);
      assert.deepEqual(anon.client.frames, [], 'a socket that never identified');

      // a re-identify may opt out (or back in)
      identify(watcher.conn, 'lea', { presenceEvents: false });
      identify(quiet.conn, 'max', { presenceEvents: true });
      fleet.presence({ type: 'status_changed', agent: { ...kim, status: 'busy' } });
      await barrier(fleet, 'lea', watcher.client);
      await barrier(fleet, 'max', quiet.client);
      assert.equal(watcher.client.frames.filter((f) => f.type === 'status_changed').length, 0);
      assert.equal(quiet.client.frames.filter((f) => f.type === 'status_changed').length, 1);
      // a removed socket gets nothing more
      fleet.remove(ned.conn);
      fleet.presence({ type: 'agent_left', agent_id: 'ned' });
      await barrier(fleet, 'max', quiet.client);
      assert.equal(ned.client.frames.filter((f) => f.type === 'agent_left').length, 1);
    });

    test('presence: the first thing dropped for a socket over half its cap, which then counts as congested', async () => {
      const { fleet, join } = fleetWith(64 * 1024);
      const slow = await join('ola');
      reading(slow.client, false);
      const blob = JSON.stringify({ type: 'message', pad: 'x'.repeat(256 * 1024) });
      // replies are never dropped: they fill the buffer past half the cap without starting the stall clock
      for (let i = 0; i < 2000 && slow.conn.ws.bufferedAmount <= 32 * 1024; i++) {
        fleet.send('ola', blob);
        await new Promise(setImmediate);
      }
      assert.ok(!fleet.congested.has(slow.conn));
      fleet.presence({ type: 'agent_left', agent_id: 'someone' });
      assert.ok(fleet.congested.has(slow.conn));
      fleet.send('ola', JSON.stringify({ type: 'pong', timestamp: 0, marker: 'after' }));
      reading(slow.client, true);
      await slow.client.next('pong', (f) => f.marker === 'after', 20_000);
      assert.equal(slow.client.frames.filter((f) => f.type === 'agent_left').length, 0, 'never sent, never replayed');
    });
  });
}
