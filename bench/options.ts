import { availableParallelism } from 'node:os';
import { DEFAULT_AGENTS, DESCRIPTIONS } from './scenarios.js';
import type { HubCommand } from './server-process.js';
import { SCENARIOS, type ScenarioName } from './types.js';

export interface BenchOptions {
  scenario: ScenarioName;
  agents: number;
  durationS: number;
  warmupS: number;
  drainS: number;
  /** open loop: total ops/s over all senders */
  rate?: number;
  /** closed loop: ops in flight per sender (per task agent for `tasks`) */
  window: number;
  /** first find the closed-loop max, then run open loop at this fraction of it */
  rateOfMax?: number;
  /** ramp the closed-loop concurrency to the knee (throughput stops rising or ack p99 passes kneeP99Ms) */
  findMax: boolean;
  kneeP99Ms: number;
  maxWindow: number;
  size: number;
  workers: number;
  url?: string;
  adminUrl?: string;
  adminToken?: string;
  hubPid?: number;
  /** own hub: parent of its temp data dir; --url: the directory whose fdatasync is probed */
  dataDir?: string;
  baseline: boolean;
  json?: string;
  html?: string;
  hubCommand: HubCommand;
  hubArgs: string[];
  hubLogLevel: string;
  diskSamples: number;
  /** receivers identify with this delivery mode; `acked` keeps every message in the mailbox until acked (§9.32) */
  delivery: 'live' | 'acked';
  /** `sdk`: pure task agents run on the client SDK (client/) instead of raw frames */
  taskClient: 'raw' | 'sdk';
  /** maintenance: grow the messaging environment to this many MiB before the load */
  fillMb: number;
  /** maintenance: payload bytes (as JSON) of each filling message */
  fillPayload: number;
  /** maintenance: seconds between windows, so one window's backlog does not spill into the next */
  settleS: number;
  /** maintenance: the calls to make under load, in this order */
  maintenance: MaintenanceCall[];
}

export const MAINTENANCE_CALLS = ['backup', 'compact'] as const;
export type MaintenanceCall = (typeof MAINTENANCE_CALLS)[number];

/** maintenance: total ops/s when --rate is not given; light enough that maintenance, not load, sets the tail */
const MAINTENANCE_RATE = 1000;

export class UsageError extends Error {}

