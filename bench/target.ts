import { AdminClient, createChannel, FeatureMissingError, probeTasks } from './http.js';
import type { BenchOptions } from './options.js';
import { GeneratorPool, type Progress } from './pool.js';
import { ProcSampler, type ProcSummary, readProc } from './proc-stats.js';
import { type PhaseReport, phaseReport } from './report.js';
import { type Plan, sendersIn } from './scenarios.js';
import type { ServerHandle } from './server-process.js';
import type { PhaseMode, PhaseSpec, WorkerInit } from './types.js';
import { nowUs, sleep } from './util.js';
import { type Window, windowReports } from './windows.js';

/** Drives an open-ended phase from its measured start; the load stops when it resolves with its windows. */
export type PhaseScript = (server: ServerHandle, ui: Ui) => Promise<Window[]>;

/** One phase to run: a load shape; `rate` may depend on an earlier phase (rate-of-max). */
export interface PhaseDef {
  label: string;
  mode: PhaseMode;
  window?: number;
  rate?: number | ((done: PhaseReport[]) => number);
  /** the phase lasts until this is done (not --duration) and is reported per window too */
  script?: PhaseScript;
}

/** An open-ended phase's send window until its script ends it. */
const OPEN_END_US = 3600e6;

export interface Ui {
  status(text: string): void;
  phaseStart(target: string, label: string, seconds: number): void;
  progress(fraction: number, p: Progress, opsPerS: number): void;
  phaseEnd(r: PhaseReport): void;
}

export interface TargetRun {
  phases: PhaseReport[];
  /** agents that were whitelisted and given tokens */
  agents: number;
}

let phaseIds = 0;

function fatalToFeature(err: unknown): never {
  const text = err instanceof Error ? err.message : String(err);
  if (text.includes('unknown_message_type')) {
    const frame = /"value":"([a-z_]+)"/.exec(text)?.[1] ?? 'a frame';
    throw new FeatureMissingError(frame.startsWith('channel') ? 'channels' : 'tasks', `the hub refused ${frame}`);
  }
  throw err;
}

/**
 * Runs every phase of the scenario against one server (the hub or the
 * baseline): tokens and whitelist, scenario setup, generator threads, then
 * the phases one after another on the same connected agents.
 */
export async function runTarget(
  server: ServerHandle,
  plan: Plan,
  /** the next phase given those done; null when there are no more */
  next: (done: PhaseReport[]) => PhaseDef | null,
  o: BenchOptions,
  ui: Ui,
  cpus: number,
  /** scenario set-up once the agents have tokens, before the generator connects them */
  prepare?: (admin: AdminClient) => Promise<void>,
): Promise<TargetRun> {
  const admin = new AdminClient(server.adminUrl, server.adminToken);
  const all = plan.workers.flat();
  const ids = all.map((a) => a.id);
  ui.status(`${server.kind}: issuing ${ids.length} tokens (POST /admin/tokens) and whitelisting them`);
  const tokens = await admin.issueTokens(ids);
  for (const a of all) a.token = tokens.get(a.id) as string;
  const previous = await admin.whitelist();
  await admin.setWhitelist([...new Set([...previous, ...ids])]);
  const phases: PhaseReport[] = [];
  try {
    if (plan.channel) await createChannel(server.apiUrl, all[0].token, plan.channel);
    if (plan.needs.includes('tasks')) await probeTasks(server.apiUrl, all[0].token);
    await prepare?.(admin);
    const before = server.pid ? readProc(server.pid) : null;
    ui.status(
      `${server.kind}: connecting ${all.filter((a) => a.connect).length} agents over ${plan.workers.length} generator thread(s)`,
    );
    const inits: WorkerInit[] = plan.workers.map((agents, i) => ({
      index: i,
      wsUrl: server.wsUrl,
      apiUrl: server.apiUrl,
      agents,
      size: o.size,
      channel: plan.channel,
      taskScope: plan.scopes[i],
      taskers: plan.taskers[i],
      connectConcurrency: 64,
      delivery: o.delivery,
      taskClient: o.taskClient,
    }));
    const pool = await GeneratorPool.start(inits, 60_000 + 20 * ids.length).catch(fatalToFeature);
    try {
      await sleep(500);
      for (let def = next(phases); def; def = next(phases)) {
        const r = await runPhase(pool, server, plan, def, o, ui, cpus, phases);
        // idle connections: RSS after holding them, against RSS before the first socket opened
        const after = server.pid ? readProc(server.pid) : null;
        if (plan.primary === 'connections' && before && after) {
          const connected = all.filter((a) => a.connect).length;
          r.connections = {
            count: connected,
            rss_before_mb: Math.round(before.rssBytes / 104857.6) / 10,
            rss_after_mb: Math.round(after.rssBytes / 104857.6) / 10,
            per_conn_kb: Math.round(((after.rssBytes - before.rssBytes) / Math.max(1, connected) / 1024) * 10) / 10,
          };
        }
        phases.push(r);
        ui.phaseEnd(r);
      }
    } finally {
      await pool.close();
    }
  } finally {
    if (server.external) {
      await admin.setWhitelist(previous).catch(() => {});
      await admin.revokeTokens(ids).catch(() => {});
    }
  }
  return { phases, agents: ids.length };
}

