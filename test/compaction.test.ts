import assert from 'node:assert/strict';
import { existsSync, mkdirSync, readdirSync, renameSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { open } from 'lmdb';
import type { Batcher } from '../main/batcher.js';
import { compactDomain } from '../main/compaction.js';
import type { Logger } from '../main/log.js';
import type { MaintenanceClient } from '../main/maintenance.js';
import type { BatchResult, SwapTask } from '../shared/batch.js';
import { compactionMarkFile, envFile } from '../shared/data-layout.js';
import { type Db, openDomainEnv } from '../storage/env.js';
import { Maintenance } from '../storage/maintenance.js';
import { spaceOf } from '../storage/space.js';
import { batchHandler } from '../workers/batch-handler.js';
import { connectAgent, until } from './helpers/client.js';
import { ADMIN_TOKEN, api, startTestHub, type TestHub, tempDir, tokenFor, whitelist } from './helpers/hub.js';

/** Sends `n` padded messages from a to b (online, so nothing is mailboxed) and waits for every ack. */
async function churn(hub: TestHub, n: number): Promise<void> {
  const a = await tokenFor(hub, 'a');
  const b = await tokenFor(hub, 'b');
  await whitelist(hub, 'a', 'b');
  const sender = await connectAgent(hub.wsUrl, 'a', a);
  const recipient = await connectAgent(hub.wsUrl, 'b', b);
  let acked = 0;
  sender.ws.on('message', (d) => {
    if (JSON.parse(String(d)).type === 'message_sent') acked++;
  });
  for (let i = 0; i < n; i++) sender.send({ type: 'message', to: 'b', payload: { i, pad: 'x'.repeat(1500) } });
  while (acked < n) await new Promise((res) => setTimeout(res, 10));
  sender.close();
  recipient.close();
}

async function messagingHealth(hub: TestHub) {
  const r = await api(hub.adminUrl, 'GET', '/admin/storage-health', { token: ADMIN_TOKEN });
  const history = r.body.tables.find((t: { table: string }) => t.table === 'messaging.history');
  return { body: r.body, history };
}

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
    assert.equal(typeof r.body.live_counts?.history, 'number');
    assert.deepEqual(r.body.counts, r.body.live_counts, 'checked against the live counts taken while paused');
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
    const replaced = join(hub.dataDir, 'replaced');
    await until(() => !existsSync(replaced) || readdirSync(replaced).length === 0, 'the replaced originals deleted');
    assert.ok(!existsSync(`${join(hub.dataDir, 'messaging', 'messaging.mdb')}.compacting`), 'no copy left behind');
    const unknown = await api(hub.adminUrl, 'POST', '/api/admin/compact/nope', { token: ADMIN_TOKEN });
    assert.deepEqual([unknown.status, unknown.body.error], [404, 'unknown_table']);
    sender.close();
  });
});

/**
 * compactDomain over a real batch handler and maintenance store, no threads: a
 * domain `demo` with one database, `opens` counting how often the worker opened it.
 */
async function demoDomain(failOnOpen?: number) {
  const dir = tempDir();
  let opens = 0;
  const run = batchHandler(
    () => {
      opens++;
      const env = openDomainEnv(dir, 'demo', ['kv'] as const);
      // stands in for a store that cannot start on the file (a full disk, a failed reindex)
      if (opens === failOnOpen) throw new Error('ENOSPC: no space left on device');
      return { root: env.root, path: env.path, store: env.dbs.kv as Db };
    },
    { put: (db: Db, a: { k: string }) => db.putSync(a.k, 1) },
    { names: ['kv'] },
  );
  const put = async (k: string) => {
    const r = (await run({ items: [{ op: 'put', args: { k } }], now: Date.now() })) as BatchResult;
    assert.ok(r.results[0].ok, `put ${k}`);
  };
  const m = new Maintenance(dir, { demo: ['kv'] });
  const lines: string[] = [];
  const log = {
    info: () => {},
    warn: (_: unknown, msg: string) => lines.push(msg),
    error: (_: unknown, msg: string) => lines.push(msg),
  } as unknown as Logger;
  const domain = { name: 'demo', pause: async () => {}, resume() {}, swap: (t: SwapTask) => run(t) };
  const compact = () =>
    compactDomain(
      domain as unknown as Batcher<never>,
      dir,
      { api: m, exclusive: (job: () => Promise<unknown>) => job() } as unknown as MaintenanceClient,
      log,
    );
  const onDisk = async () => {
    await run({ items: [], now: Date.now(), close: true });
    await m.close();
    const env = open({ path: envFile(dir, 'demo'), readOnly: true, maxDbs: 32 });
    const n = env.openDB({ name: 'kv' }).getKeysCount();
    await env.close();
    return n;
  };
  return { dir, run, put, m, lines, compact, onDisk };
}

