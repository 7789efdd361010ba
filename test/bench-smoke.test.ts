import assert from 'node:assert/strict';
import { after, before, describe, type TestContext, test } from 'node:test';
import { htmlReport } from '../bench/html.js';
import { FeatureMissingError } from '../bench/http.js';
import { parseArgs } from '../bench/options.js';
import { silentUi } from '../bench/progress.js';
import type { BenchReport } from '../bench/report.js';
import { runBench } from '../bench/run.js';
import { type ServerHandle, startServer } from '../bench/server-process.js';
import { summaryText } from '../bench/summary.js';

/**
 * Each bench scenario, about a second with a few agents: the harness runs,
 * produces a report, and every send is acked and delivered without errors.
 * Correctness only: no timing is asserted (this machine is shared).
 */

const SHORT = ['--duration', '1', '--warmup', '0.2', '--drain', '5', '--workers', '1', '--hub-cmd', 'tsx'];

function options(scenario: string, agents: number, extra: string[] = []) {
  const o = parseArgs(['--scenario', scenario, '--agents', String(agents), ...SHORT, ...extra], {});
  assert.ok(o);
  return o;
}

/** Runs a scenario; a hub feature that still answers 404 turns the test into a TODO instead of a failure. */
async function run(t: TestContext, o: ReturnType<typeof options>): Promise<BenchReport | null> {
  try {
    return await runBench(o, silentUi);
  } catch (err) {
    if (!(err instanceof FeatureMissingError)) throw err;
    t.todo(`hub feature pending: ${err.message}`);
    return null;
  }
}

function assertClean(r: BenchReport): void {
  assert.ok(r.phases.length > 0, 'a report with phases');
  for (const p of r.phases) {
    const c = p.counts;
    const where = `${p.target} ${p.label}`;
    assert.equal(c.errors, 0, `${where}: errors ${JSON.stringify(c.errorCodes)}`);
    assert.equal(c.timeouts, 0, `${where}: unanswered sends`);
    assert.deepEqual(c.closed, {}, `${where}: sockets closed by the server`);
    assert.equal(c.delivered, c.expected_deliveries, `${where}: every acked send delivered`);
    assert.ok(p.ok, `${where}: ok`);
  }
  assert.ok(summaryText(r).includes('AgentCom bench'));
}

describe('bench smoke', () => {
  test('direct: own hub and baseline, acked and delivered, ratios and HTML produced', async (t) => {
    const r = await run(t, options('direct', 4));
    assert.ok(r);
    assertClean(r);
    assert.deepEqual(
      r.phases.map((p) => p.target),
      ['hub', 'baseline'],
    );
    for (const p of r.phases) assert.ok(p.counts.acked > 0 && p.latency.ack && p.latency.delivery);
    assert.ok(r.disk && r.disk.samples > 0, 'fdatasync probed');
    assert.equal(r.comparisons.length, 1);
    assert.ok(r.comparisons[0].throughput_ratio !== null);
    assert.equal(r.hub.exit_code, 0, 'the hub stops cleanly on SIGTERM');
    const html = htmlReport(r);
    assert.ok(html.includes('<svg') && !html.includes('NaN'));
  });

  describe('against a running hub (--url)', () => {
    let hub: ServerHandle;
    const against = (scenario: string, agents: number, extra: string[] = []) =>
      options(scenario, agents, [
        '--no-baseline',
        ...['--url', hub.wsUrl, '--admin-url', hub.adminUrl, '--admin-token', hub.adminToken],
        ...['--hub-pid', String(hub.pid), ...extra],
      ]);

    before(async () => {
      hub = await startServer('hub', { hubCommand: 'tsx' });
    });
    after(() => hub.stop());

    test('broadcast (open loop): every agent gets every broadcast', async (t) => {
      const r = await run(t, against('broadcast', 4, ['--rate', '200']));
      assert.ok(r);
      assertClean(r);
      const p = r.phases[0];
      assert.equal(p.mode, 'open');
      assert.ok(p.counts.delivered > 0 && p.counts.delivered === p.counts.acked * 4);
      assert.ok(p.latency.lag, 'send lag recorded in open loop');
    });

    test('mailbox: offline agents poll and ack everything sent to them', async (t) => {
      const r = await run(t, against('mailbox', 4));
      assert.ok(r);
      assertClean(r);
      const c = r.phases[0].counts;
      assert.ok(c.mailboxExpected > 0);
      assert.equal(c.mailboxReceived, c.mailboxExpected);
    });

    test('connections: idle agents identified and memory sampled', async (t) => {
      const r = await run(t, against('connections', 20));
      assert.ok(r);
      assertClean(r);
      assert.equal(r.phases[0].connections?.count, 20);
    });

    test('channels: one publisher, every subscriber gets every publish', async (t) => {
      const r = await run(t, against('channels', 5));
      if (!r) return;
      assertClean(r);
      assert.ok(r.phases[0].counts.delivered > 0);
    });

    test('tasks: every submitted task completes a full cycle', async (t) => {
      const r = await run(t, against('tasks', 3));
      if (!r) return;
      assertClean(r);
      const c = r.phases[0].counts;
      assert.ok(c.cycles > 0);
      assert.equal(c.cycles, c.acked);
    });

    test('tasks with --task-client sdk: the task agents run on the client SDK, every cycle completes', async (t) => {
      const r = await run(t, against('tasks', 3, ['--task-client', 'sdk']));
      if (!r) return;
      assertClean(r);
      const c = r.phases[0].counts;
      assert.ok(c.cycles > 0);
      assert.equal(c.cycles, c.acked);
    });

    test('mixed: direct, channel and task traffic together', async (t) => {
      const r = await run(t, against('mixed', 4));
      if (!r) return;
      assertClean(r);
      const c = r.phases[0].counts;
      assert.ok(c.ackedBy.direct > 0 && c.ackedBy.publish > 0);
    });

    test('maintenance: fill, then a backup and a compaction under load, every send answered in every window', async (t) => {
      const r = await run(
        t,
        against('maintenance', 4, ['--rate', '400', '--fill-mb', '2', '--fill-payload', '16384', '--settle', '0.2']),
      );
      if (!r) return;
      assertClean(r);
      assert.ok(r.fill && r.fill.reached_mb >= 2, 'messaging filled to the target');
      const windows = r.phases[0].windows ?? [];
      assert.deepEqual(
        windows.map((w) => w.label),
        ['quiet', 'backup', 'compact messaging'],
      );
      assert.equal(windows[1].detail?.status, 'complete');
      assert.equal(windows[2].detail?.status, 'compacted');
      assert.ok((windows[0].sent.direct ?? 0) > 0 && (windows[0].sent.task ?? 0) > 0, 'both domains loaded');
      for (const w of windows) {
        assert.equal(w.latency.ack?.count ?? 0, w.sent.direct ?? 0, `${w.label}: every direct message acked`);
        assert.equal(w.latency.submit?.count ?? 0, w.sent.task ?? 0, `${w.label}: every task submit answered`);
      }
      assert.ok(htmlReport(r).includes('Windows'));
    });
  });
});
