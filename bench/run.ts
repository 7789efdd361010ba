import { randomBytes } from 'node:crypto';
import { availableParallelism, loadavg, tmpdir } from 'node:os';
import { type DiskProbe, probeDisk } from './disk.js';
import { fillMessaging } from './fill.js';
import type { AdminClient } from './http.js';
import { kneeOf, nextRampStep, primaryRate } from './knee.js';
import { callLabel, maintenanceScript } from './maintenance.js';
import type { BenchOptions } from './options.js';
import { type BenchReport, compare, type PhaseReport } from './report.js';
import { type Plan, planScenario } from './scenarios.js';
import { externalHub, type ServerHandle, startServer } from './server-process.js';
import { type PhaseDef, runTarget, type Ui } from './target.js';

/**
 * The phases for each target, one at a time (a phase may depend on those
 * before it). With --find-max: the ramp to the knee, then with --rate-of-max
 * F an open loop at F × the knee. Without it, --rate-of-max F runs the
 * closed loop at --window to find the max, then the open loop at F × max.
 * The baseline runs its own closed loops, then the open loop at the hub's
 * rate, so latencies compare at equal load.
 */
function phaseSource(
  o: BenchOptions,
  plan: Plan,
  hubPhases: PhaseReport[] | null,
): (done: PhaseReport[]) => PhaseDef | null {
  if (o.scenario === 'connections') return once([{ label: 'hold', mode: 'hold' }]);
  if (o.scenario === 'maintenance')
    return once([
      {
        label: `open ${o.rate}/s: quiet, ${o.maintenance.map(callLabel).join(', ')}`,
        mode: 'open',
        rate: o.rate,
        script: maintenanceScript(o),
      },
    ]);
  const hubOpen = hubPhases?.find((p) => p.mode === 'open');
  const open = (maxOf: (done: PhaseReport[]) => PhaseReport | null): PhaseDef | null => {
    if (o.rateOfMax === undefined) return null;
    if (hubOpen) return { label: hubOpen.label, mode: 'open', rate: hubOpen.rate };
    const f = o.rateOfMax;
    const label = `open ${Math.round(f * 100)}% of hub max`;
    const rate = (done: PhaseReport[]) => {
      const max = maxOf(done);
      const r = max ? primaryRate(plan, max) : 0;
      if (!(r > 0)) throw new Error('the closed-loop phases completed nothing: no max rate to scale');
      return f * r;
    };
    return { label, mode: 'open', rate };
  };
  if (o.findMax) {
    let openDone = false;
    return (done) => {
      const step = nextRampStep(o, plan, done);
      if (step) return step;
      if (openDone) return null;
      openDone = true;
      return open((d) => kneeOf(plan, d, o.kneeP99Ms));
    };
  }
  const closed: PhaseDef = { label: `closed w=${o.window}`, mode: 'closed', window: o.window };
  if (o.rateOfMax !== undefined) return once([closed, open((d) => d[d.length - 1]) as PhaseDef]);
  if (o.rate !== undefined) return once([{ label: `open ${o.rate}/s`, mode: 'open', rate: o.rate }]);
  return once([closed]);
}

/** A fixed list of phases as a source. */
function once(defs: PhaseDef[]): (done: PhaseReport[]) => PhaseDef | null {
  let i = 0;
  return () => defs[i++] ?? null;
}

async function startHub(o: BenchOptions): Promise<ServerHandle> {
  if (o.url) return externalHub(o.url, o.adminUrl as string, o.adminToken as string, o.hubPid ?? null);
  return startServer('hub', {
    hubCommand: o.hubCommand,
    hubArgs: o.hubArgs,
    logLevel: o.hubLogLevel,
    dataParent: o.dataDir,
  });
}

