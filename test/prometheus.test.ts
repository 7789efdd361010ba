import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { connectAgent } from './helpers/client.js';
import { ADMIN_TOKEN, api, startTestHub, type TestHub, tokenFor, whitelist } from './helpers/hub.js';

async function scrape(hub: TestHub): Promise<string> {
  const r = await fetch(`${hub.adminUrl}/metrics`, { headers: { authorization: `Bearer ${ADMIN_TOKEN}` } });
  assert.equal(r.status, 200);
  assert.match(r.headers.get('content-type') ?? '', /^text\/plain/);
  return r.text();
}

/** The value of one sample: `name` with at least these labels; undefined when there is none. */
function sample(text: string, name: string, labels: Record<string, string> = {}): number | undefined {
  for (const line of text.split('\n')) {
    if (line.startsWith('#')) continue;
    const m = /^([a-zA-Z_:][\w:]*)(\{[^}]*\})? (\S+)$/.exec(line);
    if (!m || m[1] !== name) continue;
    const have = Object.fromEntries([...(m[2] ?? '').matchAll(/(\w+)="([^"]*)"/g)].map((x) => [x[1], x[2]]));
    if (Object.entries(labels).every(([k, v]) => have[k] === v)) return Number(m[3]);
  }
  return undefined;
}

const typeOf = (text: string, name: string) => new RegExp(`^# TYPE ${name} (\\w+)$`, 'm').exec(text)?.[1];

