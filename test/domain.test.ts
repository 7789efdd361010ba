import assert from 'node:assert/strict';
import { rmSync } from 'node:fs';
import { after, describe, test } from 'node:test';
import { Worker } from 'node:worker_threads';
import { seqMarkFile } from '../shared/data-layout.js';
import type { HubError } from '../shared/errors.js';
import { ACTION_INDEX, allocateRateTable, RateTable } from '../shared/ratelimit.js';
import type { NewMsg } from '../shared/schemas/records.js';
import { openDomainEnv } from '../storage/env.js';
import { MESSAGING_DBS, MessagingStore } from '../storage/messaging.js';
import { SeqReservation } from '../storage/seq-mark.js';
import { sweepTasks } from '../storage/task-sweep.js';
import { TASK_DBS, TaskStore } from '../storage/tasks.js';
import { tempDir } from './helpers/hub.js';

const dirs: string[] = [];
after(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

function messaging(caps: Partial<ConstructorParameters<typeof MessagingStore>[1]> = {}) {
  const dir = tempDir();
  dirs.push(dir);
  const env = openDomainEnv(dir, 'messaging', MESSAGING_DBS);
  const store = new MessagingStore(
    env,
    {
      historyMax: 100,
      threadMax: 100,
      mailboxMax: 100,
      channelHistoryPerChannel: 10,
      channelHistoryTotal: 20,
      idempotencyTtlMs: 1000,
      ...caps,
    },
    new SeqReservation(seqMarkFile(dir)),
  );
  /** one batch: the calls, then the per-batch work, in one transaction */
  const tx = <T>(fn: () => T): T =>
    env.root.transactionSync(() => {
      const out = fn();
      store.endBatch();
      return out;
    });
  return { store, tx };
}

let n = 0;
const msg = (over: Partial<NewMsg> = {}): NewMsg => {
  n++;
  return { from: 'a', to: 'b', type: 'chat', payload: { n }, reply_to: null, timestamp: 1000 + n, ...over };
};

describe('messaging domain (plain functions over LMDB)', () => {
  test('mailbox cursor: poll is seq > since ascending, keeps entries; ack deletes ≤ seq for that agent only', () => {
    const { store, tx } = messaging();
    const seqs = tx(() => [1, 2, 3].map(() => store.send(msg(), ['b', 'c'], 0).seq));
    const p = store.poll('b', seqs[0]);
    assert.deepEqual(
      p.messages.map((m) => m.seq),
      seqs.slice(1),
    );
    assert.equal(p.last_seq, seqs[2]);
    assert.equal(store.poll('b', seqs[2]).last_seq, seqs[2], 'empty poll returns since');
    assert.equal(store.poll('b', 0).messages.length, 3, 'polling keeps entries');
    tx(() => store.ack('b', seqs[1]));
    assert.deepEqual(
      store.poll('b', 0).messages.map((m) => m.seq),
      [seqs[2]],
    );
    assert.equal(store.poll('c', 0).messages.length, 3, 'other agents untouched');
  });

  test('history keeps the newest historyMax; filters AND, cursor exclusive, limit clamped', () => {
    const { store, tx } = messaging({ historyMax: 5 });
    tx(() => {
      for (let i = 0; i < 8; i++) store.send(msg({ from: i % 2 ? 'odd' : 'even' }), [], 0);
    });
    const all = store.history({ limit: 500 });
    assert.equal(all.messages.length, 5);
    const odd = store.history({ from: 'odd' });
    assert.ok(odd.messages.every((m) => m.from === 'odd'));
    const page = store.history({ cursor: all.messages[1].seq, limit: 2 });
    assert.deepEqual(
      page.messages.map((m) => m.seq),
      [all.messages[2].seq, all.messages[3].seq],
    );
    assert.equal(page.cursor, all.messages[3].seq);
    const t = all.messages[2].timestamp;
    assert.equal(store.history({ start_time: t, end_time: t }).messages.length, 1, 'time bounds inclusive');
    assert.equal(store.history({ cursor: 10_000 }).cursor, 10_000, 'empty page returns the input cursor');
  });

  test('channel history: per-channel and global caps evict the oldest in the same write', () => {
    const { store, tx } = messaging({ channelHistoryPerChannel: 3, channelHistoryTotal: 4 });
    tx(() => {
      for (let i = 0; i < 5; i++) store.publish('a', msg(), [], 0);
      for (let i = 0; i < 2; i++) store.publish('b', msg(), [], 0);
    });
    assert.deepEqual(
      store.channels.list('a', 50, 0).map((e) => e.seq),
      [4, 5],
    );
    assert.deepEqual(
      store.channels.list('b', 50, 0).map((e) => e.seq),
      [1, 2],
    );
    assert.deepEqual(
      store.channels.list('a', 1, 0).map((e) => e.seq),
      [5],
      'newest limit, ascending',
    );
  });
});

describe('tasks domain (plain functions over LMDB)', () => {
  const tasks = () => {
    const dir = tempDir();
    dirs.push(dir);
    const env = openDomainEnv(dir, 'tasks', TASK_DBS);
    const store = new TaskStore(env, {
      maxReclaims: 2,
      taskTtlMs: 0,
      staleMs: 1000,
      staleWorkingMs: 2000,
      idempotencyTtlMs: 1000,
      keepCompleted: 1000,
      keepCompletedMs: 0,
      keepDead: 1000,
      keepDeadMs: 0,
    });
    return { store, tx: <T>(fn: () => T): T => env.root.transactionSync(fn) };
  };

  test('lanes then FIFO; capabilities and assign_to decide the agent; one task per agent per pass', () => {
    const { store, tx } = tasks();
    const [low, norm1, urgent, norm2, pinned] = tx(() => [
      store.submit({ description: 'low', priority: 'low' }, 's', 1).task,
      store.submit({ description: 'n1', needed_capabilities: ['gpu'] }, 's', 2).task,
      store.submit({ description: 'u', priority: 'urgent' }, 's', 3).task,
      store.submit({ description: 'n2', priority: 'weird' }, 's', 4).task,
      store.submit({ description: 'p', priority: 'urgent', assign_to: 'z' }, 's', 5).task,
    ]);
    assert.equal(norm2.priority, 2, 'unknown priority → normal');
    const got = tx(() =>
      store.schedule(
        [
          { agent_id: 'x', capabilities: [] },
          { agent_id: 'g', capabilities: ['gpu'] },
        ],
        10,
      ),
    );
    assert.deepEqual(
      got.map((t) => [t.id, t.assigned_to, t.generation]),
      [
        [urgent.id, 'x', 1],
        [norm1.id, 'g', 1],
      ],
    );
    const next = tx(() => store.schedule([{ agent_id: 'z', capabilities: [] }], 11));
    assert.equal(next[0].id, pinned.id);
    assert.equal(tx(() => store.schedule([{ agent_id: 'y', capabilities: [] }], 12))[0].id, norm2.id);
    assert.equal(tx(() => store.schedule([{ agent_id: 'y2', capabilities: [] }], 13))[0].id, low.id);
  });

  test('generation fencing, retries into dead letter, requeue, reclaim limit, ownership', () => {
    const { store, tx } = tasks();
    const t = tx(() => store.submit({ description: 'x', max_retries: 2 }, 'owner', 1).task);
    const a = tx(() => store.schedule([{ agent_id: 'w', capabilities: [] }], 2))[0];
    const code = (fn: () => unknown) => {
      try {
        tx(fn);
      } catch (e) {
        return (e as HubError).code;
      }
      return 'ok';
    };
    assert.equal(
      code(() => store.complete({ task_id: t.id, generation: 0 }, 3)),
      'stale_generation',
    );
    assert.equal(
      code(() => store.complete({ task_id: 'nope', generation: 1 }, 3)),
      'not_found',
    );
    assert.equal(tx(() => store.fail({ task_id: t.id, generation: a.generation, error: 'e1' }, 4)).outcome, 'retried');
    assert.equal(
      code(() => store.fail({ task_id: t.id, generation: 2, error: 'e' }, 5)),
      'invalid_state',
    );
    const b = tx(() => store.schedule([{ agent_id: 'w', capabilities: [] }], 6))[0];
    const r = tx(() => store.complete({ task_id: t.id, generation: b.generation, result: { status: 'failed' } }, 7));
    assert.equal(r.outcome, 'dead_letter');
    assert.equal(
      code(() => store.retry(t.id, 'stranger', 8)),
      'admin_port_only',
    );
    const requeued = tx(() => store.retry(t.id, 'owner', 8));
    assert.deepEqual([requeued.status, requeued.retry_count, requeued.last_error], ['queued', 0, null]);
    tx(() => store.schedule([{ agent_id: 'w', capabilities: [] }], 9));
    tx(() => store.reclaim(t.id, 'test', 10));
    tx(() => store.schedule([{ agent_id: 'w', capabilities: [] }], 11));
    const stalled = tx(() => store.reclaim(t.id, 'test', 12));
    assert.deepEqual([stalled?.status, stalled?.last_error], ['dead_letter', 'stalled']);
  });

  test('dependencies gate scheduling; sweep handles deadlines, staleness and absent agents after grace', () => {
    const { store, tx } = tasks();
    const dep = tx(() => store.submit({ description: 'first' }, 's', 1).task);
    const child = tx(() => store.submit({ description: 'second', depends_on: [dep.id] }, 's', 2).task);
    const first = tx(() =>
      store.schedule(
        [
          { agent_id: 'a', capabilities: [] },
          { agent_id: 'b', capabilities: [] },
        ],
        3,
      ),
    );
    assert.deepEqual(
      first.map((t) => t.id),
      [dep.id],
      'child waits for its dependency',
    );
    tx(() => store.complete({ task_id: dep.id, generation: 1 }, 4));
    assert.equal(tx(() => store.schedule([{ agent_id: 'b', capabilities: [] }], 5))[0].id, child.id);
    const late = tx(() => store.submit({ description: 'late', complete_by: 50 }, 's', 6).task);
    const r = tx(() => sweepTasks(store, { connected: ['b'], working: [], graceUntil: 0 }, 100));
    assert.ok(r.expired.some((t) => t.id === late.id));
    assert.equal(store.get(late.id).last_error, 'complete_by_expired');
    const swept = tx(() => sweepTasks(store, { connected: [], working: [], graceUntil: 10_000 }, 200));
    assert.equal(swept.reclaimed.length, 0, 'absent agent waits out the restart grace');
    const after = tx(() => sweepTasks(store, { connected: [], working: [], graceUntil: 0 }, 300));
    assert.deepEqual(
      after.reclaimed.map((t) => t.id),
      [child.id],
    );
  });
});

describe('shared rate table', () => {
  test('burst to capacity, then a refusal that says when to retry; refill over time', () => {
    const table = new RateTable(allocateRateTable(4));
    table.configure(0, ACTION_INDEX.message, 3, 60);
    const takes = [0, 0, 0, 0].map(() => table.take(0, ACTION_INDEX.message, 1_000_000));
    assert.deepEqual(
      takes.map((t) => t.allowed),
      [true, true, true, false],
    );
    assert.deepEqual(takes.map((t) => t.remaining).slice(0, 3), [2, 1, 0]);
    assert.equal(takes[3].retryAfterMs, 1000);
    assert.equal(table.take(0, ACTION_INDEX.message, 1_001_000).allowed, true);
    table.configure(1, ACTION_INDEX.message, 0, 0);
    for (let i = 0; i < 1000; i++) assert.ok(table.take(1, ACTION_INDEX.message, 0).allowed, 'unlimited');
  });

  test('two threads sharing the buffer never grant more than the capacity', async () => {
    const buffers = allocateRateTable(2);
    new RateTable(buffers).configure(0, 0, 5000, 1e-9); // clamped: refills one token a day
    const code = `
      const { workerData, parentPort } = require('node:worker_threads');
      const tat = new BigInt64Array(workerData.tat);
      const params = new BigInt64Array(workerData.params);
      let granted = 0;
      const now = 1_000_000_000n;
      for (let i = 0; i < 20000; i++) {
        const interval = Atomics.load(params, 0), tau = Atomics.load(params, 1);
        for (;;) {
          const old = Atomics.load(tat, 0); const t = old > now ? old : now;
          if (t - now > tau) break;
          if (Atomics.compareExchange(tat, 0, old, t + interval) === old) { granted++; break; }
        }
      }
      parentPort.postMessage(granted);`;
    const run = () =>
      new Promise<number>((resolve, reject) => {
        const w = new Worker(code, { eval: true, workerData: buffers });
        w.once('message', resolve);
        w.once('error', reject);
      });
    const [a, b] = await Promise.all([run(), run()]);
    assert.equal(a + b, 5000);
  });
});
