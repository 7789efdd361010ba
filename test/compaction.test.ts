import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { connectAgent } from './helpers/client.js';
import { ADMIN_TOKEN, api, startTestHub, type TestHub, tokenFor, whitelist } from './helpers/hub.js';

describe('copy-and-swap compaction', () => {
  let hub: TestHub;
  let a: string;
  let b: string;

  before(async () => {
    hub = await startTestHub({ historyMax: 50 });
    a = await tokenFor(hub, 'a');
    b = await tokenFor(hub, 'b');
    await whitelist(hub, 'a', 'b');
  });
  after(() => hub.stop());

  test('a domain compacts while writes queue, nothing acked is lost, other domains keep serving', async () => {
    const sender = await connectAgent(hub.wsUrl, 'a', a);
    for (let i = 0; i < 300; i++) sender.send({ type: 'message', to: 'b', payload: { i, pad: 'x'.repeat(500) } });
    const acked: string[] = [];
    sender.ws.on('message', (d) => {
      const f = JSON.parse(String(d));
      if (f.type === 'message_sent') acked.push(f.id);
    });
    const compacting = api(hub.adminUrl, 'POST', '/admin/compact/messaging', { token: ADMIN_TOKEN });
    for (let i = 0; i < 50; i++) sender.send({ type: 'message', to: 'b', payload: { during: i } });
    const task = await api(hub.url, 'POST', '/api/tasks', { token: a, body: { description: 'other domain' } });
    assert.equal(task.status, 201, 'the tasks domain is not paused');
    const r = await compacting;
    assert.equal(r.body.status, 'compacted', JSON.stringify(r.body));
    assert.ok(r.body.bytes_after <= r.body.bytes_before);
    assert.equal(typeof r.body.duration_ms, 'number');
    await sender.request({ type: 'ping' }, 'pong');
    while (acked.length < 350) await new Promise((res) => setTimeout(res, 10));
    const ids = new Set<string>();
    let since = 0;
    for (;;) {
      const page = await api(hub.url, 'GET', `/api/mailbox/b?since=${since}`, { token: b });
      if (page.body.count === 0) break;
      for (const m of page.body.messages) ids.add(m.id);
      since = page.body.last_seq;
    }
    assert.deepEqual(
      acked.filter((id) => !ids.has(id)),
      [],
      'every acked message is in the mailbox after the swap',
    );
    const all = await api(hub.adminUrl, 'POST', '/admin/compact', { token: ADMIN_TOKEN });
    assert.deepEqual([all.body.status, all.body.tables_compacted], ['complete', 4]);
    const unknown = await api(hub.adminUrl, 'POST', '/api/admin/compact/nope', { token: ADMIN_TOKEN });
    assert.deepEqual([unknown.status, unknown.body.error], [404, 'unknown_table']);
    sender.close();
  });
});
