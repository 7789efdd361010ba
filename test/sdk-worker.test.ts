import assert from 'node:assert/strict';
import { rmSync } from 'node:fs';
import { after, describe, test } from 'node:test';
import { type AgentComClient, connect, type TaskOutcome } from '../client/src/index.js';
import { killChildHubs, spawnChildHub } from './helpers/child-hub.js';
import { startTestHub, type TestHub, tempDir, tokenFor } from './helpers/hub.js';
import { agent, assertTappedFramesMatchSchemas, collect, TapSocket, tapped, until } from './helpers/sdk.js';

const fast = { reconnect: { initialDelayMs: 20, maxDelayMs: 200 }, WebSocket: TapSocket } as const;

function outcomes(c: AgentComClient): TaskOutcome[] {
  const out: TaskOutcome[] = [];
  c.on('taskFinished', (o) => {
    out.push(o);
  });
  return out;
}

describe('the client SDK’s task worker against a real hub', () => {
  const hubs: TestHub[] = [];
  const clients: AgentComClient[] = [];
  const dirs: string[] = [];
  const hubWith = async (overrides = {}) => {
    const h = await startTestHub(overrides);
    hubs.push(h);
    return h;
  };
  const join = async (hub: TestHub, id: string, opts = {}) => {
    const c = await agent(hub, id, { ...fast, ...opts });
    clients.push(c);
    return c;
  };
  after(async () => {
    for (const c of clients) await c.close(500);
    for (const h of hubs) await h.stop();
    await killChildHubs();
    for (const d of dirs) rmSync(d, { recursive: true, force: true });
  });

  test('accepts, reports progress, and completes with the task’s generation; the result is stored', async () => {
    const hub = await hubWith();
    const w = await join(hub, 'adder');
    const done = outcomes(w);
    const seen: Array<{ generation: number; metadata: unknown }> = [];
    w.worker({ capabilities: ['sum'] }, async (task, ctx) => {
      seen.push({ generation: ctx.generation, metadata: task.metadata });
      ctx.progress(50, { event_type: 'halfway' });
      const { a, b } = task.metadata as { a: number; b: number };
      return { sum: a + b };
    });
    const t = await w.submitTask({ description: 'add', needed_capabilities: ['sum'], metadata: { a: 2, b: 3 } });
    await until(() => done.length === 1, 'finished');
    assert.deepEqual(done[0], {
      taskId: t.task_id,
      generation: seen[0].generation,
      status: 'complete',
      result: { sum: 5 },
    });
    const view = await w.getTask(t.task_id);
    assert.deepEqual([view.status, view.result, view.generation], ['completed', { sum: 5 }, seen[0].generation]);
    assert.ok(tapped.some((f) => f.type === 'task_ack' && f.text.includes('"accepted"')));
  });

  test('queued tasks are worked back to back: the next assignment may come before the last result’s ack', async () => {
    const hub = await hubWith();
    const w = await join(hub, 'busy-bee');
    const done = outcomes(w);
    w.worker({ capabilities: ['bee'] }, (task) => ({ n: task.metadata.n }));
    const ids = [];
    for (let n = 0; n < 10; n++)
      ids.push((await w.submitTask({ description: 'bee', needed_capabilities: ['bee'], metadata: { n } })).task_id);
    await until(() => done.length === 10, 'all ten', 10_000);
    assert.ok(done.every((o) => o.status === 'complete'));
    for (const id of ids) {
      const t = await w.getTask(id);
      assert.deepEqual(
        t.history.filter((h) => h.event === 'rejected'),
        [],
        'never handed back as busy',
      );
    }
  });

  test('a throwing handler fails the task; the hub retries it per max_retries and the next attempt completes', async () => {
    const hub = await hubWith();
    const w = await join(hub, 'flaky');
    const done = outcomes(w);
    let attempts = 0;
    w.worker({ capabilities: ['flaky'] }, async () => {
      attempts++;
      if (attempts < 3) throw new Error(`attempt ${attempts} broke`);
      return { attempts };
    });
    const t = await w.submitTask({ description: 'flaky', needed_capabilities: ['flaky'], max_retries: 3 });
    await until(() => done.length === 3, 'three attempts', 10_000);
    assert.deepEqual(
      done.map((o) => o.status),
      ['retried', 'retried', 'complete'],
    );
    assert.equal(done[0].error, 'attempt 1 broke');
    assert.ok(done[1].generation > done[0].generation, 'each attempt has its own generation');
    const view = await w.getTask(t.task_id);
    assert.deepEqual([view.status, view.retry_count, view.result], ['completed', 2, { attempts: 3 }]);
  });

  test('past max_retries the task goes to dead letter, and the worker says so', async () => {
    const hub = await hubWith();
    const w = await join(hub, 'doomed');
    const done = outcomes(w);
    w.worker({ capabilities: ['doomed'] }, () => {
      throw new Error('always');
    });
    const t = await w.submitTask({ description: 'doomed', needed_capabilities: ['doomed'], max_retries: 1 });
    await until(() => done.length === 1, 'finished');
    assert.equal(done[0].status, 'dead_letter');
    assert.equal((await w.getTask(t.task_id)).status, 'dead_letter');
  });

  test('a task reclaimed while its handler ran and given to another agent: the late result is refused as stale_generation', async () => {
    const hub = await hubWith({ staleMs: 400, staleWorkingMs: 400, taskSweepMs: 100 });
    // the scheduler offers work to idle agents in the order they first identified: late first, slow second
    const late = await join(hub, 'late', { capabilities: ['x'] });
    const slow = await join(hub, 'slow', { capabilities: ['x'] });
    const slowDone = outcomes(slow);
    const lateDone = outcomes(late);
    let slowSignal: AbortSignal | null = null;
    const assignedToSlow = collect(slow, 'taskAssigned', 1);
    slow.worker({}, async (task, ctx) => {
      slowSignal = ctx.signal;
      // no progress: the hub reclaims the task as stale and gives it to `late`
      await until(async () => (await slow.getTask(task.task_id)).assigned_to === 'late', 'reassigned', 10_000);
      return { by: 'slow' };
    });
    // `late` (first in line, no worker yet) hands the task back, so `slow` gets it
    const t = await slow.submitTask({ description: 'contested', needed_capabilities: ['x'] });
    await assignedToSlow;
    late.worker({ capabilities: ['x', 'late-only'] }, async () => {
      await until(() => slowDone.length === 1, 'the stale result answered', 10_000);
      return { by: 'late' };
    });
    await until(() => lateDone.length === 1, 'late finished', 10_000);
    assert.equal(slowDone[0].status, 'stale_generation', 'the hub refused the stale generation');
    assert.equal((slowSignal as AbortSignal | null)?.aborted, false, 'the slow worker had no way to know');
    assert.equal(lateDone[0].status, 'complete');
    assert.ok(lateDone[0].generation > slowDone[0].generation);
    const view = await late.getTask(t.task_id);
    assert.deepEqual([view.status, view.result], ['completed', { by: 'late' }]);
  });

  test('the same task assigned again with a newer generation: the old run’s signal aborts and its result is withheld', async () => {
    const hub = await hubWith({ staleMs: 400, staleWorkingMs: 400, taskSweepMs: 100 });
    const w = await join(hub, 'solo');
    const done = outcomes(w);
    const reasons: unknown[] = [];
    let runs = 0;
    w.worker({ capabilities: ['solo'] }, async (_task, ctx) => {
      runs++;
      if (runs > 1) return { run: runs };
      await new Promise<void>((r) => ctx.signal.addEventListener('abort', () => r()));
      reasons.push((ctx.signal.reason as { code?: string }).code);
      return { run: 1 };
    });
    const t = await w.submitTask({ description: 'solo', needed_capabilities: ['solo'] });
    await until(() => done.length === 2, 'both runs ended', 10_000);
    assert.deepEqual(
      done.map((o) => o.status),
      ['stale_generation', 'complete'],
    );
    assert.deepEqual(reasons, ['stale_generation']);
    assert.deepEqual((await w.getTask(t.task_id)).result, { run: 2 });
  });

  test('a cancelled task: the handler’s signal aborts, nothing is sent, the outcome is cancelled', async () => {
    const hub = await hubWith();
    const w = await join(hub, 'canceller');
    const done = outcomes(w);
    const started = collect(w, 'taskAssigned', 1);
    w.worker({ capabilities: ['cancel-me'] }, async (_task, ctx) => {
      await new Promise<void>((r) => ctx.signal.addEventListener('abort', () => r()));
      return { ignored: true };
    });
    const t = await w.submitTask({ description: 'cancel me', needed_capabilities: ['cancel-me'] });
    await started;
    const r = await fetch(`${hub.url}/api/tasks/${t.task_id}/cancel`, {
      method: 'POST',
      headers: { authorization: `Bearer ${await tokenFor(hub, 'canceller')}` },
    });
    assert.equal(r.status, 200);
    await until(() => done.length === 1, 'finished');
    assert.equal(done[0].status, 'cancelled');
  });

  test('kill -9 mid-task: the worker reconnects, reports its task (state_report → continue) and completes it once', async () => {
    const dir = tempDir();
    dirs.push(dir);
    let child = await spawnChildHub(dir, { flags: ['--restart-grace-ms', '20000'] });
    const flags = ['--restart-grace-ms', '20000', '--port', new URL(child.url).port];
    const token = await child.token('survivor');
    await child.whitelist(['survivor']);
    const w = await connect({ url: child.wsUrl, agentId: 'survivor', token, ...fast });
    clients.push(w);
    const done = outcomes(w);
    let release: () => void = () => {};
    const gate = new Promise<void>((r) => {
      release = r;
    });
    const started = collect(w, 'taskAssigned', 1);
    w.worker({ capabilities: ['long'] }, async () => {
      await gate;
      return { finished: true };
    });
    const t = await w.submitTask({ description: 'long', needed_capabilities: ['long'] });
    await started;
    await until(async () => (await w.getTask(t.task_id)).status === 'assigned', 'assigned');
    const reconnected = collect(w, 'connected', 1, () => true, 20_000);
    child.proc.kill('SIGKILL');
    await child.exited;
    child = await spawnChildHub(dir, { flags });
    await reconnected;
    await until(() => tapped.some((f) => f.type === 'state_report_ack' && f.text.includes('"continue"')), 'continue');
    release();
    await until(() => done.length === 1, 'finished', 10_000);
    assert.equal(done[0].status, 'complete');
    const view = await w.getTask(t.task_id);
    assert.deepEqual([view.status, view.result], ['completed', { finished: true }]);
    await w.close();
    child.proc.kill('SIGTERM');
    await child.exited;
  });

  test('every frame the hub sent matches its schema', () => {
    const seen = assertTappedFramesMatchSchemas();
    for (const t of ['task_assign', 'task_ack', 'state_report_ack', 'task_cancelled']) assert.ok(seen.has(t), t);
  });
});
