import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { Sparklines } from '../main/sparklines.js';

const T0 = 1_700_000_000_000;

describe('Sparklines', () => {
  test("a second's outcomes become one point when the second closes", () => {
    const s = new Sparklines();
    for (let ms = 1; ms <= 1000; ms++) s.outcome('complete', T0 - ms, T0 + 10);
    s.outcome('retried', T0, T0 + 20);
    s.outcome('dead_letter', T0, T0 + 30);
    assert.equal(s.last(T0 + 999), null);
    assert.deepEqual(s.last(T0 + 1000), { t: T0, completed: 1000, failed: 2, p50: 510, p99: 1000 });
  });

  test('seconds with no outcome are points without latency, and two minutes are kept', () => {
    const s = new Sparklines();
    s.outcome('retried', T0, T0);
    const quiet = s.history(T0 + 3000);
    assert.deepEqual(quiet.at(-1), { t: T0 + 2000, completed: 0, failed: 0, p50: null, p99: null });
    assert.equal(quiet.length, 3);
    s.outcome('complete', T0 + 300_000 - 7, T0 + 300_000);
    assert.equal(s.history(T0 + 301_000).length, 120);
    assert.deepEqual(s.last(T0 + 301_000), { t: T0 + 300_000, completed: 1, failed: 0, p50: 7, p99: 7 });
  });
});
