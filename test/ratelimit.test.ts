import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { Worker } from 'node:worker_threads';
import { ACTION_INDEX, ACTIONS, allocateRateTable, RateTable } from '../shared/ratelimit.js';

const T0 = 1_700_000_000_000;
const MSG = ACTION_INDEX.message;

function table(slots = 4): RateTable {
  return new RateTable(allocateRateTable(slots));
}

describe('RateTable (one thread)', () => {
  test('a full bucket grants `capacity` takes at once, then refuses with retryAfterMs = one interval', () => {
    const t = table();
    t.configure(0, MSG, 5, 60); // one token per second
    const takes = Array.from({ length: 5 }, () => t.take(0, MSG, T0));
    assert.ok(takes.every((r) => r.allowed));
    assert.deepEqual(
      takes.map((r) => r.remaining),
      [4, 3, 2, 1, 0],
    );
    assert.ok(takes.every((r) => r.capacity === 5));
    const refused = t.take(0, MSG, T0);
    assert.equal(refused.allowed, false);
    assert.equal(refused.remaining, 0);
    assert.equal(refused.capacity, 5);
    assert.equal(refused.retryAfterMs, 1000);
    // a refusal takes nothing: asking again says the same
    assert.equal(t.take(0, MSG, T0).retryAfterMs, 1000);
  });

  test('the interval follows per_min; retryAfterMs counts down as time passes', () => {
    const t = table();
    t.configure(0, MSG, 1, 6); // one token per 10 s
    assert.ok(t.take(0, MSG, T0).allowed);
    assert.equal(t.take(0, MSG, T0).retryAfterMs, 10_000);
    assert.equal(t.take(0, MSG, T0 + 2_500).retryAfterMs, 7_500);
    assert.equal(t.take(0, MSG, T0 + 9_999).retryAfterMs, 1);
    assert.ok(t.take(0, MSG, T0 + 10_000).allowed);
    t.configure(1, MSG, 3, 0.6); // onboard-style: 3 per 5 min
    for (let i = 0; i < 3; i++) assert.ok(t.take(1, MSG, T0).allowed);
    assert.equal(t.take(1, MSG, T0).retryAfterMs, 100_000);
  });

  test('tokens refill one per interval with explicit times, never past capacity', () => {
    const t = table();
    t.configure(0, MSG, 3, 60);
    for (let i = 0; i < 3; i++) assert.ok(t.take(0, MSG, T0).allowed);
    assert.equal(t.take(0, MSG, T0 + 999).allowed, false);
    const one = t.take(0, MSG, T0 + 1000);
    assert.ok(one.allowed, 'one token back after one interval');
    assert.equal(one.remaining, 0);
    assert.equal(t.take(0, MSG, T0 + 1000).allowed, false);
    // 2.5 intervals later: two whole tokens
    assert.ok(t.take(0, MSG, T0 + 3500).allowed);
    assert.ok(t.take(0, MSG, T0 + 3500).allowed);
    assert.equal(t.take(0, MSG, T0 + 3500).allowed, false);
    // a long idle refills to capacity and no further
    const later = T0 + 3_600_000;
    const burst = Array.from({ length: 4 }, () => t.take(0, MSG, later));
    assert.deepEqual(
      burst.map((r) => r.allowed),
      [true, true, true, false],
    );
    assert.equal(burst[0].remaining, 2);
  });

  test('capacity 0 means unlimited (the whitelist)', () => {
    const t = table();
    t.configure(0, MSG, 0, 60);
    for (let i = 0; i < 5000; i++) assert.ok(t.take(0, MSG, T0).allowed);
    const r = t.take(0, MSG, T0);
    assert.equal(r.retryAfterMs, 0);
    assert.equal(r.capacity, 0);
    // an unconfigured cell is unlimited too, and a limit can be lifted later
    assert.ok(t.take(2, MSG, T0).allowed);
    t.configure(3, MSG, 1, 60);
    assert.ok(t.take(3, MSG, T0).allowed);
    assert.equal(t.take(3, MSG, T0).allowed, false);
    t.configure(3, MSG, 0, 0);
    assert.ok(t.take(3, MSG, T0).allowed);
  });

  test('per_min 0 means no refill: a hard cap of capacity, never unlimited (§9.4)', () => {
    const t = table();
    t.configure(1, MSG, 10, 0);
    for (let i = 0; i < 10; i++) assert.ok(t.take(1, MSG, T0).allowed, `take ${i + 1} of 10`);
    const refused = t.take(1, MSG, T0);
    assert.equal(refused.allowed, false);
    assert.equal(refused.capacity, 10);
    assert.equal(t.take(1, MSG, T0 + 365 * 86_400_000).allowed, false, 'still refused a year later');
  });

  test('slots and actions are independent cells', () => {
    const t = table();
    for (const a of ACTIONS) for (const slot of [0, 1]) t.configure(slot, ACTION_INDEX[a], 1, 60);
    assert.ok(t.take(0, MSG, T0).allowed);
    assert.equal(t.take(0, MSG, T0).allowed, false);
    assert.ok(t.take(1, MSG, T0).allowed, 'another slot');
    for (const a of ACTIONS) {
      if (a !== 'message') assert.ok(t.take(0, ACTION_INDEX[a], T0).allowed, `another action: ${a}`);
    }
  });

  test('reset refills a slot; isIdle says whether every bucket of it is full', () => {
    const t = table();
    t.configure(0, MSG, 2, 60);
    assert.ok(t.isIdle(0, T0));
    t.take(0, MSG, T0);
    assert.equal(t.isIdle(0, T0), false);
    assert.ok(t.isIdle(0, T0 + 1000), 'full again one interval later');
    t.take(0, MSG, T0);
    t.take(0, MSG, T0);
    assert.equal(t.take(0, MSG, T0).allowed, false);
    t.reset(0);
    assert.ok(t.isIdle(0, T0));
    assert.ok(t.take(0, MSG, T0).allowed);
  });

  test('two tables over the same buffers share their state', () => {
    const buffers = allocateRateTable(2);
    const a = new RateTable(buffers);
    const b = new RateTable(buffers);
    a.configure(1, MSG, 2, 60);
    assert.equal(b.slots, 2);
    assert.ok(b.take(1, MSG, T0).allowed);
    assert.ok(a.take(1, MSG, T0).allowed);
    assert.equal(b.take(1, MSG, T0).allowed, false);
  });
});