describe('Prometheus /metrics (admin port)', () => {
  let hub: TestHub;
  let other: TestHub;
  const tok: Record<string, string> = {};

  before(async () => {
    [hub, other] = await Promise.all([startTestHub(), startTestHub()]);
    for (const id of ['awake', 'sleepy', 'worker', 'boss']) tok[id] = await tokenFor(hub, id);
    await whitelist(hub, 'awake', 'worker', 'boss');
  });
  after(() => Promise.all([hub.stop(), other.stop()]));

  test('latencies are histograms (buckets from 0.1 ms to seconds), fed by acks, batches and tasks', async () => {
    const awake = await connectAgent(hub.wsUrl, 'awake', tok.awake);
    await awake.request({ type: 'message', to: 'sleepy', payload: { hi: 1 } }, 'message_sent');
    const worker = await connectAgent(hub.wsUrl, 'worker', tok.worker, { capabilities: ['x'] });
    const submitted = await api(hub.url, 'POST', '/api/tasks', {
      token: tok.boss,
      body: { description: 'measure me', needed_capabilities: ['x'] },
    });
    const assign = await worker.next('task_assign');
    assert.equal(assign.task_id, submitted.body.task_id);
    worker.send({ type: 'task_accepted', task_id: assign.task_id });
    await worker.request(
      { type: 'task_complete', task_id: assign.task_id, generation: assign.generation, result: {} },
      'task_ack',
      (f) => f.status === 'complete',
    );
    const text = await scrape(hub);
    assert.doesNotMatch(text, /^# TYPE \S+ summary$/m, 'no summaries: they cannot be added up across hubs');
    for (const name of ['agentcom_ack_latency_seconds', 'agentcom_batch_seconds', 'agentcom_task_duration_seconds'])
      assert.equal(typeOf(text, name), 'histogram', name);
    assert.equal(sample(text, 'agentcom_ack_latency_seconds_count', { frame: 'message' }), 1);
    assert.notEqual(sample(text, 'agentcom_ack_latency_seconds_bucket', { frame: 'message', le: '0.0001' }), undefined);
    assert.notEqual(sample(text, 'agentcom_ack_latency_seconds_bucket', { frame: 'message', le: '10' }), undefined);
    assert.ok((sample(text, 'agentcom_batch_seconds_count', { domain: 'messaging' }) ?? 0) >= 1);
    assert.equal(sample(text, 'agentcom_task_duration_seconds_count', { outcome: 'complete' }), 1);
    assert.equal(sample(text, 'agentcom_task_outcomes_total', { outcome: 'complete' }), 1);
    assert.ok((sample(text, 'agentcom_batch_items_total', { domain: 'tasks' }) ?? 0) >= 3);
    awake.close();
    worker.close();
  });

  test('the process and Node defaults are there', async () => {
    const text = await scrape(hub);
    for (const name of [
      'process_cpu_user_seconds_total',
      'process_resident_memory_bytes',
      'nodejs_eventloop_lag_seconds',
      'nodejs_heap_size_used_bytes',
      'nodejs_gc_duration_seconds',
    ])
      assert.ok(typeOf(text, name), name);
  });

  test('agents by state: offline counts agents holding a token without a socket', async () => {
    const awake = await connectAgent(hub.wsUrl, 'awake', tok.awake);
    const text = await scrape(hub);
    // tokens: awake (online, idle), sleepy, worker, boss (none connected)
    assert.equal(sample(text, 'agentcom_agents', { state: 'idle' }), 1);
    assert.equal(sample(text, 'agentcom_agents', { state: 'offline' }), 3);
    assert.equal(sample(text, 'agentcom_agents_connected'), 1);
    const health = await api(hub.adminUrl, 'GET', '/health');
    assert.equal(health.body.agents.offline, 3);
    awake.close();
  });

  test('backups, compactions and storage figures', async () => {
    let text = await scrape(hub);
    assert.equal(sample(text, 'agentcom_backup_last_success_timestamp_seconds'), 0, 'no backup yet');
    const before = Date.now() / 1000;
    const b = await api(hub.adminUrl, 'POST', '/admin/backup', { token: ADMIN_TOKEN });
    assert.equal(b.body.status, 'complete');
    const c = await api(hub.adminUrl, 'POST', '/admin/compact/messaging', { token: ADMIN_TOKEN });
    assert.equal(c.body.status, 'compacted');
    await api(hub.adminUrl, 'GET', '/admin/storage-health', { token: ADMIN_TOKEN });
    text = await scrape(hub);
    assert.equal(sample(text, 'agentcom_backups_total', { status: 'complete' }), 1);
    const at = sample(text, 'agentcom_backup_last_success_timestamp_seconds') ?? 0;
    assert.ok(at >= before - 1 && at <= Date.now() / 1000, `backup time ${at}`);
    const size = b.body.results.reduce((n: number, r: { size: number }) => n + r.size, 0);
    assert.equal(sample(text, 'agentcom_backup_last_success_size_bytes'), size);
    assert.ok((sample(text, 'agentcom_backup_last_success_duration_seconds') ?? -1) >= 0);
    assert.equal(sample(text, 'agentcom_compactions_total', { domain: 'messaging', status: 'compacted' }), 1);
    assert.equal(sample(text, 'agentcom_compaction_pause_seconds_count', { domain: 'messaging' }), 1);
    for (const domain of ['registry', 'messaging', 'channels', 'tasks']) {
      assert.ok((sample(text, 'agentcom_storage_file_bytes', { domain }) ?? 0) > 0, domain);
      const ratio = sample(text, 'agentcom_storage_fragmentation_ratio', { domain }) ?? -1;
      assert.ok(ratio >= 0 && ratio <= 1, `${domain} ${ratio}`);
    }
    assert.equal(sample(text, 'agentcom_alert_firing', { rule_id: 'no_agents_online' }), 0);
  });

  test('each hub has its own registry: two hubs in one process do not share counts', async () => {
    const text = await scrape(other);
    assert.equal(sample(text, 'agentcom_ack_latency_seconds_count', { frame: 'message' }), undefined);
    assert.equal(sample(text, 'agentcom_task_outcomes_total', { outcome: 'complete' }), undefined);
    assert.equal(sample(text, 'agentcom_backups_total', { status: 'complete' }), undefined);
    assert.equal(sample(text, 'agentcom_agents', { state: 'offline' }), 0);
    assert.ok(typeOf(text, 'process_cpu_user_seconds_total'));
  });
});
