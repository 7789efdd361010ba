import assert from 'node:assert/strict';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, describe, test } from 'node:test';
import { ALERT_THRESHOLD_DEFAULTS } from '../shared/schemas/alerts.js';
import { connectAgent, sleep } from './helpers/client.js';
import { ADMIN_TOKEN, api, startTestHub, type TestHub, tempDir, tokenFor } from './helpers/hub.js';
import { startLoggedHub } from './helpers/logged-hub.js';

const FAST = { alertCheckMs: 50 };

async function until<T>(read: () => Promise<T | undefined>, what: string, timeoutMs = 5000): Promise<T> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const v = await read();
    if (v !== undefined) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await sleep(20);
  }
}

const firing = (hub: TestHub, rule: string) =>
  until(async () => {
    const r = await api(hub.url, 'GET', '/api/alerts');
    return r.body.alerts.find((a: { rule_id: string }) => a.rule_id === rule);
  }, `${rule} to fire`);

/** A task nobody can take: `no_agents_online` fires at the next check. */
async function strandTask(hub: TestHub): Promise<void> {
  const boss = await tokenFor(hub, 'boss');
  const r = await api(hub.url, 'POST', '/api/tasks', {
    token: boss,
    body: { description: 'nobody home', needed_capabilities: ['rare'] },
  });
  assert.equal(r.status, 201);
}