/** Runs the scenario against the hub, then the baseline, and builds the report. */
export async function runBench(o: BenchOptions, ui: Ui, argv: string[] = []): Promise<BenchReport> {
  const runId = randomBytes(3).toString('hex');
  const cpus = availableParallelism();
  const report: BenchReport = {
    tool: 'agentcom-bench',
    version: 1,
    started_at: new Date().toISOString(),
    finished_at: '',
    command: ['npm run bench --', ...argv].join(' '),
    options: o,
    machine: { cpus, node: process.version, platform: `${process.platform}-${process.arch}`, load_avg: loadavg() },
    auth: {
      tokens: 'POST /admin/tokens {agent_id} on the admin port',
      whitelist: 'PUT /admin/rate-limits/whitelist {agent_ids} (rate limits lifted for bench agents)',
      onboarding: false,
      agents: 0,
    },
    disk: null,
    phases: [],
    comparisons: [],
    hub: { errors_logged: [], exit_code: null },
    notes: ['every agent identifies with presence_events:false (no join/leave fan-out during setup)'],
  };

  ui.status(o.url ? `using the hub at ${o.url}` : `starting the hub (${o.hubCommand})`);
  const hub = await startHub(o);
  let hubPhases: PhaseReport[];
  try {
    const probeDir = hub.dataDir ?? o.dataDir ?? tmpdir();
    ui.status(`probing fdatasync latency in ${probeDir}`);
    report.disk = probeDisk(probeDir, o.diskSamples);
    if (!hub.dataDir) report.notes.push(`fdatasync probed in ${probeDir}, not necessarily the hub's data directory`);
    if (hub.external && !hub.pid) report.notes.push('no --hub-pid: hub CPU and RSS not sampled');
    const plan = planScenario(o.scenario, o.agents, o.workers, runId);
    const fill =
      o.scenario === 'maintenance'
        ? async (admin: AdminClient) => {
            report.fill = await fillMessaging(
              admin,
              hub.wsUrl,
              { targetMb: o.fillMb, payloadBytes: o.fillPayload, runId },
              (text) => ui.status(text),
            );
            if (report.fill.stopped) report.notes.push(`fill: ${report.fill.stopped}`);
          }
        : undefined;
    const run = await runTarget(hub, plan, phaseSource(o, plan, null), o, ui, cpus, fill);
    hubPhases = run.phases;
    report.auth.agents = run.agents;
  } finally {
    await hub.stop();
    report.hub = { errors_logged: hub.errorLines(), exit_code: hub.exitCode() };
  }
  report.phases.push(...hubPhases);
  if (report.hub.exit_code !== null && report.hub.exit_code !== 0)
    report.notes.push(`the hub exited with code ${report.hub.exit_code} on SIGTERM (expected 0)`);
  if (report.hub.errors_logged.length)
    report.notes.push(`the hub logged ${report.hub.errors_logged.length} error line(s); see hub.errors_logged`);

  if (o.scenario === 'maintenance')
    report.notes.push('no baseline: the raw-ws router stores nothing, so it has nothing to back up or compact');
  else if (o.baseline) {
    ui.status('starting the baseline (bench/baseline.ts)');
    const base = await startServer('baseline');
    try {
      const plan = planScenario(o.scenario, o.agents, o.workers, randomBytes(3).toString('hex'));
      const run = await runTarget(base, plan, phaseSource(o, plan, hubPhases), o, ui, cpus);
      report.phases.push(...run.phases);
      // phases pair by label: ramps may stop at different steps on either side
      for (const b of run.phases) {
        const h = hubPhases.find((p) => p.label === b.label);
        if (h) report.comparisons.push(compare(h, b, report.disk as DiskProbe));
      }
      if (o.findMax) {
        const hk = kneeOf(plan, hubPhases, o.kneeP99Ms);
        const bk = kneeOf(plan, run.phases, o.kneeP99Ms);
        if (hk && bk)
          report.comparisons.push({ ...compare(hk, bk, null), label: `knee: hub ${hk.label} ÷ baseline ${bk.label}` });
      }
    } finally {
      await base.stop();
    }
    if (o.url) report.notes.push('the baseline ran on this machine; the hub was remote or separately started');
  }
  for (const p of report.phases) {
    if (p.counts.mailbox_missing > 0)
      report.notes.push(
        `${p.target} ${p.label}: ${p.counts.mailbox_missing} mailbox entries missing (the hub's --mailbox-max cap drops the oldest; lower the rate or add agents)`,
      );
    if (p.generator.saturated)
      report.notes.push(`${p.target} ${p.label}: generator saturated (${p.generator.reasons.join('; ')})`);
  }
  report.finished_at = new Date().toISOString();
  return report;
}
