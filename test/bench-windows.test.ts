import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Recorder } from '../bench/gen/recorder.js';
import { windowReports } from '../bench/windows.js';

test('bench windows: an op answered late counts in the window it was sent in, as its send did', () => {
  const rec = new Recorder();
  rec.begin({ id: 1, mode: 'open', rate: 1, startUs: 0, warmupUs: 0, durationUs: 10_000, drainUs: 0, timeline: true });
  const windows = [
    { label: 'quiet', startUs: 0, endUs: 5_000 },
    { label: 'backup', startUs: 5_000, endUs: 10_000 },
  ];
  // sent a hair before the boundary, answered well after it
  for (const sentAt of [4_999.9, 4_999, 5_000, 2_500]) {
    rec.sent('direct', 1, sentAt);
    rec.record('ack', sentAt, sentAt + 3_000);
  }
  const [quiet, backup] = windowReports([rec.result()], windows, 0);
  assert.equal(quiet.sent.direct, 3);
  assert.equal(quiet.latency.ack?.count, 3);
  assert.equal(backup.sent.direct, 1);
  assert.equal(backup.latency.ack?.count, 1);
});