describe('RateTable across worker_threads', () => {
  /**
   * Each worker loads the real RateTable (through tsx), waits on a shared
   * start flag so both race, then takes `n` tokens at one fixed instant.
   */
  const code = `
    const { workerData, parentPort } = require('node:worker_threads');
    (async () => {
      const { register } = await import(workerData.tsx);
      register();
      const { RateTable } = await import(workerData.module);
      const table = new RateTable(workerData.buffers);
      const go = new Int32Array(workerData.go);
      Atomics.add(go, 1, 1);
      Atomics.wait(go, 0, 0);
      let granted = 0;
      for (let i = 0; i < workerData.n; i++) {
        if (table.take(workerData.slot, workerData.action, workerData.now).allowed) granted++;
      }
      parentPort.postMessage(granted);
    })().catch((err) => parentPort.postMessage({ error: String(err && err.stack || err) }));`;

  async function race(capacity: number, perWorker: number, workers = 2): Promise<number[]> {
    const buffers = allocateRateTable(4);
    new RateTable(buffers).configure(2, MSG, capacity, 1e-9); // clamped to one token a day: no refill
    const go = new SharedArrayBuffer(8);
    const flags = new Int32Array(go);
    const workerData = {
      tsx: import.meta.resolve('tsx/esm/api'),
      module: new URL('../shared/ratelimit.ts', import.meta.url).href,
      buffers,
      go,
      n: perWorker,
      slot: 2,
      action: MSG,
      now: T0,
    };
    const results = Array.from(
      { length: workers },
      () =>
        new Promise<number>((resolve, reject) => {
          const w = new Worker(code, { eval: true, workerData });
          w.once('message', (m) => {
            if (typeof m === 'number') resolve(m);
            else reject(new Error(m.error));
            w.terminate();
          });
          w.once('error', reject);
        }),
    );
    // release both at once, after both are loaded and waiting
    while (Atomics.load(flags, 1) < workers) await new Promise((r) => setTimeout(r, 5));
    Atomics.store(flags, 0, 1);
    Atomics.notify(flags, 0);
    return Promise.all(results);
  }

  test('two workers taking from one bucket never get more than its capacity in total', async () => {
    const granted = await race(20_000, 20_000);
    assert.equal(granted.length, 2);
    assert.equal(
      granted.reduce((a, b) => a + b, 0),
      20_000,
      `granted ${granted.join(' + ')}: exactly the capacity, no double grant`,
    );
  });

  test('with less demand than capacity every take is granted', async () => {
    const granted = await race(10_000, 3_000);
    assert.deepEqual(granted, [3_000, 3_000]);
  });
});
