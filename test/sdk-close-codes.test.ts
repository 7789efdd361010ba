import assert from 'node:assert/strict';
import type { AddressInfo } from 'node:net';
import { describe, test } from 'node:test';
import { WebSocketServer } from 'ws';
import { type AgentComClient, type AgentComError, type ClientEvents, connect } from '../client/src/index.js';
import { identifyRefusedMs, identifyRefusedReason } from '../shared/identify-refusal.js';
import { connectAgent, sleep } from './helpers/client.js';
import { ADMIN_TOKEN, api, startTestHub, tokenFor, whitelist } from './helpers/hub.js';
import { agent, collect, TapSocket, until } from './helpers/sdk.js';

const fast = { reconnect: { initialDelayMs: 20, maxDelayMs: 200 }, WebSocket: TapSocket } as const;

function downs(c: AgentComClient): Array<ClientEvents['disconnected']> {
  const out: Array<ClientEvents['disconnected']> = [];
  c.on('disconnected', (d) => {
    out.push(d);
  });
  return out;
}

describe('the client SDK and the hub’s close codes', () => {
  test('4001 replaced: the older client stops with `replaced` and does not fight the newer socket', async () => {
    const hub = await startTestHub();
    try {
      const token = await tokenFor(hub, 'twin');
      const first = await connect({ url: hub.wsUrl, agentId: 'twin', token, ...fast });
      const closed = collect(first, 'closed', 1);
      const second = await connect({ url: hub.wsUrl, agentId: 'twin', token, ...fast });
      const [{ error }] = await closed;
      assert.equal(error?.code, 'replaced');
      await assert.rejects(first.listAgents(), { code: 'replaced' }, 'later calls fail with the reason');
      await sleep(300);
      assert.equal(first.connected, false);
      assert.ok(second.connected, 'the newer socket keeps the agent');
      assert.equal((await second.listAgents()).filter((a) => a.agent_id === 'twin').length, 1);
      await second.close();
    } finally {
      await hub.stop();
    }
  });

  test('4003 token revoked: the client stops with `token_revoked`; calls fail instead of waiting', async () => {
    const hub = await startTestHub();
    try {
      const c = await agent(hub, 'revoked', fast);
      const closed = collect(c, 'closed', 1);
      await api(hub.adminUrl, 'DELETE', '/admin/tokens/revoked', { token: ADMIN_TOKEN });
      assert.equal((await closed)[0].error?.code, 'token_revoked');
      await assert.rejects(c.send('x', {}), { code: 'token_revoked' });
    } finally {
      await hub.stop();
    }
  });

  test('a bad token: connect rejects with invalid_token, with no retry loop', async () => {
    const hub = await startTestHub();
    try {
      await tokenFor(hub, 'badtok');
      await assert.rejects(connect({ url: hub.wsUrl, agentId: 'badtok', token: 'f'.repeat(64), ...fast }), {
        code: 'invalid_token',
      });
    } finally {
      await hub.stop();
    }
  });

  test('1008 after violations: the client waits as long as the refusal says, then comes back', async () => {
    const hub = await startTestHub({ violationMax: 3, backoffMs: [1000] });
    try {
      const c = await agent(hub, 'rude', fast);
      const d = downs(c);
      const back = collect(c, 'connected', 1);
      for (let i = 0; i < 3; i++)
        await assert.rejects(c.history('nowhere', { limit: -1 }), { code: 'validation_failed' });
      await back;
      assert.deepEqual(d[0].code, 1008);
      assert.equal(d[0].reason, 'too many validation errors');
      const refused = d.find((x) => x.reason.startsWith('identify refused'));
      assert.ok(refused, JSON.stringify(d));
      assert.equal(refused.code, 1008);
      assert.equal(refused.reconnectInMs, 1000, 'waits the seconds the hub named');
      assert.ok(Array.isArray(await c.listAgents()));
      await c.close();
    } finally {
      await hub.stop();
    }
  });

  test('the identify refusal reason: the wait the hub writes (whole seconds, rounded up) is the wait the client reads', () => {
    assert.equal(identifyRefusedMs(identifyRefusedReason(29_001)), 30_000);
    assert.equal(identifyRefusedMs(identifyRefusedReason(1000)), 1000);
    assert.equal(identifyRefusedMs('too many validation errors'), null);
  });

  test('1009 frame too big: that call fails with frame_too_large, the client reconnects and never sends it again', async () => {
    const hub = await startTestHub({ maxFrameBytes: 8192 });
    try {
      const c = await agent(hub, 'big', fast);
      const d = downs(c);
      await assert.rejects(c.send('x', { pad: 'x'.repeat(20_000) }), { code: 'frame_too_large' });
      const r = await c.send('x', { small: true });
      assert.equal(typeof r.id, 'string');
      await sleep(200);
      assert.deepEqual(
        d.map((x) => x.code),
        [1009],
      );
      await c.close();
    } finally {
      await hub.stop();
    }
  });

  test('rate_limited: a call is sent again after retry_after_ms; past maxRetries it fails with retryAfterMs and action', async () => {
    const hub = await startTestHub({ rateLimits: { message: { capacity: 1, per_min: 60 } } });
    try {
      const patient = await agent(hub, 'patient', { ...fast, limited: true });
      const [x, y] = await Promise.all([patient.send('sink', { n: 1 }), patient.send('sink', { n: 2 })]);
      assert.notEqual(x.id, y.id);
      const hasty = await agent(hub, 'hasty', { ...fast, limited: true, maxRetries: 0 });
      await hasty.send('sink', { n: 1 });
      await assert.rejects(hasty.send('sink', { n: 2 }), (e: AgentComError) => {
        assert.deepEqual([e.code, e.retryAfterMs, e.details.action], ['rate_limited', 1000, 'message']);
        return true;
      });
      await patient.close();
      await hasty.close();
    } finally {
      await hub.stop();
    }
  });

  test('reconnects go round the URLs: a dead first URL is skipped', async () => {
    const hub = await startTestHub();
    try {
      const token = await tokenFor(hub, 'roamer');
      const c = await connect({ urls: ['ws://127.0.0.1:1/ws', hub.wsUrl], agentId: 'roamer', token, ...fast });
      assert.ok(c.connected);
      await c.close();
    } finally {
      await hub.stop();
    }
  });

  test('a peer that never answers identify is given up after 2.5 heartbeats, and the next URL tried', async () => {
    const mute = new WebSocketServer({ host: '127.0.0.1', port: 0 });
    await new Promise((r) => mute.once('listening', r));
    const hub = await startTestHub();
    try {
      const token = await tokenFor(hub, 'patient2');
      const muteUrl = `ws://127.0.0.1:${(mute.address() as AddressInfo).port}/ws`;
      const c = await connect({ urls: [muteUrl, hub.wsUrl], agentId: 'patient2', token, heartbeatMs: 100, ...fast });
      assert.ok(c.connected);
      await c.close();
    } finally {
      mute.close();
      await hub.stop();
    }
  });

  test('reconnect: false stops the client at the first drop with `disconnected`', async () => {
    const hub = await startTestHub();
    const c = await agent(hub, 'once', { ...fast, reconnect: false });
    const closed = collect(c, 'closed', 1);
    await hub.stop();
    assert.equal((await closed)[0].error?.code, 'disconnected');
  });

  test('heartbeats: an idle client stays connected past the idle timeout; a silent raw socket is reaped', async () => {
    const hub = await startTestHub({ idleTimeoutMs: 300, reaperIntervalMs: 100 });
    try {
      const token = await tokenFor(hub, 'idle');
      await whitelist(hub, 'idle', 'silent');
      const c = await connect({ url: hub.wsUrl, agentId: 'idle', token, heartbeatMs: 100, ...fast });
      const d = downs(c);
      const silent = await connectAgent(hub.wsUrl, 'silent', await tokenFor(hub, 'silent'));
      assert.equal((await silent.waitClose(3000)).code, 1001, 'the control is reaped');
      await sleep(500);
      assert.deepEqual(d, []);
      await until(() => c.connected, 'still connected');
      await c.close();
    } finally {
      await hub.stop();
    }
  });
});
