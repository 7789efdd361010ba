import { randomBytes } from 'node:crypto';
import { availableParallelism, loadavg, tmpdir } from 'node:os';
import { type DiskProbe, probeDisk } from './disk.js';
import { fillMessaging } from './fill.js';
import type { AdminClient } from './http.js';
import { callLabel, maintenanceScript } from './maintenance.js';
import type { BenchOptions } from './options.js';
import { type BenchReport, compare, type PhaseReport } from './report.js';
import { type Plan, planScenario } from './scenarios.js';
import { externalHub, type ServerHandle, startServer } from './server-process.js';
import { type PhaseDef, runTarget, type Ui } from './target.js';

/** The primary throughput of a phase: what `--rate-of-max` scales and the ratio compares first. */
export function primaryRate(plan: Plan, r: PhaseReport): number {
  return plan.primary === 'cycles' ? r.throughput.cycles_per_s : r.throughput.ops_per_s;
}

/**
 * The phases for each target. With --rate-of-max F: closed loop to find the
 * hub's max, then open loop at F × max; the baseline runs the same closed
 * loop and then the open loop at the hub's rate, so the latencies compare at
 * equal load.
 */
function phaseDefs(o: BenchOptions, plan: Plan, hubPhases: PhaseReport[] | null): PhaseDef[] {
  if (o.scenario === 'connections') return [{ label: 'hold', mode: 'hold' }];
  if (o.scenario === 'maintenance')
    return [
      {
        label: `open ${o.rate}/s: quiet, ${o.maintenance.map(callLabel).join(', ')}`,
        mode: 'open',
        rate: o.rate,
        script: maintenanceScript(o),
      },
    ];
  const closed: PhaseDef = { label: `closed w=${o.window}`, mode: 'closed', window: o.window };
  if (o.rateOfMax !== undefined) {
    const f = o.rateOfMax;
    const label = `open ${Math.round(f * 100)}% of hub max`;
    const hubOpen = hubPhases?.find((p) => p.mode === 'open');
    if (hubOpen) return [closed, { label: hubOpen.label, mode: 'open', rate: hubOpen.rate }];
    const rate = (done: PhaseReport[]) => {
      const max = primaryRate(plan, done[done.length - 1]);
      if (!(max > 0)) throw new Error('the closed-loop phase completed nothing: no max rate to scale');
      return f * max;
    };
    return [closed, { label, mode: 'open', rate }];
  }
  if (o.rate !== undefined) return [{ label: `open ${o.rate}/s`, mode: 'open', rate: o.rate }];
  return [closed];
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
    const run = await runTarget(hub, plan, phaseDefs(o, plan, null), o, ui, cpus, fill);
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
      const run = await runTarget(base, plan, phaseDefs(o, plan, hubPhases), o, ui, cpus);
      report.phases.push(...run.phases);
      run.phases.forEach((b, i) => {
        if (hubPhases[i]) report.comparisons.push(compare(hubPhases[i], b, report.disk as DiskProbe));
      });
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