export const HELP = `Usage: npm run bench -- --scenario <name> [options]

Drives an AgentCom hub over WebSocket/HTTP like any fleet would, then runs the
same load against a minimal raw-ws baseline and prints hub/baseline ratios.
By default it builds and starts its own hub (npm start's way) on free loopback
ports and a temp data dir; --url aims at a running hub instead. Agent tokens
come from POST /admin/tokens and the agents are whitelisted from rate limits
(PUT /admin/rate-limits/whitelist); the bench never onboards.

Scenarios:
${SCENARIOS.map((s) => `  ${s.padEnd(12)} ${DESCRIPTIONS[s]}`).join('\n')}

Load:
  --agents N          simulated agents (default per scenario: ${SCENARIOS.map((s) => `${s} ${DEFAULT_AGENTS[s]}`).join(', ')})
  --duration S        send window per phase, seconds (default 10)
  --warmup S          first seconds of each phase left out of the numbers (default 1)
  --rate R            open loop: R ops/s in total on a fixed schedule; latency from the scheduled time
  --window W          closed loop: W ops in flight per sender (tasks: per task agent) (default 8)
  --rate-of-max F     closed loop first to find the max, then open loop at F × max (e.g. 0.5)
  --find-max          ramp the closed loop's window (1, 2, 4, … per sender) until throughput stops
                      rising (< 5 % a step) or the ack p99 passes --knee-p99; the knee is the max that
                      --rate-of-max scales, and the hub's knee is compared with the baseline's
  --knee-p99 MS       the ack p99 a ramp step may reach (default 100)
  --max-window N      the largest window the ramp tries (default 1024)
  --size BYTES        message payload size (default 1024)
  --delivery MODE     live (default) or acked: receivers identify with delivery "acked" and ack
                      their mailbox every 20 ms (at-least-once; every message is also a mailbox write)
  --task-client C     raw (default) or sdk: the agents that only work tasks run on the client SDK
  --workers N         load-generator threads (default ${defaultWorkers()})
  --drain S           wait for outstanding replies after a phase (default 10)

Maintenance (--scenario maintenance; open loop only, --rate default ${MAINTENANCE_RATE}; --duration = warm-up + quiet window):
  --fill-mb N         grow the messaging environment to N MiB first, through the public API (default 1024)
  --fill-payload B    payload bytes of each filling message, at most the hub's --max-payload-bytes (default 65536)
  --settle S          seconds between the quiet, backup and compaction windows (default 2)
  --maintenance LIST  the calls under load, in order: backup, compact (of messaging) (default backup,compact)

Target:
  --url ws://H:P/ws   a running hub (admin URL and token from the flags or
  --admin-url URL       AGENTCOM_ADMIN_URL / AGENTCOM_ADMIN_TOKEN)
  --admin-token T
  --hub-pid PID       sample this pid's CPU and RSS in --url mode
  --data-dir DIR      own hub: where its temp data dir goes; --url: the dir whose fdatasync to probe
  --no-baseline       skip the baseline run
  --hub-cmd dist|tsx  dist (default) = npm run build + node dist/main/index.js; tsx = sources via tsx
  --hub-arg ARG       extra hub flag, repeatable (e.g. --hub-arg=--batch-max=512)
  --hub-log-level L   the hub's --log-level (default info)
  --disk-samples N    fdatasync probe size (default 500)

Output:
  --json FILE         full report as JSON (histograms included, compressed base64)
  --html FILE         self-contained HTML report with the latency percentile curves
  --help              this text
`;

function defaultWorkers(): number {
  return Math.max(1, Math.min(4, Math.floor(availableParallelism() / 2)));
}

const num = (name: string, text: string, min: number, integer = true): number => {
  const n = Number(text);
  if (!Number.isFinite(n) || n < min || (integer && !Number.isInteger(n)))
    throw new UsageError(`--${name} needs ${integer ? 'an integer' : 'a number'} ≥ ${min}, got "${text}"`);
  return n;
};