describe('a compaction that fails late', () => {
  test('a compaction whose mark cannot be written is kept, and the maintenance thread reads the live file after it', async () => {
    const demo = await demoDomain();
    for (let i = 0; i < 100; i++) await demo.put(`before-${i}`);
    // the mark's temp file cannot be created (a full disk or a read-only file stands for it)
    mkdirSync(`${compactionMarkFile(demo.dir)}.tmp`);
    const first = await demo.compact();
    assert.equal(first.status, 'compacted', first.reason);
    assert.ok(demo.lines.some((l) => l.startsWith('compaction mark not written')));
    rmSync(`${compactionMarkFile(demo.dir)}.tmp`, { recursive: true });
    for (let i = 0; i < 50; i++) await demo.put(`after-${i}`);
    const second = await demo.compact();
    assert.deepEqual(second.live_counts, { kv: 150 }, 'the maintenance thread counts the live file');
    assert.equal(await demo.onDisk(), 150, 'every acked write is still on disk');
  });

  test('a swapped-in copy that does not open: the original comes back and serves', async () => {
    const demo = await demoDomain(2);
    for (let i = 0; i < 100; i++) await demo.put(`k${i}`);
    const r = await demo.compact();
    assert.equal(r.status, 'failed');
    assert.match(r.reason ?? '', /reopening the swapped-in file: ENOSPC/);
    await demo.put('after');
    assert.equal(await demo.onDisk(), 101, 'the original is live again, with the write after it');
  });

  test('the maintenance thread never creates a domain file that is missing', async () => {
    const demo = await demoDomain();
    await demo.m.release('demo');
    await demo.run({ items: [], now: Date.now(), close: true });
    renameSync(envFile(demo.dir, 'demo'), join(demo.dir, 'elsewhere.mdb'));
    await demo.m.reopen('demo');
    assert.ok(!existsSync(envFile(demo.dir, 'demo')), 'no empty file at the live path');
    await assert.rejects(demo.m.space('demo'), /not open/);
  });
});

describe('fragmentation', () => {
  test('spaceOf counts the free pages a trimmed database leaves, and a compacted copy has none to speak of', async () => {
    const dir = tempDir('agentcom-space-');
    const path = join(dir, 'x.mdb');
    const root = open({ path, maxDbs: 4 });
    const db = root.openDB({ name: 'h' });
    try {
      root.transactionSync(() => {
        for (let i = 0; i < 2000; i++) db.putSync(i, { pad: 'x'.repeat(500) });
      });
      assert.ok(spaceOf(root, path, ['h']).fragmentation_ratio < 0.05, 'a freshly filled file is dense');
      root.transactionSync(() => {
        for (let i = 0; i < 1900; i++) db.removeSync(i);
      });
      const trimmed = spaceOf(root, path, ['h']);
      assert.ok(trimmed.fragmentation_ratio > 0.8, JSON.stringify(trimmed));
      assert.equal(trimmed.reclaimable_bytes, (trimmed.pages_total - trimmed.pages_used) * trimmed.page_size);
      await root.backup(join(dir, 'c.mdb'), true);
      const copy = open({ path: join(dir, 'c.mdb'), maxDbs: 4, readOnly: true });
      const compacted = spaceOf(copy, join(dir, 'c.mdb'), ['h']);
      await copy.close();
      assert.ok(compacted.file_size_bytes < trimmed.file_size_bytes / 5, JSON.stringify(compacted));
    } finally {
      await root.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test('storage health reports a trimmed history as fragmented, and a compaction gives the space back', async () => {
    const hub = await startTestHub({ historyMax: 20, compactIntervalMs: 0 });
    try {
      await churn(hub, 600);
      const before = await messagingHealth(hub);
      assert.ok(before.history.fragmentation_ratio > 0.5, JSON.stringify(before.history));
      assert.deepEqual([before.body.high_fragmentation, before.body.health_status], [true, 'warning']);
      const r = await api(hub.adminUrl, 'POST', '/admin/compact/messaging', { token: ADMIN_TOKEN });
      assert.equal(r.body.status, 'compacted');
      const after = await messagingHealth(hub);
      assert.ok(after.history.fragmentation_ratio < 0.5, JSON.stringify(after.history));
      assert.ok(after.history.file_size_bytes < before.history.file_size_bytes / 4);
      assert.equal(after.history.record_count, 20);
    } finally {
      await hub.stop();
    }
  });

  test('the scheduled compaction shrinks a fragmented domain on its own', async () => {
    const hub = await startTestHub({
      historyMax: 20,
      compactIntervalMs: 100,
      compactMinFragmentation: 0.3,
      compactMinBytes: 64 * 1024,
    });
    try {
      await churn(hub, 600);
      // 600 messages of 1.5 KB leave the file near 1 MB; only a compaction makes it smaller
      const deadline = Date.now() + 10_000;
      let health = await messagingHealth(hub);
      while (health.history.file_size_bytes > 256 * 1024 && Date.now() < deadline) {
        await new Promise((res) => setTimeout(res, 50));
        health = await messagingHealth(hub);
      }
      assert.ok(health.history.file_size_bytes <= 256 * 1024, JSON.stringify(health.history));
      assert.equal(health.history.record_count, 20);
    } finally {
      await hub.stop();
    }
  });
});
