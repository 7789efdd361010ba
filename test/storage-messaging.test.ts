import assert from 'node:assert/strict';
import { rmSync } from 'node:fs';
import { after, describe, test } from 'node:test';
import { seqMarkFile } from '../shared/data-layout.js';
import type { MessagingCaps } from '../shared/domains/messaging.js';
import type { Msg, NewMsg, StoredMsg } from '../shared/schemas/records.js';
import { type DomainEnv, openDomainEnv } from '../storage/env.js';
import { MESSAGING_DBS, type MessagingDb, MessagingStore } from '../storage/messaging.js';
import { SeqReservation } from '../storage/seq-mark.js';
import { tempDir } from './helpers/hub.js';

/**
 * What is specific to the LMDB messaging store: TTL sweeps at explicit times,
 * counters and seqs rebuilt on open, caps that need sizes of their own, the
 * message id and the thread index. What the ops do is the messaging contract's
 * (domain-contract-messaging), which every backend runs.
 */
const DEFAULT_CAPS: MessagingCaps = {
  historyMax: 1000,
  threadMax: 1000,
  mailboxMax: 1000,
  channelHistoryPerChannel: 100,
  channelHistoryTotal: 1000,
  idempotencyTtlMs: 1000,
};

const opened: Array<DomainEnv<MessagingDb>> = [];
const dirs: string[] = [];
after(async () => {
  for (const env of opened) await env.close();
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

interface Harness {
  env: DomainEnv<MessagingDb>;
  store: MessagingStore;
  seqs: SeqReservation;
  dir: string;
  /** one batch as the worker runs it: the calls, then endBatch, in one write transaction */
  tx<T>(fn: (s: MessagingStore) => T): T;
}

function openStore(caps: Partial<MessagingCaps> = {}, dir = tempDir('agentcom-msgstore-')): Harness {
  if (!dirs.includes(dir)) dirs.push(dir);
  const env = openDomainEnv(dir, 'messaging', MESSAGING_DBS);
  opened.push(env);
  const seqs = new SeqReservation(seqMarkFile(dir));
  const store = new MessagingStore(env, { ...DEFAULT_CAPS, ...caps }, seqs);
  return {
    env,
    store,
    seqs,
    dir,
    tx: (fn) =>
      env.root.transactionSync(() => {
        const out = fn(store);
        store.endBatch();
        return out;
      }),
  };
}

/** A clean close and open, as the worker does at a shutdown and the next start. */
async function reopen(h: Harness, caps: Partial<MessagingCaps> = {}): Promise<Harness> {
  await h.env.root.flushed;
  await h.env.close();
  h.seqs.close(h.store.lastSeq());
  opened.splice(opened.indexOf(h.env), 1);
  return openStore(caps, h.dir);
}

let n = 0;
/** A message to store (the store mints its id); timestamps grow unless given. */
function msg(over: Partial<NewMsg> = {}): NewMsg {
  n++;
  return {
    from: 'alice',
    to: 'bob',
    type: 'chat',
    payload: { n },
    reply_to: null,
    timestamp: 1_000_000 + n,
    ...over,
  };
}

/** Stores `m` as the worker does and returns it with the id the store minted. */
function put(s: MessagingStore, m: NewMsg, mailboxFor: string[] = [], now = 1): Msg {
  return { ...m, id: s.send(m, mailboxFor, now).id };
}

const seqsOf = (ms: StoredMsg[]) => ms.map((m) => m.seq);
const idsOf = (ms: Array<{ id: string }>) => ms.map((m) => m.id);

describe('mailbox', () => {
  test('TTL sweep drops entries stored before now − ttl and only those; acked entries are not counted', () => {
    const h = openStore({ mailboxMax: 2 });
    const [, mid, young] = h.tx((s) => [
      s.send(msg(), ['bob'], 1000).seq,
      s.send(msg(), ['bob'], 2000).seq,
      s.send(msg({ to: 'carol' }), ['carol'], 3000).seq,
    ]);
    h.tx((s) => {
      assert.equal(s.sweepMailbox(4000, 2500), 1, 'stored at 1000 < 1500');
      assert.deepEqual(seqsOf(s.poll('bob', 0).messages), [mid]);
      assert.equal(s.sweepMailbox(4000, 2000), 0, 'stored exactly at now − ttl stays');
      assert.equal(s.sweepMailbox(4001, 2000), 1);
      assert.deepEqual(s.poll('bob', 0).messages, []);
      assert.deepEqual(seqsOf(s.poll('carol', 0).messages), [young]);
      // the per-agent count followed the sweep: two fit again without a drop
      assert.equal(s.send(msg(), ['bob'], 5000).dropped, undefined);
      assert.equal(s.send(msg(), ['bob'], 5000).dropped, undefined);
      // acked entries left the time index too
      s.ack('carol', young);
      assert.equal(s.sweepMailbox(1_000_000, 1), 2, 'only bob’s two remaining entries');
    });
  });

  test('the seq counter and mailbox counts survive a reopen', async () => {
    let h = openStore({ mailboxMax: 2 });
    const last = h.tx((s) => {
      s.send(msg(), ['bob'], 1);
      return s.send(msg(), ['bob'], 1).seq;
    });
    h = await reopen(h, { mailboxMax: 2 });
    assert.equal(h.store.lastSeq(), last);
    const r = h.tx((s) => s.send(msg(), ['bob'], 1));
    assert.equal(r.seq, last + 1);
    assert.deepEqual(r.dropped, { bob: 1 }, 'the box was already full before the reopen');
  });
});

describe('global history', () => {
  test('the cap evicts the oldest messages; mailboxes keep their copies', async () => {
    let h = openStore({ historyMax: 5 });
    const early = h.tx((s) => [1, 2, 3].map(() => put(s, msg(), ['bob'])));
    const late = h.tx((s) => [1, 2, 3, 4, 5].map(() => put(s, msg())));
    h.tx((s) => {
      const hist = s.history({ limit: 200 });
      assert.deepEqual(idsOf(hist.messages), idsOf(late));
      assert.equal(s.counts().history, 5);
      assert.deepEqual(idsOf(s.poll('bob', 0).messages), idsOf(early), 'mailbox entries outlive history');
    });
    // the count is rebuilt on open, so the cap still holds after a reopen
    h = await reopen(h, { historyMax: 5 });
    const extra = h.tx((s) => put(s, msg()));
    h.tx((s) => {
      assert.equal(s.counts().history, 5);
      assert.deepEqual(idsOf(s.history({ limit: 200 }).messages), idsOf([...late.slice(1), extra]));
    });
  });

  test('a message id carries its seq; an id from another format or another seq is not found', () => {
    const h = openStore();
    const [a, b] = h.tx((s) => [put(s, msg()), put(s, msg())]);
    const seq = h.tx((s) => s.history({ limit: 200 }).messages.map((m) => m.seq));
    assert.match(a.id, /^[0-9a-f]{16}$/);
    assert.equal(Number.parseInt(a.id.slice(0, 10), 16), seq[0]);
    assert.equal(Number.parseInt(b.id.slice(0, 10), 16), seq[1]);
    // a reply finds its parent through the id alone; a forged id with the right seq does not
    const forged = `${a.id.slice(0, 10)}${a.id.slice(10) === '000000' ? '000001' : '000000'}`;
    h.tx((s) => {
      put(s, msg({ reply_to: a.id }));
      put(s, msg({ reply_to: forged }));
      assert.equal(s.threads.replies(a.id).length, 1);
      assert.equal(s.threads.thread(a.id).messages[0].id, a.id, 'the parent came from history');
      assert.ok(!idsOf(s.threads.thread(forged).messages).includes(a.id));
    });
  });
});

describe('threads', () => {
  test('a thread outlives the global history cap', () => {
    const h = openStore({ historyMax: 3 });
    const [R, A] = h.tx((s) => {
      const R = put(s, msg());
      return [R, put(s, msg({ reply_to: R.id }))];
    });
    h.tx((s) => {
      for (let i = 0; i < 5; i++) s.send(msg(), [], 1);
    });
    h.tx((s) => {
      assert.ok(!idsOf(s.history({ limit: 200 }).messages).includes(R.id), 'R left global history');
      assert.equal(s.threads.rootOf(A.id), R.id);
      assert.deepEqual(idsOf(s.threads.thread(A.id).messages), [R.id, A.id]);
    });
  });

  /**
   * Two- and three-message reply_to cycles and a self-reply, indexed straight
   * into the thread store: ids the store mints (seq + random bits) cannot be
   * named before they exist, so only records from elsewhere could form one.
   */
  function cycles() {
    const h = openStore();
    const two = [
      { ...msg({ reply_to: 'cyc-b', timestamp: 10 }), id: 'cyc-a' },
      { ...msg({ reply_to: 'cyc-a', timestamp: 20 }), id: 'cyc-b' },
    ];
    const three = [
      { ...msg({ reply_to: 'cyc-z', timestamp: 30 }), id: 'cyc-x' },
      { ...msg({ reply_to: 'cyc-x', timestamp: 40 }), id: 'cyc-y' },
      { ...msg({ reply_to: 'cyc-y', timestamp: 50 }), id: 'cyc-z' },
    ];
    const self = { ...msg({ reply_to: 'cyc-s', timestamp: 60 }), id: 'cyc-s' };
    h.tx((s) => {
      for (const m of [...two, ...three, self]) s.threads.add(m);
    });
    return { h, two, three, self };
  }

  test('reply_to cycles (two, three, self) end the walk instead of hanging', () => {
    const { h, two, three, self } = cycles();
    const late = h.tx((s) => put(s, msg({ reply_to: 'cyc-a', timestamp: 70 })));
    h.tx((s) => {
      for (const cycle of [two, three]) {
        const members = idsOf(cycle);
        for (const m of cycle) {
          assert.ok(members.includes(s.threads.rootOf(m.id)), `the root of ${m.id} is a member of its cycle`);
          const ids = idsOf(s.threads.thread(m.id).messages);
          assert.equal(new Set(ids).size, ids.length, 'no message twice');
          assert.ok(ids.length >= 1 && ids.every((id) => members.includes(id) || id === late.id));
        }
      }
      assert.ok(idsOf(s.threads.replies('cyc-a')).includes('cyc-b'));
      assert.ok(idsOf(s.threads.replies('cyc-b')).includes('cyc-a'));
      assert.ok(idsOf(s.threads.replies('cyc-a')).includes(late.id));

      assert.equal(s.threads.rootOf(self.id), self.id);
      assert.deepEqual(idsOf(s.threads.thread(self.id).messages), [self.id]);
      assert.deepEqual(idsOf(s.threads.replies(self.id)), [self.id]);
    });
  });

  test('a long chain walks up to its root', () => {
    const h = openStore();
    const chain = h.tx((s) => {
      const out: Msg[] = [put(s, msg())];
      for (let i = 0; i < 300; i++) out.push(put(s, msg({ reply_to: out[out.length - 1].id })));
      return out;
    });
    h.tx((s) => {
      assert.equal(s.threads.rootOf(chain[300].id), chain[0].id);
      assert.deepEqual(idsOf(s.threads.thread(chain[150].id).messages), idsOf(chain));
    });
  });

  test('a thread keeps at most threadMax replies, dropping the oldest', () => {
    const h = openStore({ threadMax: 3 });
    const { R, replies } = h.tx((s) => {
      const R = put(s, msg({ timestamp: 1 }));
      return { R, replies: [2, 3, 4, 5, 6].map((t) => put(s, msg({ reply_to: R.id, timestamp: t }))) };
    });
    h.tx((s) => {
      const t = s.threads.thread(R.id);
      assert.equal(t.messages[0].id, R.id);
      assert.deepEqual(idsOf(t.messages.slice(1)), idsOf(replies.slice(2)));
    });
  });
});

describe('channel history', () => {
  test('the total count follows the per-channel cap: size() is what is kept', () => {
    const h = openStore({ channelHistoryPerChannel: 3, channelHistoryTotal: 100 });
    h.tx((s) => {
      for (let i = 0; i < 5; i++) s.publish('alpha', msg(), [], 7);
      s.publish('beta', msg(), [], 7);
      assert.equal(s.channels.size(), 4);
    });
  });

  test('the global cap evicts the oldest entry across channels, keeping per-channel counts right', async () => {
    let h = openStore({ channelHistoryPerChannel: 2, channelHistoryTotal: 3 });
    h.tx((s) => {
      s.publish('a', msg(), [], 1); // a1
      s.publish('a', msg(), [], 1); // a2
      s.publish('b', msg(), [], 1); // b1
      s.publish('b', msg(), [], 1); // b2 → over the total: a1 goes
    });
    h.tx((s) => {
      assert.deepEqual(
        s.channels.list('a', 50, 0).map((e) => e.seq),
        [2],
      );
      assert.deepEqual(
        s.channels.list('b', 50, 0).map((e) => e.seq),
        [1, 2],
      );
      assert.equal(s.channels.size(), 3);
      s.publish('a', msg(), [], 1); // a3: a holds 2 (fits), total 4 → a2 goes (oldest overall)
      assert.deepEqual(
        s.channels.list('a', 50, 0).map((e) => e.seq),
        [3],
      );
      assert.deepEqual(
        s.channels.list('b', 50, 0).map((e) => e.seq),
        [1, 2],
      );
      assert.equal(s.channels.size(), 3);
    });
    h = await reopen(h, { channelHistoryPerChannel: 2, channelHistoryTotal: 3 });
    h.tx((s) => {
      assert.equal(s.channels.size(), 3, 'the total is recounted on open');
      assert.equal(s.publish('b', msg(), [], 1).channelSeq, 3, 'channel seqs continue after a reopen');
      assert.deepEqual(
        s.channels.list('b', 50, 0).map((e) => e.seq),
        [2, 3],
      );
      assert.equal(s.channels.size(), 3);
    });
  });
});

describe('idempotency store', () => {
  test('a reply is replayed until at + ttl, per agent and key', () => {
    const h = openStore({ idempotencyTtlMs: 1000 });
    h.tx((s) => {
      s.idem.remember('alice', 'k1', 'fp', { id: 'x1' }, 100);
      assert.deepEqual(s.idem.replay('alice', 'k1', 'fp', 100), { id: 'x1' });
      assert.deepEqual(s.idem.replay('alice', 'k1', 'fp', 1100), { id: 'x1' }, 'still valid at exactly at + ttl');
      assert.equal(s.idem.replay('alice', 'k1', 'fp', 1101), undefined);
      assert.equal(s.idem.replay('bob', 'k1', 'fp', 100), undefined, 'keys are scoped to the agent');
      assert.equal(s.idem.replay('alice', 'k2', 'fp', 100), undefined);
    });
  });

  test('once runs the write a single time and remembers only the reply, not the internal result', () => {
    const h = openStore();
    let runs = 0;
    const write = () => ({ id: 'x', seq: 7, mailboxed: ['bob'], runs: ++runs });
    const reply = (r: { id: string; seq: number }) => ({ id: r.id, seq: r.seq });
    const idem = { agent: 'alice', key: 'k' };
    h.tx((s) => {
      assert.deepEqual(s.idem.once(idem, { a: 1 }, 100, write, reply), {
        id: 'x',
        seq: 7,
        mailboxed: ['bob'],
        runs: 1,
      });
      assert.deepEqual(s.idem.once(idem, { a: 1 }, 200, write, reply), { replay: { id: 'x', seq: 7 } });
      assert.equal(runs, 1);
      assert.ok(!('replay' in s.idem.once(null, { a: 1 }, 200, write, reply)), 'no key: always runs');
      assert.equal(runs, 2);
    });
  });

  test('sweep removes expired entries only; a key written again is kept', () => {
    const h = openStore({ idempotencyTtlMs: 1000 });
    h.tx((s) => {
      s.idem.remember('alice', 'old', 'fp', 1, 100);
      s.idem.remember('alice', 'again', 'fp', 2, 100);
      s.idem.remember('alice', 'again', 'fp', 3, 500);
      s.idem.remember('bob', 'young', 'fp', 4, 900);
      assert.equal(s.idem.sweep(1100), 0, 'nothing is strictly older than now − ttl');
      assert.equal(s.idem.sweep(1101), 2, 'the two entries written at 100');
      assert.equal(s.idem.replay('alice', 'old', 'fp', 0), undefined, 'gone for good');
      assert.equal(s.idem.replay('alice', 'again', 'fp', 1200), 3, 'rewritten at 500: kept');
      assert.equal(s.idem.replay('bob', 'young', 'fp', 1200), 4);
      assert.equal(s.idem.sweep(1501), 1);
      assert.equal(s.idem.replay('alice', 'again', 'fp', 0), undefined);
      assert.equal(s.idem.sweep(10_000), 1);
      assert.equal(s.idem.sweep(10_000), 0);
    });
  });
});
