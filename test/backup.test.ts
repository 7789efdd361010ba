import assert from 'node:assert/strict';
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { startHub } from '../main/hub.js';
import { restore } from '../ops/restore.js';
import { parseConfig } from '../shared/config.js';
import { OperatorError } from '../shared/errors.js';
import { spawnChildHub } from './helpers/child-hub.js';
import { connectAgent } from './helpers/client.js';
import { ADMIN_TOKEN, api, startTestHub, tempDir, tokenFor, whitelist } from './helpers/hub.js';
import { startLoggedHub } from './helpers/logged-hub.js';

const dirs: string[] = [];
after(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

describe('backup and restore', () => {
  test('storage health warns until the first backup; an online backup is consistent, kept N deep, and restores into a working hub', async () => {
    const hub = await startTestHub({ backupKeep: 2 });
    const a = await tokenFor(hub, 'a');
    const b = await tokenFor(hub, 'b');
    await whitelist(hub, 'a', 'b');
    const sender = await connectAgent(hub.wsUrl, 'a', a);
    for (let i = 0; i < 50; i++) sender.send({ type: 'message', to: 'b', payload: { i } });
    const task = await api(hub.url, 'POST', '/api/tasks', { token: a, body: { description: 'keep me' } });
    const none = await api(hub.adminUrl, 'GET', '/admin/storage-health', { token: ADMIN_TOKEN });
    assert.deepEqual([none.body.health_status, none.body.stale_backup], ['warning', true], 'no backup yet');
    assert.ok(none.body.tables.some((t: { table: string }) => t.table === 'messaging.history'));
    const backups = [];
    for (let i = 0; i < 3; i++) {
      const r = await api(hub.adminUrl, 'POST', '/admin/backup', { token: ADMIN_TOKEN });
      assert.equal(r.body.status, 'complete');
      assert.equal(r.body.tables_success, 4);
      backups.push(r.body.path as string);
    }
    assert.equal(existsSync(backups[0]), false, 'only the newest 2 are kept');
    const health = await api(hub.adminUrl, 'GET', '/admin/storage-health', { token: ADMIN_TOKEN });
    assert.deepEqual([health.body.health_status, health.body.stale_backup], ['healthy', false]);
    sender.close();
    await hub.stop({ keepData: true });
    dirs.push(hub.dataDir);

    const fresh = tempDir();
    dirs.push(fresh);
    const restored = await restore(backups[2], fresh);
    assert.ok(restored.ok, restored.report.join('\n'));
    const again = await startTestHub({}, fresh);
    const box = await api(again.url, 'GET', '/api/mailbox/b', { token: b });
    const manifest = JSON.parse(readFileSync(join(backups[2], 'manifest.json'), 'utf8'));
    const mailbox = manifest.domains.find((d: { domain: string }) => d.domain === 'messaging').counts.mailbox;
    assert.equal(box.body.count, mailbox, 'the restored mailbox holds what the manifest counted');
    const t = await api(again.url, 'GET', `/api/tasks/${task.body.task_id}`, { token: a });
    assert.equal(t.body.description, 'keep me');
    await again.stop();
  });

  test('a domain file that vanished under a backup stops the start with the restore command; restored, the counts match', async () => {
    const hub = await startTestHub();
    const a = await tokenFor(hub, 'a');
    await whitelist(hub, 'a');
    const sender = await connectAgent(hub.wsUrl, 'a', a);
    for (let i = 0; i < 20; i++)
      await sender.request({ type: 'message', to: 'offline', payload: { i } }, 'message_sent');
    sender.close();
    const backup = await api(hub.adminUrl, 'POST', '/admin/backup', { token: ADMIN_TOKEN });
    await hub.stop({ keepData: true });
    dirs.push(hub.dataDir);
    const file = join(hub.dataDir, 'messaging', 'messaging.mdb');
    rmSync(file);
    rmSync(`${file}-lock`, { force: true });

    const config = parseConfig({ host: '127.0.0.1', port: 0, adminPort: 0, data: hub.dataDir, logLevel: 'silent' });
    await assert.rejects(startHub(config), (err: Error) => {
      assert.ok(err instanceof OperatorError);
      assert.match(err.message, /messaging\.mdb is missing, but the newest backup .* holds \d+ records of messaging/);
      assert.ok(err.message.includes(`npm run restore -- --from ${backup.body.path} --data ${hub.dataDir}`));
      return true;
    });
    assert.equal(existsSync(file), false, 'the refused start created nothing');

    const restored = await restore(backup.body.path, hub.dataDir);
    assert.ok(restored.ok, restored.report.join('\n'));
    const again = await startLoggedHub({}, 'info', hub.dataDir);
    const line = again.lines.find((l) => l.msg === 'record counts since the newest backup' && l.domain === 'messaging');
    assert.deepEqual(line?.changed, {}, 'right after a restore nothing differs from the manifest');
    const box = await api(again.url, 'GET', '/api/mailbox/offline', { token: await tokenFor(again, 'offline') });
    assert.equal(box.body.count, 20);
    await again.stop({ keepData: true });
  });

  test('`npm start` over a vanished domain file exits 1 with the restore command, not a stack trace', async () => {
    const hub = await startTestHub();
    await api(hub.adminUrl, 'POST', '/admin/backup', { token: ADMIN_TOKEN });
    await hub.stop({ keepData: true });
    dirs.push(hub.dataDir);
    rmSync(join(hub.dataDir, 'registry'), { recursive: true });
    await assert.rejects(spawnChildHub(hub.dataDir), (err: Error) => {
      assert.match(err.message, /exited before listening \(1\)/);
      assert.match(err.message, /agentcom failed to start: .*registry\.mdb is missing.*npm run restore -- --from /);
      assert.doesNotMatch(err.message, /\n\s+at /, 'no stack trace');
      return true;
    });
  });

  test('retention counts complete backups: newer partial ones never push a restorable backup out', async () => {
    const hub = await startTestHub({ backupKeep: 2 });
    dirs.push(hub.dataDir);
    const backup = async () => (await api(hub.adminUrl, 'POST', '/admin/backup', { token: ADMIN_TOKEN })).body.path;
    const first = await backup();
    const second = await backup();
    const partials: string[] = [];
    for (let i = 0; i < 2; i++) {
      await new Promise((r) => setTimeout(r, 5));
      const dir = join(hub.dataDir, 'backups', new Date().toISOString().replace(/[:.]/g, '-'));
      mkdirSync(dir);
      const manifest = { created_at: Date.now(), domains: [], failed: [{ domain: 'tasks', reason: 'disk full' }] };
      writeFileSync(join(dir, 'manifest.json'), JSON.stringify(manifest));
      partials.push(dir);
    }
    await new Promise((r) => setTimeout(r, 5));
    const third = await backup();
    assert.deepEqual(
      [first, second, ...partials, third].map((d) => existsSync(d)),
      [false, true, false, false, true],
      'the newest two complete backups stay; partials older than the newest backup go',
    );
    await hub.stop();
  });
});
