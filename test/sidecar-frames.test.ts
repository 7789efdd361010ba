import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { sleep, TestClient } from './helpers/client.js';
import { ADMIN_TOKEN, api, startTestHub, type TestHub, tokenFor } from './helpers/hub.js';

/** Frames shaped exactly as the original sidecar sends them (PROTOCOL.md §8): extra fields on every frame. */
const v1 = (f: Record<string, unknown>) => ({ ...f, protocol_version: 1 });

describe('a client that speaks like the original sidecar', () => {
  let hub: TestHub;
  let token: string;
  let submitter: string;

  before(async () => {
    hub = await startTestHub();
    token = await tokenFor(hub, 'sidecar-1');
    submitter = await tokenFor(hub, 'submitter');
  });
  after(() => hub.stop());

  test('identify, reports, the trivial task flow and a restart, with no validation error', async () => {
    const c = await TestClient.open(hub.wsUrl);
    const identified = c.next('identified');
    c.send(
      v1({
        type: 'identify',
        agent_id: 'sidecar-1',
        token,
        name: 'sidecar-1',
        status: 'idle',
        capabilities: ['code'],
        client_type: 'sidecar',
        pm2_info: { name: 'agentcom-sidecar', pm_id: 0 },
      }),
    );
    await identified;
    assert.ok((await c.request(v1({ type: 'ping' }), 'pong')).timestamp > 0);
    c.send(
      v1({
        type: 'resource_report',
        cpu_percent: 12.5,
        ram_used_bytes: 1e9,
        ram_total_bytes: 8e9,
        timestamp: Date.now(),
      }),
    );
    assert.equal(
      (await c.request(v1({ type: 'ollama_report', ollama_url: 'http://127.0.0.1:11434' }), 'ollama_report_ack'))
        .status,
      'registered',
    );
    const list = await c.request(v1({ type: 'list_agents' }), 'agents');
    const me = list.agents.find((a: { agent_id: string }) => a.agent_id === 'sidecar-1');
    assert.deepEqual([me.protocol_version, me.resources.cpu_percent], [1, 12.5]);

    await api(hub.url, 'POST', '/api/tasks', {
      token: submitter,
      body: {
        description: 'compat',
        complexity_tier: 'trivial',
        metadata: { shell_command: 'echo compat-ok' },
        skip_verification: true,
      },
    });
    const assign = await c.next('task_assign');
    assert.equal(assign.routing_decision.target_type, 'sidecar');
    c.send(v1({ type: 'task_accepted', task_id: assign.task_id }));
    await c.next('task_ack', (f) => f.status === 'accepted');
    c.send(
      v1({
        type: 'task_progress',
        task_id: assign.task_id,
        execution_event: { event_type: 'stdout', text: 'compat-ok' },
      }),
    );
    c.send(v1({ type: 'wake_result', task_id: assign.task_id, status: 'success', attempt: 1 }));
    const done = await c.request(
      v1({
        type: 'task_complete',
        task_id: assign.task_id,
        generation: assign.generation,
        result: {
          status: 'success',
          output: 'compat-ok\n',
          model_used: 'none',
          tokens_in: 0,
          tokens_out: 0,
          execution_ms: 5,
        },
        verification_report: { status: 'skip' },
        verification_history: [],
      }),
      'task_ack',
    );
    assert.equal(done.status, 'complete');
    const t = await api(hub.url, 'GET', `/api/tasks/${assign.task_id}`, { token: submitter });
    assert.equal(t.body.result.output, 'compat-ok\n');

    await api(hub.adminUrl, 'POST', '/admin/agents/sidecar-1/restart', {
      token: ADMIN_TOKEN,
      body: { reason: 'upgrade' },
    });
    assert.equal((await c.next('restart_sidecar')).reason, 'upgrade');
    c.send(v1({ type: 'agent_restarting', reason: 'upgrade' }));
    await sleep(50);
    assert.equal(c.frames.filter((f) => f.type === 'error').length, 0, 'no frame was refused');
    const health = await api(hub.adminUrl, 'GET', '/health');
    assert.equal(health.body.counters.violations, 0);
    c.close();
  });
});
