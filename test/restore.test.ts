import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import { after, describe, test } from 'node:test';
import { restore } from '../ops/restore.js';
import { connectAgent, TestClient } from './helpers/client.js';
import { ADMIN_TOKEN, api, startTestHub, type TestHub, tokenFor, whitelist } from './helpers/hub.js';

const dirs: string[] = [];
after(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

/** sha256 of every file under `dir` except backups: what "byte-for-byte as it was" compares. */
function fingerprint(dir: string): Record<string, string> {
  const out: Record<string, string> = {};
  const walk = (d: string) => {
    for (const e of readdirSync(d, { withFileTypes: true })) {
      const p = join(d, e.name);
      if (e.isDirectory()) {
        if (e.name !== 'backups') walk(p);
      } else out[p] = createHash('sha256').update(readFileSync(p)).digest('hex');
    }
  };
  walk(dir);
  return out;
}

async function send(c: TestClient, to: string, n: number): Promise<void> {
  for (let i = 0; i < n; i++) await c.request({ type: 'message', to, payload: { i } }, 'message_sent');
}

/** The `identified` frame of a fresh socket for `agent`. */
async function identifiedFrame(hub: TestHub, agent: string, token: string) {
  const c = await TestClient.open(hub.wsUrl);
  const f = await c.request({ type: 'identify', agent_id: agent, token }, 'identified');
  c.close();
  await c.waitClose();
  return f;
}

const backup = async (hub: TestHub) =>
  (await api(hub.adminUrl, 'POST', '/admin/backup', { token: ADMIN_TOKEN })).body.path as string;

async function mailbox(hub: TestHub, agent: string, token: string, since = 0) {
  const r = await api(hub.url, 'GET', `/api/mailbox/${agent}?since=${since}`, { token });
  return r.body.messages as Array<{ seq: number; payload: { i: number } }>;
}

describe('restore (offline)', () => {
  test('a backup with one bad domain is refused whole: the data directory is byte-for-byte as it was', async () => {
    const hub = await startTestHub();
    dirs.push(hub.dataDir);
    const a = await tokenFor(hub, 'a');
    const c = await connectAgent(hub.wsUrl, 'a', a);
    await send(c, 'b', 5);
    const path = await backup(hub);
    await send(c, 'b', 5);
    c.close();
    await hub.stop({ keepData: true });
    const bad = join(path, 'tasks', 'tasks.mdb');
    writeFileSync(bad, Buffer.concat([readFileSync(bad), Buffer.from('x')]));
    const before = fingerprint(hub.dataDir);
    const r = await restore(path, hub.dataDir);
    assert.equal(r.ok, false);
    assert.match(r.report.join('\n'), /tasks: .*does not match its checksum\nnothing was changed/);
    assert.deepEqual(fingerprint(hub.dataDir), before, 'every file as it was, the good domains included');
  });

  test('a backup without one of the domains is refused, as online: nothing is swapped', async () => {
    const hub = await startTestHub();
    dirs.push(hub.dataDir);
    const path = await backup(hub);
    await hub.stop({ keepData: true });
    const file = join(path, 'manifest.json');
    const manifest = JSON.parse(readFileSync(file, 'utf8'));
    manifest.domains = manifest.domains.filter((d: { domain: string }) => d.domain !== 'tasks');
    writeFileSync(file, JSON.stringify(manifest));
    const before = fingerprint(hub.dataDir);
    const r = await restore(path, hub.dataDir);
    assert.equal(r.ok, false);
    assert.match(r.report.join('\n'), /^the backup holds no tasks\nnothing was changed$/);
    assert.deepEqual(fingerprint(hub.dataDir), before);
  });

  test('seqs never go backwards: after a restore new messages, mailbox entries and channel posts continue above every seq handed out', async () => {
    let hub = await startTestHub();
    dirs.push(hub.dataDir);
    const a = await tokenFor(hub, 'a');
    const b = await tokenFor(hub, 'b');
    await whitelist(hub, 'a');
    let c = await connectAgent(hub.wsUrl, 'a', a);
    await api(hub.url, 'POST', '/api/channels', { token: a, body: { name: 'news' } });
    const post = async () =>
      (await c.request({ type: 'channel_publish', channel: 'news', payload: {} }, 'channel_published')).seq;
    await send(c, 'b', 5);
    await post();
    const path = await backup(hub);
    await send(c, 'b', 5);
    const lastChannelSeq = await post();
    const box = await mailbox(hub, 'b', b);
    const highest = box[box.length - 1].seq;
    c.close();
    await hub.stop({ keepData: true });

    const r = await restore(path, hub.dataDir);
    assert.ok(r.ok, r.report.join('\n'));
    hub = await startTestHub({}, hub.dataDir);
    assert.deepEqual(
      (await mailbox(hub, 'b', b)).map((m) => m.payload.i),
      [0, 1, 2, 3, 4],
      'the backup’s mailbox is back',
    );
    c = await connectAgent(hub.wsUrl, 'a', a);
    await send(c, 'b', 3);
    assert.ok((await post()) > lastChannelSeq, 'the channel seq continues above the one handed out before the restore');
    // an agent that had seen everything up to `highest` resumes from there and gets exactly the new entries
    const resumed = await connectAgent(hub.wsUrl, 'b', b, { mailbox_since: highest });
    const got = [];
    for (let i = 0; i < 3; i++) got.push(await resumed.next('message'));
    assert.ok(got.every((m) => m.seq > highest));
    assert.deepEqual(
      got.map((m) => m.payload.i),
      [0, 1, 2],
    );
    c.close();
    resumed.close();
    await hub.stop({ keepData: true });
  });

  test('identified reports the oldest mailbox seq still held (null when empty)', async () => {
    const hub = await startTestHub();
    dirs.push(hub.dataDir);
    const a = await tokenFor(hub, 'a');
    const b = await tokenFor(hub, 'b');
    const c = await connectAgent(hub.wsUrl, 'a', a);
    const empty = await identifiedFrame(hub, 'b', b);
    assert.deepEqual([empty.oldest_seq, empty.delivery], [null, 'live']);
    for (let i = 0; i < 100 && hub.fleet.local('b'); i++) await new Promise((r) => setTimeout(r, 10));
    await send(c, 'b', 3);
    const box = await mailbox(hub, 'b', b);
    assert.equal(box.length, 3);
    assert.equal((await identifiedFrame(hub, 'b', b)).oldest_seq, box[0].seq);
    c.close();
    await hub.stop();
  });
});

describe('restore (online, POST /admin/restore)', () => {
  test('the hub swaps every domain while agents stay connected, reports the pause, and seqs continue', async () => {
    const hub = await startTestHub();
    dirs.push(hub.dataDir);
    const a = await tokenFor(hub, 'a');
    const b = await tokenFor(hub, 'b');
    await whitelist(hub, 'a');
    const c = await connectAgent(hub.wsUrl, 'a', a);
    await send(c, 'b', 4);
    const path = await backup(hub);
    const late = await tokenFor(hub, 'late');
    const lateSocket = await connectAgent(hub.wsUrl, 'late', late);
    await send(c, 'b', 4);
    const before = await mailbox(hub, 'b', b);
    const highest = before[before.length - 1].seq;

    const r = await api(hub.adminUrl, 'POST', '/admin/restore', {
      token: ADMIN_TOKEN,
      body: { backup: basename(path) },
    });
    assert.equal(r.status, 200, JSON.stringify(r.body));
    assert.equal(r.body.status, 'restored');
    assert.equal(r.body.tables_total, 4);
    assert.equal(typeof r.body.paused_ms, 'number');
    assert.ok(statSync(r.body.replaced_files).isDirectory(), 'the replaced files are kept');
    assert.deepEqual(
      (await mailbox(hub, 'b', b)).map((m) => m.payload.i),
      [0, 1, 2, 3],
      'the data is the backup’s',
    );
    assert.equal(c.closed, null, 'an agent whose token the backup holds stays connected');
    assert.equal((await lateSocket.waitClose()).code, 4003, 'a token the backup does not hold is revoked');
    // the socket that stayed keeps working, and seqs continue above everything handed out
    await send(c, 'b', 1);
    const after_ = await mailbox(hub, 'b', b);
    assert.ok(after_[after_.length - 1].seq > highest);
    const adminStill = await api(hub.adminUrl, 'GET', '/admin/tokens', { token: ADMIN_TOKEN });
    assert.equal(adminStill.status, 200, 'the admin token in use still works');
    c.close();
    await hub.stop();
  });

  test('a damaged or unknown backup is refused and nothing changes', async () => {
    const hub = await startTestHub();
    dirs.push(hub.dataDir);
    const a = await tokenFor(hub, 'a');
    const b = await tokenFor(hub, 'b');
    const c = await connectAgent(hub.wsUrl, 'a', a);
    await send(c, 'b', 2);
    const path = await backup(hub);
    await send(c, 'b', 2);
    const file = join(path, 'channels', 'channels.mdb');
    writeFileSync(file, Buffer.concat([readFileSync(file), Buffer.from('x')]));
    const r = await api(hub.adminUrl, 'POST', '/admin/restore', { token: ADMIN_TOKEN, body: { backup: path } });
    assert.equal(r.status, 422);
    assert.equal(r.body.error, 'backup_invalid');
    assert.match(r.body.problems.join('\n'), /channels: .*does not match its checksum/);
    assert.equal((await mailbox(hub, 'b', b)).length, 4, 'nothing was restored');
    const missing = await api(hub.adminUrl, 'POST', '/admin/restore', { token: ADMIN_TOKEN, body: { backup: 'nope' } });
    assert.deepEqual([missing.status, missing.body.error], [404, 'backup_not_found']);
    const onPublic = await api(hub.url, 'POST', '/admin/restore', { token: a, body: { backup: 'nope' } });
    assert.equal(onPublic.status, 403, 'admin port only');
    c.close();
    await hub.stop();
  });
});
