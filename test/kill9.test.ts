import assert from 'node:assert/strict';
import { rmSync } from 'node:fs';
import { after, describe, test } from 'node:test';
import { CHILD_ADMIN_TOKEN, startChildHub } from './helpers/child.js';
import { connectAgent, sleep } from './helpers/client.js';
import { api, tempDir } from './helpers/hub.js';

const dirs: string[] = [];
after(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

async function token(adminUrl: string, agent: string): Promise<string> {
  const r = await api(adminUrl, 'POST', '/admin/tokens', { token: CHILD_ADMIN_TOKEN, body: { agent_id: agent } });
  return r.body.token;
}

describe('durability across kill -9', () => {
  test('every acked message is there after kill -9 and a restart', async () => {
    const dir = tempDir();
    dirs.push(dir);
    let hub = await startChildHub(dir);
    const tSender = await token(hub.adminUrl, 'sender');
    const tOff = await token(hub.adminUrl, 'offline');
    await api(hub.adminUrl, 'PUT', '/admin/rate-limits/whitelist', {
      token: CHILD_ADMIN_TOKEN,
      body: { agent_ids: ['sender', 'offline'] },
    });
    const s = await connectAgent(hub.wsUrl, 'sender', tSender);
    const acked: string[] = [];
    s.ws.on('message', (d) => {
      const f = JSON.parse(String(d));
      if (f.type === 'message_sent') acked.push(f.id);
    });
    for (let i = 0; i < 300; i++) s.send({ type: 'message', to: 'offline', payload: { i } });
    while (acked.length < 150) await sleep(2);
    hub.proc.kill('SIGKILL');
    await hub.exit;
    const ackedBeforeKill = [...acked];
    assert.ok(ackedBeforeKill.length >= 150);

    hub = await startChildHub(dir);
    const ids = new Set<string>();
    let since = 0;
    for (;;) {
      const r = await api(hub.url, 'GET', `/api/mailbox/offline?since=${since}`, { token: tOff });
      assert.equal(r.status, 200);
      for (const m of r.body.messages) ids.add(m.id);
      if (r.body.count === 0) break;
      since = r.body.last_seq;
    }
    const lost = ackedBeforeKill.filter((id) => !ids.has(id));
    assert.deepEqual(lost, [], `${lost.length} acked messages lost`);
    hub.proc.kill('SIGTERM');
    assert.equal(await hub.exit, 0);
  });

  test('a busy task pipeline killed -9 ends every task exactly once after restart', async () => {
    const dir = tempDir();
    dirs.push(dir);
    const flags = ['--restart-grace-ms', '300', '--task-sweep-ms', '200', '--accept-timeout-ms', '2000'];
    let hub = await startChildHub(dir, flags);
    const tSub = await token(hub.adminUrl, 'submitter');
    const workers = ['w1', 'w2', 'w3'];
    const tok: Record<string, string> = {};
    for (const w of workers) tok[w] = await token(hub.adminUrl, w);
    await api(hub.adminUrl, 'PUT', '/admin/rate-limits/whitelist', {
      token: CHILD_ADMIN_TOKEN,
      body: { agent_ids: ['submitter', ...workers] },
    });
    const ids: string[] = [];
    for (let i = 0; i < 40; i++) {
      const r = await api(hub.url, 'POST', '/api/tasks', { token: tSub, body: { description: `job ${i}` } });
      assert.equal(r.status, 201);
      ids.push(r.body.task_id);
    }
    const completions = new Map<string, number>();
    const work = async (wsUrl: string, w: string) => {
      const c = await connectAgent(wsUrl, w, tok[w]);
      c.ws.on('message', (d) => {
        const f = JSON.parse(String(d));
        if (f.type === 'task_assign') {
          c.send({ type: 'task_accepted', task_id: f.task_id });
          c.send({
            type: 'task_complete',
            task_id: f.task_id,
            generation: f.generation,
            result: { status: 'success' },
          });
        }
        if (f.type === 'task_ack' && f.status === 'complete') {
          completions.set(f.task_id, (completions.get(f.task_id) ?? 0) + 1);
        }
      });
      return c;
    };
    let clients = await Promise.all(workers.map((w) => work(hub.wsUrl, w)));
    while (completions.size < 10) await sleep(2);
    hub.proc.kill('SIGKILL');
    await hub.exit;
    for (const c of clients) c.close();

    hub = await startChildHub(dir, flags);
    clients = await Promise.all(workers.map((w) => work(hub.wsUrl, w)));
    const deadline = Date.now() + 20_000;
    let done = 0;
    while (Date.now() < deadline) {
      const r = await api(hub.url, 'GET', '/api/tasks/stats', { token: tSub });
      done = (r.body.by_status.completed ?? 0) + r.body.dead_letter;
      if (done === ids.length) break;
      await sleep(100);
    }
    assert.equal(done, ids.length, 'every task finished');
    for (const id of ids) {
      const t = await api(hub.url, 'GET', `/api/tasks/${id}`, { token: tSub });
      const finished = t.body.history.filter((h: { event: string }) => h.event === 'completed').length;
      assert.ok(finished <= 1, `${id} completed ${finished} times`);
      assert.ok(t.body.status === 'completed' || t.body.status === 'dead_letter');
    }
    for (const [id, n] of completions) assert.equal(n, 1, `${id} acked as complete ${n} times`);
    for (const c of clients) c.close();
    hub.proc.kill('SIGTERM');
    assert.equal(await hub.exit, 0);
  });
});
