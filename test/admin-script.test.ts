import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { ADMIN_TOKEN, api, startTestHub, type TestHub } from './helpers/hub.js';
import { run } from './helpers/run.js';

const SCRIPT = fileURLToPath(new URL('../ops/admin.sh', import.meta.url));

/** `ops/admin.sh <args>` against `hub`: the exit code and what it printed (stdout parsed as JSON when it is). */
async function admin(hub: TestHub, ...args: string[]): Promise<{ code: number | null; body: any; err: string }> {
  const env = { PATH: process.env.PATH, AGENTCOM_ADMIN_URL: hub.adminUrl, AGENTCOM_ADMIN_TOKEN: ADMIN_TOKEN };
  const r = await run('bash', [SCRIPT, ...args], { env });
  let body: any = r.out;
  try {
    body = JSON.parse(r.out);
  } catch {}
  return { code: r.code, body, err: r.err };
}

describe('ops/admin.sh', () => {
  let hub: TestHub;
  before(async () => {
    hub = await startTestHub({ alertCheckMs: 50 });
  });
  after(() => hub.stop());

  test('health, ready, metrics and storage', async () => {
    assert.equal((await admin(hub, 'health')).body.status, 'ok');
    assert.equal((await admin(hub, 'ready')).body.status, 'ready');
    assert.match((await admin(hub, 'metrics')).body, /^# TYPE agentcom_batch_seconds histogram$/m);
    assert.ok((await admin(hub, 'storage')).body.tables.length > 0);
  });

  test('tokens: issue, list, reset, revoke', async () => {
    const t = await admin(hub, 'token', 'alice');
    assert.deepEqual([t.code, t.body.agent_id], [0, 'alice']);
    assert.ok((await admin(hub, 'tokens')).body.tokens.some((x: { agent_id: string }) => x.agent_id === 'alice'));
    assert.equal((await admin(hub, 'reset-token', 'alice')).body.agent_id, 'alice');
    assert.equal((await admin(hub, 'revoke', 'alice')).body.status, 'revoked');
  });

  test('rate-limit overrides and the whitelist', async () => {
    const set = await admin(hub, 'override', 'bob', '{"message":{"capacity":10,"per_min":10}}');
    assert.deepEqual(set.body.overrides, { message: { capacity: 10, per_min: 10 } });
    assert.deepEqual((await admin(hub, 'overrides')).body.overrides.bob, { message: { capacity: 10, per_min: 10 } });
    assert.equal((await admin(hub, 'override-remove', 'bob')).body.status, 'removed');
    assert.deepEqual((await admin(hub, 'whitelist', 'bob')).body.whitelist, ['bob']);
    assert.deepEqual((await admin(hub, 'unwhitelist', 'bob')).body.whitelist, []);
  });

  test('backup and compaction', async () => {
    const b = await admin(hub, 'backup');
    assert.deepEqual([b.code, b.body.status], [0, 'complete']);
    const one = await admin(hub, 'compact', 'registry');
    assert.deepEqual([one.body.table, one.body.status], ['registry', 'compacted']);
    const all = await admin(hub, 'compact');
    assert.equal(all.body.tables_total, 4);
  });

  test('alerts, acknowledge, thresholds', async () => {
    const boss = (await admin(hub, 'token', 'boss')).body.token;
    await api(hub.url, 'POST', '/api/tasks', {
      token: boss,
      body: { description: 'x', needed_capabilities: ['none'] },
    });
    let alerts: Array<{ rule_id: string }> = [];
    for (let i = 0; i < 100 && alerts.length === 0; i++) {
      await new Promise((r) => setTimeout(r, 20));
      alerts = (await admin(hub, 'alerts')).body.alerts;
    }
    assert.equal(alerts[0]?.rule_id, 'no_agents_online');
    assert.equal((await admin(hub, 'ack', 'no_agents_online')).body.status, 'acknowledged');
    assert.equal((await admin(hub, 'thresholds', '{"stuck_ms":300000}')).body.thresholds.stuck_ms, 300_000);
    assert.equal((await admin(hub, 'thresholds')).body.stuck_ms, 300_000);
  });

  test('a refusal exits non-zero with the hub’s answer; an unknown command prints the usage and exits 2', async () => {
    const bad = await admin(hub, 'thresholds', '{"stuck_ms":"soon"}');
    assert.notEqual(bad.code, 0);
    assert.equal(bad.body.error, 'validation_failed');
    const unknown = await admin(hub, 'nope');
    assert.equal(unknown.code, 2);
    assert.match(unknown.err, /^usage: ops\/admin\.sh <command>/);
  });
});
