import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { HistoryQuery, SendResult } from '../shared/domains/messaging.js';
import type { Msg, NewMsg } from '../shared/schemas/records.js';
import { BACKENDS, type ContractDomains, code, contractDomains } from './helpers/domain-backends.js';

let n = 0;
/** A message to store (the domain mints its id); timestamps grow unless given. */
function msg(over: Partial<NewMsg> = {}): NewMsg {
  n++;
  return { from: 'alice', to: 'bob', type: 'chat', payload: { n }, reply_to: null, timestamp: 1_000_000 + n, ...over };
}

const seqsOf = (ms: Array<{ seq: number }>) => ms.map((m) => m.seq);
const idsOf = (ms: Array<{ id: string }>) => ms.map((m) => m.id);

/**
 * The messaging contract (shared/domains/messaging.ts) through `call`: each
 * backend runs it. Agents, channels and time ranges are this file's own, and
 * history queries start after what earlier tests stored.
 */
for (const backend of BACKENDS) {
  describe(`messaging contract (${backend.name})`, () => {
    const ctx = contractDomains(backend);
    const call: ContractDomains['messaging']['call'] = (op, args) => ctx.d.messaging.call(op, args);

    async function send(m: NewMsg, mailboxFor: string[] = []): Promise<SendResult> {
      const r = await call('send', { msg: m, mailboxFor, idem: null });
      assert.ok(!('replay' in r));
      return r;
    }
    /** Stores `m` and returns it with the id the domain minted. */
    const put = async (m: NewMsg, mailboxFor: string[] = []): Promise<Msg> => ({
      ...m,
      id: (await send(m, mailboxFor)).id,
    });
    async function publish(channel: string, m: NewMsg, mailboxFor: string[] = []) {
      const r = await call('publish', { channel, msg: m, mailboxFor, idem: null });
      assert.ok(!('replay' in r));
      return r;
    }
    const poll = (agent: string, since: number, limit?: number) => call('poll', { agent, since, limit });
    /** the newest seq handed out so far: history after it is this test's own */
    const lastSeq = async () => (await call('health', {})).last_seq;

    test('mailbox: poll returns seq > since ascending, last_seq the highest returned or else since; polling keeps entries', async () => {
      const first = msg({ to: 'pb' });
      const sent: number[] = [];
      for (const m of [first, msg({ to: 'pb' }), msg({ to: 'pb' })]) {
        sent.push((await send(m, ['pb'])).seq);
        await send(msg({ to: 'pc' }), ['pc']); // interleaved: pb's seqs are not contiguous
      }
      for (let i = 1; i < sent.length; i++) assert.ok(sent[i] > sent[i - 1], 'seqs grow');
      const all = await poll('pb', 0);
      assert.deepEqual(seqsOf(all.messages), sent);
      assert.equal(all.last_seq, sent[2]);
      assert.deepEqual([all.messages[0].payload, all.messages[0].from], [first.payload, 'alice']);
      const after1 = await poll('pb', sent[0]);
      assert.deepEqual([seqsOf(after1.messages), after1.last_seq], [sent.slice(1), sent[2]]);
      assert.deepEqual(seqsOf((await poll('pb', sent[0] + 1)).messages), sent.slice(1), 'a since between two entries');
      const limited = await poll('pb', 0, 2);
      assert.deepEqual(seqsOf(limited.messages), sent.slice(0, 2));
      assert.equal(limited.last_seq, sent[1], 'last_seq of a page is its highest seq');
      assert.deepEqual(await poll('pb', sent[2]), { messages: [], last_seq: sent[2] });
      assert.deepEqual(await poll('pb', 1e9), { messages: [], last_seq: 1e9 });
      assert.deepEqual(await poll('nobody', 3), { messages: [], last_seq: 3 });
      assert.deepEqual(await poll('pb', 0), all, 'polling twice returns the same thing');
    });

    test('mailbox: ack deletes the entries with seq ≤ the given seq, of that agent only; mailboxHead follows', async () => {
      const seqs: number[] = [];
      for (let i = 0; i < 3; i++) {
        seqs.push((await send(msg({ to: null }), ['ak', 'a', 'akk'])).seq);
      }
      assert.equal(await call('mailboxHead', { agent: 'ak' }), seqs[0]);
      assert.equal(await call('ack', { agent: 'ak', seq: seqs[1] }), 2);
      assert.deepEqual(seqsOf((await poll('ak', 0)).messages), seqs.slice(2));
      assert.equal(await call('mailboxHead', { agent: 'ak' }), seqs[2]);
      assert.deepEqual(seqsOf((await poll('a', 0)).messages), seqs, 'an agent whose id is a prefix keeps its entries');
      assert.deepEqual(seqsOf((await poll('akk', 0)).messages), seqs, 'an agent whose id extends it keeps its entries');
      assert.equal(await call('ack', { agent: 'ak', seq: seqs[1] }), 0, 'acking again deletes nothing');
      assert.equal(await call('ack', { agent: 'ak', seq: Number.MAX_SAFE_INTEGER - 1 }), 1);
      assert.deepEqual((await poll('ak', 0)).messages, []);
      assert.equal(await call('mailboxHead', { agent: 'ak' }), null);
      assert.equal(await call('ack', { agent: 'nobody', seq: 100 }), 0);
      assert.equal((await poll('a', 0)).messages.length, 3);
    });

    test('mailbox: the cap (3 here) drops the oldest entry and says whose; a broadcast drops only where a box is full; acks make room; late copies respect it', async () => {
      const results: SendResult[] = [];
      for (let i = 0; i < 5; i++) results.push(await send(msg({ to: 'cb' }), ['cb']));
      assert.deepEqual(
        results.map((r) => r.dropped),
        [undefined, undefined, undefined, { cb: 1 }, { cb: 1 }],
        'a result says what was dropped only when something was (it is cloned back to main per message)',
      );
      const seqs = results.map((r) => r.seq);
      assert.deepEqual(seqsOf((await poll('cb', 0)).messages), seqs.slice(2), 'the newest three are kept');
      const b = await send(msg({ to: null }), ['cb', 'cc']);
      assert.deepEqual(b.dropped, { cb: 1 }, 'only the full box drops');
      assert.deepEqual(seqsOf((await poll('cb', 0)).messages), [seqs[3], seqs[4], b.seq]);
      // two acked leave room for two more without drops
      await call('ack', { agent: 'cb', seq: seqs[4] });
      assert.equal((await send(msg({ to: 'cb' }), ['cb'])).dropped, undefined);
      assert.equal((await send(msg({ to: 'cb' }), ['cb'])).dropped, undefined);
      assert.deepEqual((await send(msg({ to: 'cb' }), ['cb'])).dropped, { cb: 1 });
      assert.equal((await poll('cb', 0)).messages.length, 3);
      const online = await send(msg({ to: 'cd' }), []);
      assert.equal(online.dropped, undefined);
      assert.deepEqual(await call('mailboxCopy', { agents: ['cb'], seqs: [online.seq] }), {
        stored: 1,
        dropped: { cb: 1 },
      });
      const box = (await poll('cb', 0)).messages;
      assert.equal(box.length, 3);
      assert.equal(box[2].seq, online.seq);
    });

    test('mailbox: a late copy is stored once, and only for a message still in history', async () => {
      const r = await send(msg({ to: 'lc' }), []);
      assert.deepEqual((await poll('lc', 0)).messages, []);
      await call('mailboxCopy', { agents: ['lc'], seqs: [r.seq] });
      await call('mailboxCopy', { agents: ['lc'], seqs: [r.seq] });
      const box = (await poll('lc', 0)).messages;
      assert.deepEqual(idsOf(box), [r.id]);
      assert.equal(box[0].seq, r.seq);
      const unknown = await call('mailboxCopy', { agents: ['lc'], seqs: [999_999_999] });
      assert.equal(unknown.stored, 0, 'an unknown seq copies nothing');
    });

    test('an idempotency key replays the first reply; another request under it is refused', async () => {
      const idem = { agent: 'alice', key: 'k1' };
      const m = msg();
      const first = await call('send', { msg: m, mailboxFor: [], idem });
      const again = await call('send', { msg: m, mailboxFor: [], idem });
      assert.ok(!('replay' in first) && 'replay' in again);
      assert.deepEqual(again.replay, { id: first.id, seq: first.seq });
      await assert.rejects(
        call('send', { msg: msg({ payload: { other: true } }), mailboxFor: [], idem }),
        (e) => code(e) === 'idempotency_key_reused',
      );
    });

    test("submit, the callback form of call: one answer per op, the result or the op's error, as call gives them", async () => {
      const answers: Array<{ err: Error | null; value?: unknown }> = [];
      const submitted = (m: NewMsg, key: string) =>
        new Promise<void>((resolve) =>
          ctx.d.messaging.submit('send', { msg: m, mailboxFor: [], idem: { agent: 'cb', key } }, (err, value) => {
            answers.push({ err, value });
            resolve();
          }),
        );
      await Promise.all([submitted(msg(), 'k1'), submitted(msg(), 'k2')]);
      await submitted(msg({ payload: { other: true } }), 'k1');
      assert.equal(answers.length, 3);
      const [a, b] = answers.map((x) => x.value as SendResult);
      assert.equal(answers[0].err, null);
      assert.equal(b.seq, a.seq + 1, 'two submits of one turn, in order');
      assert.equal(code(answers[2].err), 'idempotency_key_reused');
      // a callback that throws is the caller's bug: the rest of its batch is still answered
      ctx.d.messaging.submit('health', {}, () => {
        throw new Error('callback bug');
      });
      assert.equal(await lastSeq(), b.seq);
    });

    test('history: filters AND together: from, to, channel (the publish or payload.channel), inclusive time bounds', async () => {
      const start = await lastSeq();
      const T = 5_000_000;
      const a1 = await put(msg({ from: 'ha', to: 'hx', timestamp: T + 1 }));
      const a2 = await put(msg({ from: 'ha', to: 'hy', timestamp: T + 2 }));
      const b3 = await put(msg({ from: 'hb', to: 'hx', timestamp: T + 3 }));
      const a4 = await put(msg({ from: 'ha', to: null, timestamp: T + 4 }));
      const b5 = await put(msg({ from: 'hb', to: 'hx', timestamp: T + 5, payload: { channel: 'hgen' } }));
      const p6 = await publish('hgen', msg({ from: 'ha', to: null, timestamp: T + 6 }));
      const q = async (query: HistoryQuery) => idsOf((await call('history', { cursor: start, ...query })).messages);
      assert.deepEqual(await q({}), idsOf([a1, a2, b3, a4, b5, p6]));
      assert.deepEqual(await q({ from: 'ha' }), idsOf([a1, a2, a4, p6]));
      assert.deepEqual(await q({ to: 'hx' }), idsOf([a1, b3, b5]));
      assert.deepEqual(await q({ from: 'ha', to: 'hx' }), idsOf([a1]));
      assert.deepEqual(await q({ channel: 'hgen' }), idsOf([b5, p6]), 'payload.channel or the publish channel');
      assert.deepEqual(await q({ channel: 'hgen', from: 'ha' }), idsOf([p6]));
      assert.deepEqual(await q({ start_time: T + 2, end_time: T + 4 }), idsOf([a2, b3, a4]), 'both bounds inclusive');
      assert.deepEqual(await q({ start_time: T + 6 }), idsOf([p6]));
      assert.deepEqual(await q({ end_time: T + 1 }), idsOf([a1]));
      assert.deepEqual(await q({ from: 'hb', start_time: T + 4 }), idsOf([b5]));
      assert.deepEqual(await q({ from: 'nobody' }), []);
      const published = (await call('history', { cursor: start, channel: 'hgen', from: 'ha' })).messages[0];
      assert.equal(published.channel, 'hgen');
    });

    test('history: the cursor is exclusive; the returned cursor is the last seq or the input; limit is clamped to 1..200, default 50', async () => {
      const start = await lastSeq();
      const sent = await Promise.all(Array.from({ length: 250 }, () => send(msg(), [])));
      const seqs = sent.map((r) => r.seq).sort((a, b) => a - b);
      const page = await call('history', { cursor: seqs[2], limit: 3 });
      assert.deepEqual(seqsOf(page.messages), seqs.slice(3, 6));
      assert.equal(page.cursor, seqs[5]);
      const next = await call('history', { cursor: page.cursor, limit: 3 });
      assert.deepEqual(seqsOf(next.messages), seqs.slice(6, 9), 'paging with the cursor neither repeats nor skips');
      assert.deepEqual(await call('history', { cursor: seqs[249] }), { messages: [], cursor: seqs[249] });
      const count = async (q: HistoryQuery) => (await call('history', { cursor: start, ...q })).messages.length;
      assert.equal(await count({}), 50, 'default limit 50');
      assert.equal(await count({ limit: 0 }), 1);
      assert.equal(await count({ limit: -7 }), 1);
      assert.equal(await count({ limit: 1000 }), 200);
      assert.equal(await count({ limit: 200 }), 200);
      assert.equal((await call('history', { cursor: start, limit: 1 })).cursor, seqs[0]);
      // a filter that matches nothing past the cursor keeps the input cursor
      assert.deepEqual(await call('history', { cursor: seqs[10], from: 'nobody' }), { messages: [], cursor: seqs[10] });
    });

    test('threads: an unknown id is its own root, with an empty thread and no replies', async () => {
      assert.equal(await call('root', { id: 'ghost' }), 'ghost');
      assert.deepEqual(await call('thread', { id: 'ghost' }), { root: 'ghost', messages: [] });
      assert.deepEqual(await call('replies', { id: 'ghost' }), []);
    });

    test('threads: a thread is the root plus every descendant by timestamp; replies are the direct children', async () => {
      const R = await put(msg({ timestamp: 100 }));
      const U = await put(msg({ timestamp: 150 }));
      const A = await put(msg({ reply_to: R.id, timestamp: 300 }));
      const B = await put(msg({ reply_to: R.id, timestamp: 200 }));
      const C = await put(msg({ reply_to: A.id, timestamp: 250 }));
      const D = await put(msg({ reply_to: C.id, timestamp: 400 }));
      for (const m of [R, A, B, C, D]) assert.equal(await call('root', { id: m.id }), R.id);
      assert.equal(await call('root', { id: U.id }), U.id, 'a message with no reply_to is its own root');
      for (const from of [R, B, D]) {
        const t = await call('thread', { id: from.id });
        assert.equal(t.root, R.id);
        assert.deepEqual(idsOf(t.messages), idsOf([R, B, C, A, D]));
      }
      assert.deepEqual(idsOf(await call('replies', { id: R.id })), idsOf([B, A]), 'by timestamp');
      assert.deepEqual(idsOf(await call('replies', { id: A.id })), idsOf([C]));
      assert.deepEqual(await call('replies', { id: D.id }), []);
      assert.deepEqual(idsOf((await call('thread', { id: U.id })).messages), [U.id]);
    });

    test('threads: a reply to an unknown parent roots its thread at that id', async () => {
      const orphan = await put(msg({ reply_to: 'never-seen' }));
      const child = await put(msg({ reply_to: orphan.id }));
      assert.equal(await call('root', { id: child.id }), 'never-seen');
      const t = await call('thread', { id: child.id });
      assert.equal(t.root, 'never-seen');
      assert.deepEqual(idsOf(t.messages), idsOf([orphan, child]));
      assert.deepEqual(idsOf(await call('replies', { id: 'never-seen' })), [orphan.id]);
    });

    test('channel history: each channel counts its own seq from 1 and keeps its newest (2 here); since is exclusive; every post is in global history', async () => {
      const pubs = [];
      for (let i = 0; i < 5; i++) pubs.push(await publish('alpha', msg({ to: null })));
      assert.deepEqual(
        pubs.map((p) => p.channelSeq),
        [1, 2, 3, 4, 5],
      );
      assert.equal((await publish('beta', msg({ to: null }))).channelSeq, 1);
      const list = await call('channelHistory', { channel: 'alpha', limit: 50, since: 0 });
      assert.deepEqual(seqsOf(list), [4, 5]);
      assert.deepEqual([list[1].message.id, list[1].message.channel], [pubs[4].id, 'alpha']);
      assert.equal(typeof list[0].stored_at, 'number');
      assert.deepEqual(seqsOf(await call('channelHistory', { channel: 'alpha', limit: 50, since: 4 })), [5]);
      assert.deepEqual(
        seqsOf(await call('channelHistory', { channel: 'alpha', limit: 1, since: 0 })),
        [5],
        'the newest `limit` entries',
      );
      assert.deepEqual(await call('channelHistory', { channel: 'gamma', limit: 50, since: 0 }), []);
      const hist = await call('history', { channel: 'alpha', limit: 200 });
      assert.deepEqual(idsOf(hist.messages), idsOf(pubs));
    });

    test('a publish copies to the given mailboxes with payload.channel', async () => {
      const r = await publish('news', msg({ to: null, payload: { text: 'hi' } }), ['sub1', 'sub2']);
      const box = (await poll('sub1', 0)).messages;
      assert.deepEqual(idsOf(box), [r.id]);
      assert.deepEqual(idsOf((await poll('sub2', 0)).messages), [r.id]);
      assert.deepEqual(box[0].payload, { text: 'hi', channel: 'news' });
      assert.equal(box[0].seq, r.seq);
    });
  });
}
