import assert from 'node:assert/strict';
import { rmSync } from 'node:fs';
import { after, before, describe, test } from 'node:test';
import { type Domains, lmdbDomains } from '../main/domains.js';
import { createLogger } from '../main/log.js';
import { parseConfig } from '../shared/config.js';
import type { HubError } from '../shared/errors.js';
import type { NewMsg } from '../shared/schemas/records.js';
import { tempDir } from './helpers/hub.js';

/**
 * The domain contracts (shared/domains/) as main sees them: ops through
 * `call`, with real worker threads behind. Every backend that implements the
 * contracts runs this same suite; LMDB is the one today.
 */
const BACKENDS: Array<{ name: string; start: (dataDir: string) => Domains }> = [
  {
    name: 'lmdb',
    start: (dataDir) =>
      lmdbDomains(dataDir, parseConfig({ data: dataDir, mailboxMax: 3, channelHistoryPerChannel: 2 }), {
        batchMax: 256,
        queueMax: 10_000,
        inFlightMax: 2,
        log: createLogger({ logLevel: 'silent' }),
      }),
  },
];

const msg = (over: Partial<NewMsg> = {}): NewMsg => ({
  from: 'alice',
  to: 'bob',
  type: 'chat',
  payload: { n: 1 },
  reply_to: null,
  timestamp: Date.now(),
  ...over,
});

const code = (err: unknown) => (err as HubError).code;