/** A webhook receiver on loopback: `answer` decides each reply (or none, to make the hub time out). */
async function receiver(answer: (n: number, res: ServerResponse) => void) {
  const got: Array<{ event: string; alert: { rule_id: string }; hub: string; timestamp: number }> = [];
  let calls = 0;
  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    let body = '';
    req.on('data', (d) => {
      body += d;
    });
    req.on('end', () => {
      calls++;
      if (req.headers['content-type'] === 'application/json') got.push(JSON.parse(body));
      answer(calls, res);
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/hook`;
  return {
    url,
    got,
    calls: () => calls,
    close: () => {
      server.closeAllConnections();
      return new Promise<void>((r) => server.close(() => r()));
    },
  };
}

describe('alert acknowledgement', () => {
  let hub: TestHub;
  after(() => hub.stop());

  test('is admin-only: the public port refuses it whatever the token; the admin port acknowledges', async () => {
    hub = await startTestHub(FAST);
    await strandTask(hub);
    const fired = await firing(hub, 'no_agents_online');
    assert.equal(fired.acknowledged, false);
    const agent = await tokenFor(hub, 'someone');
    for (const token of [undefined, agent, ADMIN_TOKEN]) {
      const r = await api(hub.url, 'POST', '/api/alerts/no_agents_online/acknowledge', { token });
      assert.deepEqual([r.status, r.body], [403, { error: 'admin_port_only' }]);
    }
    const noToken = await api(hub.adminUrl, 'POST', '/api/alerts/no_agents_online/acknowledge');
    assert.equal(noToken.status, 401);
    const ack = await api(hub.adminUrl, 'POST', '/api/alerts/no_agents_online/acknowledge', { token: ADMIN_TOKEN });
    assert.deepEqual(ack.body, { status: 'acknowledged', rule_id: 'no_agents_online' });
    const none = await api(hub.adminUrl, 'POST', '/api/alerts/nope/acknowledge', { token: ADMIN_TOKEN });
    assert.deepEqual([none.status, none.body.error], [404, 'alert_not_found']);
    const list = await api(hub.adminUrl, 'GET', '/api/alerts', { token: ADMIN_TOKEN });
    assert.equal(list.body.alerts[0].acknowledged, true);
    const metrics = await (
      await fetch(`${hub.adminUrl}/metrics`, { headers: { authorization: `Bearer ${ADMIN_TOKEN}` } })
    ).text();
    assert.match(metrics, /^agentcom_alert_firing\{rule_id="no_agents_online"\} 1$/m);
    assert.match(metrics, /^agentcom_alert_acknowledged\{rule_id="no_agents_online"\} 1$/m);
    assert.match(metrics, /^agentcom_alert_firing\{rule_id="stuck_tasks"\} 0$/m);
  });

  test('survives a restart: the alert is still acknowledged, with its first firing time', async () => {
    const before = (await api(hub.url, 'GET', '/api/alerts')).body.alerts[0];
    await hub.stop({ keepData: true });
    hub = await startTestHub(FAST, hub.dataDir);
    const now = (await api(hub.url, 'GET', '/api/alerts')).body.alerts;
    assert.deepEqual(now, [before], 'shown as it was, before the first check');
    await sleep(200);
    const checked = (await api(hub.url, 'GET', '/api/alerts')).body.alerts;
    assert.deepEqual(
      checked.map((a: { rule_id: string; acknowledged: boolean; fired_at: number }) => [
        a.rule_id,
        a.acknowledged,
        a.fired_at,
      ]),
      [['no_agents_online', true, before.fired_at]],
    );
  });

  test('an alert that clears loses its acknowledgement: the next firing is news', async () => {
    const worker = await tokenFor(hub, 'worker');
    const c = await connectAgent(hub.wsUrl, 'worker', worker, { capabilities: ['rare'] });
    await c.next('task_assign');
    await until(
      async () => ((await api(hub.url, 'GET', '/api/alerts')).body.alerts.length ? undefined : true),
      'clear',
    );
    c.close();
    await strandTask(hub);
    assert.equal((await firing(hub, 'no_agents_online')).acknowledged, false);
  });
});

describe('alert thresholds', () => {
  test('a stored threshold that no longer fits is ignored with a warning; its rule runs on the default', async () => {
    const dataDir = tempDir();
    const first = await startTestHub({}, dataDir);
    // what hubs before validation stored as is
    await first.domains.registry.call('setConfig', {
      key: 'alert_thresholds',
      value: { queue_growing_min: '10', stuck_ms: 60_000, note: 'x' },
    });
    await first.stop({ keepData: true });
    const hub = await startLoggedHub({}, 'warn', dataDir);
    const agent = await tokenFor(hub, 'reader');
    const r = await api(hub.url, 'GET', '/api/config/alert-thresholds', { token: agent });
    assert.deepEqual(r.body, { ...ALERT_THRESHOLD_DEFAULTS, stuck_ms: 60_000 });
    const warned = hub.lines.find((l) => String(l.msg).startsWith('stored alert thresholds that do not fit'));
    assert.deepEqual(warned?.ignored, ['queue_growing_min', 'note']);
    await hub.stop();
  });
});

describe('alert webhook', () => {
  test('receives firing and resolved alerts as JSON POSTs; a failed attempt is retried', async () => {
    const hook = await receiver((n, res) => {
      res.writeHead(n === 1 ? 503 : 204).end();
    });
    const hub = await startTestHub({ ...FAST, alertWebhookUrl: hook.url, alertWebhookTimeoutMs: 200 });
    await strandTask(hub);
    await until(async () => (hook.got.length >= 2 ? true : undefined), 'the retried delivery');
    assert.deepEqual(
      hook.got.map((g) => [g.event, g.alert.rule_id, g.hub]),
      [
        ['fired', 'no_agents_online', 'agentcom'],
        ['fired', 'no_agents_online', 'agentcom'],
      ],
      'the first attempt got 503, the second went through',
    );
    const worker = await tokenFor(hub, 'worker');
    const c = await connectAgent(hub.wsUrl, 'worker', worker, { capabilities: ['rare'] });
    await until(async () => (hook.got.length >= 3 ? true : undefined), 'the resolved alert');
    assert.deepEqual([hook.got[2].event, hook.got[2].alert.rule_id], ['resolved', 'no_agents_online']);
    c.close();
    await hub.stop();
    await hook.close();
  });

  test('an attempt that gets no answer times out and is retried; a delivery that fails for good is logged', async () => {
    const hook = await receiver((n, res) => {
      if (n === 1) return; // never answers: the hub times out
      res.writeHead(n === 2 ? 200 : 400).end();
    });
    const hub = await startLoggedHub({ ...FAST, alertWebhookUrl: hook.url, alertWebhookTimeoutMs: 100 }, 'warn');
    await strandTask(hub);
    await until(async () => (hook.calls() >= 2 ? true : undefined), 'the retry after the timeout');
    assert.equal(hook.calls(), 2, 'delivered by the second attempt');
    // the resolved alert gets 400: not worth retrying, logged at once
    const worker = await tokenFor(hub, 'worker');
    const c = await connectAgent(hub.wsUrl, 'worker', worker, { capabilities: ['rare'] });
    const failed = await until(
      async () => hub.lines.find((l) => l.msg === 'alert webhook failed'),
      'the failure to be logged',
    );
    assert.deepEqual(
      [failed.level, failed.event, failed.rule_id, failed.error],
      [50, 'resolved', 'no_agents_online', 'HTTP 400'],
    );
    assert.equal(hook.calls(), 3);
    c.close();
    await hub.stop();
    await hook.close();
  });
});