async function runPhase(
  pool: GeneratorPool,
  server: ServerHandle,
  plan: Plan,
  def: PhaseDef,
  o: BenchOptions,
  ui: Ui,
  cpus: number,
  done: PhaseReport[],
): Promise<PhaseReport> {
  const rate = typeof def.rate === 'function' ? def.rate(done) : def.rate;
  const label = typeof def.rate === 'function' ? `${def.label} = ${Math.round(rate ?? 0)}/s` : def.label;
  const startUs = nowUs() + 300_000;
  const warmupUs = o.warmupS * 1e6;
  const durationUs = def.script ? OPEN_END_US : o.durationS * 1e6;
  const totalSenders = plan.workers.reduce((n, w) => n + sendersIn(w), 0);
  const id = ++phaseIds;
  const specs: PhaseSpec[] = plan.workers.map((w) => ({
    id,
    mode: def.mode,
    window: def.window,
    rate: rate === undefined ? undefined : (rate * sendersIn(w)) / Math.max(1, totalSenders),
    startUs,
    warmupUs,
    durationUs,
    drainUs: o.drainS * 1e6,
    timeline: def.script !== undefined,
  }));

  // server and generator CPU over exactly the measured window
  const sampler = server.pid ? new ProcSampler(server.pid) : null;
  let cpu0 = process.cpuUsage();
  let serverStats: ProcSummary | null = null;
  let genPct = 0;
  let endUs = startUs + durationUs;
  const at = (us: number, fn: () => void) => setTimeout(fn, Math.max(0, (us - nowUs()) / 1000));
  const t1 = at(startUs + warmupUs, () => {
    sampler?.begin();
    cpu0 = process.cpuUsage();
  });
  const finish = () => {
    serverStats = sampler?.end() ?? null;
    const d = process.cpuUsage(cpu0);
    genPct = Math.round(((d.user + d.system) / (endUs - startUs - warmupUs)) * 1000) / 10;
  };
  const t2 = def.script ? undefined : at(endUs, finish);

  ui.phaseStart(server.kind, label, o.durationS);
  let last = { t: nowUs(), acked: 0 };
  const ticker = setInterval(() => {
    const p = pool.progress();
    const now = nowUs();
    const opsPerS = ((p.acked - last.acked) / (now - last.t)) * 1e6;
    last = { t: now, acked: p.acked };
    // an open-ended phase shows its first --duration seconds as the bar
    const shown = def.script ? o.durationS * 1e6 : durationUs;
    ui.progress(Math.min(1, Math.max(0, (now - startUs) / shown)), p, Math.max(0, opsPerS));
  }, 250);
  try {
    const running = pool.runPhase(specs);
    // awaited below; a failing script must not leave it unhandled
    running.catch(() => {});
    let windows: Window[] = [];
    if (def.script) {
      try {
        await sleep(Math.max(0, (startUs + warmupUs - nowUs()) / 1000));
        windows = await def.script(server, ui);
      } finally {
        endUs = nowUs();
        pool.end(endUs);
        finish();
      }
    }
    const results = await running;
    const r = phaseReport({
      target: server.kind,
      label,
      mode: def.mode,
      rate,
      window: def.window,
      measuredS: Math.round((endUs - startUs - warmupUs) / 1e5) / 10,
      plan,
      results,
      server: serverStats,
      generatorCpuPct: genPct,
      cpus,
    });
    if (windows.length) r.windows = windowReports(results, windows, startUs + warmupUs);
    return r;
  } finally {
    clearInterval(ticker);
    clearTimeout(t1);
    clearTimeout(t2);
  }
}
