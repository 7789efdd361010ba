import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { stillServes } from './helpers/bad-input.js';
import { connectAgent, sleep, TestClient } from './helpers/client.js';
import { ADMIN_TOKEN, api, startTestHub, tokenFor, whitelist } from './helpers/hub.js';

/** Opens a socket and identifies; resolves with whether it was identified or closed. */
async function tryIdentify(url: string, agent: string, token: string): Promise<{ c: TestClient; identified: boolean }> {
  const c = await TestClient.open(url);
  c.send({ type: 'identify', agent_id: agent, token });
  const deadline = Date.now() + 5000;
  for (;;) {
    if (c.frames.some((f) => f.type === 'identified')) return { c, identified: true };
    if (c.closed) return { c, identified: false };
    if (Date.now() > deadline) throw new Error('identify: neither identified nor closed');
    await sleep(10);
  }
}

describe('the violation policy: the 10th failure within the window closes with 1008', () => {
  test('a burst of 12 invalid frames is one close and one step of the ladder: the first back-off (30 s), not 300 s', async () => {
    const hub = await startTestHub();
    try {
      const t = await tokenFor(hub, 'burst');
      await whitelist(hub, 'burst');
      const c = await connectAgent(hub.wsUrl, 'burst', t);
      for (let i = 0; i < 12; i++) c.sendRaw('nope');
      assert.equal((await c.waitClose()).code, 1008);
      const refused = await tryIdentify(hub.wsUrl, 'burst', t);
      assert.equal(refused.identified, false);
      const reason = (await refused.c.waitClose()).reason;
      assert.match(reason, /^identify refused for (29|30) s/, 'frames behind the close were not punished again');
    } finally {
      await hub.stop();
    }
  });

  test('an identified agent is closed on the 10th and refused at identify during its back-off, which escalates', async () => {
    const hub = await startTestHub({ backoffMs: [1000, 60_000] });
    try {
      const t = await tokenFor(hub, 'noisy');
      const quiet = await tokenFor(hub, 'quiet');
      await whitelist(hub, 'noisy', 'quiet');
      const bad = ['nope', '{"type":"teleport"}', '{"type":"status","status":5}', '{"type":"mailbox_ack"}', '[1]'];
      const offend = async (c: TestClient, n: number) => {
        for (let i = 0; i < n; i++) {
          const e = c.next('error');
          c.sendRaw(bad[i % bad.length]);
          await e;
        }
      };

      const c = await connectAgent(hub.wsUrl, 'noisy', t);
      await offend(c, 9);
      await stillServes(c);
      c.sendRaw('nope');
      assert.deepEqual(await c.waitClose(), { code: 1008, reason: 'too many validation errors' });

      const refused = await tryIdentify(hub.wsUrl, 'noisy', t);
      assert.equal(refused.identified, false, 'identify refused during the back-off');
      assert.equal(refused.c.closed?.code, 1008);

      const other = await connectAgent(hub.wsUrl, 'quiet', quiet);
      await stillServes(other);

      // the first back-off ends: identify works again
      let back: TestClient | null = null;
      const deadline = Date.now() + 10_000;
      while (!back && Date.now() < deadline) {
        await sleep(200);
        const attempt = await tryIdentify(hub.wsUrl, 'noisy', t);
        if (attempt.identified) back = attempt.c;
      }
      assert.ok(back, 'identify works once the back-off is over');

      // a second offence escalates to the next step (60 s): still refused after the first step's length
      await offend(back, 9);
      back.sendRaw('nope');
      assert.equal((await back.waitClose()).code, 1008);
      await sleep(1200);
      const later = await tryIdentify(hub.wsUrl, 'noisy', t);
      assert.equal(later.identified, false, 'the back-off escalated');
      assert.equal(later.c.closed?.code, 1008);
      other.close();
    } finally {
      await hub.stop();
    }
  });

  test('an unidentified socket is closed on the 10th failure; no agent is blocked', async () => {
    const hub = await startTestHub();
    try {
      const t = await tokenFor(hub, 'anon');
      const c = await TestClient.open(hub.wsUrl);
      for (let i = 0; i < 9; i++) {
        const e = c.next('error');
        c.sendRaw('{bad');
        assert.equal((await e).error, 'invalid_json');
      }
      c.sendRaw('{bad');
      assert.deepEqual(await c.waitClose(), { code: 1008, reason: 'too many validation errors' });
      (await connectAgent(hub.wsUrl, 'anon', t)).close();
    } finally {
      await hub.stop();
    }
  });

  test('failures older than the window do not count', async () => {
    const hub = await startTestHub({ violationWindowMs: 200 });
    try {
      const t = await tokenFor(hub, 'slow');
      await whitelist(hub, 'slow');
      const c = await connectAgent(hub.wsUrl, 'slow', t);
      for (const _round of [1, 2]) {
        for (let i = 0; i < 9; i++) {
          const e = c.next('error');
          c.sendRaw('nope');
          await e;
        }
        await sleep(300);
      }
      await stillServes(c);
      c.close();
    } finally {
      await hub.stop();
    }
  });

  test('rate-limit refusals count toward the same 10', async () => {
    const hub = await startTestHub({ backoffMs: [1000] });
    try {
      const t = await tokenFor(hub, 'spammer');
      await api(hub.adminUrl, 'PUT', '/admin/rate-limits/spammer', {
        token: ADMIN_TOKEN,
        body: { message: { capacity: 1, per_min: 1 } },
      });
      const c = await connectAgent(hub.wsUrl, 'spammer', t);
      await c.request({ type: 'message', to: 'nobody', payload: {} }, 'message_sent');
      for (let i = 0; i < 9; i++) {
        const e = await c.request({ type: 'message', to: 'nobody', payload: {} }, 'error');
        assert.deepEqual([e.error, e.action], ['rate_limited', 'message']);
      }
      await stillServes(c);
      c.send({ type: 'message', to: 'nobody', payload: {} });
      assert.equal((await c.waitClose()).code, 1008);
    } finally {
      await hub.stop();
    }
  });
});