/** Parses argv (after `npm run bench --`); returns null when --help was asked. */
export function parseArgs(argv: string[], env: NodeJS.ProcessEnv = process.env): BenchOptions | null {
  const flags = new Map<string, string>();
  const hubArgs: string[] = [];
  const booleans = new Set(['help', 'no-baseline', 'find-max']);
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    if (!arg.startsWith('--')) throw new UsageError(`unexpected argument "${arg}" (see --help)`);
    const eq = arg.indexOf('=');
    const name = eq > 0 ? arg.slice(2, eq) : arg.slice(2);
    const value = booleans.has(name) ? 'true' : eq > 0 ? arg.slice(eq + 1) : argv[++i];
    if (value === undefined) throw new UsageError(`--${name} needs a value`);
    if (name === 'hub-arg') hubArgs.push(value);
    else flags.set(name, value);
  }
  if (flags.has('help')) return null;
  const take = (name: string) => {
    const v = flags.get(name);
    flags.delete(name);
    return v;
  };
  const scenario = take('scenario');
  if (!scenario) throw new UsageError('--scenario is required (see --help)');
  if (!(SCENARIOS as readonly string[]).includes(scenario))
    throw new UsageError(`unknown scenario "${scenario}"; one of ${SCENARIOS.join(', ')}`);
  const s = scenario as ScenarioName;
  const opt = (name: string, def: number, min: number, integer = true) => {
    const v = take(name);
    return v === undefined ? def : num(name, v, min, integer);
  };
  const rateText = take('rate');
  const windowText = take('window');
  const rofText = take('rate-of-max');
  if (rateText && windowText) throw new UsageError('--rate (open loop) and --window (closed loop) exclude each other');
  if (rateText && rofText) throw new UsageError('--rate-of-max finds the rate itself; drop --rate');
  if (flags.has('find-max') && (rateText || windowText))
    throw new UsageError('--find-max ramps the window itself; drop --rate and --window');
  const hubCommand = take('hub-cmd') ?? 'dist';
  if (hubCommand !== 'dist' && hubCommand !== 'tsx') throw new UsageError('--hub-cmd is dist or tsx');
  const pidText = take('hub-pid');
  const maintenance = s === 'maintenance';
  if (maintenance && (windowText || rofText))
    throw new UsageError('maintenance runs an open loop: give --rate, not --window or --rate-of-max');
  const calls = (take('maintenance') ?? MAINTENANCE_CALLS.join(',')).split(',').filter(Boolean);
  const unknownCall = calls.find((c) => !(MAINTENANCE_CALLS as readonly string[]).includes(c));
  if (unknownCall) throw new UsageError(`--maintenance takes ${MAINTENANCE_CALLS.join(', ')}; got "${unknownCall}"`);
  const delivery = take('delivery') ?? 'live';
  if (delivery !== 'live' && delivery !== 'acked') throw new UsageError('--delivery is live or acked');
  const taskClient = take('task-client') ?? 'raw';
  if (taskClient !== 'raw' && taskClient !== 'sdk') throw new UsageError('--task-client is raw or sdk');
  const o: BenchOptions = {
    scenario: s,
    agents: opt('agents', DEFAULT_AGENTS[s], 1),
    durationS: opt('duration', 10, 0.1, false),
    warmupS: opt('warmup', 1, 0, false),
    drainS: opt('drain', 10, 0, false),
    rate: rateText === undefined ? (maintenance ? MAINTENANCE_RATE : undefined) : num('rate', rateText, 0.001, false),
    window: windowText === undefined ? 8 : num('window', windowText, 1),
    rateOfMax: rofText === undefined ? undefined : num('rate-of-max', rofText, 0.001, false),
    findMax: take('find-max') !== undefined,
    kneeP99Ms: opt('knee-p99', 100, 0.001, false),
    maxWindow: opt('max-window', 1024, 1),
    size: opt('size', 1024, 0),
    workers: opt('workers', defaultWorkers(), 1),
    url: take('url'),
    adminUrl: take('admin-url') ?? env.AGENTCOM_ADMIN_URL,
    adminToken: take('admin-token') ?? env.AGENTCOM_ADMIN_TOKEN,
    hubPid: pidText === undefined ? undefined : num('hub-pid', pidText, 1),
    dataDir: take('data-dir'),
    baseline: take('no-baseline') === undefined,
    json: take('json'),
    html: take('html'),
    hubCommand,
    hubArgs,
    hubLogLevel: take('hub-log-level') ?? 'info',
    diskSamples: opt('disk-samples', 500, 1),
    delivery: delivery as 'live' | 'acked',
    taskClient: taskClient as 'raw' | 'sdk',
    fillMb: opt('fill-mb', 1024, 0, false),
    fillPayload: opt('fill-payload', 65536, 64),
    settleS: opt('settle', 2, 0, false),
    maintenance: calls as MaintenanceCall[],
  };
  const unknown = [...flags.keys()];
  if (unknown.length) throw new UsageError(`unknown option --${unknown[0]} (see --help)`);
  if (o.warmupS >= o.durationS) throw new UsageError('--warmup must be shorter than --duration');
  if (o.url && (!o.adminUrl || !o.adminToken))
    throw new UsageError('--url needs --admin-url and --admin-token (or AGENTCOM_ADMIN_URL / AGENTCOM_ADMIN_TOKEN)');
  return o;
}