for (const backend of BACKENDS) {
  describe(`domain contracts (${backend.name})`, () => {
    let d: Domains;
    let dataDir: string;
    before(() => {
      dataDir = tempDir();
      d = backend.start(dataDir);
    });
    after(async () => {
      await Promise.all(Object.values(d).map((x) => x.close()));
      rmSync(dataDir, { recursive: true, force: true });
    });

    test('messaging: a send is stored once with a growing seq; mailboxed agents poll it, ack removes it', async () => {
      const a = await d.messaging.call('send', { msg: msg(), mailboxFor: ['bob'], idem: null });
      const b = await d.messaging.call('send', { msg: msg({ payload: { n: 2 } }), mailboxFor: ['bob'], idem: null });
      assert.ok(!('replay' in a) && !('replay' in b));
      assert.ok(b.seq > a.seq);
      assert.deepEqual(b.mailboxed, ['bob']);
      const box = await d.messaging.call('poll', { agent: 'bob', since: 0 });
      assert.deepEqual(
        box.messages.map((m) => m.id),
        [a.id, b.id],
      );
      assert.equal(await d.messaging.call('mailboxHead', { agent: 'bob' }), a.seq);
      assert.equal(await d.messaging.call('ack', { agent: 'bob', seq: a.seq }), 1);
      assert.equal(await d.messaging.call('mailboxHead', { agent: 'bob' }), b.seq);
      assert.equal(await d.messaging.call('mailboxHead', { agent: 'nobody' }), null);
    });

    test('messaging: the mailbox cap drops the oldest entries and says whose', async () => {
      let dropped: Record<string, number> = {};
      for (let i = 0; i < 5; i++) {
        const r = await d.messaging.call('send', { msg: msg({ to: 'full' }), mailboxFor: ['full'], idem: null });
        if (!('replay' in r)) dropped = { ...dropped, ...r.dropped };
      }
      assert.deepEqual(dropped, { full: 1 });
      assert.equal((await d.messaging.call('poll', { agent: 'full', since: 0 })).messages.length, 3);
    });

    test('messaging: an idempotency key replays the first reply; another request under it is refused', async () => {
      const idem = { agent: 'alice', key: 'k1' };
      const first = await d.messaging.call('send', { msg: msg(), mailboxFor: [], idem });
      const again = await d.messaging.call('send', { msg: msg(), mailboxFor: [], idem });
      assert.ok(!('replay' in first) && 'replay' in again);
      assert.deepEqual(again.replay, { id: first.id, seq: first.seq });
      await assert.rejects(
        d.messaging.call('send', { msg: msg({ payload: { other: true } }), mailboxFor: [], idem }),
        (e) => code(e) === 'idempotency_key_reused',
      );
    });

    test('messaging: a publish gets a channel seq and history; threads follow reply_to', async () => {
      const p = await d.messaging.call('publish', {
        channel: 'news',
        msg: msg({ to: null }),
        mailboxFor: [],
        idem: null,
      });
      assert.ok(!('replay' in p));
      const reply = await d.messaging.call('send', { msg: msg({ reply_to: p.id }), mailboxFor: [], idem: null });
      assert.ok(!('replay' in reply));
      const hist = await d.messaging.call('channelHistory', { channel: 'news', limit: 10, since: 0 });
      assert.deepEqual(
        hist.map((h) => h.seq),
        [p.channelSeq],
      );
      assert.equal(await d.messaging.call('root', { id: reply.id }), p.id);
      assert.deepEqual(
        (await d.messaging.call('replies', { id: p.id })).map((m) => m.id),
        [reply.id],
      );
      const page = await d.messaging.call('history', { channel: 'news' });
      assert.deepEqual(
        page.messages.map((m) => m.id),
        [p.id],
      );
    });

    test('tasks: submit, schedule to a capable candidate, complete fenced by generation', async () => {
      const s = await d.tasks.call('submit', {
        input: { description: 'build', needed_capabilities: ['code'] },
        by: 'alice',
        key: null,
        ignored: [],
      });
      assert.equal(s.reply.status, 'queued');
      assert.deepEqual(await d.tasks.call('schedule', { candidates: [{ agent_id: 'w0', capabilities: [] }] }), []);
      const [offer] = await d.tasks.call('schedule', { candidates: [{ agent_id: 'w1', capabilities: ['code'] }] });
      assert.deepEqual([offer.id, offer.assigned_to, offer.generation], [s.reply.task_id, 'w1', 1]);
      await assert.rejects(
        d.tasks.call('complete', { task_id: offer.id, generation: 0, next: null }),
        (e) => code(e) === 'stale_generation',
      );
      const done = await d.tasks.call('complete', { task_id: offer.id, generation: 1, next: null, result: { ok: 1 } });
      assert.deepEqual([done.outcome, done.agent], ['complete', 'w1']);
      assert.equal((await d.tasks.call('get', { id: offer.id })).status, 'completed');
      const stats = await d.tasks.call('stats', {});
      assert.equal(stats.by_status.completed, 1);
    });

    test('tasks: failures retry up to max_retries, then dead letter; retry requeues; lists page', async () => {
      const s = await d.tasks.call('submit', {
        input: { description: 'flaky', max_retries: 2 },
        by: 'alice',
        key: null,
        ignored: [],
      });
      const id = s.reply.task_id;
      for (const expected of ['retried', 'dead_letter']) {
        const [o] = await d.tasks.call('schedule', { candidates: [{ agent_id: 'w2', capabilities: [] }] });
        assert.equal(o.id, id);
        const r = await d.tasks.call('fail', { task_id: id, generation: o.generation, error: 'boom', next: null });
        assert.equal(r.outcome, expected);
      }
      const dead = await d.tasks.call('list', { status: 'dead_letter' });
      assert.deepEqual(
        dead.tasks.map((t) => t.id),
        [id],
      );
      await assert.rejects(d.tasks.call('retry', { id, by: 'mallory' }), (e) => code(e) === 'admin_port_only');
      assert.equal((await d.tasks.call('retry', { id, by: 'alice' })).status, 'queued');
      const page = await d.tasks.call('list', { limit: 1 });
      assert.equal(page.tasks.length, 1);
      assert.notEqual(page.cursor, null);
    });

    test('registry: tokens, overrides and the whitelist are in the snapshot main caches', async () => {
      const t = await d.registry.call('createToken', { agent_id: 'carol' });
      assert.match(t.token, /^[0-9a-f]{64}$/);
      await assert.rejects(
        d.registry.call('onboard', { agent_id: 'carol' }),
        (e) => code(e) === 'agent_id already registered',
      );
      await d.registry.call('setOverrides', { agent_id: 'carol', overrides: { message: { capacity: 2, per_min: 0 } } });
      await d.registry.call('addWhitelist', { id: 'dave' });
      const snap = await d.registry.call('snapshot', {});
      assert.ok(snap.tokens.some(([hash, agent]) => hash === t.hash && agent === 'carol'));
      assert.deepEqual(snap.overrides.carol, { message: { capacity: 2, per_min: 0 } });
      assert.deepEqual(snap.whitelist, ['dave']);
      assert.deepEqual(await d.registry.call('revokeAgent', { agent_id: 'carol' }), [t.hash]);
      const page = await d.registry.call('listTokens', {});
      assert.ok(!page.items.some((r) => r.agent_id === 'carol'));
    });

    test('channels: create once, subscribe idempotently, the snapshot carries the subscribers', async () => {
      await d.channels.call('create', { name: 'ops', description: 'd', by: 'alice' });
      await assert.rejects(
        d.channels.call('create', { name: 'ops', description: 'd', by: 'alice' }),
        (e) => code(e) === 'channel_exists',
      );
      assert.equal(await d.channels.call('subscribe', { name: 'ops', agent: 'bob' }), true);
      assert.equal(await d.channels.call('subscribe', { name: 'ops', agent: 'bob' }), false);
      await assert.rejects(
        d.channels.call('subscribe', { name: 'nope', agent: 'bob' }),
        (e) => code(e) === 'channel_not_found',
      );
      assert.deepEqual(await d.channels.call('snapshot', {}), [['ops', ['bob']]]);
      assert.deepEqual(await d.channels.call('subscriptionsOf', { agent: 'bob' }), ['ops']);
      const list = await d.channels.call('list', {});
      assert.deepEqual(
        list.items.map((c) => [c.name, c.subscriber_count]),
        [['ops', 1]],
      );
    });
  });
}
