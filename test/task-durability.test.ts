import assert from 'node:assert/strict';
import { rmSync } from 'node:fs';
import { after, describe, test } from 'node:test';
import { killChildHubs, spawnChildHub } from './helpers/child-hub.js';
import { connectAgent, sleep, type TestClient } from './helpers/client.js';
import { api, startTestHub, tempDir, tokenFor, whitelist } from './helpers/hub.js';
import { until } from './helpers/tasks.js';

const WAIT = 10_000;

const dirs: string[] = [];
after(async () => {
  await killChildHubs();
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

/** What the fleet saw, across both lives of the hub. */
interface Ledger {
  /** accepted `task_ack {status:"complete"}` per task */
  completeAcks: Map<string, number>;
  continued: number;
  aborted: number;
}

/**
 * A scripted agent that survives hub restarts: it accepts every assignment at
 * once and completes it a few ms later. Assignments without a complete ack
 * are in flight; after a reconnect each is reported with `state_report` and
 * completed on `continue`, dropped on `abort` (as the sidecar does).
 */
class DurableAgent {
  private c: TestClient | null = null;
  private readonly inflight = new Map<string, number>();

  constructor(
    readonly id: string,
    private readonly token: string,
    private readonly ledger: Ledger,
  ) {}

  async connect(wsUrl: string): Promise<void> {
    const c = await connectAgent(wsUrl, this.id, this.token, { capabilities: ['dur'] });
    this.c = c;
    c.ws.on('message', (d) => this.onFrame(c, JSON.parse(String(d))));
    for (const [task_id, generation] of this.inflight) c.send({ type: 'state_report', task_id, generation });
  }

  private complete(c: TestClient, task_id: string, generation: number): void {
    c.send({ type: 'task_complete', task_id, generation, result: { status: 'success', by: this.id } });
  }

  private onFrame(c: TestClient, f: any): void {
    if (c !== this.c) return;
    if (f.type === 'task_assign') {
      this.inflight.set(f.task_id, f.generation);
      c.send({ type: 'task_accepted', task_id: f.task_id });
      setTimeout(() => this.complete(c, f.task_id, f.generation), 3 + Math.floor(Math.random() * 5));
    } else if (f.type === 'task_ack' && f.status === 'complete') {
      this.inflight.delete(f.task_id);
      this.ledger.completeAcks.set(f.task_id, (this.ledger.completeAcks.get(f.task_id) ?? 0) + 1);
    } else if (f.type === 'state_report_ack') {
      const generation = this.inflight.get(f.task_id);
      if (generation === undefined) return;
      if (f.action === 'continue') {
        this.ledger.continued++;
        this.complete(c, f.task_id, generation);
      } else {
        this.ledger.aborted++;
        this.inflight.delete(f.task_id);
      }
    }
  }

  close(): void {
    this.c?.close();
    this.c = null;
  }
}

describe('task durability across restarts', () => {
  test('kill -9 during a busy pipeline: after a restart every task ends exactly once', async (t) => {
    const dir = tempDir('agentcom-taskdur-');
    dirs.push(dir);
    const flags = ['--restart-grace-ms', '300', '--task-sweep-ms', '100', '--accept-timeout-ms', '1500'];
    let hub = await spawnChildHub(dir, { flags });
    const names = ['w1', 'w2', 'w3', 'w4'];
    const tSub = await hub.token('submitter');
    const tok: Record<string, string> = {};
    for (const w of names) tok[w] = await hub.token(w);
    await hub.whitelist(['submitter', ...names]);

    const acked: string[] = [];
    const lanes = ['urgent', 'high', 'normal', 'low'];
    const submitOne = async (i: number) => {
      const r = await api(hub.url, 'POST', '/api/tasks', {
        token: tSub,
        body: { description: `job ${i}`, priority: lanes[i % 4], needed_capabilities: ['dur'], max_retries: 5 },
      });
      assert.equal(r.status, 201);
      acked.push(r.body.task_id);
    };
    for (let i = 0; i < 40; i++) await submitOne(i);

    const ledger: Ledger = { completeAcks: new Map(), continued: 0, aborted: 0 };
    const fleet = names.map((w) => new DurableAgent(w, tok[w], ledger));
    await Promise.all(fleet.map((a) => a.connect(hub.wsUrl)));
    // more work arrives while the fleet is busy; a submit cut off by the kill was never acked
    let killed = false;
    const more = (async () => {
      for (let i = 40; i < 60 && !killed; i++) await submitOne(i).catch(() => undefined);
    })();
    const deadline = Date.now() + WAIT;
    while (ledger.completeAcks.size < 15 && Date.now() < deadline) await sleep(1);
    assert.ok(ledger.completeAcks.size >= 15, '15 completions before the kill');
    killed = true;
    hub.proc.kill('SIGKILL');
    assert.equal((await hub.exited).signal, 'SIGKILL');
    await more;
    for (const a of fleet) a.close();
    const ackedBeforeKill = ledger.completeAcks.size;
    assert.ok(ackedBeforeKill < acked.length, 'the kill came mid-stream');

    hub = await spawnChildHub(dir, { flags });
    await Promise.all(fleet.map((a) => a.connect(hub.wsUrl)));
    const stats = await until(
      async () => {
        const r = await api(hub.url, 'GET', '/api/tasks/stats', { token: tSub });
        return r.body.by_status.queued + r.body.by_status.assigned === 0 && r.body;
      },
      'the pipeline drained',
      20_000,
    );
    assert.ok(stats.by_status.completed + stats.dead_letter >= acked.length);

    for (const id of acked) {
      const r = await api(hub.url, 'GET', `/api/tasks/${id}`, { token: tSub });
      assert.equal(r.status, 200, `${id} was acked at submit and must exist`);
      assert.ok(['completed', 'dead_letter'].includes(r.body.status), `${id} ended (${r.body.status})`);
      const completions = r.body.history.filter((h: { event: string }) => h.event === 'completed').length;
      assert.equal(completions, r.body.status === 'completed' ? 1 : 0, `${id}: one completed event`);
    }
    for (const [id, n] of ledger.completeAcks) assert.equal(n, 1, `${id} acked as complete ${n} times`);
    t.diagnostic(
      `acked submits ${acked.length}, completions acked before the kill ${ackedBeforeKill}, ` +
        `state_report continue ${ledger.continued}, abort ${ledger.aborted}, dead letters ${stats.dead_letter}`,
    );
    const listed = await api(hub.url, 'GET', '/api/tasks?status=completed', { token: tSub });
    assert.equal(new Set(listed.body.tasks.map((t: { id: string }) => t.id)).size, listed.body.count);
    for (const a of fleet) a.close();
    hub.proc.kill('SIGTERM');
    assert.equal((await hub.exited).code, 0, 'a graceful stop after the drain');
  });

  test('after a graceful restart an assigned task waits restartGraceMs for its agent (§9.27)', async () => {
    const overrides = { restartGraceMs: 2_500, taskSweepMs: 100, acceptTimeoutMs: 20_000 };
    let hub = await startTestHub(overrides);
    const ids = ['sub', 'keep', 'gone', 'heir'];
    const tok: Record<string, string> = {};
    for (const a of ids) tok[a] = await tokenFor(hub, a);
    await whitelist(hub, ...ids);
    const get = async (id: string) => (await api(hub.url, 'GET', `/api/tasks/${id}`, { token: tok.sub })).body;
    const submitted = async (description: string, need: string) =>
      (await api(hub.url, 'POST', '/api/tasks', { token: tok.sub, body: { description, needed_capabilities: [need] } }))
        .body.task_id as string;

    const keep1 = await connectAgent(hub.wsUrl, 'keep', tok.keep, { capabilities: ['k'] });
    const gone1 = await connectAgent(hub.wsUrl, 'gone', tok.gone, { capabilities: ['g'] });
    const k = await submitted('kept across the restart', 'k');
    const g = await submitted('its agent never returns', 'g');
    const ka = await keep1.next('task_assign', undefined, WAIT);
    const ga = await gone1.next('task_assign', undefined, WAIT);
    assert.deepEqual([ka.task_id, ga.task_id], [k, g]);
    await keep1.request({ type: 'task_accepted', task_id: k }, 'task_ack');
    await gone1.request({ type: 'task_accepted', task_id: g }, 'task_ack');

    await hub.stop({ keepData: true });
    hub = await startTestHub(overrides, hub.dataDir);
    try {
      const kt = await get(k);
      const gt = await get(g);
      assert.deepEqual(
        [kt.status, kt.assigned_to, kt.generation],
        ['assigned', 'keep', ka.generation],
        'a graceful shutdown does not reclaim assignments',
      );
      assert.deepEqual([gt.status, gt.assigned_to, gt.generation], ['assigned', 'gone', ga.generation]);

      const keep = await connectAgent(hub.wsUrl, 'keep', tok.keep, { capabilities: ['k'] });
      const heir = await connectAgent(hub.wsUrl, 'heir', tok.heir, { capabilities: ['g'] });
      const report = { type: 'state_report', task_id: k, status: 'working', generation: ka.generation };
      const ack = await keep.request(report, 'state_report_ack');
      assert.deepEqual(ack, { type: 'state_report_ack', task_id: k, action: 'continue' });
      const st = await api(hub.url, 'GET', '/api/agents/keep/state', { token: tok.sub });
      assert.deepEqual([st.body.fsm_state, st.body.current_task_id], ['working', k]);

      // once the grace is over the absent agent's task is reclaimed and handed on
      const handed = await heir.next('task_assign', (f) => f.task_id === g, WAIT);
      assert.ok(handed.generation > ga.generation);
      const reclaimed = (await get(g)).history.find((h: { event: string }) => h.event === 'reclaimed');
      assert.equal(reclaimed?.details.reason, 'agent_offline');
      // the agent that came back in time kept its assignment through the same sweeps
      const kt2 = await get(k);
      assert.deepEqual([kt2.status, kt2.assigned_to, kt2.generation], ['assigned', 'keep', ka.generation]);
      const done = await keep.request({ type: 'task_complete', task_id: k, generation: ka.generation }, 'task_ack');
      assert.equal(done.status, 'complete');
      await heir.request({ type: 'task_complete', task_id: g, generation: handed.generation }, 'task_ack');
      const late = await connectAgent(hub.wsUrl, 'gone', tok.gone, { capabilities: ['none'] });
      assert.deepEqual(await late.request({ type: 'task_complete', task_id: g, generation: ga.generation }, 'error'), {
        type: 'error',
        error: 'task_complete_failed: invalid_state',
      });
      for (const id of [k, g]) {
        const t = await get(id);
        assert.equal(t.status, 'completed');
        assert.equal(t.history.filter((h: { event: string }) => h.event === 'completed').length, 1);
      }
      for (const c of [keep, heir, late]) c.close();
    } finally {
      await hub.stop();
    }
  });
});
