import assert from 'node:assert/strict';
import { test } from 'node:test';
import { kneeOf, nextRampStep } from '../bench/knee.js';
import type { BenchOptions } from '../bench/options.js';
import type { PhaseReport } from '../bench/report.js';
import type { Plan } from '../bench/scenarios.js';

const plan = { primary: 'ops' } as Plan;
const opts = { kneeP99Ms: 100, maxWindow: 1024 } as BenchOptions;
/** The ramp steps run so far: one `[ops/s, ack p99 ms]` per doubling window. */
const ramp = (...steps: Array<[number, number]>) =>
  steps.map(
    ([ops, p99], i) =>
      ({
        label: `find-max w=${2 ** i}`,
        throughput: { ops_per_s: ops, deliveries_per_s: ops, cycles_per_s: 0 },
        latency: { ack: { p99_ms: p99 } },
      }) as unknown as PhaseReport,
  );
const next = (...steps: Array<[number, number]>) => nextRampStep(opts, plan, ramp(...steps))?.window ?? null;

test('find-max ramp: doubles the window while throughput rises', () => {
  assert.equal(next(), 1);
  assert.equal(next([1000, 1], [2000, 1]), 4);
});

test('find-max ramp: one step without gain is noise, two in a row are the knee', () => {
  assert.equal(next([1000, 1], [2000, 1], [1950, 2]), 8, 'one flat step goes on');
  assert.equal(next([1000, 1], [2000, 1], [1950, 2], [2050, 3]), null, 'two flat steps stop');
  assert.equal(next([1000, 1], [2000, 1], [1950, 2], [2600, 3]), 16, 'a step past the dip that gains goes on');
});

test('find-max ramp: stops once the ack p99 passes --knee-p99, or at --max-window', () => {
  assert.equal(next([1000, 1], [2000, 150]), null);
  assert.equal(nextRampStep({ ...opts, maxWindow: 2 }, plan, ramp([1000, 1], [2000, 1])), null);
});

test('the knee is the fastest step within the p99 bound (the first step if none is)', () => {
  const steps = ramp([1000, 1], [3000, 5], [3500, 120], [2900, 8]);
  assert.equal(kneeOf(plan, steps, 100)?.label, 'find-max w=2');
  assert.equal(kneeOf(plan, ramp([1000, 200], [3000, 300]), 100)?.label, 'find-max w=1');
});
